"""Live mode: grade each student's own engine (the classroom where every student has a VM).

The roster is a CSV file with a header row. Columns (case does not matter):

- ``student`` -- the student's id (required);
- ``engine`` -- ``unix:///path/docker.sock``, ``tcp://host:2376`` or ``ssh://user@host`` (required);
- ``tls_dir`` -- a folder with ``ca.pem``, ``cert.pem``, ``key.pem`` for ``tcp://`` with TLS (or the three
  columns ``tls_ca``, ``tls_cert``, ``tls_key``);
- ``prefix`` -- a name prefix, if the student's objects carry one (rare);
- ``files`` -- a folder holding that student's exercise folders, for the checks that also read files
  (without it, those checks report that the folder was not found).

Checks run read-only against each engine (apart from the short-lived, labelled probe containers
some checks start and always remove), several engines at once with a bound (``--workers``), each
engine with its own deadline. An engine that cannot be reached, or stops answering, is reported
``engine-error`` for that student -- never a zero -- and flagged for a re-run.
"""
from __future__ import annotations

import csv
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import verdicts as V
from .engines import EngineSpec, Pool, connect_spec, describe_engine, parse_endpoint
from .gradebook import Store, checker_version, now, say, spec_hash
from .records import base_record, from_result, stage_record
from .workspace import student_id


@dataclass
class RosterRow:
    student: str
    engine: EngineSpec
    prefix: str = ""
    files: str | None = None


@dataclass
class LiveOptions:
    exercises: list[str]
    out: Path
    workers: int = 4
    engine_timeout: float = 120.0  # the whole of one student's engine
    call_timeout: float = 15.0  # one engine call
    regrade: bool = False
    only: list[str] | None = None
    report: bool = True
    progress: object = None
    on_student_done: object = None  # callable(student, records), called in the worker, one at a time
    run_id: str | None = None


class RosterError(ValueError):
    pass


def read_roster(path: Path) -> list[RosterRow]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RosterError(f"cannot read the roster {path}: {exc}") from None
    rows = list(csv.reader(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")))
    if not rows:
        raise RosterError(f"the roster {path} is empty")
    head = [h.strip().lower() for h in rows[0]]
    if "student" not in head or "engine" not in head:
        raise RosterError(f"the roster {path} needs a header row with the columns `student` and `engine` "
                          f"(found: {', '.join(rows[0])})")
    out, seen = [], set()
    for n, row in enumerate(rows[1:], 2):
        rec = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(head)}
        if not rec.get("student") or not rec.get("engine"):
            raise RosterError(f"{path} line {n}: both `student` and `engine` are needed")
        sid = student_id(rec["student"])
        if sid in seen:
            raise RosterError(f"{path} line {n}: the student {sid!r} is listed twice")
        seen.add(sid)
        try:
            spec = parse_endpoint(rec["engine"], rec.get("tls_dir") or None, name=sid)
        except ValueError as exc:
            raise RosterError(f"{path} line {n}: {exc}") from None
        if rec.get("tls_cert") or rec.get("tls_ca"):
            spec = EngineSpec(spec.url, rec.get("tls_ca") or None, rec.get("tls_cert") or None, rec.get("tls_key") or None,
                              name=sid)
        out.append(RosterRow(sid, spec, rec.get("prefix", ""), rec.get("files") or None))
    return out


def grade_live(roster: list[RosterRow], opts: LiveOptions) -> dict:
    from ..exercises import load

    store = Store(opts.out)
    run_id = opts.run_id or uuid.uuid4().hex[:6]
    exercises = {e: load(e) for e in opts.exercises}
    hashes = {e: spec_hash(ex) for e, ex in exercises.items()}
    rows = [r for r in roster if not opts.only or r.student in set(opts.only)]
    todo = [r for r in rows if opts.regrade or opts.only or not all(store.graded(r.student, e) for e in exercises)]
    empty = Path(tempfile.mkdtemp(prefix="dcgrade-nofiles-"))
    run_info = {"run": run_id, "mode": "live", "started": now(), "checker": checker_version(), "workers": opts.workers,
                "engine_timeout": opts.engine_timeout, "engines": {}}
    say(opts, f"grading {len(todo)} engines ({len(rows) - len(todo)} already graded), {opts.workers} at once, run {run_id}")
    lock = threading.Lock()
    cancelled: set[str] = set()

    def job(row: RosterRow) -> list[dict]:
        recs = _grade_engine(row, exercises, hashes, run_id, opts, empty, run_info)
        if opts.on_student_done:
            with lock:
                opts.on_student_done(row.student, recs)
        return recs

    done = [0]

    def on_done(outcome):
        row: RosterRow = outcome.key
        if outcome.timed_out or outcome.error is not None:
            cancelled.add(row.student)
            recs = []
            for e, ex in exercises.items():
                rec = base_record(row.student, ex, run_id, row.engine.url)
                if outcome.timed_out:
                    rec = stage_record(rec, ex, V.TIMEOUT, f"The engine {row.engine.url} did not finish within "
                                       f"{opts.engine_timeout:.0f} s.", V.HINTS[V.TIMEOUT], {"engine": row.engine.url})
                else:
                    rec = stage_record(rec, ex, V.ENGINE_ERROR, f"The grader failed: {outcome.error}", V.HINTS[V.ENGINE_ERROR])
                recs.append(rec)
        else:
            recs = outcome.value
        for rec in recs:
            store.put(rec)
        done[0] += 1
        line = ", ".join(f"{r['exercise']} {r['verdict']}" + ("" if r["rerun"] else f" {r['score']}/{r['max_score']}")
                         for r in recs)
        say(opts, f"[{done[0]}/{len(todo)}] {row.student:<16} {row.engine.url}: {line} ({outcome.seconds:.1f}s)")

    try:
        Pool(workers=opts.workers, deadline=opts.engine_timeout).run(todo, job, key=lambda r: r, on_done=on_done)
    finally:
        run_info["finished"] = now()
        try:
            empty.rmdir()
        except OSError:
            pass
    return store.write_outputs(list(exercises), run_info, report=opts.report)


def _grade_engine(row: RosterRow, exercises: dict, hashes: dict, run_id: str, opts: LiveOptions, empty: Path,
                  run_info: dict) -> list[dict]:
    from ..engine import EngineUnavailable
    from ..scope import Scope

    recs = []
    t0 = time.monotonic()
    try:
        client = connect_spec(row.engine, timeout=opts.call_timeout)
    except (EngineUnavailable, Exception) as exc:  # noqa: B014 - any connection failure is the engine's
        for e, ex in exercises.items():
            rec = base_record(row.student, ex, run_id, row.engine.url)
            rec["audit"] = {"checker": checker_version(), "spec_hash": hashes[e]}
            recs.append(stage_record(rec, ex, V.ENGINE_ERROR, f"The engine {row.engine.url} could not be reached: {exc}",
                                     V.HINTS[V.ENGINE_ERROR], {"engine": row.engine.url, "error": str(exc)[:300]}))
        return recs
    try:
        facts = describe_engine(client)
        run_info["engines"][row.student] = {"url": row.engine.url, **facts}
        scope = Scope(prefix=row.prefix, host=row.engine.published_host(), student=row.student,
                      files=row.files or str(empty))
        images = _images(client)
        for e, ex in exercises.items():
            rec = base_record(row.student, ex, run_id, row.engine.url)
            rec["audit"] = {"checker": checker_version(), "spec_hash": hashes[e], "engine": {"url": row.engine.url, **facts},
                            "images": images}
            t1 = time.monotonic()
            try:
                result = ex.run(client, scope)
                alive = _ping(client)
                if not alive:
                    rec = stage_record(rec, ex, V.ENGINE_ERROR, f"The engine {row.engine.url} stopped answering during the checks.",
                                       V.HINTS[V.ENGINE_ERROR], {"engine": row.engine.url})
                else:
                    rec = from_result(rec, result)
            except Exception as exc:
                rec = stage_record(rec, ex, V.ENGINE_ERROR, f"The engine {row.engine.url} failed: {exc}",
                                   V.HINTS[V.ENGINE_ERROR], {"engine": row.engine.url})
            rec["seconds"] = round(time.monotonic() - t1, 2)
            recs.append(rec)
    finally:
        client.close()
    run_info["engines"].setdefault(row.student, {})["seconds"] = round(time.monotonic() - t0, 2)
    return recs


def _ping(client) -> bool:
    try:
        client.api.ping()
        return True
    except Exception:
        return False


_COURSE_IMAGES = ("busybox:1.35", "python:3.11-slim", "nginx:1.22", "redis:7.0", "postgres:15", "registry:2")


def _images(client) -> dict:
    out = {}
    for ref in _COURSE_IMAGES:
        try:
            info = client.api.inspect_image(ref)
            out[ref] = {"id": info["Id"], "repo_digests": info.get("RepoDigests") or []}
        except Exception:
            continue
    return out
