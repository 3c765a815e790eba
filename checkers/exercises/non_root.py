"""non-root: an image whose process is not root, run locked down.

The learner builds ``safe-app:1.0`` from ``exercises/non-root/`` (a Dockerfile with a ``USER``
line) and runs::

    docker run -d --name safe --read-only --tmpfs /tmp --cap-drop ALL \\
        --security-opt no-new-privileges safe-app:1.0

The check reads ``Config.User`` of the image (gradable from the Dockerfile alone) and
``HostConfig`` of the container (``ReadonlyRootfs``, ``Tmpfs``, ``CapDrop``/``CapAdd``,
``SecurityOpt``, ``Mounts``), then confirms from inside with deadline-bound execs: ``id -u`` is
not 0 and ``touch /probe`` fails (the root file system is read-only, so nothing is written).
"""
from __future__ import annotations

from .. import common
from ..advice import hadolint_advice
from ..model import Exercise, Objects, fail, not_steady, ok

IMAGE = "safe-app:1.0"
BUILD = f"docker build -t {IMAGE} ."
RUN_OPTS = "--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges"
DEFAULT_CAPS = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]
SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")

EXERCISE = Exercise(
    id="non-root",
    title="Not root, and locked down",
    summary=("Image `safe-app:1.0` whose process runs as a non-root user, and container `safe` from it with a "
             "read-only root file system, a tmpfs at /tmp, all capabilities dropped and no-new-privileges."),
    lesson="Beyond the two days \u203a Security (book/beyond/security)",
    objects=Objects(containers=("safe",), images=(IMAGE,)),
    day="Beyond",
    files=True,
    start=f"cd exercises/non-root && {BUILD}",
)


def _build(ctx) -> str:
    return f"cd exercises/non-root && docker build -t {ctx.image_ref(IMAGE)} ."


def _run(ctx) -> str:
    return f"docker run -d --name {ctx.name('safe')} {RUN_OPTS} {ctx.image_ref(IMAGE)}"


def _recreate(ctx) -> str:
    return f"docker rm -f {ctx.name('safe')} && {_run(ctx)}"


def _is_root(user: str) -> bool:
    name = (user or "").split(":")[0].strip()
    return name in ("", "0", "root")


# ------------------------------------------------------------------------------------------- image
@EXERCISE.check("image-exists", f"The image `{IMAGE}` exists")
def image_exists(ctx):
    return common.image_exists(ctx, IMAGE, "an image built from exercises/non-root/", _build(ctx))


@EXERCISE.check("image-user", "The image runs its process as a non-root user (USER)", requires=("image-exists",))
def image_user(ctx):
    user = (ctx.image(IMAGE).get("Config") or {}).get("User") or ""
    ev = {"Config.User": user}
    if not _is_root(user):
        return ok(f"The image runs as `{user}`.", ev)
    found = "the image has no USER, so its process runs as root (uid 0)" if not user else f"USER is `{user}`, which is root"
    return fail(found=found, expected="a USER line naming an ordinary user, e.g. `USER app`",
                fix="add `RUN useradd --system --uid 10001 app` and `USER app` to the Dockerfile (before CMD), then "
                    + _build(ctx), evidence=ev,
                more="A root process in a container is root on the host's kernel: one escape bug away from the "
                     "host. Most apps need no root at all.")


# --------------------------------------------------------------------------------------- container
@EXERCISE.check("exists", "A container named `safe` exists")
def exists(ctx):
    return common.container_exists(ctx, "safe", f"a container `safe` from `{IMAGE}` started with {RUN_OPTS}", _run(ctx))


@EXERCISE.check("from-image", f"`safe` runs `{IMAGE}`", requires=("exists", "image-exists"))
def from_image(ctx):
    return common.latest_build(ctx, "safe", IMAGE, _recreate(ctx),
                               more="A container keeps the image it was created from; rebuilding does not change it.")


@EXERCISE.check("running", "The app in `safe` is running", requires=("exists",))
def running(ctx):
    info = ctx.container("safe")
    state = info["State"]
    if (problem := not_steady(ctx.name("safe"), state)) is not None:
        return problem
    if state.get("Running"):
        return ok("Running.", {"State.Status": state.get("Status")})
    tail = common.log_tail(ctx, info)
    ev = {"State.Status": state.get("Status"), "State.ExitCode": state.get("ExitCode"),
          "Config.User": info["Config"].get("User"), "docker logs (tail)": tail[-600:]}
    if "Permission denied" in tail or "PermissionError" in tail:
        return fail(found=f"the app stopped (exit code {state.get('ExitCode')}) with \u201cPermission denied\u201d",
                    expected="the app running as its user and able to read its own files",
                    fix="make the files readable by everyone, e.g. `RUN chmod -R a+rX /app` (or `COPY --chown=app:app`), "
                        f"rebuild, then {_recreate(ctx)}",
                    evidence=ev,
                    more="Changing USER is not enough if the files it must read are root-only (mode 600/700): the "
                         "new user may not open them. Readable is enough; the app does not need to own or write them.")
    return fail(found=f"the container is {state.get('Status')} (exit code {state.get('ExitCode')})",
                expected="the app running", fix=f"docker logs {ctx.name('safe')}   (then fix and {_recreate(ctx)})",
                evidence=ev)


@EXERCISE.check("read-only", "Its root file system is read-only", requires=("exists",))
def read_only(ctx):
    ro = bool(ctx.container("safe")["HostConfig"].get("ReadonlyRootfs"))
    ev = {"HostConfig.ReadonlyRootfs": ro}
    if ro:
        return ok("ReadonlyRootfs is true: nothing in the image can be changed at run time.", ev)
    return fail(found="the root file system is writable (ReadonlyRootfs false)", expected="`--read-only`",
                fix=_recreate(ctx), evidence=ev,
                more="An attacker who gets in can then change the app's own files; with --read-only they cannot.")


def _tmpfs_mounts(info) -> dict:
    found = dict(info["HostConfig"].get("Tmpfs") or {})
    for m in info.get("Mounts") or []:
        if m.get("Type") == "tmpfs":
            found.setdefault(m.get("Destination"), "")
    return found


@EXERCISE.check("tmpfs", "It has a tmpfs at /tmp", requires=("exists",))
def tmpfs(ctx):
    info = ctx.container("safe")
    mounts = _tmpfs_mounts(info)
    ev = {"HostConfig.Tmpfs": info["HostConfig"].get("Tmpfs") or {}}
    if any((k or "").rstrip("/") == "/tmp" for k in mounts):
        return ok("/tmp is a tmpfs: the one place the app may write, in memory, gone when it stops.", ev)
    return fail(found="no tmpfs at /tmp", expected="`--tmpfs /tmp`", fix=_recreate(ctx), evidence=ev,
                more="With a read-only root, programs that write temporary files need a writable /tmp.")


@EXERCISE.check("caps", "All capabilities are dropped", requires=("exists",))
def caps(ctx):
    hc = ctx.container("safe")["HostConfig"]
    drop = [c.upper().removeprefix("CAP_") for c in hc.get("CapDrop") or []]
    add = [c.upper().removeprefix("CAP_") for c in hc.get("CapAdd") or []]
    ev = {"HostConfig.CapDrop": hc.get("CapDrop"), "HostConfig.CapAdd": hc.get("CapAdd"),
          "HostConfig.Privileged": hc.get("Privileged")}
    if hc.get("Privileged"):
        return fail(found="the container is privileged (--privileged): it has every capability and every device",
                    expected="`--cap-drop ALL` and no --privileged", fix=_recreate(ctx), evidence=ev)
    if "ALL" in drop and not add:
        return ok("CapDrop is ALL and nothing is added back.", ev)
    if "ALL" in drop:
        return fail(found=f"all capabilities are dropped, but {', '.join(add)} {'is' if len(add) == 1 else 'are'} "
                          "added back (--cap-add)",
                    expected="none added back", fix=_recreate(ctx), evidence=ev,
                    more="This app needs no capability at all (it listens on port 8000, above 1024).")
    kept = [c for c in DEFAULT_CAPS if c not in drop] + [c for c in add if c not in DEFAULT_CAPS]
    return fail(found=f"capabilities are kept: {', '.join(kept)}",
                expected="`--cap-drop ALL` (the app needs none)", fix=_recreate(ctx), evidence=ev,
                more="Docker gives every container a default set of capabilities (such as CHOWN, SETUID, NET_RAW); "
                     "each one is a power a compromised process could use.")


def _nnp(opts) -> bool | None:
    for opt in opts or []:
        key, _, value = opt.replace("=", ":").partition(":")
        if key.strip() == "no-new-privileges":
            return value.strip().lower() in ("", "true", "1")
    return None


@EXERCISE.check("no-new-privileges", "no-new-privileges is set", requires=("exists",))
def no_new_privileges(ctx):
    opts = ctx.container("safe")["HostConfig"].get("SecurityOpt") or []
    ev = {"HostConfig.SecurityOpt": opts}
    if _nnp(opts):
        return ok("no-new-privileges is on: no program inside can gain privileges (setuid binaries do nothing).", ev)
    return fail(found="no-new-privileges is " + ("set to false" if _nnp(opts) is False else "not set"),
                expected="`--security-opt no-new-privileges`", fix=_recreate(ctx), evidence=ev,
                more="Without it, a setuid program (such as su or passwd) could turn the app's user back into root.")


@EXERCISE.check("no-socket", "The Docker socket is not mounted", requires=("exists",))
def no_socket(ctx):
    mounts = ctx.container("safe").get("Mounts") or []
    hits = [m for m in mounts if any((m.get("Source") or "").endswith(s) or (m.get("Destination") or "").endswith(s)
                                     for s in SOCKETS) or (m.get("Source") or "").endswith("docker.sock")]
    ev = {"Mounts": [{k: m.get(k) for k in ("Type", "Source", "Destination", "RW")} for m in mounts]}
    if not hits:
        return ok("No Docker socket inside.", ev)
    m = hits[0]
    return fail(found=f"the Docker socket is mounted: {m.get('Source')} -> {m.get('Destination')}",
                expected="no Docker socket in the container", fix=_recreate(ctx), evidence=ev,
                more=("Whoever can talk to the Docker socket can start a privileged container with the host's / "
                      "mounted: that is root on the host, whatever USER, --read-only and --cap-drop say."))


@EXERCISE.check("inside", "Inside, the process is not root and / cannot be written",
                requires=("running", "read-only"))
def inside(ctx):
    cid = ctx.container("safe")["Id"]
    who = ctx.exec(cid, ["id", "-u"], timeout=3)
    ev = {"docker exec safe id -u": who.output.strip(), "exit code": who.exit_code}
    if who.timed_out or who.exit_code != 0:
        return fail(found="`id -u` could not run in the container" + (" (timed out)" if who.timed_out else ""),
                    expected="an image with the usual `id` command", fix=f"docker exec {ctx.name('safe')} id -u",
                    evidence=ev)
    uid = who.output.strip()
    if uid == "0":
        return fail(found="`id -u` inside `safe` prints 0: the process runs as root",
                    expected="a non-zero user id", fix="add `USER app` to the Dockerfile, rebuild, and "
                                                       + _recreate(ctx), evidence=ev,
                    more="Either the image has no USER or the container was started with `--user root` / `-u 0`.")
    touch = ctx.exec(cid, ["touch", "/probe"], timeout=3)
    ev["docker exec safe touch /probe"] = touch.output.strip()[-200:]
    ev["touch exit code"] = touch.exit_code
    status = ctx.exec(cid, ["cat", "/proc/self/status"], timeout=3)
    for line in status.output.splitlines():
        if line.startswith(("CapEff:", "NoNewPrivs:")):
            key, _, value = line.partition(":")
            ev[f"/proc/self/status {key}"] = value.strip()
    if touch.exit_code == 0:
        return fail(found="writing /probe at the root of the file system worked",
                    expected="the write to fail (read-only root file system)", fix=_recreate(ctx), evidence=ev)
    return ok(f"Inside, `id -u` is {uid} and writing to / fails: {touch.output.strip()[:120]}", ev)


@EXERCISE.advisor
def lint(ctx):
    finder = getattr(ctx, "exercise_dir", None)
    folder = finder() if finder else None
    return hadolint_advice(folder / "Dockerfile") if folder else []
