"""healthcheck: an image that says whether its app is well, and a container that restarts.

The learner builds ``healthy-app:1.0`` from ``exercises/healthcheck/`` with a ``HEALTHCHECK`` whose
probe uses a program the image really has (python, not curl: the slim image has no curl), and runs::

    docker run -d --name healthy --restart unless-stopped healthy-app:1.0

The check reads ``Config.Healthcheck`` of the image (gradable from the Dockerfile alone), looks for
the probe's program in the image with a short labelled probe container, and reads
``HostConfig.RestartPolicy`` and ``State.Health`` (status, failing streak, the probe log) of the
container. A container with a short interval is given a few seconds to turn healthy.
"""
from __future__ import annotations

import shlex
import time
from datetime import datetime, timezone

from .. import common
from ..advice import hadolint_advice
from ..model import Exercise, Objects, fail, not_steady, ok

IMAGE = "healthy-app:1.0"
PORT = 8000  # inside the container
POLICY = "unless-stopped"
DEFAULT_INTERVAL = 30 * 10 ** 9  # what Docker uses when --interval is not given
MAX_INTERVAL = DEFAULT_INTERVAL
HEALTHCHECK_LINE = ('HEALTHCHECK --interval=2s --timeout=2s --start-period=10s --retries=3 '
                    'CMD ["python", "/app/healthcheck.py"]')

EXERCISE = Exercise(
    id="healthcheck",
    title="A health check Docker can trust",
    summary=(f"Image `{IMAGE}` with a HEALTHCHECK whose probe uses a program the image has, and container `healthy` "
             f"from it with restart policy `{POLICY}`, whose health status is `healthy`."),
    lesson="Beyond the two days \u203a Health checks (book/beyond/healthchecks)",
    objects=Objects(containers=("healthy",), images=(IMAGE,)),
    day="Beyond",
    files=True,
    start=f"cd exercises/healthcheck && docker build -t {IMAGE} .",
)


def _build(ctx) -> str:
    return f"cd exercises/healthcheck && docker build -t {ctx.image_ref(IMAGE)} ."


def _run(ctx) -> str:
    return f"docker run -d --name {ctx.name('healthy')} --restart {POLICY} {ctx.image_ref(IMAGE)}"


def _recreate(ctx) -> str:
    return f"docker rm -f {ctx.name('healthy')} && {_run(ctx)}"


def duration(ns: int | None) -> str:
    """Nanoseconds the way Docker writes them (``2s``, ``5m0s``, ``1m30s``)."""
    seconds = (ns or 0) / 1e9
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{sec}s"


def _healthcheck(config: dict) -> dict | None:
    hc = (config or {}).get("Healthcheck") or None
    if not hc or not hc.get("Test") or hc["Test"][0] == "NONE":
        return None
    return hc


def probe_program(test: list[str]) -> str | None:
    """The program a HEALTHCHECK runs first: ``curl`` for ``CMD-SHELL curl -f ... || exit 1``."""
    if not test:
        return None
    kind, rest = test[0], list(test[1:])
    if kind == "CMD":
        return rest[0] if rest else None
    if kind == "CMD-SHELL":
        try:
            words = shlex.split(" ".join(rest))
        except ValueError:
            words = " ".join(rest).split()
        for word in words:
            if "=" in word.split("/")[0] or word in ("exec", "command", "!"):
                continue
            return word
    return None


def _show_test(test: list[str]) -> str:
    if test and test[0] == "CMD-SHELL":
        return " ".join(test[1:])
    return " ".join(shlex.quote(t) for t in test[1:])


# ------------------------------------------------------------------------------------------- image
@EXERCISE.check("image-exists", f"The image `{IMAGE}` exists")
def image_exists(ctx):
    return common.image_exists(ctx, IMAGE, "an image built from exercises/healthcheck/", _build(ctx))


@EXERCISE.check("image-healthcheck", "The image has a HEALTHCHECK", requires=("image-exists",))
def image_healthcheck(ctx):
    hc = _healthcheck(ctx.image(IMAGE).get("Config"))
    ev = {"Config.Healthcheck": (ctx.image(IMAGE).get("Config") or {}).get("Healthcheck")}
    if hc is None:
        return fail(found="the image has no HEALTHCHECK", expected="a HEALTHCHECK line in the Dockerfile",
                    fix=f"add `{HEALTHCHECK_LINE}` to the Dockerfile, then {_build(ctx)}", evidence=ev,
                    more="Without one, Docker only knows whether the process is alive, not whether the app answers.")
    return ok(f"HEALTHCHECK: {_show_test(hc['Test'])}", ev)


@EXERCISE.check("probe-tool", "The health probe uses a program the image has", requires=("image-healthcheck",))
def probe_tool(ctx):
    hc = _healthcheck(ctx.image(IMAGE)["Config"])
    program = probe_program(hc["Test"])
    ev = {"Config.Healthcheck.Test": hc["Test"], "program": program}
    if not program:
        return fail(found="the HEALTHCHECK runs no command", expected="a probe command, e.g. python /app/healthcheck.py",
                    fix=f"use `{HEALTHCHECK_LINE}`", evidence=ev)
    look = f"test -x {shlex.quote(program)}" if "/" in program else f"command -v {shlex.quote(program)}"
    from docker.errors import APIError

    try:
        res = ctx.probe(ctx.image_ref(IMAGE), ["-c", look], entrypoint=["/bin/sh"], network="none", timeout=10)
    except APIError as exc:  # the image has no /bin/sh to look with
        ev["probe error"] = str(exc.explanation or exc)[:200]
        if hc["Test"][0] == "CMD-SHELL":
            return fail(found="the probe is a shell command, but the image has no /bin/sh to run it",
                        expected="a probe the image can run", fix=f"use the exec form: `{HEALTHCHECK_LINE}`",
                        evidence=ev)
        return ok(f"The image has no shell to look for `{program}` with; the container's health status will tell.",
                  ev)
    ev[f"sh -c '{look}' in the image"] = res.output.strip()[-200:] or f"exit code {res.exit_code}"
    if res.timed_out:
        from ..model import error

        return error("Looking for the probe's program in the image took too long.", ev)
    if res.exit_code == 0:
        return ok(f"`{program}` is in the image ({res.output.strip() or program}).", ev)
    return fail(found=f"the probe runs `{program}`, which is not in the image",
                expected="a probe that uses a program the image has",
                fix=f"use `{HEALTHCHECK_LINE}` (python is in the image; curl and wget are not), then {_build(ctx)}",
                evidence=ev,
                more=(f"Every probe fails with \u201c{program}: not found\u201d, so the container turns `unhealthy` "
                      "even though the app itself may be perfectly fine. Slim images leave out tools such as curl."))


@EXERCISE.check("interval", "The probe runs often enough to turn healthy in time", requires=("image-healthcheck",))
def interval(ctx):
    hc = _healthcheck(ctx.image(IMAGE)["Config"])
    every = hc.get("Interval") or DEFAULT_INTERVAL
    ev = {"Config.Healthcheck.Interval": duration(every), "Config.Healthcheck.Timeout": duration(hc.get("Timeout")),
          "Config.Healthcheck.Retries": hc.get("Retries"), "Config.Healthcheck.StartPeriod": duration(hc.get("StartPeriod"))}
    if every <= MAX_INTERVAL:
        return ok(f"Probe every {duration(every)}: the first result comes {duration(every)} after the start.", ev)
    return fail(found=f"the probe runs every {duration(every)}",
                expected=f"an interval of at most {duration(MAX_INTERVAL)} (2s to 10s is usual for a small app)",
                fix=f"use `{HEALTHCHECK_LINE}`, then {_build(ctx)}", evidence=ev,
                more=(f"Docker runs the first probe only one interval after the container starts, so for "
                      f"{duration(every)} it stays `starting`: anything that waits for `healthy` (Compose's "
                      "`condition: service_healthy`, a deploy script) waits that long."))


# --------------------------------------------------------------------------------------- container
@EXERCISE.check("exists", "A container named `healthy` exists")
def exists(ctx):
    return common.container_exists(ctx, "healthy",
                                   f"a container `healthy` from `{IMAGE}` with restart policy {POLICY}", _run(ctx))


@EXERCISE.check("from-image", f"`healthy` runs `{IMAGE}`", requires=("exists", "image-exists"))
def from_image(ctx):
    return common.latest_build(ctx, "healthy", IMAGE, _recreate(ctx),
                               more="A container keeps the image (and the HEALTHCHECK) it was created with.")


@EXERCISE.check("restart", f"Its restart policy is `{POLICY}`", requires=("exists",))
def restart(ctx):
    policy = ctx.container("healthy")["HostConfig"].get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    ev = {"HostConfig.RestartPolicy": policy}
    if name == POLICY:
        return ok(f"Restart policy {POLICY}: restarted after a crash or an engine restart, unless you stopped it.", ev)
    why = {
        "no": "With no policy, a crash or a reboot leaves the app down until someone notices.",
        "always": "`always` also brings back a container you stopped on purpose when the engine restarts.",
        "on-failure": "`on-failure` restarts after a crash, but not after the engine itself restarts (a reboot).",
    }.get(name, "")
    return fail(found=f"the restart policy is `{name}`", expected=f"`{POLICY}`",
                fix=f"docker update --restart {POLICY} {ctx.name('healthy')}", evidence=ev, more=why)


@EXERCISE.check("running", "`healthy` is running", requires=("exists",))
def running(ctx):
    info = ctx.container("healthy")
    state = info["State"]
    if (problem := not_steady(ctx.name("healthy"), state)) is not None:
        return problem
    if state.get("Running"):
        return ok("Running.", {"State.Status": state.get("Status")})
    tail = common.log_tail(ctx, info)
    return fail(found=f"the container is {state.get('Status')} (exit code {state.get('ExitCode')})",
                expected="the app running", fix=f"docker start {ctx.name('healthy')}",
                evidence={"State.Status": state.get("Status"), "State.ExitCode": state.get("ExitCode"),
                          "docker logs (tail)": tail[-600:]})


def _started_seconds_ago(state) -> float | None:
    text = state.get("StartedAt") or ""
    try:
        started = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return (datetime.now(timezone.utc) - started).total_seconds()


def _app_answers(ctx, cid: str) -> str:
    """Ask the app itself from inside the container (read-only), to tell a broken probe from a broken app."""
    code = (f"import urllib.request; r = urllib.request.urlopen('http://127.0.0.1:{PORT}/health', timeout=2); "
            "print(r.status)")
    try:
        res = ctx.exec(cid, ["python3", "-c", code], timeout=4)
    except Exception:
        return ""
    return res.output.strip() if res.ok else ""


@EXERCISE.check("health", "Its health status is `healthy`", requires=("running",))
def health(ctx):
    info = ctx.container("healthy")
    hc = _healthcheck(info["Config"])
    health_state = info["State"].get("Health") or {}
    status = health_state.get("Status")
    if hc is None or not status:
        return fail(found="the container has no health check, so it has no health status",
                    expected="a container from an image with a HEALTHCHECK", fix=_recreate(ctx),
                    evidence={"Config.Healthcheck": info["Config"].get("Healthcheck"), "State.Health": None},
                    more="Was it created before you added HEALTHCHECK, or with --no-healthcheck?")
    every = hc.get("Interval") or DEFAULT_INTERVAL
    # A short interval: wait a few seconds for the first results instead of failing a fresh container.
    age = _started_seconds_ago(info["State"])
    budget = 0.0
    if every <= MAX_INTERVAL:
        budget = min(6.0, max(0.0, (every + (hc.get("Timeout") or 0)) / 1e9 * 2 - (age or 0)))
    deadline = time.monotonic() + budget
    while status == "starting" and time.monotonic() < deadline:
        time.sleep(0.5)
        info = ctx.refresh("healthy")
        health_state = info["State"].get("Health") or {}
        status = health_state.get("Status")
    log = health_state.get("Log") or []
    last = [{"ExitCode": e.get("ExitCode"), "Output": (e.get("Output") or "").strip()[-200:]} for e in log[-3:]]
    ev = {"State.Health.Status": status, "State.Health.FailingStreak": health_state.get("FailingStreak"),
          "State.Health.Log (last)": last, "Config.Healthcheck.Test": hc["Test"],
          "Config.Healthcheck.Interval": duration(every)}
    if status == "healthy":
        return ok(f"Health status is healthy (probe every {duration(every)}).", ev)
    if status == "starting":
        age = _started_seconds_ago(info["State"]) or 0
        if every > MAX_INTERVAL:
            return fail(found=f"the status is still `starting` after {age:.0f}s, with a probe interval of {duration(every)}",
                        expected="`healthy` within seconds", fix=f"use `{HEALTHCHECK_LINE}`, rebuild, then {_recreate(ctx)}",
                        evidence=ev,
                        more=(f"Docker runs the first probe one interval ({duration(every)}) after the start: until "
                              "then the container is neither healthy nor unhealthy, just `starting`."))
        return fail(found=f"the status is still `starting` ({age:.0f}s after the start)",
                    expected="`healthy`", fix=f"docker inspect --format '{{{{json .State.Health}}}}' {ctx.name('healthy')}",
                    evidence=ev, more="The first probes have not succeeded yet: wait a few seconds and check again.")
    output = last[-1]["Output"] if last else ""
    answers = _app_answers(ctx, info["Id"])
    more = f"The probe's last output: \u201c{output}\u201d (exit code {last[-1]['ExitCode'] if last else '?'})."
    if answers:
        ev[f"inside: GET http://127.0.0.1:{PORT}/health"] = answers
        more += (f" Yet the app itself answers {answers} on /health from inside the container: the app is fine, "
                 "the probe is broken.")
    if "not found" in output or (last and last[-1]["ExitCode"] == 127):
        more += (" \u201cnot found\u201d (the shell's exit code 127) means the probe's program is not in the "
                 "image.")
        fix = f"use `{HEALTHCHECK_LINE}` (a program the image has), rebuild, then {_recreate(ctx)}"
    else:
        fix = f"docker inspect --format '{{{{json .State.Health}}}}' {ctx.name('healthy')}   (read why the probe fails)"
    return fail(found=f"the health status is `{status}` ({health_state.get('FailingStreak')} failed probes in a row)",
                expected="`healthy`", fix=fix, evidence=ev, more=more)


@EXERCISE.advisor
def lint(ctx):
    finder = getattr(ctx, "exercise_dir", None)
    folder = finder() if finder else None
    return hadolint_advice(folder / "Dockerfile") if folder else []
