"""Fixtures for the site tests: build the book once, serve it on 127.0.0.1, drive Debian's
Chromium through Playwright with every request to another host aborted and recorded.

- ``DLBOOK_SITE_DIR=<dir with index.html>`` reuses a finished build (e.g. ``make book``'s
  ``_build/html``) instead of building the book again.
- ``DLBOOK_CHROMIUM`` overrides the browser executable (default ``/usr/bin/chromium``).
- Without a browser the browser tests are skipped, except under ``CI``, where they fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("DLBOOK_CHROMIUM", "/usr/bin/chromium"))
# Measured in shared/notes/SITE.md: headless, no sandbox (containers), and no background
# traffic of Chromium's own (updates, sync, QUIC probes) that could reach the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
NOT_A_PAGE = {"genindex.html", "search.html", "index.html"}  # index.html only redirects
BUILD_TIMEOUT_S = 900

# Serves a folder on 127.0.0.1 (a free port, printed on stdout) like `python -m http.server`,
# quietly, with a `LinkChecker: allow` header that lets LinkChecker skip its politeness delays.
SERVER = r"""
import functools, sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

class Handler(SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("LinkChecker", "allow")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --- the built site ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built HTML site: ``$DLBOOK_SITE_DIR`` if it holds index.html, else a fresh build of
    the whole book with warnings as errors (``jupyter-book build --all -W -n --keep-going``)."""
    reuse = os.environ.get("DLBOOK_SITE_DIR")
    if reuse and (Path(reuse) / "index.html").is_file():
        return Path(reuse).resolve()
    out = tmp_path_factory.mktemp("site")
    log = out / "build.log"
    cmd = [
        sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
        "build", str(ROOT), "--path-output", str(out), "--all", "-W", "-n", "--keep-going",
    ]
    started = time.monotonic()
    with log.open("w") as sink:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S)
    text = _strip_ansi(log.read_text(errors="replace"))
    html = out / "_build" / "html"
    if proc.returncode != 0 or not (html / "index.html").is_file():
        problems = [ln for ln in text.splitlines() if re.search(r"WARNING|ERROR|Error|Traceback", ln)]
        pytest.fail(
            f"the book build failed (exit {proc.returncode}; warnings are errors):\n  "
            + " ".join(cmd[3:]) + "\n\nwarnings and errors:\n" + "\n".join(problems)
            + "\n\nlast lines of the log (" + str(log) + "):\n" + "\n".join(text.splitlines()[-60:]),
            pytrace=False,
        )
    print(f"\nbook built in {time.monotonic() - started:.1f} s -> {html}")
    return html


@pytest.fixture(scope="session")
def pages(site_dir: Path) -> list[str]:
    """Every page of the book, as paths relative to the site root (``book/intro.html``)."""
    found = []
    for path in sorted(site_dir.rglob("*.html")):
        rel = path.relative_to(site_dir).as_posix()
        if rel.startswith(("_static/", "_sources/", "_images/")) or rel in NOT_A_PAGE:
            continue
        found.append(rel)
    assert found, f"no pages found in {site_dir}"
    return found


@pytest.fixture(scope="session")
def chapters(site_dir: Path) -> list[str]:
    """The page of every chapter notebook under notebooks/ (``notebooks/01-x/y.html``)."""
    notebooks = sorted(
        p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )
    if not notebooks:
        pytest.fail("no chapter notebooks under notebooks/: the book has no chapter to test", pytrace=False)
    found = [p.relative_to(ROOT).with_suffix(".html").as_posix() for p in notebooks]
    missing = [rel for rel in found if not (site_dir / rel).is_file()]
    assert not missing, f"chapter notebooks with no page in the built site: {missing}"
    return found


# --- the local server -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(site_dir: Path) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/``) of a local HTTP server serving the site."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(site_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            pytest.fail(f"the test server did not start: {line!r} {proc.stderr.read()}", pytrace=False)
        base = f"http://127.0.0.1:{line}/"
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(base + "index.html", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the test server at {base} did not answer in 15 s", pytrace=False)
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (never Playwright's own download)."""
    problem = None
    if not CHROMIUM.is_file():
        problem = f"no Chromium at {CHROMIUM}: install it with `apt-get install chromium`"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            problem = "the playwright package is missing: pip install -e '.[test]'"
    if problem:
        if _in_ci():
            pytest.fail(f"{problem} (browser tests cannot be skipped under CI)", pytrace=False)
        pytest.skip(problem)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@dataclass
class Traffic:
    """What the browser asked for that it should not have, or did not get."""

    external: list[str] = field(default_factory=list)  # requests to any other host (aborted)
    failed: list[str] = field(default_factory=list)  # local requests that failed
    bad_status: list[str] = field(default_factory=list)  # local responses with status >= 400
    page_errors: list[str] = field(default_factory=list)  # uncaught JavaScript errors

    def problems(self) -> list[str]:
        """Requests that left 127.0.0.1, failed, or got an HTTP error (JavaScript errors are
        checked once, by the every-page test, not by every test)."""
        return (
            [f"external request: {u}" for u in self.external]
            + [f"failed request: {u}" for u in self.failed]
            + [f"HTTP error: {u}" for u in self.bad_status]
        )

    def clear(self) -> None:
        for found in (self.external, self.failed, self.bad_status, self.page_errors):
            found.clear()


def _is_local(url: str, base: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    return parts.netloc == urlsplit(base).netloc and parts.scheme == "http"


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


def open_gated_page(browser, server: str, traffic: Traffic):
    """A browser context and page whose requests to any host but the test server are aborted
    and recorded in ``traffic``, along with failed requests, HTTP errors and JavaScript errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)

    def gate(route):
        url = route.request.url
        if _is_local(url, server):
            route.continue_()
        else:
            traffic.external.append(url)
            route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    page.on(
        "requestfailed",
        lambda request: None
        if not _is_local(request.url, server)  # already recorded as external
        else traffic.failed.append(f"{request.url} ({request.failure})"),
    )
    page.on(
        "response",
        lambda response: traffic.bad_status.append(f"{response.url} ({response.status})")
        if response.status >= 400
        else None,
    )
    page.on("pageerror", lambda error: traffic.page_errors.append(f"{page.url}: {error}"))
    return context, page


@pytest.fixture
def page(browser, server: str, traffic: Traffic):
    """A fresh gated browser page (see :func:`open_gated_page`)."""
    context, page = open_gated_page(browser, server, traffic)
    yield page
    context.close()
