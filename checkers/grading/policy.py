"""The policy gate: what a submission may ask for before anything of it runs.

A grader runs 30 to 300 strangers' compose files on the instructor's machine. Before any build or
start, the gate reads what the submission asks for and refuses, with the reason in the feedback:

- privileged mode, added capabilities, devices, unconfined seccomp / AppArmor / SELinux labels;
- host namespaces (network, pid, ipc, uts, userns, cgroup) and joining other containers' namespaces;
- the Docker socket, and any host path outside the student's workspace (bind mounts, build
  contexts, env files, secrets and configs, volumes that bind a host folder);
- external volumes and networks (another student's, or the instructor's), other network drivers,
  logging drivers that ship logs elsewhere, SSH agent forwarding or insecure builds.

Compose values are read from the parsed model (``docker compose config --format json``), never by
grepping the file: anchors, ``extends``, ``include``, interpolation and short/long syntax are all
resolved by compose itself. ``config`` runs twice: once without interpolation or env-file
resolution (to see which env files would be read) and, only if those are safe, once fully.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .workspace import inside

SOCKET_NAMES = ("docker.sock", "containerd.sock", "podman.sock", "dockershim.sock", "crio.sock")
HOST_NS_KEYS = ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")
MAX_SERVICES = 12  # what one submission may start: every container gets the full grading limits
MAX_REPLICAS = 3
ALLOWED_SECURITY_OPT = re.compile(r"^no-new-privileges(?:[:=](?:true|false))?$")

WHY = {
    "privileged": "privileged mode gives the container full control of the machine",
    "cap-add": "added capabilities let a container act on the machine outside its sandbox",
    "devices": "host devices give direct access to the machine's hardware",
    "unconfined": "turning off seccomp / AppArmor / SELinux removes the sandbox around the container",
    "host-namespace": "sharing the host's namespaces lets the container see or act on the machine",
    "other-namespace": "joining another container's namespaces reaches outside this submission",
    "docker-socket": "the Docker socket gives full control of the engine (every other student's work, and the machine)",
    "host-path": "a host path outside the submission would read or change the instructor's files",
    "external": "an external volume or network belongs to someone else on this engine",
    "driver": "only the local volume driver and the bridge network driver are allowed",
    "logging": "logs stay on this engine: other logging drivers send them elsewhere",
    "build": "this build option reaches outside the submission",
    "runtime": "this option escapes the grading limits",
    "hook": "lifecycle hooks may not run privileged",
    "unresolved": "the path could not be resolved safely",
    "provider": "provider services run programs on the instructor's machine",
    "size": "a grader runs a bounded number of containers per submission",
}


class PolicyError(Exception):
    """``docker compose config`` itself failed: the compose file is not valid (the student's mistake)."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class Violation:
    rule: str
    where: str  # e.g. services.web.volumes[1].source
    value: object
    fix: str

    def sentence(self) -> str:
        return f"`{self.where}` is {json.dumps(self.value, default=str)}: {WHY.get(self.rule, self.rule)}. Fix: {self.fix}"

    def to_dict(self) -> dict:
        return {"rule": self.rule, "where": self.where, "value": self.value, "why": WHY.get(self.rule, ""), "fix": self.fix}


# ---------------------------------------------------------------- running compose config
def compose_config(workspace: Path, files: list[str], env: dict, timeout: float = 30, project: str = "policy") -> dict:
    """The resolved compose model, after checking which env files it would read.

    Raises :class:`PolicyError` if compose cannot parse the files, and :class:`Refused` if the
    first, unresolved pass already shows an env file outside the workspace.
    """
    base = ["docker", "compose", "--project-directory", str(workspace), "-p", project]
    for f in files:
        base += ["-f", str(workspace / f)]
    unresolved = _config(base + ["config", "--format", "json", "--no-interpolate", "--no-env-resolution"], env,
                         workspace, timeout)
    early = check_env_files(unresolved, workspace) + check_includes(workspace, files)
    if early:
        raise Refused(early)
    return _config(base + ["config", "--format", "json"], env, workspace, timeout)


def _config(cmd: list[str], env: dict, cwd: Path, timeout: float) -> dict:
    try:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PolicyError(f"`docker compose config` took longer than {timeout:.0f}s") from None
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip()
        raise PolicyError("compose could not read the file: " + (msg.splitlines()[-1] if msg else "unknown error"), msg)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise PolicyError("compose printed something that is not JSON", proc.stdout[-2000:]) from None


class Refused(Exception):
    def __init__(self, violations: list[Violation]):
        super().__init__("; ".join(v.sentence() for v in violations))
        self.violations = violations


def check_env_files(unresolved: dict, workspace: Path) -> list[Violation]:
    out = []
    for sname, svc in (unresolved.get("services") or {}).items():
        for i, ef in enumerate(_as_list(svc.get("env_file"))):
            path = ef.get("path") if isinstance(ef, dict) else ef
            where = f"services.{sname}.env_file[{i}]"
            if not isinstance(path, str) or "$" in path:
                out.append(Violation("unresolved", where, path, "name the env file by a plain relative path, e.g. `env_file: .env`"))
            elif not inside(_abs(path, workspace), workspace):
                out.append(Violation("host-path", where, path, "keep the env file inside the exercise folder, e.g. `env_file: .env`"))
    return out


def check_includes(workspace: Path, files: list[str]) -> list[Violation]:
    """``include:`` and ``extends.file`` name other compose files: they too must be inside."""
    import yaml

    out = []
    for f in files:
        try:
            raw = yaml.safe_load((workspace / f).read_text(errors="replace")) or {}
        except (OSError, yaml.YAMLError):
            continue  # compose config reports the syntax error itself
        if not isinstance(raw, dict):
            continue
        for i, inc in enumerate(_as_list(raw.get("include"))):
            paths = inc.get("path") if isinstance(inc, dict) else inc
            for p in _as_list(paths):
                if isinstance(p, str) and (("$" in p) or not inside(_abs(p, workspace), workspace)):
                    out.append(Violation("host-path", f"include[{i}]", p, "include only compose files inside the exercise folder"))
        for sname, svc in (raw.get("services") or {}).items():
            ext = svc.get("extends") if isinstance(svc, dict) else None
            if isinstance(ext, dict) and isinstance(ext.get("file"), str):
                p = ext["file"]
                if "$" in p or not inside(_abs(p, workspace), workspace):
                    out.append(Violation("host-path", f"services.{sname}.extends.file", p,
                                         "extend only compose files inside the exercise folder"))
    return out


def _as_list(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _abs(path: str, workspace: Path) -> str:
    p = os.path.expanduser(path) if path.startswith("~") else path
    return p if os.path.isabs(p) else os.path.join(str(workspace), p)


def _is_socket_path(p: str) -> bool:
    base = os.path.basename(p.rstrip("/"))
    real = os.path.realpath(p) if p else p
    return base in SOCKET_NAMES or os.path.basename(real) in SOCKET_NAMES or p.rstrip("/") in ("/var/run", "/run")


# ---------------------------------------------------------------- the compose model
def check_compose(cfg: dict, workspace: Path) -> list[Violation]:
    """Every reason to refuse the resolved compose model ``cfg`` (``[]``: it may run)."""
    ws = Path(workspace)
    out: list[Violation] = []
    services = cfg.get("services") or {}
    names = set(services)
    if len(services) > MAX_SERVICES:
        out.append(Violation("size", "services", len(services), f"keep to at most {MAX_SERVICES} services"))
    for sname, svc in services.items():
        out += _check_service(sname, svc or {}, names, ws)
    for vname, vol in (cfg.get("volumes") or {}).items():
        vol = vol or {}
        where = f"volumes.{vname}"
        if vol.get("external"):
            out.append(Violation("external", f"{where}.external", True, f"declare `{vname}:` without `external`, so it is this project's own"))
        if vol.get("driver") not in (None, "", "local"):
            out.append(Violation("driver", f"{where}.driver", vol.get("driver"), "remove `driver:` (the local driver is used)"))
        opts = vol.get("driver_opts") or {}
        if opts:
            out.append(Violation("host-path", f"{where}.driver_opts", opts,
                                 "remove `driver_opts:` (a local volume with `device`/`o: bind` mounts a host folder)"))
    for nname, net in (cfg.get("networks") or {}).items():
        net = net or {}
        where = f"networks.{nname}"
        if net.get("external"):
            out.append(Violation("external", f"{where}.external", True, f"declare `{nname}:` without `external`, so it is this project's own"))
        elif net.get("driver") not in (None, "", "bridge"):
            out.append(Violation("driver", f"{where}.driver", net.get("driver"), "remove `driver:` (bridge is used)"))
    for kind in ("secrets", "configs"):
        for name, item in (cfg.get(kind) or {}).items():
            item = item or {}
            where = f"{kind}.{name}"
            if item.get("external"):
                out.append(Violation("external", f"{where}.external", True, "use `file:` with a file in the exercise folder"))
            f = item.get("file")
            if f and not inside(_abs(f, ws), ws):
                out.append(Violation("host-path", f"{where}.file", f, "point `file:` at a file inside the exercise folder"))
    return out


def _check_service(sname: str, svc: dict, services: set, ws: Path) -> list[Violation]:
    out: list[Violation] = []
    w = f"services.{sname}"
    for key, val in (("scale", svc.get("scale")), ("deploy.replicas", (svc.get("deploy") or {}).get("replicas"))):
        if isinstance(val, int) and val > MAX_REPLICAS:
            out.append(Violation("size", f"{w}.{key}", val, f"start at most {MAX_REPLICAS} replicas of a service"))
    if svc.get("privileged"):
        out.append(Violation("privileged", f"{w}.privileged", True, "remove `privileged: true`"))
    if svc.get("cap_add"):
        out.append(Violation("cap-add", f"{w}.cap_add", svc["cap_add"], "remove `cap_add:`"))
    for key in ("devices", "device_cgroup_rules", "gpus"):
        if svc.get(key):
            out.append(Violation("devices", f"{w}.{key}", svc[key], f"remove `{key}:`"))
    if (svc.get("deploy") or {}).get("resources", {}).get("reservations", {}).get("devices"):
        out.append(Violation("devices", f"{w}.deploy.resources.reservations.devices", True, "remove the device reservation"))
    for i, opt in enumerate(svc.get("security_opt") or []):
        if not ALLOWED_SECURITY_OPT.match(str(opt).strip()):
            out.append(Violation("unconfined", f"{w}.security_opt[{i}]", opt, "remove this `security_opt` entry"))
    for key in HOST_NS_KEYS:
        val = svc.get(key)
        if not val:
            continue
        val = str(val)
        if key == "network_mode" and val == "none":
            continue
        if val.startswith("service:") and val.split(":", 1)[1] in services:
            continue
        if val == "host":
            out.append(Violation("host-namespace", f"{w}.{key}", val, f"remove `{key}: host`"))
        elif val.startswith("container:"):
            out.append(Violation("other-namespace", f"{w}.{key}", val, f"remove `{key}:` (or use `service:` for a service of this file)"))
        elif key == "network_mode":
            out.append(Violation("host-namespace", f"{w}.network_mode", val,
                                 "remove `network_mode:` (services share the project's own network)"))
        elif val not in ("private", "shareable", ""):
            out.append(Violation("host-namespace", f"{w}.{key}", val, f"remove `{key}:`"))
    for i, vf in enumerate(svc.get("volumes_from") or []):
        ref = str(vf).split(":")[0] if not str(vf).startswith("container:") else str(vf)
        if str(vf).startswith("container:") or ref not in services:
            out.append(Violation("other-namespace", f"{w}.volumes_from[{i}]", vf, "share volumes only between services of this file"))
    for i, vol in enumerate(svc.get("volumes") or []):
        out += _check_mount(f"{w}.volumes[{i}]", vol, ws)
    for key, rule, fix in (("cgroup_parent", "runtime", "remove `cgroup_parent:`"), ("runtime", "runtime", "remove `runtime:`"),
                           ("isolation", "runtime", "remove `isolation:`"), ("use_api_socket", "docker-socket", "remove `use_api_socket:`"),
                           ("provider", "provider", "remove `provider:`")):
        if svc.get(key) and not (key == "runtime" and svc[key] == "runc"):
            out.append(Violation(rule, f"{w}.{key}", svc[key], fix))
    if svc.get("oom_kill_disable"):
        out.append(Violation("runtime", f"{w}.oom_kill_disable", True, "remove `oom_kill_disable:`"))
    if isinstance(svc.get("oom_score_adj"), int) and svc["oom_score_adj"] < 0:
        out.append(Violation("runtime", f"{w}.oom_score_adj", svc["oom_score_adj"], "remove `oom_score_adj:`"))
    log = svc.get("logging") or {}
    if log.get("driver") not in (None, "", "json-file", "local", "none"):
        out.append(Violation("logging", f"{w}.logging.driver", log.get("driver"), "remove `logging:` (or use json-file)"))
    for hook_key in ("post_start", "pre_stop"):
        for i, hook in enumerate(svc.get(hook_key) or []):
            if isinstance(hook, dict) and hook.get("privileged"):
                out.append(Violation("hook", f"{w}.{hook_key}[{i}].privileged", True, "remove `privileged: true` from the hook"))
    build = svc.get("build")
    if isinstance(build, dict):
        out += _check_build(f"{w}.build", build, ws)
    return out


def _check_mount(where: str, vol, ws: Path) -> list[Violation]:
    if isinstance(vol, str):  # not normalised (should not happen after config): parse short syntax
        parts = vol.split(":")
        vol = {"type": "bind" if parts[0].startswith(("/", ".", "~")) else "volume", "source": parts[0]} if len(parts) > 1 else {"type": "volume"}
    vtype, src = vol.get("type"), vol.get("source") or ""
    if vtype == "bind" or (vtype != "volume" and src.startswith("/")):
        if _is_socket_path(src) or _is_socket_path(vol.get("target") or ""):
            return [Violation("docker-socket", f"{where}.source", src, "remove this mount: a submission never gets the Docker socket")]
        if not src or not inside(_abs(src, ws), ws):
            return [Violation("host-path", f"{where}.source", src,
                              "mount only folders of the exercise folder, e.g. `./site:/usr/share/nginx/html:ro`, or use a named volume")]
    if vtype == "npipe":
        return [Violation("docker-socket", f"{where}.type", vtype, "remove this mount")]
    return []


def _check_build(where: str, build: dict, ws: Path) -> list[Violation]:
    out = []
    ctx = build.get("context") or "."
    if re.match(r"^(https?|git|ssh)://|^git@|\.git(#|$)", str(ctx)):
        out.append(Violation("build", f"{where}.context", ctx, "build from the exercise folder (`build: .`)"))
        return out
    ctx_path = _abs(str(ctx), ws)
    if not inside(ctx_path, ws):
        out.append(Violation("host-path", f"{where}.context", ctx, "build from the exercise folder (`build: .`)"))
    df = build.get("dockerfile")
    if df and not build.get("dockerfile_inline"):
        if not inside(df if os.path.isabs(df) else os.path.join(ctx_path, df), ws):
            out.append(Violation("host-path", f"{where}.dockerfile", df, "keep the Dockerfile in the exercise folder"))
    for name, val in (build.get("additional_contexts") or {}).items():
        v = str(val)
        if v.startswith(("docker-image://", "service:", "target:")):
            continue
        if "://" in v or not inside(_abs(v, ws), ws):
            out.append(Violation("host-path", f"{where}.additional_contexts.{name}", val, "use folders of the exercise folder only"))
    if build.get("network") not in (None, "", "none", "default"):
        out.append(Violation("build", f"{where}.network", build["network"], "remove `network:` from `build:`"))
    if build.get("privileged"):
        out.append(Violation("privileged", f"{where}.privileged", True, "remove `privileged:` from `build:`"))
    if build.get("entitlements"):
        out.append(Violation("build", f"{where}.entitlements", build["entitlements"], "remove `entitlements:`"))
    if build.get("ssh"):
        out.append(Violation("build", f"{where}.ssh", build["ssh"], "remove `ssh:` (it would forward the grader's SSH agent)"))
    return out


# ---------------------------------------------------------------- Dockerfiles
def dockerfile_instructions(text: str) -> list[tuple[int, str, str]]:
    """``(line, INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    out, buf, start = [], "", 0
    escape = "\\"
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^\s*#\s*escape\s*=\s*(\S)", line)
        if m and not out and not buf:
            escape = m.group(1)
            continue
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if not buf:
            start = n
        stripped = line.rstrip()
        if stripped.endswith(escape):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        parts = buf.strip().split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
        buf = ""
    if buf.strip():
        parts = buf.strip().split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
    return out


def check_dockerfile(path: Path, name: str = "Dockerfile") -> list[Violation]:
    """``RUN --security=insecure`` and ``RUN --network=host`` reach outside the build sandbox."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    out = []
    for line, instr, args in dockerfile_instructions(text):
        if instr != "RUN":
            continue
        for word in args.split():
            if not word.startswith("--"):
                break  # the command starts: what follows is the command's own text
            key, _, val = word[2:].partition("=")
            if key == "security" and val != "sandbox":
                out.append(Violation("privileged", f"{name} line {line}: RUN --security", val, "remove `--security=insecure`"))
            if key == "network" and val not in ("none", "default"):
                out.append(Violation("build", f"{name} line {line}: RUN --network", val, f"remove `--network={val}`"))
            if key == "mount" and ("type=ssh" in val):
                out.append(Violation("build", f"{name} line {line}: RUN --mount", val, "remove the ssh mount"))
    return out


def base_images(path: Path) -> list[str]:
    """The images a Dockerfile starts FROM (stage names excluded), for the audit."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    stages, refs = set(), []
    for _, instr, args in dockerfile_instructions(text):
        if instr != "FROM":
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        if not words:
            continue
        ref = words[0]
        if len(words) >= 3 and words[1].lower() == "as":
            stages.add(words[2].lower())
        if ref.lower() not in stages and ref != "scratch" and "$" not in ref:
            refs.append(ref)
    return refs


# ---------------------------------------------------------------- docker run options
_FLAGS_WITH_VALUE = {"-v", "--volume", "--mount", "--network", "--net", "--pid", "--ipc", "--uts", "--userns",
                     "--cgroupns", "--device", "--cap-add", "--security-opt", "--cgroup-parent", "--runtime",
                     "--log-driver", "--volumes-from", "--device-cgroup-rule", "--gpus", "-p", "--publish", "--name",
                     "-e", "--env", "--env-file", "--tmpfs", "--cap-drop", "--restart", "-u", "--user", "-w", "--workdir",
                     "--entrypoint", "--log-opt", "--label", "-l", "--memory", "-m", "--cpus", "--pids-limit", "--ulimit",
                     "--health-cmd", "--health-interval", "--health-timeout", "--health-retries", "--stop-signal",
                     "--stop-timeout", "--hostname", "-h", "--add-host", "--dns", "--shm-size", "--sysctl"}
GRADER_FLAGS = {"-d", "--detach", "--rm", "-i", "-t", "-it", "-ti", "--interactive", "--tty", "-P", "--publish-all"}
GRADER_FLAGS_WITH_VALUE = {"--name", "-p", "--publish", "--network", "--net"}


def grader_owned_removed(args: list[str]) -> list[str]:
    """A student's run options without those the grader sets itself (name, ports, network, -d, --rm)."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        key = a.split("=", 1)[0]
        if a in GRADER_FLAGS:
            i += 1
            continue
        if key in GRADER_FLAGS_WITH_VALUE:
            i += 1 if "=" in a else 2
            continue
        out.append(a)
        i += 1
    return out


def check_run_args(args: list[str], ws: Path) -> list[Violation]:
    """The same rules for ``docker run`` options (e.g. from a submission's run file)."""
    out: list[Violation] = []
    items: list[tuple[str, str | None]] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            break
        if a.startswith("--") and "=" in a:
            k, v = a.split("=", 1)
            items.append((k, v))
        elif a in _FLAGS_WITH_VALUE and i + 1 < len(args):
            items.append((a, args[i + 1]))
            i += 1
        elif a.startswith("-"):
            items.append((a, None))
        else:
            break  # the image: options end here
        i += 1
    for k, v in items:
        where = f"docker run {k}" + (f" {v}" if v is not None else "")
        if k == "--privileged" and v in (None, "true", "1"):
            out.append(Violation("privileged", where, True, "remove `--privileged`"))
        elif k == "--cap-add":
            out.append(Violation("cap-add", where, v, "remove `--cap-add`"))
        elif k in ("--device", "--device-cgroup-rule", "--gpus"):
            out.append(Violation("devices", where, v, f"remove `{k}`"))
        elif k == "--security-opt" and not ALLOWED_SECURITY_OPT.match(v or ""):
            out.append(Violation("unconfined", where, v, "remove this `--security-opt`"))
        elif k in ("--network", "--net") and (v == "host" or (v or "").startswith("container:")):
            out.append(Violation("host-namespace", where, v, f"remove `{k} {v}`"))
        elif k in ("--pid", "--ipc", "--uts", "--userns", "--cgroupns") and v and (v == "host" or v.startswith("container:")):
            out.append(Violation("host-namespace", where, v, f"remove `{k} {v}`"))
        elif k in ("--cgroup-parent", "--runtime"):
            out.append(Violation("runtime", where, v, f"remove `{k}`"))
        elif k == "--volumes-from":
            out.append(Violation("other-namespace", where, v, "remove `--volumes-from`"))
        elif k == "--log-driver" and v not in ("json-file", "local", "none"):
            out.append(Violation("logging", where, v, "remove `--log-driver`"))
        elif k in ("-v", "--volume") and v:
            src = v.split(":")[0]
            if src.startswith(("/", ".", "~")):
                out += _check_mount(where, {"type": "bind", "source": _abs(src, ws), "target": (v.split(":") + [""])[1]}, ws)
        elif k == "--mount" and v:
            fields = dict(p.split("=", 1) if "=" in p else (p, "true") for p in v.split(","))
            src = fields.get("source") or fields.get("src") or ""
            if fields.get("type") == "bind":
                out += _check_mount(where, {"type": "bind", "source": _abs(src, ws), "target": fields.get("target") or fields.get("dst") or ""}, ws)
            elif fields.get("type") == "volume" and any(k2.startswith("volume-opt") for k2 in fields):
                out.append(Violation("host-path", where, v, "remove `volume-opt` (it can bind a host folder)"))
    return out


def parse_run_file(text: str) -> list[str]:
    """A submission's ``run-options`` file: shell words, ``#`` comments, any number of lines."""
    return shlex.split(text.replace("\\\n", " "), comments=True)
