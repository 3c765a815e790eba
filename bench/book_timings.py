"""How long the book takes: executing the whole course against the engine, a cold site build from
the stored outputs, and a rebuild with nothing changed.

    .venv/bin/python bench/book_timings.py                 # all three
    .venv/bin/python bench/book_timings.py --skip-execute  # only the two builds (no engine needed)
    .venv/bin/python bench/book_timings.py --jobs 2        # execute two notebooks at a time

Goals (issue 5): the whole course executes in under 10 minutes on 2 cores; a no-change rebuild
takes under 10 seconds. Executing does not write the notebooks (`refresh-outputs --no-write`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GOAL_EXECUTE, GOAL_REBUILD = 600.0, 10.0


def build(out: Path) -> float:
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / "jupyter-book"), "build", str(ROOT), "-W", "--keep-going", "--path-output",
                           str(out)], capture_output=True, text=True, timeout=900)
    took = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"the site build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took


def execute(jobs: int) -> tuple[float, list[dict]]:
    t0 = time.monotonic()
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "refresh-outputs"), "--no-write", "--json",
                           "--jobs", str(jobs)], capture_output=True, text=True, timeout=1800, env=env)
    took = time.monotonic() - t0
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.exit(f"executing the course failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    failed = [r["notebook"] for r in data["results"] if not r["ok"]]
    if failed:
        sys.exit(f"these lessons failed to execute: {failed}")
    return took, data["results"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-execute", action="store_true", help="only time the site builds")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks executed at the same time (default 1)")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; engine: "
          f"{subprocess.run(['docker', 'version', '--format', '{{.Server.Version}}'], capture_output=True, text=True).stdout.strip() or 'none'}")
    if not args.skip_execute:
        took, results = execute(args.jobs)
        for r in sorted(results, key=lambda r: -r["seconds"]):
            print(f"  {r['seconds']:6.1f} s  {r['notebook']}")
        mark = "ok" if took < GOAL_EXECUTE else "OVER GOAL"
        print(f"execute the whole course ({len(results)} notebooks, {args.jobs} at a time): {took:6.1f} s"
              f"   (goal < {GOAL_EXECUTE:.0f} s: {mark})")
    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        cold = build(Path(tmp))
        print(f"cold site build from stored outputs:                  {cold:6.1f} s")
        warm = build(Path(tmp))
        mark = "ok" if warm < GOAL_REBUILD else "OVER GOAL"
        print(f"no-change rebuild:                                    {warm:6.1f} s"
              f"   (goal < {GOAL_REBUILD:.0f} s: {mark})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
