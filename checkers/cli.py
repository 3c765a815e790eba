"""The ``dockercourse`` command line."""
from __future__ import annotations

import argparse
import json
import sys

from . import __version__


def _connect_or_exit():
    from .engine import EngineUnavailable, connect

    try:
        return connect()
    except EngineUnavailable as exc:
        print(f"dockercourse: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_doctor(args) -> int:
    from .doctor import diagnose, render

    rep = diagnose(with_images=not args.no_images)
    print(json.dumps(rep.as_dict(), indent=2) if args.json else render(rep))
    return 0 if rep.ready else 1


def cmd_images(args) -> int:
    from .imagekit import ImageKitError, prepare, status

    client = _connect_or_exit()
    try:
        if args.action == "prepare":
            try:
                rows = prepare(client, images=args.image or None, progress=lambda m: print(m, flush=True), force=args.force)
            except ImageKitError as exc:
                print(f"dockercourse: {exc}", file=sys.stderr)
                return 1
        else:
            rows = status(client)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                size = f"{r['size'] / 1e6:.0f} MB" if r.get("size") else "-"
                print(f"{r['image']:<20} {r['source']:<9} {r.get('id') or '-':<14} {size}")
        asked = set(args.image or [r["image"] for r in rows])
        return 0 if all(r["source"] != "missing" for r in rows if r["image"] in asked) else 1
    finally:
        client.close()


def cmd_list(args) -> int:
    from .exercises import all_exercises

    client = None
    if not args.no_status:
        from .engine import EngineUnavailable, connect

        try:
            client = connect()
        except EngineUnavailable as exc:
            print(f"(engine not reachable, so no pass marks: {exc})", file=sys.stderr)
    rows = []
    for ex in all_exercises():
        mark = " "
        if client is not None:
            res = ex.run(client)
            mark = "\u2714" if res.passed else ("!" if res.errored else " ")
        rows.append({"id": ex.id, "title": ex.title, "day": ex.day, "passes": mark == "\u2714"})
        if not args.json:
            print(f"[{mark}] {ex.id:<16} {ex.day:<7} {ex.title}")
    if args.json:
        print(json.dumps(rows, indent=2))
    if client is not None:
        client.close()
    return 0


def _port_map(text: str) -> tuple[int, int]:
    """``--port WANT=REAL``, e.g. ``8080=18080``."""
    want, sep, real = text.partition("=")
    try:
        pair = int(want), int(real)
    except ValueError:
        pair = None
    if not sep or pair is None or not all(0 < p < 65536 for p in pair):
        raise argparse.ArgumentTypeError(f"{text!r} is not WANT=REAL with two port numbers, e.g. 8080=18080")
    return pair


def _scope_from_args(args):
    from .scope import Scope

    ports = dict(getattr(args, "port", None) or [])
    return Scope(prefix=args.prefix or "", compose_project=args.project, ports=ports)


def _engine_down_result(ex, exc):
    """What ``check --json`` prints when the engine cannot be reached: the usual schema, every check ``error``."""
    from .model import ERROR, CheckResult, ExerciseResult, error

    out = error(f"The checker could not look: {exc}")
    checks = [CheckResult(c.id, c.title, ERROR, out.message, out.hint, {}, 0, c.points) for c in ex.checks]
    return ExerciseResult(ex.id, ex.title, ex.lesson, checks)


def cmd_check(args) -> int:
    from .exercises import UnknownExercise, load
    from .render import render_json, render_text, write_junit

    try:
        ex = load(args.exercise)
    except UnknownExercise as exc:
        print(f"dockercourse: {exc}", file=sys.stderr)
        return 2
    if args.json:
        from .engine import EngineUnavailable, connect

        try:
            client = connect()
        except EngineUnavailable as exc:
            print(f"dockercourse: {exc}", file=sys.stderr)
            print(render_json(_engine_down_result(ex, exc)))
            return 2
    else:
        client = _connect_or_exit()
    try:
        res = ex.run(client, _scope_from_args(args))
    finally:
        client.close()
    print(render_json(res) if args.json else render_text(res))
    if args.junit:
        write_junit([res], args.junit)
    return res.exit_code


def cmd_reset(args) -> int:
    from .exercises import UnknownExercise, load
    from .reset import apply, plan

    try:
        ex = load(args.exercise)
    except UnknownExercise as exc:
        print(f"dockercourse: {exc}", file=sys.stderr)
        return 2
    client = _connect_or_exit()
    try:
        planned = plan(client, ex, _scope_from_args(args))
        if not planned:
            print(f"Nothing to remove: none of the objects {ex.id} names exist.")
            return 0
        print(f"`reset {ex.id}` would remove exactly these objects (and nothing else):")
        for p in planned:
            print(f"  {p.kind:<9} {p.name}")
        if not args.yes:
            if not sys.stdin.isatty():
                print("Not removing anything: pass --yes to confirm when not at a terminal.")
                return 1
            answer = input("Remove them? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print("Nothing removed.")
                return 1
        for line in apply(client, planned):
            print(line)
        return 0
    finally:
        client.close()


def cmd_grade(args) -> int:
    try:
        from .grading.cli import run as grade_run
    except ImportError:
        print("dockercourse: grading is not available in this version.", file=sys.stderr)
        return 2
    return grade_run(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockercourse", description="Docker in Two Days: check your work, grade a class.")
    p.add_argument("--version", action="version", version=f"dockercourse {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("doctor", help="is this machine ready for the course?")
    d.add_argument("--json", action="store_true")
    d.add_argument("--no-images", action="store_true", help="skip the course image list")
    d.set_defaults(func=cmd_doctor)

    im = sub.add_parser("images", help="the course's pinned images (offline kit)")
    im.add_argument("action", choices=["prepare", "status"])
    im.add_argument("image", nargs="*", help="only these images (default: all)")
    im.add_argument("--force", action="store_true", help="rebuild stand-ins even if present")
    im.add_argument("--json", action="store_true")
    im.set_defaults(func=cmd_images)

    ls = sub.add_parser("list", help="the exercises, marked where they pass now")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--no-status", action="store_true", help="do not run the checks")
    ls.set_defaults(func=cmd_list)

    def scope_opts(sp):
        sp.add_argument("--prefix", help="name prefix of the objects to look at (grading, tests)")
        sp.add_argument("--project", help="compose project name to look at")
        sp.add_argument("--port", action="append", type=_port_map, metavar="WANT=REAL",
                        help="the exercise's port WANT is published as REAL")

    c = sub.add_parser("check", help="check one exercise against your engine")
    c.add_argument("exercise")
    c.add_argument("--json", action="store_true", help="machine-readable result")
    c.add_argument("--junit", metavar="FILE", help="also write JUnit XML")
    scope_opts(c)
    c.set_defaults(func=cmd_check)

    r = sub.add_parser("reset", help="remove the objects one exercise names (after confirmation)")
    r.add_argument("exercise")
    r.add_argument("--yes", action="store_true", help="do not ask")
    scope_opts(r)
    r.set_defaults(func=cmd_reset)

    g = sub.add_parser("grade", help="grade a class (instructors)")
    try:
        from .grading.cli import add_arguments
    except ImportError:
        add_arguments = None
    if add_arguments:
        add_arguments(g)
    g.set_defaults(func=cmd_grade)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ndockercourse: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
