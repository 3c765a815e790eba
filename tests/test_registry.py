"""registry: the reference solution passes; each known mistake, applied for real, fails with its own hint.

Every test runs its own registry on a free port, so the image reference is
``localhost:<port>/<prefix>hello-app:1.0``.
"""
from __future__ import annotations

import pytest

from checkers.exercises import load
from checkers.scope import Scope

from .helpers import EXERCISES, sh, prefixed_snapshot as own, statuses, check_result as by_id

EX = load("registry")
REGISTRY = ('docker run -d --name "${DC_PREFIX}registry" -p "127.0.0.1:${DC_PORT_5000}:5000" %s registry:2 >/dev/null\n'
            'for _ in $(seq 1 40); do curl -fsS "http://127.0.0.1:${DC_PORT_5000}/v2/" >/dev/null 2>&1 && break; sleep 0.1; done\n')
WITH_VOLUME = '-v "${DC_PREFIX}registry-data:/var/lib/registry"'
REF = 'localhost:${DC_PORT_5000}/${DC_PREFIX}hello-app'
BUILD = f'docker build -q -t "{REF}:1.0" {EXERCISES}/registry >/dev/null\n'


@pytest.fixture
def rscope(prefix, port):
    return Scope(prefix=prefix, ports={5000: port})


def run(script, prefix, port, check=True):
    return sh(script, prefix, env={"DC_PORT_5000": str(port)}, check=check)


def test_clean_engine_says_how_to_start(client, rscope, prefix, port):
    before = own(client, prefix)
    res = EX.run(client, rscope)
    first = res.checks[0]
    assert first.id == "running" and first.status == "fail"
    assert f"-p 127.0.0.1:{port}:5000" in first.hint and f"-v {prefix}registry-data:/var/lib/registry" in first.hint
    assert res.exit_code == 1 and all(c.status == "fail" for c in res.checks)
    assert own(client, prefix) == before


def test_reference_solution_passes_and_changes_nothing(client, rscope, prefix, port):
    run(f"bash {EXERCISES}/registry/solution.sh", prefix, port)
    before = own(client, prefix)
    res = EX.run(client, rscope)
    assert res.passed, str(res)
    assert res.seconds < 3
    chk = by_id(res, "digest")
    assert chk.evidence["Docker-Content-Digest"].startswith("sha256:")
    assert chk.evidence["RepoDigests"] == [f"localhost:{port}/{prefix}hello-app@{chk.evidence['Docker-Content-Digest']}"]
    assert own(client, prefix) == before
    assert res.advice == []  # the shipped Dockerfile is hadolint-clean


def test_mistake_tagged_but_never_pushed(client, rscope, prefix, port):
    run(REGISTRY % WITH_VOLUME + BUILD, prefix, port)
    res = EX.run(client, rscope)
    st = statuses(res)
    assert st["running"] == st["port"] == st["storage"] == st["api"] == "pass"
    chk = by_id(res, "pushed")
    assert chk.status == "fail" and "tagged but never pushed" in chk.message
    assert chk.hint.startswith(f"Fix: docker push localhost:{port}/{prefix}hello-app:1.0")
    assert st["digest"] == "fail" and "Not checked yet" in by_id(res, "digest").message


def test_mistake_pushed_under_another_tag(client, rscope, prefix, port):
    run(REGISTRY % WITH_VOLUME + f'docker build -q -t "{REF}:latest" {EXERCISES}/registry >/dev/null\n'
        f'docker push -q "{REF}:latest" >/dev/null', prefix, port)
    res = EX.run(client, rscope)
    chk = by_id(res, "pushed")
    assert chk.status == "fail" and "only with the tag(s) latest" in chk.message
    assert f"docker tag localhost:{port}/{prefix}hello-app:latest localhost:{port}/{prefix}hello-app:1.0" in chk.hint
    assert chk.evidence["tags"] == ["latest"]


def test_mistake_pushed_under_another_name(client, rscope, prefix, port):
    other = 'localhost:${DC_PORT_5000}/${DC_PREFIX}hello:1.0'
    run(REGISTRY % WITH_VOLUME + f'docker build -q -t "{other}" {EXERCISES}/registry >/dev/null\n'
        f'docker push -q "{other}" >/dev/null', prefix, port)
    res = EX.run(client, rscope)
    chk = by_id(res, "pushed")
    assert chk.status == "fail" and f"holds `{prefix}hello`, but no `{prefix}hello-app`" in chk.message
    assert f"docker push localhost:{port}/{prefix}hello-app:1.0" in chk.hint
    assert chk.evidence["GET /v2/_catalog"] == [f"{prefix}hello"]


def test_mistake_registry_not_running(client, rscope, prefix, port):
    run(f'bash {EXERCISES}/registry/solution.sh >/dev/null\ndocker stop "${{DC_PREFIX}}registry" >/dev/null', prefix, port)
    res = EX.run(client, rscope)
    chk = by_id(res, "running")
    assert chk.status == "fail" and "registry is not running" in chk.message
    assert chk.hint.startswith(f"Fix: docker start {prefix}registry")
    assert all(statuses(res)[c] == "fail" for c in ("port", "api", "pushed", "digest"))


def test_mistake_storage_not_in_a_volume(client, rscope, prefix, port):
    run(REGISTRY % "" + BUILD + f'docker push -q "{REF}:1.0" >/dev/null', prefix, port)
    res = EX.run(client, rscope)
    chk = by_id(res, "storage")
    assert chk.status == "fail" and "anonymous volume" in chk.message
    assert f"docker volume create {prefix}registry-data" in chk.hint
    assert statuses(res)["pushed"] == "pass"  # the push itself worked; only the storage is wrong


def test_mistake_published_on_all_interfaces(client, rscope, prefix, port):
    run(f'docker run -d --name "${{DC_PREFIX}}registry" -p "${{DC_PORT_5000}}:5000" {WITH_VOLUME} registry:2 >/dev/null',
        prefix, port)
    res = EX.run(client, rscope)
    chk = by_id(res, "port")
    assert chk.status == "fail" and f"0.0.0.0:{port}" in chk.message
    assert f"-p 127.0.0.1:{port}:5000" in chk.hint


def test_mistake_changed_after_push(client, rscope, prefix, port, tmp_path):
    """Pushed, then rebuilt under the same name and not pushed again: the registry holds the old image."""
    (tmp_path / "Dockerfile").write_text('FROM busybox:1.35\nCMD ["echo", "version two"]\n')
    run(f'bash {EXERCISES}/registry/solution.sh >/dev/null\n'
        f'docker build -q -t "{REF}:1.0" {tmp_path} >/dev/null', prefix, port)
    res = EX.run(client, rscope)
    assert statuses(res)["pushed"] == "pass"
    chk = by_id(res, "digest")
    assert chk.status == "fail" and "tagged (again) but not pushed" in chk.message
    assert chk.hint.startswith(f"Fix: docker push localhost:{port}/{prefix}hello-app:1.0")
    # the first build lost its name; remove it (only if no other test's tag uses the same image)
    run(f'docker rmi "{REF}@$(echo {chk.evidence["Docker-Content-Digest"]})" >/dev/null 2>&1 || true', prefix, port,
        check=False)


def test_mistake_registry_paused_says_unpause(client, rscope, prefix, port):
    run(REGISTRY % WITH_VOLUME + 'docker pause "${DC_PREFIX}registry"\n', prefix, port)
    chk = {c.id: c for c in EX.run(client, rscope).checks}["running"]
    assert chk.status == "fail" and "paused" in chk.message
    assert chk.hint.startswith(f"Fix: docker unpause {prefix}registry")
