"""Taking in a class's submissions safely.

Each student hands in a folder, a zip, a tar (``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``)
or a git repository (a folder with ``.git``, a bare ``NAME.git`` folder, or a ``NAME.bundle``), holding
exercise folders named by id. Every one is copied into a private workspace the grader owns:

- no path may leave the workspace (absolute paths, ``..``, drive letters are skipped);
- nothing is ever written through a symlink; a symlink is kept only if it resolves inside the
  workspace (checked again on the finished tree with ``realpath``), otherwise it is dropped;
- only regular files, folders and (inside) symlinks are created: no devices, fifos, sockets;
  hard links are copied only when their target is inside; set-uid/set-gid bits are cleared;
- caps on the total size (counted on the bytes really written, so a zip bomb stops at the cap),
  the number of entries and the size of one file.

What was skipped is reported (``Intake.skipped``) and shown in the student's feedback.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
GIT_SUFFIXES = (".git", ".bundle")


class IntakeError(Exception):
    """The submission cannot be taken in at all (unreadable archive, over a cap ...)."""


@dataclass(frozen=True)
class Caps:
    max_bytes: int = 200 * 1024 * 1024
    max_files: int = 20000
    max_file_bytes: int = 100 * 1024 * 1024


@dataclass
class Submission:
    student: str  # a safe id: lowercase letters, digits, '-'; used in object names
    name: str  # as handed in (folder or file name)
    path: Path
    kind: str  # dir | zip | tar | git


@dataclass
class Intake:
    root: Path  # the folder that holds the exercise folders
    skipped: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    def to_dict(self) -> dict:
        return {"skipped": list(self.skipped[:50]), "skipped_count": len(self.skipped), "files": self.files,
                "bytes": self.bytes}


# ---------------------------------------------------------------- finding submissions
def student_id(name: str) -> str:
    """``"Bob Smith.zip"`` -> ``"bob-smith"``: safe inside container, image and project names."""
    base = name
    for suf in sorted(ARCHIVE_SUFFIXES + GIT_SUFFIXES, key=len, reverse=True):
        if base.lower().endswith(suf):
            base = base[: -len(suf)]
            break
    sid = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:24].strip("-")
    return sid or "student"


def kind_of(path: Path) -> str | None:
    low = path.name.lower()
    if path.is_dir():
        if low.endswith(".git") or (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir()):
            return "git"
        return "dir"
    if path.is_file():
        if low.endswith(".bundle"):
            return "git"
        if low.endswith(".zip"):
            return "zip"
        if any(low.endswith(s) for s in ARCHIVE_SUFFIXES):
            return "tar"
    return None


def find_submissions(root: Path) -> list[Submission]:
    """One :class:`Submission` per entry of ``root`` (hidden entries and other files are ignored)."""
    root = Path(root)
    if not root.is_dir():
        raise IntakeError(f"{root} is not a folder of submissions")
    subs: list[Submission] = []
    seen: dict[str, int] = {}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        kind = kind_of(entry)
        if kind is None:
            continue
        sid = student_id(entry.name)
        if sid in seen:
            seen[sid] += 1
            sid = f"{sid[:21]}-{seen[sid]}"
        seen.setdefault(sid, 1)
        subs.append(Submission(sid, entry.name, entry, kind))
    return subs


# ---------------------------------------------------------------- the safe writer
class _Writer:
    """Creates entries under ``root`` and refuses anything that would land outside it."""

    def __init__(self, root: Path, caps: Caps):
        self.root = Path(os.path.realpath(root))
        self.caps = caps
        self.skipped: list[str] = []
        self.files = 0
        self.bytes = 0

    def skip(self, name: str, why: str) -> None:
        self.skipped.append(f"{name}: {why}")

    def target(self, name: str) -> Path | None:
        """The path inside the workspace for archive member ``name``, or None (and a note) if unsafe."""
        raw = name.replace("\\", "/")
        if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
            self.skip(name, "absolute path")
            return None
        parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
        if not parts:
            return None
        if any(p == ".." for p in parts):
            self.skip(name, "path climbs out with '..'")
            return None
        if any("\x00" in p for p in parts):
            self.skip(name, "NUL in name")
            return None
        dest = self.root.joinpath(*parts)
        # Never write through a symlink: every existing parent must be a real folder.
        cur = self.root
        for p in parts[:-1]:
            cur = cur / p
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                break
            if not stat.S_ISDIR(st.st_mode):
                self.skip(name, f"a parent ({cur.relative_to(self.root)}) is not a folder (symlink?)")
                return None
        try:
            st = os.lstat(dest)
            if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
                self.skip(name, "already exists")
                return None
        except FileNotFoundError:
            pass
        return dest

    def _count(self, name: str) -> None:
        self.files += 1
        if self.files > self.caps.max_files:
            raise IntakeError(f"more than {self.caps.max_files} entries (cap)")

    def mkdir(self, name: str) -> None:
        dest = self.target(name)
        if dest is None:
            return
        self._count(name)
        self._mkparents(dest)
        dest.mkdir(exist_ok=True)

    def _mkparents(self, dest: Path) -> None:
        cur = self.root
        for p in dest.relative_to(self.root).parts[:-1]:
            cur = cur / p
            if not cur.exists():
                cur.mkdir()

    def file(self, name: str, src, mode: int = 0o644) -> bool:
        """Copy the stream ``src`` to member ``name``, counting real bytes against the caps."""
        dest = self.target(name)
        if dest is None:
            return False
        if dest.is_dir():
            self.skip(name, "a folder of that name exists")
            return False
        self._count(name)
        self._mkparents(dest)
        written = 0
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = src.read(1 << 16)
                if not chunk:
                    break
                written += len(chunk)
                if written > self.caps.max_file_bytes:
                    out.close()
                    dest.unlink()
                    raise IntakeError(f"{name} is larger than {self.caps.max_file_bytes // (1024 * 1024)} MB (cap)")
                if self.bytes + written > self.caps.max_bytes:
                    out.close()
                    dest.unlink()
                    raise IntakeError(f"the submission is larger than {self.caps.max_bytes // (1024 * 1024)} MB (cap)")
                out.write(chunk)
        self.bytes += written
        os.chmod(dest, 0o755 if mode & 0o111 else 0o644)
        return True

    def symlink(self, name: str, link_target: str) -> None:
        dest = self.target(name)
        if dest is None:
            return
        if not self._inside(dest, link_target):
            self.skip(name, f"symlink to {link_target!r} points outside the workspace")
            return
        self._count(name)
        self._mkparents(dest)
        os.symlink(link_target, dest)

    def _inside(self, dest: Path, link_target: str) -> bool:
        if not link_target or os.path.isabs(link_target) or "\x00" in link_target:
            return False
        resolved = os.path.normpath(os.path.join(str(dest.parent), link_target))
        return resolved == str(self.root) or resolved.startswith(str(self.root) + os.sep)

    def finish(self) -> None:
        """Re-check every symlink on the real tree (a chain of links can climb where one cannot)."""
        changed = True
        while changed:
            changed = False
            for dirpath, dirnames, filenames in os.walk(self.root):
                for n in dirnames + filenames:
                    p = os.path.join(dirpath, n)
                    if os.path.islink(p):
                        real = os.path.realpath(p)
                        if not (real == str(self.root) or real.startswith(str(self.root) + os.sep)):
                            os.unlink(p)
                            self.skip(os.path.relpath(p, self.root), "symlink resolves outside the workspace")
                            changed = True


# ---------------------------------------------------------------- the four kinds
def _from_dir(src: Path, w: _Writer) -> None:
    src = Path(src)
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        rel_dir = os.path.relpath(dirpath, src)
        for n in dirnames + sorted(filenames):
            p = os.path.join(dirpath, n)
            rel = n if rel_dir == "." else f"{rel_dir}/{n}"
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                w.symlink(rel, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                w.mkdir(rel)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as fh:
                    w.file(rel, fh, st.st_mode)
            else:
                w.skip(rel, "not a regular file, folder or symlink")
        # symlinked folders are not descended into (os.walk lists them in dirnames but does not follow)


def _from_zip(src: Path, w: _Writer) -> None:
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntakeError(f"not a readable zip file: {exc}") from None
    with zf:
        for info in zf.infolist():
            mode = (info.external_attr >> 16) & 0xFFFF
            if stat.S_ISLNK(mode):
                if info.file_size > 4096:
                    w.skip(info.filename, "symlink target too long")
                    continue
                w.symlink(info.filename.rstrip("/"), zf.read(info).decode("utf-8", "replace"))
            elif info.is_dir():
                w.mkdir(info.filename.rstrip("/"))
            elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # zips written by most tools carry no type bits
                w.skip(info.filename, "not a regular file, folder or symlink")
            else:
                try:
                    with zf.open(info) as fh:
                        w.file(info.filename, fh, mode)
                except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as exc:  # encrypted / corrupt
                    w.skip(info.filename, f"unreadable ({exc})")


def _from_tar(src: Path, w: _Writer) -> None:
    try:
        tf = tarfile.open(src)
    except (tarfile.TarError, OSError) as exc:
        raise IntakeError(f"not a readable tar archive: {exc}") from None
    with tf:
        regular: dict[str, tarfile.TarInfo] = {}
        for m in tf:  # streaming: members are read one by one, never all listed first
            if m.isdir():
                w.mkdir(m.name.rstrip("/"))
            elif m.isreg():
                fh = tf.extractfile(m)
                if fh is not None and w.file(m.name, fh, m.mode):
                    regular[os.path.normpath(m.name)] = m
            elif m.issym():
                w.symlink(m.name, m.linkname)
            elif m.islnk():
                # A hard link is copied from the member it names, only if that member is inside.
                target = os.path.normpath(m.linkname)
                if target in regular:
                    fh = tf.extractfile(regular[target])
                    if fh is not None:
                        w.file(m.name, fh, regular[target].mode)
                        continue
                w.skip(m.name, f"hard link to {m.linkname!r} outside the archive's files")
            else:
                w.skip(m.name, "device, fifo or other special file")


def _from_git(src: Path, w: _Writer, timeout: float = 60) -> None:
    """Clone the committed tree (not the working copy) with symlinks checked out as plain files."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dcgrade-git-") as tmp:
        clone = Path(tmp) / "clone"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "GIT_TERMINAL_PROMPT": "0",
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LANG": "C"}
        url = str(src.resolve())
        cmd = ["git", "-c", "core.symlinks=false", "-c", "core.hooksPath=/dev/null", "-c", "protocol.file.allow=always",
               "-c", "core.fsmonitor=false", "clone", "--quiet", "--no-hardlinks", "--depth", "1",
               "--config", "core.symlinks=false", "--no-recurse-submodules", "--",
               url if src.name.endswith(".bundle") else f"file://{url}", str(clone)]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise IntakeError(f"cloning the git repository took longer than {timeout:.0f}s") from None
        except FileNotFoundError:
            raise IntakeError("git is not installed: cannot take in a git repository") from None
        if proc.returncode != 0:
            raise IntakeError(f"not a usable git repository: {proc.stderr.strip().splitlines()[-1:] or ['?']}")
        _from_dir(clone, w)


def unpack(sub: Submission, dest: Path, caps: Caps = Caps()) -> Intake:
    """Copy or unpack ``sub`` into the fresh folder ``dest`` (created) and find its exercise folders."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    w = _Writer(dest, caps)
    try:
        if sub.kind == "dir":
            _from_dir(sub.path, w)
        elif sub.kind == "zip":
            _from_zip(sub.path, w)
        elif sub.kind == "tar":
            _from_tar(sub.path, w)
        elif sub.kind == "git":
            _from_git(sub.path, w)
        else:  # pragma: no cover
            raise IntakeError(f"unknown submission kind {sub.kind}")
    except IntakeError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    w.finish()
    return Intake(content_root(dest), w.skipped, w.files, w.bytes)


def content_root(dest: Path, known: tuple[str, ...] | None = None) -> Path:
    """Archives often wrap everything in one folder (``alice/first-image/...``): step into it."""
    if known is None:
        from ..exercises import EXERCISE_IDS

        known = tuple(EXERCISE_IDS)
    cur = Path(dest)
    for _ in range(3):
        entries = [e for e in cur.iterdir() if not e.name.startswith((".", "__MACOSX"))]
        if any(e.name in known for e in entries):
            return cur
        dirs = [e for e in entries if e.is_dir() and not e.is_symlink()]
        if len(dirs) == 1 and len(entries) == 1:
            cur = dirs[0]
            continue
        return cur
    return cur


def inside(path, root) -> bool:
    """Is ``path`` (resolved through every symlink) inside ``root``?"""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base + os.sep)
