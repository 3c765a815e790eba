"""`dockercourse grade` on the command line: plain sentences for bad input, exit codes an instructor can script."""
from __future__ import annotations

import csv
import io
import subprocess
import sys

from .helpers import ROOT


def grade(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "checkers", "grade", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_needs_exactly_one_mode(tmp_path):
    p = grade("--out", tmp_path / "o")
    assert p.returncode == 1 and "either a SUBMISSIONS folder or --roster" in p.stderr
    p = grade(tmp_path, "--roster", tmp_path / "r.csv")
    assert p.returncode == 1 and "Traceback" not in p.stderr


def test_unknown_and_live_only_exercises_are_explained(tmp_path):
    p = grade(tmp_path, "--exercises", "compose-stak", "--out", tmp_path / "o")
    assert p.returncode == 1 and "compose-stack" in p.stderr and "Traceback" not in p.stderr
    p = grade(tmp_path, "--exercises", "web-server,first-image", "--out", tmp_path / "o")
    assert p.returncode == 1 and "web-server cannot be graded from files" in p.stderr and "--roster" in p.stderr


def test_bad_roster_is_explained(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,host\namy,unix:///x.sock\n")
    p = grade("--roster", roster, "--out", tmp_path / "o")
    assert p.returncode == 1 and "columns `student` and `engine`" in p.stderr


def test_an_unreachable_engine_needs_a_rerun_and_is_not_a_zero(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student,engine\namy,unix://{tmp_path}/nothing.sock\n")
    p = grade("--roster", roster, "--exercises", "first-container", "--out", tmp_path / "o", "--quiet")
    assert p.returncode == 2, p.stderr
    assert "need a re-run" in p.stdout and "amy/first-container" in p.stdout
    row = next(csv.DictReader(io.StringIO((tmp_path / "o" / "grades.csv").read_text())))
    assert row["first-container"] == "engine-error" and row["total"] == "0" and row["max_total"] == "0"


def test_an_empty_class_is_fine(tmp_path):
    (tmp_path / "subs").mkdir()
    p = grade(tmp_path / "subs", "--exercises", "compose-stack", "--out", tmp_path / "o")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "o" / "report" / "index.html").is_file() and (tmp_path / "o" / "grades.csv").is_file()
