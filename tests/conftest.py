"""Fixtures: a real engine, a unique scope per test, and a leak check at the end."""
from __future__ import annotations

import time

import pytest

from checkers.scope import Scope

from .helpers import SESSION, free_port, new_prefix, pin_run_id, remove_prefixed


@pytest.fixture(scope="session")
def client():
    from checkers.engine import connect

    c = connect()
    started = int(time.time()) - 1
    yield c
    leftovers = remove_prefixed(c, SESSION)
    # Probe, trial and test containers made during this session (another session may share the engine).
    managed = [x for x in c.api.containers(all=True, filters={"label": ["org.dockercourse.managed=true"]})
               if (x.get("Labels") or {}).get("org.dockercourse.purpose") in ("probe", "trial", "test")
               and x.get("Created", 0) >= started]
    c.close()
    assert not leftovers, f"tests left objects behind (now removed): {leftovers}"
    assert not managed, f"checks or tests left labelled containers behind: {[m['Names'] for m in managed]}"


@pytest.fixture
def prefix(client):
    """A unique name prefix; everything with it is removed after the test."""
    p = new_prefix()
    yield p
    remove_prefixed(client, p)


@pytest.fixture
def scope(prefix):
    return Scope(prefix=prefix)


@pytest.fixture
def run(monkeypatch):
    """One known run id for the checks in a test (see helpers.own_snapshot)."""
    return pin_run_id(monkeypatch)


@pytest.fixture
def port():
    """A free host port, for a scope's port map."""
    return free_port()
