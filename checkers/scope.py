"""Where an exercise's objects are.

A check never hard-codes a name: it asks the scope. The default scope is the learner's own
engine with the names the exercise gives (container ``web``, network ``appnet`` ...). For
grading and for tests, a scope adds a prefix (``s017-web``), a compose project, and a map from
the port an exercise asks for to the port actually published, so the same checks look at a
whole class side by side.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Scope:
    prefix: str = ""
    compose_project: str | None = None  # overrides the exercise's default project name
    ports: dict[int, int] = field(default_factory=dict)  # exercise host port -> actual host port
    labels: dict[str, str] = field(default_factory=dict)  # extra labels the objects must carry
    host: str = "127.0.0.1"  # where published ports are reached from the checker
    student: str | None = None
    # Resource limits for the containers the checks themselves start (trial runs, probes), as
    # docker-py host-config arguments. Grading sets them to the class's sandbox limits.
    limits: dict = field(default_factory=dict)
    files: str | None = None  # a folder holding the learner's exercise folders (grading: the student's workspace)

    def name(self, name: str) -> str:
        """Container / volume / network name for the exercise's ``name``."""
        return f"{self.prefix}{name}"

    def image(self, ref: str) -> str:
        """Image reference for the exercise's ``ref`` (``hello-app:1.0`` -> ``<prefix>hello-app:1.0``).

        A registry part (``localhost:5000/``) stays in front of the prefix.
        """
        if not self.prefix:
            return ref
        head, sep, tail = ref.rpartition("/")
        if sep and ("." in head or ":" in head or head == "localhost"):
            return f"{head}/{self.prefix}{tail}"
        return f"{self.prefix}{ref}"

    def project(self, default: str) -> str:
        return self.compose_project or f"{self.prefix}{default}"

    def port(self, port: int) -> int:
        return self.ports.get(port, port)

    def with_(self, **changes) -> "Scope":
        return replace(self, **changes)

    @property
    def is_default(self) -> bool:
        return not (self.prefix or self.compose_project or self.ports or self.labels)


DEFAULT = Scope()
