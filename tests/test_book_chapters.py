"""Every chapter: stored outputs are a current book-profile run, the notebook meets the contract
in DESIGN.md, and the table of contents lists exactly the chapters that exist."""

from pathlib import Path

import pytest

from dlbook import chapters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = chapters.notebooks(ROOT)
IDS = [p.relative_to(ROOT / "notebooks").as_posix() for p in NOTEBOOKS]


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_outputs_are_a_current_book_run(path):
    reasons = chapters.stale_reasons(chapters.read(path))
    assert not reasons, f"{path.name}: " + "; ".join(reasons) + f" -> run `make execute NB={path.relative_to(ROOT)}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_meets_the_notebook_contract(path):
    problems = chapters.contract_problems(chapters.read(path), path, ROOT)
    assert not problems, f"{path.name} misses:\n- " + "\n- ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_records_its_runtimes_within_budget(path):
    runtimes = chapters.run_metadata(chapters.read(path)).get("runtime_s", {})
    assert "book" in runtimes and "test" in runtimes, "run `dlbook execute` (it times both profiles)"
    assert runtimes["test"] <= 60, f"test profile took {runtimes['test']} s (budget 60 s)"
    assert runtimes["book"] <= 300, f"book profile took {runtimes['book']} s (budget 5 min)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_outputs_hold_no_stderr_noise(path):
    nb = chapters.read(path)
    noisy = [
        i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("name") == "stderr"
    ]
    assert not noisy, f"cells {noisy} stored stderr output (warnings or logs); silence them at the source"


def test_toc_lists_every_notebook_and_only_existing_files():
    problems = chapters.toc_problems(ROOT)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_cells_hold_no_control_characters(path):
    """A cell written from a Python string without r"" turns TeX such as \\approx or \\frac into
    control characters (\\a, \\f) that MathJax then reports as an input error."""
    import re

    bad = [
        (i, repr(m.group())) for i, cell in enumerate(chapters.read(path).cells)
        for m in re.finditer(r"[\x00-\x08\x0b-\x1f\x7f]", cell.source)
    ]
    assert not bad, f"control characters in cells (index, char): {bad}; write the TeX with r'...'"
