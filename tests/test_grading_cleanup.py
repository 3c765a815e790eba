"""Grading cleans up after itself: a sweep at start (leftovers of a crashed run of the same gradebook),
at the end, and after Ctrl-C -- and it never touches objects of other gradebooks or of anyone else."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from checkers.grading.gradebook import gradebook_id
from checkers.grading.sandbox import grade_labels, remaining
from checkers.grading.submissions import Options, grade_submissions
from checkers.labels import MANAGED, PURPOSE

from .helpers import ROOT
from .test_grading_class import compose_stack


def test_start_sweep_removes_a_crashed_runs_leftovers_only(client, tmp_path, prefix):
    out = tmp_path / "grades"
    gb = gradebook_id(out)
    crashed = client.api.create_container("busybox:1.35", "true", name=f"{prefix}crashed",
                                          labels=grade_labels("dead01", gb, "zoe", "compose-stack"))["Id"]
    other_gb = client.api.create_container("busybox:1.35", "true", name=f"{prefix}other-gradebook",
                                           labels=grade_labels("live02", "someoneelse", "zoe", "compose-stack"))["Id"]
    net = client.api.create_network(f"{prefix}crashed-net", labels=grade_labels("dead01", gb))["Id"]
    unrelated = client.api.create_container("busybox:1.35", "true", name=f"{prefix}unrelated")["Id"]
    (tmp_path / "subs").mkdir()
    lines: list[str] = []
    grade_submissions(tmp_path / "subs", Options(exercises=["compose-stack"], out=out, progress=lines.append))
    ids = {c["Id"] for c in client.api.containers(all=True)}
    assert crashed not in ids and other_gb in ids and unrelated in ids
    assert net not in {n["Id"] for n in client.api.networks()}
    assert any("earlier, interrupted run" in ln for ln in lines), lines


@pytest.mark.slow
def test_ctrl_c_stops_the_run_and_removes_everything(client, tmp_path):
    subs = tmp_path / "subs"
    compose_stack(subs / "ada")
    compose_stack(subs / "bob", dockerfile_extra="RUN sleep 3600")  # still building when Ctrl-C comes
    out = tmp_path / "grades"
    gb_labels = {MANAGED: "true", PURPOSE: "grade", "org.dockercourse.gradebook": gradebook_id(out)}
    proc = subprocess.Popen([sys.executable, "-m", "checkers", "grade", str(subs), "--exercises", "compose-stack",
                             "--out", str(out), "--workers", "2", "--build-timeout", "300"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not remaining(client, gb_labels):
            time.sleep(0.2)  # wait until the run has objects on the engine (ada's stack is coming up)
        assert remaining(client, gb_labels), "the run never started anything"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "interrupted" in output and "resume" in output
    assert remaining(client, gb_labels) == []
    # the killed steps are gone too: no compose process of the run, no build step still sleeping
    end = time.monotonic() + 15
    while time.monotonic() < end:
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
        busy = [ln for ln in ps if ("/dcgrade-" in ln and ln.startswith("docker")) or ln.strip() == "sleep 3600"]
        if not busy:
            break
        time.sleep(0.5)
    assert not busy, busy
