"""build-cache: the reference solution passes; each mistake, built for real, fails with its own hint."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from checkers.exercises import load
from checkers.exercises.build_cache import copy_sources, instructions

from .helpers import EXERCISES, own_snapshot, sh, statuses, check_result as result

EX = load("build-cache")
SRC = EXERCISES / "build-cache"


@pytest.fixture
def folder(tmp_path, monkeypatch, prefix):
    """A learner's copy of the starting folder (starter Dockerfile, no .dockerignore, no data/ yet)."""
    dest = tmp_path / "exercises" / "build-cache"
    top = {"data", "Dockerfile.before-solution", ".dockerignore"}
    shutil.copytree(SRC, dest, ignore=lambda d, names: [n for n in names if d == str(SRC) and n in top])
    shutil.copy(SRC / "Dockerfile", dest / "Dockerfile")  # the starter, even if someone ran solution.sh in the repo
    # Layers of this test's own (pip ignores the comment): builds of the same files elsewhere share none of them.
    with open(dest / "requirements.txt", "a") as f:
        f.write(f"# {prefix}\n")
    monkeypatch.setenv("DOCKERCOURSE_EXERCISES", str(tmp_path / "exercises"))
    return dest


def make_data(folder):
    subprocess.run([sys.executable, str(folder / "make_data.py")], check=True, capture_output=True)


def build(folder, prefix):
    sh(f"docker build -q -t {prefix}cache-app:1.0 {folder}", prefix)


def test_dockerfile_parsing():
    text = "FROM python:3.11-slim\n# a comment\nCOPY --chown=1000 requirements.txt \\\n   ./\nRUN pip install \\\n  -r requirements.txt\nCOPY [\"app.py\", \"/app/\"]\n"
    steps = instructions(text)
    assert [(no, w) for no, w, _ in steps] == [(1, "FROM"), (3, "COPY"), (5, "RUN"), (7, "COPY")]
    assert copy_sources(steps[1][2]) == ["requirements.txt"]
    assert copy_sources(steps[3][2]) == ["app.py"]


def test_clean_engine_says_how_to_start(client, scope, prefix, folder, run):
    before = own_snapshot(client, prefix, run)
    res = EX.run(client, scope)
    first = res.checks[0]
    assert first.id == "exists" and first.status == "fail" and "no image" in first.message
    assert "python3 make_data.py" in first.hint and f"docker build -t {prefix}cache-app:1.0" in first.hint
    assert "Not checked yet" in result(res, "cache").message
    # the starting folder has exactly the two mistakes the exercise is about
    assert statuses(res)["order"] == "fail" and statuses(res)["dockerignore"] == "fail"
    assert not res.errored and res.exit_code == 1
    assert own_snapshot(client, prefix, run, like=before) == before


@pytest.mark.slow
def test_reference_solution_passes_and_changes_nothing(client, scope, prefix, folder, run):
    sh(f"bash {folder}/solution.sh", prefix)
    assert (folder / "data").is_dir() and (folder / "Dockerfile.before-solution").is_file()
    before = own_snapshot(client, prefix, run)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert own_snapshot(client, prefix, run, like=before) == before
    cache = result(res, "cache")
    assert cache.evidence["trial build 2 said"] == "---> Using cache"
    assert cache.evidence["install layer (build 1)"] == cache.evidence["install layer (build 2)"]
    ctx = result(res, "dockerignore")
    assert "kB" in ctx.evidence["context size"] and "MB" in ctx.evidence["folder size (no .dockerignore)"]


@pytest.mark.slow
def test_mistake_copy_everything_before_install(client, scope, prefix, folder, run):
    make_data(folder)
    shutil.copy(SRC / "solution" / ".dockerignore", folder / ".dockerignore")  # only the order is wrong
    build(folder, prefix)
    before = own_snapshot(client, prefix, run)
    res = EX.run(client, scope)
    assert own_snapshot(client, prefix, run, like=before) == before, str(res)  # trial builds fully removed
    order = result(res, "order")
    assert order.status == "fail" and "`COPY . .`" in order.message and "line 5" in order.message
    assert "COPY requirements.txt ./" in order.hint
    cache = result(res, "cache")
    assert cache.status == "fail" and "again (no cache)" in cache.message
    assert cache.evidence["trial build 2 said"].startswith("---> Running in")
    assert cache.evidence["install layer (build 1)"] != cache.evidence["install layer (build 2)"]
    assert statuses(res)["dockerignore"] == "pass"


@pytest.mark.slow
def test_mistake_no_dockerignore(client, scope, prefix, folder):
    make_data(folder)
    shutil.copy(SRC / "solution" / "Dockerfile", folder / "Dockerfile")  # only .dockerignore is missing
    build(folder, prefix)
    res = EX.run(client, scope)
    chk = result(res, "dockerignore")
    assert chk.status == "fail" and "no .dockerignore" in chk.message and "data/ is 21.0 MB" in chk.message
    assert "printf 'data/\\n.git\\n' >> .dockerignore" in chk.hint
    st = statuses(res)
    assert st["order"] == "pass" and st["cache"] == "pass"


def test_dockerignore_without_git_and_without_data(client, scope, prefix, folder):
    (folder / ".dockerignore").write_text("data/\n")
    res = EX.run(client, scope, only=["dockerignore"])
    chk = result(res, "dockerignore")
    assert chk.status == "fail" and "does not leave out .git" in chk.message
    assert "printf '.git\\n' >> .dockerignore" in chk.hint
    assert "data/ is not there yet" in chk.message and "make_data.py" in chk.message
    (folder / ".dockerignore").write_text("data\n.git\n")
    res = EX.run(client, scope, only=["dockerignore"])
    assert res.passed, str(res)
    assert "make_data.py" in result(res, "dockerignore").hint  # still says data/ was absent
