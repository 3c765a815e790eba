"""Engines to grade on, and a bounded pool of jobs with a deadline each.

One code path serves both modes: live grading (each student's own engine, from the roster) and
submissions spread over several engines (``--engines``). An :class:`EngineSpec` is an endpoint
(``unix://``, ``tcp://`` with TLS, ``ssh://``) plus its TLS files; :func:`connect_spec` gives a
Docker SDK client, :meth:`EngineSpec.cli_env` the environment the ``docker`` CLI needs for it.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse


@dataclass(frozen=True)
class EngineSpec:
    url: str
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_verify: bool = True
    name: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert or self.tls_ca)

    @property
    def label(self) -> str:
        return self.name or self.url

    def published_host(self) -> str:
        """Where ports this engine publishes are reached from the grader."""
        u = urlparse(self.url)
        if u.scheme in ("tcp", "http", "https", "ssh") and u.hostname:
            return u.hostname
        return "127.0.0.1"

    def tls_config(self):
        if not self.tls:
            return None
        cert = (self.tls_cert, self.tls_key) if self.tls_cert else None
        return _engine_tls()(client_cert=cert, ca_cert=self.tls_ca, verify=self.tls_ca if self.tls_verify else False)

    def cli_env(self, base: dict | None = None) -> dict:
        """Environment for ``docker`` / ``docker compose`` talking to this engine (and nothing else)."""
        env = dict(base or {})
        env["DOCKER_HOST"] = self.url
        env.pop("DOCKER_CONTEXT", None)
        if self.tls:
            env["DOCKER_TLS_VERIFY"] = "1" if self.tls_verify else ""
            env["DOCKER_CERT_PATH"] = self._cert_dir()
        return env

    def _cert_dir(self) -> str:
        """The CLI wants ca.pem / cert.pem / key.pem in one folder: use theirs or make one."""
        files = {"ca.pem": self.tls_ca, "cert.pem": self.tls_cert, "key.pem": self.tls_key}
        dirs = {str(Path(f).parent) for f in files.values() if f}
        if len(dirs) == 1 and all(not f or Path(f).name == n for n, f in files.items()):
            return dirs.pop()
        import hashlib
        import tempfile

        tag = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:12]
        d = Path(tempfile.gettempdir()) / f"dcgrade-certs-{tag}"
        d.mkdir(mode=0o700, exist_ok=True)
        for n, f in files.items():
            if f and not (d / n).exists():
                (d / n).write_bytes(Path(f).read_bytes())
                os.chmod(d / n, 0o600)
        return str(d)


_TLS_CLASS = None


def _engine_tls():
    """A TLSConfig whose clients trust the engine's own CA even when REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    are set: requests lets those variables override a session's CA, so every call to a student's VM
    would fail verification. Clients made from it (also the deadline clients of checks) ignore them."""
    global _TLS_CLASS
    if _TLS_CLASS is None:
        import docker

        class EngineTLS(docker.tls.TLSConfig):
            def configure_client(self, client):
                super().configure_client(client)
                client.trust_env = False  # no CA bundle or proxy from the environment for an engine

        _TLS_CLASS = EngineTLS
    return _TLS_CLASS


def parse_endpoint(text: str, tls_dir: str | None = None, name: str = "") -> EngineSpec:
    """``unix:///path``, ``tcp://host:2376`` (TLS files from ``tls_dir``), ``ssh://user@host``; a bare
    path to a socket also works."""
    url = text.strip()
    if url.startswith("/"):
        url = f"unix://{url}"
    if not urlparse(url).scheme:
        raise ValueError(f"not an engine endpoint: {text!r} (use unix://, tcp:// or ssh://)")
    if tls_dir:
        d = Path(tls_dir)
        return EngineSpec(url, str(d / "ca.pem"), str(d / "cert.pem"), str(d / "key.pem"), name=name)
    return EngineSpec(url, name=name)


def local_spec() -> EngineSpec:
    """The engine the ``docker`` CLI would use here (DOCKER_HOST, context, usual sockets)."""
    from ..engine import find_endpoint

    ep = find_endpoint()
    if ep.tls and os.environ.get("DOCKER_CERT_PATH"):
        return parse_endpoint(ep.url, os.environ["DOCKER_CERT_PATH"])
    return EngineSpec(ep.url)


def connect_spec(spec: EngineSpec, timeout: float = 20):
    """A Docker SDK client for ``spec`` (raises ``EngineUnavailable`` with a plain sentence)."""
    from ..engine import connect

    return connect(base_url=spec.url, timeout=timeout, tls=spec.tls_config(),
                   use_ssh_client=spec.url.startswith("ssh://"))


def describe_engine(client) -> dict:
    """Engine facts for the audit record."""
    try:
        v = client.api.version()
        info = client.api.info()
    except Exception as exc:  # the audit is best effort
        return {"error": str(exc)[:200]}
    return {"version": v.get("Version"), "api_version": client.api.api_version, "os": info.get("OperatingSystem"),
            "arch": v.get("Arch"), "kernel": v.get("KernelVersion"), "id": info.get("ID"), "name": info.get("Name")}


# ---------------------------------------------------------------- a bounded pool with deadlines
@dataclass
class JobOutcome:
    key: object
    value: object = None
    error: BaseException | None = None
    timed_out: bool = False
    seconds: float = 0.0


@dataclass
class Pool:
    """Run ``fn(job)`` for every job, at most ``workers`` at once, each with a wall-clock deadline.

    A job past its deadline is reported ``timed_out`` at once (its thread is left to finish on its
    own: every engine call it makes has a socket timeout). ``on_done(outcome)`` is called in the
    calling thread as each job ends, in completion order.
    """

    workers: int = 4
    deadline: float = 600.0
    cancel: threading.Event = field(default_factory=threading.Event)

    def run(self, jobs: list, fn, key=lambda j: j, on_done=None) -> list[JobOutcome]:
        outcomes: list[JobOutcome] = []
        ex = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="dcgrade")
        pending: dict[Future, tuple[object, float]] = {}
        queue = list(jobs)

        def submit():
            while queue and len(pending) < max(1, self.workers) and not self.cancel.is_set():
                job = queue.pop(0)
                fut = ex.submit(self._timed, fn, job)
                pending[fut] = (job, time.monotonic())

        try:
            submit()
            while pending:
                now = time.monotonic()
                nearest = min(started + self.deadline for _, started in pending.values())
                done, _ = wait(list(pending), timeout=max(0.05, nearest - now), return_when=FIRST_COMPLETED)
                now = time.monotonic()
                finished = []
                for fut in list(pending):
                    job, started = pending[fut]
                    if fut in done:
                        value, err, secs = fut.result()
                        finished.append(JobOutcome(key(job), value, err, False, secs))
                    elif now - started >= self.deadline:
                        finished.append(JobOutcome(key(job), None, None, True, now - started))
                    else:
                        continue
                    del pending[fut]
                for out in finished:
                    outcomes.append(out)
                    if on_done:
                        on_done(out)
                submit()
        finally:
            ex.shutdown(wait=False, cancel_futures=True)
        return outcomes

    @staticmethod
    def _timed(fn, job):
        t0 = time.monotonic()
        try:
            return fn(job), None, time.monotonic() - t0
        except BaseException as exc:  # reported, never raised in a worker
            return None, exc, time.monotonic() - t0
