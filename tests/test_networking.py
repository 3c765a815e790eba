"""networking: the reference solution passes; each known mistake, applied for real, fails with its own hint."""
from __future__ import annotations

from checkers.exercises import load
from checkers.scope import Scope

from .helpers import EXERCISES, free_port, sh, prefixed_snapshot as own, statuses, check_result as by_id

EX = load("networking")
NET = 'docker network create "${DC_PREFIX}appnet" >/dev/null'
API = 'docker run -d --name "${DC_PREFIX}api" %s python:3.11-slim python3 -m http.server 8000 >/dev/null'
CLIENT = 'docker run -d --name "${DC_PREFIX}client" %s busybox:1.35 sleep 600 >/dev/null'
# wait until api's server is up (checked from the host side through docker exec, not through the network)
API_UP = ('for _ in $(seq 1 40); do docker exec "${DC_PREFIX}api" python3 -c '
          '"import socket; socket.create_connection((\'127.0.0.1\', 8000), 1)" 2>/dev/null && break; sleep 0.1; done')


def test_clean_engine_says_how_to_start(client, scope, prefix):
    before = own(client, prefix)
    res = EX.run(client, scope)
    first = res.checks[0]
    assert first.id == "network" and first.status == "fail"
    assert f"docker network create {prefix}appnet" in first.hint
    assert f"--network {prefix}appnet" in by_id(res, "api").hint
    assert res.exit_code == 1 and all(c.status == "fail" for c in res.checks)
    assert own(client, prefix) == before


def test_reference_solution_passes_and_changes_nothing(client, scope, prefix):
    sh(f"bash {EXERCISES}/networking/solution.sh", prefix)
    before = own(client, prefix)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert res.seconds < 3
    assert "not published" in by_id(res, "api").message and not by_id(res, "api").hint
    assert by_id(res, "by-name").evidence["exit code"] == 0
    assert own(client, prefix) == before


def test_mistake_both_on_default_bridge(client, scope, prefix):
    sh(f"{NET}; {API % ''}; {CLIENT % ''}", prefix)
    res = EX.run(client, scope)
    st = statuses(res)
    assert st["network"] == "pass" and st["api"] == "pass" and st["client"] == "pass"
    chk = by_id(res, "attached")
    assert chk.status == "fail" and "default `bridge` network" in chk.message
    assert "can NOT find each other by name" in chk.message
    assert f"docker network connect {prefix}appnet {prefix}api" in chk.hint
    assert st["by-name"] == "fail" and "Not checked yet" in by_id(res, "by-name").message
    # and it really is so: on the default bridge the name does not resolve
    out = sh('docker exec "${DC_PREFIX}client" wget -qO- "http://${DC_PREFIX}api:8000/" 2>&1 || true', prefix).stdout
    assert "bad address" in out


def test_mistake_only_api_on_appnet(client, scope, prefix):
    net = f'--network "{prefix}appnet"'
    sh(f"{NET}; {API % net}; {CLIENT % ''}", prefix)
    res = EX.run(client, scope)
    chk = by_id(res, "attached")
    assert chk.status == "fail"
    assert f"`{prefix}api` is on `{prefix}appnet`, but `{prefix}client` is only on `bridge`" in chk.message
    assert chk.hint.startswith(f"Fix: docker network connect {prefix}appnet {prefix}client")


def test_mistake_legacy_link(client, scope, prefix):
    sh(f'{NET}; {API % ""}; {CLIENT % ("--link " + prefix + "api")}; {API_UP}', prefix)
    # --link does make the name work on the default bridge (through /etc/hosts) ...
    sh('docker exec "${DC_PREFIX}client" wget -qO- "http://${DC_PREFIX}api:8000/" >/dev/null', prefix)
    res = EX.run(client, scope)
    # ... but it is the legacy way, and the containers are still not on appnet
    chk = by_id(res, "no-links")
    assert chk.status == "fail" and "--link" in chk.message and "legacy" in chk.message
    assert f"--network {prefix}appnet busybox:1.35" in chk.hint
    assert any("/" + prefix + "api" in link for link in chk.evidence[f"{prefix}client: HostConfig.Links"])
    assert statuses(res)["attached"] == "fail"


def test_mistake_legacy_link_on_appnet(client, scope, prefix):
    net = f'--network "{prefix}appnet"'
    sh(f'{NET}; {API % net}; {CLIENT % (net + " --link " + prefix + "api:api")}; {API_UP}', prefix)
    res = EX.run(client, scope)
    st = statuses(res)
    assert st["attached"] == "pass" and st["by-name"] == "pass"
    chk = by_id(res, "no-links")
    assert chk.status == "fail" and f"{prefix}api:api (on {prefix}appnet)" in chk.message


def test_mistake_api_published_is_a_note_not_a_fail(client, prefix):
    port = free_port()
    net = f'--network "{prefix}appnet"'
    sh(f'{NET}; {API % (net + f" -p 127.0.0.1:{port}:8000")}; {CLIENT % net}; {API_UP}', prefix)
    res = EX.run(client, Scope(prefix=prefix, ports={8000: port}))
    assert res.passed, str(res)
    chk = by_id(res, "api")
    assert chk.status == "pass" and chk.hint.startswith("Note (not a fail)")
    assert f"127.0.0.1:{port}->8000/tcp" in chk.hint
    assert "8000/tcp" in chk.evidence["NetworkSettings.Ports"]


def test_mistake_client_exits_at_once(client, scope, prefix):
    net = f'--network "{prefix}appnet"'
    sh(f'{NET}; {API % net}; docker run -d --name "${{DC_PREFIX}}client" {net} busybox:1.35 >/dev/null; '
       'docker wait "${DC_PREFIX}client" >/dev/null', prefix)
    res = EX.run(client, scope)
    chk = by_id(res, "client")
    assert chk.status == "fail" and "exited" in chk.message and "sleep 86400" in chk.message
    assert chk.evidence["State.ExitCode"] == 0


def test_mistake_server_on_another_port(client, scope, prefix):
    net = f'--network "{prefix}appnet"'
    sh(f'{NET}; docker run -d --name "${{DC_PREFIX}}api" {net} python:3.11-slim python3 -m http.server 9000 >/dev/null; '
       f'{CLIENT % net}; sleep 0.5', prefix)
    res = EX.run(client, scope)
    chk = by_id(res, "by-name")
    assert chk.status == "fail" and "was found by name, but nothing listens on port 8000" in chk.message
    assert "http.server 8000" in chk.hint


def test_mistake_api_paused_says_unpause(client, scope, prefix):
    sh(f"docker run -d --name {prefix}api python:3.11-slim sleep 300 && docker pause {prefix}api", prefix)
    chk = {c.id: c for c in EX.run(client, scope).checks}["api"]
    assert chk.status == "fail" and "paused" in chk.message
    assert chk.hint.startswith(f"Fix: docker unpause {prefix}api")
