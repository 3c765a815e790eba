"""Removing what a run made, by name prefix: tests, benchmarks and tools that give every object
they create a unique prefix use this to leave nothing behind (and touch nothing else)."""
from __future__ import annotations


def remove_named_with(client, prefix: str) -> list[str]:
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
