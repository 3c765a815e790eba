"""The command line and the notebook entry point, against the real engine."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from checkers import check

from .helpers import id_prefix_decoy, sh


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "checkers", *args], capture_output=True, text=True, env=env)


def test_check_json_schema_and_exit_codes(client, prefix):
    proc = run_cli("check", "first-container", "--json", "--prefix", prefix)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["exercise"] == "first-container" and data["passed"] is False
    assert data["score"] == 0 and data["max_score"] >= 1
    assert {"id", "title", "status", "message", "hint", "evidence"} <= set(data["checks"][0])
    sh(f'docker run --name {prefix}hello busybox:1.35 echo "Hello from my first container"', prefix)
    proc = run_cli("check", "first-container", "--json", "--prefix", prefix)
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["passed"] is True


def test_junit_output(client, prefix, tmp_path):
    out = tmp_path / "r.xml"
    run_cli("check", "first-container", "--prefix", prefix, "--junit", str(out))
    text = out.read_text()
    assert "<testsuite" in text and "<failure" in text


def test_reset_removes_only_what_the_exercise_names(client, prefix):
    sh(f"docker run --name {prefix}hello busybox:1.35 true && docker run --name {prefix}bystander busybox:1.35 true", prefix)
    proc = run_cli("reset", "first-container", "--prefix", prefix)  # no --yes, no terminal: nothing removed
    assert proc.returncode == 1 and "--yes" in proc.stdout
    assert client.api.inspect_container(f"{prefix}hello")
    proc = run_cli("reset", "first-container", "--prefix", prefix, "--yes")
    assert proc.returncode == 0, proc.stdout
    assert f"{prefix}hello" in proc.stdout and "bystander" not in proc.stdout
    names = [n.lstrip("/") for c in client.api.containers(all=True) for n in c["Names"]]
    assert f"{prefix}hello" not in names and f"{prefix}bystander" in names


def test_notebook_check_gives_sentences_not_tracebacks(tmp_path, monkeypatch):
    msg = check("no-such-exercise")
    assert "no-such-exercise" in str(msg) and "Could not check" in msg._repr_html_()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    msg = check("first-container")
    assert "none.sock" in str(msg)


def test_list_marks_passing_exercises(client):
    proc = run_cli("list", "--json", "--no-status")
    rows = json.loads(proc.stdout)
    assert rows[0]["id"] == "first-container"


def test_check_json_when_the_engine_is_down_is_still_json(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    proc = run_cli("check", "first-container", "--json", env=env)
    assert proc.returncode == 2
    data = json.loads(proc.stdout)  # `check --json | python -m json.tool` must not choke
    assert data["exercise"] == "first-container" and data["passed"] is False and data["score"] == 0
    assert data["checks"] and all(c["status"] == "error" for c in data["checks"])
    assert "none.sock" in data["checks"][0]["message"] and "none.sock" in proc.stderr


def test_bad_port_option_is_a_usage_error_not_a_traceback():
    for bad in ("abc", "8080=", "8080=x", "0=1"):
        proc = run_cli("check", "first-container", "--port", bad)
        assert proc.returncode == 2, bad
        assert "Traceback" not in proc.stderr and "WANT=REAL" in proc.stderr


def test_reset_never_takes_a_container_that_only_matches_by_id_prefix(client, prefix):
    # The engine resolves an unknown name as an id prefix: `docker inspect db` finds a container whose id
    # starts with "db". `reset volumes` must not plan (or remove) such a stranger.
    hexprefix = id_prefix_decoy(client, prefix, "db")
    proc = run_cli("reset", "volumes", "--prefix", hexprefix, "--yes")
    assert proc.returncode == 0, proc.stdout
    assert "Nothing to remove" in proc.stdout
    assert [c for c in client.api.containers(all=True) if any(n.startswith(f"/{prefix}decoy") for n in c["Names"])]
