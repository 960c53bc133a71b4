"""Every ``#anchor`` a page links to exists on the page it points at, checked from the built
files in one pass (each page parsed once).

LinkChecker's own ``[AnchorCheck]`` fetches and parses a page again for every distinct
``page.html#anchor`` URL: on this book that was 850 fetches and 2.5-4 minutes of CPU for what
one parse per page does in a second or two (measured in shared/notes/SITE.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        if tag == "a" and found.get("name"):
            self.ids.add(found["name"])
        if tag == "a" and found.get("href"):
            self.hrefs.append(found["href"])


@dataclass
class AnchorReport:
    """What :func:`check_anchors` found: links with a fragment checked, and the broken ones."""

    checked: int = 0
    broken: list[str] = field(default_factory=list)


def _parse(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def check_anchors(site_dir: Path) -> AnchorReport:
    """Check every local ``href`` with a ``#fragment`` in the HTML under ``site_dir``.

    >>> import tempfile
    >>> site = Path(tempfile.mkdtemp())
    >>> _ = (site / "a.html").write_text('<h1 id="top">A</h1><a href="b.html#x">b</a>'
    ...                                  '<a href="#top">up</a><a href="#gone">?</a>')
    >>> _ = (site / "b.html").write_text('<p id="x">B</p>')
    >>> report = check_anchors(site)
    >>> report.checked, report.broken
    (3, ['a.html -> #gone (no id="gone" in a.html)'])
    """
    site_dir = site_dir.resolve()
    pages = {p: _parse(p) for p in sorted(site_dir.rglob("*.html"))}
    report = AnchorReport()
    for page, parsed in pages.items():
        for href in parsed.hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.fragment:
                continue  # another site, mailto:, or no anchor: LinkChecker checks the rest
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.suffix != ".html":
                continue
            report.checked += 1
            shown = page.relative_to(site_dir).as_posix()
            if target not in pages:
                report.broken.append(f"{shown} -> {href} (no such page)")
                continue
            anchor = unquote(parts.fragment)
            if anchor not in pages[target].ids:
                where = target.relative_to(site_dir).as_posix()
                report.broken.append(f'{shown} -> {href} (no id="{anchor}" in {where})')
    return report
