"""``dockercourse doctor``: is this machine ready for the course?

One line per fact, one line per problem with what to do. Exit 0 when ready.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

from .engine import EngineUnavailable, connect, find_endpoint


@dataclass
class Report:
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ready": self.ready, "facts": dict(self.facts), "problems": list(self.problems)}


def compose_version() -> str | None:
    docker = shutil.which("docker")
    if not docker:
        return None
    try:
        out = subprocess.run([docker, "compose", "version", "--short"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _free_space(path: str) -> str:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return "unknown (the engine's disk is not visible from here)"
    return f"{usage.free / 2**30:.1f} GiB free of {usage.total / 2**30:.1f} GiB"


def diagnose(with_images: bool = True) -> Report:
    rep = Report()
    try:
        endpoint = find_endpoint()
        rep.facts.append(("endpoint", f"{endpoint.url} (from {endpoint.source})"))
        client = connect(timeout=15)
    except EngineUnavailable as exc:
        rep.problems.append(str(exc))
        return rep
    try:
        ver = client.api.version()
        info = client.api.info()
        name = "Podman" if any("podman" in str(c.get("Name", "")).lower() for c in ver.get("Components", []) or []) \
            else "Docker Engine"
        if "desktop" in str(info.get("OperatingSystem", "")).lower():
            name = "Docker Desktop"
        rep.facts.append(("engine", f"{name} {ver.get('Version', '?')}"))
        rep.facts.append(("api", f"{client.api.api_version} (engine supports {ver.get('MinAPIVersion', '?')}\u2013{ver.get('ApiVersion', '?')})"))
        rep.facts.append(("os/arch", f"{info.get('OperatingSystem', '?')} {ver.get('Os', '?')}/{ver.get('Arch', '?')}"))
        root = info.get("DockerRootDir", "")
        rep.facts.append(("storage", f"{info.get('Driver', '?')} at {root}: {_free_space(root) if root else 'unknown'}"))
        comp = compose_version()
        if comp and comp.lstrip("v").startswith("2"):
            rep.facts.append(("compose", f"v{comp.lstrip('v')}"))
        else:
            rep.facts.append(("compose", comp or "missing"))
            rep.problems.append("Compose v2 is missing: `docker compose version` does not answer with v2. "
                                "Run `scripts/ensure-engine` (Linux) or update Docker Desktop.")
        if with_images:
            from .imagekit import status

            for row in status(client):
                if row["source"] == "missing":
                    rep.facts.append((f"image {row['image']}", "missing"))
                    rep.problems.append(f"Course image {row['image']} is missing. Run `dockercourse images prepare`.")
                else:
                    size = f"{row['size'] / 1e6:.0f} MB" if row.get("size") else "?"
                    rep.facts.append((f"image {row['image']}", f"{row['source']}, {row['id']}, {size}"))
    except EngineUnavailable as exc:
        rep.problems.append(str(exc))
    except Exception as exc:  # an engine that answers oddly is still a one-line problem
        from .engine import describe_error

        rep.problems.append(f"The engine answered, but not as expected: {describe_error(exc)}.")
    finally:
        client.close()
    return rep


def render(rep: Report) -> str:
    width = max((len(k) for k, _ in rep.facts), default=0)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rep.facts]
    for p in rep.problems:
        lines.append(f"PROBLEM: {p}")
    lines.append("Ready for the course." if rep.ready else f"Not ready: {len(rep.problems)} problem(s) above.")
    return "\n".join(lines)
