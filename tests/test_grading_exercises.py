"""Every exercise that is gradable from files: the reference solution, handed in as a student would,
passes every check when graded; the unfinished starter files do not pass (and are not an infrastructure fault)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checkers.grading import verdicts as V
from checkers.grading.recipes import RECIPES, gradable_from_files
from checkers.grading.sandbox import Deadlines, remaining
from checkers.grading.submissions import Options, grade_submissions
from checkers.labels import RUN

from .helpers import EXERCISES

pytestmark = pytest.mark.slow
NOT_HANDED_IN = shutil.ignore_patterns("solution", "solution.sh", "README.md", "exercise.ipynb", "wheels", "__pycache__",
                                       ".gitignore", "data", "Dockerfile.before-solution")


def hand_in(dest: Path, ex_id: str, solved: bool) -> None:
    """The exercise folder as a learner hands it in: their files (the reference solution's, if ``solved``),
    without the course's wheel folders (the grader provides those)."""
    d = dest / ex_id
    shutil.copytree(EXERCISES / ex_id, d, ignore=NOT_HANDED_IN)
    if solved:
        for f in (EXERCISES / ex_id / "solution").iterdir():
            if f.is_dir():
                shutil.copytree(f, d / f.name, dirs_exist_ok=True)
            else:
                shutil.copy2(f, d / f.name)


@pytest.fixture(scope="module")
def graded(client, tmp_path_factory):
    root = tmp_path_factory.mktemp("exercises")
    ids = gradable_from_files()
    for ex_id in ids:
        hand_in(root / "subs" / "solved", ex_id, solved=True)
        hand_in(root / "subs" / "starter", ex_id, solved=False)
    lines: list[str] = []
    data = grade_submissions(root / "subs", Options(exercises=ids, out=root / "out", workers=2, progress=lines.append,
                                                    deadlines=Deadlines(build=240, settle=10)))
    return {"ids": ids, "data": data, "lines": lines}


def test_every_recipe_names_a_real_exercise():
    from checkers.exercises import EXERCISE_IDS

    assert set(RECIPES) <= set(EXERCISE_IDS)
    assert {"first-image", "build-cache", "compose-stack", "debugging"} <= set(gradable_from_files())


def test_reference_solutions_pass_when_graded(graded):
    solved = graded["data"]["results"]["solved"]
    bad = {ex: [(c["id"], c["status"], c["message"][:200]) for c in r["checks"] if c["status"] != V.PASS]
           for ex, r in solved.items() if r["verdict"] != V.PASS}
    assert not bad, "\n".join(graded["lines"]) + f"\n{bad}"
    assert set(solved) == set(graded["ids"])


def test_starter_files_do_not_pass_and_are_the_students_doing(graded):
    for ex, r in graded["data"]["results"]["starter"].items():
        assert r["verdict"] in (V.FAIL, V.BUILD_FAILED), (ex, r["verdict"], r["summary"])
        assert not r["rerun"] and r["score"] < r["max_score"]


def test_nothing_left_on_the_engine(client, graded):
    assert remaining(client, {RUN: graded["data"]["runs"][-1]["run"]}) == []
