"""Read-only access to the engine for checks: inspect with a cache, exec with a deadline,
log tails, HTTP to loopback, and short-lived labelled probe containers.

Everything here tolerates objects disappearing mid-look (a container removed between the
listing and the inspect is simply "not there").
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from .engine import api_client
from .labels import EXERCISE, course_labels

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"


@dataclass
class ExecResult:
    exit_code: int | None
    output: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass
class HttpResult:
    status: int | None
    text: str
    error: str = ""


# Every container a check starts runs the learner's (or a student's) image: bound what it may use.
TRIAL_LIMITS = {
    "mem_limit": "512m",
    "memswap_limit": "512m",
    "pids_limit": 256,
    "nano_cpus": 1_000_000_000,
    "log_config": {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
    "security_opt": ["no-new-privileges"],
}


def remove_container(api, cid: str, attempts: int = 20) -> bool:
    """Force-remove a container the course made, retrying while the engine is still busy with it
    (under load a removal can be "already in progress"). True once it is gone."""
    from docker.errors import APIError, NotFound

    for _ in range(attempts):
        try:
            api.remove_container(cid, force=True, v=True)
        except NotFound:
            return True
        except APIError:
            time.sleep(0.25)
            continue
        try:
            api.inspect_container(cid)
        except NotFound:
            return True
        time.sleep(0.25)
    return False


def exact(info: dict | None, ident: str) -> dict | None:
    """``info`` if it really is the object called ``ident``, else None.

    The engine resolves a name it does not know as an id prefix: inspecting ``db`` finds any
    container (or network) whose id starts with ``db``, someone else's object. Only the exact
    name, or the full id, counts.
    """
    if info is None:
        return None
    return info if ident in ((info.get("Name") or "").lstrip("/"), info.get("Id")) else None


def _bytes(value) -> int:
    """``"512m"`` -> bytes (ints pass through)."""
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text.rstrip("b"))


class CheckTimeout(Exception):
    """A deadline passed while the checker was looking (reported as ``error``)."""


class ContainerGone(Exception):
    """The container stopped or was removed while a check was running a command in it (``error``)."""


class Context:
    def __init__(self, client, scope, exercise=None):
        self.client = client
        self.api = client.api
        self.scope = scope
        self.exercise = exercise
        self._cache: dict = {}
        self._deadline_clients: dict[float, object] = {}
        self.run_id = uuid.uuid4().hex[:10]

    # ---------------------------------------------------------------- naming
    def name(self, name: str) -> str:
        return self.scope.name(name)

    def image_ref(self, ref: str) -> str:
        return self.scope.image(ref)

    def port(self, port: int) -> int:
        return self.scope.port(port)

    def project(self, default: str) -> str:
        return self.scope.project(default)

    # --------------------------------------------------------------- inspect
    def _cached(self, key, loader):
        if key not in self._cache:
            self._cache[key] = loader()
        return self._cache[key]

    def _inspect_or_none(self, func, ident):
        from docker.errors import NotFound

        try:
            return func(ident)
        except NotFound:
            return None

    def container(self, name: str, scoped: bool = True) -> dict | None:
        """``docker inspect`` of the container the exercise calls ``name`` (None if absent)."""
        ident = self.name(name) if scoped else name
        return self._cached(("container", ident),
                            lambda: exact(self._inspect_or_none(self.api.inspect_container, ident), ident))

    def refresh(self, name: str, scoped: bool = True) -> dict | None:
        ident = self.name(name) if scoped else name
        self._cache.pop(("container", ident), None)
        return self.container(name, scoped)

    def similar_container(self, name: str) -> str | None:
        """A container whose name is one typo away from ``name`` (``helo`` for ``hello``), on the
        learner's own engine only: in a grading or test scope a near name belongs to someone else."""
        import difflib

        if not self.scope.is_default:
            return None
        names = [n.lstrip("/") for c in self.api.containers(all=True) for n in (c.get("Names") or [])]
        close = difflib.get_close_matches(name, [n for n in names if n != name], n=1, cutoff=0.75)
        return close[0] if close else None

    def image(self, ref: str, scoped: bool = True) -> dict | None:
        ident = self.image_ref(ref) if scoped else ref
        return self._cached(("image", ident), lambda: self._inspect_or_none(self.api.inspect_image, ident))

    def volume(self, name: str, scoped: bool = True) -> dict | None:
        ident = self.name(name) if scoped else name
        return self._cached(("volume", ident), lambda: self._inspect_or_none(self.api.inspect_volume, ident))

    def network(self, name: str, scoped: bool = True) -> dict | None:
        ident = self.name(name) if scoped else name
        return self._cached(("network", ident),
                            lambda: exact(self._inspect_or_none(self.api.inspect_network, ident), ident))

    def containers(self, filters: dict) -> list[dict]:
        """Inspect every container (running or not) matching ``filters``; vanished ones are skipped."""
        from docker.errors import NotFound

        key = ("containers", repr(sorted(filters.items())))

        def load():
            found = []
            for summary in self.api.containers(all=True, filters=filters):
                try:
                    found.append(self.api.inspect_container(summary["Id"]))
                except NotFound:
                    continue
            return found

        return self._cached(key, load)

    def compose_containers(self, project: str, service: str | None = None) -> list[dict]:
        labels = [f"{COMPOSE_PROJECT}={project}"]
        if service:
            labels.append(f"{COMPOSE_SERVICE}={service}")
        return self.containers({"label": labels})

    # --------------------------------------------------------- exec and logs
    def _deadline_client(self, seconds: float):
        key = round(seconds, 1)
        if key not in self._deadline_clients:
            self._deadline_clients[key] = api_client(self.client, seconds)
        return self._deadline_clients[key]

    def exec(self, container: str, cmd, timeout: float = 5.0, user: str = "", workdir: str | None = None,
             environment: dict | None = None) -> ExecResult:
        """Run ``cmd`` in ``container`` (an id or a full name) with a deadline and a real exit code.

        docker-py's ``exec_run`` has no timeout and may report ``None`` as the exit code; this
        waits at most ``timeout`` seconds and then asks the engine for the exit code.
        """
        import requests

        ex = self.api.exec_create(container, cmd, stdout=True, stderr=True, user=user, workdir=workdir,
                                  environment=environment)
        dl = self._deadline_client(timeout)
        try:
            raw = dl.exec_start(ex["Id"], stream=False, demux=False)
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            if "timed out" in str(exc).lower() or isinstance(exc, requests.exceptions.Timeout):
                return ExecResult(None, "", timed_out=True)
            raise
        output = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        exit_code = None
        for _ in range(50):
            info = self.api.exec_inspect(ex["Id"])
            if not info.get("Running"):
                exit_code = info.get("ExitCode")
                break
            time.sleep(0.02)
        if exit_code != 0:
            # killed by a signal (128+9, 128+15): the engine may record the container's own end a moment later
            self._still_running(container, wait=1.0 if exit_code in (None, 137, 143) else 0.0)
        return ExecResult(exit_code, output)

    def _still_running(self, container: str, wait: float = 0.0) -> None:
        """Raise :class:`ContainerGone` if ``container`` stopped or vanished within ``wait`` seconds (a
        failed exec then says nothing about the learner's work: the command died with its container)."""
        from docker.errors import NotFound

        deadline = time.monotonic() + wait
        while True:
            try:
                state = self.api.inspect_container(container)["State"]
                running = state.get("Running") and not state.get("Restarting") and not (
                    state.get("Dead") or state.get("Status") in ("removing", "dead"))
            except NotFound:
                running = False
            if not running:
                raise ContainerGone(f"the container {container[:12]} stopped or was removed while the check was "
                                    "running a command in it; run the check again")
            if time.monotonic() >= deadline:
                return
            time.sleep(0.1)

    def logs(self, container: str, tail: int = 50, timeout: float = 5.0) -> str:
        """The last ``tail`` lines of a container's output (stdout and stderr), never the whole log."""
        import requests

        try:
            raw = self._deadline_client(timeout).logs(container, stdout=True, stderr=True, tail=tail)
        except requests.exceptions.Timeout:
            raise CheckTimeout(f"reading the logs of {container} took longer than {timeout:.0f}s") from None
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    # ------------------------------------------------------------------ http
    def http_get(self, port: int, path: str = "/", timeout: float = 3.0, scoped: bool = True) -> HttpResult:
        """GET ``http://127.0.0.1:<port><path>`` (loopback only)."""
        import requests

        real_port = self.port(port) if scoped else port
        url = f"http://{self.scope.host}:{real_port}{path}"
        try:
            resp = requests.get(url, timeout=timeout)
            return HttpResult(resp.status_code, resp.text[:20000])
        except requests.exceptions.RequestException as exc:
            return HttpResult(None, "", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")

    # --------------------------------------------------------------- probes
    def trial_host_config(self, **kwargs):
        """Host config for a container a check starts: the course's trial limits, the check's own
        settings, and the scope's limits last (grading's sandbox limits always apply)."""
        merged = {**TRIAL_LIMITS, **kwargs, **self.scope.limits}
        return self.api.create_host_config(**merged)

    def build_limits(self) -> dict:
        """``container_limits`` for the RUN steps of a build a check makes (classic builder)."""
        mem = self.scope.limits.get("mem_limit", TRIAL_LIMITS["mem_limit"])
        return {"memory": _bytes(mem), "memswap": _bytes(self.scope.limits.get("memswap_limit", mem))}

    def probe(self, image: str, command, network: str | None = None, timeout: float = 15.0,
              purpose: str = "probe", **create_kwargs) -> ExecResult:
        """Run a short-lived container labelled as the course's, wait at most ``timeout`` s,
        return its exit code and output, and remove it (also on failure or Ctrl-C)."""
        import requests

        labels = course_labels(purpose, run=self.run_id, **({} if not self.exercise else {"exercise": self.exercise.id}))
        labels.update(create_kwargs.pop("labels", {}) or {})
        host_config = self.trial_host_config(network_mode=network, **create_kwargs.pop("host_config", {}))
        cid = None
        try:
            cid = self.api.create_container(image, command, labels=labels, host_config=host_config,
                                            name=f"dockercourse-{purpose}-{self.run_id}-{uuid.uuid4().hex[:4]}",
                                            **create_kwargs)["Id"]
            self.api.start(cid)
            try:
                status = self._deadline_client(timeout).wait(cid)
                code = status.get("StatusCode")
                timed_out = False
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError):
                code, timed_out = None, True
            out = self.api.logs(cid, stdout=True, stderr=True, tail=200)
            return ExecResult(code, out.decode("utf-8", "replace"), timed_out)
        finally:
            if cid:
                remove_container(self.api, cid)

    # ------------------------------------------------------------ learner files
    def exercise_dir(self, exercise_id: str | None = None):
        """The learner's folder for an exercise (``exercises/<id>/``), or None if none is found.

        Looked for in order: ``$DOCKERCOURSE_EXERCISES/<id>`` (a folder holding exercise folders:
        tests and grading point it at copies), the current folder if it is ``<id>``, ``./<id>``,
        ``./exercises/<id>``, and the course repository this package was installed from.
        """
        import os
        from pathlib import Path

        ex_id = exercise_id or (self.exercise.id if self.exercise else "")
        files = getattr(self.scope, "files", None)  # set per scope by grading (threads cannot share an env var)
        if files:
            return Path(files) / ex_id if (Path(files) / ex_id).is_dir() else None
        env = os.environ.get("DOCKERCOURSE_EXERCISES")
        if env:
            return Path(env) / ex_id if (Path(env) / ex_id).is_dir() else None
        cwd = Path.cwd()
        repo = Path(__file__).resolve().parent.parent
        for cand in (cwd if cwd.name == ex_id else None, cwd / ex_id, cwd / "exercises" / ex_id,
                     repo / "exercises" / ex_id):
            if cand is not None and cand.is_dir():
                return cand
        return None

    def close(self) -> None:
        for c in self._deadline_clients.values():
            try:
                c.close()
            except Exception:
                pass
        self._deadline_clients.clear()


__all__ = ["Context", "ExecResult", "HttpResult", "CheckTimeout", "ContainerGone", "EXERCISE", "exact"]
