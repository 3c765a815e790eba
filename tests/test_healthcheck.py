"""healthcheck: the reference solution passes; each known mistake, applied for real, fails the right check.

The images are built once per module (under a module prefix) and tagged into each test's scope.
"""
from __future__ import annotations

import time

import pytest

from checkers.exercises import load
from checkers.exercises.healthcheck import duration, probe_program

from .helpers import EXERCISES, built_images, sh, snapshot, checks_by_id as by_id, unchanged, fix_command

EX = load("healthcheck")
DIR = EXERCISES / "healthcheck"
GOOD_LINE = 'HEALTHCHECK --interval=2s --timeout=2s --start-period=10s --retries=3 CMD ["python", "/app/healthcheck.py"]'


@pytest.fixture(scope="module")
def images(client, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("healthcheck")
    good = (DIR / "solution" / "Dockerfile").read_text()
    assert GOOD_LINE in good
    (tmp / "Dockerfile.curl").write_text(good.replace(
        GOOD_LINE, "HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD curl -f http://127.0.0.1:8000/health || exit 1"))
    (tmp / "Dockerfile.slow").write_text(good.replace("--interval=2s", "--interval=5m"))
    with built_images(client, DIR, "healthy-app", {"good": "solution/Dockerfile", "curl": f"{tmp}/Dockerfile.curl",
                                                   "slow": f"{tmp}/Dockerfile.slow"}) as mp:
        yield mp


def use(images, prefix, which, opts="--restart unless-stopped"):
    sh(f"docker tag {images}healthy-app:{which} {prefix}healthy-app:1.0 && "
       f"docker run -d --name {prefix}healthy {opts} {prefix}healthy-app:1.0", prefix)


def wait_status(prefix, wanted, seconds=15):
    status = ""
    for _ in range(int(seconds * 5)):
        status = sh(f"docker inspect -f '{{{{.State.Health.Status}}}}' {prefix}healthy").stdout.strip()
        if status == wanted:
            return status
        time.sleep(0.2)
    return status


def test_probe_program_and_duration():
    assert probe_program(["CMD", "python", "/app/healthcheck.py"]) == "python"
    assert probe_program(["CMD-SHELL", "curl -f http://x/ || exit 1"]) == "curl"
    assert probe_program(["CMD-SHELL", "FOO=1 wget -q -O- http://x/"]) == "wget"
    assert duration(2 * 10 ** 9) == "2s" and duration(300 * 10 ** 9) == "5m0s"


def test_clean_engine_says_how_to_start(client, scope):
    res = EX.run(client, scope)
    chk = by_id(res)
    assert chk["image-exists"].status == "fail" and "docker build -t" in chk["image-exists"].hint
    assert chk["exists"].status == "fail" and "--restart unless-stopped" in chk["exists"].hint
    assert res.exit_code == 1 and not res.errored


@pytest.mark.slow
def test_reference_solution_passes_and_changes_nothing(client, scope, prefix, images):
    sh(f"bash {DIR}/solution.sh", prefix)
    assert wait_status(prefix, "healthy") == "healthy"
    before = snapshot(client)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert unchanged(client, before, prefix)  # the probe container for the tool look-up is gone again


def test_mistake_probe_tool_missing(client, scope, prefix, images):
    use(images, prefix, "curl")
    assert wait_status(prefix, "unhealthy") == "unhealthy"
    res = EX.run(client, scope)
    chk = by_id(res)
    tool = chk["probe-tool"]
    assert tool.status == "fail" and "`curl`, which is not in the image" in tool.message
    assert '["python", "/app/healthcheck.py"]' in tool.hint
    health = chk["health"]
    assert health.status == "fail" and "`unhealthy`" in health.message
    assert "curl: not found" in health.message  # the probe log shows why
    assert "the app itself answers 200" in health.message  # ... while the app is fine
    assert chk["restart"].status == "pass" and chk["running"].status == "pass"


def test_mistake_no_restart_policy_and_the_hint_fixes_it(client, scope, prefix, images):
    use(images, prefix, "good", opts="")
    chk = by_id(EX.run(client, scope))
    restart = chk["restart"]
    assert restart.status == "fail" and "`no`" in restart.message
    assert "docker update --restart unless-stopped" in restart.hint
    sh(fix_command(restart.hint), prefix)
    assert by_id(EX.run(client, scope))["restart"].status == "pass"


def test_mistake_interval_too_long(client, scope, prefix, images):
    use(images, prefix, "slow")
    t0 = time.monotonic()
    chk = by_id(EX.run(client, scope))
    assert time.monotonic() - t0 < 5  # no point waiting for a probe 5 minutes away
    assert chk["interval"].status == "fail" and "every 5m0s" in chk["interval"].message
    health = chk["health"]
    assert health.status == "fail" and "`starting`" in health.message and "5m0s" in health.message
    assert "--interval=2s" in health.hint
