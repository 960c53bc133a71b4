from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dlbook import chapters
from dlbook.template import new_chapter


@pytest.fixture
def book(tmp_path):
    """A minimal book: config, toc and a notebooks/ folder."""
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/example/book\n  branch: main\n"
    )
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/p/ch\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "notebooks" / "p").mkdir(parents=True)
    return tmp_path


def executed(sources, profile="book"):
    cells = [new_code_cell(src, execution_count=i + 1) for i, src in enumerate(sources)]
    nb = new_notebook(cells=cells)
    nb.metadata["dlbook"] = {"profile": profile, "code_sha256": chapters.code_hash(nb)}
    return nb


def test_a_fresh_book_run_is_current():
    assert chapters.stale_reasons(executed(["x = 1", "x"])) == []


def test_changed_code_is_stale():
    nb = executed(["x = 1"])
    nb.cells[0].source = "x = 2"
    assert chapters.stale_reasons(nb) == ["code changed since the outputs were stored"]


def test_trailing_whitespace_does_not_make_a_chapter_stale():
    nb = executed(["x = 1"])
    nb.cells[0].source = "x = 1\n\n"
    assert chapters.stale_reasons(nb) == []


def test_markdown_edits_do_not_make_a_chapter_stale():
    nb = executed(["x = 1"])
    nb.cells.insert(0, new_markdown_cell("# A better title"))
    assert chapters.stale_reasons(nb) == []


def test_outputs_from_the_test_profile_are_stale():
    assert "not 'book'" in chapters.stale_reasons(executed(["x = 1"], profile="test"))[0]


def test_cells_run_out_of_order_are_stale():
    nb = executed(["a = 1", "b = 2"])
    nb.cells[0].execution_count, nb.cells[1].execution_count = 2, 1
    assert any("top to bottom" in r for r in chapters.stale_reasons(nb))


def test_unexecuted_cells_are_stale():
    nb = executed(["a = 1", "b = 2"])
    nb.cells[1].execution_count = None
    assert any("top to bottom" in r for r in chapters.stale_reasons(nb))


def test_stored_errors_are_stale():
    nb = executed(["1/0"])
    nb.cells[0].outputs = [new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])]
    assert any("errors" in r for r in chapters.stale_reasons(nb))


def test_template_chapter_has_the_contract_shape_but_not_the_substance(book):
    path = new_chapter(book, Path("notebooks/p/ch.ipynb"), "A chapter")
    problems = chapters.contract_problems(chapters.read(path), path, book)
    # the scaffold carries title, summary, header fields, Colab link and sections ...
    assert not any("title" in p or "Colab" in p or "section" in p for p in problems), problems
    # ... but a chapter is only done with an outcome assert and a plot
    assert any("assert" in p for p in problems) and any("plot" in p for p in problems)


def test_contract_catches_a_missing_colab_link_and_sections(book):
    nb = new_notebook(cells=[new_markdown_cell("# Title\n\nSummary."), new_code_cell("import dlbook")])
    path = book / "notebooks" / "p" / "ch.ipynb"
    problems = "\n".join(chapters.contract_problems(nb, path, book))
    for expected in ("**You will learn**", "Colab", "takeaways", "exercises", "further reading",
                     "assert", "plot", "dlbook.setup", "dlbook.pick", "install dlbook only in Colab"):
        assert expected in problems


def test_colab_url_derives_from_the_repository_url(book):
    url = chapters.colab_url(book, book / "notebooks" / "p" / "ch.ipynb")
    assert url == "https://colab.research.google.com/github/example/book/blob/main/notebooks/p/ch.ipynb"
    assert chapters.colab_install_line(book) == '%pip install -q "dlbook @ git+https://github.com/example/book@main"'


def test_repository_url_must_be_github(book):
    (book / "_config.yml").write_text("repository:\n  url: ''\n")
    with pytest.raises(ValueError, match="repository.url"):
        chapters.repository(book)


def test_toc_problems_find_unlisted_and_missing_files(book):
    assert chapters.toc_problems(book) == ["_toc.yml lists 'notebooks/p/ch' but no notebooks/p/ch.md or notebooks/p/ch.ipynb exists"]
    nbformat.write(new_notebook(), book / "notebooks" / "p" / "ch.ipynb")
    nbformat.write(new_notebook(), book / "notebooks" / "p" / "extra.ipynb")
    assert chapters.toc_problems(book) == ["notebooks/p/extra.ipynb is not in _toc.yml"]


def test_new_chapter_refuses_to_overwrite_or_to_live_outside_notebooks(book):
    new_chapter(book, Path("notebooks/p/ch.ipynb"), "A")
    with pytest.raises(FileExistsError):
        new_chapter(book, Path("notebooks/p/ch.ipynb"), "A")
    with pytest.raises(ValueError, match="under notebooks/"):
        new_chapter(book, Path("elsewhere/ch.ipynb"), "A")
    with pytest.raises(ValueError, match=".ipynb"):
        new_chapter(book, Path("notebooks/p/ch.md"), "A")


def test_project_root_is_found_from_a_subfolder(book):
    assert chapters.project_root(book / "notebooks" / "p") == book.resolve()
    with pytest.raises(chapters.ProjectNotFound, match="_toc.yml"):
        chapters.project_root(book.parent)


def test_execution_report_lists_chapters_with_runtimes(book):
    nb = executed(["x = 1"])
    nb.cells.insert(0, new_markdown_cell("# Chapter one"))
    nb.metadata["dlbook"]["runtime_s"] = {"test": 12.0, "book": 150.0}
    nbformat.write(nb, book / "notebooks" / "p" / "ch.ipynb")
    page = chapters.execution_report(book)
    assert "{doc}`/notebooks/p/ch`" in page and "test 12 s · book 2.5 min" in page and "current" in page


def test_contract_flags_code_lines_the_site_would_cut(book):
    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("import sys"),
                             new_code_cell("x = " + "1 + " * 30 + "1")])
    problems = chapters.contract_problems(nb, book / "notebooks" / "p" / "ch.ipynb", book)
    assert any("longer than 80 characters: cell 2" in p for p in problems)


def test_runtime_header_is_rewritten_from_measurements():
    nb = new_notebook(cells=[new_markdown_cell("# T\n\n**Runtime** test ? s · book\n? min (2-core CPU)")])
    text = chapters.runtime_header(nb, {"test": 31.4, "book": 150.0})
    assert "**Runtime** test 31 s · book 2.5 min (2-core CPU)" in " ".join(text.split())


def test_contract_flags_a_runtime_header_that_disagrees_with_metadata(book):
    path = book / "notebooks" / "p" / "ch.ipynb"
    nb = executed(["x = 1"])
    nb.cells.insert(0, new_markdown_cell("# T\n\nSummary.\n\n**Runtime** test 10 s · book 20 s"))
    nb.metadata["dlbook"]["runtime_s"] = {"test": 30.0, "book": 60.0}
    problems = chapters.contract_problems(nb, path, book)
    assert any("disagrees with the measured test 30 s · book 60 s" in p for p in problems)
