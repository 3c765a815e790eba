"""What an exercise is, what a check returns, and how an exercise is run.

An :class:`Exercise` is an id, a title, the objects it names, and an ordered list of
:class:`Check` functions. A check function receives a :class:`~checkers.context.Context` and
returns :func:`ok` or :func:`fail`. A check that raises an engine error, or times out, becomes
``error``: the checker could not look, which never counts against the learner.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

PASS, FAIL, ERROR = "pass", "fail", "error"


@dataclass
class Outcome:
    """What a check function returns: build it with :func:`ok` or :func:`fail`."""

    passed: bool
    message: str
    hint: str = ""
    evidence: dict = field(default_factory=dict)
    error: bool = False


def ok(message: str, evidence: dict | None = None, note: str = "") -> Outcome:
    """The check passed. ``note`` is optional advice shown with the pass (never a fail)."""
    return Outcome(True, message, note, dict(evidence or {}))


def fail(found: str, expected: str, fix: str, evidence: dict | None = None, more: str = "") -> Outcome:
    """The learner's work is not right yet.

    ``found`` and ``expected`` are short sentences about the engine's real state; ``fix`` is the
    one command or line that puts it right. ``evidence`` maps inspect paths to the values seen,
    e.g. ``{"HostConfig.PortBindings": {}}``.
    """
    message = f"Found: {found.rstrip('.')}. Expected: {expected.rstrip('.')}."
    if more:
        message += f" {more}"
    return Outcome(False, message, f"Fix: {fix}", dict(evidence or {}))


def not_steady(name: str, state: dict) -> Outcome | None:
    """A fail for a container whose ``State.Running`` is true but that is not really up: paused
    (its processes are frozen; `docker start` refuses it) or restarting (it keeps stopping and its
    restart policy starts it again). None for any other state."""
    if state.get("Paused"):
        return fail(found=f"`{name}` is paused: its processes are frozen", expected="a running container",
                    fix=f"docker unpause {name}", evidence={"State.Status": state.get("Status"), "State.Paused": True})
    if state.get("Restarting"):
        return fail(found=f"`{name}` keeps stopping (exit code {state.get('ExitCode')}) and its restart policy starts it again",
                    expected="a container that stays up", fix=f"docker logs {name}   # see why it stops",
                    evidence={"State.Status": state.get("Status"), "State.Restarting": True,
                              "State.ExitCode": state.get("ExitCode")})
    return None


def error(message: str, evidence: dict | None = None) -> Outcome:
    """The checker could not look (engine trouble, a deadline passed)."""
    return Outcome(False, message, "This is not your mistake: check the engine (`dockercourse doctor`) and run the check again.",
                   dict(evidence or {}), error=True)


@dataclass
class CheckResult:
    id: str
    title: str
    status: str
    message: str
    hint: str = ""
    evidence: dict = field(default_factory=dict)
    points: int = 0
    max_points: int = 1
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "message": self.message,
            "hint": self.hint,
            "evidence": _jsonable(self.evidence),
            "points": self.points,
            "max_points": self.max_points,
        }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass
class ExerciseResult:
    exercise: str
    title: str
    lesson: str
    checks: list[CheckResult]
    advice: list[str] = field(default_factory=list)
    scope: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> int:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> int:
        return sum(c.max_points for c in self.checks)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status == PASS for c in self.checks)

    @property
    def errored(self) -> bool:
        return any(c.status == ERROR for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0: all pass; 1: some fail; 2: the checker could not look at something."""
        if self.errored:
            return 2
        return 0 if self.passed else 1

    def to_dict(self) -> dict:
        return {
            "exercise": self.exercise,
            "title": self.title,
            "passed": self.passed,
            "score": self.score,
            "max_score": self.max_score,
            "lesson": self.lesson,
            "advice": list(self.advice),
            "checks": [c.to_dict() for c in self.checks],
        }

    def __str__(self) -> str:
        from .render import render_text

        return render_text(self, color=False)

    def _repr_html_(self) -> str:
        from .render import render_html

        return render_html(self)


CheckFunc = Callable[["Context"], Outcome]  # noqa: F821


@dataclass
class Check:
    id: str
    title: str
    func: CheckFunc
    points: int = 1
    requires: tuple[str, ...] = ()


@dataclass
class Objects:
    """The objects an exercise names: what ``reset`` may remove, and nothing else."""

    containers: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    compose_project: str | None = None


class Exercise:
    def __init__(self, id: str, title: str, summary: str, lesson: str, objects: Objects | None = None,
                 day: str = "", files: bool = False, start: str = ""):
        self.id = id
        self.title = title
        self.summary = summary
        self.lesson = lesson  # e.g. "Day 1 › A web server (book/day1/web-server)"
        self.objects = objects or Objects()
        self.day = day
        self.files = files  # gradable from submitted files
        self.start = start  # the first command a learner with nothing done should run
        self.checks: list[Check] = []
        self.advisors: list[Callable] = []

    def check(self, id: str, title: str, points: int = 1, requires: Iterable[str] = ()):
        """Decorator registering a check function, in order."""

        def register(func: CheckFunc) -> CheckFunc:
            if any(c.id == id for c in self.checks):
                raise ValueError(f"duplicate check id {id!r} in {self.id}")
            self.checks.append(Check(id, title, func, points, tuple(requires)))
            return func

        return register

    def advisor(self, func: Callable) -> Callable:
        """Register a function ``(ctx) -> list[str]`` giving advice that never fails a check."""
        self.advisors.append(func)
        return func

    def run(self, client=None, scope=None, only: Iterable[str] | None = None) -> ExerciseResult:
        from .context import Context
        from .engine import connect, describe_error
        from .scope import DEFAULT

        own_client = client is None
        client = client or connect()
        ctx = Context(client, scope or DEFAULT, self)
        results: dict[str, CheckResult] = {}
        started = time.monotonic()
        wanted = set(only) if only else None
        try:
            for chk in self.checks:
                if wanted is not None and chk.id not in wanted:
                    continue
                results[chk.id] = self._run_one(ctx, chk, results, describe_error)
            advice: list[str] = []
            for adv in self.advisors:
                try:
                    advice.extend(adv(ctx) or [])
                except Exception as exc:  # advice is best effort
                    advice.append(f"(advice unavailable: {describe_error(exc)})")
        finally:
            ctx.close()
            if own_client:
                client.close()
        return ExerciseResult(self.id, self.title, self.lesson, list(results.values()), advice,
                              scope=ctx.scope.prefix, seconds=time.monotonic() - started)

    def _run_one(self, ctx, chk: Check, done: dict[str, CheckResult], describe_error) -> CheckResult:
        for dep in chk.requires:
            prior = done.get(dep)
            if prior is not None and prior.status != PASS:
                status = ERROR if prior.status == ERROR else FAIL
                return CheckResult(chk.id, chk.title, status,
                                   f"Not checked yet: first fix \u201c{prior.title}\u201d.",
                                   "", {}, 0, chk.points)
        t0 = time.monotonic()
        try:
            out = chk.func(ctx)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            out = error(f"The checker could not look: {describe_error(exc)}.")
        took = time.monotonic() - t0
        if out.error:
            status = ERROR
        else:
            status = PASS if out.passed else FAIL
        hint = out.hint
        if status == FAIL and self.lesson and hint:
            hint = f"{hint}\nReread: {self.lesson}."
        return CheckResult(chk.id, chk.title, status, out.message, hint, out.evidence,
                           chk.points if status == PASS else 0, chk.points, took)
