"""log-rotation: the reference solution passes; each known mistake, applied for real, fails the right check."""
from __future__ import annotations

import time

from checkers.exercises import load

from .helpers import EXERCISES, sh, snapshot, checks_by_id as by_id, unchanged

EX = load("log-rotation")
LOOP = "i=0; while true; do i=$((i+1)); echo \"chatty line $i\"; sleep 1; done"


def chatty(prefix, opts="", name="chatty"):
    sh(f"docker run -d --name {prefix}{name} {opts} busybox:1.35 sh -c '{LOOP}'", prefix)


def test_clean_engine_says_how_to_start(client, scope):
    res = EX.run(client, scope)
    first = res.checks[0]
    assert first.id == "exists" and first.status == "fail"
    assert "--log-opt max-size=10m" in first.hint and "docker run" in first.hint
    assert res.exit_code == 1 and not res.errored


def test_reference_solution_passes_and_changes_nothing(client, scope, prefix):
    sh(f"bash {EXERCISES}/log-rotation/solution.sh", prefix)
    before = snapshot(client)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert unchanged(client, before, prefix)
    assert res.to_dict()["checks"][4]["evidence"]["HostConfig.LogConfig.Config"] == {"max-size": "10m", "max-file": "3"}


def test_mistake_no_options_says_how_big_logs_get(client, scope, prefix):
    chatty(prefix)
    res = EX.run(client, scope)
    chk = by_id(res)
    assert chk["driver"].status == "pass"  # json-file is the default driver
    rot = chk["rotation"]
    assert rot.status == "fail"
    assert "without limit" in rot.message and "a day" in rot.message and "MB" in rot.message
    assert "--log-opt max-size=10m --log-opt max-file=3" in rot.hint and "docker rm -f" in rot.hint
    assert "daemon.json" in rot.message and "strings" in rot.message
    assert rot.evidence["HostConfig.LogConfig.Config"] == {}


def test_mistake_options_on_the_wrong_container(client, scope, prefix):
    chatty(prefix)
    chatty(prefix, "--log-opt max-size=10m --log-opt max-file=3", name="chatty-rotated")
    res = EX.run(client, scope)
    rot = by_id(res)["rotation"]
    assert rot.status == "fail"
    assert f"{prefix}chatty-rotated" in rot.message and "has no log options" in rot.message
    assert rot.evidence["containers with log options"] == [f"{prefix}chatty-rotated"]


def test_mistake_options_on_the_wrong_container_only(client, scope, prefix):
    chatty(prefix, "--log-opt max-size=10m --log-opt max-file=3", name="chaty")
    res = EX.run(client, scope)
    first = res.checks[0]
    assert first.status == "fail" and f"{prefix}chaty" in first.message


def test_mistake_driver_docker_logs_cannot_read(client, scope, prefix):
    chatty(prefix, "--log-driver none")
    res = EX.run(client, scope)
    chk = by_id(res)
    assert chk["driver"].status == "fail"
    assert "`none`" in chk["driver"].message and "docker logs" in chk["driver"].message
    assert "--log-driver json-file" in chk["driver"].hint
    assert chk["writing"].status == "fail" and chk["writing"].message.startswith("Not checked yet")
    assert not res.errored  # reading an unreadable log is never attempted


def test_wrong_units_and_count(client, scope, prefix):
    chatty(prefix, "--log-opt max-size=10 --log-opt max-file=5")
    rot = by_id(EX.run(client, scope))["rotation"]
    assert rot.status == "fail"
    assert "10 bytes" in rot.message and "max-file is '5'" in rot.message


def test_a_container_that_prints_nothing(client, scope, prefix):
    sh(f"docker run -d --name {prefix}chatty --log-opt max-size=10m --log-opt max-file=3 busybox:1.35 sleep 300", prefix)
    t0 = time.monotonic()
    res = EX.run(client, scope)
    chk = by_id(res)
    assert chk["rotation"].status == "pass"
    assert chk["writing"].status == "fail" and "nothing" in chk["writing"].message
    assert time.monotonic() - t0 < 6  # the wait for a second line is bounded


def test_mistake_restarting_is_not_running(client, scope, prefix):
    # a command that exits at once, with a restart policy: State.Running is true while it is being restarted
    sh(f"docker run -d --name {prefix}chatty --restart always busybox:1.35 sh -c 'echo bye; exit 3'", prefix)
    for _ in range(200):  # after a few restarts the back-off (100 ms, doubling) keeps it `restarting` for a while
        info = client.api.inspect_container(f"{prefix}chatty")
        if info["State"].get("Restarting") and info.get("RestartCount", 0) >= 3:
            break
        time.sleep(0.05)
    chk = {c.id: c for c in EX.run(client, scope).checks}["running"]
    assert chk.status == "fail" and "restart policy starts it again" in chk.message
    assert chk.hint.startswith(f"Fix: docker logs {prefix}chatty")
