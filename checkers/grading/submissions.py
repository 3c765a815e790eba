"""Submissions mode: grade a folder of student submissions, each exercise in its own sandbox.

For each student x exercise: take the submission in safely (:mod:`.workspace`), pass the policy
gate (:mod:`.policy`), build and start it the way the exercise says (:mod:`.recipes`) under the
student's own namespace with limits and deadlines (:mod:`.sandbox`), run the exercise's checks in
that scope, collect bounded logs as evidence, and tear everything down. Jobs run in a bounded
pool spread over one or more engines (:mod:`.engines`, the same pool live mode uses).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import policy as P
from . import verdicts as V
from .engines import EngineSpec, Pool, connect_spec, describe_engine, local_spec
from .gradebook import Store, checker_version, now, say, spec_hash
from .records import base_record, from_result, missing_record, stage_record
from .recipes import Build, Compose, Recipe, Run, recipe_for
from .sandbox import Deadlines, Limits, Sandbox, grade_labels, kill_active, remaining, sweep, wait_ports
from .workspace import Caps, Intake, IntakeError, Submission, find_submissions, unpack

COURSE_EXERCISES = Path(__file__).resolve().parent.parent.parent / "exercises"
ESCAPES = ("absolute path", "climbs out", "outside", "not a folder (symlink?)")
INFRA_PATTERNS = ("Cannot connect to the Docker daemon", "error during connect", "port is already allocated",
                  "address already in use", "connection refused", "no space left on device")


@dataclass
class Options:
    exercises: list[str]
    out: Path
    workers: int = 2
    regrade: bool = False
    only: list[str] | None = None
    limits: Limits = field(default_factory=Limits)
    deadlines: Deadlines = field(default_factory=Deadlines)
    caps: Caps = field(default_factory=Caps)
    engines: list[EngineSpec] | None = None
    keep_workspaces: bool = False
    report: bool = True
    progress: object = None  # callable(str) or None (stderr)
    course_exercises: Path = COURSE_EXERCISES
    recipes: dict | None = None  # exercise id -> Recipe (default: recipes.RECIPES)
    exercise_objects: dict | None = None  # exercise id -> Exercise (default: loaded by id)
    run_id: str | None = None


def cli_base_env(home: Path) -> dict:
    """A minimal environment for the docker CLI: the instructor's variables never reach a compose file."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "BUILDKIT_PROGRESS": "plain", "COMPOSE_ANSI": "never", "NO_COLOR": "1",
           "DOCKER_CONFIG": os.environ.get("DOCKER_CONFIG", str(Path.home() / ".docker"))}
    return env


class _Engines:
    """Connected engines; each job takes the least busy one."""

    def __init__(self, specs: list[EngineSpec], home: Path):
        self.items: list[dict] = []
        self.down: list[tuple[EngineSpec, str]] = []
        self._lock = threading.Lock()
        for spec in specs:
            try:
                client = connect_spec(spec, timeout=30)
                self.items.append({"spec": spec, "client": client, "busy": 0, "env": spec.cli_env(cli_base_env(home)),
                                   "facts": describe_engine(client)})
            except Exception as exc:
                self.down.append((spec, str(exc)))

    def take(self) -> dict | None:
        with self._lock:
            if not self.items:
                return None
            item = min(self.items, key=lambda i: i["busy"])
            item["busy"] += 1
            return item

    def give(self, item: dict) -> None:
        with self._lock:
            item["busy"] -= 1

    def close(self) -> None:
        for i in self.items:
            try:
                i["client"].close()
            except Exception:
                pass


def _exercise(opts: Options, ex_id: str):
    if opts.exercise_objects and ex_id in opts.exercise_objects:
        return opts.exercise_objects[ex_id]
    from ..exercises import load

    return load(ex_id)


def _recipe(opts: Options, ex_id: str) -> Recipe | None:
    if opts.recipes and ex_id in opts.recipes:
        return opts.recipes[ex_id]
    return recipe_for(ex_id)


def grade_submissions(root: Path, opts: Options) -> dict:
    """Grade every submission in ``root``; returns ``results.json``'s content."""
    root = Path(root)
    store = Store(opts.out)
    run_id = opts.run_id or uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix=f"dcgrade-{run_id}-"))
    home = work / "home"
    home.mkdir()
    started = now()
    exercises = list(opts.exercises)
    for ex_id in exercises:
        if _recipe(opts, ex_id) is None:
            raise ValueError(f"{ex_id} cannot be graded from files (no recipe); grade it live with --roster")
    specs = opts.engines or [local_spec()]
    engines = _Engines(specs, home)
    for spec, why in engines.down:
        say(opts, f"engine {spec.label} is not reachable, not using it: {why}")
    run_info = {"run": run_id, "mode": "submissions", "started": started, "source": str(root.resolve()),
                "checker": checker_version(), "engines": [{"url": i["spec"].url, **i["facts"]} for i in engines.items],
                "engines_down": [{"url": s.url, "error": w} for s, w in engines.down],
                "limits": opts.limits.to_dict(), "deadlines": opts.deadlines.to_dict(), "caps": opts.caps.__dict__,
                "workers": opts.workers}
    run_labels = grade_labels(run_id, store.gradebook)
    old_state = os.environ.get("DOCKERCOURSE_STATE")
    os.environ["DOCKERCOURSE_STATE"] = str(Path(opts.out).resolve() / ".state")  # checker hint counters stay here
    swept: list[str] = []
    try:
        # Leftovers of a crashed or interrupted earlier run of this gradebook.
        for item in engines.items:
            swept += sweep(item["client"], {"org.dockercourse.purpose": "grade", "org.dockercourse.gradebook": store.gradebook})
        if swept:
            say(opts, f"removed {len(swept)} objects left by an earlier, interrupted run of this gradebook")
        subs = find_submissions(root)
        if opts.only:
            wanted = set(opts.only)
            subs = [s for s in subs if s.student in wanted or s.name in wanted]
        jobs = [(s, ex) for s in subs for ex in exercises
                if opts.regrade or opts.only or not store.graded(s.student, ex)]
        skipped = len(subs) * len(exercises) - len(jobs)
        say(opts, f"grading {len(jobs)} student x exercise jobs ({len(subs)} submissions, {skipped} already graded), "
                   f"{opts.workers} at once, run {run_id}")
        intakes = _intake_all(sorted({s.student: s for s, _ in jobs}.values(), key=lambda s: s.student), work, opts)
        done = [0]

        def on_done(outcome):
            sub, ex_id = outcome.key
            if outcome.timed_out or outcome.error is not None:
                ex = _exercise(opts, ex_id)
                rec = base_record(sub.student, ex, run_id)
                if outcome.timed_out:
                    rec = stage_record(rec, ex, V.TIMEOUT, "Grading this exercise passed its overall deadline.",
                                       V.HINTS[V.TIMEOUT], {"seconds": round(outcome.seconds, 1)})
                else:
                    rec = stage_record(rec, ex, V.ENGINE_ERROR, f"The grader failed: {type(outcome.error).__name__}: "
                                       f"{str(outcome.error)[:300]}", V.HINTS[V.ENGINE_ERROR])
            else:
                rec = outcome.value
            store.put(rec)
            done[0] += 1
            say(opts, f"[{done[0]}/{len(jobs)}] {sub.student:<16} {ex_id:<14} {rec['verdict']:<18} "
                       f"{rec['score'] if not rec['rerun'] else '-'}/{rec['max_score']}  ({outcome.seconds:.1f}s)")

        def job(j):
            sub, ex_id = j
            return grade_job(sub, ex_id, intakes[sub.student], engines, store.gradebook, run_id, opts)

        per_job = sum(_job_deadline(_recipe(opts, e), opts.deadlines) for e in exercises) / max(1, len(exercises))
        pool = Pool(workers=opts.workers, deadline=max(per_job, 60))
        try:
            pool.run(jobs, job, key=lambda j: j, on_done=on_done)
        except KeyboardInterrupt:
            pool.cancel.set()
            kill_active()
            raise
    finally:
        kill_active()
        left = []
        for item in engines.items:
            try:
                swept += sweep(item["client"], run_labels)
                left += remaining(item["client"], run_labels)
            except Exception as exc:  # the engine went away: nothing more can be removed there
                left.append(f"{item['spec'].url}: {exc}")
        run_info.update({"finished": now(), "swept_at_end": len(swept), "left_behind": left})
        if old_state is None:
            os.environ.pop("DOCKERCOURSE_STATE", None)
        else:
            os.environ["DOCKERCOURSE_STATE"] = old_state
        if not opts.keep_workspaces:
            shutil.rmtree(work, ignore_errors=True)
        engines.close()
    data = store.write_outputs(exercises, run_info, report=opts.report)
    return data


def _job_deadline(recipe: Recipe | None, d: Deadlines) -> float:
    if recipe is None:
        return 60
    n_build = sum(1 for s in recipe.steps if isinstance(s, (Build, Compose)))
    n_start = sum(1 for s in recipe.steps if isinstance(s, (Run, Compose)))
    return d.config + n_build * d.build + n_start * d.start + d.settle + d.checks + d.teardown + 30


# ---------------------------------------------------------------- intake
def _intake_all(subs: list[Submission], work: Path, opts: Options) -> dict[str, Intake | Exception]:
    out: dict[str, Intake | Exception] = {}
    for sub in subs:
        dest = work / "students" / sub.student
        try:
            out[sub.student] = unpack(sub, dest, opts.caps)
        except IntakeError as exc:
            out[sub.student] = exc
        except OSError as exc:
            out[sub.student] = IntakeError(f"could not read the submission: {exc}")
    return out


def _escapes(intake: Intake) -> list[str]:
    return [s for s in intake.skipped if any(e in s for e in ESCAPES)]


# ---------------------------------------------------------------- one job
def grade_job(sub: Submission, ex_id: str, intake, engines: _Engines, gradebook: str, run_id: str,
              opts: Options) -> dict:
    ex = _exercise(opts, ex_id)
    recipe = _recipe(opts, ex_id)
    t0 = time.monotonic()
    engine = engines.take()
    rec = base_record(sub.student, ex, run_id, engine["spec"].url if engine else "")
    rec["submission"] = {"name": sub.name, "kind": sub.kind}
    rec["audit"] = {"checker": checker_version(), "spec_hash": spec_hash(ex, recipe), "limits": opts.limits.to_dict(),
                    "deadlines": opts.deadlines.to_dict()}
    try:
        if engine is None:
            return stage_record(rec, ex, V.ENGINE_ERROR, "No engine could be reached, so nothing was graded.",
                                V.HINTS[V.ENGINE_ERROR], {"engines": [s.url for s, _ in engines.down]})
        rec["audit"]["engine"] = {"url": engine["spec"].url, **engine["facts"]}
        if isinstance(intake, Exception):
            return stage_record(rec, ex, V.REFUSED, f"The submission could not be taken in: {intake}.",
                                "Fix: hand in a folder, zip or tar of your exercise folders within the size limits.",
                                {"intake": str(intake)})
        rec["intake"] = intake.to_dict()
        bad = _escapes(intake)
        if bad:
            return stage_record(rec, ex, V.REFUSED,
                                f"Found: the submission holds {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} pointing outside "
                                f"its own folder ({bad[0]}). Expected: only files inside the submission. Nothing of it was run.",
                                "Fix: pack only your exercise folders, with relative paths and no links to elsewhere "
                                "(e.g. `zip -r submission.zip first-image compose-stack`).",
                                {"intake.skipped": bad[:10]})
        ws = intake.root / ex_id
        if not ws.is_dir() or ws.is_symlink():
            return missing_record(rec, ex, "at the top of your submission")
        _provide(ws, recipe, opts.course_exercises / ex_id)
        rec = _build_start_check(rec, ex, recipe, ws, engine, gradebook, run_id, sub.student, opts)
        return rec
    finally:
        rec["seconds"] = round(time.monotonic() - t0, 2)
        if engine is not None:
            engines.give(engine)


def _provide(ws: Path, recipe: Recipe, course: Path) -> None:
    """Copy the course's own files (wheel folders) the submission need not carry."""
    for name in recipe.provided:
        dest, src = ws / name, course / name
        if os.path.lexists(dest) or not src.exists():
            continue
        if src.is_dir():
            shutil.copytree(src, dest, symlinks=False)
        else:
            shutil.copy2(src, dest)


def _dockerfiles(ws: Path) -> list[Path]:
    out = []
    for p in sorted(ws.rglob("*")):
        if p.is_symlink() or not p.is_file():
            continue
        if p.name.startswith("Dockerfile") or p.name.lower().endswith(".dockerfile") or p.name == "Containerfile":
            out.append(p)
    return out[:50]


def _compose_file(ws: Path, step: Compose) -> str | None:
    for f in step.files:
        if (ws / f).is_file() and not (ws / f).is_symlink():
            return f
    return None


def _build_start_check(rec, ex, recipe: Recipe, ws: Path, engine: dict, gradebook: str, run_id: str, student: str,
                       opts: Options) -> dict:
    from ..scope import Scope

    client, env, spec = engine["client"], engine["env"], engine["spec"]
    prefix = f"g{run_id}-{student}-"
    labels = grade_labels(run_id, gradebook, student, ex.id)
    sb = Sandbox(client, env, ws, prefix, labels, opts.limits, opts.deadlines, host=spec.published_host())
    scope_image = lambda ref: Scope(prefix=prefix).image(ref)  # noqa: E731
    try:
        # ---- the policy gate, before anything runs
        timings = rec.setdefault("timings", {})
        mark = [time.monotonic()]

        def lap(name):
            now_ = time.monotonic()
            timings[name] = round(timings.get(name, 0) + now_ - mark[0], 3)
            mark[0] = now_

        violations: list[P.Violation] = []
        for df in _dockerfiles(ws):
            violations += P.check_dockerfile(df, str(df.relative_to(ws)))
        compose_cfg = {}
        for step in recipe.steps:
            if isinstance(step, Compose):
                f = _compose_file(ws, step)
                if f is None:
                    return stage_record(rec, ex, V.BUILD_FAILED, f"Found: no compose file in `{ex.id}/`. Expected: one of "
                                        f"{', '.join(step.files)}.", f"Fix: add `{ex.id}/compose.yaml`.",
                                        {"files in the folder": sorted(p.name for p in ws.iterdir())[:30]})
                try:
                    cfg = P.compose_config(ws, [f], env, opts.deadlines.config, project=prefix + step.project)
                except P.Refused as exc:
                    violations += exc.violations
                    continue
                except P.PolicyError as exc:
                    if _engine_down(client):
                        return _engine_error(rec, ex, str(exc))
                    return stage_record(rec, ex, V.BUILD_FAILED, f"Found: {exc}. Expected: a compose file Compose can read.",
                                        f"Fix: run `docker compose config` in `{ex.id}/` and correct the line it names.",
                                        {"docker compose config (tail)": exc.output[-2000:]})
                violations += P.check_compose(cfg, ws)
                compose_cfg[step] = (f, cfg)
            elif isinstance(step, Run):
                of = ws / step.options_file
                if of.is_file() and not of.is_symlink():
                    violations += P.check_run_args(P.parse_run_file(of.read_text(errors="replace")), ws)
        rec["policy"] = [v.to_dict() for v in violations]
        if violations:
            first = violations[0]
            return stage_record(rec, ex, V.REFUSED,
                                f"Refused before anything ran: {len(violations)} setting(s) a grader never runs. "
                                f"First: {first.sentence()}",
                                f"Fix: {first.fix}" + (f" (and {len(violations) - 1} more, listed in the evidence)"
                                                       if len(violations) > 1 else ""),
                                {v.where: v.value for v in violations})
        lap("policy")
        # ---- build and start, each step under its deadline
        network = None
        for step in recipe.steps:
            if isinstance(step, Build):
                df = ws / step.context / step.dockerfile
                if not df.is_file() or df.is_symlink():
                    where = f"{ex.id}/{step.context.strip('./') + '/' if step.context.strip('./') else ''}"
                    return stage_record(rec, ex, V.BUILD_FAILED,
                                        f"Found: no `{step.dockerfile}` in `{where}`. Expected: the exercise's {step.dockerfile}.",
                                        f"Fix: add `{where}{step.dockerfile}` to the submission.",
                                        {"files in the folder": sorted(p.name for p in ws.iterdir())[:30]})
                res = sb.build(scope_image(step.tag), step.context, step.dockerfile if step.dockerfile != "Dockerfile" else None)
                bad = _step_failed(rec, ex, res, client, f"docker build -t {step.tag} .")
                if bad:
                    return bad
            elif isinstance(step, Run):
                if network is None:
                    network = sb.network(outside=recipe.outside, publishes=bool(step.ports))
                of = ws / step.options_file
                args = (P.grader_owned_removed(P.parse_run_file(of.read_text(errors="replace")))
                        if of.is_file() and not of.is_symlink() else list(step.options))
                image = scope_image(step.image) if step.image in recipe.built_tags else step.image
                res = _run(sb, step, image, args, network)
                bad = _step_failed(rec, ex, res, client, f"docker run ... {step.image}")
                if bad:
                    return bad
            elif isinstance(step, Compose):
                f, cfg = compose_cfg[step]
                path = sb.compose_file(cfg, prefix + step.project, outside=recipe.outside)
                if any(isinstance((s or {}).get("build"), dict) for s in (cfg.get("services") or {}).values()):
                    res = sb.compose("compose build", path, "build", deadline=opts.deadlines.build)
                    bad = _step_failed(rec, ex, res, client, "docker compose build")
                    if bad:
                        return bad
                res = sb.compose("compose up", path, "up", "-d", "--no-build", "--pull", "never",
                                 deadline=opts.deadlines.start)
                bad = _step_failed(rec, ex, res, client, "docker compose up -d")
                if bad:
                    return bad
        rec["stages"] = [s.to_dict(tail=1500) for s in sb.steps]
        lap("build_start")
        # ---- let the services open their ports (never a fail: the checks judge)
        if sb.ports:
            wait_ports(sb.host, list(sb.ports.values()), recipe.settle if recipe.settle is not None else opts.deadlines.settle)
        scope = Scope(prefix=prefix, compose_project=sb.project, ports=dict(sb.ports), host=sb.host, student=student,
                      files=str(ws.parent), limits=opts.limits.host_config())
        rec["names"] = {"prefix": prefix, "ports": {str(real): want for want, real in sb.ports.items()}}
        lap("settle")
        result = ex.run(client, scope)
        lap("checks")
        if _engine_down(client):
            return _engine_error(rec, ex, "the engine stopped answering while the checks ran")
        if not result.passed:
            time.sleep(0.5)  # a process dying right now (an OOM kill) shows in the evidence, not after it
        containers = sb.collect()
        rec["containers"] = containers
        rec["audit"]["images"] = _image_ids(client, ws, sb, compose_cfg)
        lap("evidence")
        rec = from_result(rec, result, containers)
        return rec
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if _engine_down(client):
            return _engine_error(rec, ex, f"{type(exc).__name__}: {exc}")
        return stage_record(rec, ex, V.ENGINE_ERROR, f"The grader failed: {type(exc).__name__}: {str(exc)[:300]}",
                            V.HINTS[V.ENGINE_ERROR])
    finally:
        if not rec.get("stages"):
            rec["stages"] = [s.to_dict(tail=1500) for s in sb.steps]
        try:
            t_down = time.monotonic()
            rec["teardown"] = sb.teardown()
            rec.setdefault("timings", {})["teardown"] = round(time.monotonic() - t_down, 3)
        except Exception as exc:  # the end-of-run sweep tries again
            rec["teardown"] = [f"failed: {exc}"]


def _run(sb: Sandbox, step: Run, image: str, args: list[str], network: str):
    if step.harden:
        return sb.run(sb.name(step.name), image, ports=step.ports, args=args, network=network)
    # the exercise grades the student's own hardening: the grader adds limits and labels only
    orig = sb.container_args

    def no_harden():
        a = orig()
        i = a.index("--security-opt")
        return a[:i] + a[i + 2:]

    sb.container_args = no_harden  # type: ignore[method-assign]
    try:
        return sb.run(sb.name(step.name), image, ports=step.ports, args=args, network=network)
    finally:
        sb.container_args = orig  # type: ignore[method-assign]


def _engine_down(client) -> bool:
    try:
        client.api.ping()
        return False
    except Exception:
        return True


def _engine_error(rec, ex, why: str) -> dict:
    return stage_record(rec, ex, V.ENGINE_ERROR, f"The engine failed while grading ({why[:300]}).",
                        V.HINTS[V.ENGINE_ERROR], {"engine": rec.get("engine")})


def _step_failed(rec, ex, res, client, what: str) -> dict | None:
    if res.ok:
        return None
    rec["stages"] = rec.get("stages") or []
    evidence = {"step": res.step, "command": " ".join(res.argv[:3]) + " ...", "exit code": res.returncode,
                "seconds": round(res.seconds, 1), "log tail": res.output[-3000:]}
    if res.timed_out:
        return stage_record(rec, ex, V.TIMEOUT,
                            f"`{what}` was still running after its {res.seconds:.0f} s deadline and was stopped.",
                            V.HINTS[V.TIMEOUT] + " If a step of the submission never ends (e.g. a RUN that waits), "
                            "the log tail shows where it hung.", evidence)
    if _engine_down(client) or any(p.lower() in res.output.lower() for p in INFRA_PATTERNS):
        return stage_record(rec, ex, V.ENGINE_ERROR, f"`{what}` failed because of the engine, not the submission.",
                            V.HINTS[V.ENGINE_ERROR], evidence)
    last = next((ln.strip() for ln in reversed(res.output.splitlines())
                 if ln.strip() and not ln.strip().startswith(("Run 'docker", "See 'docker"))), "")
    return stage_record(rec, ex, V.BUILD_FAILED,
                        f"Found: `{what}` failed (exit code {res.returncode}): {last[:240]}. Expected: it to build and start.",
                        f"Fix: run `{what}` in `{ex.id}/` yourself and correct the step the log tail names.", evidence)


def _image_ids(client, ws: Path, sb: Sandbox, compose_cfg: dict) -> dict:
    """Base and built images with their ids (the audit: what exactly was graded)."""
    refs = set()
    for df in _dockerfiles(ws):
        refs.update(P.base_images(df))
    for _f, cfg in compose_cfg.values():
        for svc in (cfg.get("services") or {}).values():
            if svc.get("image") and not svc.get("build"):
                refs.add(svc["image"])
    out = {}
    for ref in sorted(refs):
        try:
            info = client.api.inspect_image(ref)
            out[ref] = {"id": info["Id"], "repo_digests": info.get("RepoDigests") or []}
        except Exception:
            out[ref] = {"id": None}
    for tag, iid in sb.images.items():
        out[tag] = {"id": iid, "built": True}
    try:  # what Compose built for the job (it carries the job's labels)
        from ..labels import label_filter

        for img in client.api.images(filters={"label": label_filter(sb.labels)}):
            for tag in img.get("RepoTags") or [img["Id"][:19]]:
                out[tag] = {"id": img["Id"], "built": True}
    except Exception:
        pass
    return out
