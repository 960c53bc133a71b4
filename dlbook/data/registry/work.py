"""Text at work (Part VII, "Language at work"): fortune-topics and fortunes (Debian's fortune
cookies by topic file, for routing short texts to teams) and package-summaries (the Python
packages of the book's own environment: README text and the author's one-line summary, for
extractive summarisation).

>>> parse_fortunes("Avoid temporary variables.\\n%\\nA  b\\n\\t\\t-- Anon\\n%\\n")
['Avoid temporary variables.', 'A b']
>>> is_test_text("Avoid strange women and temporary variables.")
False
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import DebianPackage, PythonPackage

FORTUNE_DIR = "/usr/share/games/fortunes"
TEST_PERCENT = 25
"""Share of texts held out, chosen by a fixed hash of the text itself (:func:`is_test_text`)."""
MAX_CHARS = 300
"""Only short fortunes are kept (after cleaning): the length of a ticket or a chat message."""

#: sha256 of every topic file of Debian's ``fortunes`` 1:1.99.1-7.3 that the corpus reads. Left
#: out: ``ethnic`` and ``men-women`` (jokes at groups' expense), ``ascii-art``, ``translate-me``
#: and ``pratchett`` (pictures, non-English, one entry); the ``off/`` (offensive) directory is a
#: separate package that is not installed.
FORTUNE_FILES = {
    "art": "600b8197bc994fd4fcbb623aa5e700629540af44f044d4907886bd1031f160ce",
    "computers": "a86be224d9f733b88eeaf8a46ea0427e05cc69c69edcf5f6db47ddf561ca37fd",
    "cookie": "5dc97eee96dcc5287c373be629482730d45f77b59da1287933c9c5f482a055eb",
    "debian": "491dd04bf909b64152bcb554b9bc88df0ca50c0dc676d74d10742bf38aaa50de",
    "definitions": "57be4744c353d931fa2ca95f50215d4b67539f5a527ae628a6441fb4a1258caa",
    "disclaimer": "c085d66ea68686d5e28852cef77c3eeb3640895c5647b148deeaaada2c07fa7b",
    "drugs": "a5a59ee8b0e1fd3085a38dfa29149fe9a2c8d7f256b74aea71aa2cc08a9990c1",
    "education": "ba13321d6d6beb7a6e65296a47450bfc87b24a319fff2e94762011b59a31aa35",
    "food": "78077a65b9288df71e7b2a8e8258cd3b1005d1282f7c7e57ad53927f374df45d",
    "goedel": "9d447862c803f22cdf7bb26cb70cca1a7f8a2a7992f2793ddcb43cfcf3302ab0",
    "humorists": "ffdf67e1f4049133bf904b769c364de45e5ae0abfb3ea7c9afb54b87b89acfc4",
    "kids": "82e51834990afd36f2ea2f25864b368e2f44f9c761aba034035b26061de6d5be",
    "knghtbrd": "c25e8373b38a6f159a7b1d336f363d5c962224a6ddcc86279dec47aad3c869b3",
    "law": "f04141f94e788b7899e0adb0490d182ce711f8fdbb8252343a5257e717e9279d",
    "linux": "85b0e5eadf7adeea77da4e1fbd456c962ce3bd1dabbd053098ecf37de9169cf3",
    "linuxcookie": "4f75959924ae5bb1955c30a5c985e641ec17cd5ebb7453d839f94b1988331202",
    "love": "4d4fb7c540e5500e44643524dae41dd7d2b21b80be184253fd9f8541f6029fc5",
    "magic": "b9553a1d84d966db55a24a779206cc4565bf3686c9ecbc31215f654129e3166e",
    "medicine": "18b8c7b098e649024159c9d9f3e37a0832bbd2d5cf3e2317b313134761afd487",
    "miscellaneous": "e3d81fd016f9f84a70ecb9aa197c4911aca01a8034e49345b81093f6751bba9c",
    "news": "4b8eebae510353d6f628dfdaf52bf8cbdafb891a122b146421c805b74f389617",
    "paradoxum": "85228975016fe975065eaf0baf55980d32d26f9e2fa99f69da4696d11ac02036",
    "people": "2afb4b9f577be114d2dca279bc5590ee8415e1405295d7d7626c888d82f338e8",
    "perl": "b19145eadf97c31add2e0a199d93ffa0eb92e00275c2724b7ad6b4e412113536",
    "pets": "084472564bc55df566733a224f8a737d78717132ec43628be0c2af466ac41ecc",
    "platitudes": "88448274efec3d2c0908cc11525c9b065b95a32c232a2c58c67a87dd88545ee5",
    "politics": "b56ca45a046edd5c459090a5c6b335332661b436e814b41ac87bb58065ad6131",
    "science": "7ab350b142ee6c70c1d8517c5a1b3790c09b190a62859427cad98e6e35a19fcc",
    "songs-poems": "eb714d297b468da91b6ca32baefb000279a3e3740b09f8a87db24fe58e010b1a",
    "sports": "b71dd524d7bca888ec1014fb849a8a15cf58017c59127e572d393ef7632c35c8",
    "startrek": "7b2e4c235b99452b2de4c47d67aae0faac2ea508a2d644609e4ef5db7653c39c",
    "tao": "4adddc35a122bb233a16c076abc0be0326ea3a68594146a6baee3b5f6489e12b",
    "wisdom": "9b0bd6b9331a68c9172219784a411c417c055ed69734edc7b4406795b87d4e94",
    "work": "ad8a0e104160e2c4782fa86e143cd60ffab2872985d4293ffd0af6df19dbfa28",
    "zippy": "b996a112c99a2d61782e1a9a1f3c5445122f18ac312485f2c78279e82ca33932",
}

#: the eight "teams" of the routing chapter: well populated and (mostly) about one subject
TOPICS = ("computers", "education", "food", "law", "love", "politics", "science", "sports")

_OVERSTRIKE = re.compile(r".\x08")
_ATTRIBUTION = re.compile(r"^\s*--\s.*$", re.M)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def parse_fortunes(raw: str) -> list[str]:
    """The entries of one fortune file (separated by lines holding only ``%``), each cleaned:
    terminal overstriking (``x\\bx``) and control characters removed, attribution lines (``-- Author``) dropped,
    whitespace collapsed; empty entries are skipped.

    >>> parse_fortunes("One.\\n%\\n\\n%\\nTwo\\x08o, lines\\n  here.\\n")
    ['One.', 'Two, lines here.']
    """
    if not isinstance(raw, str):
        raise TypeError(f"parse_fortunes takes the file's text (str), got {type(raw).__name__}; "
                        "read it with Path.read_text(encoding='utf-8')")
    entries = []
    for entry in re.split(r"^%[ \t]*$", raw, flags=re.M):
        text = _CONTROL.sub("", _ATTRIBUTION.sub("", _OVERSTRIKE.sub("", entry)))
        text = " ".join(text.split())
        if text:
            entries.append(text)
    return entries


def is_test_text(text: str, percent: int = TEST_PERCENT) -> bool:
    """Whether a text is held out: CRC-32 of its UTF-8 bytes modulo 100 below ``percent``. The
    split is part of the corpus (it never moves with a seed), and the same text is held out in
    every corpus that contains it.

    >>> [is_test_text(t) for t in ("a", "b", "c")]
    [True, False, False]
    """
    return zlib.crc32(text.encode("utf-8")) % 100 < percent


def fortune_table(paths, topics) -> tuple[list[str], list[int]]:
    """Short (<= :data:`MAX_CHARS`) distinct entries of the ``topics`` files with the index of
    their topic; an entry filed under two topics is dropped (its label would be a coin toss)."""
    seen: dict[str, set[int]] = {}
    for label, topic in enumerate(topics):
        for text in parse_fortunes(paths[topic].read_text(encoding="utf-8", errors="replace")):
            if len(text) <= MAX_CHARS:
                seen.setdefault(text, set()).add(label)
    kept = sorted((text, labels.pop()) for text, labels in seen.items() if len(labels) == 1)
    return [t for t, _ in kept], [y for _, y in kept]


def _fortune_reader(name: str, topics):
    def read(paths) -> Dataset:
        texts, labels = fortune_table(paths, topics)
        test = np.array([is_test_text(t) for t in texts])
        x, y = np.array(texts, dtype=object), np.array(labels, dtype="int64")
        return Dataset(name, x[~test], y[~test], x[test], y[test], list(topics), info=None,
                       feature_names=["text"])
    return read


def _fortune_source(topics) -> DebianPackage:
    return DebianPackage(files={t: (t, FORTUNE_FILES[t]) for t in topics}, package="fortunes",
                         path=FORTUNE_DIR)


_FORTUNE_CITATION = ("K. Arnold (1979 onwards) and the BSD games maintainers, fortune(6) and "
                     "its data files; Debian package fortunes 1:1.99.1-7.3 (fortune-mod).")
_FORTUNE_LICENSE = "BSD-4-Clause (fortune-mod); the sayings themselves are quotations and jokes " \
    "collected by the fortune-mod maintainers over decades"

register(
    DatasetInfo(
        name="fortune-topics",
        title="Fortune cookies filed under eight topics",
        task="text classification (routing): which of eight topic files holds the text?",
        shape="x: one saying, joke or quotation of <= 300 characters (object array of str); "
        "y: topic index",
        size="2,753 distinct texts: 2,070 train / 683 test, split by a hash of the text",
        license=_FORTUNE_LICENSE,
        source=f"Debian package fortunes: {FORTUNE_DIR}/{{computers, education, food, law, "
        "love, politics, science, sports}}",
        citation=_FORTUNE_CITATION,
        description="The 'fortune' program's sayings as filed by its maintainers under topic "
        "files: computers (818 texts), politics, science, education, food, law, love, sports "
        "(104). A short text and the team it belongs to, like a support ticket: the labels are "
        "real but noisy (a joke about a lawyer's computer sits under one of the two). Entries "
        "are cleaned (attribution lines '-- Author' removed, whitespace collapsed), longer "
        "ones dropped, as are texts filed under two topics.",
        sources=(_fortune_source(TOPICS),),
        reader=_fortune_reader("fortune-topics", TOPICS),
    )
)

register(
    DatasetInfo(
        name="fortunes",
        title="Fortune cookies, every topic file (unlabelled pretraining text)",
        task="language modelling / pretraining on short English texts; topic labels included",
        shape="x: one saying of <= 300 characters (object array of str); y: topic-file index",
        size="11,855 distinct texts in 35 topic files (8,895 train / 2,960 test), 25 % held out by a hash of the "
        "text (fortune-topics' test texts are never in the training part)",
        license=_FORTUNE_LICENSE,
        source=f"Debian package fortunes: {FORTUNE_DIR}/<topic> (35 files)",
        citation=_FORTUNE_CITATION,
        description="All topic files of Debian's fortunes package except ethnic and men-women "
        "(jokes at groups' expense), ascii-art, translate-me and pratchett; the offensive "
        "collection (fortunes-off) is a separate package and not used. Cleaned as "
        "fortune-topics; a held-out text of fortune-topics is held out here too, so an encoder "
        "pretrained on the training part has never read the routing test set.",
        sources=(_fortune_source(tuple(FORTUNE_FILES)),),
        reader=_fortune_reader("fortunes", tuple(FORTUNE_FILES)),
    )
)


# --- package-summaries ----------------------------------------------------------------------------

SUMMARY_TEST_PERCENT = 30
MAX_SENTENCES = 20
"""A document is the first 20 prose sentences of the README: where a package says what it is."""


def _package_metadata() -> list[tuple[str, str, str]]:
    import importlib.metadata as md

    found: dict[str, tuple[str, str, str]] = {}
    for dist in md.distributions():
        meta = dist.metadata
        name = (meta.get("Name") or "").strip()
        if not name or name.lower() in found:
            continue
        body = meta.get_payload() or meta.get("Description") or ""
        found[name.lower()] = (name, (meta.get("Summary") or "").strip(), str(body))
    return [found[k] for k in sorted(found)]


def summary_table(records, *, min_sentences: int = 3):
    """A DataFrame ``package, summary, sentences`` from ``(name, summary, readme)`` records:
    the README cleaned to prose (:func:`dlbook.routing.readme_sentences`, at most
    :data:`MAX_SENTENCES`), packages without a summary or with fewer than ``min_sentences``
    sentences dropped."""
    import pandas as pd

    from dlbook.routing import readme_sentences

    rows = []
    for name, summary, readme in records:
        sentences = readme_sentences(readme)[:MAX_SENTENCES]
        if len(summary.split()) >= 2 and len(sentences) >= min_sentences:
            rows.append({"package": name, "summary": summary, "sentences": sentences})
    return pd.DataFrame(rows, columns=["package", "summary", "sentences"])


def _read_package_summaries(records) -> Dataset:
    table = summary_table(records)
    test = table["package"].map(lambda n: is_test_text(n.lower(), SUMMARY_TEST_PERCENT))
    parts = []
    for rows in (table[~test], table[test]):
        rows = rows.reset_index(drop=True)
        parts += [rows[["package", "sentences"]], rows["summary"].to_numpy(dtype=object)]
    return Dataset("package-summaries", *parts, [], info=None,
                   feature_names=["package", "sentences"])


register(
    DatasetInfo(
        name="package-summaries",
        title="Python package READMEs with their authors' one-line summaries",
        task="extractive summarisation: pick the README sentence closest to the summary line",
        shape="x: DataFrame (package, sentences: list of str); y: the summary (object array "
        "of str)",
        size="174 packages of the book's pinned environment (constraints.txt): 115 train / "
        "59 test, held out by a hash of the package name",
        license="each package's own license (the metadata is published on PyPI); used here "
        "for evaluation only",
        source="importlib.metadata of the installed distributions: the core metadata fields "
        "Summary and Description (the README), as installed by `make setup`",
        citation="Python Packaging Authority, Core metadata specifications "
        "(packaging.python.org/specifications/core-metadata); the task follows T. T. H. Doan "
        "et al. (2023), Too long; didn't read: Automatic summarization of GitHub README.MD "
        "with Transformers, EASE 2023.",
        description="Every installed Python distribution that has a summary and a README with "
        "at least three prose sentences after markup, code, tables, badges and links are "
        "stripped. The summary line is written by the package's authors, independently of "
        "the README's sentences, so it is a real human reference, but a short one (a few "
        "words): a headline more than an abstract. The set follows the installed packages; "
        "with the pinned constraints.txt it is the same on every machine.",
        sources=(PythonPackage("importlib.metadata", "importlib-metadata (standard library)",
                               _package_metadata),),
        reader=_read_package_summaries,
    )
)
