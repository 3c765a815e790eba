"""The checker core: pure logic (no engine) and engine-facing behaviour."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from checkers.exercises import UnknownExercise, load
from checkers.model import ERROR, FAIL, PASS, Exercise, fail, ok
from checkers.scope import Scope


def test_scope_names_and_images():
    s = Scope(prefix="s1-")
    assert s.name("web") == "s1-web"
    assert s.image("hello-app:1.0") == "s1-hello-app:1.0"
    assert s.image("localhost:5000/hello-app:1.0") == "localhost:5000/s1-hello-app:1.0"
    assert Scope().image("hello-app:1.0") == "hello-app:1.0"
    assert Scope(ports={8080: 41000}).port(8080) == 41000


def test_unknown_exercise_suggests_closest():
    with pytest.raises(UnknownExercise) as info:
        load("first-contianer")
    assert "first-container" in str(info.value)


def test_failure_message_has_found_expected_fix():
    out = fail(found="no port published", expected="80 on 127.0.0.1:8080", fix="docker run -p 127.0.0.1:8080:80 ...")
    assert out.message.startswith("Found: no port published. Expected: 80 on 127.0.0.1:8080.")
    assert out.hint.startswith("Fix: docker run")


class _FakeClient:
    """Pure-logic stand-in: these exercises never touch the engine."""

    api = None

    def close(self):
        pass


def test_requires_and_error_statuses():
    ex = Exercise("demo", "Demo", "", "Lesson X")

    @ex.check("a", "A")
    def a(ctx):
        return fail("x", "y", "z")

    @ex.check("b", "B", requires=("a",))
    def b(ctx):  # pragma: no cover - must not run
        raise AssertionError("should be skipped")

    @ex.check("c", "C")
    def c(ctx):
        raise RuntimeError("engine fell over")

    @ex.check("d", "D", points=2)
    def d(ctx):
        return ok("fine")

    res = ex.run(client=_FakeClient())
    statuses = {r.id: r.status for r in res.checks}
    assert statuses == {"a": FAIL, "b": FAIL, "c": ERROR, "d": PASS}
    assert res.score == 2 and res.max_score == 5
    assert res.exit_code == 2
    assert "Reread: Lesson X" in res.checks[0].hint
    data = res.to_dict()
    for key in ("exercise", "passed", "score", "max_score", "checks"):
        assert key in data
    for key in ("id", "title", "status", "message", "hint", "evidence"):
        assert key in data["checks"][0]
    assert "<table" in res._repr_html_()


def test_cli_unknown_exercise_exit_2():
    proc = subprocess.run([sys.executable, "-m", "checkers", "check", "web-sever"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "web-server" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_engine_down_is_one_line_exit_2(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "checkers", "check", "first-container"], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "nothing.sock" in proc.stderr


def test_doctor_dead_socket(tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/dead.sock", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "checkers", "doctor"], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr
    problems = [line for line in proc.stdout.splitlines() if line.startswith("PROBLEM:")]
    assert len(problems) == 1 and "dead.sock" in problems[0]


def test_doctor_healthy_engine_lists_images(client):
    proc = subprocess.run([sys.executable, "-m", "checkers", "doctor", "--json"], capture_output=True, text=True)
    data = json.loads(proc.stdout)
    assert proc.returncode == 0, data["problems"]
    for ref in ("busybox:1.35", "python:3.11-slim", "nginx:1.22", "redis:7.0", "postgres:15", "registry:2"):
        assert f"image {ref}" in data["facts"]


def test_exec_in_a_container_removed_meanwhile_is_an_error_not_a_fail(client, prefix):
    # `docker rm -f` while a check runs a command in the container: the command dies (exit 137), which says
    # nothing about the learner's work.
    import threading

    from checkers.context import Context, ContainerGone

    from .helpers import sh

    sh(f"docker run -d --name {prefix}gone busybox:1.35 sleep 300", prefix)
    ctx = Context(client, Scope(prefix=prefix))
    cid = ctx.container("gone")["Id"]
    timer = threading.Timer(0.5, lambda: client.api.remove_container(cid, force=True))
    timer.start()
    try:
        with pytest.raises(ContainerGone):
            ctx.exec(cid, ["sleep", "5"], timeout=10)
    finally:
        timer.join()
        ctx.close()
    ex = Exercise(id="t", title="t", summary="", lesson="")

    @ex.check("look", "look")
    def look(c):
        res = c.exec(cid, ["true"])
        return ok("ran") if res.ok else fail("x", "y", "z")

    assert ex.run(client, Scope(prefix=prefix)).checks[0].status == ERROR


def test_containers_a_check_starts_are_bounded(client, scope):
    """Probe and trial containers run the learner's or a student's image: they get the course's
    trial limits, and grading's sandbox limits when the scope carries them."""
    from checkers.context import Context

    read = ["sh", "-c", "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; "
                        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; true"]
    ctx = Context(client, scope)
    res = ctx.probe("busybox:1.35", read, timeout=15)
    assert res.exit_code == 0, res.output
    assert res.output.split() == ["256", str(512 * 2**20)], res.output
    graded = Context(client, scope.with_(limits={"pids_limit": 64, "mem_limit": "128m", "memswap_limit": "128m"}))
    res = graded.probe("busybox:1.35", read, timeout=15)
    assert res.output.split() == ["64", str(128 * 2**20)], res.output
    ctx.close()
    graded.close()
