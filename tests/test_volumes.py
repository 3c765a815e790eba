"""volumes: the reference solution passes; each known mistake, applied for real, fails with its own hint."""
from __future__ import annotations

import pytest

from checkers.exercises import load

from .helpers import EXERCISES, sh, prefixed_snapshot as own, statuses, check_result as by_id

EX = load("volumes")
DATA = "/var/lib/postgresql/data"
RUN = 'docker run -d --name "${DC_PREFIX}db" -e POSTGRES_PASSWORD=course'
WAIT = '''
wait_ready() {
  for _ in $(seq 1 120); do
    docker exec "${DC_PREFIX}db" pg_isready -q -h 127.0.0.1 -U postgres && return 0
    sleep 0.25
  done
  docker logs "${DC_PREFIX}db" >&2; return 1
}
'''
TABLE = ('docker exec "${DC_PREFIX}db" psql -U postgres -c "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, '
         'created_at timestamptz NOT NULL DEFAULT now()); INSERT INTO notes (body) VALUES (\'hello\');"')


def test_clean_engine_says_how_to_start(client, scope, prefix):
    before = own(client, prefix)
    res = EX.run(client, scope)
    first = res.checks[0]
    assert first.id == "exists" and first.status == "fail"
    assert "docker volume create" in first.hint and "-v " in first.hint and "POSTGRES_PASSWORD" in first.hint
    assert all(c.status == "fail" for c in res.checks) and res.exit_code == 1
    assert own(client, prefix) == before


@pytest.mark.slow
def test_reference_solution_passes_and_changes_nothing(client, scope, prefix):
    sh(f"bash {EXERCISES}/volumes/solution.sh", prefix)
    before = own(client, prefix)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert res.seconds < 3
    assert own(client, prefix) == before and before["containers"] and before["volumes"]
    # the row is really there, and older than the container
    assert by_id(res, "table").evidence["rows"] == 1


def test_mistake_no_volume_gets_an_anonymous_one(client, scope, prefix):
    sh(f"{RUN} postgres:15", prefix)
    res = EX.run(client, scope)
    chk = by_id(res, "volume")
    assert chk.status == "fail" and "anonymous volume" in chk.message and "leave out `-v`" in chk.message
    assert f"-v {prefix}pgdata:{DATA}" in chk.hint
    assert chk.evidence["Mounts"][0]["Destination"] == DATA


def test_mistake_anonymous_volume(client, scope, prefix):
    sh(f"{RUN} -v {DATA} postgres:15", prefix)
    res = EX.run(client, scope)
    chk = by_id(res, "volume")
    assert chk.status == "fail" and "anonymous volume" in chk.message
    assert statuses(res)["exists"] == "pass" and statuses(res)["image"] == "pass"


def test_mistake_bind_mount(client, scope, prefix, tmp_path):
    host = tmp_path / "pgdata"
    host.mkdir()
    sh(f'{RUN} -v "{host}:{DATA}" postgres:15', prefix)
    res = EX.run(client, scope)
    chk = by_id(res, "volume")
    assert chk.status == "fail" and "bind mount" in chk.message and str(host) in chk.message
    assert chk.evidence["Mounts"][0]["Type"] == "bind"
    # the database wrote into the host folder: remove the container before pytest removes the folder
    sh('docker rm -f "${DC_PREFIX}db"', prefix)


def test_mistake_volume_at_wrong_path(client, scope, prefix):
    sh(f'{RUN} -v "${{DC_PREFIX}}pgdata:/data" postgres:15', prefix)
    res = EX.run(client, scope)
    chk = by_id(res, "volume")
    assert chk.status == "fail"
    assert f"`{prefix}pgdata` is mounted at `/data`" in chk.message and "anonymous volume" in chk.message
    assert "VOLUME /var/lib/postgresql/data" in chk.message


def test_mistake_no_password_exits(client, scope, prefix):
    sh('docker run -d --name "${DC_PREFIX}db" -v "${DC_PREFIX}pgdata:/var/lib/postgresql/data" postgres:15 && '
       'docker wait "${DC_PREFIX}db" >/dev/null', prefix)
    res = EX.run(client, scope)
    chk = by_id(res, "running")
    assert chk.status == "fail" and "without a password" in chk.message and "POSTGRES_PASSWORD=" in chk.hint
    assert statuses(res)["volume"] == "pass"
    assert statuses(res)["table"] == "fail" and "Not checked yet" in by_id(res, "table").message


@pytest.mark.slow
def test_mistake_row_missing_after_recreation(client, scope, prefix):
    """The row was written in a container without the named volume; the new container cannot see it."""
    sh(WAIT + f"""
{RUN} postgres:15
wait_ready
{TABLE}
docker rm -f -v "${{DC_PREFIX}}db"
{RUN} -v "${{DC_PREFIX}}pgdata:{DATA}" postgres:15
wait_ready
""", prefix)
    res = EX.run(client, scope)
    st = statuses(res)
    assert st["volume"] == "pass" and st["running"] == "pass"
    chk = by_id(res, "table")
    assert chk.status == "fail" and "no table `notes`" in chk.message
    assert "CREATE TABLE notes" in chk.hint and "`docker rm` throws away" in chk.message
    assert st["survived"] == "fail" and "Not checked yet" in by_id(res, "survived").message


def test_mistake_never_replaced(client, scope, prefix):
    """Row and volume are right, but the container was never replaced: nothing proves the data survives."""
    sh(WAIT + f"""
docker volume create "${{DC_PREFIX}}pgdata" >/dev/null
{RUN} -v "${{DC_PREFIX}}pgdata:{DATA}" postgres:15
wait_ready
{TABLE}
docker restart "${{DC_PREFIX}}db" >/dev/null
wait_ready
""", prefix)
    res = EX.run(client, scope)
    st = statuses(res)
    assert st["table"] == "pass" and st["volume"] == "pass"
    chk = by_id(res, "survived")
    assert chk.status == "fail" and "after this container was created" in chk.message
    assert "Stopping and starting is not enough" in chk.message and "docker rm -f" in chk.hint
    assert "min(notes.created_at)" in chk.evidence


def test_mistake_paused_says_unpause(client, scope, prefix):
    sh(f"docker run -d --name {prefix}db busybox:1.35 sleep 300 && docker pause {prefix}db", prefix)
    chk = {c.id: c for c in EX.run(client, scope).checks}["running"]
    assert chk.status == "fail" and "paused" in chk.message
    assert chk.hint.startswith(f"Fix: docker unpause {prefix}db")


def test_a_container_matching_only_by_id_prefix_is_not_db(client, prefix):
    # The engine resolves an unknown name as an id prefix: with no container `db`, inspecting `db` finds
    # any container whose id starts with "db" (someone else's). The check must not look at it.
    from checkers.scope import Scope

    from .helpers import id_prefix_decoy

    hexprefix = id_prefix_decoy(client, prefix, "db")
    first = EX.run(client, Scope(prefix=hexprefix)).checks[0]
    assert first.id == "exists" and first.status == "fail" and "no container" in first.message
