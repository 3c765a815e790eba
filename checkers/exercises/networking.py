"""networking: two containers that find each other by name on a user-defined network.

``api`` (``python:3.11-slim``, HTTP on 8000 inside the network, not published) and ``client``
(``busybox:1.35``, long-running) are both attached to the bridge network ``appnet``. The check
proves name resolution from inside: ``client`` fetches ``http://api:8000/`` (with a scope, the
DNS name is the prefixed container name).
"""
from __future__ import annotations

from .. import common
from ..model import Exercise, Objects, fail, not_steady, ok

API_IMAGE = "python:3.11-slim"
CLIENT_IMAGE = "busybox:1.35"
PORT = 8000

EXERCISE = Exercise(
    id="networking",
    title="Containers that talk by name",
    summary=(f"A user-defined bridge network `appnet`; `api` ({API_IMAGE}, HTTP on {PORT}, not published) and "
             f"`client` ({CLIENT_IMAGE}, long-running) on it; `client` fetches http://api:{PORT}/."),
    lesson="Day 2 \u203a Networking (book/day2/networking)",
    objects=Objects(containers=("api", "client"), networks=("appnet",)),
    day="Day 2",
    start="docker network create appnet",
)


def _net_cmd(ctx) -> str:
    return f"docker network create {ctx.name('appnet')}"


def _api_cmd(ctx) -> str:
    return f"docker run -d --name {ctx.name('api')} --network {ctx.name('appnet')} {API_IMAGE} python3 -m http.server {PORT}"


def _client_cmd(ctx) -> str:
    return f"docker run -d --name {ctx.name('client')} --network {ctx.name('appnet')} {CLIENT_IMAGE} sleep 86400"


def _cmd(ctx, role: str) -> str:
    return _api_cmd(ctx) if role == "api" else _client_cmd(ctx)


def _networks(info) -> dict:
    return (info.get("NetworkSettings") or {}).get("Networks") or {}


@EXERCISE.check("network", "A user-defined bridge network `appnet` exists")
def network(ctx):
    net = ctx.network("appnet")
    if net is None:
        return fail(found=f"no network named `{ctx.name('appnet')}`",
                    expected="a network you created yourself (a user-defined bridge network)",
                    fix=_net_cmd(ctx), evidence={"docker network ls": f"no {ctx.name('appnet')}"},
                    more="Containers on a network you create can find each other by name; that is the point of this exercise.")
    driver = net.get("Driver")
    if driver != "bridge":
        return fail(found=f"`{ctx.name('appnet')}` uses the `{driver}` driver", expected="the `bridge` driver (the default)",
                    fix=f"docker network rm {ctx.name('appnet')} && {_net_cmd(ctx)}", evidence={"Driver": driver})
    return ok(f"Network `{ctx.name('appnet')}` exists (bridge).", {"Driver": driver, "Id": net["Id"][:12]})


def _container_check(ctx, role: str, image: str, long_running_hint: str):
    info = ctx.container(role)
    name = ctx.name(role)
    if info is None:
        return fail(found=f"no container named `{name}`", expected=f"a running container `{role}` from `{image}` on `appnet`",
                    fix=_cmd(ctx, role), evidence={f"docker ps -a --filter name={name}": "nothing"})
    used = info["Config"].get("Image", "")
    if not common.runs_pinned(ctx, info, image):
        return fail(found=f"`{name}` runs `{used}`", expected=f"`{image}` (the exact tag the course pins)",
                    fix=f"docker rm -f {name} && {_cmd(ctx, role)}", evidence={"Config.Image": used})
    state = info["State"]
    if (problem := not_steady(name, state)) is not None:
        return problem
    if not state.get("Running"):
        code = state.get("ExitCode")
        return fail(found=f"`{name}` is {state.get('Status')} (exit code {code})",
                    expected="a container that keeps running",
                    fix=f"docker rm -f {name} && {_cmd(ctx, role)}",
                    evidence={"State.Status": state.get("Status"), "State.ExitCode": code,
                              "Config.Cmd": info["Config"].get("Cmd")},
                    more=long_running_hint)
    return None


@EXERCISE.check("api", f"`api` runs {API_IMAGE} and keeps running")
def api(ctx):
    bad = _container_check(ctx, "api", API_IMAGE,
                           f"It should run a server that never ends, such as `python3 -m http.server {PORT}`; "
                           f"`docker logs {ctx.name('api')}` shows why it stopped.")
    if bad:
        return bad
    info = ctx.container("api")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    published = {k: v for k, v in ports.items() if v}
    evidence = {"NetworkSettings.Ports": published or {}}
    if published:
        where = ", ".join(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{k}" for k, bs in published.items() for b in bs)
        return ok(f"`{ctx.name('api')}` is running.", evidence,
                  note=(f"Note (not a fail): `api` is also published on the host ({where}). `client` does not need "
                        "that: containers on the same network reach each other's ports directly. Publish (`-p`) only "
                        "what people outside Docker must reach, and leave the rest private."))
    return ok(f"`{ctx.name('api')}` is running, and not published to the host (it does not need to be).", evidence)


@EXERCISE.check("client", f"`client` runs {CLIENT_IMAGE} and keeps running")
def client(ctx):
    bad = _container_check(ctx, "client", CLIENT_IMAGE,
                           "busybox's default command is a shell, which exits at once when nobody is typing into it; "
                           "give it a long command such as `sleep 86400` so it stays up.")
    if bad:
        return bad
    return ok(f"`{ctx.name('client')}` is running.", {"State.Status": "running"})


@EXERCISE.check("attached", "Both containers are attached to `appnet`", requires=("network", "api", "client"))
def attached(ctx):
    net = ctx.name("appnet")
    nets = {role: sorted(_networks(ctx.container(role))) for role in ("api", "client")}
    evidence = {f"{ctx.name(r)}: NetworkSettings.Networks": n for r, n in nets.items()}
    missing = [r for r, n in nets.items() if net not in n]
    if not missing:
        return ok(f"`{ctx.name('api')}` and `{ctx.name('client')}` are both on `{net}`.", evidence)
    if len(missing) == 2:
        on = sorted(set(nets["api"]) | set(nets["client"]))
        if on == ["bridge"]:
            found = "both containers are on Docker's default `bridge` network, not on `appnet`"
        else:
            found = f"neither container is on `{net}` (they are on: {', '.join(on) or 'no network'})"
        return fail(found=found, expected=f"both attached to `{net}`",
                    fix=f"docker network connect {net} {ctx.name('api')} && docker network connect {net} {ctx.name('client')}",
                    evidence=evidence,
                    more=("This is the most common networking surprise: on the default `bridge` network, containers "
                          "can NOT find each other by name; Docker's built-in DNS only answers on networks you create. "
                          "Run them with `--network appnet` (or connect them now)."))
    role = missing[0]
    other = "client" if role == "api" else "api"
    return fail(found=(f"`{ctx.name(other)}` is on `{net}`, but `{ctx.name(role)}` is only on "
                       f"{', '.join(f'`{n}`' for n in nets[role]) or 'no network'}"),
                expected=f"both attached to `{net}`",
                fix=f"docker network connect {net} {ctx.name(role)}", evidence=evidence,
                more="Two containers can only talk if they share a network; being on different networks is like being on different LANs.")


@EXERCISE.check("no-links", "No legacy `--link` is used", requires=("api", "client"))
def no_links(ctx):
    found = {}
    for role in ("api", "client"):
        info = ctx.container(role)
        links = list(info["HostConfig"].get("Links") or [])
        for net_name, ep in _networks(info).items():
            links += [f"{link} (on {net_name})" for link in (ep.get("Links") or [])]
        if links:
            found[role] = links
    if not found:
        return ok("No `--link`: the network's DNS does the work.", {"HostConfig.Links": None})
    role, links = next(iter(found.items()))
    return fail(found=f"`{ctx.name(role)}` was started with `--link` ({', '.join(links)})",
                expected="no links: on a user-defined network every container is found by its name without them",
                fix=f"docker rm -f {ctx.name(role)} && {_cmd(ctx, role)}",
                evidence={f"{ctx.name(r)}: HostConfig.Links": v for r, v in found.items()},
                more=("`--link` is a legacy feature: it writes a fixed line into /etc/hosts, breaks when the linked "
                      "container is recreated, and is deprecated. Use a network instead."))


@EXERCISE.check("by-name", f"From inside `client`, http://api:{PORT}/ answers", requires=("attached",))
def by_name(ctx):
    host = ctx.name("api")
    url = f"http://{host}:{PORT}/"
    # busybox's `timeout` rather than `wget -T`: some busybox builds crash on -T.
    cmd = ["timeout", "4", "wget", "-q", "-O", "-", url]
    shown = f"docker exec {ctx.name('client')} wget -qO- {url}"
    res = ctx.exec(ctx.container("client")["Id"], cmd, timeout=8)
    out = res.output.strip()
    evidence = {"command": shown, "exit code": res.exit_code, "output": out[-300:]}
    if res.ok and out:
        return ok(f"`{ctx.name('client')}` reached `{host}` by name and got {len(out)} bytes back.", evidence)
    if res.timed_out or res.exit_code in (124, 143) or "timed out" in out.lower():
        return fail(found=f"`{host}` resolved, but nothing answered on port {PORT} within 4 s",
                    expected=f"an HTTP answer from `{host}` on port {PORT}",
                    fix=f"docker rm -f {host} && {_api_cmd(ctx)}", evidence=evidence)
    if "bad address" in out or "resolve" in out.lower():
        return fail(found=f"inside `{ctx.name('client')}`, the name `{host}` does not resolve",
                    expected=f"Docker's DNS on `{ctx.name('appnet')}` to answer for `{host}`",
                    fix=f"docker network connect {ctx.name('appnet')} {host}", evidence=evidence,
                    more="The name a container is found by is its container name (`--name`).")
    if "refused" in out.lower():
        return fail(found=f"`{host}` was found by name, but nothing listens on port {PORT} (connection refused)",
                    expected=f"a server in `{host}` listening on port {PORT} on all interfaces",
                    fix=f"docker rm -f {host} && {_api_cmd(ctx)}", evidence=evidence,
                    more=(f"Check what the server says with `docker logs {host}`: it must listen on port {PORT}, and on "
                          "0.0.0.0 (not 127.0.0.1, which only the container itself can reach)."))
    return fail(found=f"fetching {url} from `{ctx.name('client')}` failed (exit code {res.exit_code}): {out[-160:] or 'no output'}",
                expected=f"an HTTP answer from `{host}` on port {PORT}",
                fix=f"docker logs {host}", evidence=evidence)
