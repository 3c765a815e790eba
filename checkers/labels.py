"""Labels that mark every object the course itself creates.

Cleanup code removes only objects that carry ``MANAGED`` (and, where it matters, the
purpose or run id it created them with). Nothing else on the learner's engine is touched.
"""
from __future__ import annotations

MANAGED = "org.dockercourse.managed"
PURPOSE = "org.dockercourse.purpose"  # probe | trial | test | lesson | grade | standin
RUN = "org.dockercourse.run"
STUDENT = "org.dockercourse.student"
EXERCISE = "org.dockercourse.exercise"


def course_labels(purpose: str, run: str | None = None, **extra: str) -> dict[str, str]:
    """The label set for an object the course creates for ``purpose``."""
    labels = {MANAGED: "true", PURPOSE: purpose}
    if run:
        labels[RUN] = run
    for key, value in extra.items():
        labels[f"org.dockercourse.{key}"] = str(value)
    return labels


def label_filter(labels: dict[str, str]) -> list[str]:
    """Docker API ``label`` filter values for ``labels``."""
    return [f"{k}={v}" for k, v in labels.items()]
