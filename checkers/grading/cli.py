"""``dockercourse grade``: a whole class graded with one command.

    dockercourse grade submissions/ --exercises first-image,compose-stack --out grades/
    dockercourse grade --roster roster.csv --exercises first-container,web-server --out grades/

Exit code: 0 when everything was graded, 2 when something must be re-run (engine trouble or a
deadline: never counted as a zero), 1 when the command could not start (bad arguments, no engine).
"""
from __future__ import annotations

import signal
import sys
from pathlib import Path


def add_arguments(p) -> None:
    p.description = ("Grade a class: a folder of submissions (built and checked in sandboxes) or, with --roster, "
                     "every student's own engine (checked read-only). Writes grades.csv, results.json, junit/ and "
                     "report/index.html to --out; a re-run resumes where the last one stopped.")
    p.add_argument("submissions", nargs="?", help="folder with one folder / zip / tar / git repo per student")
    p.add_argument("--roster", metavar="CSV", help="live mode: CSV with columns student,engine[,tls_dir,files]")
    p.add_argument("--exercises", action="append", metavar="IDS",
                   help="comma-separated exercise ids (default: every exercise the mode can grade)")
    p.add_argument("--out", metavar="DIR", default="grades", help="output folder (default: grades/)")
    p.add_argument("--workers", type=int, default=2, help="jobs (submissions) or engines (live) at once (default 2)")
    p.add_argument("--engines", metavar="URLS", help="submissions: spread the jobs over these engines (comma-separated "
                   "unix:// tcp:// ssh:// endpoints; default: the local engine)")
    p.add_argument("--tls-dir", metavar="DIR", help="ca.pem/cert.pem/key.pem for tcp:// --engines")
    p.add_argument("--regrade", action="store_true", help="grade again what is already graded")
    p.add_argument("--only", action="append", metavar="STUDENT", help="(re)grade only this student (repeatable)")
    lim = p.add_argument_group("sandbox limits (submissions)")
    lim.add_argument("--memory", default="256m", help="memory per container (default 256m)")
    lim.add_argument("--cpus", type=float, default=1.0, help="CPUs per container (default 1)")
    lim.add_argument("--pids", type=int, default=256, help="processes per container (default 256)")
    lim.add_argument("--log-max-size", default="1m", help="log size kept per container (default 1m)")
    lim.add_argument("--build-timeout", type=float, default=300, help="seconds per build (default 300)")
    lim.add_argument("--start-timeout", type=float, default=90, help="seconds per start (default 90)")
    lim.add_argument("--settle", type=float, default=15, help="seconds to wait for published ports (default 15)")
    lim.add_argument("--max-mb", type=int, default=200, help="size cap of one submission in MB (default 200)")
    lim.add_argument("--max-files", type=int, default=20000, help="entry cap of one submission (default 20000)")
    lim.add_argument("--keep-workspaces", action="store_true", help="keep the unpacked submissions (debugging)")
    live = p.add_argument_group("live mode")
    live.add_argument("--engine-timeout", type=float, default=120, help="seconds for one student's engine (default 120)")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _exercise_list(args, default: list[str]) -> list[str]:
    if not args.exercises:
        return default
    out = []
    for item in args.exercises:
        out += [x.strip() for x in item.split(",") if x.strip()]
    return list(dict.fromkeys(out))


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    from ..exercises import UnknownExercise, available, load
    from ..engine import EngineUnavailable

    try:
        old = signal.signal(signal.SIGTERM, _sigterm)  # SIGTERM cleans up like Ctrl-C
    except ValueError:  # not the main thread
        old = None
    try:
        if bool(args.roster) == bool(args.submissions):
            print("dockercourse grade: give either a SUBMISSIONS folder or --roster CSV (one of the two).", file=sys.stderr)
            return 1
        progress = False if args.quiet else None
        try:
            if args.roster:
                ids = _exercise_list(args, available())
            else:
                from .recipes import gradable_from_files

                ids = _exercise_list(args, gradable_from_files())
            for i in ids:
                load(i)
        except UnknownExercise as exc:
            print(f"dockercourse grade: {exc}", file=sys.stderr)
            return 1
        out = Path(args.out)
        if args.roster:
            from .live import LiveOptions, RosterError, grade_live, read_roster

            try:
                roster = read_roster(Path(args.roster))
            except RosterError as exc:
                print(f"dockercourse grade: {exc}", file=sys.stderr)
                return 1
            data = grade_live(roster, LiveOptions(exercises=ids, out=out, workers=args.workers,
                                                  engine_timeout=args.engine_timeout, regrade=args.regrade,
                                                  only=args.only, report=not args.no_report, progress=progress))
        else:
            from .engines import parse_endpoint
            from .recipes import recipe_for
            from .sandbox import Deadlines, Limits
            from .submissions import Options, grade_submissions
            from .workspace import Caps

            not_files = [i for i in ids if recipe_for(i) is None]
            if not_files:
                print(f"dockercourse grade: {', '.join(not_files)} cannot be graded from files; grade "
                      f"{'it' if len(not_files) == 1 else 'them'} live with --roster.", file=sys.stderr)
                return 1
            if not Path(args.submissions).is_dir():
                print(f"dockercourse grade: {args.submissions} is not a folder.", file=sys.stderr)
                return 1
            engines = None
            if args.engines:
                try:
                    engines = [parse_endpoint(u, args.tls_dir) for u in args.engines.split(",") if u.strip()]
                except ValueError as exc:
                    print(f"dockercourse grade: {exc}", file=sys.stderr)
                    return 1
            opts = Options(exercises=ids, out=out, workers=args.workers, regrade=args.regrade, only=args.only,
                           limits=Limits(memory=args.memory, cpus=args.cpus, pids=args.pids, log_max_size=args.log_max_size),
                           deadlines=Deadlines(build=args.build_timeout, start=args.start_timeout, settle=args.settle),
                           caps=Caps(max_bytes=args.max_mb * 1024 * 1024, max_files=args.max_files),
                           engines=engines, keep_workspaces=args.keep_workspaces, report=not args.no_report,
                           progress=progress)
            try:
                data = grade_submissions(Path(args.submissions), opts)
            except EngineUnavailable as exc:
                print(f"dockercourse grade: {exc}", file=sys.stderr)
                return 1
        summary = data.get("summary", {})
        rerun = summary.get("needs_rerun", [])
        print(f"Graded {summary.get('students', 0)} students: {out / 'grades.csv'}, {out / 'results.json'}, "
              f"{out / 'report' / 'index.html'}")
        if rerun:
            print(f"{len(rerun)} exercise(s) need a re-run (engine or deadline trouble, not counted): {', '.join(rerun[:20])}")
            return 2
        return 0
    except KeyboardInterrupt:
        print("\ndockercourse grade: interrupted; everything the run started was removed. Run the same command "
              "again to resume.", file=sys.stderr)
        return 130
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
