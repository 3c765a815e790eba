"""Building and starting one student's exercise under its own namespace, limits and deadlines.

Every object a :class:`Sandbox` creates carries the grading labels (``org.dockercourse.purpose=grade``,
the run id, the gradebook id, the student and the exercise), and is named under the student's
scope prefix (``g<run>-<student>-``). Containers get memory, CPU and pids limits, a bounded
json-file log, ``no-new-privileges``; networks get no way beyond the machine (``internal`` when the
exercise publishes no port, else a bridge without IP masquerading, so published ports work from
127.0.0.1 but nothing routes out). Each step (config, build, start) has a wall-clock deadline:
the process group is killed when it passes.

:func:`sweep` removes everything carrying a label set: the grader calls it for each job when
done, for the whole run at the end, and at start for leftovers of a crashed run of the same gradebook.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..labels import EXERCISE, MANAGED, PURPOSE, RUN, STUDENT, label_filter

GRADEBOOK = "org.dockercourse.gradebook"
NO_MASQ = {"com.docker.network.bridge.enable_ip_masquerade": "false"}


@dataclass(frozen=True)
class Limits:
    memory: str = "256m"
    cpus: float = 1.0
    pids: int = 256
    log_max_size: str = "1m"
    log_max_file: int = 1
    build_network: str = "none"  # builds get no network: dependencies come from the exercise's wheel folders

    def memory_bytes(self) -> int:
        return _bytes(self.memory)

    def host_config(self) -> dict:
        """The same limits as docker-py host-config arguments, for containers the checks start."""
        return {"mem_limit": self.memory, "memswap_limit": self.memory, "nano_cpus": int(self.cpus * 1e9),
                "pids_limit": self.pids,
                "log_config": {"type": "json-file",
                               "config": {"max-size": self.log_max_size, "max-file": str(self.log_max_file)}}}

    def to_dict(self) -> dict:
        return {"memory": self.memory, "cpus": self.cpus, "pids": self.pids, "log_max_size": self.log_max_size,
                "log_max_file": self.log_max_file, "build_network": self.build_network}


@dataclass(frozen=True)
class Deadlines:
    config: float = 30
    build: float = 300
    start: float = 90
    settle: float = 15
    checks: float = 120
    teardown: float = 60

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _bytes(text: str) -> int:
    t = str(text).strip().lower()
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    if t.endswith("b"):
        return _bytes(t[:-1])
    return int(t)


# ---------------------------------------------------------------- running a command with a deadline
@dataclass
class StepResult:
    step: str
    argv: list[str]
    returncode: int | None
    output: str  # the tail only
    seconds: float
    timed_out: bool = False
    output_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def to_dict(self, tail: int = 4000) -> dict:
        return {"step": self.step, "command": " ".join(self.argv), "returncode": self.returncode,
                "seconds": round(self.seconds, 2), "timed_out": self.timed_out, "output_bytes": self.output_bytes,
                "log_tail": self.output[-tail:]}


_ACTIVE: set[subprocess.Popen] = set()
_ACTIVE_LOCK = threading.Lock()


def kill_active() -> None:
    """Kill every step still running (Ctrl-C / SIGTERM): their whole process groups."""
    with _ACTIVE_LOCK:
        procs = list(_ACTIVE)
    for p in procs:
        _kill_group(p)


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            continue


def run_step(step: str, argv: list[str], env: dict, cwd: Path | None, deadline: float,
             keep: int = 64 * 1024) -> StepResult:
    """Run ``argv``, keep the last ``keep`` bytes of its output, kill its process group at ``deadline``."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    with _ACTIVE_LOCK:
        _ACTIVE.add(proc)
    buf = bytearray()
    total = [0]

    def reader():
        while True:
            chunk = proc.stdout.read1(1 << 15) if hasattr(proc.stdout, "read1") else proc.stdout.read(1 << 15)
            if not chunk:
                break
            total[0] += len(chunk)
            buf.extend(chunk)
            if len(buf) > 2 * keep:
                del buf[: len(buf) - keep]

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    timed_out = False
    try:
        proc.wait(timeout=deadline)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(proc)
    th.join(timeout=5)
    text = bytes(buf[-keep:]).decode("utf-8", "replace")
    return StepResult(step, list(argv), None if timed_out else proc.returncode, text, time.monotonic() - t0,
                      timed_out, total[0])


# ---------------------------------------------------------------- ports
_PORT_LOCK = threading.Lock()
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free TCP port on 127.0.0.1, never handed out twice by this process."""
    with _PORT_LOCK:
        for _ in range(50):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port
    raise RuntimeError("no free port found")


def wait_ports(host: str, ports: list[int], seconds: float) -> dict[int, bool]:
    """Wait (at most ``seconds``) until each port accepts a TCP connection; never fails."""
    end = time.monotonic() + seconds
    state = {p: False for p in ports}
    while time.monotonic() < end and not all(state.values()):
        for p in [p for p, up in state.items() if not up]:
            try:
                with socket.create_connection((host, p), timeout=0.5):
                    state[p] = True
            except OSError:
                pass
        if not all(state.values()):
            time.sleep(0.2)
    return state


# ---------------------------------------------------------------- the sandbox
@dataclass
class Sandbox:
    client: object  # docker SDK client for the engine
    env: dict  # environment for the docker CLI (DOCKER_HOST ...)
    workspace: Path
    prefix: str  # g<run>-<student>-
    labels: dict  # the grading labels every object carries
    limits: Limits = field(default_factory=Limits)
    deadlines: Deadlines = field(default_factory=Deadlines)
    host: str = "127.0.0.1"
    steps: list[StepResult] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)  # exercise host port -> real port
    images: dict[str, str] = field(default_factory=dict)  # tags built -> image id
    project: str | None = None
    started: float = field(default_factory=time.time)

    # --------------------------------------------------------------- helpers
    def name(self, n: str) -> str:
        return f"{self.prefix}{n}"

    def port(self, want: int) -> int:
        if want not in self.ports:
            self.ports[want] = free_port()
        return self.ports[want]

    def label_args(self) -> list[str]:
        out = []
        for k, v in self.labels.items():
            out += ["--label", f"{k}={v}"]
        return out

    def step(self, step: str, argv: list[str], deadline: float) -> StepResult:
        res = run_step(step, argv, self.env, self.workspace, deadline)
        self.steps.append(res)
        return res

    # --------------------------------------------------------------- docker build / run
    def build(self, tag: str, context: str = ".", dockerfile: str | None = None) -> StepResult:
        """``docker build -t tag context``, done by Compose's built-in BuildKit client: the engine's BuildKit
        builds it (no intermediate images or containers left behind, even when the build fails or is
        stopped at its deadline), with no network, and the image carries the grading labels."""
        build = {"context": str(self.workspace / context), "labels": dict(self.labels),
                 "network": self.limits.build_network, "pull": False}
        if dockerfile:
            build["dockerfile"] = dockerfile
        slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")[-40:]
        project = f"{self.prefix}build-{slug}".strip("-")[:63]
        spec = {"name": project, "services": {"image": {"build": build, "image": tag}}}
        path = self.workspace.parent / f".grader-build-{slug}.json"
        path.write_text(json.dumps(spec, indent=1))
        argv = ["docker", "compose", "-p", project, "-f", str(path), "--project-directory", str(self.workspace),
                "build", "image"]
        res = self.step(f"build {tag}", argv, self.deadlines.build)
        if res.ok:
            try:
                self.images[tag] = self.client.api.inspect_image(tag)["Id"]
            except Exception:
                pass
        return res

    def network(self, outside: bool = False, publishes: bool = True) -> str:
        """A labelled network for this job: internal, or published-ports-only without masquerading."""
        name = self.name(f"{self.labels.get(EXERCISE, 'job')}-net")  # one per job: a student's jobs run side by side
        kwargs = {"internal": True} if not publishes and not outside else ({} if outside else {"options": NO_MASQ})
        self.client.api.create_network(name, driver="bridge", labels=dict(self.labels), **kwargs)
        return name

    def container_args(self) -> list[str]:
        lim = self.limits
        return ["--memory", lim.memory, "--memory-swap", lim.memory, "--cpus", str(lim.cpus), "--pids-limit",
                str(lim.pids), "--log-driver", "json-file", "--log-opt", f"max-size={lim.log_max_size}",
                "--log-opt", f"max-file={lim.log_max_file}", "--security-opt", "no-new-privileges", *self.label_args()]

    def run(self, name: str, image: str, ports: dict[int, int] | None = None, args: list[str] | None = None,
            command: list[str] | None = None, network: str | None = None, detach: bool = True) -> StepResult:
        """``docker run`` with the grading limits; ``ports`` maps exercise host port -> container port."""
        argv = ["docker", "run", "--name", name, *self.container_args()]
        if detach:
            argv.append("-d")
        if network:
            argv += ["--network", network]
        for want, cport in (ports or {}).items():
            argv += ["-p", f"127.0.0.1:{self.port(want)}:{cport}"]  # loopback only, a port the grader chose
        argv += list(args or [])
        argv.append(image)
        argv += list(command or [])
        return self.step(f"run {name}", argv, self.deadlines.start)

    # --------------------------------------------------------------- compose
    def compose_file(self, cfg: dict, project: str, outside: bool = False) -> Path:
        """Write the grader's own compose file: the student's resolved model, made safe and namespaced."""
        self.project = project
        safe = sanitize_compose(cfg, project, self.prefix, self.labels, self.limits, self.port, outside,
                                self.host)
        path = self.workspace.parent / f".grader-{project}.json"
        path.write_text(json.dumps(safe, indent=1))
        return path

    def compose(self, step: str, path: Path, *args: str, deadline: float | None = None) -> StepResult:
        argv = ["docker", "compose", "-p", self.project or "", "-f", str(path), "--project-directory", str(self.workspace),
                *args]
        return self.step(step, argv, deadline or self.deadlines.start)

    # --------------------------------------------------------------- looking after the run
    def containers(self) -> list[dict]:
        api = self.client.api
        out = []
        for c in api.containers(all=True, filters={"label": label_filter(self.labels)}):
            try:
                out.append(api.inspect_container(c["Id"]))
            except Exception:
                continue
        return out

    def collect(self, tail: int = 40, max_chars: int = 4000) -> list[dict]:
        """Per container: state, OOM kill, limits, and a bounded tail of its log (evidence)."""
        from ..engine import api_client

        rows = []
        dl = None
        try:
            dl = api_client(self.client, 10)
            oom = self._oom_events(dl)
            for info in self.containers():
                st, hc = info.get("State") or {}, info.get("HostConfig") or {}
                try:
                    raw = dl.logs(info["Id"], stdout=True, stderr=True, tail=tail)
                    logs = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                except Exception as exc:
                    logs = f"(logs unavailable: {exc})"
                if len(logs) > max_chars:
                    logs = "\u2026" + logs[-max_chars:]
                log_bytes = None
                try:
                    if info.get("LogPath") and os.path.exists(info["LogPath"]):
                        log_bytes = os.path.getsize(info["LogPath"])
                except OSError:
                    pass
                rows.append({"name": info.get("Name", "").lstrip("/"), "image": (info.get("Config") or {}).get("Image"),
                             "State.Status": st.get("Status"), "State.ExitCode": st.get("ExitCode"),
                             "State.OOMKilled": bool(st.get("OOMKilled")) or info["Id"] in oom,
                             "State.Error": st.get("Error") or "",
                             "HostConfig.Memory": hc.get("Memory"), "HostConfig.PidsLimit": hc.get("PidsLimit"),
                             "HostConfig.NanoCpus": hc.get("NanoCpus"), "HostConfig.LogConfig": hc.get("LogConfig"),
                             "log_file_bytes": log_bytes, "logs_tail": logs})
        finally:
            if dl is not None:
                dl.close()
        return rows

    def _oom_events(self, dl) -> set[str]:
        """Ids of this job's containers the kernel OOM-killed a process in (the event can arrive
        before ``State.OOMKilled`` is set, or kill a child while the container keeps running)."""
        try:
            events = dl.events(since=int(self.started) - 1, until=int(time.time()) + 1, decode=True,
                               filters={"type": "container", "event": "oom", "label": label_filter(self.labels)})
            return {e.get("id") or (e.get("Actor") or {}).get("ID") for e in events}
        except Exception:
            return set()

    def teardown(self) -> list[str]:
        return sweep(self.client, self.labels, project=self.project)


def sanitize_compose(cfg: dict, project: str, prefix: str, labels: dict, limits: Limits, port_for, outside: bool,
                     host: str = "127.0.0.1") -> dict:
    """The model compose will run: names and labels under the grader's namespace, limits, bounded
    logs, ports on 127.0.0.1 free ports, networks without a way out. ``cfg`` passed the policy gate."""
    safe = json.loads(json.dumps(cfg))
    safe["name"] = project
    services = safe.get("services") or {}
    publishing = set()
    mem = limits.memory_bytes()
    for sname, svc in services.items():
        svc.pop("env_file", None)  # already inlined into environment by `config`
        svc["labels"] = {**(svc.get("labels") or {}), **labels}
        if svc.get("container_name"):
            svc["container_name"] = f"{prefix}{svc['container_name']}"
        build = svc.get("build")
        if isinstance(build, dict):
            build["labels"] = {**(build.get("labels") or {}), **labels}
            build["network"] = limits.build_network
            build["pull"] = False
            if svc.get("image"):
                svc["image"] = _prefixed_image(svc["image"], prefix)
        svc["pull_policy"] = "never" if not isinstance(build, dict) else "build"
        own_mem = _bytes(svc["mem_limit"]) if svc.get("mem_limit") else None
        svc["mem_limit"] = str(min(own_mem, mem) if own_mem else mem)
        svc["memswap_limit"] = svc["mem_limit"]
        own_cpus = float(svc["cpus"]) if svc.get("cpus") else None
        svc["cpus"] = min(own_cpus, limits.cpus) if own_cpus else limits.cpus
        own_pids = svc.get("pids_limit")
        svc["pids_limit"] = min(int(own_pids), limits.pids) if own_pids and int(own_pids) > 0 else limits.pids
        deploy = svc.get("deploy") or {}
        if deploy.get("resources"):
            deploy["resources"].pop("limits", None)  # the grader's limits above apply
        svc["logging"] = {"driver": "json-file", "options": {"max-size": limits.log_max_size,
                                                              "max-file": str(limits.log_max_file)}}
        svc["security_opt"] = sorted(set(svc.get("security_opt") or []) | {"no-new-privileges:true"})
        new_ports = []
        for p in svc.get("ports") or []:
            p = dict(p)
            published = str(p.get("published") or "")
            p["host_ip"] = "127.0.0.1"
            if published.isdigit():
                p["published"] = str(port_for(int(published)))
            else:
                p.pop("published", None)  # ranges or none: an ephemeral port on loopback
            new_ports.append(p)
        if new_ports:
            svc["ports"] = new_ports
            publishing.add(sname)
        if svc.get("network_mode") in (None, "") and not svc.get("networks"):
            svc["networks"] = {"default": None}
    nets = safe.setdefault("networks", {})
    for sname, svc in services.items():
        for n in (svc.get("networks") or {}):
            nets.setdefault(n, {})
    for nname, net in nets.items():
        net = net if isinstance(net, dict) else {}
        nets[nname] = net
        net["name"] = f"{project}_{nname}"
        net["labels"] = {**(net.get("labels") or {}), **labels}
        net.pop("driver_opts", None)
        net["driver"] = "bridge"
        users = [s for s, svc in services.items() if nname in (svc.get("networks") or {})]
        if outside:
            net.pop("internal", None)
        elif any(u in publishing for u in users):
            net.pop("internal", None)  # published ports need a normal bridge ...
            net["driver_opts"] = dict(NO_MASQ)  # ... but nothing is masqueraded out of the machine
        else:
            net["internal"] = True
    for vname, vol in (safe.get("volumes") or {}).items():
        vol = vol if isinstance(vol, dict) else {}
        safe["volumes"][vname] = vol
        vol["name"] = f"{project}_{vname}"
        vol["labels"] = {**(vol.get("labels") or {}), **labels}
    for kind in ("secrets", "configs"):
        for name, item in (safe.get(kind) or {}).items():
            if isinstance(item, dict):
                item["name"] = f"{project}_{name}"
    return safe


def _prefixed_image(ref: str, prefix: str) -> str:
    head, sep, tail = ref.rpartition("/")
    if sep and ("." in head or ":" in head or head == "localhost"):
        return f"{head}/{prefix}{tail}"
    return f"{prefix}{ref}"


def sweep(client, labels: dict, project: str | None = None) -> list[str]:
    """Remove every container, network, volume and image carrying all of ``labels`` (and, when
    given, every container of the compose ``project``). Returns what was removed."""
    from docker.errors import APIError, NotFound

    api = client.api
    flt = {"label": label_filter(labels)}
    removed: list[str] = []
    seen = set()
    batches = [api.containers(all=True, filters=flt)]
    if project:
        batches.append(api.containers(all=True, filters={"label": [f"com.docker.compose.project={project}"]}))
    for batch in batches:
        for c in batch:
            if c["Id"] in seen:
                continue
            seen.add(c["Id"])
            try:
                api.remove_container(c["Id"], force=True, v=True)
                removed.append(f"container {','.join(n.lstrip('/') for n in c.get('Names') or [])}")
            except NotFound:
                pass
            except APIError:
                time.sleep(0.5)  # e.g. "removal already in progress": try once more
                try:
                    api.remove_container(c["Id"], force=True, v=True)
                except (NotFound, APIError):
                    pass
    for n in api.networks(filters=flt):
        try:
            api.remove_network(n["Id"])
            removed.append(f"network {n['Name']}")
        except (NotFound, APIError):
            pass
    for v in (api.volumes(filters=flt) or {}).get("Volumes") or []:
        try:
            api.remove_volume(v["Name"], force=True)
            removed.append(f"volume {v['Name']}")
        except (NotFound, APIError):
            pass
    for img in api.images(all=True, filters=flt):
        try:
            api.remove_image(img["Id"], force=True, noprune=False)
            removed.append(f"image {','.join(img.get('RepoTags') or []) or img['Id'][:19]}")
        except (NotFound, APIError):
            pass
    return removed


def remaining(client, labels: dict) -> list[str]:
    """Objects still carrying ``labels`` (for the end-of-run assertion and the report)."""
    api = client.api
    flt = {"label": label_filter(labels)}
    out = [f"container {c['Names']}" for c in api.containers(all=True, filters=flt)]
    out += [f"network {n['Name']}" for n in api.networks(filters=flt)]
    out += [f"volume {v['Name']}" for v in (api.volumes(filters=flt) or {}).get("Volumes") or []]
    out += [f"image {i.get('RepoTags') or i['Id'][:19]}" for i in api.images(all=True, filters=flt)]
    return out


def grade_labels(run: str, gradebook: str, student: str | None = None, exercise: str | None = None) -> dict:
    labels = {MANAGED: "true", PURPOSE: "grade", RUN: run, GRADEBOOK: gradebook}
    if student:
        labels[STUDENT] = student
    if exercise:
        labels[EXERCISE] = exercise
    return labels
