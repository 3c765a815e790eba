"""first-container: run your first container and keep it so it can be inspected."""
from __future__ import annotations

from .. import common
from ..model import Exercise, Objects, fail, ok

IMAGE = "busybox:1.35"
MESSAGE = "Hello from my first container"
RUN = f'docker run --name hello {IMAGE} echo "{MESSAGE}"'

EXERCISE = Exercise(
    id="first-container",
    title="Your first container",
    summary=f"A container named `hello` from `{IMAGE}` that printed `{MESSAGE}`, exited 0, and was kept (no --rm).",
    lesson="Day 1 \u203a Running containers (book/day1/running-containers)",
    objects=Objects(containers=("hello",)),
    day="Day 1",
    start=RUN,
)


def _run(ctx) -> str:
    return RUN.replace("--name hello", f"--name {ctx.name('hello')}")


@EXERCISE.check("exists", "A container named `hello` exists", points=1)
def exists(ctx):
    info = ctx.container("hello")
    if info is None and ctx.similar_container(ctx.name("hello")):
        return common.container_missing(ctx, "hello", "a stopped container called `hello` that you can still inspect",
                                        _run(ctx))
    if info is None:
        return fail(
            found=f"no container named `{ctx.name('hello')}` (running or stopped)",
            expected="a stopped container called `hello` that you can still inspect",
            fix=_run(ctx),
            more="If you used `--rm`, Docker deleted the container the moment it exited, so there is nothing left to inspect: run it again without `--rm`.",
            evidence={"docker ps -a --filter name=hello": "nothing"},
        )
    return common.container_found(ctx, "hello", info)


@EXERCISE.check("kept", "It was kept (started without --rm)", requires=("exists",))
def kept(ctx):
    info = ctx.container("hello")
    if info["HostConfig"].get("AutoRemove"):
        return fail(found="the container was started with `--rm`",
                    expected="a container that stays after it exits",
                    fix=f"docker rm -f {ctx.name('hello')} && {_run(ctx)}",
                    evidence={"HostConfig.AutoRemove": True},
                    more="With `--rm` it disappears as soon as it exits.")
    return ok("Started without --rm, so it stays for inspection.", {"HostConfig.AutoRemove": False})


@EXERCISE.check("image", f"It runs the image `{IMAGE}`", requires=("exists",))
def image(ctx):
    return common.pinned_image(ctx, "hello", IMAGE, f"docker rm -f {ctx.name('hello')} && {_run(ctx)}")


@EXERCISE.check("exit-code", "It exited with code 0", requires=("exists",))
def exit_code(ctx):
    state = ctx.container("hello")["State"]
    if state.get("Running"):
        return fail(found="the container is still running",
                    expected="a container that printed its message and exited",
                    fix=f"docker rm -f {ctx.name('hello')} && {_run(ctx)}",
                    evidence={"State.Status": state.get("Status")},
                    more="`echo` finishes at once; a container that keeps running was given another command (such as `sh` with -it, or `sleep`).")
    if state.get("Status") == "created":
        return fail(found="the container was created but never started, so it has not printed anything yet",
                    expected="a container that ran its command and exited",
                    fix=f"docker start -a {ctx.name('hello')}",
                    evidence={"State.Status": "created"},
                    more="`docker create` only prepares a container; `docker start` runs it (`-a` shows its output).")
    code = state.get("ExitCode")
    if code != 0:
        return fail(found=f"it exited with code {code}",
                    expected="exit code 0 (success)",
                    fix=f"docker rm -f {ctx.name('hello')} && {_run(ctx)}",
                    evidence={"State.ExitCode": code, "State.Error": state.get("Error", "")},
                    more="A non-zero code means the command failed; `docker logs hello` shows what it printed.")
    return ok("Exited with code 0.", {"State.ExitCode": 0})


@EXERCISE.check("message", "It printed the message", requires=("exists",))
def message(ctx):
    info = ctx.container("hello")
    out = ctx.logs(info["Id"], tail=20)
    if MESSAGE in out:
        return ok(f"`docker logs` shows \u201c{MESSAGE}\u201d.", {"docker logs (tail)": out.strip()[-200:]})
    return fail(found=f"its output was {out.strip()[-120:]!r}" if out.strip() else "it printed nothing",
                expected=f"the exact line `{MESSAGE}`",
                fix=f"docker rm -f {ctx.name('hello')} && {_run(ctx)}",
                evidence={"docker logs (tail)": out.strip()[-200:]})
