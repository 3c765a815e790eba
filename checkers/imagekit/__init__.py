"""The offline image kit: the course's pinned images, pulled where a registry answers, and
otherwise built locally as working **stand-ins** from Debian packages under the same tag.

    from checkers.imagekit import COURSE_IMAGES, status, prepare
    prepare(client)   # idempotent: pulls or builds what is missing, prints progress
    status(client)    # [{"image", "source": "pulled"|"stand-in"|"missing", "id", "size"}]

Standalone: ``python -m checkers.imagekit prepare|status``. The stand-ins' Dockerfiles, entrypoints and
setup scripts are plain files under ``standins/<name>/`` (see ``standins/README.md``). Building a
Debian-based stand-in needs root (debootstrap, chroot); ``status`` never does.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COURSE_IMAGES", "ImageKitError", "image_source", "status", "prepare", "STANDIN_LABEL"]

COURSE_IMAGES: list[str] = ["busybox:1.35", "python:3.11-slim", "nginx:1.22", "redis:7.0", "postgres:15",
                            "registry:2"]

STANDIN_LABEL = "org.dockercourse.standin"
PULL_TIMEOUT = float(os.environ.get("DOCKERCOURSE_PULL_TIMEOUT", "8"))  # seconds of silence before giving up
BUILD_TIMEOUT = 1200
STANDINS = Path(__file__).resolve().parent / "standins"


class ImageKitError(Exception):
    """Preparing the course images failed; ``str()`` says what failed and what to do."""


@dataclass(frozen=True)
class Recipe:
    ref: str
    dirname: str
    debian: bool = True  # built on a debootstrapped Debian root (needs root); busybox is not

    @property
    def dir(self) -> Path:
        return STANDINS / self.dirname

    def packages(self) -> list[str]:
        path = self.dir / "packages.txt"
        if not path.exists():
            return []
        return [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines() if ln.split("#", 1)[0].strip()]


RECIPES: dict[str, Recipe] = {
    "busybox:1.35": Recipe("busybox:1.35", "busybox", debian=False),
    "python:3.11-slim": Recipe("python:3.11-slim", "python"),
    "nginx:1.22": Recipe("nginx:1.22", "nginx"),
    "redis:7.0": Recipe("redis:7.0", "redis"),
    "postgres:15": Recipe("postgres:15", "postgres"),
    "registry:2": Recipe("registry:2", "registry"),
}


# --------------------------------------------------------------------------- status

def _find_image(client, ref: str):
    from docker.errors import ImageNotFound, NotFound

    try:
        return client.images.get(ref)
    except (ImageNotFound, NotFound):
        return None


def _source_of(image) -> str:
    if image is None:
        return "missing"
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    return "stand-in" if labels.get(STANDIN_LABEL) == "true" else "pulled"


def image_source(client, ref: str) -> str:
    """``"pulled"`` (present, not one of our stand-ins), ``"stand-in"`` or ``"missing"`` (not present locally)."""
    return _source_of(_find_image(client, ref))


def _row(ref: str, image) -> dict:
    if image is None:
        return {"image": ref, "source": "missing", "id": None, "size": None}
    short = image.id.split(":", 1)[-1][:12]
    return {"image": ref, "source": _source_of(image), "id": short, "size": image.attrs.get("Size")}


def status(client) -> list[dict]:
    """One row per course image: ``{"image", "source", "id" (12 hex digits or None), "size" (bytes or None)}``."""
    return [_row(ref, _find_image(client, ref)) for ref in COURSE_IMAGES]


# --------------------------------------------------------------------------- pulling

def try_pull(client, ref: str, timeout: float = PULL_TIMEOUT) -> tuple[bool, str]:
    """Pull ``ref`` once. (True, "") when the image is now present, else (False, why).

    ``timeout`` bounds every wait for the engine's next progress message, so an unreachable
    registry fails within seconds while a real (slow but moving) download goes on.
    """
    from docker.utils import parse_repository_tag

    repo, tag = parse_repository_tag(ref)
    api = client.api
    try:
        resp = api._post(api._url("/images/create"), params={"fromImage": repo, "tag": tag or "latest"},
                         stream=True, timeout=timeout)
        api._raise_for_status(resp)
        for chunk in api._stream_helper(resp, decode=True):
            if isinstance(chunk, dict) and chunk.get("error"):
                return False, str(chunk["error"]).strip()
    except Exception as exc:  # timeouts, connection errors, API errors: all mean "no registry here"
        text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
        return False, str(text).splitlines()[0][:300]
    if _find_image(client, ref) is None:
        return False, "the pull ended without the image"
    return True, ""


# --------------------------------------------------------------------------- building

def cache_dir() -> Path:
    base = os.environ.get("DOCKERCOURSE_STATE") or str(Path.home() / ".cache" / "dockercourse")
    return Path(base) / "imagekit"


def _upstream(version: str) -> str:
    """``5:7.0.15-1~deb12u10`` -> ``7.0.15``."""
    import re

    v = version.split(":", 1)[-1]
    m = re.match(r"[0-9][0-9.]*[0-9]|[0-9]", v)
    return m.group(0) if m else v


def _describe(ref: str, versions: dict[str, str]) -> str:
    pkgs = ", ".join(f"{p} {v}" for p, v in versions.items())
    return f"Offline stand-in for {ref}, built from Debian packages: {pkgs}"


RECIPE_LABEL = "org.dockercourse.recipe"


def recipe_hash(recipe: Recipe) -> str:
    """A short hash of a stand-in's recipe files: a stand-in built from other files is outdated."""
    import hashlib

    h = hashlib.sha256()
    for folder in (recipe.dir, STANDINS / "_common"):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            h.update(str(path.relative_to(STANDINS)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _outdated(image, ref: str) -> bool:
    """A stand-in whose recipe changed since it was built (pulled images are never outdated)."""
    recipe = RECIPES.get(ref)
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    return bool(recipe and labels.get(STANDIN_LABEL) == "true" and labels.get(RECIPE_LABEL) != recipe_hash(recipe))


def _docker_build(client, ref: str, context: Path, buildargs: dict[str, str], log: Path) -> str:
    """Build ``context`` as ``ref``; returns the new image id. Output goes to ``log``."""
    for script in context.glob("*.sh"):
        script.chmod(0o755)
    image_id = None
    errors = []
    with open(log, "a") as fh:
        fh.write(f"\n$ docker build -t {ref} {context}  (build args {json.dumps(buildargs)})\n")
        try:
            stream = client.api.build(path=str(context), tag=ref, rm=True, forcerm=True, pull=False,
                                      buildargs=buildargs, decode=True, timeout=BUILD_TIMEOUT,
                                      labels={RECIPE_LABEL: recipe_hash(RECIPES[ref])} if ref in RECIPES else None)
            for chunk in stream:
                if "stream" in chunk:
                    fh.write(chunk["stream"])
                if "aux" in chunk and isinstance(chunk["aux"], dict) and chunk["aux"].get("ID"):
                    image_id = chunk["aux"]["ID"]
                if chunk.get("error"):
                    errors.append(str(chunk["error"]).strip())
                    fh.write(f"ERROR: {chunk['error']}\n")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    if errors or not image_id:
        raise ImageKitError(f"docker build of the {ref} stand-in failed: {'; '.join(errors) or 'no image id'} "
                            f"(log: {log})")
    return image_id


def _build_busybox(client, recipe: Recipe, work: Path, log: Path, progress) -> str:
    from . import debian

    progress("  fetching Debian's busybox-static package (apt-get download)")
    debs = work / "debs"
    debs.mkdir()
    env = dict(os.environ, LC_ALL="C")
    try:
        debian.run_logged(["apt-get", "download", "busybox-static"], log, "apt-get download busybox-static",
                          env=env, timeout=300, cwd=debs)
    except debian.BuildError as exc:
        if not _is_root():
            raise ImageKitError(f"could not fetch Debian's busybox-static package ({exc}); run "
                                f"`sudo apt-get update` and try again (log: {log})") from None
        debian.run_logged(["apt-get", "update", "-q"], log, "apt-get update", env=env, timeout=600)
        debian.run_logged(["apt-get", "download", "busybox-static"], log, "apt-get download busybox-static",
                          env=env, timeout=300, cwd=debs)
    deb = next(iter(sorted(debs.glob("busybox-static_*.deb"))), None)
    if deb is None:
        raise ImageKitError(f"apt-get download busybox-static produced no .deb (log: {log})")
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True).stdout.strip()
    ctx = work / "context"
    shutil.copytree(recipe.dir, ctx)
    debian.extract_deb_file(deb, "bin/busybox", ctx / "busybox", log)
    (ctx / "busybox").chmod(0o755)
    progress("  docker build (FROM scratch + static busybox, applets as symlinks in /bin)")
    return _docker_build(client, recipe.ref, ctx, {
        "STANDIN_DESCRIPTION": _describe(recipe.ref, {"busybox-static": version}),
        "STANDIN_SOURCE": f"Debian {debian.SUITE} package busybox-static {version} "
                          f"(checkers/imagekit/standins/{recipe.dirname})",
    }, log)


def _build_debian(client, recipe: Recipe, work: Path, log: Path, progress) -> str:
    from . import debian

    cache = cache_dir()
    base = debian.ensure_base(cache, log, progress)
    packages = recipe.packages()
    ctx = work / "context"
    shutil.copytree(recipe.dir, ctx, ignore=shutil.ignore_patterns("packages.txt", "pre-install.sh", "setup.sh"))
    with debian.Chroot(base, cache, log) as root:
        progress("  apt-get update (chroot)")
        root.apt_update()
        if (recipe.dir / "pre-install.sh").exists():
            progress("  pre-install.sh")
            root.script(recipe.dir / "pre-install.sh", f"{recipe.dirname}/pre-install.sh")
        progress(f"  apt-get install --no-install-recommends {' '.join(packages)}")
        root.apt_install(packages)
        if (recipe.dir / "setup.sh").exists():
            progress("  setup.sh")
            root.script(recipe.dir / "setup.sh", f"{recipe.dirname}/setup.sh")
        versions = root.versions(packages)
        progress("  cleaning up and packing rootfs.tar")
        root.finish(ctx / "rootfs.tar")
    size = (ctx / "rootfs.tar").stat().st_size
    progress(f"  docker build (FROM scratch, ADD rootfs.tar /: {size / 1e6:.0f} MB)")
    main_version = versions.get(packages[0], "") if packages else ""
    return _docker_build(client, recipe.ref, ctx, {
        "STANDIN_DESCRIPTION": _describe(recipe.ref, versions),
        "STANDIN_SOURCE": f"Debian {debian.SUITE} packages ({', '.join(packages)}) on a debootstrap minbase root "
                          f"(checkers/imagekit/standins/{recipe.dirname})",
        "UPSTREAM_VERSION": _upstream(main_version) if main_version else "",
    }, log)


def _build_standin(client, recipe: Recipe, progress) -> str:
    from . import debian

    cache = cache_dir()
    (cache / "work").mkdir(parents=True, exist_ok=True)
    (cache / "logs").mkdir(parents=True, exist_ok=True)
    log = cache / "logs" / f"{recipe.dirname}.log"
    log.write_text(f"# stand-in build of {recipe.ref}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    old = _find_image(client, recipe.ref)
    work = Path(tempfile.mkdtemp(prefix=f"{recipe.dirname}-", dir=cache / "work"))
    try:
        if recipe.debian:
            new_id = _build_debian(client, recipe, work, log, progress)
        else:
            new_id = _build_busybox(client, recipe, work, log, progress)
    except debian.BuildError as exc:
        raise ImageKitError(f"building the {recipe.ref} stand-in failed: {exc} (log: {exc.log or log})") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # a rebuilt stand-in replaces the old one: drop the old image if nothing uses it any more
    if old is not None and old.id != new_id and _source_of(old) == "stand-in":
        with contextlib.suppress(Exception):
            client.images.remove(old.id)
    return new_id


@contextlib.contextmanager
def _lock(progress):
    """One prepare at a time per cache directory (others wait)."""
    import fcntl

    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "prepare.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("waiting for another `images prepare` to finish ...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_work() -> None:
    """Work directories left by an interrupted build (we hold the lock, so nobody else is using them)."""
    from . import debian

    work = cache_dir() / "work"
    if not work.is_dir():
        return
    for child in work.iterdir():
        with contextlib.suppress(Exception):
            if child.is_dir():
                debian.remove_tree(child)
            else:
                child.unlink()


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _root_problem(recipes: list[Recipe]) -> str | None:
    needs = [r.ref for r in recipes if r.debian]
    if not needs:
        return None
    if not _is_root():
        return (f"no registry answered, and building the offline stand-ins for {', '.join(needs)} needs root "
                f"(debootstrap and chroot). Run `sudo dockercourse images prepare` (or "
                f"`sudo python3 -m checkers.imagekit prepare`), or `docker load` the images from a machine "
                f"that can pull them.")
    if shutil.which("chroot") is None or shutil.which("tar") is None:
        return "building stand-ins needs `chroot` and `tar` on PATH (coreutils, tar)."
    if shutil.which("debootstrap") is None and shutil.which("apt-get") is None:
        return ("building stand-ins needs debootstrap (`apt-get install debootstrap`), and there is no apt-get "
                "here to install it.")
    return None


def prepare(client, images=None, progress=print, force: bool = False) -> list[dict]:
    """Make every image in ``images`` (default: all course images) present locally; returns :func:`status`.

    Present images are left alone (unless ``force``), so a second run takes seconds. For each missing
    one, a pull is tried once with a short timeout; where it fails, a stand-in is built from Debian
    packages under the same tag. Raises :class:`ImageKitError` if any image could not be made.
    """
    refs = list(COURSE_IMAGES if images is None else images)
    if isinstance(images, str):
        refs = [images]
    progress = progress or (lambda _m: None)
    started = time.monotonic()

    todo = []
    force_refs: set[str] = set()
    for ref in refs:
        image = _find_image(client, ref)
        if image is not None and not force:
            if _outdated(image, ref):
                progress(f"{ref}: the stand-in was built from an older recipe; rebuilding it")
                force_refs.add(ref)
            else:
                progress(f"{ref}: present ({_source_of(image)})")
                continue
        todo.append(ref)

    failures: list[str] = []
    if todo:
        with _lock(progress):
            need_build: list[Recipe] = []
            for ref in todo:
                if not force and ref not in force_refs and _find_image(client, ref) is not None:  # made by a prepare we waited for
                    progress(f"{ref}: present ({image_source(client, ref)})")
                    continue
                progress(f"{ref}: trying `docker pull` (up to {PULL_TIMEOUT:.0f} s of silence)")
                t0 = time.monotonic()
                ok, why = try_pull(client, ref)
                if ok:
                    progress(f"{ref}: pulled in {time.monotonic() - t0:.1f} s")
                    continue
                progress(f"{ref}: pull failed ({why}); will build a stand-in")
                recipe = RECIPES.get(ref)
                if recipe is None:
                    failures.append(f"{ref}: the pull failed ({why}) and the kit has no stand-in recipe for it")
                    continue
                need_build.append(recipe)
            problem = _root_problem(need_build)
            if problem:
                raise ImageKitError(problem + (f" Also: {'; '.join(failures)}" if failures else ""))
            if need_build:
                _remove_stale_work()
            for n, recipe in enumerate(need_build, 1):
                progress(f"{recipe.ref}: building stand-in [{n}/{len(need_build)}] from Debian packages")
                t0 = time.monotonic()
                try:
                    new_id = _build_standin(client, recipe, progress)
                except ImageKitError as exc:
                    progress(f"{recipe.ref}: FAILED: {exc}")
                    failures.append(str(exc))
                    continue
                image = _find_image(client, recipe.ref)
                size = (image.attrs.get("Size") or 0) / 1e6 if image is not None else 0
                progress(f"{recipe.ref}: stand-in built in {time.monotonic() - t0:.1f} s "
                         f"({new_id.split(':', 1)[-1][:12]}, {size:.0f} MB)")
    if failures:
        raise ImageKitError("could not prepare every image:\n  " + "\n  ".join(failures))
    if todo:
        progress(f"done in {time.monotonic() - started:.1f} s")
    rows = status(client)
    extra = [r for r in refs if r not in COURSE_IMAGES]
    return rows + [_row(r, _find_image(client, r)) for r in extra]
