"""The gradebook on disk: one record per student x exercise, and the files made from them.

``<out>/records/<student>/<exercise>.json`` is written atomically (temporary file, then rename) as
each job ends, so a crash or Ctrl-C loses at most the jobs that were running; a re-run reads the
records and skips what is already graded (``--regrade`` and ``--only`` redo it). Records whose
verdict is ``timeout`` or ``engine-error`` are not graded: a re-run tries them again.

From the records: ``results.json`` (every check, evidence, and the audit record), ``grades.csv``
(a row per student, a column per exercise, the total), ``junit/<student>.xml`` and the HTML report.
"""
from __future__ import annotations

import csv
import hashlib
import inspect
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

from . import verdicts as V

FORMAT = 1


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def gradebook_id(out: Path) -> str:
    return hashlib.sha256(str(Path(out).resolve()).encode()).hexdigest()[:10]


# ---------------------------------------------------------------- versions and hashes
_VERSION: dict | None = None


def checker_version() -> dict:
    global _VERSION
    if _VERSION is None:
        from .. import __version__

        repo = Path(__file__).resolve().parent.parent.parent
        commit, dirty = None, None
        try:
            commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                                    timeout=5).stdout.strip() or None
            dirty = bool(subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "checkers"],
                                        capture_output=True, text=True, timeout=5).stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
        _VERSION = {"version": __version__, "commit": commit, "dirty": dirty, "python": sys.version.split()[0]}
    return dict(_VERSION)


def spec_hash(exercise, recipe=None) -> str:
    """A hash of what grades the exercise: its checker module's source (and the recipe)."""
    h = hashlib.sha256()
    try:
        h.update(Path(inspect.getsourcefile(_module_of(exercise))).read_bytes())
    except (TypeError, OSError):
        h.update(repr([(c.id, c.points, c.requires) for c in exercise.checks]).encode())
    if recipe is not None:
        h.update(recipe.spec_hash().encode())
    return h.hexdigest()[:16]


def _module_of(exercise):
    for fn in [c.func for c in exercise.checks]:
        mod = sys.modules.get(fn.__module__)
        if mod is not None:
            return mod
    raise TypeError("no module")


# ---------------------------------------------------------------- the record store
class Store:
    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.gradebook = gradebook_id(self.out)
        self.records_dir = self.out / "records"
        self._lock = threading.Lock()
        self.records: dict[str, dict[str, dict]] = {}
        self.runs: list[dict] = []
        self._load()

    def _load(self) -> None:
        if self.records_dir.is_dir():
            for sdir in sorted(self.records_dir.iterdir()):
                if not sdir.is_dir():
                    continue
                for f in sorted(sdir.glob("*.json")):
                    try:
                        rec = json.loads(f.read_text())
                    except (OSError, ValueError):
                        continue  # a torn file cannot exist (atomic writes), but be safe
                    self.records.setdefault(rec["student"], {})[rec["exercise"]] = rec
        try:
            self.runs = json.loads((self.out / "results.json").read_text()).get("runs", [])
        except (OSError, ValueError):
            self.runs = []

    def graded(self, student: str, exercise: str) -> bool:
        rec = self.records.get(student, {}).get(exercise)
        return rec is not None and not rec.get("rerun")

    def put(self, rec: dict) -> None:
        with self._lock:
            self.records.setdefault(rec["student"], {})[rec["exercise"]] = rec
            write_atomic(self.records_dir / rec["student"] / f"{rec['exercise']}.json",
                         json.dumps(rec, indent=1, default=str))

    def students(self) -> list[str]:
        return sorted(self.records)

    # ------------------------------------------------------------ outputs
    def write_outputs(self, exercises: list[str], run: dict, report: bool = True) -> dict:
        with self._lock:
            runs = [r for r in self.runs if r.get("run") != run.get("run")] + [run]
            self.runs = runs
            ex_ids = list(dict.fromkeys(list(exercises) + sorted({e for s in self.records.values() for e in s})))
            data = {"format": FORMAT, "gradebook": self.gradebook, "generated": now(), "runs": runs,
                    "exercises": _exercise_table(ex_ids, self.records), "summary": summarize(self.records, ex_ids),
                    "results": {s: dict(sorted(self.records[s].items())) for s in sorted(self.records)}}
            write_atomic(self.out / "results.json", json.dumps(data, indent=1, default=str))
            write_atomic(self.out / "grades.csv", grades_csv(self.records, ex_ids))
            write_junit_all(self.out / "junit", self.records)
        if report:
            from .report import write_report

            write_report(self.out, data)
        return data


def _exercise_table(ex_ids: list[str], records: dict) -> dict:
    table = {}
    for ex in ex_ids:
        recs = [r[ex] for r in records.values() if ex in r]
        sample = next((r for r in recs if r.get("checks")), None)
        table[ex] = {"title": (sample or {}).get("title", ex), "max_score": (sample or {}).get("max_score", 0),
                     "spec_hash": sorted({r.get("audit", {}).get("spec_hash") for r in recs if r.get("audit")} - {None}),
                     "checks": [{"id": c["id"], "title": c["title"], "max_points": c.get("max_points", 1)}
                                for c in (sample or {}).get("checks", [])]}
    return table


def student_total(recs: dict, ex_ids: list[str]) -> tuple[int, int, list[str]]:
    """(points, max points, exercises to re-run) counting only graded (scored) exercises."""
    score = maximum = 0
    rerun = []
    for ex in ex_ids:
        rec = recs.get(ex)
        if rec is None:
            continue
        if rec.get("rerun"):
            rerun.append(ex)
            continue
        score += rec.get("score", 0)
        maximum += rec.get("max_score", 0)
    return score, maximum, rerun


def summarize(records: dict, ex_ids: list[str]) -> dict:
    verdict_counts: dict[str, int] = {}
    for recs in records.values():
        for rec in recs.values():
            verdict_counts[rec["verdict"]] = verdict_counts.get(rec["verdict"], 0) + 1
    rerun = sorted(f"{s}/{e}" for s, recs in records.items() for e, r in recs.items() if r.get("rerun"))
    return {"students": len(records), "verdicts": verdict_counts, "needs_rerun": rerun}


def grades_csv(records: dict, ex_ids: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", *ex_ids, "total", "max_total", "percent", "needs_rerun", "notes"])
    for student in sorted(records):
        recs = records[student]
        row = [student]
        notes = []
        for ex in ex_ids:
            rec = recs.get(ex)
            if rec is None:
                row.append("")
            elif rec.get("rerun"):
                row.append(rec["verdict"])  # never a number: not graded
                notes.append(f"{ex}: {rec['verdict']}")
            else:
                row.append(rec.get("score", 0))
                if rec["verdict"] not in (V.PASS, V.FAIL):
                    notes.append(f"{ex}: {rec['verdict']}")
        score, maximum, rerun = student_total(recs, ex_ids)
        row += [score, maximum, f"{100 * score / maximum:.0f}" if maximum else "", " ".join(rerun), "; ".join(notes)]
        w.writerow(row)
    return buf.getvalue()


# ---------------------------------------------------------------- JUnit
def as_exercise_result(rec: dict):
    """A checker :class:`ExerciseResult` for a record (statuses mapped: infrastructure -> error)."""
    from ..model import CheckResult, ExerciseResult

    checks = []
    for c in rec.get("checks", []):
        status = V.to_core(c["status"])
        msg = c.get("message", "")
        if c["status"] not in (V.PASS, V.FAIL):
            msg = f"[{c['status']}] {msg}"
        checks.append(CheckResult(c["id"], c.get("title", c["id"]), status, msg, c.get("hint", ""),
                                  c.get("evidence", {}), c.get("points", 0), c.get("max_points", 1),
                                  c.get("seconds", 0.0)))
    return ExerciseResult(rec["exercise"], rec.get("title", rec["exercise"]), rec.get("lesson", ""), checks,
                          rec.get("advice", []), seconds=rec.get("seconds", 0.0))


def write_junit_all(folder: Path, records: dict) -> None:
    from ..render import junit_tree

    import xml.etree.ElementTree as ET

    folder.mkdir(parents=True, exist_ok=True)
    for student, recs in records.items():
        results = [as_exercise_result(recs[e]) for e in sorted(recs)]
        tree = junit_tree(results, suite_name=f"dockercourse grade: {student}")
        ET.indent(tree)
        buf = io.BytesIO()
        tree.write(buf, encoding="utf-8", xml_declaration=True)
        write_atomic(folder / f"{student}.xml", buf.getvalue().decode("utf-8"))


def say(opts, text: str) -> None:
    """A progress line for the instructor: to ``opts.progress`` if it is a function, nowhere if it is
    False, else to stderr (both modes share it)."""
    if opts.progress is False:
        return
    if callable(opts.progress):
        opts.progress(text)
    else:
        print(text, file=sys.stderr, flush=True)
