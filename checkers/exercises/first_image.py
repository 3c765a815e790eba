"""first-image: build `hello-app:1.0` from `exercises/first-image/`.

The image is inspected (tag, base layers, ``Config.WorkingDir``, ``Config.Cmd``); the dependency
is proved importable by a short probe (``python -c 'import cowsay'``); and one labelled trial
container shows the app greets and how it stops: ``docker stop`` with a 3 s grace period must end
it promptly (a shell-form ``CMD`` puts ``/bin/sh`` in front of python, the signal never reaches the
app, and Docker kills it after the full grace period: exit code 137).
"""
from __future__ import annotations

import time

from ..advice import hadolint_advice
from ..labels import course_labels
from ..model import Exercise, Objects, error, fail, ok

BASE = "python:3.11-slim"
REF = "hello-app:1.0"
REPO = "hello-app"
WORKDIR = "/app"
MODULE = "cowsay"
GREETING = "Hello from hello-app 1.0!"
GRACE = 3  # seconds given to `docker stop` in the trial
BUILD = f"docker build -t {REF} ."
INSTALL = "RUN pip install --no-cache-dir --no-index --find-links wheels -r requirements.txt"

EXERCISE = Exercise(
    id="first-image",
    title="Your first image",
    summary=(f"Image `{REF}` built from `exercises/first-image/`: `FROM {BASE}`, `WORKDIR {WORKDIR}`, the "
             "dependencies from `requirements.txt` installed from the local `wheels/` folder, `CMD` in exec form."),
    lesson="Day 1 \u203a Images and Dockerfiles (book/day1/images-and-dockerfiles)",
    objects=Objects(images=(REF,)),
    day="Day 1",
    start=f"cd exercises/first-image && {BUILD}",
)


def _build(ctx) -> str:
    return f"docker build -t {ctx.image_ref(REF)} .   # in exercises/first-image"


def _missing_executable(exc) -> bool:
    text = str(getattr(exc, "explanation", "") or exc).lower()
    return "executable file not found" in text or ("no such file or directory" in text and "exec" in text)


def _shell_form(argv) -> bool:
    return bool(argv) and len(argv) >= 2 and argv[0] in ("/bin/sh", "sh", "/bin/bash", "bash") and argv[1] == "-c"


@EXERCISE.check("exists", f"The image `{REF}` exists")
def exists(ctx):
    ref = ctx.image_ref(REF)
    info = ctx.image(REF)
    if info is not None:
        return ok(f"`{ref}` exists ({info['Id'][7:19]}).", {"Id": info["Id"][7:19], "RepoTags": info.get("RepoTags")})
    repo = ctx.image_ref(REPO)
    others = sorted({t for i in ctx.api.images(name=repo) for t in (i.get("RepoTags") or []) if t.startswith(repo + ":")})
    if others:
        return fail(found=f"the image is tagged {', '.join(f'`{t}`' for t in others)} but not `{ref}`",
                    expected=f"the tag `1.0` (`-t {ref}`); without a tag after the colon Docker uses `latest`",
                    fix=f"docker tag {others[0]} {ref}", evidence={f"docker images {repo}": others})
    return fail(found=f"no image `{ref}`", expected="an image you built from this exercise's folder",
                fix=f"cd exercises/first-image && {BUILD.replace(REF, ref)}",
                evidence={f"docker images {repo}": "nothing"})


@EXERCISE.check("base", f"It is built `FROM {BASE}`", requires=("exists",))
def base(ctx):
    info = ctx.image(REF)
    layers = (info.get("RootFS") or {}).get("Layers") or []
    wanted = ctx.image(BASE, scoped=False)
    if wanted is not None:
        base_layers = (wanted.get("RootFS") or {}).get("Layers") or []
        if base_layers and layers[:len(base_layers)] == base_layers:
            return ok(f"Its first {len(base_layers)} layer(s) are `{BASE}`'s.",
                      {"RootFS.Layers (base part)": [x[7:19] for x in base_layers]})
        return fail(found=f"its layers do not start with `{BASE}`'s (so the first line was another `FROM`)",
                    expected=f"`FROM {BASE}` as the first instruction",
                    fix=f"first line of the Dockerfile: FROM {BASE}, then {_build(ctx)}",
                    evidence={"RootFS.Layers[0]": layers[0][7:19] if layers else None,
                              f"{BASE} RootFS.Layers[0]": base_layers[0][7:19] if base_layers else None,
                              "Config.Env": [e for e in info["Config"].get("Env") or [] if e.startswith("PYTHON")]})
    env = {e.partition("=")[0]: e.partition("=")[2] for e in info["Config"].get("Env") or []}
    if env.get("PYTHON_VERSION", "").startswith("3.11"):
        return ok(f"`{BASE}` is not on this engine to compare with, but the image carries PYTHON_VERSION={env['PYTHON_VERSION']}.",
                  {"Config.Env PYTHON_VERSION": env["PYTHON_VERSION"]})
    return fail(found=f"no `{BASE}` on this engine to compare with, and the image has no PYTHON_VERSION=3.11",
                expected=f"an image built `FROM {BASE}`",
                fix=f"docker pull {BASE} (or `dockercourse images prepare`), then {_build(ctx)}",
                evidence={"Config.Env PYTHON_VERSION": env.get("PYTHON_VERSION")})


@EXERCISE.check("workdir", f"`WORKDIR {WORKDIR}`", requires=("exists",))
def workdir(ctx):
    wd = ctx.image(REF)["Config"].get("WorkingDir") or ""
    if wd.rstrip("/") == WORKDIR:
        return ok(f"Working directory is {WORKDIR}.", {"Config.WorkingDir": wd})
    return fail(found=f"the working directory is {wd!r}" if wd else "no working directory set (it is `/`)",
                expected=f"`{WORKDIR}`", fix=f"add `WORKDIR {WORKDIR}` after the FROM line, then {_build(ctx)}",
                evidence={"Config.WorkingDir": wd})


@EXERCISE.check("cmd", "`CMD` is in exec form", requires=("exists",))
def cmd(ctx):
    cfg = ctx.image(REF)["Config"]
    argv, entry = cfg.get("Cmd") or [], cfg.get("Entrypoint") or []
    evidence = {"Config.Cmd": argv, "Config.Entrypoint": entry or None}
    shell = entry if _shell_form(entry) else argv if _shell_form(argv) else None
    if shell is not None:
        which = "ENTRYPOINT" if shell is entry else "CMD"
        more = "Docker runs it as `/bin/sh -c \u2026`: the shell is the main process and does not pass `docker stop`'s SIGTERM on to python."
        trial = _trial(ctx)
        if trial.get("stopped") is not None:
            evidence.update({"trial: docker stop took (s)": trial["stop_seconds"], "trial: State.ExitCode": trial["exit_code"],
                             "trial: grace period (s)": GRACE})
            if trial["exit_code"] == 137 or trial["stop_seconds"] >= GRACE - 0.2:
                more += (f" Proof: a trial container took {trial['stop_seconds']:.1f} s to stop (the whole {GRACE} s grace "
                         f"period) and ended with exit code {trial['exit_code']} (killed) instead of exiting at once.")
        words = " ".join(shell[2:])
        fixed = ", ".join(f'"{w}"' for w in words.split()) if words else '"python", "app.py"'
        return fail(found=f"{which} is in shell form: {shell}", expected=f'exec form, a JSON list: `{which} [{fixed}]`',
                    fix=f"{which} [{fixed}]   (in the Dockerfile), then {_build(ctx)}", evidence=evidence, more=more)
    base_info = ctx.image(BASE, scoped=False)
    if base_info is not None and not entry and argv == (base_info["Config"].get("Cmd") or []):
        return fail(found=f"no CMD of your own: the image still runs the base image's {argv}",
                    expected='`CMD ["python", "app.py"]`', fix=f'CMD ["python", "app.py"]   (last line), then {_build(ctx)}',
                    evidence=evidence)
    if not argv and not entry:
        return fail(found="no CMD", expected='`CMD ["python", "app.py"]`',
                    fix=f'CMD ["python", "app.py"]   (last line), then {_build(ctx)}', evidence=evidence)
    return ok(f"Exec form: {entry + argv}.", evidence)


@EXERCISE.check("deps", f"The dependency `{MODULE}` is installed", requires=("exists",))
def deps(ctx):
    from docker.errors import APIError

    probe_cmd = ["python", "-c", f"import {MODULE}; print({MODULE}.__file__)"]
    try:
        res = ctx.probe(ctx.image_ref(REF), None, entrypoint=probe_cmd, timeout=15)
    except APIError as exc:
        if not _missing_executable(exc):
            raise  # engine trouble: reported as an error, never as the learner's mistake
        return fail(found=f"python could not be started in the image ({exc.explanation or exc})",
                    expected=f"an image with python, built `FROM {BASE}`", fix=f"FROM {BASE}   (first line), then {_build(ctx)}",
                    evidence={"probe": " ".join(probe_cmd), "error": str(exc.explanation or exc)[:200]})
    evidence = {"probe": " ".join(probe_cmd), "exit code": res.exit_code, "output": res.output.strip()[-200:]}
    if res.timed_out:
        return fail(found="the import probe did not finish within 15 s", expected="`import cowsay` to work at once",
                    fix=f"docker run --rm --entrypoint python {ctx.image_ref(REF)} -c 'import {MODULE}'   (see what happens)",
                    evidence=evidence)
    if res.ok:
        return ok(f"`import {MODULE}` works in the image ({res.output.strip()[:80]}).", evidence)
    if "No module named" in res.output:
        return fail(found=f"`import {MODULE}` fails in the image: ModuleNotFoundError",
                    expected="the packages from requirements.txt installed while building",
                    fix=f"{INSTALL}   (after copying requirements.txt and wheels/), then {_build(ctx)}",
                    evidence=evidence)
    return fail(found=f"the import probe exited with code {res.exit_code}", expected=f"`import {MODULE}` to work",
                fix=f"{INSTALL}, then {_build(ctx)}", evidence=evidence)


@EXERCISE.check("runs", "Running it greets and stops promptly", requires=("deps", "cmd"))
def runs(ctx):
    trial = _trial(ctx)
    if trial.get("engine_error"):
        return error(f"The trial container could not run: {trial['engine_error']}.")
    evidence = {"trial: logs (tail)": trial.get("logs", "")[-300:], "trial: docker stop took (s)": trial.get("stop_seconds"),
                "trial: State.ExitCode": trial.get("exit_code")}
    if not trial.get("greeted"):
        return fail(found=(f"a trial container printed {trial.get('logs', '').strip()[-160:]!r}" if trial.get("logs", "").strip()
                           else "a trial container printed nothing within 8 s"),
                    expected=f"the cow saying \u201c{GREETING}\u201d (what `docker run --rm {ctx.image_ref(REF)}` shows)",
                    fix=f'COPY app.py ./ and CMD ["python", "app.py"] in the Dockerfile, then {_build(ctx)}',
                    evidence=evidence)
    if trial.get("exit_code") == 137 or (trial.get("stop_seconds") or 0) >= GRACE - 0.2:
        return fail(found=f"`docker stop` took {trial['stop_seconds']:.1f} s and the exit code was {trial['exit_code']}",
                    expected="the app to exit within a second when stopped",
                    fix=f'CMD ["python", "app.py"]   (exec form, and keep app.py\'s SIGTERM handler), then {_build(ctx)}',
                    evidence=evidence)
    return ok(f"It greets, and `docker stop` ended it in {trial['stop_seconds']:.1f} s (exit code {trial['exit_code']}).", evidence)


def _trial(ctx) -> dict:
    """Run the image once (labelled, no ports), wait for the greeting, then time `docker stop`."""
    return ctx._cached(("first-image-trial", ctx.image_ref(REF)), lambda: _run_trial(ctx))


def _run_trial(ctx) -> dict:
    from docker.errors import APIError

    out: dict = {"greeted": False, "logs": "", "stopped": None}
    labels = course_labels("trial", run=ctx.run_id, exercise=EXERCISE.id)
    cid = None
    try:
        cid = ctx.api.create_container(ctx.image_ref(REF), labels=labels, stop_signal="SIGTERM",
                                       host_config=ctx.trial_host_config(),
                                       name=f"dockercourse-trial-{ctx.run_id}-first-image")["Id"]
        ctx.api.start(cid)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            logs = ctx.api.logs(cid, stdout=True, stderr=True, tail=40).decode("utf-8", "replace")
            out["logs"] = logs
            if GREETING in logs:
                out["greeted"] = True
                break
            if not ctx.api.inspect_container(cid)["State"]["Running"]:
                break
            time.sleep(0.1)
        t0 = time.monotonic()
        ctx.api.stop(cid, timeout=GRACE)
        out["stop_seconds"] = round(time.monotonic() - t0, 2)
        out["exit_code"] = ctx.api.inspect_container(cid)["State"]["ExitCode"]
        out["stopped"] = True
        out["logs"] = ctx.api.logs(cid, stdout=True, stderr=True, tail=40).decode("utf-8", "replace")
    except APIError as exc:
        if not _missing_executable(exc):
            out["engine_error"] = f"the engine answered {exc.status_code}: {exc.explanation or exc}"
        out["logs"] = out["logs"] or f"(could not run it: {exc.explanation or exc})"
    finally:
        if cid:
            _remove(ctx.api, cid)
    return out


def _remove(api, cid: str, tries: int = 20) -> None:
    """Remove a trial container and wait until it is really gone (a busy engine may report
    "removal in progress" or fail to unmount at the first attempt)."""
    from docker.errors import APIError, NotFound

    for _ in range(tries):
        try:
            api.remove_container(cid, force=True, v=True)
        except NotFound:
            return
        except APIError:
            pass
        try:
            api.inspect_container(cid)
        except NotFound:
            return
        time.sleep(0.25)


@EXERCISE.advisor
def lint(ctx):
    folder = ctx.exercise_dir(EXERCISE.id)
    return hadolint_advice(folder / "Dockerfile") if folder else []
