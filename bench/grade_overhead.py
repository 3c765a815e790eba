"""How much does grading cost on top of the work itself?

Grades N copies of a correct compose-stack submission (made from the exercise's reference solution)
and compares the wall time with doing the same thing by hand: ``docker compose build``, ``up -d``,
wait until the app answers, ``down -v --rmi local``, one copy after the other. Then the grader's
throughput with 1 and with 2 workers. ``--engines`` spreads the submissions over several engines
(the code path live mode uses).

    .venv/bin/python bench/grade_overhead.py            # N=3
    .venv/bin/python bench/grade_overhead.py -n 6 --workers 1,2,4
    .venv/bin/python bench/grade_overhead.py --engines unix:///var/run/docker.sock,unix:///tmp/d2.sock
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkers.grading.engines import local_spec, parse_endpoint  # noqa: E402
from checkers.grading.submissions import Options, grade_submissions  # noqa: E402

EXERCISE = ROOT / "exercises" / "compose-stack"


def make_submissions(root: Path, n: int) -> Path:
    subs = root / "submissions"
    for i in range(n):
        d = subs / f"student{i:02d}" / "compose-stack"
        shutil.copytree(EXERCISE, d, ignore=shutil.ignore_patterns("solution*", "README.md", "*.ipynb"))
        shutil.copy(EXERCISE / "solution" / "compose.yaml", d / "compose.yaml")
    return subs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, seconds: float = 15) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if b"visited" in s.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the app did not answer on {port}")


def by_hand(subs: Path, engine_url: str | None) -> float:
    """build / up / (answers) / down for each copy, one after the other."""
    env = dict(os.environ)
    if engine_url:
        env["DOCKER_HOST"] = engine_url
    t0 = time.monotonic()
    for d in sorted(subs.iterdir()):
        ws = d / "compose-stack"
        project = f"benchhand-{uuid.uuid4().hex[:6]}"
        port = free_port()
        base = ["docker", "compose", "-p", project, "--project-directory", str(ws), "-f", str(ws / "compose.yaml")]
        run_env = {**env, "WEB_PORT": str(port)}
        try:
            for args in (["build", "-q"], ["up", "-d", "--quiet-pull"]):
                subprocess.run(base + args, env=run_env, check=True, capture_output=True, timeout=300)
            wait_http(port)
        finally:
            subprocess.run(base + ["down", "-v", "--rmi", "local", "-t", "2"], env=run_env, capture_output=True, timeout=120)
    return time.monotonic() - t0


def by_grader(subs: Path, workers: int, engines) -> tuple[float, dict]:
    out = Path(tempfile.mkdtemp(prefix="benchgrade-"))
    try:
        t0 = time.monotonic()
        data = grade_submissions(subs, Options(exercises=["compose-stack"], out=out, workers=workers, engines=engines,
                                               progress=False, report=True))
        took = time.monotonic() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    verdicts = {}
    for recs in data["results"].values():
        v = recs["compose-stack"]["verdict"]
        verdicts[v] = verdicts.get(v, 0) + 1
    return took, verdicts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=3, help="copies of the submission (default 3)")
    ap.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    ap.add_argument("--engines", help="comma-separated endpoints to spread the submissions over")
    ap.add_argument("--repeat", type=int, default=1, help="repeat each measurement, keep the best (default 1)")
    args = ap.parse_args(argv)
    engines = [parse_endpoint(u) for u in args.engines.split(",")] if args.engines else None
    hand_engine = engines[0].url if engines else local_spec().url
    root = Path(tempfile.mkdtemp(prefix="benchsubs-"))
    try:
        subs = make_submissions(root, args.n)
        print(f"compose-stack, {args.n} correct submissions; engines: "
              f"{', '.join(e.url for e in engines) if engines else hand_engine}")
        by_hand(make_submissions(root / "warm", 1), hand_engine)  # warm the build cache for both sides
        hand = min(by_hand(subs, hand_engine) for _ in range(args.repeat))
        print(f"by hand (build, up -d, wait for the app, down; one after the other): {hand:6.1f} s "
              f"= {hand / args.n:.2f} s per submission")
        results = {}
        for w in [int(x) for x in args.workers.split(",")]:
            best, verdicts = None, {}
            for _ in range(args.repeat):
                took, verdicts = by_grader(subs, w, engines)
                best = took if best is None else min(best, took)
            results[w] = best
            print(f"grader, {w} worker{'s' if w > 1 else ' '}: {best:6.1f} s = {best / args.n:.2f} s per submission, "
                  f"{60 * args.n / best:5.1f} submissions/min, verdicts {verdicts}")
        if 1 in results:
            ratio = results[1] / hand
            print(f"overhead of grading (1 worker vs by hand): {ratio:.2f}x  (goal: under 1.15x) "
                  f"{'OK' if ratio < 1.15 else 'ABOVE GOAL'}")
        if 1 in results and 2 in results:
            print(f"throughput 2 workers vs 1: {results[1] / results[2]:.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
