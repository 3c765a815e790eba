"""How a submission of each file-based exercise is built and started, before its checks run.

Each :class:`Recipe` is the exercise's own commands (its README and ``solution.sh``), as data:

- :class:`Build` -- ``docker build -t <tag> <context>``; the tag is the exercise's image name, put
  under the student's scope (``g<run>-<student>-hello-app:1.0``) by the grader;
- :class:`Run` -- ``docker run -d --name <name> -p 127.0.0.1:<free port>:<container port> [options] <image>``;
  the options are the exercise's documented ones, or the student's own from a ``run-options`` file
  in the exercise folder (shell words; passed through the policy gate first);
- :class:`Compose` -- ``docker compose -p <project> build`` then ``up -d``, from the student's compose file
  after the policy gate, rewritten by the grader (names, labels, limits, loopback ports).

``provided`` lists course files a submission need not include (the wheel folders): they are copied
from ``exercises/<id>/`` when missing. To make another exercise gradable from files, add a line to
:data:`RECIPES`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


@dataclass(frozen=True)
class Build:
    tag: str  # the exercise's image reference, e.g. "hello-app:1.0"
    context: str = "."
    dockerfile: str = "Dockerfile"


@dataclass(frozen=True)
class Run:
    name: str  # the exercise's container name, e.g. "broken-app"
    image: str  # an image the recipe builds (scoped) or a course image (used as is)
    ports: dict = field(default_factory=dict)  # exercise host port -> container port
    options: tuple = ()  # the exercise's documented `docker run` options
    options_file: str = "run-options"  # the student's own options, if the file exists
    harden: bool = True  # add no-new-privileges (off where the exercise grades the student's own hardening)


@dataclass(frozen=True)
class Compose:
    project: str  # the exercise's project name; the grader runs it as <prefix><project>
    files: tuple = COMPOSE_FILES  # the first that exists is used


@dataclass(frozen=True)
class Recipe:
    exercise: str
    steps: tuple
    provided: tuple = ()  # course files copied in when the submission lacks them
    outside: bool = False  # True only if the exercise must reach beyond this machine (none does)
    settle: float | None = None  # seconds to wait for published ports (None: the grader's default)

    def spec(self) -> dict:
        return {"exercise": self.exercise, "steps": [{type(s).__name__: asdict(s)} for s in self.steps],
                "provided": list(self.provided), "outside": self.outside}

    def spec_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.spec(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def built_tags(self) -> set[str]:
        return {s.tag for s in self.steps if isinstance(s, Build)}

    @property
    def ports(self) -> list[int]:
        out = []
        for s in self.steps:
            if isinstance(s, Run):
                out += list(s.ports)
        return out


RECIPES: dict[str, Recipe] = {
    "first-image": Recipe("first-image", (Build("hello-app:1.0"),), provided=("wheels",)),
    "build-cache": Recipe("build-cache", (Build("cache-app:1.0"),), provided=("wheels",)),
    "compose-stack": Recipe("compose-stack", (Compose("compose-stack"),)),
    "debugging": Recipe("debugging", (Build("broken-app"), Run("broken-app", "broken-app", ports={8081: 8080}))),
    "multi-stage": Recipe("multi-stage", (Build("slim-app:1.0"), Build("slim-app:single", dockerfile="Dockerfile.single")),
                          provided=("wheels", "tools", "site", "Dockerfile.single")),
    "non-root": Recipe("non-root", (Build("safe-app:1.0"),
                                    Run("safe", "safe-app:1.0", options=("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                                                                         "--security-opt", "no-new-privileges"),
                                        harden=False))),
    "healthcheck": Recipe("healthcheck", (Build("healthy-app:1.0"),
                                          Run("healthy", "healthy-app:1.0", options=("--restart", "unless-stopped")))),
}


def recipe_for(exercise_id: str) -> Recipe | None:
    return RECIPES.get(exercise_id)


def gradable_from_files() -> list[str]:
    """Exercise ids with a recipe whose checker module exists, in course order."""
    from ..exercises import available

    return [i for i in available() if i in RECIPES]
