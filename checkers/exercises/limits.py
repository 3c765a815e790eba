"""limits: a container with memory, CPU and process caps, and one that ran into its memory cap.

The learner runs::

    docker run -d --name capped --memory 256m --cpus 0.5 --pids-limit 100 busybox:1.35 tail -f /dev/null
    docker run --name hog --memory 32m --memory-swap 32m busybox:1.35 tail /dev/zero

The check reads ``HostConfig.Memory`` (bytes), ``HostConfig.NanoCpus`` (billionths of a CPU) and
``HostConfig.PidsLimit`` of ``capped``, and for ``hog`` ``State.OOMKilled`` and ``State.ExitCode``.
137 is 128 + 9: the process was ended by SIGKILL. Only ``OOMKilled: true`` says the kernel did it
because the memory cap was reached.
"""
from __future__ import annotations

from .. import common
from ..model import Exercise, Objects, fail, not_steady, ok

IMAGE = "busybox:1.35"
MIB = 1024 ** 2
MEMORY = 256 * MIB  # 268435456 bytes
NANO_CPUS = 500_000_000  # half a CPU
PIDS = 100
HOG_MEMORY = "32m"
CAPPED_CMD = "tail -f /dev/null"
HOG_CMD = "tail /dev/zero"  # /dev/zero has no newline: tail keeps one ever-growing "line" in memory

EXERCISE = Exercise(
    id="limits",
    title="Memory, CPU and process limits",
    summary=("Container `capped` from `busybox:1.35`, running, limited to 256 MiB of memory, half a CPU and 100 "
             "processes; and a container `hog` that used more memory than its limit and was killed for it "
             "(OOMKilled, exit code 137)."),
    lesson="Beyond the two days \u203a Limits (book/beyond/limits)",
    objects=Objects(containers=("capped", "hog")),
    day="Beyond",
    start=f"docker run -d --name capped --memory 256m --cpus 0.5 --pids-limit {PIDS} {IMAGE} {CAPPED_CMD}",
)


def _run_capped(ctx) -> str:
    return f"docker run -d --name {ctx.name('capped')} --memory 256m --cpus 0.5 --pids-limit {PIDS} {IMAGE} {CAPPED_CMD}"


def _run_hog(ctx) -> str:
    return (f"docker run --name {ctx.name('hog')} --memory {HOG_MEMORY} --memory-swap {HOG_MEMORY} "
            f"{IMAGE} {HOG_CMD}")


def _mib(n: int) -> str:
    return f"{n / MIB:g} MiB" if n % MIB == 0 else f"{n / MIB:.1f} MiB"


# ------------------------------------------------------------------------------------------ capped
@EXERCISE.check("capped-exists", "A container named `capped` exists")
def capped_exists(ctx):
    return common.container_exists(ctx, "capped", f"a long-running container `capped` from `{IMAGE}` with limits",
                                   _run_capped(ctx))


@EXERCISE.check("capped-image", f"`capped` runs `{IMAGE}`", requires=("capped-exists",))
def capped_image(ctx):
    info = ctx.container("capped")
    name = info["Config"].get("Image", "")
    if common.runs_pinned(ctx, info, IMAGE):
        return ok(f"Image is {name}.", {"Config.Image": name})
    return fail(found=f"`capped` runs `{name}`", expected=f"`{IMAGE}`",
                fix=f"docker rm -f {ctx.name('capped')} && {_run_capped(ctx)}", evidence={"Config.Image": name})


@EXERCISE.check("capped-running", "`capped` keeps running", requires=("capped-exists",))
def capped_running(ctx):
    info = ctx.container("capped")
    state = info["State"]
    if (problem := not_steady(ctx.name("capped"), state)) is not None:
        return problem
    if state.get("Running"):
        return ok("Running.", {"State.Status": state.get("Status")})
    return fail(found=f"`capped` is {state.get('Status')} (exit code {state.get('ExitCode')})",
                expected="a container that stays up, so its limits can be seen at work",
                fix=f"docker rm -f {ctx.name('capped')} && {_run_capped(ctx)}",
                evidence={"State.Status": state.get("Status"), "State.ExitCode": state.get("ExitCode"),
                          "State.OOMKilled": state.get("OOMKilled"), "Config.Cmd": info["Config"].get("Cmd")},
                more=f"Give it a command that never ends, such as `{CAPPED_CMD}`.")


@EXERCISE.check("memory", "`capped` may use at most 256 MiB of memory", requires=("capped-exists",))
def memory(ctx):
    hc = ctx.container("capped")["HostConfig"]
    got = hc.get("Memory") or 0
    ev = {"HostConfig.Memory": got, "HostConfig.MemorySwap": hc.get("MemorySwap")}
    fix = f"docker update --memory 256m --memory-swap 256m {ctx.name('capped')}"
    if got == MEMORY:
        return ok(f"Memory limit is {got} bytes = 256 MiB.", ev)
    if not got:
        return fail(found="no memory limit (HostConfig.Memory is 0): it may take all of the host's memory",
                    expected=f"{MEMORY} bytes (256 MiB)", fix=fix, evidence=ev,
                    more="Without a cap, one leaking container can push the whole machine into swapping or make "
                         "the kernel kill processes outside it.")
    if got == 256 * 1000 ** 2:
        why = ("That is 256 MB in decimal units (256,000,000 bytes = 244.1 MiB). Docker's `m` suffix means MiB "
               "(1024 \u00d7 1024 bytes): write `256m`.")
    elif got == 256 * 1024 ** 3:
        why = "`g` means GiB: that is a thousand times more than asked. Write `256m`."
    elif got == 256 * 1024:
        why = "`k` means KiB. Write `256m`."
    else:
        why = "A number without a unit means bytes; `256m` means 256 MiB."
    return fail(found=f"the memory limit is {got} bytes ({_mib(got)})", expected=f"{MEMORY} bytes (256 MiB)",
                fix=fix, evidence=ev, more=why)


@EXERCISE.check("cpus", "`capped` may use at most half a CPU", requires=("capped-exists",))
def cpus(ctx):
    hc = ctx.container("capped")["HostConfig"]
    nano = hc.get("NanoCpus") or 0
    quota, period = hc.get("CpuQuota") or 0, hc.get("CpuPeriod") or 0
    ev = {"HostConfig.NanoCpus": nano, "HostConfig.CpuQuota": quota, "HostConfig.CpuPeriod": period,
          "HostConfig.CpuShares": hc.get("CpuShares"), "HostConfig.CpusetCpus": hc.get("CpusetCpus")}
    fix = f"docker update --cpus 0.5 {ctx.name('capped')}"
    if nano == NANO_CPUS:
        return ok("NanoCpus is 500000000: half a CPU.", ev)
    if not nano and quota and period and abs(quota / period - 0.5) < 1e-9:
        return ok(f"CPU quota {quota} per period {period}: half a CPU (`--cpus 0.5` says the same in one option).", ev)
    if nano:
        return fail(found=f"NanoCpus is {nano} ({nano / 1e9:g} CPUs)", expected=f"{NANO_CPUS} (0.5 CPUs)",
                    fix=fix, evidence=ev, more="`--cpus` counts whole CPUs: half a CPU is `--cpus 0.5`.")
    if hc.get("CpuShares"):
        why = (f"`--cpu-shares {hc.get('CpuShares')}` is only a relative weight (1024 is normal) used when the CPUs "
               "are busy; an idle machine still lets the container use every CPU. A cap is `--cpus 0.5`.")
    elif hc.get("CpusetCpus"):
        why = (f"`--cpuset-cpus {hc.get('CpusetCpus')}` chooses which CPUs it may run on, not how much of them: one "
               "whole CPU is still more than half a CPU. A cap is `--cpus 0.5`.")
    else:
        why = "Without a CPU cap, a busy loop in the container can use every CPU of the host."
    return fail(found="no CPU cap (HostConfig.NanoCpus is 0)", expected=f"{NANO_CPUS} (0.5 CPUs)", fix=fix,
                evidence=ev, more=why)


@EXERCISE.check("pids", "`capped` may run at most 100 processes", requires=("capped-exists",))
def pids(ctx):
    hc = ctx.container("capped")["HostConfig"]
    got = hc.get("PidsLimit")
    ev = {"HostConfig.PidsLimit": got}
    fix = f"docker update --pids-limit {PIDS} {ctx.name('capped')}"
    if got == PIDS:
        return ok("PidsLimit is 100.", ev)
    if not got or got < 0:
        return fail(found=f"no process limit (HostConfig.PidsLimit is {got})", expected=f"{PIDS}", fix=fix,
                    evidence=ev, more="Without it, a fork bomb or a runaway worker pool in the container can use "
                                      "up the process table of the whole host.")
    return fail(found=f"the process limit is {got}", expected=f"{PIDS}", fix=fix, evidence=ev)


# --------------------------------------------------------------------------------------------- hog
@EXERCISE.check("hog-exists", "A container named `hog` exists")
def hog_exists(ctx):
    return common.container_exists(ctx, "hog", "a stopped container `hog` that was killed for using too much memory",
                                   _run_hog(ctx),
                                   more="Run it without `--rm`, so the container and its State stay to be inspected.")


@EXERCISE.check("hog-limit", "`hog` had a memory limit", requires=("hog-exists",))
def hog_limit(ctx):
    hc = ctx.container("hog")["HostConfig"]
    mem, swap = hc.get("Memory") or 0, hc.get("MemorySwap")
    ev = {"HostConfig.Memory": mem, "HostConfig.MemorySwap": swap}
    if not mem:
        return fail(found="`hog` has no memory limit (HostConfig.Memory is 0)",
                    expected=f"a small limit such as {HOG_MEMORY}, so the kernel stops it early",
                    fix=f"docker rm -f {ctx.name('hog')} && {_run_hog(ctx)}", evidence=ev,
                    more="A memory hog without a limit grows until the whole host runs short.")
    note = ""
    if swap != mem:
        note = (f"Tip: --memory-swap {HOG_MEMORY} (equal to --memory) forbids swap, so it is killed at once "
                "instead of swapping first.")
    return ok(f"Memory limit {_mib(mem)}.", ev, note=note)


@EXERCISE.check("hog-killed", "`hog` was killed because it ran out of memory (OOMKilled, exit 137)",
                requires=("hog-exists",))
def hog_killed(ctx):
    state = ctx.container("hog")["State"]
    code, oom = state.get("ExitCode"), bool(state.get("OOMKilled"))
    ev = {"State.Status": state.get("Status"), "State.OOMKilled": oom, "State.ExitCode": code,
          "State.FinishedAt": state.get("FinishedAt")}
    fix = f"docker rm -f {ctx.name('hog')} && {_run_hog(ctx)}"
    if state.get("Running"):
        return fail(found="`hog` is still running", expected="a container the memory limit has stopped",
                    fix=fix, evidence=ev,
                    more=f"It has not reached its limit. Its command must keep taking memory, e.g. `{HOG_CMD}`.")
    if oom and code == 137:
        return ok("OOMKilled is true and the exit code is 137: the kernel killed it at its memory limit.", ev)
    if code == 137:
        return fail(found="exit code 137 but State.OOMKilled is false",
                    expected="OOMKilled true and exit code 137", fix=fix, evidence=ev,
                    more=("137 is 128 + 9: the process was ended by signal 9, SIGKILL. Without OOMKilled it was not "
                          "the memory limit: something else sent that signal, such as `docker kill`, or "
                          "`docker stop` after its 10-second grace period. Let the limit do it."))
    if oom:
        return fail(found=f"OOMKilled is true but the exit code is {code}",
                    expected="exit code 137 (the main process itself was killed)", fix=fix, evidence=ev,
                    more="A process inside was killed, but the main process went on and exited by itself. "
                         "Make the main process the one that takes the memory.")
    return fail(found=f"`hog` exited with code {code} and OOMKilled is false",
                expected="OOMKilled true and exit code 137", fix=fix, evidence=ev,
                more=("It stopped for another reason: 0 means its command finished, 1 or 2 an error in the "
                      f"command. Its command must keep taking memory until the limit stops it, e.g. `{HOG_CMD}`."))
