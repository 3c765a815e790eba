"""web-server: nginx serving your own folder, published on 127.0.0.1:8080, mounted read-only.

The learner runs, from ``exercises/web-server/``::

    docker run -d --name web -p 127.0.0.1:8080:80 -v "$PWD/site":/usr/share/nginx/html:ro nginx:1.22

The check looks at ``HostConfig.PortBindings`` (what was asked for, also while stopped), the
``Mounts`` list, and finally makes a real HTTP request to ``127.0.0.1:8080`` looking for the
marker that only the exercise's own ``site/index.html`` carries.
"""
from __future__ import annotations

import time

from .. import common
from ..model import Exercise, Objects, fail, not_steady, ok

IMAGE = "nginx:1.22"
DOCROOT = "/usr/share/nginx/html"
PORT = 8080
MARKER = "dc-marker: web-server-5f7c2a"  # in exercises/web-server/site/index.html

EXERCISE = Exercise(
    id="web-server",
    title="A web server serving your own page",
    summary=(f"Container `web` from `{IMAGE}`, running, port 80 published on 127.0.0.1:{PORT}, serving "
             f"`exercises/web-server/site/` bind-mounted read-only at `{DOCROOT}`."),
    lesson="Day 1 \u203a A web server (book/day1/web-server)",
    objects=Objects(containers=("web",)),
    day="Day 1",
    start=f'cd exercises/web-server && docker run -d --name web -p 127.0.0.1:{PORT}:80 -v "$PWD/site":{DOCROOT}:ro {IMAGE}',
)


def _run(ctx) -> str:
    return (f'docker run -d --name {ctx.name("web")} -p 127.0.0.1:{ctx.port(PORT)}:80 '
            f'-v "$PWD/site":{DOCROOT}:ro {IMAGE}')


def _recreate(ctx) -> str:
    """Ports and mounts are fixed when a container is created: the fix is always a new one."""
    return f"docker rm -f {ctx.name('web')} && {_run(ctx)}   # in exercises/web-server"


def _mounts(info) -> list[dict]:
    return [{k: m.get(k) for k in ("Type", "Source", "Destination", "RW") if k in m} for m in info.get("Mounts") or []]


def _docroot_mount(info) -> dict | None:
    for m in info.get("Mounts") or []:
        if (m.get("Destination") or "").rstrip("/") == DOCROOT:
            return m
    return None


@EXERCISE.check("exists", "A container named `web` exists")
def exists(ctx):
    return common.container_exists(ctx, "web", f"a container `web` running `{IMAGE}`",
                                   f"cd exercises/web-server && {_run(ctx)}")


@EXERCISE.check("image", f"It runs `{IMAGE}`", requires=("exists",))
def image(ctx):
    return common.pinned_image(ctx, "web", IMAGE, _recreate(ctx))


@EXERCISE.check("running", "It is running", requires=("exists",))
def running(ctx):
    state = ctx.container("web")["State"]
    if (problem := not_steady(ctx.name("web"), state)) is not None:
        return problem
    if not state.get("Running"):
        more = ""
        if state.get("ExitCode") not in (0, None) or state.get("Error"):
            more = f"It exited with code {state.get('ExitCode')}; `docker logs {ctx.name('web')}` shows why."
        return fail(found=f"`{ctx.name('web')}` is {state.get('Status')}",
                    expected="a running container (nginx keeps running until you stop it)",
                    fix=f"docker start {ctx.name('web')}",
                    evidence={"State.Status": state.get("Status"), "State.ExitCode": state.get("ExitCode")},
                    more=more)
    return ok("Running.", {"State.Status": "running"})


@EXERCISE.check("published", f"Port 80 is published on 127.0.0.1:{PORT}", requires=("exists",))
def published(ctx):
    info = ctx.container("web")
    want = ctx.port(PORT)
    bindings = (info["HostConfig"].get("PortBindings") or {}).get("80/tcp") or []
    evidence = {"HostConfig.PortBindings": info["HostConfig"].get("PortBindings") or {}}
    if not bindings:
        exposed = sorted((info["Config"].get("ExposedPorts") or {}).keys())
        more = ""
        other = {k: v for k, v in (info["HostConfig"].get("PortBindings") or {}).items() if v}
        if other:
            shown = ", ".join(f"host port {b.get('HostPort') or '(random)'} to container port {k.split('/')[0]}"
                              for k, v in other.items() for b in v)
            return fail(found=f"port 80 of the container is not published; you forwarded {shown}",
                        expected=f"`-p 127.0.0.1:{want}:80` (host port {want} forwarded to container port 80)",
                        fix=_recreate(ctx), evidence=evidence,
                        more=("In `-p`, the host port comes first and the container's port (80, where nginx "
                              "listens) comes last."))
        if "80/tcp" in exposed:
            more = ("The image says `EXPOSE 80`, but that only documents the port: nothing on your machine "
                    "reaches it until you publish it with `-p` when the container is created.")
            evidence["Config.ExposedPorts"] = exposed
        return fail(found="port 80 of the container is not published to your machine",
                    expected=f"`-p 127.0.0.1:{want}:80` (host port {want} forwarded to container port 80)",
                    fix=_recreate(ctx), evidence=evidence, more=more)
    ports = [str(b.get("HostPort") or "") for b in bindings]
    if str(want) not in ports:
        shown = ", ".join(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort') or '(random)'}" for b in bindings)
        return fail(found=f"container port 80 is published on {shown}",
                    expected=f"host port {want} (`-p 127.0.0.1:{want}:80`; the host port comes first)",
                    fix=_recreate(ctx), evidence=evidence)
    binding = next(b for b in bindings if str(b.get("HostPort")) == str(want))
    host_ip = binding.get("HostIp") or "0.0.0.0"
    note = ""
    if host_ip not in ("127.0.0.1", "localhost"):
        note = (f"Published on {host_ip}:{want}, so other machines on your network can reach it too; "
                f"`-p 127.0.0.1:{want}:80` keeps it on this machine.")
    return ok(f"Port 80 is published on {host_ip}:{want}.", evidence, note=note)


@EXERCISE.check("mounted", f"`site/` is bind-mounted at `{DOCROOT}`", requires=("exists",))
def mounted(ctx):
    info = ctx.container("web")
    m = _docroot_mount(info)
    evidence = {"Mounts": _mounts(info)}
    if m is None:
        return fail(found=f"nothing is mounted at `{DOCROOT}`",
                    expected=f"your `site/` folder mounted there (`-v \"$PWD/site\":{DOCROOT}:ro`)",
                    fix=_recreate(ctx), evidence=evidence,
                    more="Without it nginx serves the default page that is baked into the image.")
    if m.get("Type") != "bind":
        return fail(found=f"a {m.get('Type')} `{m.get('Name') or m.get('Source')}` is mounted at `{DOCROOT}`",
                    expected="a bind mount of the folder `exercises/web-server/site` from your machine",
                    fix=_recreate(ctx), evidence=evidence,
                    more="A bind mount shows the container your own files; a volume starts as a copy of the image's.")
    source = (m.get("Source") or "").rstrip("/")
    note = ""
    if not source.endswith("/site"):
        note = f"The mounted folder is `{source}`; the exercise's page lives in `exercises/web-server/site`."
    return ok(f"`{source}` is bind-mounted at `{DOCROOT}`.", evidence, note=note)


@EXERCISE.check("read-only", "The mount is read-only", requires=("mounted",))
def read_only(ctx):
    m = _docroot_mount(ctx.container("web"))
    if m.get("RW"):
        return fail(found="the mount is writable: the container could change or delete your files",
                    expected=f"a read-only mount (`:ro` at the end of `-v \"$PWD/site\":{DOCROOT}:ro`)",
                    fix=_recreate(ctx), evidence={"Mounts[].RW": True, "Mounts[].Destination": DOCROOT})
    return ok("Mounted read-only.", {"Mounts[].RW": False})


@EXERCISE.check("serves", f"http://127.0.0.1:{PORT}/ shows your page", requires=("running", "published"))
def serves(ctx):
    port = ctx.port(PORT)
    url = f"http://{ctx.scope.host}:{port}/"
    res = ctx.http_get(PORT, "/")
    deadline = time.monotonic() + 2  # nginx may still be starting right after `docker run`
    while res.status is None and time.monotonic() < deadline:
        time.sleep(0.2)
        res = ctx.http_get(PORT, "/")
    if res.status is None:
        return fail(found=f"nothing answered at {url} ({res.error})",
                    expected="nginx answering on that port",
                    fix=f"docker logs {ctx.name('web')}   (see why nginx is not answering)",
                    evidence={"GET " + url: res.error})
    evidence = {"GET " + url: res.status, "body (start)": res.text[:160]}
    if MARKER in res.text:
        return ok(f"{url} answered {res.status} with the page from `site/`.", evidence)
    if "Welcome to nginx" in res.text:
        return fail(found=f"{url} serves nginx's default \u201cWelcome to nginx!\u201d page",
                    expected=f"the page from `exercises/web-server/site/index.html` (it contains `{MARKER}`)",
                    fix=_recreate(ctx), evidence=evidence,
                    more="That page is baked into the image; mounting `site/` over it replaces it.")
    more = ""
    if res.status == 403:
        source = (_docroot_mount(ctx.container("web")) or {}).get("Source") or "the mounted folder"
        more = (f"403 means nginx found no index.html in `{source}`. If you ran `docker run` from another "
                "folder, `$PWD/site` pointed elsewhere and Docker created that folder, empty.")
    return fail(found=f"{url} answered {res.status}, but not with the exercise's page",
                expected=f"`site/index.html`, which contains the line `{MARKER}` (keep that line when you edit it)",
                fix=_recreate(ctx), evidence=evidence, more=more)
