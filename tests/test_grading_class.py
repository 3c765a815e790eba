"""Grading a simulated class for real: correct, partly wrong and hostile submissions, each with the right verdict.

The submissions are made here from the course's own files (``exercises/<id>/`` and their reference
solutions) plus mutations, so they cannot rot. One grading run of the whole class (module fixture)
is shared by the assertions; resume, --only, the start sweep and Ctrl-C have their own short runs.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml

from checkers.grading import verdicts as V
from checkers.grading.gradebook import gradebook_id
from checkers.grading.sandbox import Deadlines, Limits, remaining
from checkers.grading.submissions import Options, grade_submissions
from checkers.labels import MANAGED, PURPOSE, RUN

from .helpers import EXERCISES

pytestmark = pytest.mark.slow

COMPOSE_REF = yaml.safe_load((EXERCISES / "compose-stack" / "solution" / "compose.yaml").read_text())
FIRST_IMAGE_REF = (EXERCISES / "first-image" / "solution" / "Dockerfile").read_text()
LEARNER_ONLY = shutil.ignore_patterns("solution", "solution.sh", "README.md", "exercise.ipynb", "wheels", "__pycache__")
LIMITS = Limits(memory="192m", pids=128)
DEADLINES = Deadlines(build=25, start=60, settle=8)


# ------------------------------------------------------------------ making submissions
def compose_stack(dest: Path, change=None, dockerfile_extra: str = "") -> Path:
    """A compose-stack folder: the reference compose file after ``change(doc)``; ``dockerfile_extra``
    is added to web/Dockerfile."""
    d = dest / "compose-stack"
    shutil.copytree(EXERCISES / "compose-stack", d, ignore=LEARNER_ONLY)
    doc = yaml.safe_load(yaml.safe_dump(COMPOSE_REF))
    if change:
        change(doc)
    (d / "compose.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    if dockerfile_extra:
        df = d / "web" / "Dockerfile"
        lines = df.read_text().splitlines()
        df.write_text("\n".join(lines[:2] + [dockerfile_extra] + lines[2:]) + "\n")
    return d


def first_image(dest: Path, dockerfile: str = FIRST_IMAGE_REF) -> Path:
    d = dest / "first-image"
    shutil.copytree(EXERCISES / "first-image", d, ignore=LEARNER_ONLY)  # wheels/ left out: the grader provides them
    (d / "Dockerfile").write_text(dockerfile)
    return d


def web(**settings):
    return lambda doc: doc["services"]["web"].update(settings)


def pack_zip(folder: Path, dest: Path, wrapper: str) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{wrapper}/{p.relative_to(folder)}")
    return dest


def pack_tar(folder: Path, dest: Path, evil: list[tarfile.TarInfo] | None = None) -> Path:
    with tarfile.open(dest, "w:gz") as tf:
        for p in sorted(folder.iterdir()):
            tf.add(p, arcname=p.name)
        for info in evil or []:
            data = b"pwned\n"
            info.size = len(data) if info.isreg() else 0
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return dest


def git_repo(folder: Path) -> Path:
    env = {**os.environ, "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@x", "GIT_COMMITTER_NAME": "s",
           "GIT_COMMITTER_EMAIL": "s@x"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "my work"]):
        subprocess.run(cmd, cwd=folder, env=env, check=True, capture_output=True)
    return folder


def build_class(root: Path, sentinel: Path) -> dict[str, dict[str, str]]:
    """The class: name -> {exercise: expected verdict}."""
    subs = root / "submissions"
    subs.mkdir()
    tmp = root / "staging"
    expect: dict[str, dict[str, str]] = {}

    def folder(name):
        d = tmp / name
        d.mkdir(parents=True)
        return d

    # ---- correct work, as a plain folder
    ada = folder("ada")
    compose_stack(ada)
    first_image(ada)
    shutil.move(str(ada), subs / "ada")
    expect["ada"] = {"compose-stack": V.PASS, "first-image": V.PASS}

    # ---- partly wrong: the mistakes of the exercise issues, in every kind of hand-in
    ben = folder("ben")
    compose_stack(ben, lambda d: d["services"]["web"].pop("ports"))  # port not published; no first-image at all
    pack_zip(ben, subs / "Ben.zip", wrapper="ben")
    expect["ben"] = {"compose-stack": V.FAIL, "first-image": V.MISSING}

    cy = folder("cy")
    compose_stack(cy, lambda d: d["services"]["web"]["environment"].update(REDIS_HOST="localhost"))
    first_image(cy, FIRST_IMAGE_REF.replace('CMD ["python", "app.py"]', "CMD python app.py"))  # shell form
    pack_tar(cy, subs / "cy.tar.gz")
    expect["cy"] = {"compose-stack": V.FAIL, "first-image": V.FAIL}

    dee = subs / "dee"
    dee.mkdir()

    def anonymous(d):
        d["services"]["redis"].pop("volumes")
        d.pop("volumes")
    compose_stack(dee, anonymous)
    git_repo(dee)
    expect["dee"] = {"compose-stack": V.FAIL}

    # ---- hostile: each would touch the host file if it ran
    touch = f"sh -c 'echo pwned > /host{sentinel}'"
    eve = subs / "eve"
    compose_stack(eve, web(privileged=True, command=touch))
    expect["eve"] = {"compose-stack": V.REFUSED}

    fay = subs / "fay"
    compose_stack(fay, web(volumes=["/:/host"], command=touch))
    expect["fay"] = {"compose-stack": V.REFUSED}

    gus = subs / "gus"
    compose_stack(gus, web(volumes=["/var/run/docker.sock:/var/run/docker.sock"],
                           command="python -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/var/run/docker.sock\")'"))
    expect["gus"] = {"compose-stack": V.REFUSED}

    hal = subs / "hal"  # a fork bomb instead of the app: the pids limit contains it
    compose_stack(hal, web(command=["sh", "-c", "b() { b | b & }; b; sleep 600"]))
    expect["hal"] = {"compose-stack": V.FAIL}

    ivy = subs / "ivy"  # a build step that never ends: the build deadline stops it
    compose_stack(ivy, dockerfile_extra="RUN sleep 3600")
    expect["ivy"] = {"compose-stack": V.TIMEOUT}

    jon = subs / "jon"  # floods its log, and works: the log stays bounded, the grade is not affected
    compose_stack(jon, web(command=["sh", "-c", "yes 'flood flood flood flood flood flood flood' & exec python app.py"]))
    expect["jon"] = {"compose-stack": V.PASS}

    kim = folder("kim")  # an archive whose paths climb out of the workspace
    compose_stack(kim)
    evil = []
    for name in ("../" * 12 + str(sentinel).lstrip("/"), str(sentinel), "compose-stack/../../../../../../../../x"):
        evil.append(tarfile.TarInfo(name))
    link = tarfile.TarInfo("compose-stack/web/host")
    link.type, link.linkname = tarfile.SYMTYPE, str(sentinel.parent)
    evil.append(link)
    pack_tar(kim, subs / "kim.tgz", evil)
    expect["kim"] = {"compose-stack": V.REFUSED, "first-image": V.REFUSED}  # the whole hand-in is refused

    lou = subs / "lou"  # a Dockerfile that fails to build
    compose_stack(lou, dockerfile_extra="RUN echo 'about to fail' && exit 3")
    expect["lou"] = {"compose-stack": V.BUILD_FAILED}

    max_ = subs / "max"  # more memory than the grading limit
    compose_stack(max_, web(command=["python", "-c", "x = bytearray(600 * 1024 * 1024); import time; time.sleep(60)"]))
    expect["max"] = {"compose-stack": V.OOM_KILLED}
    for name in expect:
        expect[name].setdefault("first-image", V.MISSING)
    return expect


# ------------------------------------------------------------------ the graded class
@pytest.fixture(scope="module")
def graded(client, tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    host = root / "host"
    host.mkdir()
    sentinel = host / "sentinel.txt"
    sentinel.write_text("the instructor's file\n")
    expect = build_class(root, sentinel)
    lines: list[str] = []
    out = root / "grades"
    t0 = time.monotonic()
    data = grade_submissions(root / "submissions", Options(
        exercises=["compose-stack", "first-image"], out=out, workers=2, limits=LIMITS, deadlines=DEADLINES,
        progress=lines.append))
    seconds = time.monotonic() - t0
    yield {"root": root, "out": out, "data": data, "expect": expect, "sentinel": sentinel, "host": host,
           "lines": lines, "seconds": seconds, "run": data["runs"][-1]["run"]}


def rec(graded, student, exercise="compose-stack"):
    return graded["data"]["results"][student][exercise]


def check(record, check_id):
    return next(c for c in record["checks"] if c["id"] == check_id)


def test_every_submission_gets_the_right_verdict(graded):
    got = {s: {e: r["verdict"] for e, r in recs.items()} for s, recs in graded["data"]["results"].items()}
    assert got == graded["expect"], "\n".join(graded["lines"])
    assert len(got) >= 10


def test_nothing_outside_the_workspaces_changed_and_nothing_is_left(client, graded):
    assert graded["sentinel"].read_text() == "the instructor's file\n"
    assert sorted(p.name for p in graded["host"].iterdir()) == ["sentinel.txt"]
    assert not Path("/x").exists()
    assert remaining(client, {RUN: graded["run"]}) == []
    assert remaining(client, {MANAGED: "true", PURPOSE: "grade", "org.dockercourse.gradebook": gradebook_id(graded["out"])}) == []
    assert graded["data"]["runs"][-1]["left_behind"] == []
    leftover_projects = [c["Names"] for c in client.api.containers(all=True)
                         if (c.get("Labels") or {}).get("com.docker.compose.project", "").startswith(f"g{graded['run']}-")]
    assert leftover_projects == []


def test_correct_and_partly_wrong_work_is_judged_by_the_exercise_checks(graded):
    ada = rec(graded, "ada")
    assert ada["score"] == ada["max_score"] == 7 and rec(graded, "ada", "first-image")["score"] == 6
    assert check(rec(graded, "ben"), "published")["status"] == V.FAIL
    assert 'ports: ["127.0.0.1:' in check(rec(graded, "ben"), "published")["hint"]
    assert "Fix: hand in the folder `first-image/`" in check(rec(graded, "ben", "first-image"), "exists")["hint"]
    by_name = check(rec(graded, "cy"), "by-name")
    assert by_name["status"] == V.FAIL and by_name["evidence"]["web Config.Env REDIS_HOST"] == "localhost"
    assert check(rec(graded, "cy", "first-image"), "cmd")["status"] == V.FAIL
    assert "anonymous volume" in check(rec(graded, "dee"), "volume")["message"]
    assert rec(graded, "dee")["submission"]["kind"] == "git"
    # every check carries what was found, what was expected and the fix
    for student in ("ben", "cy", "dee"):
        for c in rec(graded, student)["checks"]:
            if c["status"] == V.FAIL and not c["message"].startswith("Not checked yet"):
                assert c["message"].startswith("Found:") and "Expected:" in c["message"] and c["hint"].startswith("Fix:")


def test_hostile_compose_files_are_refused_before_anything_runs(graded):
    for student, rule, where in (("eve", "privileged", "services.web.privileged"),
                                 ("fay", "host-path", "services.web.volumes[0].source"),
                                 ("gus", "docker-socket", "services.web.volumes[0].source")):
        r = rec(graded, student)
        assert r["stages"] == [] and r["containers"] == [], student  # nothing was built or started
        assert any(v["rule"] == rule and v["where"] == where for v in r["policy"]), r["policy"]
        first = r["checks"][0]
        assert first["status"] == V.REFUSED and "Refused before anything ran" in first["message"]
        assert first["hint"].startswith("Fix: remove") or first["hint"].startswith("Fix: mount only")
        assert r["score"] == 0 and not r["rerun"]


def test_an_archive_climbing_out_is_refused_and_wrote_nothing_outside(graded):
    r = rec(graded, "kim")
    assert r["verdict"] == V.REFUSED and r["stages"] == []
    skipped = " ".join(r["intake"]["skipped"])
    assert "climbs out" in skipped and "absolute path" in skipped and "points outside" in skipped
    assert "pointing outside" in r["checks"][0]["message"]


def test_fork_bomb_is_contained_by_the_pids_limit(graded):
    r = rec(graded, "hal")
    webc = next(c for c in r["containers"] if "-web-" in c["name"])
    assert webc["HostConfig.PidsLimit"] == LIMITS.pids
    assert r["verdict"] == V.FAIL and r["score"] < r["max_score"]
    assert graded["data"]["runs"][-1]["left_behind"] == []


def test_a_step_that_never_ends_is_a_timeout_and_not_a_zero(graded):
    r = rec(graded, "ivy")
    assert r["verdict"] == V.TIMEOUT and r["rerun"] and not r["scored"] and r["score"] == 0
    ev = r["checks"][0]["evidence"]
    assert ev["seconds"] >= DEADLINES.build - 1 and ev["seconds"] < DEADLINES.build + 15
    assert "sleep 3600" in ev["log tail"]
    row = next(row for row in csv.DictReader(io.StringIO((graded["out"] / "grades.csv").read_text())) if row["student"] == "ivy")
    assert row["compose-stack"] == "timeout" and row["needs_rerun"] == "compose-stack"
    assert row["max_total"] == "6"  # only first-image (missing: 0/6) counts; the timeout does not
    assert "ivy/compose-stack" in graded["data"]["summary"]["needs_rerun"]


def test_a_log_flood_stays_bounded_and_does_not_cost_points(graded):
    r = rec(graded, "jon")
    webc = next(c for c in r["containers"] if "-web-" in c["name"])
    assert webc["HostConfig.LogConfig"]["Config"] == {"max-size": LIMITS.log_max_size, "max-file": "1"}
    assert webc["log_file_bytes"] is None or webc["log_file_bytes"] <= 1.2 * 1024 * 1024
    assert len(webc["logs_tail"]) <= 4001 and "flood" in webc["logs_tail"]
    assert r["verdict"] == V.PASS


def test_a_failing_build_shows_its_log_tail(graded):
    r = rec(graded, "lou")
    first = r["checks"][0]
    assert first["status"] == V.BUILD_FAILED and "exit code" in first["message"]
    assert "about to fail" in first["evidence"]["log tail"]
    assert r["score"] == 0 and not r["rerun"]


def test_memory_hog_is_oom_killed(graded):
    r = rec(graded, "max")
    webc = next(c for c in r["containers"] if "-web-" in c["name"])
    assert webc["State.OOMKilled"] and webc["HostConfig.Memory"] == LIMITS.memory_bytes()
    hit = [c for c in r["checks"] if c["status"] == V.OOM_KILLED]
    assert hit and "grading memory limit" in hit[0]["message"] and not r["rerun"]


def test_outputs_gradebook_audit_junit_and_report(graded):
    out = graded["out"]
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    assert [r["student"] for r in rows] == sorted(graded["expect"])
    ada = next(r for r in rows if r["student"] == "ada")
    assert (ada["compose-stack"], ada["first-image"], ada["total"], ada["max_total"]) == ("7", "6", "13", "13")
    audit = rec(graded, "ada")["audit"]
    assert audit["engine"]["api_version"] and audit["spec_hash"] and audit["checker"]["version"]
    assert audit["images"]["redis:7.0"]["id"].startswith("sha256:")
    assert any(v.get("built") for v in audit["images"].values())
    for student in graded["expect"]:
        suite = ET.parse(out / "junit" / f"{student}.xml").getroot()
        assert suite.tag == "testsuites"
    ivy = ET.parse(out / "junit" / "ivy.xml").getroot()
    assert ivy.find(".//testsuite[@name='compose-stack']").get("errors") == "7"  # infrastructure: errors, not failures
    index = (out / "report" / "index.html").read_text()
    assert "<svg" in index and "Pass rate per check" in index and "students/ada.html" in index
    page = (out / "report" / "students" / "eve.html").read_text()
    assert "refused-by-policy" in page and "privileged" in page
    assert json.loads((out / "results.json").read_text())["gradebook"] == gradebook_id(out)
    assert any(line.startswith("[") and "ada" in line for line in graded["lines"])  # progress was shown


def test_rerun_resumes_and_only_regrades_one(client, graded):
    out = graded["out"]
    subs = graded["root"] / "submissions"
    lines: list[str] = []
    t0 = time.monotonic()
    again = grade_submissions(subs, Options(exercises=["compose-stack", "first-image"], out=out, limits=LIMITS,
                                            deadlines=Deadlines(build=5), progress=lines.append,
                                            recipes=None))
    # only ivy's timeout (not graded) is tried again; everything else is skipped
    assert any("1 student x exercise jobs" in ln for ln in lines), lines
    assert again["results"]["ada"]["compose-stack"]["run"] == graded["run"]
    assert again["results"]["ivy"]["compose-stack"]["verdict"] == V.TIMEOUT
    lines.clear()
    only = grade_submissions(subs, Options(exercises=["compose-stack"], out=out, limits=LIMITS, deadlines=DEADLINES,
                                           only=["ben"], progress=lines.append))
    assert only["results"]["ben"]["compose-stack"]["run"] != graded["run"]
    assert only["results"]["ada"]["compose-stack"]["run"] == graded["run"]
    assert only["results"]["ben"]["compose-stack"]["verdict"] == V.FAIL
    assert remaining(client, {MANAGED: "true", PURPOSE: "grade", "org.dockercourse.gradebook": gradebook_id(out)}) == []
    assert time.monotonic() - t0 < 60
