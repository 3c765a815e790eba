"""multi-stage: the reference solution passes; each known mistake, applied for real, fails the right check.

The images are built once per module (under a module prefix) and tagged into each test's scope.
"""
from __future__ import annotations

import pytest

from checkers.advice import hadolint_advice
from checkers.exercises import load

from .helpers import EXERCISES, built_images, sh, snapshot, checks_by_id as by_id, unchanged

EX = load("multi-stage")
DIR = EXERCISES / "multi-stage"


@pytest.fixture(scope="module")
def images(client, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multi-stage")
    single = (DIR / "Dockerfile.single").read_text()
    # Mistake: one stage, and the toolchain deleted in a later layer.
    (tmp / "Dockerfile.rm").write_text(single.replace(
        "EXPOSE 8080", "RUN rm -rf /opt/toolchain /wheels /src/.sitegen-cache\nEXPOSE 8080"))
    # Mistake: two stages, but the final one copies the sources, not the built pages.
    good = (DIR / "solution" / "Dockerfile").read_text()
    assert "COPY --from=build /src/public /www" in good
    (tmp / "Dockerfile.nocopy").write_text(good.replace("COPY --from=build /src/public /www", "COPY site/ /www"))
    with built_images(client, DIR, "slim-app", {"single": "Dockerfile.single", "good": "solution/Dockerfile",
                                                "rm": f"{tmp}/Dockerfile.rm", "nocopy": f"{tmp}/Dockerfile.nocopy"}) as mp:
        yield mp


def use(images, prefix, which, reference=False):
    sh(f"docker tag {images}slim-app:{which} {prefix}slim-app:1.0")
    if reference:
        sh(f"docker tag {images}slim-app:single {prefix}slim-app:single")


def test_clean_engine_says_how_to_start(client, scope):
    res = EX.run(client, scope)
    first = res.checks[0]
    assert first.id == "exists" and first.status == "fail"
    assert "docker build -t" in first.hint and "Dockerfile.single" in first.message
    assert res.exit_code == 1 and not res.errored


@pytest.mark.slow
def test_reference_solution_passes_and_changes_nothing(client, scope, prefix, images):
    sh(f"bash {DIR}/solution.sh", prefix)
    before = snapshot(client)
    res = EX.run(client, scope)
    assert res.passed, str(res)
    assert unchanged(client, before, prefix)  # the trial containers are gone again
    size = by_id(res)["size"]
    assert size.evidence["reference"] == f"{prefix}slim-app:single"
    assert size.evidence["Size"] * 2 <= size.evidence["reference Size"]


def test_mistake_single_stage(client, scope, prefix, images):
    use(images, prefix, "single", reference=True)
    chk = by_id(EX.run(client, scope))
    assert chk["works"].status == "pass"  # it works; it is just far too big
    tool = chk["no-toolchain"]
    assert tool.status == "fail" and "a Python interpreter" in tool.message and ".sitegen-cache" in tool.message
    assert "single stage" in tool.message and "FROM busybox:1.35" in tool.hint and "COPY --from=build" in tool.hint
    assert chk["size"].status == "fail"


def test_mistake_rm_in_a_later_layer(client, scope, prefix, images):
    use(images, prefix, "rm")  # no slim-app:single: the check compares with python:3.11-slim
    chk = by_id(EX.run(client, scope))
    size = chk["size"]
    assert size.status == "fail"
    assert "python:3.11-slim" in size.evidence["reference"]
    msg = size.message
    assert "`RUN rm -rf /opt/toolchain" in msg and "adds 0B" in msg and "does not make an image smaller" in msg
    assert "python -m venv /opt/toolchain" in msg and "MB)" in msg  # the layer still holding the toolchain, with its size
    assert "COPY --from=build" in size.hint
    assert chk["works"].status == "pass"


def test_mistake_artefacts_not_copied(client, scope, prefix, images):
    use(images, prefix, "nocopy", reference=True)
    chk = by_id(EX.run(client, scope))
    works = chk["works"]
    assert works.status == "fail" and "answers 404" in works.message
    assert "COPY --from=build /src/public /www" in works.hint
    assert chk["no-toolchain"].status == "pass" and chk["size"].status == "pass"


def test_hadolint_advice(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM busybox:1.35\nADD site/ /www\n")
    advice = hadolint_advice(bad)
    assert any("DL3020" in a for a in advice)
    assert hadolint_advice(tmp_path / "missing") == []
