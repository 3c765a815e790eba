"""Root file systems from Debian packages, for the offline stand-in images.

- :func:`ensure_base` runs ``debootstrap --variant=minbase`` once and keeps the result as a
  tarball in the cache directory (``~/.cache/dockercourse/imagekit/``).
- :class:`Chroot` unpacks a copy of it, installs packages with ``apt-get`` inside a chroot (with a
  ``policy-rc.d`` that forbids starting services), runs a stand-in's scripts, cleans up and packs the
  result as ``rootfs.tar`` for a ``FROM scratch`` / ``ADD rootfs.tar /`` build.

The Debian mirror is never written down here: it is read at run time from the host's apt sources
(deb822 ``*.sources`` or one-line ``*.list``), or from ``DOCKERCOURSE_DEBIAN_MIRROR`` /
``DOCKERCOURSE_DEBIAN_SECURITY_MIRROR``. The host's apt proxy and release-validity settings are copied
into the chroot while it builds (the validity settings, which name no host, stay in the image).
Everything here needs root.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SUITE = "bookworm"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
STANDINS = Path(__file__).resolve().parent / "standins"
COMMON = STANDINS / "_common"
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APT_OPTS = ["-q", "-y", "-o", "APT::Install-Recommends=false", "-o", "APT::Install-Suggests=false",
            "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
            "-o", "Dpkg::Use-Pty=0"]
PROXY_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
_APT_BUILD_KEYS = re.compile(r"^(Acquire::(https?|ftp)::Proxy|Acquire::Check-Valid-Until|Acquire::Check-Date"
                             r"|Acquire::Max-FutureTime)\b")
_APT_KEEP_KEYS = re.compile(r"^(Acquire::Check-Valid-Until|Acquire::Check-Date|Acquire::Max-FutureTime)\b")


class BuildError(Exception):
    """A step of a root file system build failed; ``str()`` says which, ``log`` has the details."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(message)
        self.log = log


# --------------------------------------------------------------------------- the host's apt setup

@dataclass
class AptSource:
    types: list[str]
    uris: list[str]
    suites: list[str]
    components: list[str]
    options: dict[str, str] = field(default_factory=dict)


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas, cur, key = [], {}, None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if cur:
                stanzas.append(cur)
            cur, key = {}, None
            continue
        if raw[0] in " \t" and key:
            cur[key] += "\n" + raw.strip()
            continue
        if ":" in raw:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            cur[key] = value.strip()
    if cur:
        stanzas.append(cur)
    return stanzas


def host_apt_sources(root: Path = Path("/")) -> list[AptSource]:
    """Every enabled ``deb`` source the host's apt knows (deb822 and one-line formats)."""
    found: list[AptSource] = []
    apt = root / "etc/apt"
    files = sorted((apt / "sources.list.d").glob("*.sources")) if (apt / "sources.list.d").is_dir() else []
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        for st in _deb822_stanzas(text):
            if st.get("enabled", "yes").lower() in ("no", "false", "0"):
                continue
            found.append(AptSource(st.get("types", "").split(), st.get("uris", "").split(),
                                   st.get("suites", "").split(), st.get("components", "").split(),
                                   {k: v for k, v in st.items() if k not in ("types", "uris", "suites", "components")}))
    lists = [apt / "sources.list"]
    if (apt / "sources.list.d").is_dir():
        lists += sorted((apt / "sources.list.d").glob("*.list"))
    for f in lists:
        try:
            lines = f.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.match(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
            if not m:
                continue
            opts = dict(o.split("=", 1) for o in (m.group(2) or "").split() if "=" in o)
            found.append(AptSource([m.group(1)], [m.group(3)], [m.group(4)], m.group(5).split(), opts))
    return found


def debian_mirrors() -> tuple[str, str | None]:
    """(main mirror URL, security mirror URL or None), from the environment or the host's apt sources."""
    env_main = os.environ.get("DOCKERCOURSE_DEBIAN_MIRROR")
    env_sec = os.environ.get("DOCKERCOURSE_DEBIAN_SECURITY_MIRROR")
    if env_main:
        return env_main.rstrip("/"), (env_sec.rstrip("/") if env_sec else None)
    sources = [s for s in host_apt_sources() if "deb" in s.types and "main" in s.components]
    if not _host_is_debian():
        raise BuildError("this host is not Debian, so its apt sources are no Debian mirror; set "
                         "DOCKERCOURSE_DEBIAN_MIRROR to a Debian mirror URL (and optionally "
                         "DOCKERCOURSE_DEBIAN_SECURITY_MIRROR) and try again")
    main = sec = None
    for want in (lambda s: s == SUITE, lambda s: re.fullmatch(r"[a-z]+", s) is not None):
        for src in sources:
            if any(want(s) for s in src.suites) and src.uris:
                main = src.uris[0].rstrip("/")
                break
        if main:
            break
    for src in sources:
        if any(s.endswith("-security") or s.endswith("/updates") for s in src.suites) and src.uris:
            sec = src.uris[0].rstrip("/")
            break
    if not main:
        raise BuildError("found no Debian mirror in the host's apt sources (/etc/apt/sources.list.d/*.sources, "
                         "/etc/apt/sources.list); set DOCKERCOURSE_DEBIAN_MIRROR to a Debian mirror URL")
    return main, sec


def _host_is_debian() -> bool:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    ids = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return ids.get("ID", "").strip('"') == "debian"


def host_apt_settings() -> tuple[list[str], list[str]]:
    """(lines for the chroot while building, lines to keep in the image) from the host's apt config.

    Proxies (which may name a host) are only used while building; release-validity settings
    (``Acquire::Check-Valid-Until`` and friends) are also kept in the image so that ``apt-get update``
    in a container behaves as on the host.
    """
    try:
        out = subprocess.run(["apt-config", "dump"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return [], []
    build = [line for line in out.splitlines() if _APT_BUILD_KEYS.match(line)]
    keep = [line for line in build if _APT_KEEP_KEYS.match(line)]
    return build, keep


def _apt_proxy_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in PROXY_ENV if os.environ.get(k)}
    if "http_proxy" not in env:
        try:
            out = subprocess.run(["apt-config", "shell", "P", "Acquire::http::Proxy"], capture_output=True, text=True,
                                 timeout=30).stdout
            m = re.search(r"P='([^']+)'", out)
            if m and m.group(1).upper() != "DIRECT":
                env["http_proxy"] = m.group(1)
        except (OSError, subprocess.SubprocessError):
            pass
    return env


def sources_deb822(main: str, security: str | None) -> str:
    text = (f"Types: deb\nURIs: {main}\nSuites: {SUITE} {SUITE}-updates\nComponents: main\n"
            f"Signed-By: {KEYRING}\n")
    if security:
        text += f"\nTypes: deb\nURIs: {security}\nSuites: {SUITE}-security\nComponents: main\nSigned-By: {KEYRING}\n"
    return text


def dpkg_arch() -> str:
    try:
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


# --------------------------------------------------------------------------- running things

def run_logged(cmd: list[str], log: Path, what: str, env: dict | None = None, timeout: float = 1200,
               input_text: str | None = None, cwd: Path | None = None) -> str:
    """Run ``cmd``, append its output to ``log``; raise BuildError("<what> failed ...") on failure."""
    with open(log, "a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                  timeout=timeout, input=input_text, errors="replace", cwd=cwd)
        except subprocess.TimeoutExpired:
            fh.write(f"(timed out after {timeout:.0f} s)\n")
            raise BuildError(f"{what} did not finish within {timeout:.0f} s", log) from None
        except OSError as exc:
            raise BuildError(f"{what} could not start: {exc}", log) from None
        fh.write(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{tail}", log)
    return proc.stdout


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    out = []
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            mnt = line.split()[1].encode().decode("unicode_escape")
            if mnt == prefix or mnt.startswith(prefix + "/"):
                out.append(mnt)
    except OSError:
        pass
    return sorted(out, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Unmount anything still mounted below ``path``, then delete it (never crossing file systems)."""
    if not path.exists():
        return
    for mnt in _mounts_under(path):
        subprocess.run(["umount", mnt], capture_output=True)
        if mnt in _mounts_under(path):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
    if _mounts_under(path):
        raise BuildError(f"could not unmount everything below {path}; remove it by hand after `umount`")
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], capture_output=True)


def pack(root: Path, tar_path: Path, log: Path) -> None:
    """``root`` as a tarball for ``ADD``; /dev, /proc, /sys, /run stay empty (the engine fills them)."""
    run_logged(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(tar_path),
                "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./run/*", "."],
               log, "packing the root file system")


# --------------------------------------------------------------------------- the base

def base_tarball(cache: Path) -> Path:
    return cache / f"debian-{SUITE}-minbase-{dpkg_arch()}.tar"


def ensure_base(cache: Path, log: Path, progress) -> Path:
    """The cached minbase tarball; debootstrap it first if it is not there (about a minute)."""
    tar_path = base_tarball(cache)
    if tar_path.exists():
        return tar_path
    if not shutil.which("debootstrap"):
        progress("  installing debootstrap (apt-get install debootstrap)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            run_logged(["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"], log,
                       "apt-get install debootstrap", env=env)
        except BuildError:
            run_logged(["apt-get", "update", "-q"], log, "apt-get update", env=env)
            run_logged(["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"], log,
                       "apt-get install debootstrap", env=env)
    main, security = debian_mirrors()
    work = Path(tempfile.mkdtemp(prefix="base-", dir=cache / "work"))
    root = work / "root"
    try:
        progress(f"  debootstrap --variant=minbase {SUITE} (once; cached as {tar_path})")
        cmd = ["debootstrap", "--variant=minbase", "--arch", dpkg_arch()]
        if KEYRING.exists():
            cmd.append(f"--keyring={KEYRING}")
        cmd += [SUITE, str(root), main]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C", **_apt_proxy_env())
        run_logged(cmd, log, "debootstrap", env=env, timeout=1800)
        # the stand-ins' common Debian setup, like Debian's own -slim images
        (root / "etc/apt/sources.list").unlink(missing_ok=True)
        (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/apt/sources.list.d/debian.sources").write_text(sources_deb822(main, security))
        shutil.copyfile(COMMON / "dpkg-nodoc.conf", root / "etc/dpkg/dpkg.cfg.d/docker-nodoc")
        shutil.copyfile(COMMON / "apt-docker.conf", root / "etc/apt/apt.conf.d/docker-clean")
        script = root / "tmp/dockercourse-cleanup.sh"
        shutil.copyfile(COMMON / "cleanup.sh", script)
        run_logged(["chroot", str(root), "/bin/sh", "/tmp/dockercourse-cleanup.sh"], log, "cleaning the base",
                   env=_chroot_env())
        tmp = tar_path.with_suffix(".tar.part")
        # the base keeps /dev's nodes (debootstrap made them): chroot builds need /dev/null
        run_logged(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(tmp),
                    "--exclude=./proc/*", "--exclude=./sys/*", "."], log, "packing the base")
        tmp.rename(tar_path)
    finally:
        remove_tree(work)
    return tar_path


def _chroot_env() -> dict[str, str]:
    env = {"PATH": CHROOT_PATH, "HOME": "/root", "LC_ALL": "C", "LANG": "C", "TERM": "dumb",
           "DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true",
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(_apt_proxy_env())
    return env


# --------------------------------------------------------------------------- one stand-in's root

class Chroot:
    """A fresh copy of the base, set up for ``apt-get`` in a chroot. Use as a context manager."""

    def __init__(self, base_tar: Path, cache: Path, log: Path):
        self.base_tar, self.cache, self.log = base_tar, cache, log
        self.work = Path(tempfile.mkdtemp(prefix="standin-", dir=cache / "work"))
        self.root = self.work / "root"
        self.env = _chroot_env()
        self._proc_mounted = False

    def __enter__(self) -> "Chroot":
        try:
            self.root.mkdir()
            run_logged(["tar", "--numeric-owner", "--xattrs", "-C", str(self.root), "-xpf", str(self.base_tar)],
                       self.log, "unpacking the base")
            build_lines, keep_lines = host_apt_settings()
            self.keep_apt_lines = keep_lines
            conf = self.root / "etc/apt/apt.conf.d/99dockercourse-build"
            conf.write_text("// only while the stand-in is built (removed by cleanup.sh)\n"
                            + "".join(line + "\n" for line in build_lines))
            policy = self.root / "usr/sbin/policy-rc.d"
            policy.write_text("#!/bin/sh\n# no service starts while an image is built\nexit 101\n")
            policy.chmod(0o755)
            resolv = self.root / "etc/resolv.conf"
            resolv.unlink(missing_ok=True)
            try:
                resolv.write_text(Path("/etc/resolv.conf").read_text())
            except OSError:
                resolv.write_text("")
            run_logged(["mount", "-t", "proc", "proc", str(self.root / "proc")], self.log, "mounting /proc")
            self._proc_mounted = True
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._proc_mounted:
            subprocess.run(["umount", str(self.root / "proc")], capture_output=True)
            self._proc_mounted = False
        remove_tree(self.work)

    def run(self, args: list[str], what: str, timeout: float = 1200) -> str:
        return run_logged(["chroot", str(self.root), *args], self.log, what, env=self.env, timeout=timeout)

    def apt_update(self) -> None:
        self.run(["apt-get", *APT_OPTS, "update"], "apt-get update (in the chroot)")

    def apt_install(self, packages: list[str]) -> None:
        self.run(["apt-get", *APT_OPTS, "install", *packages], f"apt-get install {' '.join(packages)}")

    def script(self, path: Path, what: str) -> None:
        dest = self.root / "tmp" / f"dockercourse-{path.name}"
        shutil.copyfile(path, dest)
        self.run(["/bin/sh", f"/tmp/{dest.name}"], what)
        dest.unlink(missing_ok=True)

    def versions(self, packages: list[str]) -> dict[str, str]:
        out = self.run(["dpkg-query", "-W", "-f=${Package}\t${Version}\n", *packages], "dpkg-query")
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def finish(self, tar_path: Path) -> None:
        """Clean up inside, unmount, pack as ``tar_path``."""
        if self.keep_apt_lines:
            (self.root / "etc/apt/apt.conf.d/99dockercourse").write_text(
                "// copied from the build host's apt configuration\n"
                + "".join(line + "\n" for line in self.keep_apt_lines))
        self.script(COMMON / "cleanup.sh", "cleaning up")
        subprocess.run(["umount", str(self.root / "proc")], capture_output=True)
        self._proc_mounted = False
        pack(self.root, tar_path, self.log)


def extract_deb_file(deb: Path, member: str, dest: Path, log: Path) -> None:
    """Copy one file (``member``, e.g. ``bin/busybox``) out of a .deb without installing it."""
    with tempfile.TemporaryDirectory() as tmp:
        run_logged(["dpkg-deb", "-x", str(deb), tmp], log, f"unpacking {deb.name}")
        shutil.copy2(Path(tmp) / member, dest)
