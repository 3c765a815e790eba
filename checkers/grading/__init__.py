"""Instructor-run grading: a whole class graded with one command (``dockercourse grade``).

Modules: :mod:`.workspace` (safe intake of folders, zips, tars, git repos), :mod:`.policy` (the gate
before anything runs), :mod:`.recipes` (how each file-based exercise is built and started),
:mod:`.sandbox` (namespaces, labels, limits, deadlines, teardown and sweeps), :mod:`.engines`
(endpoints and the bounded job pool shared by both modes), :mod:`.submissions` and :mod:`.live`
(the two modes), :mod:`.verdicts` and :mod:`.records` (what happened), :mod:`.gradebook`
(records on disk, grades.csv, results.json, JUnit) and :mod:`.report` (HTML).
"""
from __future__ import annotations

__all__ = ["grade_submissions", "grade_live"]


def grade_submissions(*args, **kwargs):
    from .submissions import grade_submissions as run

    return run(*args, **kwargs)


def grade_live(*args, **kwargs):
    from .live import grade_live as run

    return run(*args, **kwargs)
