"""first-image: the reference solution passes; each beginner mistake, built for real, fails with its own hint."""
from __future__ import annotations

import shutil

import pytest

from checkers.exercises import load

from .helpers import EXERCISES, own_snapshot, sh, statuses, check_result as result

EX = load("first-image")
SOLUTION = (EXERCISES / "first-image" / "solution" / "Dockerfile").read_text()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A learner's copy of the exercise folder; the check's advisor reads its Dockerfile."""
    dest = tmp_path / "exercises" / "first-image"
    shutil.copytree(EXERCISES / "first-image", dest)
    monkeypatch.setenv("DOCKERCOURSE_EXERCISES", str(tmp_path / "exercises"))
    return dest


def build(folder, prefix, dockerfile: str, tag: str = "hello-app:1.0"):
    (folder / "Dockerfile").write_text(dockerfile)
    sh(f"docker build -q -t {prefix}{tag} {folder}", prefix)


def test_clean_engine_says_how_to_start(client, scope, prefix, run):
    before = own_snapshot(client, prefix, run, intermediates=False)
    res = EX.run(client, scope)
    first = res.checks[0]
    assert first.id == "exists" and first.status == "fail"
    assert "no image" in first.message and "docker build -t" in first.hint
    assert all("Not checked yet" in c.message for c in res.checks[1:])
    assert res.exit_code == 1
    assert own_snapshot(client, prefix, run, like=before, intermediates=False) == before


@pytest.mark.slow
def test_reference_solution_passes_and_changes_nothing(client, scope, prefix, run):
    sh(f"bash {EXERCISES}/first-image/solution.sh", prefix)
    before = own_snapshot(client, prefix, run, intermediates=False)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert own_snapshot(client, prefix, run, like=before, intermediates=False) == before
    runs = result(res, "runs")
    assert runs.evidence["trial: State.ExitCode"] == 0 and runs.evidence["trial: docker stop took (s)"] < 2


@pytest.mark.slow
def test_mistake_no_1_0_tag(client, scope, prefix, folder):
    build(folder, prefix, SOLUTION, tag="hello-app")
    res = EX.run(client, scope)
    chk = result(res, "exists")
    assert chk.status == "fail" and f"{prefix}hello-app:latest" in chk.message and "latest" in chk.message
    assert chk.hint.startswith(f"Fix: docker tag {prefix}hello-app:latest {prefix}hello-app:1.0")


@pytest.mark.slow
def test_mistake_shell_form_cmd_costs_the_grace_period(client, scope, prefix, folder, run):
    build(folder, prefix, SOLUTION.replace('CMD ["python", "app.py"]', "CMD python app.py"))
    before = own_snapshot(client, prefix, run, intermediates=False)
    res = EX.run(client, scope)
    after = own_snapshot(client, prefix, run, like=before, intermediates=False)
    assert after == before, (after, str(res))  # the trial container is gone
    chk = result(res, "cmd")
    assert chk.status == "fail" and "shell form" in chk.message
    assert chk.evidence.get("trial: State.ExitCode") == 137, chk.evidence
    assert chk.evidence["trial: docker stop took (s)"] >= 2.8, chk.evidence
    assert "137" in chk.message and "grace" in chk.message
    assert 'CMD ["python", "app.py"]' in chk.hint
    st = statuses(res)
    assert st["deps"] == "pass" and st["workdir"] == "pass" and st["base"] == "pass"
    assert any("DL3025" in a for a in res.advice)  # hadolint agrees (advice, never a fail)


@pytest.mark.slow
def test_mistake_dependencies_not_installed(client, scope, prefix, folder, run):
    build(folder, prefix, "\n".join(l for l in SOLUTION.splitlines() if not l.startswith("RUN pip")) + "\n")
    before = own_snapshot(client, prefix, run, intermediates=False)
    res = EX.run(client, scope)
    assert own_snapshot(client, prefix, run, like=before, intermediates=False) == before  # the probe container is gone
    chk = result(res, "deps")
    assert chk.status == "fail" and "ModuleNotFoundError" in chk.message
    assert "pip install --no-cache-dir --no-index --find-links wheels -r requirements.txt" in chk.hint
    assert statuses(res)["cmd"] == "pass"
    assert "Not checked yet" in result(res, "runs").message


@pytest.mark.slow
def test_mistake_wrong_base(client, scope, prefix, folder):
    build(folder, prefix, SOLUTION.replace("FROM python:3.11-slim", "FROM busybox:1.35")
          .replace("RUN pip install", "# RUN pip install"))
    res = EX.run(client, scope)
    chk = result(res, "base")
    assert chk.status == "fail" and "python:3.11-slim" in chk.message
    assert "FROM python:3.11-slim" in chk.hint
    assert statuses(res)["deps"] == "fail"


@pytest.mark.slow
def test_mistake_workdir_missing(client, scope, prefix, folder):
    build(folder, prefix, SOLUTION.replace("WORKDIR /app", "").replace("./", "/app/").replace(
        "COPY wheels/ wheels/", "COPY wheels/ /app/wheels/").replace("--find-links wheels -r requirements.txt",
                                                                    "--find-links /app/wheels -r /app/requirements.txt")
          .replace('CMD ["python", "app.py"]', 'CMD ["python", "/app/app.py"]'))
    res = EX.run(client, scope)
    chk = result(res, "workdir")
    assert chk.status == "fail" and "WORKDIR /app" in chk.hint
    st = statuses(res)
    assert st["deps"] == "pass" and st["runs"] == "pass"
