"""compose-stack: a Compose v2 project, a web app counting visits in redis.

The project ``compose-stack`` (``docker compose up -d --build`` in ``exercises/compose-stack/``)
has service ``web`` built from ``./web``, published on ``127.0.0.1:8000``, and service ``redis``
(``redis:7.0``) with its ``/data`` in the named volume ``redis-data``. The check finds the project
by its Compose labels, asks the web container itself whether ``redis`` (the service name) answers,
and makes two real requests to see the count go up.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from ..advice import hadolint_advice
from ..context import COMPOSE_PROJECT, COMPOSE_SERVICE
from ..model import Exercise, Objects, fail, ok

PROJECT = "compose-stack"
PORT = 8000
REDIS_IMAGE = "redis:7.0"
VOLUME = "redis-data"
VOLUME_LABEL = "com.docker.compose.volume"
LOCALHOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")
_COUNT = re.compile(r"visited (\d+) times?")

EXERCISE = Exercise(
    id="compose-stack",
    title="Two services with Docker Compose",
    summary=(f"Compose project `{PROJECT}`: service `web` built from `./web`, published on 127.0.0.1:{PORT}, counting "
             f"visits in service `redis` (`{REDIS_IMAGE}`) whose `/data` is the named volume `{VOLUME}`."),
    lesson="Day 1 \u203a Compose: several containers as one application (book/day1/compose)",
    objects=Objects(compose_project=PROJECT),
    day="Day 1",
    start="cd exercises/compose-stack && docker compose up -d --build",
)


def _compose(ctx, args: str) -> str:
    project = ctx.project(PROJECT)
    flag = "" if project == PROJECT else f"-p {project} "
    return f"docker compose {flag}{args}   # in exercises/compose-stack"


def _service(ctx, name: str) -> list[dict]:
    return ctx.compose_containers(ctx.project(PROJECT), name)


def _one(ctx, name: str) -> dict | None:
    found = _service(ctx, name)
    running = [c for c in found if c["State"].get("Running")]
    return (running or found or [None])[0]


def _env(info) -> dict:
    return {k: v for k, _, v in (e.partition("=") for e in info["Config"].get("Env") or [])}


@EXERCISE.check("project", f"The Compose project `{PROJECT}` is up")
def project(ctx):
    name = ctx.project(PROJECT)
    found = ctx.compose_containers(name)
    if not found:
        return fail(found=f"no containers with the label {COMPOSE_PROJECT}={name}",
                    expected=f"the project started from `exercises/{PROJECT}` (Compose names it after the folder)",
                    fix=_compose(ctx, "up -d --build"),
                    evidence={f"docker ps -a --filter label={COMPOSE_PROJECT}={name}": "nothing"})
    services = sorted({c["Config"]["Labels"].get(COMPOSE_SERVICE, "?") for c in found})
    return ok(f"Project `{name}` has {len(found)} container(s): services {', '.join(services)}.",
              {f"label {COMPOSE_PROJECT}": name, "services": services})


@EXERCISE.check("services", "Services `web` and `redis` are running", requires=("project",))
def services(ctx):
    state = {}
    for svc in ("web", "redis"):
        c = _one(ctx, svc)
        state[svc] = c["State"].get("Status") if c else "missing"
    evidence = {f"service {k}: State.Status": v for k, v in state.items()}
    missing = [s for s, v in state.items() if v == "missing"]
    if missing:
        return fail(found=f"no container for service {', '.join(f'`{m}`' for m in missing)}",
                    expected="both services `web` and `redis` defined in compose.yaml and started",
                    fix=_compose(ctx, "up -d --build"), evidence=evidence,
                    more="Check the service names in compose.yaml: the check looks for `web` and `redis`.")
    down = [s for s, v in state.items() if v != "running"]
    if down:
        svc = down[0]
        c = _one(ctx, svc)
        if c["State"].get("Paused"):
            return fail(found=f"service `{svc}` is paused: its processes are frozen", expected="both services running",
                        fix=_compose(ctx, f"unpause {svc}"), evidence=evidence,
                        more="`up` and `start` refuse a paused container; `unpause` lets it go on.")
        code = c["State"].get("ExitCode")
        return fail(found=f"service `{svc}` is {state[svc]}" + (f" (exit code {code})" if code else ""),
                    expected="both services running", fix=_compose(ctx, f"up -d {svc}"), evidence=evidence,
                    more=f"`{_compose(ctx, f'logs {svc}').split('   (')[0]}` shows what it printed before it stopped.")
    return ok("Both `web` and `redis` are running.", evidence)


@EXERCISE.check("images", f"`web` is built from `./web`, `redis` runs `{REDIS_IMAGE}`", requires=("services",))
def images(ctx):
    redis = _one(ctx, "redis")
    name = redis["Config"].get("Image", "")
    wanted = ctx.image(REDIS_IMAGE, scoped=False)
    evidence = {"redis Config.Image": name}
    if not (name in (REDIS_IMAGE, f"docker.io/library/{REDIS_IMAGE}") or (wanted and redis.get("Image") == wanted["Id"])):
        return fail(found=f"service `redis` runs `{name}`", expected=f"`image: {REDIS_IMAGE}`",
                    fix=f"image: {REDIS_IMAGE}   (under `redis:` in compose.yaml), then {_compose(ctx, 'up -d')}",
                    evidence=evidence)
    build = _web_build(_one(ctx, "web"))
    evidence["web build (compose.yaml)"] = build
    if build is not None and build != "web":
        return fail(found=f"service `web` is built from `{build}`" if build else "service `web` has no `build:`",
                    expected="`build: ./web` (the folder with the app and its Dockerfile)",
                    fix=f"build: ./web   (under `web:` in compose.yaml), then {_compose(ctx, 'up -d --build')}",
                    evidence=evidence)
    return ok(f"`web` is built from ./web and `redis` runs {name}.", evidence)


def _web_build(web) -> str | None:
    """The normalised ``build`` context of service web from the compose file Compose used (None: unreadable)."""
    import yaml

    labels = web["Config"].get("Labels") or {}
    files = [f for f in (labels.get("com.docker.compose.project.config_files") or "").split(",") if f]
    workdir = labels.get("com.docker.compose.project.working_dir") or ""
    for f in files:
        try:
            doc = yaml.safe_load(Path(f).read_text()) or {}
        except (OSError, ValueError, yaml.YAMLError):
            continue
        svc = (doc.get("services") or {}).get("web")
        if not isinstance(svc, dict):
            continue
        build = svc.get("build")
        if isinstance(build, dict):
            build = build.get("context", ".")
        if build is None:
            return "" if "image" in svc else None
        path = str(build)
        if workdir and Path(path).is_absolute():
            try:
                path = str(Path(path).relative_to(workdir))
            except ValueError:
                pass
        while path.startswith("./"):
            path = path[2:]
        return path.rstrip("/") or "."
    return None


@EXERCISE.check("published", f"`web` is published on 127.0.0.1:{PORT}", requires=("services",))
def published(ctx):
    web = _one(ctx, "web")
    want = ctx.port(PORT)
    all_bindings = web["HostConfig"].get("PortBindings") or {}
    evidence = {"web HostConfig.PortBindings": all_bindings}
    bindings = all_bindings.get(f"{PORT}/tcp") or []
    if not bindings:
        other = [k for k, v in all_bindings.items() if v]
        return fail(found=("container port 8000 of `web` is not published" +
                           (f" (published instead: {', '.join(other)})" if other else "")),
                    expected=f"`ports: [\"127.0.0.1:{want}:8000\"]` under `web:` (the app listens on 8000)",
                    fix=f"ports: [\"127.0.0.1:{want}:8000\"]   (under `web:`), then {_compose(ctx, 'up -d')}",
                    evidence=evidence)
    ports = [str(b.get("HostPort") or "") for b in bindings]
    if str(want) not in ports:
        return fail(found=f"container port 8000 is published on host port {', '.join(ports) or '(random)'}",
                    expected=f"host port {want} (`127.0.0.1:{want}:8000`; the host port comes first)",
                    fix=f"ports: [\"127.0.0.1:{want}:8000\"]   (under `web:`), then {_compose(ctx, 'up -d')}",
                    evidence=evidence)
    ip = next(b.get("HostIp") or "0.0.0.0" for b in bindings if str(b.get("HostPort")) == str(want))
    note = "" if ip == "127.0.0.1" else f"Published on {ip}:{want}: `127.0.0.1:{want}:8000` keeps it on this machine."
    return ok(f"Container port 8000 is published on {ip}:{want}.", evidence, note=note)


@EXERCISE.check("volume", f"redis keeps `/data` in the named volume `{VOLUME}`", requires=("services",))
def volume(ctx):
    redis = _one(ctx, "redis")
    mounts = redis.get("Mounts") or []
    evidence = {"redis Mounts": [{k: m.get(k) for k in ("Type", "Name", "Source", "Destination") if m.get(k)} for m in mounts]}
    m = next((m for m in mounts if (m.get("Destination") or "").rstrip("/") == "/data"), None)
    fix = f"volumes: [\"{VOLUME}:/data\"] under `redis:`, and a top-level `volumes: {{{VOLUME}: {{}}}}`; then {_compose(ctx, 'up -d')}"
    misplaced = next((x for x in mounts if x.get("Type") == "volume" and (x.get("Destination") or "").rstrip("/") != "/data"
                      and ((ctx.volume(x.get("Name"), scoped=False) or {}).get("Labels") or {}).get(VOLUME_LABEL) == VOLUME), None)
    if misplaced is not None:
        return fail(found=f"`{VOLUME}` is mounted at `{misplaced.get('Destination')}`, not at /data",
                    expected=f"`{VOLUME}:/data` (redis keeps its data in /data)", fix=fix, evidence=evidence,
                    more="At any other path redis never writes to the volume, and /data gets an anonymous one instead.")
    if m is None:
        return fail(found="nothing is mounted at /data in the redis container", expected=f"the named volume `{VOLUME}` there",
                    fix=fix, evidence=evidence)
    if m.get("Type") != "volume":
        return fail(found=f"/data is a {m.get('Type')} mount of `{m.get('Source')}`",
                    expected=f"the named volume `{VOLUME}` (Docker manages it; no host folder needed)", fix=fix,
                    evidence=evidence)
    vol = ctx.volume(m.get("Name"), scoped=False) or {}
    labels = vol.get("Labels") or {}
    evidence[f"volume {m.get('Name')} Labels"] = {k: v for k, v in labels.items() if k.startswith("com.docker.compose")}
    if labels.get(VOLUME_LABEL) != VOLUME:
        if re.fullmatch(r"[0-9a-f]{64}", m.get("Name") or ""):
            found = f"/data is an anonymous volume `{m['Name'][:12]}…` (the image declares VOLUME /data)"
            more = "An anonymous volume has a random name: a new container (after `docker compose down`) does not find it again."
        else:
            found = f"/data is the volume `{m.get('Name')}`, which this project's compose.yaml does not call `{VOLUME}`"
            more = ""
        return fail(found=found, expected=f"the named volume `{VOLUME}` declared in compose.yaml", fix=fix,
                    evidence=evidence, more=more)
    return ok(f"/data is the named volume `{m['Name']}` ({VOLUME} in compose.yaml).", evidence)


@EXERCISE.check("by-name", "`web` reaches `redis` by its service name", requires=("services",))
def by_name(ctx):
    web = _one(ctx, "web")
    host = _env(web).get("REDIS_HOST", "redis")
    evidence = {"web Config.Env REDIS_HOST": host}
    fix = f"environment: {{REDIS_HOST: redis}}   (under `web:`), then {_compose(ctx, 'up -d')}"
    if host.strip() in LOCALHOSTS:
        return fail(found=f"`web` looks for redis at `{host}`", expected="`REDIS_HOST: redis` (the service name)",
                    fix=fix, evidence=evidence,
                    more=("Inside a container, localhost is that container itself, and redis runs in another one. "
                          "Compose gives every service a name on the project's network: `redis`."))
    if host != "redis":
        return fail(found=f"`web` looks for redis at `{host}`", expected="`REDIS_HOST: redis` (the service name)",
                    fix=fix, evidence=evidence,
                    more="Addresses and container names change when containers are re-created; the service name stays.")
    probe = ("import socket, time\n"
             "end = time.time() + 3\n"  # redis may still be starting right after `up`
             "while True:\n"
             "    try:\n"
             "        ip = socket.gethostbyname('redis')\n"
             "        s = socket.create_connection(('redis', 6379), 2)\n"
             "        s.sendall(b'PING\\r\\n')\n"
             "        print(ip, s.recv(64).decode().strip())\n"
             "        break\n"
             "    except OSError as exc:\n"
             "        if time.time() > end:\n"
             "            raise SystemExit(f'{type(exc).__name__}: {exc}')\n"
             "        time.sleep(0.2)\n")
    res = ctx.exec(web["Id"], ["python", "-c", probe], timeout=6)
    evidence.update({"docker exec web python -c <resolve redis, PING>": res.output.strip()[-200:], "exit code": res.exit_code})
    if res.ok and "PONG" in res.output:
        ip = res.output.split()[0]
        redis = _one(ctx, "redis")
        nets = {n: v.get("IPAddress") for n, v in (redis["NetworkSettings"].get("Networks") or {}).items()}
        evidence["redis NetworkSettings.Networks"] = nets
        return ok(f"From inside `web`, `redis` resolves to {ip} and answers PONG.", evidence)
    if res.timed_out:
        return fail(found="from inside `web`, connecting to redis:6379 did not finish within 6 s",
                    expected="redis to answer PING", fix=_compose(ctx, "up -d"), evidence=evidence)
    return fail(found=f"from inside `web`, `redis` does not answer ({res.output.strip().splitlines()[-1][:160] if res.output.strip() else 'no output'})",
                expected="the name `redis` to reach the redis container on the project's network",
                fix=_compose(ctx, "up -d") + "   (both services in the same compose.yaml, on its default network)",
                evidence=evidence)


@EXERCISE.check("counts", "Two requests to 127.0.0.1:8000 count up", requires=("published", "by-name"))
def counts(ctx):
    url = f"http://{ctx.scope.host}:{ctx.port(PORT)}/"
    seen, last = [], None
    deadline = time.monotonic() + 4  # the app may still be starting right after `up`
    while len(seen) < 2:
        res = ctx.http_get(PORT, "/")
        last = res
        m = _COUNT.search(res.text or "") if res.status == 200 else None
        if m:
            seen.append(int(m.group(1)))
            continue
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    evidence = {f"GET {url}": [s for s in seen] or (last.status if last else None)}
    if last is not None and len(seen) < 2:
        evidence["last answer"] = (last.text or last.error)[:200]
    if len(seen) < 2:
        if last is not None and last.status is None:
            return fail(found=f"nothing answered at {url} ({last.error})", expected="the web app answering",
                        fix=_compose(ctx, "logs web"), evidence=evidence)
        return fail(found=f"{url} answered {last.status}: {(last.text or '').strip()[:120]!r}",
                    expected="\u201cThis page has been visited N times.\u201d", fix=_compose(ctx, "logs web"), evidence=evidence)
    if seen[1] <= seen[0]:
        return fail(found=f"the count went from {seen[0]} to {seen[1]}", expected="it to go up by one per request",
                    fix=_compose(ctx, "restart web"), evidence=evidence)
    return ok(f"The count went from {seen[0]} to {seen[1]}.", evidence)


@EXERCISE.advisor
def lint(ctx):
    folder = ctx.exercise_dir(EXERCISE.id)
    return hadolint_advice(folder / "web" / "Dockerfile") if folder else []
