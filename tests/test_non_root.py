"""non-root: the reference solution passes; each known mistake, applied for real, fails the right check.

The images are built once per module (under a module prefix) and tagged into each test's scope.
"""
from __future__ import annotations

import time

import pytest

from checkers.exercises import load

from .helpers import EXERCISES, built_images, sh, snapshot, checks_by_id as by_id, unchanged, fix_command

EX = load("non-root")
DIR = EXERCISES / "non-root"
LOCKED = "--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges"


@pytest.fixture(scope="module")
def images(client, tmp_path_factory):
    unreadable = tmp_path_factory.mktemp("non-root") / "Dockerfile"
    # The mistake: USER is set, but the app's files are readable by root only.
    unreadable.write_text((DIR / "solution" / "Dockerfile").read_text().replace(
        "USER app", "RUN chmod 600 /app/app.py /app/message.txt\nUSER app"))
    with built_images(client, DIR, "safe-app", {"good": "solution/Dockerfile", "root": "Dockerfile",
                                                "unreadable": unreadable}) as mp:
        yield mp


def use(images, prefix, which):
    sh(f"docker tag {images}safe-app:{which} {prefix}safe-app:1.0")


def run_safe(prefix, opts=LOCKED):
    sh(f"docker run -d --name {prefix}safe {opts} {prefix}safe-app:1.0", prefix)


def test_clean_engine_says_how_to_start(client, scope):
    res = EX.run(client, scope)
    chk = by_id(res)
    assert chk["image-exists"].status == "fail" and "docker build -t" in chk["image-exists"].hint
    assert chk["exists"].status == "fail" and LOCKED in chk["exists"].hint
    assert res.exit_code == 1 and not res.errored


@pytest.mark.slow
def test_reference_solution_passes_and_changes_nothing(client, scope, prefix, images):
    sh(f"bash {DIR}/solution.sh", prefix)
    before = snapshot(client)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert unchanged(client, before, prefix)
    inside = by_id(res)["inside"]
    assert inside.evidence["docker exec safe id -u"] == "10001"
    assert "Read-only file system" in inside.evidence["docker exec safe touch /probe"]
    assert inside.evidence["/proc/self/status CapEff"] == "0000000000000000"


def test_mistake_user_missing(client, scope, prefix, images):
    use(images, prefix, "root")
    run_safe(prefix)
    chk = by_id(EX.run(client, scope))
    assert chk["image-user"].status == "fail" and "runs as root" in chk["image-user"].message
    assert "USER app" in chk["image-user"].hint
    assert chk["inside"].status == "fail" and "prints 0" in chk["inside"].message
    assert chk["read-only"].status == "pass" and chk["caps"].status == "pass"


def test_mistake_files_unreadable_so_the_app_fails(client, scope, prefix, images, ):
    use(images, prefix, "unreadable")
    run_safe(prefix)
    for _ in range(50):  # the app stops at once; wait (bounded) until the engine says so
        if sh(f"docker inspect -f '{{{{.State.Running}}}}' {prefix}safe").stdout.strip() == "false":
            break
        time.sleep(0.1)
    chk = by_id(EX.run(client, scope))
    assert chk["image-user"].status == "pass"
    run = chk["running"]
    assert run.status == "fail" and "Permission denied" in run.message
    assert "a+rX" in run.hint and "Permission denied" in run.evidence["docker logs (tail)"]
    assert chk["inside"].status == "fail" and chk["inside"].message.startswith("Not checked yet")


@pytest.mark.parametrize("opts, kept", [
    ("--read-only --tmpfs /tmp --security-opt no-new-privileges", "CHOWN"),
    (f"{LOCKED} --cap-add NET_ADMIN", "NET_ADMIN"),
])
def test_mistake_capabilities_kept(client, scope, prefix, images, opts, kept):
    use(images, prefix, "good")
    run_safe(prefix, opts)
    chk = by_id(EX.run(client, scope))
    assert chk["caps"].status == "fail" and kept in chk["caps"].message
    assert "--cap-drop ALL" in chk["caps"].hint
    assert chk["inside"].status == "pass"


def test_mistake_docker_socket_mounted(client, scope, prefix, images):
    use(images, prefix, "good")
    run_safe(prefix, f"{LOCKED} -v /var/run/docker.sock:/var/run/docker.sock")
    chk = by_id(EX.run(client, scope))
    sock = chk["no-socket"]
    assert sock.status == "fail" and "docker.sock" in sock.message and "root on the host" in sock.message
    assert "-v" not in fix_command(sock.hint)  # the fix runs it without the mount


def test_writable_root_is_never_written_to(client, scope, prefix, images):
    use(images, prefix, "good")
    run_safe(prefix, "--tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges")
    chk = by_id(EX.run(client, scope))
    assert chk["read-only"].status == "fail" and "--read-only" in chk["read-only"].message
    assert chk["inside"].status == "fail" and chk["inside"].message.startswith("Not checked yet")
    probe = sh(f"docker exec {prefix}safe ls /probe", check=False)
    assert probe.returncode != 0  # the check did not create /probe
