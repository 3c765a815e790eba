"""Docker in Two Days: checks that look at your real containers, images, volumes and networks.

In Jupyter::

    from checkers import check
    check("web-server")
"""
from __future__ import annotations

__version__ = "0.1.0"


def check(exercise_id: str, scope=None, client=None):
    """Check one exercise against the engine and return the result (a table in Jupyter).

    Bad input gets a plain sentence, not a traceback: an unknown id suggests the closest ones,
    and an engine that is down says how to start it.
    """
    from .engine import EngineUnavailable
    from .exercises import UnknownExercise, load

    try:
        exercise = load(exercise_id)
        return exercise.run(client=client, scope=scope)
    except (UnknownExercise, EngineUnavailable) as exc:
        return Message(str(exc))


class Message(str):
    """A plain sentence shown instead of a traceback (in Jupyter and in a terminal)."""

    passed = False

    def _repr_html_(self) -> str:
        import html

        return f'<div style="color:#9a6700"><b>Could not check:</b> {html.escape(str(self))}</div>'


__all__ = ["check", "__version__"]
