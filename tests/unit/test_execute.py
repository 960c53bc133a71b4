"""`dlbook execute` on tiny notebooks (no TensorFlow, so each run takes a second or two)."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from dlbook import chapters
from dlbook.cli import main
from dlbook.execute import execute


@pytest.fixture
def book(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def write(path, *sources):
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), path)
    return path


def test_execute_stores_book_outputs_and_run_metadata(book):
    path = write(book / "notebooks" / "ch.ipynb", "import os\nprint(os.environ['DLBOOK_PROFILE'])", "6 * 7")
    meta = execute(path, time_test=True, progress=False)
    nb = chapters.read(path)
    assert nb.cells[0].outputs[0]["text"] == "book\n"
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "42"
    assert meta == nb.metadata["dlbook"]
    assert meta["profile"] == "book" and meta["code_sha256"] == chapters.code_hash(nb)
    assert set(meta["runtime_s"]) == {"test", "book"}
    assert {"python", "keras", "numpy"} <= set(meta["versions"])
    assert chapters.stale_reasons(nb) == []


def test_execute_runs_in_the_notebooks_folder(book):
    (book / "notebooks" / "part").mkdir()
    path = write(book / "notebooks" / "part" / "ch.ipynb", "import os\nos.getcwd()")
    execute(path, progress=False)
    assert chapters.read(path).cells[0].outputs[0]["data"]["text/plain"].endswith("part'")


def test_a_failing_chapter_keeps_its_stored_outputs(book, capsys):
    path = write(book / "notebooks" / "ch.ipynb", "x = 1")
    execute(path, progress=False)
    before = path.read_text()
    nb = chapters.read(path)
    nb.cells[0].source = "raise RuntimeError('broken chapter')"
    nbformat.write(nb, path)
    code = main(["--root", str(book), "execute", "--no-test-timing", str(path)])
    assert code == 1
    assert "broken chapter" in capsys.readouterr().err
    assert chapters.read(path).cells[0].outputs == nbformat.reads(before, 4).cells[0].outputs
