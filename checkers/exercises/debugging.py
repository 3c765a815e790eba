"""debugging: find and fix the faults in a small app using only `docker logs` and `docker exec`.

``exercises/debugging/`` ships ``broken-app`` (a tiny Python web service) with three layered
faults, each hidden until the one before it is fixed:

1. ``start.sh`` starts the server in the background (``&``) and ends, so the container exits at
   once with code 0;
2. the app reads its config from ``/etc/broken-app/config.json`` but the Dockerfile copies it to
   ``/app/``, so it exits with code 1 and a "config file not found" log line;
3. ``config.json`` makes it listen on ``127.0.0.1`` inside the container, so the published port
   8081 gets no answer although the server answers from inside (``docker exec``).

The fixed container ``broken-app`` runs, stays up with no restarts, answers on
``127.0.0.1:8081`` and logs a clean start. Hints are progressive: the first failing run points
at evidence (exit code, last log lines, what ``exec`` shows); running the check again with the
same fault reveals more, and the third time gives the fix. The counter is the checker's own
state: a small JSON file under ``$DOCKERCOURSE_STATE/hints/`` (default
``~/.cache/dockercourse/hints/``), keyed by exercise and scope. It is never an engine object.
"""
from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

from .. import common
from ..advice import hadolint_advice
from ..model import Exercise, Objects, fail, ok

NAME = "broken-app"
PORT = 8081
INNER = 8080  # the port the shipped app listens on inside the container
CLUES_LEFT = " (Run the check again for a stronger hint.)"

EXERCISE = Exercise(
    id="debugging",
    title="Debugging a broken container",
    summary=(f"Fix `exercises/debugging/` so that container `{NAME}` (image `{NAME}`) runs, stays up with no restarts, "
             f"answers on 127.0.0.1:{PORT} and logs a clean start."),
    lesson="Day 2 \u203a Debugging (book/day2/debugging)",
    objects=Objects(containers=(NAME,), images=(NAME,)),
    day="Day 2",
    start=f"cd exercises/debugging && docker build -t {NAME} . && docker run -d --name {NAME} -p 127.0.0.1:{PORT}:{INNER} {NAME}",
)


# ------------------------------------------------------------------ helpers
def _build(ctx) -> str:
    return f"docker build -t {ctx.image_ref(NAME)} ."


def _run(ctx) -> str:
    return f"docker run -d --name {ctx.name(NAME)} -p 127.0.0.1:{ctx.port(PORT)}:{INNER} {ctx.image_ref(NAME)}"


def _rebuild_rerun(ctx) -> str:
    return f"{_build(ctx)} && docker rm -f {ctx.name(NAME)} && {_run(ctx)}   # in exercises/debugging"


def _parse_time(text: str) -> float | None:
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", (text or "").strip())
    if not m or m.group(1).startswith("0001"):
        return None
    frac = (m.group(2) or ".0")[1:7].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}").timestamp()


def _tail(ctx, info, n: int = 6) -> list[str]:
    return [line for line in ctx.logs(info["Id"], tail=n).splitlines() if line.strip()]


# ------------------------------------------------------ progressive hints
def _state_file() -> Path:
    root = os.environ.get("DOCKERCOURSE_STATE")
    base = Path(root) if root else Path.home() / ".cache" / "dockercourse"
    return base / "hints" / "debugging.json"


def _scope_key(ctx) -> str:
    s = ctx.scope
    return f"{s.prefix or '-'}|{s.host}|{ctx.port(PORT)}"


def _hint_level(ctx, signature: str) -> int:
    """0 the first time this scope fails with ``signature``, 1 the second time, then 2 (capped).

    Counted once per check run; any trouble with the state file just means level 0.
    """
    return ctx._cached(("debugging", "hint-level", signature), lambda: _bump(ctx, signature))


def _bump(ctx, signature: str) -> int:
    path, key = _state_file(), _scope_key(ctx)
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
        entry = data.get(key) or {}
        count = entry.get("count", 0) + 1 if entry.get("signature") == signature else 1
        data[key] = {"signature": signature, "count": count, "at": int(time.time())}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)
        return min(count - 1, 2)
    except (OSError, ValueError, AttributeError):
        return 0


def _forget(ctx) -> None:
    """Everything passes: the next fault (if the learner breaks it again) starts at the first clue."""
    path = _state_file()
    try:
        if path.exists():
            data = json.loads(path.read_text())
            if data.pop(_scope_key(ctx), None) is not None:
                path.write_text(json.dumps(data, indent=1))
    except (OSError, ValueError, AttributeError):
        pass


def _progressive(ctx, signature: str, found: str, expected: str, clues: list[str], fix: str, evidence: dict):
    """A fail whose hint is a clue, then a stronger clue, then the fix (one level per failing run)."""
    level = _hint_level(ctx, signature)
    evidence = {**evidence, "hint level": f"{level + 1} of 3"}
    out = fail(found=found, expected=expected, fix=fix, evidence=evidence)
    if level < 2:
        out.hint = f"Clue {level + 1} of 3: {clues[level]}{CLUES_LEFT}"
    return out


# ------------------------------------------------------------------ checks
@EXERCISE.check("image", f"An image `{NAME}` is built")
def image(ctx):
    img = ctx.image(NAME)
    ref = ctx.image_ref(NAME)
    if img is None:
        return fail(found=f"no image called `{ref}`",
                    expected="the app in exercises/debugging built into an image",
                    fix=f"cd exercises/debugging && {_build(ctx)} && {_run(ctx)}",
                    evidence={f"docker image ls {ref}": "nothing"},
                    more="It is broken on purpose: build it, run it, and let the check point you at what to look at.")
    return ok(f"Image `{ref}` exists ({img['Id'][7:19]}).", {"Id": img["Id"][7:19], "Created": img.get("Created")})


@EXERCISE.check("exists", f"A container `{NAME}` exists", requires=("image",))
def exists(ctx):
    return common.container_exists(ctx, NAME, f"a container `{NAME}` started from the image `{NAME}`", _run(ctx))


@EXERCISE.check("current-image", "The container runs your latest build", requires=("exists",))
def current_image(ctx):
    info, img = ctx.container(NAME), ctx.image(NAME)
    evidence = {"container .Image": info["Image"][7:19], f"image {ctx.image_ref(NAME)} .Id": img["Id"][7:19],
                "Config.Image": info["Config"].get("Image")}
    used = info["Config"].get("Image", "")
    if info["Image"] != img["Id"] and used.split(":")[0] != ctx.image_ref(NAME) and not used.startswith("sha256:"):
        return fail(found=f"`{ctx.name(NAME)}` runs the image `{used}`, not your build of broken-app",
                    expected=f"a container from the image `{ctx.image_ref(NAME)}`",
                    fix=f"docker rm -f {ctx.name(NAME)} && {_run(ctx)}", evidence=evidence)
    if info["Image"] != img["Id"]:
        return fail(found=(f"`{ctx.name(NAME)}` was created from an older build ({info['Image'][7:19]}); "
                           f"`{ctx.image_ref(NAME)}` is now {img['Id'][7:19]}"),
                    expected="a container created from the image you built last",
                    fix=f"docker rm -f {ctx.name(NAME)} && {_run(ctx)}", evidence=evidence,
                    more=("A container keeps the image it was created from: rebuilding does not change a container "
                          "that already exists. After every rebuild, remove the container and run a new one."))
    note = ""
    cmd, image_cmd = info["Config"].get("Cmd"), (img.get("Config") or {}).get("Cmd")
    entry, image_entry = info["Config"].get("Entrypoint"), (img.get("Config") or {}).get("Entrypoint")
    if cmd != image_cmd or entry != image_entry:
        evidence.update({"Config.Cmd": cmd, "image Config.Cmd": image_cmd})
        note = ("Note (not a fail): you override the image's command on `docker run`. The fix belongs in the files, "
                f"so that a plain `docker run {NAME}` works for everyone who uses the image.")
    return ok("It runs the image you built last.", evidence, note=note)


@EXERCISE.check("stays-up", "It keeps running, with no restarts", requires=("current-image",))
def stays_up(ctx):
    name = ctx.name(NAME)
    info = ctx.container(NAME)
    state = info["State"]
    restarts = info.get("RestartCount", 0)
    if state.get("Running") and not state.get("Restarting") and not restarts:
        started = _parse_time(state.get("StartedAt"))
        if started and time.time() - started < 1.5:  # just started: make sure it does not fall over at once
            time.sleep(max(0.0, 1.5 - (time.time() - started)))
            info = ctx.refresh(NAME)
            state = info["State"]
            restarts = info.get("RestartCount", 0)
    if state.get("Running") and not state.get("Restarting") and not state.get("Paused") and not restarts:
        return ok(f"`{name}` is up, with no restarts.", {"State.Status": "running", "RestartCount": 0})

    if state.get("Status") == "created":
        return fail(found=f"`{name}` was created but never started", expected="a running container",
                    fix=f"docker start {name}", evidence={"State.Status": "created"})
    if state.get("Paused"):
        return fail(found=f"`{name}` is paused", expected="a running container", fix=f"docker unpause {name}",
                    evidence={"State.Paused": True})
    code = state.get("ExitCode")
    started, finished = _parse_time(state.get("StartedAt")), _parse_time(state.get("FinishedAt"))
    lasted = (f"{finished - started:.1f} s" if finished - started >= 0.1 else "a split second") \
        if started and finished and finished >= started else "a moment"
    tail = _tail(ctx, info)
    evidence = {"State.Status": state.get("Status"), "State.ExitCode": code, "RestartCount": restarts,
                "ran for": lasted, "docker logs (last lines)": tail}
    logs_cmd = f"docker logs {name}"
    if restarts:
        found = f"`{name}` has restarted {restarts} time(s) (a restart policy hides a crash: it keeps starting it again)"
    else:
        found = f"`{name}` stopped after {lasted}, with exit code {code}"
    expected = "a server that keeps running"
    text = "\n".join(tail)
    if code == 0 and not restarts:
        return _progressive(
            ctx, "exits-at-once", found, expected,
            [f"A server should never finish, yet this one ended \u201csuccessfully\u201d (exit code 0). "
             f"Look at what it printed with `{logs_cmd}`: does anything say the server stopped, or failed?",
             (f"A container lives exactly as long as its main process (the image's CMD). See what that is with "
              f"`docker inspect {name} --format '{{{{json .Config.Cmd}}}}'`, then read that script in exercises/debugging: "
              "what happens to the server, and what happens when the script reaches its last line?")],
            ("in start.sh, the server is started in the background with `&`, so the script (the container's main "
             "process) ends at once and Docker stops the container. Start the server in the foreground as the last "
             f"line: `exec python3 /app/server.py --config \"$APP_CONFIG\"` (no `&`). Then {_rebuild_rerun(ctx)}"),
            evidence)
    if "config file not found" in text or ("No such file" in text and "config" in text):
        missing = re.search(r"not found: (\S+)", text)
        path = missing.group(1) if missing else "the config file"
        return _progressive(
            ctx, "config-path", found, expected,
            [f"Read the last lines of `{logs_cmd}` (the evidence below has them): what is the app looking for, and where?",
             (f"The container is not running, so you cannot `docker exec` into it; look inside the image with a "
              f"throwaway container instead: `docker run --rm {ctx.image_ref(NAME)} ls -l /app /etc/broken-app`. "
              f"Where did the Dockerfile put config.json, and where does the app look ({path})?")],
            (f"the app reads {path} but the Dockerfile copies config.json to /app/. In the Dockerfile, use "
             f"`COPY config.json {path}` (or set `ENV APP_CONFIG=/app/config.json`). Then {_rebuild_rerun(ctx)}"),
            evidence)
    return _progressive(
        ctx, f"crash-{code}", found, expected,
        [f"Read what it printed before it stopped: `{logs_cmd}` (the evidence below has the last lines).",
         (f"Look around inside the image with a shell in a throwaway container: "
          f"`docker run --rm -it --entrypoint sh {ctx.image_ref(NAME)}`, then run the start command by hand.")],
        f"fix what the last log lines complain about, then {_rebuild_rerun(ctx)}",
        evidence)


def _binding(info):
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if not ports:
        ports = {k: v for k, v in ((info.get("HostConfig") or {}).get("PortBindings") or {}).items()}
    return ports


@EXERCISE.check("answers", f"It answers on 127.0.0.1:{PORT}", requires=("stays-up",))
def answers(ctx):
    name = ctx.name(NAME)
    info = ctx.container(NAME)
    want = str(ctx.port(PORT))
    ports = _binding(info)
    # 127.0.0.1:8081 is asked for; 0.0.0.0:8081 answers there too (this exercise is about debugging, not exposure)
    inner = next((k for k, bs in ports.items() for b in (bs or [])
                  if b.get("HostPort") == want and b.get("HostIp") in ("127.0.0.1", "0.0.0.0", "", "::")), None)
    evidence = {"NetworkSettings.Ports": {k: v for k, v in ports.items() if v}}
    if inner is None:
        return fail(found=f"`{name}` does not publish anything on 127.0.0.1:{want}",
                    expected=f"`-p 127.0.0.1:{want}:{INNER}` (host port {want} to the app's port {INNER})",
                    fix=f"docker rm -f {name} && {_run(ctx)}", evidence=evidence)
    res = ctx.http_get(PORT, "/")
    url = f"http://127.0.0.1:{want}/"
    evidence[f"GET {url}"] = res.status if res.status is not None else res.error
    if res.status == 200:
        try:
            body = json.loads(res.text)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("app") == "broken-app" and body.get("status") == "ok":
            _forget(ctx)
            return ok(f"{url} answers: {res.text.strip()[:120]}", {**evidence, "body": res.text.strip()[:200]})
        return fail(found=f"{url} answers, but not with broken-app's JSON: {res.text.strip()[:120]!r}",
                    expected='{"app": "broken-app", "status": "ok", ...}',
                    fix=f"docker rm -f {name} && {_run(ctx)}", evidence={**evidence, "body": res.text.strip()[:200]})
    if res.status is not None:
        return fail(found=f"{url} answered HTTP {res.status}", expected="HTTP 200 with broken-app's JSON",
                    fix=f"docker logs {name}", evidence=evidence)
    # Nothing answered from outside: what does the inside say?
    port_in = inner.split("/")[0]
    probe = ctx.exec(info["Id"], ["python3", "-c",
                                  "import urllib.request as u; "
                                  f"print(u.urlopen('http://127.0.0.1:{port_in}/', timeout=2).status)"], timeout=6)
    inside = probe.output.strip().splitlines()[-1] if probe.output.strip() else ""
    inside_cmd = (f"docker exec {name} python3 -c \"import urllib.request as u; "
                  f"print(u.urlopen('http://127.0.0.1:{port_in}/').read())\"")
    listening = [line for line in _tail(ctx, info, 30) if "listening on" in line]
    evidence.update({f"inside: GET http://127.0.0.1:{port_in}/": inside or f"failed (exit code {probe.exit_code})",
                     "docker logs (listening)": listening[-1:] or []})
    found = f"the port is published, but nothing answers at {url} ({res.error})"
    if probe.ok and inside == "200":
        return _progressive(
            ctx, "loopback-only", found, f"broken-app's JSON at {url}",
            [f"Compare outside and inside. From inside the container it does answer: try `{inside_cmd}`. "
             "So the server works; why would it refuse callers from outside the container?",
             (f"Which address does the server listen on? `{' '.join(listening[-1:]) or f'docker logs {name}'}`. "
              "Inside a container, 127.0.0.1 is the container's own loopback: Docker forwards a published port to the "
              "container's network address, which a server on 127.0.0.1 never sees.")],
            (f"in config.json set `\"host\": \"0.0.0.0\"` (all addresses), then {_rebuild_rerun(ctx)}"),
            evidence)
    return _progressive(
        ctx, "no-answer", found, f"broken-app's JSON at {url}",
        [f"Does it answer from inside? `{inside_cmd}`; and what does `docker logs {name}` say it listens on?",
         (f"The published port must lead to the port the server really listens on: compare "
          f"`docker port {name}` with the `listening on` line of `docker logs {name}`.")],
        f"make the server listen on 0.0.0.0:{INNER} (config.json), then {_rebuild_rerun(ctx)}",
        evidence)


@EXERCISE.check("clean-logs", "Its logs show a clean start", requires=("stays-up",))
def clean_logs(ctx):
    name = ctx.name(NAME)
    info = ctx.container(NAME)
    lines = [line for line in ctx.logs(info["Id"], tail=200).splitlines() if line.strip()]
    bad = [line for line in lines if re.search(r"Traceback|\bERROR\b|\bError\b|WARNING|not found", line)]
    listening = [line for line in lines if "listening on" in line]
    evidence = {"docker logs (first lines)": lines[:6], "problem lines": bad[:5]}
    if bad:
        return fail(found=f"the logs of `{name}` contain problems: {bad[0][:160]!r}",
                    expected="a start with no errors or warnings",
                    fix=f"docker logs {name}   (read them, fix the cause, then rebuild and run a new container)",
                    evidence=evidence)
    if not listening:
        return fail(found=f"the logs of `{name}` never say the server is listening",
                    expected="a `broken-app: listening on ...` line",
                    fix=f"docker logs {name}", evidence=evidence,
                    more="If you replaced the app's start command, the app may not be the one running.")
    return ok(f"Clean start: {listening[0].strip()[:100]}", evidence)


@EXERCISE.advisor
def dockerfile_advice(ctx):
    folder = ctx.exercise_dir("debugging")
    return hadolint_advice(folder / "Dockerfile") if folder else []
