"""Sphinx extension used by the book's build (listed in ``_config.yml``).

- Serves MathJax 3 from the installed ``django-static-mathjax`` wheel instead of a CDN, so
  the site renders maths with no network (see shared/notes/SITE.md): only the parts the
  ``tex-mml-chtml`` component loads are copied.
- Writes ``book/execution-report.md`` from the notebooks' run metadata before the sources
  are read, so the report page can never disagree with the notebooks it describes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "a11y", "ui", "sre")
REPORT_PAGE = "book/execution-report.md"  # listed in dlbook.chapters.GENERATED_PAGES


def mathjax_source() -> Path:
    try:
        import mathjax  # the django-static-mathjax wheel; plain files, no Django needed
    except ImportError as why:
        raise RuntimeError(
            "offline MathJax is missing: pip install 'django-static-mathjax>=3.2.2,<3.3' "
            "(it is in dlbook's `book` extra)"
        ) from why
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def stage_mathjax(app: Sphinx, config: Config) -> None:
    source = mathjax_source()
    stage = Path(app.outdir).parent / ".mathjax-static"
    target = stage / "mathjax"
    if not (target / MATHJAX_PARTS[0]).is_file():
        for part in MATHJAX_PARTS:
            src, dst = source / part, target / part
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dst)
    config.html_static_path = [*config.html_static_path, str(stage)]
    config.mathjax_path = "mathjax/tex-mml-chtml.js"


def write_report(app: Sphinx) -> None:
    from dlbook.chapters import execution_report

    root = Path(app.srcdir)
    page = root / REPORT_PAGE
    text = execution_report(root)
    if not page.is_file() or page.read_text() != text:
        page.write_text(text)


def drop_duplicate_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Sphinx 7.4 writes inline scripts added after the builder starts twice into every page
    (sphinx-doc/sphinx#13402): sphinx-thebe's ``const THEBE_JS_URL`` then throws "Identifier
    has already been declared" in the browser. Keep the first copy of each script."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        key = (getattr(script, "filename", script) or "", getattr(script, "priority", None),
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", stage_mathjax)
    app.connect("html-page-context", drop_duplicate_scripts)
    app.connect("builder-inited", write_report)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
