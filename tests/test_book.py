"""The book: its structure and contracts (fast), the site build with warnings as errors, every
lesson re-executed against the real engine with its outputs compared to the stored ones (nbval),
and a headless-Chromium pass over the built site.

    pytest -q tests/test_book.py                 # everything (about 3-4 minutes)
    pytest -q tests/test_book.py -m "not slow"   # structure only (seconds)
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
ARTIFACTS = ROOT / "test-artifacts"
VENV_BIN = Path(sys.executable).parent
PINNED = {"busybox:1.35", "python:3.11-slim", "nginx:1.22", "redis:7.0", "postgres:15", "registry:2"}
LESSON_PORTS = range(18080, 18100)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# Page paths are contracts (the exercises' `lesson` strings point at them).
PAGES = [
    "book/intro", "book/start/what-is-docker", "book/start/containers-are-processes", "book/start/setup",
    "book/day1/running-containers", "book/day1/images-and-dockerfiles", "book/day1/web-server",
    "book/day1/layers-and-cache", "book/day1/compose", "book/day2/volumes", "book/day2/networking",
    "book/day2/sharing-images", "book/day2/debugging", "book/beyond/image-size", "book/beyond/logs",
    "book/beyond/limits", "book/beyond/security", "book/beyond/healthchecks", "book/next/where-next",
    "book/instructors/grading", "book/faq",
]
LESSON_EXERCISE = {
    "book/day1/running-containers": "first-container", "book/day1/images-and-dockerfiles": "first-image",
    "book/day1/web-server": "web-server", "book/day1/layers-and-cache": "build-cache",
    "book/day1/compose": "compose-stack", "book/day2/volumes": "volumes", "book/day2/networking": "networking",
    "book/day2/sharing-images": "registry", "book/day2/debugging": "debugging",
    "book/beyond/image-size": "multi-stage", "book/beyond/logs": "log-rotation", "book/beyond/limits": "limits",
    "book/beyond/security": "non-root", "book/beyond/healthchecks": "healthcheck",
}


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [ch["file"] for ch in part["chapters"]]
    return files


def source_of(page: str) -> Path:
    for ext in (".ipynb", ".md"):
        if (ROOT / f"{page}{ext}").exists():
            return ROOT / f"{page}{ext}"
    raise AssertionError(f"no source for {page}")


def notebooks() -> list[Path]:
    return [source_of(p) for p in toc_files() if source_of(p).suffix == ".ipynb"]


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


# --------------------------------------------------------------------------- structure (fast)

def test_toc_lists_every_contract_page_and_nothing_is_missing():
    assert toc_files() == PAGES
    for page in PAGES:
        source_of(page)
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "off"
    assert cfg["only_build_toc_files"] is True
    for excluded in (".venv", "exercises", "tests", "checkers", "docs", "bench", "_build", "scripts", "README.md"):
        assert excluded in cfg["exclude_patterns"]


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: str(p.relative_to(BOOK)))
def test_lesson_notebook_conventions(path):
    nb = nbformat.read(str(path), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    setup = nb.cells[1]
    assert setup.cell_type == "code" and "remove-cell" in setup.metadata.get("tags", [])
    assert "system_raise_on_error = True" in setup.source and 'LESSON = "' in setup.source
    code = code_cells(nb)
    # outputs are stored: every code cell was executed in the recorded run
    unrun = [i for i, c in enumerate(code) if c.execution_count is None]
    assert not unrun, f"cells without recorded outputs (run scripts/refresh-outputs): {unrun}"
    text = "\n".join(c.source for c in code).replace("\\\n", " ")  # join continued shell lines
    # everything the lesson names is called lesson-...
    for name in re.findall(r"--name\s+(\S+)", text):
        assert name.startswith("lesson-"), f"object not named lesson-…: {name}"
    for kind in ("network create", "volume create"):
        for name in re.findall(rf"docker {kind} \$LESSON_LABELS (\S+)", text):
            assert name.startswith("lesson-"), name
    # containers, networks, volumes and builds carry the lesson labels
    for line in re.findall(r"^.*docker (?:run|create|build|network create|volume create)\b.*$", text, re.M):
        if "--help" in line or line.strip().startswith("#") or "docker run --rm busybox:1.35 true" in line:
            continue
        if "[\"docker\"" in line or "docker compose" in line or line.lstrip().startswith("!"):
            continue  # python lists, compose (labels in the YAML), a `!` line that is meant to fail
        assert "$LESSON_LABELS" in line, f"unlabelled: {line.strip()}"
    # published ports: loopback only, in the lessons' own range
    for host, port in re.findall(r"-p\s+(?:(\S+?):)?(\d+):\d+", text):
        assert host == "127.0.0.1", f"publish on 127.0.0.1 only: -p {host}:{port}"
        assert int(port) in LESSON_PORTS, f"lesson port {port} outside 18080-18099"
    for port in re.findall(r'"127\.0\.0\.1:(\d+):\d+"', text):
        assert int(port) in LESSON_PORTS
    # only the six pinned images as bases
    for ref in re.findall(r"^FROM\s+(\S+)", text, re.M) + re.findall(r"^\s*image:\s*(\S+)", text, re.M):
        assert ref in PINNED, f"not a pinned course image: {ref}"
    # lessons that create objects clean up at the end
    visible = [c for c in code if "remove-cell" not in c.metadata.get("tags", [])]
    if re.search(r"docker (run|create|build)", text):
        assert re.search(r"docker (rm|compose .*down|image rm)", visible[-1].source), "no clean-up cell at the end"
        assert "rmtree(WORK" in code[-1].source  # and the hidden teardown removes the scratch folder


@pytest.mark.parametrize("page,exercise", sorted(LESSON_EXERCISE.items()))
def test_every_lesson_ends_with_its_exercise(page, exercise):
    from checkers.exercises import EXERCISE_IDS, available, load

    assert exercise in EXERCISE_IDS
    nb = nbformat.read(str(source_of(page)), as_version=4)
    last = "\n".join(c.source for c in nb.cells[-3:] if c.cell_type == "markdown")
    assert "{exercise}" in last and "{solution}" in last and ":class: dropdown" in last
    assert f'check("{exercise}")' in last and f"dockercourse check {exercise}" in last
    assert f"exercises/{exercise}/" in last
    include = re.search(r"literalinclude\} (\S+)", last)
    assert include and (ROOT / include.group(1).lstrip("/")).exists(), f"solution file missing for {exercise}"
    if exercise in available():  # the exercise points back at this lesson
        assert f"({page})" in load(exercise).lesson


def test_diagrams_render_offline():
    svgs = sorted((BOOK / "_static").glob("*.svg"))
    assert len(svgs) >= 5
    for svg in svgs:
        text = svg.read_text()
        assert "<title" in text or svg.stem in ("logo", "favicon") or "aria-label" in text
        refs = [u for u in re.findall(r"(?:href|src)=\"([^\"]+)\"", text) if u.startswith(("http:", "https:", "//"))]
        assert not refs, f"{svg.name} loads {refs}"
    for page in PAGES:
        src = source_of(page).read_text()
        assert "mermaid" not in src and "cdn." not in src


def test_sanitizer_file_is_valid_and_covers_the_usual_suspects():
    from nbval.plugin import get_sanitize_patterns

    pats = get_sanitize_patterns(SANITIZE.read_text())
    assert len(pats) >= 15

    def san(s):
        for rx, rep in pats:
            s = re.sub(rx, rep, s)
        return s

    a = "4f1d560ead21   busybox:1.35   2 seconds ago   Exited (0) 1 second ago   cool_panini\n"
    b = "0d5459e3a001   busybox:1.35   Less than a second ago   Exited (0) Less than a second ago   quirky_morse\n"
    assert san(a) == san(b)
    assert san("sha256:" + "a" * 64) == san("sha256:" + "b" * 64)
    assert san("real\t0m4.096s") == san("real\t0m0.528s")
    assert san("lesson-proc: 332KiB / 23.54GiB") == san("lesson-proc: 1.2MiB / 7.7GiB")
    assert san("172.17.0.1 - - [03/Dec/2026:14:02:27 +0000]") == san("172.18.0.1 - - [04/Jan/2027:01:00:00 +0000]")
    assert san('"time":"2026-12-03T14:14:49.595753338Z"') == san('"time":"2027-01-01T00:00:00.1Z"')
    assert san("the same output") == "the same output"


# ------------------------------------------------------------------------------- site build

@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """Build the site once (stored outputs, no engine needed) into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([str(VENV_BIN / "jupyter-book"), "build", str(ROOT), "-W", "--keep-going",
                           "--path-output", str(out)], capture_output=True, text=True, timeout=600)
    return out / "_build" / "html", proc


@pytest.mark.slow
@pytest.mark.book
def test_site_builds_with_warnings_as_errors(built_site):
    html, proc = built_site
    log = proc.stdout + proc.stderr
    warnings = [ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln]
    assert proc.returncode == 0 and "build succeeded" in log, "\n".join(warnings[:20]) or log[-3000:]
    for page in PAGES:
        assert (html / f"{page}.html").exists(), page
    assert (html / "index.html").exists() and (html / "search.html").exists()
    for page in PAGES:  # offline: no script, style or image is fetched from elsewhere at view time
        text = (html / f"{page}.html").read_text()
        remote = re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=\"(https?://[^\"]+)\"", text)
        remote = [u for u in remote if not u.startswith("https://docs.docker.com")]
        assert not remote, f"{page} loads {remote}"
    assert "<img" in (html / "book/beyond/image-size.html").read_text()  # the measured plot


# --------------------------------------------------------------------- lessons re-executed

def _lesson_objects(client) -> dict:
    sel = {"label": ["org.dockercourse.purpose=lesson"]}
    api = client.api
    return {
        "containers": [c["Names"] for c in api.containers(all=True, filters=sel)],
        "networks": [n["Name"] for n in api.networks(filters=sel)],
        "volumes": [v["Name"] for v in (api.volumes(filters=sel).get("Volumes") or [])],
        "images": [i["RepoTags"] or i["Id"][:19] for i in api.images(filters=sel)],
    }


def _remove_lesson_objects(client) -> None:
    from docker.errors import APIError, NotFound

    api = client.api
    sel = {"label": ["org.dockercourse.purpose=lesson"]}
    for c in api.containers(all=True, filters=sel):
        try:
            api.remove_container(c["Id"], force=True, v=True)
        except (APIError, NotFound):
            pass
    for n in api.networks(filters=sel):
        try:
            api.remove_network(n["Id"])
        except (APIError, NotFound):
            pass
    for v in api.volumes(filters=sel).get("Volumes") or []:
        try:
            api.remove_volume(v["Name"], force=True)
        except (APIError, NotFound):
            pass
    for i in api.images(filters=sel):
        try:
            api.remove_image(i["Id"], force=True)
        except (APIError, NotFound):
            pass


def _groups(paths: list[Path], n: int) -> list[list[Path]]:
    """Split the notebooks into n groups of similar running time (recorded in docs/notes/book.md)."""
    heavy = {"compose", "healthchecks", "layers-and-cache", "image-size", "volumes"}
    ordered = sorted(paths, key=lambda p: (p.stem not in heavy, str(p)))
    groups: list[list[Path]] = [[] for _ in range(n)]
    for i, p in enumerate(ordered):
        groups[i % n].append(p)
    return groups


@pytest.mark.slow
@pytest.mark.book
def test_every_lesson_reexecutes_and_matches_its_stored_outputs(client):
    from checkers.imagekit import status

    missing = [r["image"] for r in status(client) if r["source"] == "missing"]
    if missing:
        pytest.fail(f"course images missing: {missing}; run `dockercourse images prepare`")
    before = _lesson_objects(client)
    assert not any(before.values()), f"lesson objects already on the engine: {before}"
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    jobs = int(os.environ.get("BOOK_JOBS", "2"))
    procs = []
    started = time.monotonic()
    for group in _groups(notebooks(), jobs):
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
               "--nbval-sanitize-with", str(SANITIZE), "--nbval-cell-timeout", "240", "-o", "addopts=",
               "--rootdir", str(ROOT), *[str(p) for p in group]]
        procs.append((group, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True)))
    failures = []
    for group, proc in procs:
        try:
            out, _ = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            failures.append(f"timed out: {[p.name for p in group]}\n{out[-4000:]}")
            continue
        if proc.returncode != 0:
            failures.append(out[-8000:])
    took = time.monotonic() - started
    left = _lesson_objects(client)
    _remove_lesson_objects(client)
    assert not failures, "\n\n".join(failures)
    assert not any(left.values()), f"lessons left objects behind (now removed): {left}"
    print(f"\nall lessons re-executed and matched in {took:.0f} s")


# ---------------------------------------------------------------------------------- browser
# The browser runs in a child process. As root with `unshare`, that process gets its own network
# namespace holding only loopback: containers starting and stopping on the shared engine add and
# remove network interfaces, and Chromium aborts page loads on such changes (ERR_NETWORK_CHANGED).
# A namespace with no network at all also proves that the site needs nothing from outside.

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def browser_checks(site: Path, artifacts: Path) -> dict:
    """Serve ``site`` on 127.0.0.1 and drive headless Chromium over it; returns what it found."""
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    report = {"problems": [], "too_wide": [], "missing_h1": [], "search_hits": [], "toggle_starts_closed": None,
              "toggle_opens": None, "link": None, "screenshots": []}

    def watch(page, where):
        page.on("console", lambda m: report["problems"].append(f"{where}: console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: report["problems"].append(f"{where}: page error: {e}"))
        page.on("requestfailed", lambda r: report["problems"].append(f"{where}: request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: report["problems"].append(f"{where}: HTTP {r.status}: {r.url}")
                if r.status >= 400 else None)

    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        desktop = browser.new_page(viewport={"width": 1280, "height": 900})
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                 has_touch=True)
        watch(desktop, "desktop")
        watch(phone, "phone")
        for name in PAGES:
            for tab in (desktop, phone):
                resp = tab.goto(f"{url}/{name}.html")
                if resp is None or resp.status != 200:
                    report["problems"].append(f"{name}: HTTP {resp.status if resp else 'no response'}")
                tab.wait_for_load_state("load")
            if not desktop.locator("article h1").first.is_visible():
                report["missing_h1"].append(name)
            width = phone.evaluate("document.documentElement.scrollWidth")
            if width > 391:
                report["too_wide"].append(f"{name}: {width}px")
        for tab, name, shot in ((desktop, "book/intro", "book-intro-desktop.png"),
                                (phone, "book/day1/running-containers", "book-running-containers-phone.png")):
            tab.goto(f"{url}/{name}.html")
            tab.wait_for_load_state("networkidle")
            tab.screenshot(path=str(artifacts / shot))
            report["screenshots"].append(str(artifacts / shot))
        # search finds a term that only a few pages use
        page = desktop
        page.goto(f"{url}/search.html?q=dockerignore")
        try:
            page.wait_for_selector("#search-results ul.search li a", timeout=15000)
            report["search_hits"] = page.locator("#search-results ul.search li a").evaluate_all(
                "els => els.map(e => e.getAttribute('href'))")
        except Exception as exc:  # reported as no hits
            report["problems"].append(f"search: {type(exc).__name__}")
        # a solution toggle starts closed and opens
        page.goto(f"{url}/book/day1/running-containers.html")
        page.wait_for_load_state("networkidle")
        solution = page.locator(".solution").first
        button = solution.locator("button.toggle-button")
        body = solution.locator("div.highlight").first
        try:
            button.wait_for(state="attached", timeout=10000)
            report["toggle_starts_closed"] = not body.is_visible()
            button.click()
            body.wait_for(state="visible", timeout=5000)
            report["toggle_opens"] = "docker run" in body.inner_text()
        except Exception as exc:
            report["problems"].append(f"toggle: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        # an internal link works
        page.goto(f"{url}/book/intro.html")
        page.locator("article a[href$='day1/running-containers.html']").first.click()
        page.wait_for_load_state("networkidle")
        report["link"] = page.url.endswith("/book/day1/running-containers.html") and \
            page.locator("article h1").first.inner_text().startswith("Running containers")
        browser.close()
    server.shutdown()
    return report


@pytest.fixture(scope="module")
def browser_report(built_site):
    html, proc = built_site
    if proc.returncode != 0:
        pytest.fail("the site did not build")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`)")
    cmd = [sys.executable, __file__, str(html), str(ARTIFACTS)]
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
        cmd = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert proc.returncode == 0 and lines, f"browser run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1])


@pytest.mark.slow
@pytest.mark.book
def test_browser_every_page_loads_cleanly_and_fits_a_phone(browser_report):
    assert not browser_report["problems"], browser_report["problems"]
    assert not browser_report["missing_h1"], browser_report["missing_h1"]
    assert not browser_report["too_wide"], f"pages wider than a 390px phone screen: {browser_report['too_wide']}"
    for shot in browser_report["screenshots"]:
        assert Path(shot).stat().st_size > 10_000, shot


@pytest.mark.slow
@pytest.mark.book
def test_browser_search_toggle_and_internal_link(browser_report):
    assert any("layers-and-cache" in h for h in browser_report["search_hits"]), browser_report["search_hits"]
    assert browser_report["toggle_starts_closed"] is True
    assert browser_report["toggle_opens"] is True
    assert browser_report["link"] is True


if __name__ == "__main__":  # the browser half, run by the `browser_report` fixture
    print(json.dumps(browser_checks(Path(sys.argv[1]), Path(sys.argv[2]))))
