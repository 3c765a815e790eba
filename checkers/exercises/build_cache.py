"""build-cache: order a Dockerfile for the build cache, and keep big files out of the context.

``cache-app:1.0`` is built from ``exercises/build-cache/``. Its Dockerfile must copy the
dependency manifest (``requirements.txt`` and ``wheels/``) and install *before* copying the
source, and its ``.dockerignore`` must keep ``data/`` and ``.git`` out of the build context.

The check proves both for real: it copies the folder (what the builder would be sent, nothing
more) to a temporary directory, builds it, changes ``app.py``, builds again, and reads from the
builder's output whether the install step was ``Using cache``. Both trial builds are labelled,
tagged ``dockercourse-trial-<run>:a|b`` and removed afterwards together with exactly the
intermediate images they created. The context size is measured with the ``.dockerignore`` rules
the builder uses (``docker.utils.build``), with and without the file. Without ``data/`` (not
generated yet) the patterns are still checked.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

from ..advice import hadolint_advice
from ..labels import course_labels
from ..model import Exercise, Objects, error, fail, ok

REF = "cache-app:1.0"
BUILD = f"docker build -t {REF} ."
SOURCE = "app.py"
MANIFEST = {"requirements.txt", "wheels"}
IGNORE_FIX = "printf 'data/\\n.git\\n' >> .dockerignore"
BUILD_TIMEOUT = 180.0

EXERCISE = Exercise(
    id="build-cache",
    title="Fast rebuilds: the build cache and .dockerignore",
    summary=(f"Image `{REF}` from `exercises/build-cache/`, whose Dockerfile installs the dependencies before "
             "copying the source, and whose `.dockerignore` keeps `data/` and `.git` out of the build context."),
    lesson="Day 1 \u203a Layers and the build cache (book/day1/layers-and-cache)",
    objects=Objects(images=(REF,)),
    day="Day 1",
    start=f"cd exercises/build-cache && python3 make_data.py && {BUILD}",
)

_INSTALL = re.compile(r"\bpip3?\s+install\b|\bpython3?\s+-m\s+pip\s+install\b", re.I)


def _build(ctx) -> str:
    return f"docker build -t {ctx.image_ref(REF)} .   # in exercises/build-cache"


def _folder(ctx):
    return ctx.exercise_dir(EXERCISE.id)


def _no_folder():
    return fail(found="the folder `exercises/build-cache` was not found from here",
                expected="to run the check from the course folder (or inside `exercises/build-cache`)",
                fix="cd <the course folder> && dockercourse check build-cache",
                evidence={"DOCKERCOURSE_EXERCISES": "not set", "cwd": str(Path.cwd())})


# ------------------------------------------------------------------ Dockerfile parsing
def instructions(text: str) -> list[tuple[int, str, str]]:
    """``(line number, INSTRUCTION, arguments)`` for each instruction, continuations joined."""
    out, buf, start = [], "", 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if not buf:
            start = no
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    if buf.strip():
        word, _, rest = buf.strip().partition(" ")
        out.append((start, word.upper(), rest.strip()))
    return out


def copy_sources(args: str) -> list[str]:
    """The source paths of a COPY/ADD (flags and destination dropped)."""
    args = args.strip()
    if args.startswith("["):
        try:
            parts = [str(p) for p in json.loads(args)]
        except ValueError:
            parts = args.strip("[]").replace('"', "").replace(",", " ").split()
    else:
        parts = args.split()
    parts = [p for p in parts if not p.startswith("--")]
    return parts[:-1]


def _norm(src: str) -> str:
    s = src.strip()
    while s.startswith("./"):
        s = s[2:]
    return s.rstrip("/") or "."


def _context(folder: Path) -> dict:
    """The build context as the builder would send it: included files and sizes, with and without .dockerignore."""
    from docker.utils.build import PatternMatcher, exclude_paths

    ignore = folder / ".dockerignore"
    patterns = None
    if ignore.is_file():
        patterns = [ln.strip() for ln in ignore.read_text(errors="replace").splitlines()]
        patterns = [p for p in patterns if p and not p.startswith("#")]
    everything, total = [], 0
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            everything.append(p)
            total += p.stat().st_size
    data_size = sum(p.stat().st_size for p in everything if p.relative_to(folder).parts[0] == "data")
    if patterns is None:
        included, size = [str(p.relative_to(folder)) for p in everything], total
        pm = None
    else:
        included = [f for f in exclude_paths(str(folder), list(patterns), dockerfile="Dockerfile")
                    if (folder / f).is_file() and not (folder / f).is_symlink()]
        size = sum((folder / f).stat().st_size for f in included)
        pm = PatternMatcher(list(patterns))
    return {"patterns": patterns, "included": sorted(included), "size": size, "total": total,
            "data_exists": (folder / "data").is_dir(), "data_size": data_size,
            "data_ignored": bool(pm and pm.matches("data/sample-00.bin")),
            "git_ignored": bool(pm and pm.matches(".git/HEAD"))}


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


# ------------------------------------------------------------------------- checks
@EXERCISE.check("exists", f"The image `{REF}` exists")
def exists(ctx):
    ref = ctx.image_ref(REF)
    info = ctx.image(REF)
    if info is None:
        repo = ref.rpartition(":")[0]
        others = sorted({t for i in ctx.api.images(name=repo) for t in (i.get("RepoTags") or [])})
        if others:
            return fail(found=f"the image is tagged {', '.join(others)} but not `{ref}`", expected=f"the tag `{ref}`",
                        fix=f"docker tag {others[0]} {ref}", evidence={f"docker images {repo}": others})
        return fail(found=f"no image `{ref}`", expected="an image built from `exercises/build-cache`",
                    fix=f"cd exercises/build-cache && python3 make_data.py && {BUILD.replace(REF, ref)}",
                    evidence={f"docker images {repo}": "nothing"})
    return ok(f"`{ref}` exists ({info['Id'][7:19]}).", {"Id": info["Id"][7:19]})


@EXERCISE.check("order", "The Dockerfile installs the dependencies before copying the source")
def order(ctx):
    folder = _folder(ctx)
    if folder is None:
        return _no_folder()
    path = folder / "Dockerfile"
    if not path.is_file():
        return fail(found=f"no Dockerfile in {folder}", expected="the exercise's Dockerfile",
                    fix="git checkout exercises/build-cache/Dockerfile   (the starting version)",
                    evidence={"path": str(path)})
    steps = instructions(path.read_text(errors="replace"))
    install = next(((no, args) for no, word, args in steps if word == "RUN" and _INSTALL.search(args)), None)
    if install is None:
        return fail(found="no `RUN pip install ...` line in the Dockerfile",
                    expected="the dependencies installed from requirements.txt",
                    fix="RUN pip install --no-cache-dir --no-index --find-links wheels -r requirements.txt",
                    evidence={"Dockerfile": str(path)})
    before = [(no, word, args) for no, word, args in steps if no < install[0] and word in ("COPY", "ADD")]
    for no, word, args in before:
        extra = [s for s in copy_sources(args) if _norm(s) not in MANIFEST]
        if extra:
            what = "the whole folder (`.`)" if "." in {_norm(e) for e in extra} else " ".join(f"`{e}`" for e in extra)
            return fail(found=f"line {no} `{word} {args}` copies {what} before the install on line {install[0]}",
                        expected="only requirements.txt and wheels/ copied before `RUN pip install`, the source after it",
                        fix=("COPY requirements.txt ./ and COPY wheels/ wheels/ before the RUN pip install line, "
                             f"and move `{word} {args}` below it"),
                        evidence={f"Dockerfile line {no}": f"{word} {args}",
                                  f"Dockerfile line {install[0]}": f"RUN {install[1]}"},
                        more=(f"Any change {'in the folder' if what.startswith('the whole') else 'to ' + what} (such as editing "
                              f"app.py) then invalidates the cache from line {no} "
                              "on, and the dependencies are installed again on every build."))
    copied = {_norm(s) for _, _, a in before for s in copy_sources(a)}
    if "requirements.txt" not in copied:
        return fail(found=f"requirements.txt is not copied before the install on line {install[0]}",
                    expected="`COPY requirements.txt ./` (and `COPY wheels/ wheels/`) just before it",
                    fix="COPY requirements.txt ./   (above the RUN pip install line)",
                    evidence={f"Dockerfile line {install[0]}": f"RUN {install[1]}"})
    after = [no for no, word, _ in steps if no > install[0] and word in ("COPY", "ADD")]
    return ok(f"Line {install[0]} installs after copying only {sorted(copied)}; the source is copied later"
              f"{' (line ' + str(after[0]) + ')' if after else ''}.",
              {f"Dockerfile line {install[0]}": f"RUN {install[1]}"})


@EXERCISE.check("dockerignore", "`.dockerignore` keeps `data/` and `.git` out of the build context")
def dockerignore(ctx):
    folder = _folder(ctx)
    if folder is None:
        return _no_folder()
    c = _context(folder)
    evidence = {"context size": _mb(c["size"]), "folder size (no .dockerignore)": _mb(c["total"]),
                "data/ size": _mb(c["data_size"]) if c["data_exists"] else "data/ not generated"}
    more = "" if c["data_exists"] else "(data/ is not there yet; `python3 make_data.py` creates it. The patterns were checked anyway.)"
    if c["patterns"] is None:
        return fail(found=f"no .dockerignore: every build sends the whole folder, {_mb(c['total'])}"
                          + (f", of which data/ is {_mb(c['data_size'])}" if c["data_exists"] else ""),
                    expected="a .dockerignore listing `data/` and `.git`",
                    fix=IGNORE_FIX, evidence=evidence, more=more)
    evidence[".dockerignore"] = c["patterns"]
    missing = [name for name, key in (("data/", "data_ignored"), (".git", "git_ignored")) if not c[key]]
    if missing:
        return fail(found=f".dockerignore does not leave out {' and '.join(missing)}"
                          + (f" (the context is {_mb(c['size'])})" if "data/" in missing and c["data_exists"] else ""),
                    expected="both `data/` and `.git` listed in .dockerignore",
                    fix="printf '" + "".join(m + "\\n" for m in missing) + "' >> .dockerignore",
                    evidence=evidence, more=more)
    return ok(f"The build context is {_mb(c['size'])} (without .dockerignore it would be {_mb(c['total'])}).", evidence,
              note=more)


@EXERCISE.check("cache", "After editing app.py, a rebuild reuses the install layer", requires=("exists",))
def cache(ctx):
    folder = _folder(ctx)
    if folder is None:
        return _no_folder()
    if not (folder / "Dockerfile").is_file():
        return fail(found="no Dockerfile to build", expected="the exercise's Dockerfile",
                    fix="git checkout exercises/build-cache/Dockerfile", evidence={"path": str(folder / "Dockerfile")})
    trial = _trial_builds(ctx, folder)
    if trial.get("error"):
        if trial.get("learner"):
            return fail(found=f"the folder does not build: {trial['error']}", expected="a Dockerfile that builds",
                        fix=_build(ctx) + "   (read the error it prints)", evidence={"build output (tail)": trial.get("tail", "")})
        return error(f"The trial build could not run: {trial['error']}.")
    step = trial["install_step"]
    evidence = {"trial build 2 step": f"Step {step['no']}: {step['instruction']}",
                "trial build 2 said": step["said"], "install layer (build 1)": trial["layer1"],
                "install layer (build 2)": trial["layer2"], "seconds": trial["seconds"]}
    if step["cached"] and trial["layer1"] == trial["layer2"]:
        return ok(f"After editing {SOURCE}, the rebuild said \u201cUsing cache\u201d for `{step['instruction'][:60]}` "
                  f"(same layer {trial['layer1']}).", evidence)
    return fail(found=f"after editing {SOURCE}, the rebuild ran `{step['instruction'][:60]}` again (no cache)",
                expected="\u201cUsing cache\u201d for the install step: only the steps after `COPY . .` should run again",
                fix="COPY requirements.txt ./ and COPY wheels/ wheels/, then RUN pip install ..., and only then COPY . .",
                evidence=evidence)


_STEP = re.compile(r"^Step (\d+)/\d+ : (.*)$")
_LAYER = re.compile(r"^ ---> ([0-9a-f]{12})\s*$")


def _parse_steps(lines: list[str]) -> list[dict]:
    steps: list[dict] = []
    for line in lines:
        m = _STEP.match(line)
        if m:
            steps.append({"no": int(m.group(1)), "instruction": m.group(2), "cached": False, "layer": None, "said": ""})
            continue
        if not steps:
            continue
        if "Using cache" in line:
            steps[-1]["cached"] = True
            steps[-1]["said"] = "---> Using cache"
        elif line.startswith(" ---> Running in"):
            steps[-1]["said"] = steps[-1]["said"] or line.strip()
        lm = _LAYER.match(line)
        if lm:
            steps[-1]["layer"] = lm.group(1)
    return steps


def _copy_context(folder: Path, dest: Path) -> None:
    """Copy what the builder would be sent (``.dockerignore`` applied) to ``dest``."""
    from docker.utils.build import exclude_paths

    ignore = folder / ".dockerignore"
    patterns = []
    if ignore.is_file():
        patterns = [ln.strip() for ln in ignore.read_text(errors="replace").splitlines()]
        patterns = [p for p in patterns if p and not p.startswith("#")]
    for rel in sorted(exclude_paths(str(folder), patterns, dockerfile="Dockerfile")):
        src = folder / rel
        if src.is_dir() and not src.is_symlink():
            (dest / rel).mkdir(parents=True, exist_ok=True)
        elif src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


_LEARNER_BUILD_ERRORS = ("returned a non-zero code", "copy failed", "add failed", "parse error", "unknown instruction",
                         "failed to process", "no such file or directory", "pull access denied", "manifest unknown",
                         "not found", "no such image", "invalid reference format", "cannot be empty")


def _learners(err: str) -> bool:
    """Is a build error about the Dockerfile or the folder (not the engine)?"""
    return any(k in err.lower() for k in _LEARNER_BUILD_ERRORS)


def _one_build(ctx, path: str, tag: str) -> tuple[list[str], str | None]:
    api = ctx._deadline_client(BUILD_TIMEOUT)
    labels = course_labels("trial", run=ctx.run_id, exercise=EXERCISE.id)
    lines: list[str] = []
    err = None
    for chunk in api.build(path=path, tag=tag, rm=True, forcerm=True, labels=labels, decode=True, pull=False,
                           container_limits=ctx.build_limits()):
        if "stream" in chunk:
            lines.extend(chunk["stream"].splitlines())
        if "error" in chunk:
            err = str(chunk["error"]).strip()
    return lines, err


def _trial_builds(ctx, folder: Path) -> dict:
    from docker.errors import APIError, NotFound

    api = ctx.api
    tags = [f"dockercourse-trial-{ctx.run_id}:a", f"dockercourse-trial-{ctx.run_id}:b"]
    before = {i["Id"] for i in api.images(all=True)}
    t0 = time.monotonic()
    out: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="dockercourse-build-cache-"))
    try:
        _copy_context(folder, tmp)
        lines1, err = _one_build(ctx, str(tmp), tags[0])
        if err:
            return {"error": err, "learner": _learners(err), "tail": "\n".join(lines1[-8:])}
        src = tmp / SOURCE
        if not src.is_file():
            return {"error": f"{SOURCE} is missing from the build context", "learner": True}
        src.write_text(src.read_text() + f"\n# edited by the build-cache check ({ctx.run_id})\n")
        lines2, err = _one_build(ctx, str(tmp), tags[1])
        if err:
            return {"error": err, "learner": _learners(err), "tail": "\n".join(lines2[-8:])}
        s1 = [s for s in _parse_steps(lines1) if s["instruction"].upper().startswith("RUN") and _INSTALL.search(s["instruction"])]
        s2 = [s for s in _parse_steps(lines2) if s["instruction"].upper().startswith("RUN") and _INSTALL.search(s["instruction"])]
        if not s1 or not s2:
            return {"error": "no `RUN pip install` step in the build", "learner": True, "tail": "\n".join(lines2[-8:])}
        out = {"install_step": s2[0], "layer1": s1[0]["layer"], "layer2": s2[0]["layer"],
               "seconds": round(time.monotonic() - t0, 1)}
        return out
    except APIError as exc:
        return {"error": f"the engine answered {exc.status_code}: {exc.explanation or exc}"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_trial_images(api, tags, before, NotFound, APIError)


def _remove_trial_images(api, tags, before: set, NotFound, APIError) -> None:
    """Remove the trial tags and exactly the images the trial builds created (walking up ``Parent``).

    Retried a few times: a busy engine may refuse a removal at the first attempt."""
    import requests

    ours: dict[str, str] = {}
    for tag in tags:
        try:
            iid = api.inspect_image(tag)["Id"]
        except (NotFound, APIError, requests.exceptions.RequestException):
            continue
        while iid and iid not in before and iid not in ours:
            try:
                info = api.inspect_image(iid)
            except (NotFound, APIError, requests.exceptions.RequestException):
                break
            ours[iid] = info.get("Created", "")
            iid = info.get("Parent") or None
    pending = list(tags) + sorted(ours, key=lambda i: ours[i], reverse=True)  # tags, then children before parents
    for attempt in range(5):
        left = []
        for ref in pending:
            try:
                api.remove_image(ref, noprune=True)
            except NotFound:
                pass
            except (APIError, requests.exceptions.RequestException):
                left.append(ref)
        if not left:
            return
        pending = left
        time.sleep(0.3 * (attempt + 1))


@EXERCISE.advisor
def lint(ctx):
    folder = _folder(ctx)
    return hadolint_advice(folder / "Dockerfile") if folder else []
