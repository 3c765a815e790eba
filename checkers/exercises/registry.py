"""registry: run your own image registry and push an image to it.

``registry`` (``registry:2``) is published on ``127.0.0.1:5000`` and keeps its storage in the
named volume ``registry-data``; ``localhost:5000/hello-app:1.0`` is pushed to it. The check asks
the registry's own HTTP API (``/v2/<repo>/tags/list`` and the manifest) and compares the
manifest digest with the local image's repo digest.

With a scope, the reference becomes ``localhost:<real port>/<prefix>hello-app:1.0``.
"""
from __future__ import annotations

import requests

from .. import common
from ..advice import hadolint_advice
from ..model import Exercise, Objects, error, fail, not_steady, ok

IMAGE = "registry:2"
PORT = 5000
STORAGE = "/var/lib/registry"
REPO = "hello-app"
TAG = "1.0"
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
HTTP_TIMEOUT = 3.0

EXERCISE = Exercise(
    id="registry",
    title="Your own image registry",
    summary=(f"Container `registry` from `{IMAGE}` on 127.0.0.1:{PORT}, storage in the named volume `registry-data`, "
             f"and `localhost:{PORT}/{REPO}:{TAG}` pushed to it."),
    lesson="Day 2 \u203a Sharing images (book/day2/sharing-images)",
    objects=Objects(containers=("registry",), volumes=("registry-data",), images=(f"localhost:{PORT}/{REPO}:{TAG}",)),
    day="Day 2",
    start=(f"docker volume create registry-data && docker run -d --name registry -p 127.0.0.1:{PORT}:{PORT} "
           f"-v registry-data:{STORAGE} {IMAGE}"),
)


def _host(ctx) -> str:
    return f"localhost:{ctx.port(PORT)}"


def _repo(ctx) -> str:
    """The repository inside the registry: ``hello-app`` (``<prefix>hello-app`` in a scope)."""
    return ctx.image_ref(f"{_host(ctx)}/{REPO}:{TAG}").split("/", 1)[1].rsplit(":", 1)[0]


def _ref(ctx) -> str:
    return f"{_host(ctx)}/{_repo(ctx)}:{TAG}"


def _run(ctx) -> str:
    return (f"docker run -d --name {ctx.name('registry')} -p 127.0.0.1:{ctx.port(PORT)}:{PORT} "
            f"-v {ctx.name('registry-data')}:{STORAGE} {IMAGE}")


def _recreate(ctx) -> str:
    return f"docker rm -f {ctx.name('registry')} && {_run(ctx)}"


def _push(ctx) -> str:
    """Build the exercise's one-line hello-app under the registry's name and push it (any image would do)."""
    return f"cd exercises/registry && docker build -t {_ref(ctx)} . && docker push {_ref(ctx)}"


def _url(ctx, path: str) -> str:
    return f"http://{ctx.scope.host}:{ctx.port(PORT)}{path}"


def _get(ctx, path: str, **headers):
    """GET on the registry's API (loopback only), cached per run; ``(response or None, error text)``."""
    def load():
        try:
            return requests.get(_url(ctx, path), headers=headers, timeout=HTTP_TIMEOUT), ""
        except requests.exceptions.RequestException as exc:
            return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    return ctx._cached(("registry-http", path, tuple(sorted(headers.items()))), load)


@EXERCISE.check("running", f"Container `registry` from {IMAGE} is running")
def running(ctx):
    info = ctx.container("registry")
    name = ctx.name("registry")
    if info is None:
        return fail(found=f"no container named `{name}`",
                    expected=f"a running registry container `registry` from `{IMAGE}`",
                    fix=f"docker volume create {ctx.name('registry-data')} && {_run(ctx)}",
                    evidence={f"docker ps -a --filter name={name}": "nothing"})
    used = info["Config"].get("Image", "")
    if not common.runs_pinned(ctx, info, IMAGE):
        return fail(found=f"`{name}` runs `{used}`", expected=f"`{IMAGE}`, Docker's own registry", fix=_recreate(ctx),
                    evidence={"Config.Image": used})
    state = info["State"]
    if (problem := not_steady(name, state)) is not None:
        return problem
    if not state.get("Running"):
        return fail(found=f"the registry is not running: `{name}` is {state.get('Status')} (exit code {state.get('ExitCode')})",
                    expected="a running registry", fix=f"docker start {name}",
                    evidence={"State.Status": state.get("Status"), "State.ExitCode": state.get("ExitCode")},
                    more=f"Nothing can be pushed to or pulled from a stopped registry; `docker logs {name}` shows why it stopped.")
    return ok(f"`{name}` is running.", {"State.Status": "running"})


@EXERCISE.check("port", f"It is published on 127.0.0.1:{PORT}", requires=("running",))
def port(ctx):
    info = ctx.container("registry")
    bindings = ((info.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{PORT}/tcp") or []
    want = str(ctx.port(PORT))
    evidence = {f"NetworkSettings.Ports[{PORT}/tcp]": bindings}
    if any(b.get("HostIp") == "127.0.0.1" and b.get("HostPort") == want for b in bindings):
        return ok(f"Published on 127.0.0.1:{want}.", evidence)
    if any(b.get("HostPort") == want for b in bindings):
        where = ", ".join(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}" for b in bindings)
        return fail(found=f"port {PORT} is published on {where}, which every machine that can reach yours may use",
                    expected=f"127.0.0.1:{want} only (this registry has no password)", fix=_recreate(ctx), evidence=evidence)
    where = ", ".join(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}" for b in bindings)
    return fail(found=f"the registry's port {PORT} is {'published on ' + where if bindings else 'not published at all'}",
                expected=f"`-p 127.0.0.1:{want}:{PORT}`, so that `localhost:{want}/...` image names reach it",
                fix=_recreate(ctx), evidence=evidence)


@EXERCISE.check("storage", f"Its storage is the named volume `registry-data` at {STORAGE}", requires=("running",))
def storage(ctx):
    info = ctx.container("registry")
    vol = ctx.name("registry-data")
    mounts = [{k: m.get(k) for k in ("Type", "Name", "Source", "Destination") if m.get(k)} for m in info.get("Mounts") or []]
    evidence = {"Mounts": mounts}
    at = next((m for m in mounts if m.get("Destination") == STORAGE), None)
    if at and at.get("Type") == "volume" and at.get("Name") == vol:
        return ok(f"Volume `{vol}` holds the registry's storage.", evidence)
    if at is None:
        found = f"nothing is mounted at {STORAGE}: pushed images are kept in the container's writable layer"
    elif at.get("Type") == "bind":
        found = f"a bind mount of the host folder `{at.get('Source')}` at {STORAGE}"
    elif at.get("Type") == "volume" and len(at.get("Name") or "") == 64:
        found = f"an anonymous volume `{at['Name'][:12]}…` at {STORAGE} (the image declares that folder a VOLUME)"
    else:
        found = f"the {at.get('Type')} `{at.get('Name') or at.get('Source')}` at {STORAGE}"
    return fail(found=found, expected=f"the named volume `{vol}` mounted at {STORAGE}",
                fix=f"docker rm -f {ctx.name('registry')} && docker volume create {vol} && {_run(ctx)}",
                evidence=evidence,
                more=("With a named volume, the pushed images survive when the registry container is replaced or "
                      "upgraded. After recreating it, push the image again (the old storage is not in the new volume)."))


@EXERCISE.check("api", "The registry answers on its HTTP API", requires=("port",))
def api(ctx):
    resp, err = _get(ctx, "/v2/")
    url = _url(ctx, "/v2/")
    if resp is None:
        return fail(found=f"nothing answered at {url} ({err})", expected="the registry's API answering `{}`",
                    fix=f"docker logs {ctx.name('registry')}", evidence={"GET " + url: err},
                    more="It may still be starting: wait a second and check again.")
    if resp.status_code != 200:
        return fail(found=f"GET {url} answered {resp.status_code}", expected="200 from a Docker registry (API v2)",
                    fix=f"curl -i {url}", evidence={"GET " + url: resp.status_code, "body": resp.text[:200]},
                    more="Is something other than `registry:2` listening on that port?")
    return ok(f"{url} answers 200.", {"GET " + url: 200,
                                     "Docker-Distribution-Api-Version": resp.headers.get("Docker-Distribution-Api-Version")})


@EXERCISE.check("pushed", f"`localhost:{PORT}/{REPO}:{TAG}` is in the registry", requires=("api",))
def pushed(ctx):
    repo, ref = _repo(ctx), _ref(ctx)
    path = f"/v2/{repo}/tags/list"
    resp, err = _get(ctx, path)
    if resp is None:
        return error(f"The registry stopped answering ({err}).", {"GET " + path: err})
    tags = []
    if resp.status_code == 200:
        tags = (resp.json() or {}).get("tags") or []
    evidence = {f"GET {path}": resp.status_code, "tags": tags}
    if TAG in tags:
        return ok(f"The registry lists `{repo}` with tag `{TAG}`.", evidence)
    if tags:
        return fail(found=f"the registry has `{repo}` only with the tag(s) {', '.join(tags)}",
                    expected=f"the tag `{TAG}`",
                    fix=f"docker tag {_host(ctx)}/{repo}:{tags[0]} {ref} && docker push {ref}", evidence=evidence)
    catalog_resp, _ = _get(ctx, "/v2/_catalog")
    catalog = ((catalog_resp.json() or {}).get("repositories") or []) if catalog_resp is not None and catalog_resp.ok else []
    evidence["GET /v2/_catalog"] = catalog
    if ctx.image(ref, scoped=False) is not None:
        return fail(found=f"`{ref}` exists on your machine, but the registry does not have it: it was tagged but never pushed",
                    expected=f"`{repo}:{TAG}` stored in the registry",
                    fix=f"docker push {ref}", evidence=evidence,
                    more="`docker tag` only adds a name on your machine; `docker push` uploads the image.")
    others = [r for r in catalog if r != repo]
    if others:
        return fail(found=f"the registry holds {', '.join(f'`{r}`' for r in others)}, but no `{repo}`",
                    expected=f"the image pushed under exactly `{ref}`",
                    fix=_push(ctx), evidence=evidence,
                    more=("The name decides where an image goes and under which name it is stored: "
                          f"`{_host(ctx)}/<name>:<tag>`."))
    return fail(found=f"the registry is empty, and there is no local image `{ref}`",
                expected=f"an image tagged `{ref}` and pushed",
                fix=_push(ctx), evidence=evidence,
                more=("Any image will do: the command above builds the exercise's tiny hello-app; "
                      f"`docker tag busybox:1.35 {ref}` would work as well."))


@EXERCISE.check("digest", "The registry's copy is the same image as your local one", requires=("pushed",))
def digest(ctx):
    repo, ref = _repo(ctx), _ref(ctx)
    path = f"/v2/{repo}/manifests/{TAG}"
    resp, err = _get(ctx, path, Accept=MANIFEST_TYPES)
    if resp is None:
        return error(f"The registry stopped answering ({err}).", {"GET " + path: err})
    remote = resp.headers.get("Docker-Content-Digest", "")
    evidence = {f"GET {path}": resp.status_code, "Docker-Content-Digest": remote}
    if resp.status_code != 200 or not remote:
        return fail(found=f"the registry lists the tag but its manifest answered {resp.status_code}",
                    expected="a manifest with a digest", fix=f"docker push {ref}", evidence=evidence)
    local = ctx.image(ref, scoped=False)
    if local is None:
        return fail(found=f"the registry has `{repo}:{TAG}`, but there is no local image `{ref}` to compare it with",
                    expected=f"the local image `{ref}` you pushed", fix=f"docker pull {ref}", evidence=evidence,
                    more="Pulling it back from your own registry is a nice proof that the push worked.")
    repo_digests = [d for d in local.get("RepoDigests") or [] if d.startswith(f"{_host(ctx)}/{repo}@")]
    evidence["RepoDigests"] = repo_digests
    if f"{_host(ctx)}/{repo}@{remote}" in repo_digests:
        return ok(f"Same image: the registry and your local `{ref}` both have the digest {remote[:19]}…", evidence)
    if not repo_digests:
        return fail(found=f"your local `{ref}` has no digest from this registry: it was tagged (again) but not pushed",
                    expected=f"a local image whose RepoDigests include {_host(ctx)}/{repo}@{remote[:19]}…",
                    fix=f"docker push {ref}", evidence=evidence)
    return fail(found=f"the registry's `{repo}:{TAG}` ({remote[:19]}…) is not your current local `{ref}`",
                expected="the registry to hold the image you have now", fix=f"docker push {ref}", evidence=evidence,
                more="You probably changed or re-tagged the image after pushing; push again to update the registry.")


@EXERCISE.advisor
def dockerfile_advice(ctx):
    folder = ctx.exercise_dir("registry")
    return hadolint_advice(folder / "Dockerfile") if folder else []
