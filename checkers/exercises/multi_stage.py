"""multi-stage: build with a toolchain, ship only the result.

``exercises/multi-stage/`` holds a small website written in Markdown (``site/``) and a site
generator, ``sitegen``, shipped as a wheel (``wheels/``; its source is in ``tools/sitegen``). The
toolchain is Python, pip, a virtual environment and sitegen, and the build leaves a build cache
(``.sitegen-cache/``). ``Dockerfile.single`` is the single-stage reference: it builds and serves
from one image. The learner writes a two-stage ``Dockerfile`` and builds ``slim-app:1.0``::

    docker build -t slim-app:1.0 .

The check runs the image in a labelled, deadline-bound trial container (port 8080 published on
127.0.0.1 only, removed afterwards) and fetches ``/``; lists the image's files (``docker export``
of a created, never started container) looking for the toolchain and the build cache; and
compares ``Size`` with the single-stage reference (``slim-app:single`` if it was built, otherwise
its base ``python:3.11-slim``, which the reference can only be bigger than), explaining a too-big
image with ``docker history`` layer sizes.
"""
from __future__ import annotations

import re
import tarfile
import time
import uuid

from .. import common
from ..advice import hadolint_advice
from ..labels import course_labels
from ..model import Exercise, Objects, error, fail, ok

IMAGE = "slim-app:1.0"
REFERENCE = "slim-app:single"  # built by the learner from Dockerfile.single (step 1)
REFERENCE_BASE = "python:3.11-slim"  # what Dockerfile.single starts from
PORT = 8080
MARKER = '<meta name="generator" content="sitegen'  # only pages built by sitegen carry it
RUN_STAGE = "FROM busybox:1.35` and `COPY --from=build /src/public /www"
SERVE = 'CMD ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]'

EXERCISE = Exercise(
    id="multi-stage",
    title="A multi-stage build",
    summary=("Image `slim-app:1.0` built from exercises/multi-stage/ in two stages: it serves the generated site on "
             "port 8080, holds no toolchain or build cache, and is at most half the size of the single-stage reference."),
    lesson="Beyond the two days \u203a Image size (book/beyond/image-size)",
    objects=Objects(images=(IMAGE, REFERENCE)),
    day="Beyond",
    files=True,
    start=f"cd exercises/multi-stage && docker build -t {IMAGE} .",
)

# What must not be in the image you ship: (what it is, pattern on the path inside the image).
LEFTOVERS = [
    ("a Python interpreter", re.compile(r"^(usr/(local/)?)?bin/python3?(\.\d+)?$")),
    ("pip", re.compile(r"(^|/)(bin/pip3?(\.\d+)?|site-packages/pip/__init__\.py)$")),
    ("a C compiler or build tool", re.compile(r"^(usr/(local/)?)?bin/(gcc|cc|c\+\+|g\+\+|clang|make)(-\d+)?$")),
    ("the sitegen toolchain", re.compile(r"(^|/)(bin/sitegen|site-packages/sitegen/__init__\.py)$")),
    ("the toolchain's virtual environment", re.compile(r"^opt/toolchain/pyvenv\.cfg$")),
    ("the build cache (.sitegen-cache)", re.compile(r"(^|/)\.sitegen-cache/$")),
    ("pip's download cache", re.compile(r"(^|/)\.cache/pip/$")),
    ("the wheels used for the build", re.compile(r"(^|/)sitegen-[^/]*\.whl$")),
]


def _build(ctx) -> str:
    return f"cd exercises/multi-stage && docker build -t {ctx.image_ref(IMAGE)} ."


def mb(n: float) -> str:
    """Bytes as ``docker image ls`` shows them (decimal units)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000
    return f"{n:.3g}GB"


def _trial_labels(ctx) -> dict:
    return course_labels("trial", run=ctx.run_id, exercise=EXERCISE.id)


def _trial_name(ctx, what: str) -> str:
    return f"dockercourse-trial-{ctx.run_id}-{what}-{uuid.uuid4().hex[:4]}"


@EXERCISE.check("exists", f"The image `{IMAGE}` exists")
def exists(ctx):
    img = ctx.image(IMAGE)
    if img is None:
        return common.image_missing(ctx, IMAGE, "an image built from exercises/multi-stage/", _build(ctx),
                                    more=("First build the single-stage reference to compare with: "
                                          f"`docker build -f Dockerfile.single -t {ctx.image_ref(REFERENCE)} .`"))
    return ok(f"Image `{ctx.image_ref(IMAGE)}` exists ({img['Id'][7:19]}, {mb(img.get('Size') or 0)}).",
              {"Id": img["Id"][7:19], "Size": img.get("Size")})


@EXERCISE.check("works", "It serves the generated site on port 8080", requires=("exists",))
def works(ctx):
    import requests

    api = ctx.api
    cid = None
    ev: dict = {"image": ctx.image_ref(IMAGE), "Config.Cmd": (ctx.image(IMAGE).get("Config") or {}).get("Cmd")}
    try:
        host_config = ctx.trial_host_config(port_bindings={PORT: ("127.0.0.1", None)}, mem_limit="128m",
                                            memswap_limit="128m", pids_limit=64, auto_remove=False)
        cid = api.create_container(ctx.image_ref(IMAGE), labels=_trial_labels(ctx), host_config=host_config,
                                   ports=[PORT], name=_trial_name(ctx, "run"))["Id"]
        api.start(cid)
        host_port = None
        res = None
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            info = api.inspect_container(cid)
            if not info["State"]["Running"]:
                break
            bindings = (info["NetworkSettings"].get("Ports") or {}).get(f"{PORT}/tcp") or []
            host_port = int(bindings[0]["HostPort"]) if bindings else None
            if host_port:
                res = ctx.http_get(host_port, "/", timeout=2, scoped=False)
                if res.status is not None:
                    break
            time.sleep(0.3)
        info = api.inspect_container(cid)
        if not info["State"]["Running"]:
            logs = api.logs(cid, stdout=True, stderr=True, tail=10).decode("utf-8", "replace").strip()
            ev.update({"trial State.ExitCode": info["State"].get("ExitCode"), "trial logs": logs[-500:]})
            return fail(found=f"a container from the image stops at once (exit code {info['State'].get('ExitCode')})"
                              + (f": \u201c{logs.splitlines()[-1][:160]}\u201d" if logs else ""),
                        expected="a web server that keeps running and serves the built pages on port 8080",
                        fix=f"in the run stage: `COPY --from=build /src/public /www` and `{SERVE}`, then {_build(ctx)}",
                        evidence=ev,
                        more="If the folder it serves was never copied from the build stage, the server has "
                             "nothing to start in.")
        if res is None or res.status is None:
            ev["GET / on the published port"] = res.error if res else "no answer"
            return fail(found="nothing answers on port 8080 of a container from the image",
                        expected="a web server listening on port 8080",
                        fix=f"end the run stage with `EXPOSE 8080` and `{SERVE}`, then {_build(ctx)}", evidence=ev)
        ev.update({"GET / status": res.status, "GET / body (start)": res.text[:200]})
        if res.status == 200 and MARKER in res.text:
            return ok("A trial container from the image serves the generated home page (200, built by sitegen).", ev)
        if res.status == 200:
            return fail(found="`/` answers 200, but not with a page built by sitegen",
                        expected="the HTML pages sitegen generates (public/ in the build stage)",
                        fix=f"`COPY --from=build /src/public /www` in the run stage, then {_build(ctx)}", evidence=ev,
                        more="Copy the build's output, not its input (site/ holds the Markdown sources).")
        return fail(found=f"`/` answers {res.status}: there is no index.html where the server looks",
                    expected="200 with the generated home page",
                    fix=f"`COPY --from=build /src/public /www` in the run stage, then {_build(ctx)}", evidence=ev,
                    more=("The pages exist only in the build stage until you copy them: a new FROM starts with an "
                          "empty slate, and only what `COPY --from=build` brings over reaches the final image."))
    except requests.exceptions.RequestException as exc:  # pragma: no cover - engine trouble
        return error(f"The trial run could not be watched: {exc}")
    finally:
        if cid:
            try:
                api.remove_container(cid, force=True, v=True)
            except Exception:
                pass


class _Chunks:
    """A file-like view of a chunk iterator (for ``tarfile`` in stream mode)."""

    def __init__(self, chunks):
        self._it = iter(chunks)
        self._buf = b""

    def read(self, n=-1):
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._it)
            except StopIteration:
                break
        if n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data


def scan_files(ctx, image_ref: str, timeout: float = 20.0) -> dict[str, str]:
    """{what: first path} for every LEFTOVERS entry found in the image's file system.

    The container is created (never started), exported as a tar stream, and removed.
    """
    api = ctx.api
    found: dict[str, str] = {}
    cid = api.create_container(image_ref, command=["/nothing-runs"], labels=_trial_labels(ctx),
                               name=_trial_name(ctx, "files"), network_disabled=True)["Id"]
    try:
        stream = ctx._deadline_client(timeout).export(cid, chunk_size=1 << 20)
        with tarfile.open(fileobj=_Chunks(stream), mode="r|") as tar:
            for member in tar:
                path = member.name[2:] if member.name.startswith("./") else member.name
                path = path.lstrip("/")
                if member.isdir() and not path.endswith("/"):
                    path += "/"
                for what, pattern in LEFTOVERS:
                    if what not in found and pattern.search(path):
                        found[what] = "/" + path
                if len(found) == len(LEFTOVERS):
                    break
    finally:
        try:
            api.remove_container(cid, force=True, v=True)
        except Exception:
            pass
    return found


def _history(ctx, ref: str) -> list[dict]:
    """Layers, oldest first, as {"by": instruction, "size": bytes}."""
    out = []
    for h in reversed(ctx.api.history(ref)):
        by = (h.get("CreatedBy") or "").replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ").strip()
        out.append({"by": re.sub(r"\s+", " ", by), "size": h.get("Size") or 0})
    return out


def _short(instruction: str, n: int = 70) -> str:
    return instruction if len(instruction) <= n else instruction[: n - 1] + "\u2026"


def _common_base(layers: list[dict], ctx) -> int:
    """How many of the oldest layers are exactly those of the reference's base image."""
    if ctx.image(REFERENCE_BASE, scoped=False) is None:
        return 0
    base = _history(ctx, REFERENCE_BASE)
    n = 0
    for mine, theirs in zip(layers, base):
        if (mine["by"], mine["size"]) != (theirs["by"], theirs["size"]):
            break
        n += 1
    return n if n == len(base) else 0


@EXERCISE.check("no-toolchain", "It holds no toolchain and no build cache", requires=("exists",))
def no_toolchain(ctx):
    found = scan_files(ctx, ctx.image_ref(IMAGE))
    steps = [h["by"] for h in _history(ctx, ctx.image_ref(IMAGE))]
    built_here = [s for s in steps if re.search(r"bin/sitegen |\bsitegen site|-m venv|pip3? install", s)
                  and not re.search(r"\brm\s", s)]
    ev = {"found in the image": found, "build steps in docker history": [_short(s) for s in built_here]}
    if not found:
        return ok("No Python, pip, compiler, sitegen or build cache in the image.", ev)
    listed = ", ".join(f"{what} ({path})" for what, path in list(found.items())[:6])
    more = ("The image you ship should hold what runs, not what builds. "
            "A multi-stage build does the work in a first stage (`FROM python:3.11-slim AS build`) and starts the "
            "final stage afresh from a small image, copying in only the result.")
    if built_here:
        more = (f"`docker history` shows the build itself ran in this image (`{_short(built_here[-1], 60)}`): "
                "it was built in a single stage. " + more)
    return fail(found=f"the image contains {listed}", expected="only the built pages and a small web server",
                fix=f"add a second stage: `{RUN_STAGE}`, then {_build(ctx)}", evidence=ev, more=more)


@EXERCISE.check("size", "It is at most half the size of the single-stage reference", requires=("exists",))
def size(ctx):
    img = ctx.image(IMAGE)
    got = img.get("Size") or 0
    ref = ctx.image(REFERENCE)
    if ref is not None:
        ref_size, ref_name = ref.get("Size") or 0, ctx.image_ref(REFERENCE)
        of = f"half of {mb(ref_size)}, the size of {ref_name}"
    else:
        base = ctx.image(REFERENCE_BASE, scoped=False)
        if base is None:
            return error(f"Nothing to compare with: neither {ctx.image_ref(REFERENCE)} nor {REFERENCE_BASE} is on "
                         f"this engine (`dockercourse images prepare`).")
        ref_size, ref_name = base.get("Size") or 0, f"{REFERENCE_BASE} (base of the reference)"
        of = (f"half of {mb(ref_size)}, the size of {REFERENCE_BASE} alone, which the single-stage reference builds "
              f"on; `docker build -f Dockerfile.single -t {ctx.image_ref(REFERENCE)} .` gives the exact figure")
    limit = ref_size // 2
    ev = {"Size": got, "reference": ref_name, "reference Size": ref_size, "limit (half)": limit}
    if got <= limit:
        return ok(f"{mb(got)}, against {mb(ref_size)} for {ref_name.split(' ')[0]}: "
                  f"{got / ref_size:.0%} of the single-stage size.", ev)
    layers = _history(ctx, ctx.image_ref(IMAGE))
    base_layers = _common_base(layers, ctx)
    for i, h in enumerate(layers):
        h["base"] = i < base_layers
    ev["docker history (oldest first)"] = [f"{mb(h['size'])}  {_short(h['by'])}" + ("  [base image]" if h["base"] else "")
                                           for h in layers]
    biggest = sorted((h for h in layers if h["size"]), key=lambda h: -h["size"])[:3]
    more = "Largest layers: " + "; ".join(f"{mb(h['size'])} `{_short(h['by'], 60)}`"
                                          + (f" (from the base image {REFERENCE_BASE})" if h["base"] else "")
                                          for h in biggest) + "."
    removals = [(i, h) for i, h in enumerate(layers)
                if re.search(r"\brm\s+-\w*[rf]|\bpip3? uninstall\b|\bapt-get (remove|purge)\b", h["by"])]
    fix = f"build in a first stage and start the final one afresh: `{RUN_STAGE}`, then {_build(ctx)}"
    if removals:
        i, rm = removals[-1]
        targets = [t for t in re.findall(r"(/[\w./-]+)", rm["by"]) if len(t) > 1]
        earlier = [h for h in layers[:i] if h["size"] and any(t.rstrip("/") in h["by"] for t in targets)]
        culprit = max(earlier, key=lambda h: h["size"]) if earlier else (biggest[0] if biggest else None)
        more = (f"The layer `{_short(rm['by'], 60)}` adds {mb(rm['size'])}: deleting files in a later layer does not "
                "make an image smaller. Layers only add; the deletion hides the files, but their bytes stay in the "
                "layer that created them"
                + (f" (`{_short(culprit['by'], 60)}`, {mb(culprit['size'])})" if culprit else "")
                + ", and every layer is shipped. " + more)
        ev["removal layer"] = f"{mb(rm['size'])}  {_short(rm['by'])}"
    return fail(found=f"the image is {mb(got)}", expected=f"at most {mb(limit)} ({of})",
                fix=fix, evidence=ev, more=more)


@EXERCISE.advisor
def lint(ctx):
    finder = getattr(ctx, "exercise_dir", None)
    folder = finder() if finder else None
    return hadolint_advice(folder / "Dockerfile") if folder else []
