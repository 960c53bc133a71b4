"""A new chapter that already meets the notebook contract's shape (``dlbook new``)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from dlbook.chapters import NOTEBOOK_DIR, colab_install_line, colab_url

COLAB_CELL = """import sys

if "google.colab" in sys.modules:  # only in Colab: install dlbook
    {install}"""

SETUP_CELL = """import dlbook

dlbook.setup(seed=42)"""

PROFILE_CELL = """# Sizes per profile: test (CI, <= 60 s), book (the site, <= 5 min), full (a GPU).
N_TRAIN = dlbook.pick(test=500, book=5_000, full=60_000)
EPOCHS = dlbook.pick(test=3, book=20, full=50)"""


def header(title: str, colab: str) -> str:
    return f"""# {title}

One or two sentences: what this model is and what the reader will see it do.

**You will learn** … · … · …
**Data** … · **Runtime** test ? s · book ? min (2-core CPU) · [Open in Colab]({colab})"""


SECTIONS = [
    "## The idea\n\nPlain words and one picture.",
    "## The mechanism\n\nSmall enough to read: the maths or a from-scratch version.",
    "## The Keras way",
    "## The experiment\n\nReal data, a baseline to beat, the model, the right metrics.",
    "## Where it is used and where it fails",
    "## Key takeaways\n\n- …",
    "## Exercises\n\n1. …",
    "## Further reading\n\n- …",
]


def new_chapter(root: Path, path: Path, title: str) -> Path:
    """Create ``path`` (under ``notebooks/``) from the chapter template and return it."""
    path = (root / path).resolve() if not path.is_absolute() else path
    if path.suffix != ".ipynb":
        raise ValueError(f"a chapter is a .ipynb file, got {path.name}")
    if (root / NOTEBOOK_DIR).resolve() not in path.parents:
        raise ValueError(f"chapters live under {NOTEBOOK_DIR}/<part>/, got {path}")
    if path.exists():
        raise FileExistsError(f"{path} exists; pick another name or edit it")
    if not title.strip():
        raise ValueError("the chapter needs a --title")
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [
        new_markdown_cell(header(title.strip(), colab_url(root, path))),
        new_code_cell(COLAB_CELL.format(install=colab_install_line(root))),
        new_code_cell(SETUP_CELL),
        new_code_cell(PROFILE_CELL),
    ]
    for section in SECTIONS:
        cells.append(new_markdown_cell(section))
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.write(nb, path)
    return path
