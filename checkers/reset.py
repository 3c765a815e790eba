"""``dockercourse reset ID``: remove exactly the objects an exercise names, nothing else."""
from __future__ import annotations

from dataclasses import dataclass

from .context import COMPOSE_PROJECT, exact
from .scope import DEFAULT


@dataclass
class Planned:
    kind: str  # container | image | volume | network
    name: str
    ident: str


def plan(client, exercise, scope=DEFAULT) -> list[Planned]:
    """The objects that exist now and that ``exercise`` (in ``scope``) names."""
    from docker.errors import NotFound

    api = client.api
    out: list[Planned] = []
    objs = exercise.objects
    seen: set[str] = set()
    if objs.compose_project:
        project = scope.project(objs.compose_project)
        for c in api.containers(all=True, filters={"label": f"{COMPOSE_PROJECT}={project}"}):
            name = c["Names"][0].lstrip("/") if c.get("Names") else c["Id"][:12]
            seen.add(c["Id"])
            out.append(Planned("container", name, c["Id"]))
    for name in objs.containers:
        try:
            info = exact(api.inspect_container(scope.name(name)), scope.name(name))
        except NotFound:
            continue
        if info is None:  # only an id prefix matched: someone else's container
            continue
        if info["Id"] not in seen:
            seen.add(info["Id"])
            out.append(Planned("container", scope.name(name), info["Id"]))
    for name in objs.networks:
        try:
            info = exact(api.inspect_network(scope.name(name)), scope.name(name))
            if info is not None:
                out.append(Planned("network", scope.name(name), info["Id"]))
        except NotFound:
            pass
    if objs.compose_project:
        project = scope.project(objs.compose_project)
        for n in api.networks(filters={"label": f"{COMPOSE_PROJECT}={project}"}):
            out.append(Planned("network", n["Name"], n["Id"]))
        for v in (api.volumes(filters={"label": f"{COMPOSE_PROJECT}={project}"}).get("Volumes") or []):
            out.append(Planned("volume", v["Name"], v["Name"]))
    for name in objs.volumes:
        try:
            api.inspect_volume(scope.name(name))
            if not any(p.kind == "volume" and p.name == scope.name(name) for p in out):
                out.append(Planned("volume", scope.name(name), scope.name(name)))
        except NotFound:
            pass
    for ref in objs.images:
        try:
            api.inspect_image(scope.image(ref))
            out.append(Planned("image", scope.image(ref), scope.image(ref)))
        except NotFound:
            pass
    return out


def apply(client, planned: list[Planned]) -> list[str]:
    """Remove the planned objects (containers first). Returns one line per object."""
    from docker.errors import APIError, NotFound

    api = client.api
    done = []
    order = {"container": 0, "network": 1, "volume": 2, "image": 3}
    for p in sorted(planned, key=lambda p: order[p.kind]):
        try:
            if p.kind == "container":
                api.remove_container(p.ident, force=True)
            elif p.kind == "network":
                api.remove_network(p.ident)
            elif p.kind == "volume":
                api.remove_volume(p.ident)
            elif p.kind == "image":
                # Untag only this reference; layers shared with other tags stay.
                api.remove_image(p.ident, noprune=False)
            done.append(f"removed {p.kind} {p.name}")
        except NotFound:
            done.append(f"{p.kind} {p.name} was already gone")
        except APIError as exc:
            done.append(f"could not remove {p.kind} {p.name}: {exc.explanation or exc}")
    return done
