"""Verdicts: what happened to one check of one student's exercise.

``pass`` and ``fail`` are about the student's work. The others say why the checks could not
judge the work normally:

- ``build-failed``: the submission could not be built or started (the build log tail is the evidence);
- ``refused-by-policy``: the submission asked for something a grader never runs (privileged mode,
  the Docker socket, a host path ...); nothing was started;
- ``oom-killed``: a container was killed for using more memory than the grading limit;
- ``timeout``: a step passed its wall-clock deadline;
- ``engine-error``: the engine (or the grader) failed; not the student's doing.

``timeout`` and ``engine-error`` are infrastructure outcomes: they never count as a zero, are left out
of every total, and are flagged for a re-run. The others are scored (0 points for the checks they hit).
"""
from __future__ import annotations

from ..model import ERROR as CORE_ERROR, FAIL as CORE_FAIL, PASS as CORE_PASS

PASS = "pass"
FAIL = "fail"
TIMEOUT = "timeout"
BUILD_FAILED = "build-failed"
REFUSED = "refused-by-policy"
OOM_KILLED = "oom-killed"
ENGINE_ERROR = "engine-error"
MISSING = "missing"  # exercise-level only: the submission has no folder for the exercise

CHECK_STATUSES = (PASS, FAIL, TIMEOUT, BUILD_FAILED, REFUSED, OOM_KILLED, ENGINE_ERROR)
RERUN = frozenset({TIMEOUT, ENGINE_ERROR})  # not the student's doing: excluded from scores, re-run
STUDENT_STAGE = frozenset({BUILD_FAILED, REFUSED, OOM_KILLED})  # scored 0, with their own reason

HINTS = {
    TIMEOUT: "A step passed its deadline. This is not counted: re-run this student "
             "(`dockercourse grade ... --only STUDENT`), with longer deadlines if the machine is slow.",
    ENGINE_ERROR: "The engine or the grader failed, so nothing was judged. This is not counted: "
                  "re-run this student once the engine is healthy (`dockercourse grade ... --only STUDENT`).",
}


def from_core(status: str) -> str:
    """Map a checker status (pass / fail / error) to a grading verdict."""
    return {CORE_PASS: PASS, CORE_FAIL: FAIL, CORE_ERROR: ENGINE_ERROR}.get(status, ENGINE_ERROR)


def to_core(verdict: str) -> str:
    """The closest checker status, for JUnit: infrastructure -> error, the student's -> fail."""
    if verdict == PASS:
        return CORE_PASS
    if verdict in RERUN:
        return CORE_ERROR
    return CORE_FAIL


def is_scored(verdict: str) -> bool:
    return verdict not in RERUN


def exercise_verdict(check_verdicts: list[str], stage: str | None = None) -> str:
    """One word for a student's exercise: the stage outcome if a stage stopped it, else from the checks."""
    if stage:
        return stage
    if not check_verdicts:
        return ENGINE_ERROR
    for v in (ENGINE_ERROR, TIMEOUT):
        if v in check_verdicts:
            return v
    if all(v == PASS for v in check_verdicts):
        return PASS
    if OOM_KILLED in check_verdicts:
        return OOM_KILLED
    return FAIL
