"""first-container: the reference solution passes; each beginner mistake fails with its own hint."""
from __future__ import annotations

from checkers.exercises import load

from .helpers import EXERCISES, sh, snapshot, statuses, unchanged, fix_command

EX = load("first-container")


def test_clean_engine_says_how_to_start(client, scope):
    res = EX.run(client, scope)
    first = res.checks[0]
    assert first.id == "exists" and first.status == "fail"
    assert "docker run --name" in first.hint
    assert res.exit_code == 1


def test_reference_solution_passes_and_changes_nothing(client, scope, prefix):
    sh(f"bash {EXERCISES}/first-container/solution.sh", prefix)
    before = snapshot(client)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert unchanged(client, before, prefix)


def test_mistake_rm(client, scope, prefix):
    sh(f'docker run --rm --name {prefix}hello busybox:1.35 echo "Hello from my first container"', prefix)
    res = EX.run(client, scope)
    assert statuses(res)["exists"] == "fail"
    assert "--rm" in res.checks[0].message


def test_mistake_wrong_image(client, scope, prefix):
    sh(f'docker run --name {prefix}hello python:3.11-slim echo "Hello from my first container"', prefix)
    res = EX.run(client, scope)
    st = statuses(res)
    assert st["image"] == "fail" and st["exists"] == "pass"
    assert "busybox:1.35" in next(c for c in res.checks if c.id == "image").message


def test_mistake_nonzero_exit(client, scope, prefix):
    sh(f'docker run --name {prefix}hello busybox:1.35 sh -c "echo Hello from my first container; exit 3" || true', prefix)
    res = EX.run(client, scope)
    chk = next(c for c in res.checks if c.id == "exit-code")
    assert chk.status == "fail" and "code 3" in chk.message
    assert statuses(res)["message"] == "pass"


def test_mistake_message_missing(client, scope, prefix):
    sh(f"docker run --name {prefix}hello busybox:1.35 echo hi", prefix)
    res = EX.run(client, scope)
    st = statuses(res)
    assert st["message"] == "fail" and st["exit-code"] == "pass"


def test_created_but_never_started_is_not_exit_code_0(client, scope, prefix):
    # `docker create` leaves State.ExitCode 0 although nothing ran.
    sh(f'docker create --name {prefix}hello busybox:1.35 echo "Hello from my first container"', prefix)
    res = EX.run(client, scope)
    chk = {c.id: c for c in res.checks}["exit-code"]
    assert chk.status == "fail" and "never started" in chk.message
    assert chk.hint.startswith(f"Fix: docker start -a {prefix}hello")
    sh(f"docker start -a {prefix}hello", prefix)  # the fix, copied, works
    assert EX.run(client, scope).passed


def test_fixes_work_on_a_running_container(client, scope, prefix):
    # `docker rm NAME` refuses a running container: every fix that removes `hello` must use -f.
    sh(f"docker run -d --name {prefix}hello busybox:1.35 sleep 300", prefix)
    res = EX.run(client, scope)
    fixes = [c.hint for c in res.checks if c.status == "fail" and c.hint]
    assert fixes and all(f"docker rm -f {prefix}hello && docker run --name {prefix}hello " in h for h in fixes), fixes
    fix = fix_command(fixes[-1])
    sh(fix, prefix)
    assert EX.run(client, scope).passed


def test_typo_in_the_name_is_named_with_the_rename_that_fixes_it(client):
    """On the learner's own engine (default scope), `--name helo` gets "there is one called `helo`"."""
    import pytest

    from checkers.scope import Scope

    names = {n.lstrip("/") for c in client.api.containers(all=True) for n in c["Names"]}
    if names & {"hello", "helo"}:
        pytest.skip("this engine already has a `hello` or `helo` container of its own")
    labels = "--label org.dockercourse.managed=true --label org.dockercourse.purpose=test"
    try:
        sh(f'docker run --name helo {labels} busybox:1.35 echo "Hello from my first container"')
        res = EX.run(client, Scope())
        first = res.checks[0]
        assert first.status == "fail" and "there is one called `helo`" in first.message
        assert fix_command(first.hint) == "docker rename helo hello"
        sh(fix_command(first.hint))
        assert EX.run(client, Scope()).passed
    finally:
        sh("docker rm -f helo hello >/dev/null 2>&1 || true")
