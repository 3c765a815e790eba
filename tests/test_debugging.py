"""debugging: the shipped app really is broken in three layers; each layer, applied for real, fails the
right check with progressive hints (clue, stronger clue, fix); the reference fix passes."""
from __future__ import annotations

import json
import shutil

import pytest

from checkers.exercises import load
from checkers.scope import Scope

from .helpers import EXERCISES, free_port, sh, prefixed_snapshot as own, statuses, check_result as by_id

EX = load("debugging")
SRC = EXERCISES / "debugging"
SOLUTION = SRC / "solution"


@pytest.fixture
def state(tmp_path, monkeypatch):
    """The hint counter lives in a folder of this test's own."""
    folder = tmp_path / "state"
    monkeypatch.setenv("DOCKERCOURSE_STATE", str(folder))
    return folder / "hints" / "debugging.json"


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A learner's copy of exercises/debugging (without the solution), found by the advisor."""
    root = tmp_path / "exercises"
    dest = root / "debugging"
    shutil.copytree(SRC, dest, ignore=shutil.ignore_patterns("solution", "solution.sh"))
    monkeypatch.setenv("DOCKERCOURSE_EXERCISES", str(root))
    return dest


@pytest.fixture
def dscope(prefix, port):
    return Scope(prefix=prefix, ports={8081: port})


@pytest.fixture
def built(client, prefix):
    """Remove, after the test, the builds that lost their tag to a rebuild (unless another test still tags them)."""
    ids: list[str] = []
    yield ids
    for image_id in ids:
        try:
            img = client.api.inspect_image(image_id)
            if not img.get("RepoTags"):
                client.api.remove_image(image_id)
        except Exception:
            pass


def apply_fixes(work, *names):
    """Copy the reference version of the given files over the learner's copy."""
    for name in names:
        shutil.copy(SOLUTION / name, work / name)


def build_and_run(client, work, prefix, port, built, run_args=""):
    """What the learner types: build, remove the old container, run a new one; then give it a moment."""
    old = None
    try:
        old = client.api.inspect_image(f"{prefix}broken-app")["Id"]
    except Exception:
        pass
    sh(f'docker build -q -t "${{DC_PREFIX}}broken-app" "{work}" >/dev/null\n'
       'docker rm -f "${DC_PREFIX}broken-app" >/dev/null 2>&1 || true\n'
       f'docker run -d --name "${{DC_PREFIX}}broken-app" -p "127.0.0.1:{port}:8080" {run_args} "${{DC_PREFIX}}broken-app"'
       ' >/dev/null\n'
       # up for 1.5 s, or stopped
       'for _ in $(seq 1 15); do [ "$(docker inspect -f "{{.State.Running}}" "${DC_PREFIX}broken-app")" = true ] || break; '
       'sleep 0.1; done', prefix)
    if old:
        built.append(old)


def test_clean_engine_says_how_to_start(client, dscope, prefix, port, state, work):
    before = own(client, prefix)
    res = EX.run(client, dscope)
    first = res.checks[0]
    assert first.id == "image" and first.status == "fail"
    assert f"docker build -t {prefix}broken-app ." in first.hint
    assert f"-p 127.0.0.1:{port}:8080" in first.hint
    assert res.exit_code == 1 and all(c.status == "fail" for c in res.checks)
    assert own(client, prefix) == before


def test_reference_solution_passes_and_changes_nothing(client, dscope, prefix, port, state, work):
    sh(f"bash {SRC}/solution.sh", prefix, env={"DC_PORT_8081": str(port)})
    before = own(client, prefix)
    res = EX.run(client, dscope)
    assert res.passed, str(res)
    assert res.seconds < 3
    assert "listening on 0.0.0.0:8080" in by_id(res, "clean-logs").message
    assert '"status": "ok"' in by_id(res, "answers").evidence["body"]
    assert own(client, prefix) == before
    assert res.advice == []  # the shipped Dockerfile is hadolint-clean
    assert not state.exists() or json.loads(state.read_text()) == {}


def progressive(client, dscope, check_id):
    """Run the check three times; return the failing check's result each time."""
    out = []
    for _ in range(3):
        res = EX.run(client, dscope)
        chk = by_id(res, check_id)
        assert chk.status == "fail", str(res)
        out.append(chk)
    return out


def test_fault_1_server_in_background_exits_at_once(client, dscope, prefix, port, state, work, built):
    build_and_run(client, work, prefix, port, built)
    first, second, third = progressive(client, dscope, "stays-up")
    assert "with exit code 0" in first.message
    assert first.evidence["State.ExitCode"] == 0 and "broken-app: started" in first.evidence["docker logs (last lines)"]
    # the first hint points at evidence, the second at the main process, only the third gives the fix away
    assert first.hint.startswith("Clue 1 of 3") and "docker logs" in first.hint
    assert "&" not in first.hint and "exec python3" not in first.hint
    assert second.hint.startswith("Clue 2 of 3") and ".Config.Cmd" in second.hint and "exec python3" not in second.hint
    assert third.hint.startswith("Fix:") and "exec python3 /app/server.py" in third.hint and "`&`" in third.hint
    assert third.evidence["hint level"] == "3 of 3"
    assert json.loads(state.read_text())[f"{prefix}|127.0.0.1|{port}"]["signature"] == "exits-at-once"
    # another scope (here: another port map) keeps its own counter
    other = Scope(prefix=prefix, ports={8081: free_port()})
    assert by_id(EX.run(client, other), "stays-up").hint.startswith("Clue 1 of 3")


def test_fault_2_config_read_from_wrong_path(client, dscope, prefix, port, state, work, built):
    apply_fixes(work, "start.sh")
    build_and_run(client, work, prefix, port, built)
    first, second, third = progressive(client, dscope, "stays-up")
    assert "with exit code 1" in first.message
    assert any("config file not found: /etc/broken-app/config.json" in line
               for line in first.evidence["docker logs (last lines)"])
    assert first.hint.startswith("Clue 1 of 3") and "COPY" not in first.hint
    assert second.hint.startswith("Clue 2 of 3") and "docker run --rm" in second.hint and "ls -l /app" in second.hint
    assert third.hint.startswith("Fix:") and "COPY config.json /etc/broken-app/config.json" in third.hint


def test_fault_3_listens_on_loopback_inside(client, dscope, prefix, port, state, work, built):
    apply_fixes(work, "start.sh", "Dockerfile")
    build_and_run(client, work, prefix, port, built)
    first, second, third = progressive(client, dscope, "answers")
    assert "the port is published, but nothing answers" in first.message
    assert first.evidence["inside: GET http://127.0.0.1:8080/"] == "200"  # what `docker exec` shows
    assert first.hint.startswith("Clue 1 of 3") and "docker exec" in first.hint and "0.0.0.0" not in first.hint
    assert second.hint.startswith("Clue 2 of 3") and "listening on 127.0.0.1:8080" in second.hint
    assert third.hint.startswith("Fix:") and '"host": "0.0.0.0"' in third.hint
    res = EX.run(client, dscope)
    st = statuses(res)
    assert st["stays-up"] == "pass" and st["clean-logs"] == "pass"


@pytest.mark.slow
def test_layers_one_after_another(client, dscope, prefix, port, state, work, built):
    """The learner's journey: each fix reveals the next fault, which starts again at clue 1; all fixed, all pass."""
    key = f"{prefix}|127.0.0.1|{port}"
    build_and_run(client, work, prefix, port, built)
    assert by_id(EX.run(client, dscope), "stays-up").hint.startswith("Clue 1 of 3")
    assert by_id(EX.run(client, dscope), "stays-up").hint.startswith("Clue 2 of 3")
    apply_fixes(work, "start.sh")
    build_and_run(client, work, prefix, port, built)
    chk = by_id(EX.run(client, dscope), "stays-up")
    assert "exit code 1" in chk.message and chk.hint.startswith("Clue 1 of 3")
    apply_fixes(work, "Dockerfile")
    build_and_run(client, work, prefix, port, built)
    chk = by_id(EX.run(client, dscope), "answers")
    assert chk.hint.startswith("Clue 1 of 3")
    assert json.loads(state.read_text())[key]["signature"] == "loopback-only"
    apply_fixes(work, "config.json")
    build_and_run(client, work, prefix, port, built)
    res = EX.run(client, dscope)
    assert res.passed, str(res)
    assert key not in json.loads(state.read_text())


def test_mistake_rebuilt_but_old_container(client, dscope, prefix, port, state, work, built):
    build_and_run(client, work, prefix, port, built)
    apply_fixes(work, "start.sh", "Dockerfile", "config.json")
    sh(f'docker build -q -t "${{DC_PREFIX}}broken-app" "{work}" >/dev/null', prefix)
    res = EX.run(client, dscope)
    chk = by_id(res, "current-image")
    assert chk.status == "fail" and "created from an older build" in chk.message
    assert chk.hint.startswith(f"Fix: docker rm -f {prefix}broken-app && docker run -d --name {prefix}broken-app")
    assert statuses(res)["stays-up"] == "fail" and "Not checked yet" in by_id(res, "stays-up").message
    # the old build is no longer tagged: remove it with the container
    old = client.api.inspect_container(f"{prefix}broken-app")["Image"]
    sh('docker rm -f "${DC_PREFIX}broken-app" >/dev/null', prefix)
    built.append(old)


def test_mistake_port_not_published_as_asked(client, prefix, port, state, work, built):
    apply_fixes(work, "start.sh", "Dockerfile", "config.json")
    other = free_port()
    build_and_run(client, work, prefix, other, built)  # published on another host port
    res = EX.run(client, Scope(prefix=prefix, ports={8081: port}))
    chk = by_id(res, "answers")
    assert chk.status == "fail" and f"does not publish anything on 127.0.0.1:{port}" in chk.message
    assert chk.hint.startswith(f"Fix: docker rm -f {prefix}broken-app && docker run -d --name {prefix}broken-app "
                               f"-p 127.0.0.1:{port}:8080")


def test_mistake_restart_policy_hides_the_crash(client, dscope, prefix, port, state, work, built):
    apply_fixes(work, "start.sh")  # fault 2: it crashes on start
    build_and_run(client, work, prefix, port, built, run_args="--restart on-failure")
    sh('for _ in $(seq 1 50); do [ "$(docker inspect -f "{{.RestartCount}}" "${DC_PREFIX}broken-app")" -ge 1 ] && break; '
       'sleep 0.1; done', prefix)
    res = EX.run(client, dscope)
    chk = by_id(res, "stays-up")
    assert chk.status == "fail" and "has restarted" in chk.message
    assert chk.evidence["RestartCount"] >= 1


def test_command_override_passes_with_a_note(client, dscope, prefix, port, state, work, built):
    apply_fixes(work, "Dockerfile", "config.json")  # start.sh still broken: the learner works around it
    sh(f'docker build -q -t "${{DC_PREFIX}}broken-app" "{work}" >/dev/null\n'
       f'docker run -d --name "${{DC_PREFIX}}broken-app" -p "127.0.0.1:{port}:8080" "${{DC_PREFIX}}broken-app" '
       'python3 /app/server.py --config /etc/broken-app/config.json >/dev/null\n'
       f'for _ in $(seq 1 40); do curl -fs "http://127.0.0.1:{port}/" >/dev/null && break; sleep 0.1; done', prefix)
    res = EX.run(client, dscope)
    assert res.passed, str(res)
    assert by_id(res, "current-image").hint.startswith("Note (not a fail): you override the image's command")


def test_hadolint_advice_on_the_learners_dockerfile(client, dscope, state, work):
    (work / "Dockerfile").write_text("FROM python:3.11-slim\nRUN cd /app && ls\nCMD sh /app/start.sh\n")
    res = EX.run(client, dscope)
    assert any("DL3003" in a for a in res.advice), res.advice  # use WORKDIR instead of cd
    assert any("DL3025" in a for a in res.advice), res.advice  # JSON form for CMD
    assert by_id(res, "image").status == "fail"  # advice never changes a check


def test_mistake_container_from_another_image(client, dscope, prefix, port, state, work, built):
    sh(f'docker build -q -t "${{DC_PREFIX}}broken-app" "{work}" >/dev/null\n'
       f'docker run -d --name "${{DC_PREFIX}}broken-app" -p "127.0.0.1:{port}:8080" python:3.11-slim '
       'python3 -m http.server 8080 >/dev/null', prefix)
    res = EX.run(client, dscope)
    chk = by_id(res, "current-image")
    assert chk.status == "fail" and "runs the image `python:3.11-slim`, not your build" in chk.message
    assert chk.hint.startswith(f"Fix: docker rm -f {prefix}broken-app && docker run")
