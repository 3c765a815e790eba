"""log-rotation: a chatty container whose json-file log is capped (max-size 10m, max-file 3).

The learner runs::

    docker run -d --name chatty --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 \\
        busybox:1.35 sh -c 'i=0; while true; do i=$((i+1)); echo "chatty line $i"; sleep 1; done'

The check reads ``HostConfig.LogConfig`` (``Type`` and ``Config``): what the engine will do with
the log file, also while the container is stopped. It then reads the last few lines with time
stamps to see a line about every second. Logging options are fixed when a container is created,
so every fix here is "remove it and run it again".
"""
from __future__ import annotations

import json
import re
from datetime import datetime

from .. import common
from ..model import Exercise, Objects, fail, not_steady, ok

IMAGE = "busybox:1.35"
DRIVER = "json-file"
MAX_SIZE = "10m"
MAX_FILE = "3"
LOOP = "i=0; while true; do i=$((i+1)); echo \"chatty line $i\"; sleep 1; done"
READABLE = ("json-file", "local", "journald")  # drivers `docker logs` reads natively

EXERCISE = Exercise(
    id="log-rotation",
    title="Logs that cannot fill the disk",
    summary=(f"Container `chatty` from `{IMAGE}`, running and printing a line every second, with the "
             f"`{DRIVER}` log driver and the options max-size={MAX_SIZE}, max-file={MAX_FILE}."),
    lesson="Beyond the two days \u203a Logs (book/beyond/logs)",
    objects=Objects(containers=("chatty",)),
    day="Beyond",
    start=(f"docker run -d --name chatty --log-driver {DRIVER} --log-opt max-size={MAX_SIZE} "
           f"--log-opt max-file={MAX_FILE} {IMAGE} sh -c '{LOOP}'"),
)


def _run(ctx) -> str:
    return (f"docker run -d --name {ctx.name('chatty')} --log-driver {DRIVER} --log-opt max-size={MAX_SIZE} "
            f"--log-opt max-file={MAX_FILE} {IMAGE} sh -c '{LOOP}'")


def _recreate(ctx) -> str:
    return f"docker rm -f {ctx.name('chatty')} && {_run(ctx)}"


_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}


def size_in_bytes(text: str) -> int | None:
    """``10m`` -> 10485760, the way the engine reads ``max-size`` (binary units, ``b``/``ib`` optional)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*", str(text or ""), re.IGNORECASE)
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _log_config(info) -> tuple[str, dict]:
    cfg = (info.get("HostConfig") or {}).get("LogConfig") or {}
    return cfg.get("Type") or "", dict(cfg.get("Config") or {})


def _capped(config: dict) -> bool:
    return size_in_bytes(config.get("max-size", "")) == size_in_bytes(MAX_SIZE) and str(config.get("max-file")) == MAX_FILE


def _others_with_options(ctx) -> list[str]:
    """Containers in the learner's scope (other than chatty) that carry the rotation options."""
    prefix = ctx.scope.prefix
    summaries = ctx.api.containers(all=True, filters={"name": prefix} if prefix else None)
    found = []
    for s in summaries[:100]:
        names = [n.lstrip("/") for n in s.get("Names") or []]
        name = names[0] if names else s["Id"][:12]
        if not name.startswith(prefix) or name == ctx.name("chatty"):
            continue
        try:
            info = ctx.api.inspect_container(s["Id"])
        except Exception:
            continue
        _, config = _log_config(info)
        if "max-size" in config or "max-file" in config:
            found.append(name)
    return found


@EXERCISE.check("exists", "A container named `chatty` exists")
def exists(ctx):
    info = ctx.container("chatty")
    if info is None:
        others = _others_with_options(ctx)
        more = ""
        if others:
            more = (f"The container `{others[0]}` has log options, but the exercise looks at the one called "
                    f"`chatty`: give the options to a container with that name.")
        return common.container_missing(ctx, "chatty",
                                        f"a running container `chatty` from `{IMAGE}` that prints a line every second",
                                        _run(ctx), more, evidence={"containers with log options": others})
    return common.container_found(ctx, "chatty", info)


@EXERCISE.check("image", f"It runs `{IMAGE}`", requires=("exists",))
def image(ctx):
    return common.pinned_image(ctx, "chatty", IMAGE, _recreate(ctx))


@EXERCISE.check("running", "It is running", requires=("exists",))
def running(ctx):
    state = ctx.container("chatty")["State"]
    if (problem := not_steady(ctx.name("chatty"), state)) is not None:
        return problem
    if state.get("Running"):
        return ok("Running.", {"State.Status": state.get("Status")})
    return fail(found=f"the container is {state.get('Status')} (exit code {state.get('ExitCode')})",
                expected="a container that keeps running and printing",
                fix=f"docker start {ctx.name('chatty')}",
                evidence={"State.Status": state.get("Status"), "State.ExitCode": state.get("ExitCode"),
                          "Config.Cmd": ctx.container("chatty")["Config"].get("Cmd")},
                more=f"Its command must loop forever, e.g. `sh -c '{LOOP}'`; if it exits, `docker start` will "
                     "not help and you need a new container with that command.")


@EXERCISE.check("driver", f"Its log driver is `{DRIVER}`, which `docker logs` can read", requires=("exists",))
def driver(ctx):
    kind, config = _log_config(ctx.container("chatty"))
    ev = {"HostConfig.LogConfig.Type": kind, "HostConfig.LogConfig.Config": config}
    if kind == DRIVER:
        return ok(f"Log driver is `{DRIVER}`.", ev)
    if kind == "none":
        why = ("With the `none` driver Docker throws every line away: `docker logs chatty` answers "
               "\u201cconfigured logging driver does not support reading\u201d and there is nothing to look at when "
               "something goes wrong. Rotation keeps recent lines; `none` keeps none.")
    elif kind in READABLE:
        why = (f"`{kind}` can be read by `docker logs`, but the exercise practises the `{DRIVER}` driver, the "
               "default one, whose files grow without limit unless you cap them.")
    else:
        why = (f"`{kind}` sends the lines elsewhere (a log server or the host's syslog); `docker logs` can read "
               "them only through the engine's local cache, if at all, and max-size / max-file are options of "
               f"the `{DRIVER}` and `local` drivers.")
    return fail(found=f"the log driver is `{kind or '?'}`", expected=f"the `{DRIVER}` driver",
                fix=_recreate(ctx), evidence=ev, more=why)


@EXERCISE.check("rotation", f"Its log is capped: max-size={MAX_SIZE}, max-file={MAX_FILE}", requires=("exists",))
def rotation(ctx):
    info = ctx.container("chatty")
    kind, config = _log_config(info)
    ev = {"HostConfig.LogConfig.Config": config, "HostConfig.LogConfig.Type": kind}
    if _capped(config):
        total = size_in_bytes(MAX_SIZE) * int(MAX_FILE)
        return ok(f"Capped: at most {MAX_FILE} files of {MAX_SIZE} each, so at most {total // 1024 ** 2} MiB on disk.", ev)
    later = ("Log options are fixed when a container is created: there is no `docker update` for them, so "
             "remove the container and run it again. (Daemon-wide defaults in /etc/docker/daemon.json, "
             f"`\"log-opts\": {{\"max-size\": \"{MAX_SIZE}\", \"max-file\": \"{MAX_FILE}\"}}` with the values as "
             "strings, also apply only to containers created after the engine restarts.)")
    if not config.get("max-size") and not config.get("max-file"):
        others = _others_with_options(ctx)
        if others:
            ev["containers with log options"] = others
            return fail(found=f"`{ctx.name('chatty')}` has no log options, but `{others[0]}` has them",
                        expected=f"max-size={MAX_SIZE} and max-file={MAX_FILE} on `chatty` itself",
                        fix=_recreate(ctx), evidence=ev,
                        more="`--log-opt` belongs to the `docker run` that creates the chatty container. " + later)
        per_line = _bytes_per_line(ctx, info)
        day = per_line * 86400
        return fail(found="no log options: the log file grows without limit",
                    expected=f"max-size={MAX_SIZE} and max-file={MAX_FILE}",
                    fix=_recreate(ctx), evidence={**ev, "bytes per line in the log file (about)": per_line},
                    more=(f"Each line is stored as a JSON record of about {per_line} bytes (the text plus its "
                          f"stream and time stamp). One line a second is {_human(day)} a day and "
                          f"{_human(day * 365)} a year, for one quiet container; an app logging 100 lines a second "
                          f"writes {_human(day * 100)} a day. Servers really do run out of disk this way, with a "
                          "single container's log file at tens of gigabytes. " + later))
    problems = []
    max_size, max_file = config.get("max-size"), config.get("max-file")
    got = size_in_bytes(max_size or "")
    if not max_size:
        problems.append("max-size is missing (max-file alone does not rotate anything)")
    elif got != size_in_bytes(MAX_SIZE):
        shown = f"{max_size!r} ({got} bytes)" if got is not None else repr(max_size)
        problems.append(f"max-size is {shown}, not {MAX_SIZE} (10 MiB = 10485760 bytes; a number without a unit "
                        "means bytes)")
    if not max_file:
        problems.append("max-file is missing (the engine then keeps a single file)")
    elif str(max_file) != MAX_FILE:
        problems.append(f"max-file is {max_file!r}, not {MAX_FILE}")
    return fail(found="; ".join(problems), expected=f"max-size={MAX_SIZE} and max-file={MAX_FILE}",
                fix=_recreate(ctx), evidence=ev, more=later)


def _bytes_per_line(ctx, info) -> int:
    """Size of one line of this container in a json-file log (estimated from its last line)."""
    line = "chatty line 12345"
    try:
        out = ctx.logs(info["Id"], tail=1, timeout=3).strip()
        if out:
            line = out.splitlines()[-1]
    except Exception:
        pass
    record = json.dumps({"log": line + "\n", "stream": "stdout", "time": "2024-01-01T12:00:00.123456789Z"})
    return len(record) + 1


def _stamped_lines(ctx, cid: str) -> list[tuple[datetime, str]]:
    raw = ctx._deadline_client(5.0).logs(cid, stdout=True, stderr=True, tail=6, timestamps=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    out = []
    for line in text.splitlines():
        stamp, _, rest = line.partition(" ")
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?", stamp)
        if not m:
            continue
        frac = (m.group(2) or ".0")[:7]
        out.append((datetime.strptime(m.group(1) + frac, "%Y-%m-%dT%H:%M:%S.%f"), rest))
    return out


@EXERCISE.check("writing", "It writes a line about every second", requires=("running", "driver"))
def writing(ctx):
    import time

    info = ctx.container("chatty")
    lines = _stamped_lines(ctx, info["Id"])
    if len(lines) < 2:  # just started: give it up to 3 s to print a second line
        for _ in range(6):
            time.sleep(0.5)
            lines = _stamped_lines(ctx, info["Id"])
            if len(lines) >= 2:
                break
    ev = {"docker logs --timestamps --tail 6": [f"{t.isoformat()} {s}" for t, s in lines]}
    if len(lines) < 2:
        return fail(found="it printed " + ("nothing" if not lines else "only one line"),
                    expected="a new line every second", fix=_recreate(ctx), evidence=ev,
                    more=f"Give it a command that loops: `sh -c '{LOOP}'`.")
    gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(lines, lines[1:])]
    mean = sum(gaps) / len(gaps)
    ev["seconds between lines"] = round(mean, 2)
    if mean > 5:
        return fail(found=f"a line every {mean:.0f} seconds", expected="a line about every second",
                    fix=_recreate(ctx), evidence=ev, more="Use `sleep 1` in the loop.")
    return ok(f"It writes a line every {mean:.1f} s, and `docker logs` can read them.", ev)
