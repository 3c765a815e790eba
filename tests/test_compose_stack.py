"""compose-stack: the reference solution passes; each mistake, started for real with Compose, fails with its own hint."""
from __future__ import annotations

import pytest
import yaml

from checkers.exercises import load
from checkers.scope import Scope

from .helpers import EXERCISES, own_snapshot, sh, statuses, check_result as result

EX = load("compose-stack")
DIR = EXERCISES / "compose-stack"
REFERENCE = yaml.safe_load((DIR / "solution" / "compose.yaml").read_text())


@pytest.fixture
def pscope(prefix, port):
    return Scope(prefix=prefix, ports={8000: port})


def up(prefix, port, tmp_path, change=None):
    """`docker compose up -d --build` of the reference compose file, after ``change(doc)`` (a mistake)."""
    doc = yaml.safe_load(yaml.safe_dump(REFERENCE))
    if change:
        change(doc)
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    sh(f'docker compose -p "{prefix}compose-stack" --project-directory "{DIR}" -f "{path}" up -d --build --quiet-pull',
       prefix, env={"WEB_PORT": str(port)})
    return f'docker compose -p "{prefix}compose-stack" --project-directory "{DIR}" -f "{path}"'


def test_clean_engine_says_how_to_start(client, pscope, prefix, run):
    before = own_snapshot(client, prefix, run, intermediates=False)
    res = EX.run(client, pscope)
    first = res.checks[0]
    assert first.id == "project" and first.status == "fail"
    assert f"com.docker.compose.project={prefix}compose-stack" in first.message
    assert f"docker compose -p {prefix}compose-stack up -d --build" in first.hint
    assert all("Not checked yet" in c.message for c in res.checks[1:]) and res.exit_code == 1
    assert own_snapshot(client, prefix, run, like=before, intermediates=False) == before


@pytest.mark.slow
def test_reference_solution_passes_and_changes_nothing(client, pscope, prefix, port, run):
    sh(f"bash {DIR}/solution.sh", prefix, env={"DC_PORT_8000": str(port)})
    before = own_snapshot(client, prefix, run, intermediates=False)
    res = EX.run(client, pscope)
    assert res.passed, str(res)
    assert own_snapshot(client, prefix, run, like=before, intermediates=False) == before
    first, second = result(res, "counts").evidence[f"GET http://127.0.0.1:{port}/"]
    assert second == first + 1
    assert "PONG" in result(res, "by-name").message
    assert result(res, "volume").evidence[f"volume {prefix}compose-stack_redis-data Labels"][
        "com.docker.compose.volume"] == "redis-data"


@pytest.mark.slow
def test_mistake_service_down(client, pscope, prefix, port, tmp_path):
    compose = up(prefix, port, tmp_path)
    sh(f"{compose} stop -t 2 redis", prefix)
    res = EX.run(client, pscope)
    chk = result(res, "services")
    assert chk.status == "fail" and "`redis` is exited" in chk.message
    assert f"docker compose -p {prefix}compose-stack up -d redis" in chk.hint
    assert "Not checked yet" in result(res, "counts").message


@pytest.mark.slow
def test_mistake_port_unpublished(client, pscope, prefix, port, tmp_path):
    up(prefix, port, tmp_path, lambda d: d["services"]["web"].pop("ports"))
    res = EX.run(client, pscope)
    chk = result(res, "published")
    assert chk.status == "fail" and "not published" in chk.message
    assert f'ports: ["127.0.0.1:{port}:8000"]' in chk.hint
    st = statuses(res)
    assert st["by-name"] == "pass" and st["volume"] == "pass"
    assert "Not checked yet" in result(res, "counts").message


@pytest.mark.slow
def test_mistake_redis_data_not_in_named_volume(client, pscope, prefix, port, tmp_path):
    def anonymous(doc):
        doc["services"]["redis"].pop("volumes")
        doc.pop("volumes")
    up(prefix, port, tmp_path, anonymous)
    res = EX.run(client, pscope)
    chk = result(res, "volume")
    assert chk.status == "fail" and "anonymous volume" in chk.message
    assert 'volumes: ["redis-data:/data"]' in chk.hint
    st = statuses(res)
    assert st["counts"] == "pass" and st["by-name"] == "pass"  # it works, but the count would not survive


@pytest.mark.slow
def test_mistake_web_points_at_localhost(client, pscope, prefix, port, tmp_path):
    up(prefix, port, tmp_path, lambda d: d["services"]["web"]["environment"].update(REDIS_HOST="localhost"))
    res = EX.run(client, pscope)
    chk = result(res, "by-name")
    assert chk.status == "fail" and "`localhost`" in chk.message and "that container itself" in chk.message
    assert chk.evidence["web Config.Env REDIS_HOST"] == "localhost"
    assert "REDIS_HOST: redis" in chk.hint
    assert statuses(res)["published"] == "pass"
    assert "Not checked yet" in result(res, "counts").message


@pytest.mark.slow
def test_mistake_service_paused_says_unpause(client, pscope, prefix, port, tmp_path):
    compose = up(prefix, port, tmp_path)
    sh(f"{compose} pause redis", prefix)
    chk = {c.id: c for c in EX.run(client, pscope).checks}["services"]
    assert chk.status == "fail" and "`redis` is paused" in chk.message
    assert f"docker compose -p {prefix}compose-stack unpause redis" in chk.hint  # `up -d redis` refuses a paused one
    sh(f"{compose} unpause redis", prefix)


@pytest.mark.slow
def test_mistake_named_volume_at_the_wrong_path(client, pscope, prefix, port, tmp_path):
    up(prefix, port, tmp_path, lambda d: d["services"]["redis"].update(volumes=["redis-data:/var/lib/redis"]))
    chk = {c.id: c for c in EX.run(client, pscope).checks}["volume"]
    assert chk.status == "fail" and "`redis-data` is mounted at `/var/lib/redis`, not at /data" in chk.message
    assert 'volumes: ["redis-data:/data"]' in chk.hint
