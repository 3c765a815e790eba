"""Shared test helpers: unique scopes, running solution scripts for real, state snapshots."""
from __future__ import annotations

import os
import socket
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

from checkers.cleanup import remove_named_with

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


@contextmanager
def built_images(client, folder: Path, repo: str, dockerfiles: dict[str, str]):
    """Build ``<prefix><repo>:<tag>`` from each ``{tag: Dockerfile}`` (context ``folder``) under a new
    prefix, yield the prefix, and remove everything with it afterwards (a module's shared images)."""
    mp = new_prefix()
    try:
        sh(" && ".join(f"docker build -q --force-rm -t {mp}{repo}:{tag} -f {dockerfile} ."
                       for tag, dockerfile in dockerfiles.items()), cwd=folder)
        yield mp
    finally:
        remove_prefixed(client, mp)


def remove_prefixed(client, prefix: str) -> list[str]:
    """Remove every container, network, volume and image whose name starts with ``prefix``."""
    return remove_named_with(client, prefix)


def prefixed_snapshot(client, prefix: str) -> dict:
    """snapshot() restricted to this test's objects: other engineers' tests share the engine."""
    return {k: [e for e in v if prefix in repr(e)] for k, v in snapshot(client).items()}


def pin_run_id(monkeypatch) -> str:
    """Give every check run in this test one known run id (the ``org.dockercourse.run`` label of the
    probe/trial objects it creates), so :func:`own_snapshot` can tell them from other sessions' checks."""
    from checkers.context import Context

    run = uuid.uuid4().hex[:10]
    original = Context.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.run_id = run

    monkeypatch.setattr(Context, "__init__", init)
    return run


def own_snapshot(client, prefix: str, run: str | None = None, like: dict | None = None,
                 intermediates: bool = True) -> dict:
    """Like :func:`snapshot`, limited to what one test (and the checks it runs) can own, so that it stays
    exact while other sessions use the same engine: objects named with ``prefix`` (or in a compose project
    starting with it), course objects labelled with the run id ``run`` (see :func:`pin_run_id`), and
    untagged images that descend from this test's own images (intermediate images of a trial build) and
    not from another check run's.

    Pass the "before" snapshot as ``like`` for the "after" one, so both judge ancestry the same way.
    ``intermediates=False`` leaves untagged images out (for checks that build nothing): a build of the same
    files by another session shares those layers. Tests of checks that build should give their files
    unique content (a comment in a manifest will do) so that their layers are theirs alone.
    """
    api = client.api
    run_label = "org.dockercourse.run"

    def labelled(labels) -> bool:
        return run is not None and (labels or {}).get(run_label) == run

    def foreign_run(labels) -> bool:
        value = (labels or {}).get(run_label)
        return bool(value) and value != run

    containers = sorted(
        (c["Id"], c["State"], c["Status"].split(" ")[0], tuple(sorted(c.get("Names") or [])))
        for c in api.containers(all=True)
        if any(n.lstrip("/").startswith(prefix) for n in c.get("Names") or [])
        or (c.get("Labels") or {}).get("com.docker.compose.project", "").startswith(prefix)
        or labelled(c.get("Labels")))
    images = api.images(all=True)
    parent = {i["Id"]: i.get("ParentId") or "" for i in images}

    def chain(iid: str) -> set:
        seen = set()
        while iid and iid not in seen:
            seen.add(iid)
            iid = parent.get(iid, "")
        return seen

    def tags(i) -> tuple:
        return tuple(sorted(t for t in (i.get("RepoTags") or []) if t != "<none>:<none>"))

    def mine(i) -> bool:
        return any(t.rsplit("/", 1)[-1].startswith(prefix) for t in tags(i)) or labelled(i.get("Labels"))

    # images on the way to another check run's trial image belong to that run
    theirs = set()
    for i in images:
        if foreign_run(i.get("Labels")):
            theirs |= chain(i["Id"])
    if like is not None:
        related = set(like["_related"])
    else:
        ours, others = set(), set()
        for i in images:
            if mine(i):
                ours |= chain(i["Id"])
            elif tags(i):
                others |= chain(i["Id"])
        # The first step on top of someone else's image (such as `WORKDIR /app` on python:3.11-slim) may be
        # shared with other sessions' builds: only what comes after it is surely this test's.
        related = {i for i in ours - others if parent.get(i) and parent[i] not in others}
    kept = sorted((i["Id"], tags(i)) for i in images
                  if mine(i) or (intermediates and i["Id"] in related)
                  or (intermediates and not tags(i) and i["Id"] not in theirs and not foreign_run(i.get("Labels"))
                      and chain(i["Id"]) & related))
    volumes = sorted(v["Name"] for v in (api.volumes().get("Volumes") or []) if v["Name"].startswith(prefix))
    networks = sorted((n["Id"], n["Name"], tuple(sorted((n.get("Containers") or {}).keys())))
                      for n in api.networks() if n["Name"].startswith(prefix))
    return {"containers": containers, "images": kept, "volumes": volumes, "networks": networks,
            "_related": sorted(related)}


def id_prefix_decoy(client, prefix: str, name: str, tries: int = 60) -> str:
    """Create a stopped container (named with ``prefix``) whose id contains ``name`` after at least two
    characters, and return the scope prefix ``p`` for which ``p + name`` is a prefix of that id: the
    engine then resolves the name ``p + name`` as that container's id. ``name`` must be hex (like ``db``)."""
    api = client.api
    for i in range(tries):
        cid = api.create_container("busybox:1.35", "true", name=f"{prefix}decoy{i}")["Id"]
        pos = cid.find(name, 2)
        if pos > 0:
            return cid[:pos]
        api.remove_container(cid)
    raise AssertionError(f"no container id contained {name!r} in {tries} tries")


# ------------------------------------------------------------------ reading results
def statuses(res) -> dict[str, str]:
    """{check id: status} of an ExerciseResult."""
    return {c.id: c.status for c in res.checks}


def checks_by_id(res) -> dict:
    """{check id: CheckResult} of an ExerciseResult."""
    return {c.id: c for c in res.checks}


def check_result(res, check_id: str):
    """The CheckResult with ``check_id``."""
    return next(c for c in res.checks if c.id == check_id)


def _ours(snap: dict, prefix: str) -> dict:
    return {"containers": [c for c in snap["containers"]
                           if any(n.lstrip("/").startswith((prefix, "dockercourse-")) for n in c[3])],
            "images": [i for i in snap["images"] if any(t.startswith(prefix) for t in i[1])],
            "volumes": [v for v in snap["volumes"] if v.startswith(prefix)],
            "networks": [n for n in snap["networks"] if n[1].startswith(prefix)]}


def unchanged(client, before: dict, prefix: str) -> bool:
    """The engine is as the check found it. Others may share this engine: if the whole snapshot
    moved, compare what could be ours (this test's prefix, the course's probe and trial containers)."""
    after = snapshot(client)
    return after == before or _ours(after, prefix) == _ours(before, prefix)


def fix_command(hint: str) -> str:
    """The one command of a hint ("Fix: <command>" on its first line), ready to run."""
    return hint.splitlines()[0].removeprefix("Fix: ") if hint else ""
