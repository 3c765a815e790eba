"""web-server: the reference solution passes; each beginner mistake, made for real, fails with its own hint."""
from __future__ import annotations

import time

import pytest
import requests

from checkers.exercises import load
from checkers.scope import Scope

from .helpers import EXERCISES, free_port, own_snapshot, sh, statuses, check_result as result

EX = load("web-server")
SITE = EXERCISES / "web-server" / "site"
DOCROOT = "/usr/share/nginx/html"


def wait_http(port: int, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)


@pytest.fixture
def pscope(prefix, port):
    return Scope(prefix=prefix, ports={8080: port})


def run_web(prefix, args: str):
    sh(f"docker run -d --name {prefix}web {args} nginx:1.22", prefix)


def test_clean_engine_says_how_to_start(client, pscope, prefix, port, run):
    before = own_snapshot(client, prefix, run, intermediates=False)
    res = EX.run(client, pscope)
    first = res.checks[0]
    assert first.id == "exists" and first.status == "fail"
    assert "no container named" in first.message
    assert "docker run -d --name" in first.hint and f"127.0.0.1:{port}:80" in first.hint and ":ro" in first.hint
    assert all(c.status == "fail" for c in res.checks) and res.exit_code == 1
    assert own_snapshot(client, prefix, run, like=before, intermediates=False) == before


def test_reference_solution_passes_and_changes_nothing(client, pscope, prefix, port, run):
    sh(f"bash {EXERCISES}/web-server/solution.sh", prefix, env={"DC_PORT_8080": str(port)})
    wait_http(port)
    before = own_snapshot(client, prefix, run, intermediates=False)
    res = EX.run(client, pscope)
    assert res.passed, str(res)
    assert own_snapshot(client, prefix, run, like=before, intermediates=False) == before
    assert result(res, "serves").evidence[f"GET http://127.0.0.1:{port}/"] == 200
    assert not result(res, "published").hint  # 127.0.0.1: no note about other interfaces


def test_mistake_port_not_published(client, pscope, prefix):
    run_web(prefix, f'-v "{SITE}":{DOCROOT}:ro')
    res = EX.run(client, pscope)
    chk = result(res, "published")
    assert chk.status == "fail"
    assert "EXPOSE 80" in chk.message and "not published" in chk.message
    assert chk.evidence["HostConfig.PortBindings"] == {}
    assert "-p 127.0.0.1:" in chk.hint
    st = statuses(res)
    assert st["running"] == "pass" and st["mounted"] == "pass" and st["read-only"] == "pass"
    assert "Not checked yet" in result(res, "serves").message


def test_mistake_wrong_host_port(client, pscope, prefix, port):
    other = free_port()
    run_web(prefix, f'-p 127.0.0.1:{other}:80 -v "{SITE}":{DOCROOT}:ro')
    res = EX.run(client, pscope)
    chk = result(res, "published")
    assert chk.status == "fail"
    assert f"127.0.0.1:{other}" in chk.message and f"host port {port}" in chk.message
    assert f"-p 127.0.0.1:{port}:80" in chk.hint


def test_mistake_container_stopped(client, pscope, prefix, port):
    run_web(prefix, f'-p 127.0.0.1:{port}:80 -v "{SITE}":{DOCROOT}:ro')
    sh(f"docker stop -t 1 {prefix}web", prefix)
    res = EX.run(client, pscope)
    chk = result(res, "running")
    assert chk.status == "fail" and "exited" in chk.message
    assert chk.hint.startswith(f"Fix: docker start {prefix}web")
    st = statuses(res)
    assert st["published"] == "pass" and st["mounted"] == "pass"  # read from HostConfig, also when stopped
    assert "Not checked yet" in result(res, "serves").message


def test_mistake_nothing_mounted_serves_default_page(client, pscope, prefix, port):
    run_web(prefix, f"-p 127.0.0.1:{port}:80")
    wait_http(port)
    res = EX.run(client, pscope)
    mounted = result(res, "mounted")
    assert mounted.status == "fail" and "nothing is mounted" in mounted.message and "default page" in mounted.message
    serves = result(res, "serves")
    assert serves.status == "fail" and "Welcome to nginx" in serves.message
    assert statuses(res)["published"] == "pass"


def test_mistake_mount_writable(client, pscope, prefix, port):
    run_web(prefix, f'-p 127.0.0.1:{port}:80 -v "{SITE}":{DOCROOT}')
    wait_http(port)
    res = EX.run(client, pscope)
    chk = result(res, "read-only")
    assert chk.status == "fail" and "writable" in chk.message
    assert chk.evidence["Mounts[].RW"] is True and f"{DOCROOT}:ro" in chk.hint
    st = statuses(res)
    assert st["mounted"] == "pass" and st["serves"] == "pass"


def test_published_on_all_interfaces_passes_with_a_note(client, pscope, prefix, port):
    run_web(prefix, f'-p {port}:80 -v "{SITE}":{DOCROOT}:ro')
    wait_http(port)
    res = EX.run(client, pscope)
    assert res.passed, str(res)
    assert "127.0.0.1" in result(res, "published").hint


def test_mistake_paused_is_not_running(client, pscope, prefix, port):
    run_web(prefix, f'-p 127.0.0.1:{port}:80 -v "{SITE}":{DOCROOT}:ro')
    sh(f"docker pause {prefix}web", prefix)
    res = EX.run(client, pscope)
    chk = {c.id: c for c in res.checks}["running"]
    assert chk.status == "fail" and "paused" in chk.message
    assert chk.hint.startswith(f"Fix: docker unpause {prefix}web")
    assert "Not checked yet" in {c.id: c for c in res.checks}["serves"].message


def test_mistake_port_order_swapped(client, pscope, prefix, port):
    # `-p 80:8080` instead of `-p 8080:80` (here: container port PORT instead of 80, on a free host port)
    other = free_port()
    run_web(prefix, f'-p 127.0.0.1:{other}:{port} -v "{SITE}":{DOCROOT}:ro')
    res = EX.run(client, pscope)
    chk = {c.id: c for c in res.checks}["published"]
    assert chk.status == "fail"
    assert f"host port {other} to container port {port}" in chk.message and "host port comes first" in chk.message
    assert f"-p 127.0.0.1:{port}:80" in chk.hint


def test_mistake_run_from_another_folder_serves_an_empty_folder(client, pscope, prefix, port, tmp_path):
    # `$PWD/site` from the wrong folder: Docker creates it, empty, and nginx answers 403.
    run_web(prefix, f'-p 127.0.0.1:{port}:80 -v "{tmp_path}/site":{DOCROOT}:ro')
    wait_http(port)
    chk = {c.id: c for c in EX.run(client, pscope).checks}["serves"]
    assert chk.status == "fail" and "403" in chk.message
    assert f"no index.html in `{tmp_path}/site`" in chk.message and "another folder" in chk.message
