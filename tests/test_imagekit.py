"""The offline image kit: status/prepare, and every course image doing its job for real.

The images must have been prepared first (`dockercourse images prepare`, or
`python -m checkers.imagekit prepare` as root); tests skip with that advice if any is missing.
Every object made here carries org.dockercourse.managed=true + org.dockercourse.purpose=test, is
named with the test's prefix and is removed in a finally block. Traffic goes only to ports published
on 127.0.0.1 or, from inside our own containers, to our own containers.
"""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from checkers.imagekit import COURSE_IMAGES, ImageKitError, image_source, prepare, status

from .helpers import free_port

LABELS = {"org.dockercourse.managed": "true", "org.dockercourse.purpose": "test"}


# --------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def prepared(client):
    rows = status(client)
    missing = [r["image"] for r in rows if r["source"] == "missing"]
    if missing:
        pytest.skip(f"course images not prepared ({', '.join(missing)} missing): run "
                    f"`sudo dockercourse images prepare` (or `sudo python3 -m checkers.imagekit prepare`) first")
    return {r["image"]: r for r in rows}


@contextmanager
def container(client, image, *, files: dict[str, bytes] | None = None, start: bool = True, **kwargs):
    """A labelled container (created, given ``files`` at absolute paths, started); always removed."""
    labels = dict(LABELS, **kwargs.pop("labels", {}))
    c = client.containers.create(image, labels=labels, **kwargs)
    try:
        if files:
            c.put_archive("/", _tar(files))
        if start:
            c.start()
        yield c
    finally:
        try:
            c.remove(force=True, v=True)
        except Exception:
            pass


@contextmanager
def network(client, name):
    net = client.networks.create(name, driver="bridge", labels=dict(LABELS))
    try:
        yield net
    finally:
        try:
            net.remove()
        except Exception:
            pass


@contextmanager
def volume(client, name):
    vol = client.volumes.create(name, labels=dict(LABELS))
    try:
        yield vol
    finally:
        try:
            vol.remove(force=True)
        except Exception:
            pass


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for path, data in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = 0o755 if path.endswith(".sh") else 0o644
            info.mtime = int(time.time())
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def run_to_end(c, timeout=60) -> tuple[int, str]:
    result = c.wait(timeout=timeout)
    return result.get("StatusCode", -1), c.logs().decode(errors="replace")


def logs(c) -> str:
    return c.logs().decode(errors="replace")


def wait_for_log(c, needle, timeout=30.0, after: str | None = None) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = logs(c)
        part = text.split(after, 1)[1] if after and after in text else ("" if after else text)
        if needle in part:
            return text
        c.reload()
        if c.status in ("exited", "dead"):
            raise AssertionError(f"{c.name} exited before logging {needle!r}:\n{text[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{c.name} did not log {needle!r} within {timeout:.0f} s:\n{text[-3000:]}")
        time.sleep(0.2)


def http_get(port: int, path: str = "/", timeout=15.0) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# --------------------------------------------------------------------------- the API

def test_course_images_are_the_pinned_six():
    assert COURSE_IMAGES == ["busybox:1.35", "python:3.11-slim", "nginx:1.22", "redis:7.0", "postgres:15",
                             "registry:2"]
    assert issubclass(ImageKitError, Exception)


def test_status_rows(client):
    rows = status(client)
    assert [r["image"] for r in rows] == COURSE_IMAGES
    for r in rows:
        assert set(r) == {"image", "source", "id", "size"}
        assert r["source"] in ("pulled", "stand-in", "missing")
        if r["source"] == "missing":
            assert r["id"] is None and r["size"] is None
        else:
            assert len(r["id"]) == 12 and int(r["id"], 16) >= 0
            assert r["size"] > 0


def test_image_source_of_an_absent_image_is_missing(client):
    assert image_source(client, "dockercourse-no-such-image:0") == "missing"


def test_warm_prepare_takes_seconds_and_changes_nothing(client, prepared):
    before = status(client)
    lines: list[str] = []
    rows = prepare(client, progress=lines.append)
    assert rows == before
    assert all("present" in line for line in lines), lines


def test_standins_carry_the_course_labels(client, prepared):
    standins = [ref for ref, r in prepared.items() if r["source"] == "stand-in"]
    if not standins:
        pytest.skip("every course image was pulled; no stand-ins here")
    for ref in standins:
        labels = client.images.get(ref).labels
        assert labels["org.dockercourse.standin"] == "true", ref
        # Labels are inherited by every image built FROM a stand-in and every container run from it,
        # so a stand-in must not carry the course's cleanup label: a learner's own `web` would inherit it.
        assert "org.dockercourse.managed" not in labels, ref
        assert labels["org.dockercourse.recipe"], ref
        assert labels["org.dockercourse.source"], ref
        desc = labels["org.opencontainers.image.description"]
        assert desc.startswith(f"Offline stand-in for {ref}, built from Debian packages: "), desc


# --------------------------------------------------------------------------- the images at work

def test_busybox_has_sh_httpd_wget_nc(client, prepared, prefix):
    script = (
        "set -e; for a in sh httpd wget nc ping sleep timeout id; do command -v $a >/dev/null || "
        "{ echo missing $a; exit 1; }; done; "
        "id -un; id -u nobody; stat -c %a /tmp; "
        "mkdir -p /tmp/www && echo hello-from-httpd > /tmp/www/index.html; "
        "httpd -p 127.0.0.1:8080 -h /tmp/www; "
        "wget -qO- http://127.0.0.1:8080/; "
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080 | sed 's/^/nc: /'"
    )
    with container(client, "busybox:1.35", name=f"{prefix}bb", command=["sh", "-c", script]) as c:
        code, out = run_to_end(c, timeout=30)
    assert code == 0, out
    lines = out.split()
    assert lines[:3] == ["root", "65534", "1777"], out
    assert "hello-from-httpd" in out and "nc: HTTP/1.1 200 OK" in out, out
    assert client.images.get("busybox:1.35").attrs["Config"]["Cmd"] == ["sh"]


def test_nginx_serves_on_a_published_port_and_logs_requests(client, prepared, prefix):
    port = free_port()
    with container(client, "nginx:1.22", name=f"{prefix}web", ports={"80/tcp": ("127.0.0.1", port)}) as c:
        code, body = http_get(port, "/")
        assert code == 200 and "Welcome to nginx!" in body
        code, _ = http_get(port, "/no-such-page")
        assert code == 404
        deadline = time.monotonic() + 5
        while '"GET /no-such-page HTTP/1.1" 404' not in logs(c) and time.monotonic() < deadline:
            time.sleep(0.1)
        text = logs(c)
        assert '"GET / HTTP/1.1" 200' in text, text
        assert '"GET /no-such-page HTTP/1.1" 404' in text, text
        rc, conf = c.exec_run(["cat", "/etc/nginx/conf.d/default.conf"])
        assert rc == 0 and b"root   /usr/share/nginx/html;" in conf
    cfg = client.images.get("nginx:1.22").attrs["Config"]
    assert cfg["Cmd"] == ["nginx", "-g", "daemon off;"] and "80/tcp" in cfg["ExposedPorts"]
    assert cfg.get("StopSignal") == "SIGQUIT"


@pytest.mark.slow
def test_redis_answers_by_name_on_a_user_defined_network(client, prepared, prefix):
    server = f"{prefix}redis"
    with ExitStack() as stack:
        net = stack.enter_context(network(client, f"{prefix}net"))
        data = stack.enter_context(volume(client, f"{prefix}redis-data"))
        # args starting with "-" go to redis-server, as with the official image
        stack.enter_context(container(client, "redis:7.0", name=server, network=net.name,
                                      command=["--appendonly", "yes"],
                                      volumes={data.name: {"bind": "/data", "mode": "rw"}}))
        ping = (f"for i in $(seq 50); do r=$(printf 'PING\\r\\nQUIT\\r\\n' | nc {server} 6379) && "
                f"case \"$r\" in *PONG*) echo \"$r\"; exit 0;; esac; sleep 0.2; done; exit 1")
        with container(client, "busybox:1.35", name=f"{prefix}bbcli", network=net.name,
                       command=["sh", "-c", ping]) as c:
            code, out = run_to_end(c, timeout=30)
        assert code == 0 and "+PONG" in out, out
        cli = (f"redis-cli -h {server} set course docker >/dev/null && redis-cli -h {server} get course && "
               f"redis-cli -h {server} config get appendonly && redis-cli -h {server} config get protected-mode")
        with container(client, "redis:7.0", name=f"{prefix}rcli", network=net.name, command=["sh", "-c", cli],
                       tmpfs={"/data": ""}) as c:
            code, out = run_to_end(c, timeout=30)
        assert code == 0, out
        assert out.split() == ["docker", "appendonly", "yes", "protected-mode", "no"], out


@pytest.mark.slow
def test_postgres_initialises_and_psql_connects_with_the_password(client, prepared, prefix):
    server = f"{prefix}db"
    init_sql = b"CREATE TABLE items (id int, name text);\nINSERT INTO items VALUES (1, 'a'), (2, 'b');\n"
    env = {"POSTGRES_PASSWORD": "s3cret", "POSTGRES_USER": "course", "POSTGRES_DB": "shop"}
    with ExitStack() as stack:
        net = stack.enter_context(network(client, f"{prefix}net"))
        data = stack.enter_context(volume(client, f"{prefix}pgdata"))
        db = stack.enter_context(container(
            client, "postgres:15", name=server, network=net.name, environment=env,
            volumes={data.name: {"bind": "/var/lib/postgresql/data", "mode": "rw"}},
            files={"/docker-entrypoint-initdb.d/01-items.sql": init_sql}))
        wait_for_log(db, "database system is ready to accept connections", timeout=40,
                     after="PostgreSQL init process complete; ready for start up.")
        rc, out = db.exec_run(["pg_isready"])
        assert rc == 0, out
        query = ["psql", "-h", server, "-U", "course", "-d", "shop", "-tAc", "SELECT count(*) FROM items"]
        with container(client, "postgres:15", name=f"{prefix}psql", network=net.name, command=query,
                       environment={"PGPASSWORD": "s3cret"}, tmpfs={"/var/lib/postgresql/data": ""}) as c:
            code, out = run_to_end(c, timeout=30)
        assert code == 0 and out.strip() == "2", out
        with container(client, "postgres:15", name=f"{prefix}psqlbad", network=net.name, command=query,
                       environment={"PGPASSWORD": "wrong"}, tmpfs={"/var/lib/postgresql/data": ""}) as c:
            code, out = run_to_end(c, timeout=30)
        assert code != 0 and "password authentication failed" in out, out


def test_postgres_without_a_password_explains_itself(client, prepared, prefix):
    with container(client, "postgres:15", name=f"{prefix}nopw", tmpfs={"/var/lib/postgresql/data": ""}) as c:
        code, out = run_to_end(c, timeout=30)
    assert code == 1
    assert "superuser password is not specified" in out and "POSTGRES_PASSWORD" in out, out


@pytest.mark.slow
def test_registry_takes_a_push_and_gives_it_back(client, prepared, prefix):
    port = free_port()
    repo = f"127.0.0.1:{port}/{prefix}bb"
    source = client.images.get("busybox:1.35")
    with ExitStack() as stack:
        data = stack.enter_context(volume(client, f"{prefix}regdata"))
        stack.enter_context(container(client, "registry:2", name=f"{prefix}registry",
                                      ports={"5000/tcp": ("127.0.0.1", port)},
                                      volumes={data.name: {"bind": "/var/lib/registry", "mode": "rw"}}))
        code, body = http_get(port, "/v2/")
        assert code == 200, body
        try:
            assert source.tag(repo, "test")
            errors = [x["error"] for x in client.images.push(repo, tag="test", stream=True, decode=True)
                      if "error" in x]
            assert not errors, errors
            code, body = http_get(port, "/v2/_catalog")
            assert f"{prefix}bb" in body, body
            client.images.remove(f"{repo}:test")
            pulled = client.images.pull(repo, tag="test")
            assert pulled.id == source.id
        finally:
            try:
                client.images.remove(f"{repo}:test")
            except Exception:
                pass


def _tiny_wheel(tmp: Path) -> Path:
    """A wheel of a one-module package, built on the host with `pip wheel` (or by hand if pip can't)."""
    pkg = tmp / "pkg"
    (pkg / "dchello").mkdir(parents=True)
    (pkg / "dchello" / "__init__.py").write_text("def greet():\n    return 'hello from a local wheel'\n")
    (pkg / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "dchello"\nversion = "0.1"\n')
    out = tmp / "wheels"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(out), str(pkg)], capture_output=True, text=True, timeout=120)
    wheels = list(out.glob("dchello-0.1-*.whl"))
    if proc.returncode == 0 and wheels:
        return wheels[0]
    whl = out / "dchello-0.1-py3-none-any.whl"  # the same wheel, assembled by hand
    files = {"dchello/__init__.py": (pkg / "dchello" / "__init__.py").read_text(),
             "dchello-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: dchello\nVersion: 0.1\n",
             "dchello-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                            "Tag: py3-none-any\n"}
    files["dchello-0.1.dist-info/RECORD"] = "".join(f"{n},,\n" for n in files) + "dchello-0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(whl, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return whl


@pytest.mark.slow
def test_python_pip_installs_a_local_wheel_offline(client, prepared, prefix, tmp_path):
    whl = _tiny_wheel(tmp_path)
    files = {f"/wheels/{whl.name}": whl.read_bytes(), "/wheels/requirements.txt": b"dchello==0.1\n"}
    script = ("set -e; python --version; python3 -c 'import sys; assert sys.version_info[:2] == (3, 11)'; "
              "pip --version; "
              "pip install -q --no-index --find-links /wheels -r /wheels/requirements.txt; "
              "python -c 'import dchello; print(dchello.greet())'; "
              "python -m venv /tmp/venv && /tmp/venv/bin/python -c 'import sys; print(\"venv\", sys.prefix)'")
    with container(client, "python:3.11-slim", name=f"{prefix}py", command=["sh", "-c", script], files=files) as c:
        code, out = run_to_end(c, timeout=90)
    assert code == 0, out
    assert "Python 3.11" in out and "hello from a local wheel" in out and "venv /tmp/venv" in out, out
    assert client.images.get("python:3.11-slim").attrs["Config"]["Cmd"] == ["python3"]
