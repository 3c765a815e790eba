"""One record per student x exercise: the verdict, every check, the evidence, the audit."""
from __future__ import annotations

from . import verdicts as V
from .gradebook import now


def base_record(student: str, exercise, run: str, engine: str = "") -> dict:
    ex_id = exercise if isinstance(exercise, str) else exercise.id
    return {"student": student, "exercise": ex_id,
            "title": getattr(exercise, "title", ex_id), "lesson": getattr(exercise, "lesson", ""),
            "run": run, "engine": engine, "graded_at": now(), "verdict": V.ENGINE_ERROR, "score": 0,
            "max_score": sum(c.points for c in getattr(exercise, "checks", [])), "rerun": True, "scored": False,
            "checks": [], "advice": [], "stages": [], "containers": [], "policy": [], "intake": {}, "audit": {},
            "summary": "", "seconds": 0.0}


def finish(rec: dict) -> dict:
    rec["rerun"] = rec["verdict"] in V.RERUN
    rec["scored"] = not rec["rerun"]
    rec["score"] = 0 if rec["rerun"] else sum(c.get("points", 0) for c in rec["checks"])
    return rec


def stage_record(rec: dict, exercise, verdict: str, message: str, hint: str, evidence: dict | None = None) -> dict:
    """Every check of the exercise gets the stage's verdict (``build-failed``, ``timeout`` ...)."""
    rec["verdict"] = verdict
    rec["summary"] = message
    checks = getattr(exercise, "checks", [])
    first = checks[0].title if checks else ""
    rec["checks"] = [{"id": c.id, "title": c.title, "status": verdict,
                      "message": message if i == 0 else f"Not checked ({verdict}): see \u201c{first}\u201d.",
                      "hint": hint if i == 0 else "", "evidence": dict(evidence or {}) if i == 0 else {}, "points": 0,
                      "max_points": c.points} for i, c in enumerate(checks)]
    return finish(rec)


def from_result(rec: dict, result, containers: list[dict] | None = None) -> dict:
    """Fill ``rec`` from a checker :class:`ExerciseResult` (and the containers seen, for OOM kills)."""
    oom = [c for c in (containers or []) if c.get("State.OOMKilled")]
    checks = []
    for c in result.checks:
        d = c.to_dict()
        d["seconds"] = round(c.seconds, 3)
        d["status"] = V.from_core(c.status)
        if d["status"] == V.ENGINE_ERROR:
            d["hint"] = d.get("hint") or V.HINTS[V.ENGINE_ERROR]
        if oom and d["status"] in (V.FAIL, V.ENGINE_ERROR):
            # a check that could not look because the container was being killed for memory: the kill is the story
            names = ", ".join(o["name"] for o in oom)
            d["status"] = V.OOM_KILLED
            d["message"] = (f"Found: container {names} was killed for using more than the grading memory limit "
                            f"({_mb(oom[0].get('HostConfig.Memory'))}). {d['message']}")
            d["evidence"] = {**d.get("evidence", {}), "State.OOMKilled": True,
                             "HostConfig.Memory": oom[0].get("HostConfig.Memory")}
            d["hint"] = ("Fix: find what uses so much memory (`docker stats`, the logs below); if the limit is too low "
                         "for this exercise, the instructor can regrade with a higher `--memory`.")
        checks.append(d)
    rec["checks"] = checks
    rec["advice"] = list(result.advice)
    rec["verdict"] = V.exercise_verdict([c["status"] for c in checks])
    passed = sum(1 for c in checks if c["status"] == V.PASS)
    rec["summary"] = f"{passed}/{len(checks)} checks pass"
    return finish(rec)


def _mb(n) -> str:
    try:
        return f"{int(n) / (1 << 20):.0f} MB"
    except (TypeError, ValueError):
        return "the limit"


def missing_record(rec: dict, exercise, folder_hint: str) -> dict:
    """The submission has no folder for the exercise: the student's doing, scored 0."""
    rec = stage_record(rec, exercise, V.FAIL,
                       f"Found: no folder `{exercise.id}/` in the submission. Expected: the exercise folder, named by its id.",
                       f"Fix: hand in the folder `{exercise.id}/` {folder_hint}.",
                       {"exercise folder": f"{exercise.id}/ (missing)"})
    rec["verdict"] = V.MISSING
    return finish(rec)
