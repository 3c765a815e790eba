"""Finding and connecting to the Docker engine, the way the ``docker`` CLI would.

Order: ``DOCKER_HOST``; the active ``docker context``; the usual sockets (Linux, Docker
Desktop, Colima, rootless Docker, Podman). Connection problems become an
:class:`EngineUnavailable` with one plain sentence and what to do, never a traceback.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

MIN_API = (1, 41)


class EngineUnavailable(Exception):
    """The engine could not be reached or used. ``str()`` is a one-line explanation."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} {self.fix}".strip()


@dataclass(frozen=True)
class Endpoint:
    url: str
    source: str  # "DOCKER_HOST", "context NAME", "socket"
    tls: bool = False


def _docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))


def _context_endpoint() -> Endpoint | None:
    name = os.environ.get("DOCKER_CONTEXT")
    if not name:
        try:
            cfg = json.loads((_docker_config_dir() / "config.json").read_text())
            name = cfg.get("currentContext")
        except (OSError, ValueError):
            name = None
    if not name or name == "default":
        return None
    meta_root = _docker_config_dir() / "contexts" / "meta"
    try:
        for meta in meta_root.glob("*/meta.json"):
            data = json.loads(meta.read_text())
            if data.get("Name") == name:
                host = data.get("Endpoints", {}).get("docker", {}).get("Host")
                if host:
                    return Endpoint(host, f"context {name}")
    except (OSError, ValueError):
        return None
    return None


def candidate_sockets() -> list[Path]:
    home = Path.home()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{uid}"))
    return [
        Path("/var/run/docker.sock"),
        home / ".docker/run/docker.sock",  # Docker Desktop (macOS, Linux)
        home / ".docker/desktop/docker.sock",
        home / ".colima/default/docker.sock",  # Colima
        home / ".colima/docker.sock",
        runtime / "docker.sock",  # rootless Docker
        runtime / "podman/podman.sock",  # Podman (rootless)
        Path("/run/podman/podman.sock"),  # Podman (root)
        home / ".local/share/containers/podman/machine/podman.sock",  # Podman machine (macOS)
    ]


def find_endpoint() -> Endpoint:
    host = os.environ.get("DOCKER_HOST")
    if host:
        return Endpoint(host, "DOCKER_HOST", tls=bool(os.environ.get("DOCKER_TLS_VERIFY")))
    ctx = _context_endpoint()
    if ctx:
        return ctx
    for sock in candidate_sockets():
        try:
            if stat.S_ISSOCK(sock.stat().st_mode):
                return Endpoint(f"unix://{sock}", "socket")
        except OSError:
            continue
    raise EngineUnavailable(
        "No Docker engine found: DOCKER_HOST is not set and no Docker socket exists.",
        "Start Docker Desktop / Colima / Podman, or on Debian/Ubuntu run `sudo scripts/ensure-engine`.",
    )


def _explain(exc: Exception, endpoint: Endpoint) -> EngineUnavailable:
    text = f"{exc}"
    where = f"{endpoint.url} (from {endpoint.source})"
    if "Permission denied" in text or isinstance(exc, PermissionError):
        return EngineUnavailable(
            f"Permission denied on the Docker socket {where}.",
            "Add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again) or use rootless Docker.",
        )
    if "No such file" in text or "FileNotFoundError" in text:
        return EngineUnavailable(
            f"Nothing listens at {where}: the socket does not exist.",
            "Start the engine (Docker Desktop / `colima start` / `sudo scripts/ensure-engine`), or fix DOCKER_HOST.",
        )
    if "Connection refused" in text or "ConnectionRefused" in text:
        return EngineUnavailable(
            f"The Docker engine at {where} refused the connection: it is not running.",
            "Start the engine (Docker Desktop / `colima start` / `sudo scripts/ensure-engine`).",
        )
    if "timed out" in text.lower() or "timeout" in text.lower():
        return EngineUnavailable(f"The Docker engine at {where} did not answer in time.", "Check that it is running and reachable.")
    return EngineUnavailable(f"Could not talk to the Docker engine at {where}: {text.splitlines()[0] if text else type(exc).__name__}.",
                             "Run `dockercourse doctor` for details.")


def connect(base_url: str | None = None, timeout: float = 30, tls=None, use_ssh_client: bool = False):
    """Return a ``docker.DockerClient`` with the API version negotiated (never pinned).

    Raises :class:`EngineUnavailable` with a plain explanation if the engine cannot be used.
    """
    import docker  # imported here so `dockercourse --help` stays fast
    from docker.errors import DockerException

    endpoint = Endpoint(base_url, "argument") if base_url else find_endpoint()
    if endpoint.source == "DOCKER_HOST":
        kwargs = docker.utils.kwargs_from_env()
    else:
        kwargs = {"base_url": endpoint.url, "tls": tls or False}
    if use_ssh_client:
        kwargs["use_ssh_client"] = True
    try:
        client = docker.DockerClient(version="auto", timeout=timeout, **kwargs)
    except DockerException as exc:
        raise _explain(exc, endpoint) from None
    except Exception as exc:  # requests/urllib3 connection errors can surface here
        raise _explain(exc, endpoint) from None
    if kwargs.get("tls"):
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the engine's own CA; the
        # engine's TLS settings must win, as they do for the docker CLI.
        client.api.trust_env = False
    api = client.api.api_version
    try:
        major, minor = (int(x) for x in api.split(".")[:2])
    except ValueError:
        major, minor = MIN_API
    if (major, minor) < MIN_API:
        client.close()
        raise EngineUnavailable(
            f"The engine at {endpoint.url} speaks Docker API {api}; the course needs {MIN_API[0]}.{MIN_API[1]} or newer.",
            "Update Docker (Docker Desktop / Engine 20.10 or later).",
        )
    client.course_endpoint = endpoint  # type: ignore[attr-defined]
    client.course_kwargs = kwargs  # type: ignore[attr-defined]
    return client


def api_client(client, timeout: float):
    """A low-level client on the same endpoint as ``client`` with its own socket timeout.

    docker-py has no per-call timeout for exec or logs; a second client whose socket times
    out after ``timeout`` seconds gives every such call a deadline.
    """
    import docker

    kwargs = dict(getattr(client, "course_kwargs", {"base_url": client.api.base_url}))
    return docker.APIClient(version=client.api.api_version, timeout=timeout, **kwargs)


def describe_error(exc: Exception) -> str:
    """One line for an engine-side error raised during a check."""
    try:
        from docker.errors import APIError
    except ImportError:  # pragma: no cover
        APIError = ()  # type: ignore
    if isinstance(exc, APIError):
        return f"the engine answered {exc.status_code}: {exc.explanation or exc}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"
