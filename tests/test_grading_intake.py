"""Grading intake: folders, zips, tars and git repos are taken in without anything escaping the workspace."""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from checkers.grading.workspace import Caps, IntakeError, Submission, find_submissions, student_id, unpack


@pytest.fixture
def outside(tmp_path):
    """A folder next to the workspace with a sentinel file that must never change."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "sentinel.txt").write_text("untouched\n")
    return d


def assert_untouched(outside: Path):
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel.txt"]
    assert (outside / "sentinel.txt").read_text() == "untouched\n"


def tree(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            rel = str(p.relative_to(root))
            out[rel] = ("link", os.readlink(p)) if p.is_symlink() else ("dir",) if p.is_dir() else ("file", p.read_bytes())
    return out


def sub(path: Path, kind: str) -> Submission:
    return Submission(student_id(path.name), path.name, path, kind)


def test_student_ids_are_safe_and_unique(tmp_path):
    for name in ("Bob Smith.zip", "bob_smith", "ALICE.tar.gz", "carol.git", ".hidden", "notes.txt"):
        p = tmp_path / name
        if name.endswith((".zip", ".tar.gz", ".txt")):
            p.write_bytes(b"")
        else:
            p.mkdir()
    subs = find_submissions(tmp_path)
    assert [s.student for s in subs] == ["alice", "bob-smith", "bob-smith-2", "carol"]
    assert {s.name: s.kind for s in subs} == {"ALICE.tar.gz": "tar", "Bob Smith.zip": "zip", "bob_smith": "dir",
                                              "carol.git": "git"}
    assert student_id("../../Evil; rm -rf /") == "evil-rm-rf"


def test_folder_symlinks_out_are_dropped(tmp_path, outside):
    src = tmp_path / "alice"
    (src / "first-image").mkdir(parents=True)
    (src / "first-image" / "Dockerfile").write_text("FROM busybox:1.35\n")
    os.symlink("/etc", src / "first-image" / "etc-link")
    os.symlink("../../outside/sentinel.txt", src / "first-image" / "up-link")
    os.symlink("Dockerfile", src / "first-image" / "ok-link")
    os.symlink(".", src / "first-image" / "loop")
    os.mkfifo(src / "first-image" / "fifo")
    res = unpack(sub(src, "dir"), tmp_path / "ws" / "alice")
    got = tree(res.root)
    assert got["first-image/Dockerfile"] == ("file", b"FROM busybox:1.35\n")
    assert got["first-image/ok-link"] == ("link", "Dockerfile") and got["first-image/loop"] == ("link", ".")
    assert "first-image/etc-link" not in got and "first-image/up-link" not in got and "first-image/fifo" not in got
    assert any("points outside" in s for s in res.skipped) and any("not a regular file" in s for s in res.skipped)
    assert_untouched(outside)


def test_zip_paths_climbing_out_are_refused(tmp_path, outside):
    z = tmp_path / "bob.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("bob/compose-stack/compose.yaml", "services: {}\n")
        zf.writestr("../../outside/evil.txt", "escaped")
        zf.writestr("/tmp/absolute-evil.txt", "escaped")
        zf.writestr("bob/compose-stack/../../../outside/sentinel.txt", "overwritten")
        link = zipfile.ZipInfo("bob/compose-stack/link")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "../../../outside")
    res = unpack(sub(z, "zip"), tmp_path / "ws" / "bob")
    assert res.root.name == "bob"  # the wrapper folder was stepped into
    assert tree(res.root) == {"compose-stack": ("dir",), "compose-stack/compose.yaml": ("file", b"services: {}\n")}
    reasons = " | ".join(res.skipped)
    assert "climbs out" in reasons and "absolute path" in reasons and "points outside" in reasons
    assert not Path("/tmp/absolute-evil.txt").exists()
    assert_untouched(outside)


def test_tar_links_and_devices_are_refused(tmp_path, outside):
    t = tmp_path / "carol.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        def add(name, data=b"x", **kw):
            info = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(info, k, v)
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tf.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
        add("first-image/Dockerfile", b"FROM busybox:1.35\n", mode=0o4755)
        add("first-image/out", type=tarfile.SYMTYPE, linkname=str(outside))
        add("first-image/sub/keep.txt", b"kept")
        add("first-image/in", type=tarfile.SYMTYPE, linkname="sub")  # a link inside: kept
        add("first-image/in/evil.txt", b"through the link")  # written through a symlink: refused
        add("first-image/passwd", type=tarfile.LNKTYPE, linkname="/etc/passwd")
        add("first-image/copy", type=tarfile.LNKTYPE, linkname="first-image/Dockerfile")
        add("first-image/dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        add("../outside/evil2.txt", b"escaped")
    res = unpack(sub(t, "tar"), tmp_path / "ws" / "carol")
    got = tree(res.root)
    assert got == {"first-image": ("dir",), "first-image/Dockerfile": ("file", b"FROM busybox:1.35\n"),
                   "first-image/copy": ("file", b"FROM busybox:1.35\n"), "first-image/sub": ("dir",),
                   "first-image/sub/keep.txt": ("file", b"kept"), "first-image/in": ("link", "sub")}
    assert not os.stat(res.root / "first-image" / "Dockerfile").st_mode & 0o4000  # set-uid cleared
    reasons = " | ".join(res.skipped)
    for why in ("points outside", "not a folder", "hard link", "special file", "climbs out"):
        assert why in reasons
    assert_untouched(outside)


def test_caps_stop_a_zip_bomb_and_too_many_files(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("first-image/zeros", b"\0" * (8 * 1024 * 1024))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(IntakeError, match="larger than"):
        unpack(sub(bomb, "zip"), tmp_path / "ws1", Caps(max_bytes=2 * 1024 * 1024))
    assert not (tmp_path / "ws1").exists()  # nothing half-unpacked stays
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(30):
            zf.writestr(f"first-image/f{i}", "x")
    with pytest.raises(IntakeError, match="entries"):
        unpack(sub(many, "zip"), tmp_path / "ws2", Caps(max_files=10))


def test_symlink_chains_cannot_climb(tmp_path, outside):
    """`a -> .` then `a/a/../..`: fine on paper, outside in reality. The final realpath pass removes it."""
    src = tmp_path / "dave"
    (src / "x").mkdir(parents=True)
    os.symlink(".", src / "x" / "a")
    os.symlink("a/a/../../..", src / "x" / "climb")
    res = unpack(sub(src, "dir"), tmp_path / "ws" / "dave")
    assert not (res.root / "x" / "climb").exists() and not (res.root / "x" / "climb").is_symlink()
    assert any("outside" in s for s in res.skipped)
    assert_untouched(outside)


def test_git_repo_gives_the_committed_tree_with_links_as_plain_files(tmp_path, outside):
    repo = tmp_path / "erin"
    (repo / "first-image").mkdir(parents=True)
    (repo / "first-image" / "Dockerfile").write_text("FROM busybox:1.35\n")
    os.symlink(str(outside / "sentinel.txt"), repo / "first-image" / "secret")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "work"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
    (repo / "first-image" / "uncommitted.txt").write_text("not handed in")
    res = unpack(sub(repo, "git"), tmp_path / "ws" / "erin")
    got = tree(res.root)
    assert got["first-image/Dockerfile"] == ("file", b"FROM busybox:1.35\n")
    assert got["first-image/secret"] == ("file", str(outside / "sentinel.txt").encode())  # the link's text, not the file
    assert "first-image/uncommitted.txt" not in got and ".git" not in got
    assert_untouched(outside)
