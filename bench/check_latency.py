"""How long does `dockercourse check <id>` take, compared with one `docker inspect`?

For every exercise in ``checkers.exercises.available()``: copy ``exercises/<id>/`` to a temporary
folder, run its ``solution.sh`` there with a unique ``DC_PREFIX`` (and free ports through
``DC_PORT_<n>``), then time, N times each, ``dockercourse check <id> --prefix P --port n=real``
(a subprocess, as a learner runs it) and ``docker inspect`` of the exercise's main object. Prints
the medians and their ratio, then removes everything named with the prefix.

    .venv/bin/python bench/check_latency.py [-n 5] [ID ...]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkers.cleanup import remove_named_with  # noqa: E402
from checkers.engine import connect  # noqa: E402
from checkers.exercises import available, load  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dockercourse() -> list[str]:
    beside = Path(sys.executable).with_name("dockercourse")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "checkers"]


def timed(cmd: list[str], env: dict, n: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        code = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - t0)
    return statistics.median(times), code


def main_object(client, exercise, prefix: str) -> list[str] | None:
    """The `docker ... inspect` command for the exercise's main object (None if there is none)."""
    objs = exercise.objects
    if objs.containers:
        return ["docker", "inspect", f"{prefix}{objs.containers[0]}"]
    if objs.compose_project:
        found = client.api.containers(all=True, filters={"label": f"com.docker.compose.project={prefix}{objs.compose_project}"})
        return ["docker", "inspect", found[0]["Id"]] if found else None
    if objs.images:
        from checkers.scope import Scope

        return ["docker", "image", "inspect", Scope(prefix=prefix).image(objs.images[0])]
    if objs.volumes:
        return ["docker", "volume", "inspect", f"{prefix}{objs.volumes[0]}"]
    if objs.networks:
        return ["docker", "network", "inspect", f"{prefix}{objs.networks[0]}"]
    return None


def cleanup(client, prefix: str) -> None:
    """Remove every container, network, volume and image named with ``prefix`` (nothing else)."""
    remove_named_with(client, prefix)


def bench_one(client, ex_id: str, n: int) -> dict:
    exercise = load(ex_id)
    prefix = f"bench{uuid.uuid4().hex[:6]}-"
    row = {"id": ex_id, "check": None, "inproc": None, "inspect": None, "note": ""}
    src = ROOT / "exercises" / ex_id
    if not (src / "solution.sh").is_file():
        row["note"] = "no solution.sh"
        return row
    tmp = Path(tempfile.mkdtemp(prefix="dc-bench-"))
    env = dict(os.environ, DC_PREFIX=prefix, DOCKERCOURSE_EXERCISES=str(tmp / "exercises"))
    port_args: list[str] = []
    for want in sorted({int(p) for p in re.findall(r"DC_PORT_(\d+)", (src / "solution.sh").read_text())}):
        real = free_port()
        env[f"DC_PORT_{want}"] = str(real)
        port_args += ["--port", f"{want}={real}"]
    try:
        shutil.copytree(src, tmp / "exercises" / ex_id, ignore=shutil.ignore_patterns("data"))
        setup = subprocess.run(["bash", str(tmp / "exercises" / ex_id / "solution.sh")], env=env, capture_output=True,
                               text=True, timeout=600)
        if setup.returncode != 0:
            row["note"] = f"solution.sh failed: {(setup.stderr or setup.stdout).strip().splitlines()[-1:]}"
            return row
        time.sleep(1.0)  # let servers started by the solution begin listening
        check = dockercourse() + ["check", ex_id, "--prefix", prefix] + port_args
        row["check"], code = timed(check, env, n)
        if code != 0:
            row["note"] = f"check exit code {code}"
        # The same checks in-process, as `check("<id>")` runs in Jupyter (interpreter and imports already paid).
        from checkers.scope import Scope

        ports = {int(a.split("=")[0]): int(a.split("=")[1]) for a in port_args[1::2]}
        os.environ["DOCKERCOURSE_EXERCISES"] = env["DOCKERCOURSE_EXERCISES"]
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            exercise.run(client, Scope(prefix=prefix, ports=ports))
            times.append(time.perf_counter() - t0)
        row["inproc"] = statistics.median(times)
        inspect = main_object(client, exercise, prefix)
        if inspect:
            row["inspect"], _ = timed(inspect, env, n)
    finally:
        cleanup(client, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="runs per measurement (median reported)")
    ap.add_argument("ids", nargs="*", help="only these exercises (default: all available)")
    args = ap.parse_args(argv)
    client = connect()
    ids = args.ids or available()
    print("median wall times; 'cli' = `dockercourse check` as a new process, 'in-process' = check() in Jupyter")
    print(f"{'exercise':<16} {'cli (s)':>8} {'in-process (s)':>15} {'inspect (s)':>12} {'cli/insp':>9} {'inproc/insp':>12}  note")
    try:
        for ex_id in ids:
            row = bench_one(client, ex_id, args.n)
            chk = f"{row['check']:.3f}" if row["check"] is not None else "-"
            ins = f"{row['inspect']:.3f}" if row["inspect"] is not None else "-"
            inp = f"{row['inproc']:.3f}" if row["inproc"] is not None else "-"
            ratio = f"{row['check'] / row['inspect']:.1f}" if row["check"] and row["inspect"] else "-"
            ratio2 = f"{row['inproc'] / row['inspect']:.1f}" if row["inproc"] and row["inspect"] else "-"
            print(f"{ex_id:<16} {chk:>8} {inp:>15} {ins:>12} {ratio:>9} {ratio2:>12}  {row['note']}", flush=True)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
