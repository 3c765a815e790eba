"""Check bodies that several exercises share word for word.

``name`` is the exercise's own name for a container (``"web"``), ``image`` the exercise's image
reference (``"nginx:1.22"``); like every check, these ask ``ctx`` for the scoped names.
"""
from __future__ import annotations

from .model import Outcome, fail, ok


# ------------------------------------------------------------------------------- a named container
def container_missing(ctx, name: str, expected: str, fix: str, more: str = "", evidence: dict | None = None) -> Outcome:
    """The fail for "no container named ``name``"; ``evidence`` adds to the `docker ps -a` look.
    A container one typo away gets named, with the rename that fixes it."""
    near = ctx.similar_container(ctx.name(name))
    if near:
        return fail(found=f"no container named `{ctx.name(name)}`, but there is one called `{near}`",
                    expected=expected, fix=f"docker rename {near} {ctx.name(name)}",
                    more="If that is the one you meant, renaming it is enough.",
                    evidence={f"docker ps -a --filter name={ctx.name(name)}": "nothing", "similar name": near,
                              **(evidence or {})})
    return fail(found=f"no container named `{ctx.name(name)}` (running or stopped)", expected=expected, fix=fix,
                more=more, evidence={f"docker ps -a --filter name={ctx.name(name)}": "nothing", **(evidence or {})})


def container_found(ctx, name: str, info: dict) -> Outcome:
    return ok(f"Container `{ctx.name(name)}` exists ({info['Id'][:12]}).", {"Id": info["Id"][:12]})


def container_exists(ctx, name: str, expected: str, fix: str, more: str = "") -> Outcome:
    """The whole "A container named X exists" check."""
    info = ctx.container(name)
    if info is None:
        return container_missing(ctx, name, expected, fix, more)
    return container_found(ctx, name, info)


# --------------------------------------------------------------------------------------- its image
def runs_pinned(ctx, info: dict, image: str) -> bool:
    """The container was created from the pinned ``image`` (by that tag, or the same image under another)."""
    wanted = ctx.image(image, scoped=False)
    return info["Config"].get("Image", "") == image or bool(wanted and info.get("Image") == wanted["Id"])


def pinned_image(ctx, name: str, image: str, fix: str, more: str = "") -> Outcome:
    """The whole "It runs `nginx:1.22`" check, for an image the course pins (not scoped)."""
    info = ctx.container(name)
    used = info["Config"].get("Image", "")
    if runs_pinned(ctx, info, image):
        return ok(f"Image is {used}.", {"Config.Image": used})
    return fail(found=f"the container runs `{used}`", expected=f"`{image}` (the exact tag the course pins)",
                fix=fix, evidence={"Config.Image": used}, more=more)


def latest_build(ctx, name: str, image: str, fix: str, more: str) -> Outcome:
    """The whole "`X` runs `app:1.0`" check, for an image the learner builds: the build as it is now.
    ``more`` says why an older build is not good enough."""
    info = ctx.container(name)
    used = info["Config"].get("Image", "")
    if info.get("Image") == ctx.image(image)["Id"]:
        return ok(f"It runs {used}.", {"Config.Image": used})
    if used == ctx.image_ref(image):
        return fail(found=f"`{name}` was created from an older build of `{used}`",
                    expected="a container from the image as it is now", fix=fix,
                    evidence={"Image": info.get("Image", "")[7:19], f"{used} now": ctx.image(image)["Id"][7:19]},
                    more=more)
    return fail(found=f"`{name}` runs `{used}`", expected=f"`{ctx.image_ref(image)}`", fix=fix,
                evidence={"Config.Image": used})


# ---------------------------------------------------------------------------------- an image built
def image_missing(ctx, image: str, expected: str, fix: str, more: str = "") -> Outcome:
    return fail(found=f"no image `{ctx.image_ref(image)}`", expected=expected, fix=fix,
                evidence={f"docker image ls {ctx.image_ref(image)}": "nothing"}, more=more)


def image_exists(ctx, image: str, expected: str, fix: str) -> Outcome:
    """The whole "The image `app:1.0` exists" check."""
    img = ctx.image(image)
    if img is None:
        return image_missing(ctx, image, expected, fix)
    return ok(f"Image `{ctx.image_ref(image)}` exists ({img['Id'][7:19]}).", {"Id": img["Id"][7:19]})


# ------------------------------------------------------------------------------------------- logs
def log_tail(ctx, info: dict) -> str:
    """The last 8 lines of the container's log, or "" if they cannot be read quickly."""
    try:
        return ctx.logs(info["Id"], tail=8, timeout=3).strip()
    except Exception:
        return ""
