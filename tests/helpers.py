"""Shared test helpers: unique scopes, running solution scripts for real, state snapshots."""
from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
SESSION = f"dct{uuid.uuid4().hex[:6]}"  # every name a test makes starts with this


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_prefix() -> str:
    return f"{SESSION}-{uuid.uuid4().hex[:4]}-"


def sh(script: str, prefix: str = "", cwd: Path | None = None, env: dict | None = None, check: bool = True,
       timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a bash snippet the way a learner would type it; DC_PREFIX names its objects."""
    full_env = dict(os.environ)
    full_env["DC_PREFIX"] = prefix
    full_env.update(env or {})
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {script}\nstdout:\n{proc.stdout[-3000:]}\n"
                             f"stderr:\n{proc.stderr[-3000:]}")
    return proc


def snapshot(client) -> dict:
    """What the engine holds, in enough detail to see any change a check might make."""
    api = client.api
    containers = sorted((c["Id"], c["State"], c["Status"].split(" ")[0], tuple(sorted(c.get("Names") or [])))
                        for c in api.containers(all=True))
    images = sorted((i["Id"], tuple(sorted(i.get("RepoTags") or []))) for i in api.images(all=True))
    volumes = sorted(v["Name"] for v in (api.volumes().get("Volumes") or []))
    networks = sorted((n["Id"], n["Name"], tuple(sorted((n.get("Containers") or {}).keys())))
                      for n in api.networks())
    return {"containers": containers, "images": images, "volumes": volumes, "networks": networks}


def remove_prefixed(client, prefix: str) -> list[str]:
    """Remove every container, network, volume and image whose name starts with ``prefix``."""
    from docker.errors import APIError, NotFound

    api = client.api
    removed = []
    for c in api.containers(all=True):
        names = [n.lstrip("/") for n in c.get("Names") or []]
        labels = c.get("Labels") or {}
        if any(n.startswith(prefix) for n in names) or labels.get("com.docker.compose.project", "").startswith(prefix):
            try:
                api.remove_container(c["Id"], force=True, v=True)
                removed.append(f"container {names}")
            except (NotFound, APIError):
                pass
    for n in api.networks():
        if n["Name"].startswith(prefix):
            try:
                api.remove_network(n["Id"])
                removed.append(f"network {n['Name']}")
            except (NotFound, APIError):
                pass
    for v in api.volumes().get("Volumes") or []:
        if v["Name"].startswith(prefix):
            try:
                api.remove_volume(v["Name"], force=True)
                removed.append(f"volume {v['Name']}")
            except (NotFound, APIError):
                pass
    for i in api.images():
        for tag in i.get("RepoTags") or []:
            repo = tag.rsplit("/", 1)[-1]
            if repo.startswith(prefix) or tag.startswith(prefix):
                try:
                    api.remove_image(tag, force=True)
                    removed.append(f"image {tag}")
                except (NotFound, APIError):
                    pass
    return removed
