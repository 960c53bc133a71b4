import subprocess
import sys
from pathlib import Path

import pytest

from dlbook.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *args):
    code = main(["--root", str(ROOT), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_shows_each_chapter_with_profile_runtime_and_status(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    line = next(ln for ln in out.splitlines() if "first-deep-network" in ln)
    assert "book" in line and line.rstrip().endswith("ok")


def test_data_list_marks_offline_availability(capsys):
    code, out, _ = run(capsys, "data", "list")
    assert code == 0
    for name in ("digits", "breast_cancer", "mnist-5k", "fashion-mnist"):
        assert name in out
    assert "offline:" in out


def test_data_info_prints_citation_and_sources(capsys):
    code, out, _ = run(capsys, "data", "info", "fashion-mnist")
    assert code == 0 and "arXiv:1708.07747" in out and "dataset-fashion-mnist" in out


def test_data_info_unknown_name_is_a_clear_error(capsys):
    code, _, err = run(capsys, "data", "info", "fashion")
    assert code == 2 and "did you mean 'fashion-mnist'" in err


def test_doctor_reports_versions_backend_and_datasets(capsys):
    code, out, _ = run(capsys, "doctor")
    assert code == 0
    for part in ("keras", "backend tensorflow", "profile", "ok  digits", "ok  fashion-mnist"):
        assert part in out


def test_report_writes_the_execution_report(tmp_path, capsys):
    target = tmp_path / "report.md"
    code, _, _ = run(capsys, "report", "-o", str(target))
    assert code == 0 and "first-deep-network" in target.read_text()


def test_execute_rejects_a_path_that_is_not_a_notebook(capsys, tmp_path):
    code, _, err = run(capsys, "execute", str(tmp_path / "missing.ipynb"))
    assert code == 2 and "not a notebook file" in err


def test_execute_refuses_to_store_another_profile(tmp_path):
    from dlbook.config import ProfileError
    from dlbook.execute import execute

    with pytest.raises(ProfileError, match="must come from the 'book' profile"):
        execute(tmp_path / "x.ipynb", profile="test")


def test_commands_outside_a_book_name_the_fix(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["list"]) == 2
    assert "run this inside the dlbook repository" in capsys.readouterr().err


def test_a_bad_profile_is_reported_not_raised(capsys, monkeypatch):
    monkeypatch.setenv("DLBOOK_PROFILE", "tiny")
    code, _, err = run(capsys, "doctor")
    assert code == 2 and "unknown profile 'tiny'" in err


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "dlbook"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "execute" in out.stdout and "doctor" in out.stdout


def test_new_scaffolds_a_chapter(tmp_path, capsys):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "notebooks").mkdir()
    code = main(["--root", str(tmp_path), "new", "notebooks/x/ch.ipynb", "--title", "T"])
    assert code == 0 and (tmp_path / "notebooks/x/ch.ipynb").is_file()
    assert "- file: notebooks/x/ch" in capsys.readouterr().out
