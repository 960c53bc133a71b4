"""`dlbook execute --jobs N` and `--stale-only`, and the execution report's times, on tiny
notebooks without TensorFlow (each kernel starts and finishes in a second or two)."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dlbook import chapters
from dlbook.cli import main
from dlbook.execute import execute, execute_many

TOC = """format: jb-book
root: intro
parts:
  - caption: Part I — Basics
    chapters:
      - file: notebooks/p1/a
      - file: notebooks/p1/b
  - caption: Part II — More
    chapters:
      - file: notebooks/p2/c
"""


@pytest.fixture
def book(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b\n")
    (tmp_path / "_toc.yml").write_text(TOC)
    for part in ("p1", "p2"):
        (tmp_path / "notebooks" / part).mkdir(parents=True)
    return tmp_path


def write(path, *sources):
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), path)
    return path


def test_chapters_run_at_once_are_stored_and_a_failing_one_leaves_the_others_alone(book, capsys):
    """One parallel run (worker processes are slow to start, so one test covers both)."""
    a = write(book / "notebooks" / "p1" / "a.ipynb", "import os\nos.getpid()")
    b = write(book / "notebooks" / "p1" / "b.ipynb", "raise RuntimeError('chapter b is broken')")
    c = write(book / "notebooks" / "p2" / "c.ipynb", "import os\nos.getpid()")
    before = b.read_text()
    code = main(["--root", str(book), "execute", "-j", "2", "--no-test-timing",
                 str(a), str(b), str(c)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "3 chapters, 2 at a time" in out
    assert "notebooks/p1/b.ipynb failed" in err and "chapter b is broken" in err
    assert "1 of 3 chapters failed" in err
    assert b.read_text() == before, "a failed chapter keeps the file it had"
    pids = set()
    for path in (a, c):
        assert f"stored {path.relative_to(book)}" in out
        nb = chapters.read(path)
        assert chapters.stale_reasons(nb) == []
        assert nb.metadata["dlbook"]["parallel_jobs"] == 2
        pids.add(nb.cells[0].outputs[0]["data"]["text/plain"])
    assert len(pids) == 2, "each chapter runs in its own kernel"


def test_stale_only_runs_just_the_chapters_whose_code_changed(book, capsys):
    a = write(book / "notebooks" / "p1" / "a.ipynb", "x = 1")
    b = write(book / "notebooks" / "p1" / "b.ipynb", "y = 2")
    execute(a, progress=False)
    execute(b, progress=False)
    stored_a = a.read_text()
    nb = chapters.read(b)
    nb.cells[0].source = "y = 3"
    nbformat.write(nb, b)
    assert main(["--root", str(book), "execute", "--stale-only", "--jobs", "2",
                 "--no-test-timing"]) == 0
    out = capsys.readouterr().out
    assert "stored notebooks/p1/b.ipynb" in out and "p1/a.ipynb" not in out
    assert a.read_text() == stored_a, "a current chapter is left alone"
    assert chapters.stale_reasons(chapters.read(b)) == []
    assert main(["--root", str(book), "execute", "--stale-only", "--no-test-timing"]) == 0
    assert "nothing to run" in capsys.readouterr().out


def test_a_serial_run_records_that_the_chapter_ran_alone(book):
    a = write(book / "notebooks" / "p1" / "a.ipynb", "x = 1")
    [outcome] = list(execute_many([a], jobs=4, time_test=False, progress=False))
    assert outcome.ok and outcome.meta["parallel_jobs"] == 1


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_execute_many_rejects_a_bad_job_count(jobs):
    with pytest.raises(ValueError, match="jobs must be an int >= 1"):
        list(execute_many([], jobs=jobs))


def test_the_command_rejects_a_bad_job_count(book, capsys):
    with pytest.raises(SystemExit):
        main(["--root", str(book), "execute", "--jobs", "0"])
    assert "must be a whole number >= 1" in capsys.readouterr().err


def stored(path, runtimes, jobs=None, source="x = 1"):
    """A notebook as `dlbook execute` would leave it, without running it."""
    cell = new_code_cell(source, execution_count=1)
    nb = new_notebook(cells=[new_markdown_cell(f"# {path.stem}"), cell])
    meta = {"profile": "book", "code_sha256": chapters.code_hash(nb), "runtime_s": runtimes,
            "executed": "2026-01-01"}
    if jobs is not None:
        meta["parallel_jobs"] = jobs
    nb.metadata["dlbook"] = meta
    nbformat.write(nb, path)


def test_report_shows_how_each_time_was_measured_and_totals_per_part(book):
    stored(book / "notebooks" / "p1" / "a.ipynb", {"test": 12.0, "book": 150.0}, jobs=1)
    stored(book / "notebooks" / "p1" / "b.ipynb", {"test": 20.0, "book": 90.0}, jobs=2)
    stored(book / "notebooks" / "p2" / "c.ipynb", {"test": 30.0, "book": 60.0})
    page = chapters.execution_report(book)
    row = {name: next(ln for ln in page.splitlines() if f"/notebooks/{name}`" in ln)
           for name in ("p1/a", "p1/b", "p2/c")}
    assert "| alone |" in row["p1/a"] and "| 2 at once |" in row["p1/b"]
    assert "| – |" in row["p2/c"]
    assert "1 of the 3 chapters were measured in parallel" in page
    assert "| Part I — Basics | 2 | 32 s | 4.0 min |" in page
    assert "| Part II — More | 1 | 30 s | 60 s |" in page
    assert "| **all** | **3** | **62 s** | **5.0 min** |" in page


def test_report_falls_back_to_the_folder_for_a_chapter_outside_the_toc_parts(book):
    (book / "notebooks" / "p3").mkdir()
    stored(book / "notebooks" / "p3" / "d.ipynb", {"test": 6000.0, "book": 7200.0}, jobs=1)
    page = chapters.execution_report(book)
    assert "| p3 | 1 | 1.7 h | 2.0 h |" in page
