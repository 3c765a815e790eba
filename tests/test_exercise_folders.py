"""Every exercise folder has what a learner needs, and its notebook runs top to bottom."""
from __future__ import annotations

import nbformat
import pytest

from checkers.exercises import EXERCISE_IDS, available, load

from .helpers import EXERCISES


def test_every_listed_exercise_exists():
    assert available() == EXERCISE_IDS


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_folder_has_task_notebook_and_solution(exercise_id):
    folder = EXERCISES / exercise_id
    readme = (folder / "README.md").read_text()
    assert f"dockercourse check {exercise_id}" in readme
    assert (folder / "solution.sh").is_file()
    nb = nbformat.read(folder / "exercise.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert f'check("{exercise_id}")' in code[-1].source
    for cell in code:
        assert cell.source.strip() != "%%bash", "an empty %%bash cell stops Run All with a UsageError"
        assert not cell.get("outputs"), "exercise notebooks ship without outputs"
    ex = load(exercise_id)
    assert ex.lesson and "(book/" in ex.lesson
    assert len({c.id for c in ex.checks}) == len(ex.checks) >= 3


@pytest.mark.slow
def test_notebooks_run_all_without_errors(client, tmp_path):
    """Run All on a fresh engine state works: the check cell shows a result, never a traceback."""
    from nbclient import NotebookClient

    for exercise_id in EXERCISE_IDS:
        nb = nbformat.read(EXERCISES / exercise_id / "exercise.ipynb", as_version=4)
        # Only the check cell: the learner's cells are theirs to fill in.
        nb.cells = [c for c in nb.cells if c.cell_type == "code" and "check(" in c.source]
        nb.cells[0].source = nb.cells[0].source.replace(f'check("{exercise_id}")',
                                                        f'check("{exercise_id}", scope=__import__("checkers.scope").scope.Scope(prefix="{tmp_path.name}-"))')
        NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(EXERCISES / exercise_id)}}).execute()
        out = nb.cells[0].outputs
        html = "".join(o.get("data", {}).get("text/html", "") for o in out)
        assert "<table" in html, (exercise_id, out)
