"""limits: the reference solution passes; each known mistake, applied for real, fails the right check."""
from __future__ import annotations

from checkers.exercises import load

from .helpers import EXERCISES, sh, snapshot, checks_by_id as by_id, unchanged, fix_command

EX = load("limits")


def oom_hog(prefix):
    sh(f"docker run --name {prefix}hog --memory 32m --memory-swap 32m busybox:1.35 tail /dev/zero || true", prefix)


def test_clean_engine_says_how_to_start(client, scope):
    res = EX.run(client, scope)
    chk = by_id(res)
    assert chk["capped-exists"].status == "fail" and "--memory 256m --cpus 0.5 --pids-limit 100" in chk["capped-exists"].hint
    assert chk["hog-exists"].status == "fail" and "--memory 32m" in chk["hog-exists"].hint
    assert res.exit_code == 1 and not res.errored


def test_reference_solution_passes_and_changes_nothing(client, scope, prefix):
    sh(f"bash {EXERCISES}/limits/solution.sh", prefix)
    before = snapshot(client)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert unchanged(client, before, prefix)
    killed = by_id(res)["hog-killed"]
    assert killed.evidence["State.OOMKilled"] is True and killed.evidence["State.ExitCode"] == 137


def test_mistake_limits_missing_and_the_hints_fix_them(client, scope, prefix):
    sh(f"docker run -d --name {prefix}capped busybox:1.35 tail -f /dev/null", prefix)
    oom_hog(prefix)
    chk = by_id(EX.run(client, scope))
    for cid in ("memory", "cpus", "pids"):
        assert chk[cid].status == "fail", cid
    assert "no memory limit" in chk["memory"].message and chk["memory"].evidence["HostConfig.Memory"] == 0
    assert "no CPU cap" in chk["cpus"].message
    assert "no process limit" in chk["pids"].message
    # Each hint is one real command: apply them, and the checks pass.
    for cid in ("memory", "cpus", "pids"):
        sh(fix_command(chk[cid].hint), prefix)
    res = EX.run(client, scope)
    assert res.passed, str(res)


def test_mistake_wrong_units(client, scope, prefix):
    sh(f"docker run -d --name {prefix}capped --memory 256000000 --cpu-shares 512 --pids-limit 100 "
       "busybox:1.35 tail -f /dev/null", prefix)
    oom_hog(prefix)
    chk = by_id(EX.run(client, scope))
    assert chk["memory"].status == "fail"
    assert "244.1 MiB" in chk["memory"].message and "decimal" in chk["memory"].message
    assert "--memory 256m" in chk["memory"].hint
    assert chk["cpus"].status == "fail" and "--cpu-shares 512" in chk["cpus"].message
    assert "--cpus 0.5" in chk["cpus"].hint
    assert chk["pids"].status == "pass"


def test_mistake_hog_killed_by_someone_else(client, scope, prefix):
    sh(f"bash {EXERCISES}/limits/solution.sh", prefix)
    sh(f"docker rm -f {prefix}hog && docker run -d --name {prefix}hog --memory 32m busybox:1.35 sleep 300 "
       f"&& docker kill {prefix}hog && docker wait {prefix}hog", prefix)
    chk = by_id(EX.run(client, scope))
    killed = chk["hog-killed"]
    assert killed.status == "fail"
    assert "137" in killed.message and "OOMKilled is false" in killed.message and "SIGKILL" in killed.message
    assert "docker kill" in killed.message
    assert killed.evidence == {**killed.evidence, "State.OOMKilled": False, "State.ExitCode": 137}
    assert chk["capped-running"].status == "pass" and chk["hog-limit"].status == "pass"


def test_mistake_hog_exited_by_itself(client, scope, prefix):
    sh(f"bash {EXERCISES}/limits/solution.sh", prefix)
    sh(f"docker rm -f {prefix}hog && docker run --name {prefix}hog --memory 32m busybox:1.35 true", prefix)
    killed = by_id(EX.run(client, scope))["hog-killed"]
    assert killed.status == "fail" and "exited with code 0" in killed.message
    assert "tail /dev/zero" in killed.message


def test_mistake_capped_paused_says_unpause(client, scope, prefix):
    sh(f"docker run -d --name {prefix}capped busybox:1.35 sleep 300 && docker pause {prefix}capped", prefix)
    chk = {c.id: c for c in EX.run(client, scope).checks}["capped-running"]
    assert chk.status == "fail" and "paused" in chk.message
    assert chk.hint.startswith(f"Fix: docker unpause {prefix}capped")
