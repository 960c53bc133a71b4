"""The built site, tested in real headless Chromium (Playwright driving Debian's chromium).

The book is built once per session with warnings as errors (see conftest.py), served on
127.0.0.1, and every request to any other host is aborted and reported as a failure: a reader
offline must get every page, plot, formula, search result and download.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from anchors import check_anchors

from conftest import Traffic, open_gated_page

ARTICLE_HEADING = "article h1"
SIDEBAR_LINKS = "nav.bd-docs-nav a.reference"
COLAB_PREFIX = "https://colab.research.google.com/github/"
LINKCHECKER_CONFIG = Path(__file__).with_name("linkcheckerrc")

# The article's title without the "#" permalink: "1.1. Your first deep network".
HEADING_TEXT = """() => {
  const h1 = document.querySelector("article h1");
  if (!h1) return null;
  const copy = h1.cloneNode(true);
  copy.querySelectorAll(".headerlink").forEach(e => e.remove());
  return copy.textContent.replace(/\\s+/g, " ").trim();
}"""

# Waits (10 s at most) for every image, lazy ones too, then reports what each one got.
IMAGES = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(img => { img.loading = "eager"; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done);
    setTimeout(done, 10000);
  })));
  return imgs.map(img => ({
    src: img.currentSrc || img.src, width: img.naturalWidth, complete: img.complete,
    output: img.closest(".cell_output") !== null,
  }));
}"""

# What a reader sees of the maths once MathJax has run.
MATH_STATE = """() => {
  const maths = Array.from(document.querySelectorAll("article .math"));
  const prose = document.querySelector("article").cloneNode(true);
  prose.querySelectorAll("pre, code, .cell_output, .highlight, mjx-container").forEach(e => e.remove());
  return {
    formulas: maths.length,
    rendered: maths.filter(m => {
      const out = m.querySelector("mjx-container");
      return out !== null && out.getBoundingClientRect().width > 0;
    }).length,
    errors: Array.from(document.querySelectorAll("mjx-merror")).map(e => e.textContent),
    raw: maths.filter(m => !m.querySelector("mjx-container")).map(m => m.textContent.trim()),
    prose: prose.textContent,
  };
}"""
MATH_CLASS = re.compile(r'class="math[ "]')  # what MyST writes around $...$ and $$...$$
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac\{")


def _bare(url: str) -> str:
    """A URL without its query and fragment."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _open(page, url: str, wait_until: str = "load"):
    response = page.goto(url, wait_until=wait_until)
    assert response is not None and response.ok, f"{url} answered {response and response.status}"
    return response


def _open_home(page, server: str) -> None:
    """Open index.html and follow its redirect to the book's root page, scripts and all."""
    _open(page, server + "index.html")
    page.wait_for_url(lambda url: _bare(url) != server + "index.html", wait_until="load")
    page.locator(ARTICLE_HEADING).first.wait_for()


def _fail_on(problems: dict[str, list[str]], title: str) -> None:
    """Fail with one readable report of every page's problems, if any page has one."""
    report = "\n".join(f"{where}:\n  " + "\n  ".join(what) for where, what in problems.items() if what)
    if report:
        pytest.fail(f"{title}:\n{report}", pytrace=False)


def _fail_on_requests(traffic) -> None:
    _fail_on({"browser requests": traffic.problems()}, "requests that left 127.0.0.1, failed or got an HTTP error")


MATH_READY = """() => { const m = document.querySelectorAll("article .math");
  return m.length > 0 && document.querySelectorAll("article .math mjx-container").length >= m.length; }"""


@dataclass
class Visit:
    """What one page load showed, for the tests below to share: request problems, JavaScript
    errors, a heading, the images, and on chapters the Colab and download links, on pages with
    maths what MathJax made of it."""

    problems: list[str]
    errors: list[str]
    heading_visible: bool
    images: list[dict]
    colab_links: list[str] = field(default_factory=list)
    download_link: str | None = None
    maths: dict | None = None


def _visit(page, traffic, url: str, *, chapter: bool, has_math: bool) -> Visit:
    traffic.clear()
    # networkidle: also catch what scripts fetch after the load event (MathJax fonts, search)
    _open(page, url, wait_until="networkidle")
    visit = Visit([], [], page.locator(ARTICLE_HEADING).first.is_visible(), page.evaluate(IMAGES))
    if has_math:
        try:
            page.wait_for_function(MATH_READY, timeout=15_000)
        except Exception:  # noqa: BLE001 - the maths test reports what the page shows
            pass
        visit.maths = page.evaluate(MATH_STATE)
    if chapter:
        visit.colab_links = page.eval_on_selector_all(f'a[href^="{COLAB_PREFIX}"]', "els => els.map(a => a.href)")
        page.locator(".dropdown-download-buttons button.dropdown-toggle").click()
        item = page.locator('.dropdown-download-buttons a[href$=".ipynb"]')
        item.wait_for(state="visible")  # the reader can see and click it
        visit.download_link = item.evaluate("a => a.href")
    visit.problems, visit.errors = traffic.problems(), list(traffic.page_errors)
    return visit


@pytest.fixture(scope="module")
def visits(browser, server, site_dir, pages, chapters) -> dict[str, Visit]:
    """Every page opened once, in one gated browser page (see conftest.open_gated_page)."""
    traffic = Traffic()
    context, page = open_gated_page(browser, server, traffic)
    try:
        return {rel: _visit(page, traffic, server + rel, chapter=rel in chapters,
                            has_math=bool(MATH_CLASS.search((site_dir / rel).read_text())))
                for rel in pages}
    finally:
        context.close()


def test_every_page_loads_without_external_or_failed_requests(visits, pages, chapters):
    problems = {
        rel: v.problems + [f"JavaScript error: {e}" for e in v.errors]
        + ([] if v.heading_visible else ["no visible article heading (article h1)"])
        for rel, v in visits.items()
    }
    assert set(chapters) <= set(pages)
    _fail_on(problems, "pages that did not load cleanly")


def test_sidebar_navigation_reaches_every_chapter(page, traffic, server, pages, chapters):
    # index.html redirects to the root page; every page's sidebar lists the whole book in the
    # same order, so click the links one after another, as a reader would.
    _open_home(page, server)
    links = page.eval_on_selector_all(
        SIDEBAR_LINKS, "els => els.map(e => [e.href, e.textContent.replace(/\\s+/g, ' ').trim()])"
    )
    assert len(links) >= len(pages), f"the sidebar lists {len(links)} links for {len(pages)} pages"
    reached, problems = set(), {}
    for i, (href, text) in enumerate(links):
        target = _bare(href)
        link = page.locator(SIDEBAR_LINKS).nth(i)
        here = _bare(page.url)
        # the link to the current page is "#"; the others must match the first page's sidebar
        assert _bare(link.evaluate("e => e.href")) in {target, here}, f"sidebar order differs on {here}"
        for _ in range(5):  # open collapsed parts (<details>) down to the link
            closed = link.locator("xpath=ancestor::details[not(@open)]/summary")
            if closed.count() == 0:
                break
            closed.first.click()
        link.click()
        page.wait_for_url(lambda url, target=target: _bare(url) == target)
        page.wait_for_load_state("load")
        heading = page.evaluate(HEADING_TEXT)
        if heading != text:
            problems[target] = [f"sidebar says {text!r}, page heading is {heading!r}"]
        reached.add(target.removeprefix(server))
    _fail_on(problems, "sidebar links that land on the wrong page")
    assert not set(pages) - reached, f"pages the sidebar never reaches: {sorted(set(pages) - reached)}"
    assert set(chapters) <= reached
    _fail_on_requests(traffic)


def test_every_image_loads(visits, chapters):
    problems = {rel: [f"image did not load: {img['src']}" for img in v.images if img["width"] <= 0]
                for rel, v in visits.items()}
    _fail_on(problems, "broken images")
    plots = {rel: sum(1 for img in v.images if img["output"] and img["width"] > 0)
             for rel, v in visits.items()}
    without_plots = [rel for rel in chapters if plots.get(rel, 0) == 0]
    assert not without_plots, f"chapter pages showing no plot (no image in a cell output): {without_plots}"


def test_math_renders_offline(visits):
    with_math = {rel: v.maths for rel, v in visits.items() if v.maths is not None}
    assert with_math, "no page of the book contains maths (class=\"math\"): the chapters should"
    problems: dict[str, list[str]] = {}
    for rel, state in with_math.items():
        found = []
        if state["rendered"] < state["formulas"]:
            found.append(f"{state['rendered']} of {state['formulas']} formulas rendered by MathJax")
        found += [f"raw TeX shown: {raw[:80]!r}" for raw in state["raw"]]
        found += [f"TeX error: {err[:80]!r}" for err in state["errors"]]
        found += [f"TeX delimiters in the text: {m.group()!r}" for m in RAW_TEX.finditer(state["prose"])]
        problems[rel] = found
    _fail_on(problems, "maths not rendered offline")


def test_search_finds_a_chapter(page, traffic, server, chapters):
    chapter = chapters[0]
    _open(page, server + chapter)
    title = page.evaluate(HEADING_TEXT)
    words = re.findall(r"[A-Za-z]{5,}", title)
    assert words, f"no word to search for in the chapter title {title!r}"
    word = max(words, key=len).lower()
    _open_home(page, server)
    page.keyboard.press("Control+k")
    box = page.locator("form.bd-search input[name=q]:visible").first
    box.fill(word)
    box.press("Enter")
    page.wait_for_url("**/search.html?*")
    results = page.locator("#search-results ul.search li a")
    target = server + chapter
    try:
        page.wait_for_function(
            """target => Array.from(document.querySelectorAll("#search-results ul.search li a"))
                 .some(a => a.href.split(/[?#]/)[0] === target)""",
            arg=target, timeout=10_000,
        )
    except Exception:  # noqa: BLE001 - the assertion below says what was found instead
        pass
    found = [_bare(href) for href in results.evaluate_all("els => els.map(a => a.href)")]
    assert target in found, f"searching {word!r} (from {title!r}) did not find {chapter}; results: {found}"
    _fail_on_requests(traffic)


def test_notebook_download_button_serves_the_ipynb(visits, chapters):
    for chapter in chapters:
        href = visits[chapter].download_link
        expected = "/_sources/" + chapter.removesuffix(".html") + ".ipynb"
        assert href and urlsplit(href).path == expected, f"{chapter}: download link {href}, expected {expected}"
        with urllib.request.urlopen(href, timeout=10) as response:
            notebook = json.loads(response.read())
        assert notebook.get("nbformat") == 4, f"{href} is not an nbformat 4 notebook"
        assert isinstance(notebook.get("cells"), list) and notebook["cells"], f"{href} has no cells"


def test_chapter_page_shows_colab_link(visits, chapters):
    for chapter in chapters:
        hrefs = visits[chapter].colab_links
        notebook = "/" + chapter.removesuffix(".html") + ".ipynb"
        assert any(h.endswith(notebook) for h in hrefs), (
            f"{chapter} has no Colab link to {notebook.lstrip('/')}; Colab links found: {hrefs}"
        )


def test_internal_links_are_not_broken(server, pages):
    exe = Path(sys.executable).with_name("linkchecker")
    linkchecker = str(exe) if exe.is_file() else shutil.which("linkchecker")
    assert linkchecker, "linkchecker is missing: pip install -e '.[test]'"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    proc = subprocess.run(
        [linkchecker, "--no-status", "-f", str(LINKCHECKER_CONFIG), server + "index.html"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"linkchecker found broken links:\n{output}"
    counted = re.search(r"(\d+) links? in (\d+) URLs? checked", output)
    assert counted and int(counted.group(2)) >= len(pages), f"linkchecker checked too little:\n{output}"


def test_internal_anchors_exist(site_dir, pages):
    report = check_anchors(site_dir)
    assert not report.broken, "links to anchors that do not exist:\n  " + "\n  ".join(report.broken)
    # Every page links to its own sections (the page's table of contents) at least once.
    assert report.checked >= len(pages), f"only {report.checked} anchors checked on {len(pages)} pages"
