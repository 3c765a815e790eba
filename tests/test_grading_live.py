"""Live mode against real engines: three extra `dockerd`s (the students' VMs), each in its own state,
one stopped in the middle of the run, one socket that never answers. The gradebook must read
right for the running ones and `engine-error` / `timeout` (never a zero) for the others."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from checkers.grading import verdicts as V
from checkers.grading.engines import EngineSpec
from checkers.grading.live import LiveOptions, RosterRow, grade_live, read_roster

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("dockerd") is None or os.geteuid() != 0,
                                 reason="needs dockerd and root to start students' engines")]

HELLO = 'run --name hello --network none busybox:1.35 echo "Hello from my first container"'


def docker(sock: str, args: str, stdin=None, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(f"docker -H unix://{sock} {args}", shell=True, input=stdin, capture_output=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {args} failed: {proc.stderr.decode()[-800:]}")
    return proc


def make_certs(d: Path) -> dict:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (what `tcp://` with TLS needs)."""
    d.mkdir()

    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=course-ca")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-out", f"{name}-cert.pem", "-days", "2", "-extfile", f"{name}.ext")
    client = d / "client"
    client.mkdir()
    for src, dst in (("ca.pem", "ca.pem"), ("client-cert.pem", "cert.pem"), ("client-key.pem", "key.pem")):
        shutil.copy(d / src, client / dst)
    return {"dir": d, "client": client}


def tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    def __init__(self, base: Path, n: int, tls: dict | None = None):
        self.dir = base / f"d{n}"
        self.dir.mkdir()
        self.sock = str(self.dir / "docker.sock")
        (self.dir / "daemon.json").write_text("{}")
        self.log = open(self.dir / "dockerd.log", "wb")
        # Its own bridge, never `--bridge none`: a dockerd started with `--bridge none` deletes the
        # host's `docker0` (moby removes the default bridge interface), breaking the main engine.
        self.bridge = f"dcl{os.getpid() % 10000}b{n}"
        subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", f"10.213.{n}.1/24", "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        argv = ["dockerd", "--host", f"unix://{self.sock}", "--data-root", str(self.dir / "data"),
                "--exec-root", str(base / f"x{n}"), "--pidfile", str(self.dir / "docker.pid"),
                "--config-file", str(self.dir / "daemon.json"), "--bridge", self.bridge, "--iptables=false",
                "--ip-masq=false", "--ip-forward=false", "--log-level", "error"]
        self.tcp = None
        if tls:  # also listen on tcp://127.0.0.1 with TLS, client certificates required
            self.tcp = f"tcp://127.0.0.1:{tcp_port()}"
            d = tls["dir"]
            argv += ["--host", self.tcp, "--tlsverify", "--tlscacert", str(d / "ca.pem"), "--tlscert",
                     str(d / "server-cert.pem"), "--tlskey", str(d / "server-key.pem")]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, seconds: float = 60) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"dockerd exited: {(self.dir / 'dockerd.log').read_text()[-2000:]}")
            if docker(self.sock, "version", check=False).returncode == 0:
                return
            time.sleep(0.3)
        raise AssertionError("dockerd did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def engines():
    base = Path(tempfile.mkdtemp(prefix="dcl-", dir="/tmp"))  # short: unix socket paths are limited
    certs = make_certs(base / "certs")
    started = [Engine(base, 1), Engine(base, 2, tls=certs), Engine(base, 3)]
    started[1].certs = certs
    try:
        image = subprocess.run(["docker", "save", "busybox:1.35"], capture_output=True, check=True, timeout=60).stdout
        for e in started:
            e.wait_ready()
            docker(e.sock, "load", stdin=image)
        yield started
    finally:
        for e in started:
            e.stop()
            subprocess.run(["ip", "link", "del", e.bridge], capture_output=True)
        subprocess.run(["umount", "-R", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def hanging_socket(tmp_path):
    """A socket that accepts connections and never answers (a frozen VM)."""
    path = str(tmp_path / "hang.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(16)
    held, stop = [], threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield path
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    srv.close()


def test_roster_is_read_with_its_columns(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,Engine,tls_dir\n# a comment\nAmy Lee,unix:///run/a.sock,\nbo,tcp://10.0.0.2:2376,/certs/bo\n"
                      "cy,ssh://cy@vm3,\n")
    rows = read_roster(roster)
    assert [(r.student, r.engine.url) for r in rows] == [("amy-lee", "unix:///run/a.sock"), ("bo", "tcp://10.0.0.2:2376"),
                                                          ("cy", "ssh://cy@vm3")]
    assert rows[1].engine.tls_cert == "/certs/bo/cert.pem" and rows[1].engine.published_host() == "10.0.0.2"
    assert rows[0].engine.published_host() == "127.0.0.1"


def test_live_gradebook_with_a_stopped_and_a_frozen_engine(engines, hanging_socket, tmp_path):
    d1, d2, d3 = engines
    docker(d1.sock, HELLO)  # amy: done right
    docker(d2.sock, HELLO.replace('echo "Hello from my first container"', "echo hi"))  # bo: wrong message
    docker(d3.sock, HELLO)  # cat: done right, but her engine stops during the run
    client_certs = d2.certs["client"]
    bo_engine = EngineSpec(d2.tcp, str(client_certs / "ca.pem"), str(client_certs / "cert.pem"), str(client_certs / "key.pem"))
    roster = [RosterRow("amy", EngineSpec(f"unix://{d1.sock}")), RosterRow("bo", bo_engine),  # bo: tcp:// with TLS
              RosterRow("cat", EngineSpec(f"unix://{d3.sock}")), RosterRow("dan", EngineSpec(f"unix://{hanging_socket}")),
              RosterRow("eli", EngineSpec(f"unix://{tmp_path}/never-existed.sock"))]
    stopped = []

    def on_done(student, recs):
        if not stopped:  # the first engine to finish: now stop cat's (hers has not started: the pool is bounded)
            d3.stop()
            stopped.append(student)

    lines: list[str] = []
    out = tmp_path / "grades"
    t0 = time.monotonic()
    data = grade_live(roster, LiveOptions(exercises=["first-container"], out=out, workers=2, engine_timeout=6,
                                          call_timeout=12, on_student_done=on_done, progress=lines.append))
    took = time.monotonic() - t0
    res = {s: r["first-container"] for s, r in data["results"].items()}
    assert stopped and stopped[0] in ("amy", "bo")
    assert res["amy"]["verdict"] == V.PASS and res["amy"]["score"] == 5, lines
    assert res["bo"]["verdict"] == V.FAIL and res["bo"]["score"] == 4
    assert {c["id"]: c["status"] for c in res["bo"]["checks"]}["message"] == V.FAIL
    assert res["cat"]["verdict"] == V.ENGINE_ERROR and res["cat"]["rerun"] and res["cat"]["score"] == 0
    assert res["dan"]["verdict"] == V.TIMEOUT and res["dan"]["rerun"]
    assert res["eli"]["verdict"] == V.ENGINE_ERROR and "could not be reached" in res["eli"]["checks"][0]["message"]
    assert res["amy"]["audit"]["engine"]["api_version"] and res["amy"]["audit"]["images"]["busybox:1.35"]["id"]
    assert res["bo"]["engine"].startswith("tcp://127.0.0.1:")
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert rows["amy"]["first-container"] == "5" and rows["amy"]["total"] == "5"
    assert rows["bo"]["first-container"] == "4"
    for s, word in (("cat", "engine-error"), ("dan", "timeout"), ("eli", "engine-error")):
        assert rows[s]["first-container"] == word and rows[s]["needs_rerun"] == "first-container"
        assert rows[s]["total"] == "0" and rows[s]["max_total"] == "0"  # excluded, not a zero out of 5
    assert sorted(data["summary"]["needs_rerun"]) == ["cat/first-container", "dan/first-container", "eli/first-container"]
    assert took < 30, lines
    # read-only: the students' engines hold exactly what they held before
    for e, names in ((d1, ["/hello"]), (d2, ["/hello"])):
        listing = json.loads(docker(e.sock, "ps -a --format '{{json .Names}}'").stdout.decode().strip().splitlines()[0])
        assert listing == names[0].lstrip("/")
    # a re-run grades only what needs it (cat's engine is back: she is graded now)
    d3_again = Engine.__new__(Engine)
    d3_again.__dict__.update(d3.__dict__)
    d3_again.log = open(d3.dir / "dockerd2.log", "wb")
    d3_again.proc = subprocess.Popen(d3.proc.args, stdout=d3_again.log, stderr=subprocess.STDOUT, start_new_session=True)
    d3_again.wait_ready()
    engines[2] = d3_again
    lines.clear()
    again = grade_live(roster[:3], LiveOptions(exercises=["first-container"], out=out, workers=2, progress=lines.append))
    assert again["results"]["cat"]["first-container"]["verdict"] == V.PASS
    assert again["results"]["amy"]["first-container"]["run"] == res["amy"]["run"]  # not graded twice
    assert any("grading 1 engines" in ln for ln in lines), lines

