"""The exercise registry. Each exercise lives in its own module here, named after its id
(``web-server`` -> ``web_server.py``) and defining ``EXERCISE``. Modules are imported only
when asked for, so checking one exercise does not pay for the others."""
from __future__ import annotations

import difflib
import importlib
import importlib.util

# Course order. Ids are contracts: learners, instructors and tests rely on them.
EXERCISE_IDS: list[str] = [
    # Day 1
    "first-container", "web-server", "first-image", "build-cache", "compose-stack",
    # Day 2
    "volumes", "networking", "registry", "debugging",
    # Beyond the two days
    "log-rotation", "multi-stage", "limits", "non-root", "healthcheck",
]
ALIASES: dict[str, str] = {}


class UnknownExercise(KeyError):
    def __init__(self, exercise_id: str, suggestions: list[str]):
        super().__init__(exercise_id)
        self.exercise_id = exercise_id
        self.suggestions = suggestions

    def __str__(self) -> str:
        msg = f"There is no exercise called {self.exercise_id!r}."
        if self.suggestions:
            msg += " Did you mean: " + ", ".join(self.suggestions) + "?"
        return msg + " `dockercourse list` shows them all."


def available() -> list[str]:
    """Ids whose module exists (exercises are added issue by issue)."""
    return [i for i in EXERCISE_IDS if importlib.util.find_spec(f"{__name__}.{i.replace('-', '_')}") is not None]


def load(exercise_id: str):
    ex_id = ALIASES.get(exercise_id, exercise_id)
    if ex_id not in EXERCISE_IDS or ex_id not in available():
        known = available()
        close = difflib.get_close_matches(exercise_id, known, n=3, cutoff=0.5)
        if not close:
            close = [k for k in known if exercise_id and (exercise_id in k or k in exercise_id)][:3]
        raise UnknownExercise(exercise_id, close)
    module = importlib.import_module(f"{__name__}.{ex_id.replace('-', '_')}")
    return module.EXERCISE


def all_exercises() -> list:
    return [load(i) for i in available()]
