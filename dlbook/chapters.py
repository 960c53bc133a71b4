"""Chapters as data: find the notebooks, hash their code, read their run metadata, and check
them against the notebook contract (../DESIGN.md) and the table of contents.

Used by ``dlbook list``/``dlbook execute`` and by the tests that keep stored outputs honest.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

META_KEY = "dlbook"
STORED_PROFILE = "book"
NOTEBOOK_DIR = "notebooks"
MAX_CODE_LINE = 80
"""The site's code column shows about 80 characters; longer lines scroll out of sight."""
GENERATED_PAGES = {"book/execution-report": "written by dlbook.sphinxext at build time"}


class ProjectNotFound(FileNotFoundError):
    """Raised when no ``_toc.yml`` is found in the directory or its parents."""


def project_root(start: Path | str | None = None) -> Path:
    """The book's root: the nearest directory, upwards from ``start`` (default: the working
    directory), that holds ``_toc.yml`` and ``_config.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "_toc.yml").is_file() and (candidate / "_config.yml").is_file():
            return candidate
    raise ProjectNotFound(
        f"no _toc.yml and _config.yml in {here} or its parents; run this inside the dlbook "
        "repository (or pass --root)"
    )


def notebooks(root: Path) -> list[Path]:
    """Every chapter notebook under ``notebooks/``, sorted, checkpoints excluded."""
    return sorted(
        p for p in (root / NOTEBOOK_DIR).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_sources(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def code_hash(nb: nbformat.NotebookNode) -> str:
    """SHA-256 over the notebook's code cells: changes whenever code that made the stored
    outputs changes, and only then."""
    payload = json.dumps([src.rstrip() for src in code_sources(nb)], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def run_metadata(nb: nbformat.NotebookNode) -> dict[str, Any]:
    return dict(nb.metadata.get(META_KEY, {}))


def title(nb: nbformat.NotebookNode) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            break
    return "(untitled)"


# --- configuration ------------------------------------------------------------------------------


def book_config(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "_config.yml").read_text()) or {}


def repository(root: Path) -> tuple[str, str]:
    """(URL, branch) of the repository, written once in ``_config.yml``."""
    repo = book_config(root).get("repository", {})
    url = str(repo.get("url", "")).rstrip("/")
    if not url.startswith("https://github.com/"):
        raise ValueError("_config.yml needs repository.url: https://github.com/<owner>/<name>")
    return url, str(repo.get("branch", "main"))


def colab_url(root: Path, path: Path) -> str:
    """The 'Open in Colab' address of a notebook, derived from ``repository.url``."""
    url, branch = repository(root)
    rel = path.resolve().relative_to(root).as_posix()
    return url.replace("https://github.com/", "https://colab.research.google.com/github/") + f"/blob/{branch}/{rel}"


def colab_install_line(root: Path) -> str:
    """What a chapter's first code cell runs in Colab to install dlbook."""
    url, branch = repository(root)
    return f"%pip install -q \"dlbook @ git+{url}@{branch}\""


# --- table of contents --------------------------------------------------------------------------


def toc_files(root: Path) -> list[str]:
    """Every ``file:`` (and ``root:``) entry of ``_toc.yml``, without extension."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    found.append(str(node[key]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [str(Path(f).with_suffix("")) if Path(f).suffix in {".md", ".ipynb"} else f for f in found]


def toc_problems(root: Path) -> list[str]:
    """Notebooks missing from ``_toc.yml``, and ``_toc.yml`` entries with no file."""
    entries = toc_files(root)
    listed = set(entries)
    problems = [
        f"{p.relative_to(root)} is not in _toc.yml"
        for p in notebooks(root)
        if str(p.relative_to(root).with_suffix("")) not in listed
    ]
    for entry in entries:
        if entry in GENERATED_PAGES:
            continue
        if not any((root / f"{entry}{ext}").is_file() for ext in (".md", ".ipynb")):
            if not (root / entry).is_file():
                problems.append(f"_toc.yml lists {entry!r} but no {entry}.md or {entry}.ipynb exists")
    duplicates = {e for e in entries if entries.count(e) > 1}
    problems += [f"_toc.yml lists {e!r} more than once" for e in sorted(duplicates)]
    return problems


# --- stale outputs ------------------------------------------------------------------------------


def stale_reasons(nb: nbformat.NotebookNode) -> list[str]:
    """Why the stored outputs are not a clean, current ``book``-profile run (empty if they are).

    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    >>> stale_reasons(nb)
    ['never run with `dlbook execute` (no dlbook metadata)']
    """
    meta = run_metadata(nb)
    if not meta:
        return ["never run with `dlbook execute` (no dlbook metadata)"]
    reasons = []
    if meta.get("profile") != STORED_PROFILE:
        reasons.append(f"outputs come from the {meta.get('profile')!r} profile, not {STORED_PROFILE!r}")
    if meta.get("code_sha256") != code_hash(nb):
        reasons.append("code changed since the outputs were stored")
    counts = [c.get("execution_count") for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    if counts != list(range(1, len(counts) + 1)):
        reasons.append("cells were not executed once each, top to bottom, in a fresh kernel")
    errors = [
        i for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    if errors:
        reasons.append(f"stored outputs hold errors (cells {errors})")
    return reasons


# --- the notebook contract ----------------------------------------------------------------------

_HEADING = re.compile(r"^#{2,3}\s+(.*)$", re.M)


def _headings(nb: nbformat.NotebookNode) -> list[str]:
    return [h.strip().lower() for c in nb.cells if c.cell_type == "markdown" for h in _HEADING.findall(c.source)]


def contract_problems(nb: nbformat.NotebookNode, path: Path, root: Path) -> list[str]:
    """What the chapter misses of the notebook contract in DESIGN.md (empty if nothing)."""
    problems = []
    cells = nb.cells
    first = cells[0] if cells else None
    header = first.source if first is not None and first.cell_type == "markdown" else ""
    lines = [ln.strip() for ln in header.splitlines()]
    if not lines or not lines[0].startswith("# "):
        problems.append("the first cell must be markdown starting with the title ('# Title')")
    summary = [ln for ln in lines[1:] if ln and not ln.startswith(("**", "#", "[", "<", "!"))]
    if not summary:
        problems.append("the header needs a short summary under the title")
    for needed in ("**You will learn**", "**Data**", "**Runtime**"):
        if needed not in header:
            problems.append(f"the header needs {needed}")
    if "Runtime" in header and not RUNTIME_PATTERN.search(header):
        problems.append("the header's **Runtime** must read 'test N s · book N s' (or min)")
    runtimes = run_metadata(nb).get("runtime_s", {})
    expected = runtime_header(nb, runtimes)
    if expected is not None and expected != header:
        problems.append(
            f"the header's **Runtime** disagrees with the measured test {_fmt_seconds(runtimes['test'])}"
            f" · book {_fmt_seconds(runtimes['book'])} (`dlbook execute` writes it)"
        )
    try:
        colab = colab_url(root, path)
    except ValueError as why:
        problems.append(str(why))
        colab = None
    if colab and colab not in header:
        problems.append(f"the header needs the 'Open in Colab' link {colab}")
    code = code_sources(nb)
    if not code or "google.colab" not in code[0] or colab_install_line(root) not in code[0]:
        problems.append(
            "the first code cell must install dlbook only in Colab: "
            f"`if 'google.colab' in sys.modules: {colab_install_line(root)}`"
        )
    code_cells = [i for i, cell in enumerate(cells) if cell.cell_type == "code"]
    long_lines = [  # the Colab cell is exempt: its install line grows with the repository URL
        f"cell {i} ({len(line)} chars)"
        for i, cell in enumerate(cells) if i in code_cells[1:]
        for line in cell.source.splitlines() if len(line) > MAX_CODE_LINE
    ]
    if long_lines:
        problems.append(f"code lines longer than {MAX_CODE_LINE} characters: {', '.join(long_lines)}")
    all_code = "\n".join(code)
    if "dlbook.setup(" not in all_code:
        problems.append("call dlbook.setup(seed=...) before building models")
    if "dlbook.pick(" not in all_code:
        problems.append("choose sizes per profile with dlbook.pick(test=..., book=..., full=...)")
    if not re.search(r"^\s*assert\b", all_code, re.M):
        problems.append("assert at least one outcome a broken model would fail")
    heads = _headings(nb)
    for label, pattern in (
        ("key takeaways", r"takeaway"),
        ("exercises", r"exercise"),
        ("further reading", r"further reading|references"),
        ("where it is used and where it fails", r"used|fail|limit"),
    ):
        if not any(re.search(pattern, h) for h in heads):
            problems.append(f"a '## …' section on {label}")
    has_plot = any(
        "image/png" in out.get("data", {}) or "image/svg+xml" in out.get("data", {})
        for c in cells if c.cell_type == "code" for out in c.get("outputs", [])
    )
    if not has_plot:
        problems.append("at least one plot in the stored outputs")
    return problems


@dataclass(frozen=True)
class Chapter:
    """A chapter notebook and what its metadata says about its last stored run."""

    path: Path
    title: str
    profile: str | None
    runtime_s: dict[str, float]
    stale: list[str]

    @classmethod
    def load(cls, path: Path) -> Chapter:
        nb = read(path)
        meta = run_metadata(nb)
        return cls(path, title(nb), meta.get("profile"), dict(meta.get("runtime_s", {})), stale_reasons(nb))


def chapters(root: Path) -> list[Chapter]:
    return [Chapter.load(p) for p in notebooks(root)]


def _part_captions(root: Path) -> dict[str, str]:
    """``{toc entry: caption of the part that lists it}`` from ``_toc.yml``."""
    try:
        toc = yaml.safe_load((root / "_toc.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    found: dict[str, str] = {}

    def walk(node: Any, caption: str) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found[str(Path(str(node["file"])).with_suffix(""))] = caption
            for value in node.values():
                walk(value, caption)
        elif isinstance(node, list):
            for item in node:
                walk(item, caption)

    for part in toc.get("parts", []) if isinstance(toc, dict) else []:
        if isinstance(part, dict):
            walk(part.get("chapters", []), str(part.get("caption", "")))
    return found


def _total(values: list[float]) -> str:
    """A sum of runtimes: seconds or minutes like a chapter's, hours past 90 minutes."""
    if not values:
        return "–"
    total = sum(values)
    return _fmt_seconds(total) if total < 5400 else f"{total / 3600:.1f} h"


def execution_report(root: Path) -> str:
    """A MyST page listing every chapter's stored profile, runtimes (and how many chapters ran
    at once when they were measured), freshness, and the total time per part and for the book.
    """
    rows = []
    parts: dict[str, dict[str, list[float]]] = {}
    captions = _part_captions(root)
    parallel = unrecorded = 0
    for ch in chapters(root):
        rel = ch.path.relative_to(root).with_suffix("").as_posix()
        times = " · ".join(f"{k} {_fmt_seconds(v)}" for k, v in sorted(ch.runtime_s.items(), key=lambda kv: kv[0] != "test"))
        status = "current" if not ch.stale else "**stale**: " + "; ".join(ch.stale)
        meta = run_metadata(read(ch.path))
        jobs = meta.get("parallel_jobs")
        parallel += bool(jobs and jobs > 1)
        unrecorded += jobs is None
        jobs_cell = "–" if jobs is None else ("alone" if jobs == 1 else f"{jobs} at once")
        rows.append(f"| {{doc}}`/{rel}` | {ch.profile or '–'} | {times or '–'} | {jobs_cell} | "
                    f"{meta.get('executed', '–')} | {status} |")
        inside = ch.path.relative_to(root / NOTEBOOK_DIR).parts
        part = captions.get(rel) or (inside[0] if len(inside) > 1 else NOTEBOOK_DIR)
        sums = parts.setdefault(part, {"test": [], "book": [], "n": []})
        sums["n"].append(1.0)
        for profile in ("test", "book"):
            if profile in ch.runtime_s:
                sums[profile].append(float(ch.runtime_s[profile]))
    part_rows = [f"| {part} | {len(s['n'])} | {_total(s['test'])} | {_total(s['book'])} |"
                 for part, s in parts.items()]
    all_test = [t for s in parts.values() for t in s["test"]]
    all_book = [t for s in parts.values() for t in s["book"]]
    n_all = sum(len(s["n"]) for s in parts.values())
    note = (" The *measured* column says whether a chapter ran alone or beside others "
            "(`dlbook execute --jobs N`): times measured in parallel are inflated on a 2-core "
            "machine, so compare only those measured alone")
    if parallel:
        note += f"; {parallel} of the {n_all} chapters were measured in parallel"
    if unrecorded:
        note += (f"; for {unrecorded} it is not recorded (–: stored before `dlbook execute` "
                 "recorded it)")
    note += "."
    return "\n".join([
        "# Execution report",
        "",
        "Every chapter's outputs on this site were stored by `dlbook execute` at the `book` "
        "profile on a 2-core CPU. The table is generated from each notebook's metadata when the "
        "site is built; the tests fail if any stored output is stale." + note,
        "",
        "| chapter | stored profile | runtime | measured | executed | outputs |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "## Time per part",
        "",
        "The serial sum: how long running the chapters one after another takes at each profile "
        "(`make execute` runs two at a time, `make test` four).",
        "",
        "| part | chapters | test | book |",
        "|---|--:|--:|--:|",
        *part_rows,
        f"| **all** | **{n_all}** | **{_total(all_test)}** | **{_total(all_book)}** |",
        "",
    ])


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


RUNTIME_PATTERN = re.compile(
    r"(\*\*Runtime\*\*\s+test\s+)[0-9.?]+\s*(?:s|min)(\s*·\s*book\s+)[0-9.?]+\s*(?:s|min)"
)


def runtime_header(nb: nbformat.NotebookNode, runtimes: dict[str, float]) -> str | None:
    """The header cell with its **Runtime** set to the measured times (None if it has none)."""
    if not nb.cells or nb.cells[0].cell_type != "markdown" or not {"test", "book"} <= set(runtimes):
        return None
    text = nb.cells[0].source
    if not RUNTIME_PATTERN.search(text):
        return None
    return RUNTIME_PATTERN.sub(
        lambda m: f"{m.group(1)}{_fmt_seconds(runtimes['test'])}{m.group(2)}{_fmt_seconds(runtimes['book'])}",
        text, count=1,
    )
