"""bible-en-es: short English–Spanish verse pairs from two public-domain Bibles.

The World English Bible (SWORD module ``engWEB2015eb``, Debian ``sword-text-web``) and the
Reina-Valera 1909 (``spaRV1909eb``, Debian ``sword-text-sparv``) are read in place from
``/usr/share/sword`` with :mod:`pysword` and aligned verse by verse. A verse is one "sentence
pair" for translation: ``x_*`` holds English strings, ``y_*`` the Spanish translations.

Reading both Bibles takes 1.6 s on a 2-core machine (up to 5 s when it is busy): pysword
decompresses a whole book for every verse, so the reader keeps the last decompressed block of
each module. The pairs are kept in memory after the first load; no disk cache is needed.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import DebianPackage, SourceUnavailable

SWORD_ROOT = "/usr/share/sword"
ENGLISH, SPANISH = "engWEB2015eb", "spaRV1909eb"
MAX_ENGLISH_WORDS = 12
"""Keep pairs whose English verse has at most this many words (whitespace-separated)."""
TEST_PERCENT = 15
"""Share of chapters held out, chosen by a fixed hash of the chapter's name (see
:func:`is_test_chapter`)."""

_MODULE_FILES = {
    f"mods.d/{ENGLISH}.conf": "cee96a54c0240a73f6328163d454285f2947bc23449106db6c08a952e28fdcd6",
    f"mods.d/{SPANISH}.conf": "532faab4404b9cac206084e57c006daea0f947562e7016733466b5a7a5fb39cb",
    **{f"modules/texts/ztext/{ENGLISH}/{name}": sha for name, sha in {
        "nt.bzs": "bec87a360bbc6bfbcd7de513edf928ceebb428dd2baff813aebf521bb0c6cc83",
        "nt.bzv": "bb7a522d8323ccd7be462fca4dcd53c06d966c140fe260a6295e05393d259338",
        "nt.bzz": "5429389d9331b7a86901a73afa74f32d089cae3d5bd8dfe304b11808714a69ba",
        "ot.bzs": "2c16645bb829c05b20f39769e1fa23212743335143833a819f29e412c6def8ce",
        "ot.bzv": "dbd3b762b7159c5dd4b535f75b6ab643fb62ae44f4655aff3c5098a955a1ae57",
        "ot.bzz": "4633066d3872f1a3e600d2d10e667a13cd6c32bf116ca971d3c8f288bc3ea453",
    }.items()},
    **{f"modules/texts/ztext/{SPANISH}/{name}": sha for name, sha in {
        "nt.bzs": "b88dda1e9ab50d158262ab141af7823269acb19c581621683298be5b6e154d58",
        "nt.bzv": "a9583ba1b4c66dfdd8bfb6a0b1833bdaa02f9e2cc3465c5a802cf19cbc2f2533",
        "nt.bzz": "7baf6b1e798b193315fed89d0e84e8e1a033d035316f66c78d456f5fb8c87e20",
        "ot.bzs": "0e39106ae15a29cef56feac683f8482be380536a1c456e006867f9fa94c0338e",
        "ot.bzv": "0f23b1ebff5ecdd352a64feda5bb047cba27ce3624fa7b00717f763835d96e20",
        "ot.bzz": "daae868e179e6cc884ad2c9429a9dfaf9745d61caa6dbb9da2a8b24ec3c01337",
    }.items()},
}


@dataclass(frozen=True)
class SwordBibles(DebianPackage):
    """The two SWORD modules (Debian packages) plus the :mod:`pysword` reader."""

    def fetch(self) -> dict[str, Path]:
        if importlib.util.find_spec("pysword") is None:
            raise SourceUnavailable("install the Python package: pip install pysword")
        return super().fetch()


# What is not verse text: footnotes, headings and psalm titles, and anything after the end of a
# book (the WEB appends its glossary to the last verse of Revelation).
_DROP = re.compile(r"<note\b.*?</note>|<title\b.*?</title>", re.S)
_END_OF_CHAPTER = re.compile(r"<chapter eID=")
_TAG = re.compile(r"<[^>]+>")
_SPACE_BEFORE = re.compile(r" ([,.;:!?’”)])")


def verse_markup(markup: str) -> str:
    """The markup of the verse itself: what follows the end-of-chapter tag (the next book's
    introduction, the WEB's glossary after Revelation 22:21) is cut off.

    >>> verse_markup('<w>Amen</w>. <chapter eID="Rev.22"/><title>Glossary</title>')
    '<w>Amen</w>. '
    """
    end = _END_OF_CHAPTER.search(markup)
    return markup[: end.start()] if end else markup


def clean_osis(markup: str) -> str:
    """The plain text of one verse of OSIS markup: footnotes, titles and tags removed, spaces
    normalised.

    >>> clean_osis('<w lemma="strong:G2316">God</w><note placement="foot">n.</note>'
    ...            '<w>loved</w> <w>the</w> <w>world</w> , <chapter eID="John.3"/> glossary')
    'God loved the world,'
    """
    text = _TAG.sub("", _DROP.sub(" ", verse_markup(markup)))
    text = re.sub(r"\s+", " ", text).strip()
    return _SPACE_BEFORE.sub(r"\1", text)


def is_test_chapter(book: str, chapter: int, percent: int = TEST_PERCENT) -> bool:
    """Whether a chapter is held out: the CRC-32 of ``"Book.chapter"`` modulo 100 is below
    ``percent``. Fixed and independent of any seed, so the split never moves; whole chapters are
    held out so that no test verse has its neighbours in training.

    >>> is_test_chapter("John", 3), is_test_chapter("Gen", 1)
    (False, False)
    """
    return zlib.crc32(f"{book}.{chapter}".encode()) % 100 < percent


@dataclass(frozen=True)
class VersePair:
    """One aligned verse: its reference, the English and Spanish text, and its split."""

    book: str
    chapter: int
    verse: int
    english: str
    spanish: str

    @property
    def reference(self) -> str:
        return f"{self.book} {self.chapter}:{self.verse}"

    @property
    def is_test(self) -> bool:
        return is_test_chapter(self.book, self.chapter)


@functools.lru_cache(maxsize=2)
def read_verse_pairs(root: str = SWORD_ROOT) -> tuple[VersePair, ...]:
    """Every verse both Bibles have, cleaned, in canonical order (31k pairs, about 1.5 s).

    Verses are aligned by book, chapter and verse number of the Spanish module's (KJV)
    versification. Pairs are dropped when either side is empty (RV1909 joins a few verses into
    one) or when the English verse carries a psalm title (RV1909 prints it inside verse 1 as
    plain text, so the two sides would not match).
    """
    from pysword.modules import SwordModules

    modules = SwordModules(root)
    modules.parse_modules()
    english = modules.get_bible_from_module(ENGLISH)
    spanish = modules.get_bible_from_module(SPANISH)
    for bible in (english, spanish):  # keep the decompressed book between verses
        bible._decompressed_text = functools.lru_cache(maxsize=2)(bible._decompressed_text)
    english_books = {b.osis_name: b for part in english.get_structure().get_books().values()
                     for b in part}
    pairs = []
    for part in spanish.get_structure().get_books().values():
        for book in part:
            other = english_books[book.osis_name]
            for chapter in range(1, book.num_chapters + 1):
                es = list(spanish.get_iter(books=[book.osis_name], chapters=[chapter],
                                           clean=False))
                en = list(english.get_iter(books=[book.osis_name], chapters=[chapter],
                                           clean=False))
                for verse, (en_raw, es_raw) in enumerate(zip(en, es, strict=False), start=1):
                    en_text, es_text = clean_osis(en_raw), clean_osis(es_raw)
                    titled = "<title" in verse_markup(en_raw)
                    if en_text and es_text and not titled:
                        pairs.append(VersePair(book.osis_name, chapter, verse, en_text, es_text))
            assert other.num_chapters >= book.num_chapters
    return tuple(pairs)


def short_pairs(max_words: int = MAX_ENGLISH_WORDS, root: str = SWORD_ROOT) -> list[VersePair]:
    """The pairs whose English side has at most ``max_words`` words, duplicates removed (the
    first occurrence of each (English, Spanish) pair is kept)."""
    if not isinstance(max_words, int) or max_words < 1:
        raise ValueError(f"max_words must be a positive int, got {max_words!r}")
    seen, kept = set(), []
    for pair in read_verse_pairs(root):
        key = (pair.english, pair.spanish)
        if len(pair.english.split()) <= max_words and key not in seen:
            seen.add(key)
            kept.append(pair)
    return kept


def _read_bible(paths: dict[str, Path]) -> Dataset:
    root = str(Path(paths[f"mods.d/{ENGLISH}.conf"]).parent.parent)
    pairs = short_pairs(root=root)
    train = [p for p in pairs if not p.is_test]
    test = [p for p in pairs if p.is_test]

    def column(rows, side):
        return np.array([getattr(p, side) for p in rows], dtype=object)

    return Dataset(
        "bible-en-es", column(train, "english"), column(train, "spanish"),
        column(test, "english"), column(test, "spanish"), [], info=None,
        feature_names=["english"],
    )


register(
    DatasetInfo(
        name="bible-en-es",
        title="English–Spanish Bible verse pairs (World English Bible / Reina-Valera 1909)",
        task="machine translation, English to Spanish (sequence to sequence)",
        shape="object arrays of str: x_* English verses, y_* their Spanish translations",
        size="3,177 distinct pairs with at most 12 English words (of 30,939 aligned verses): "
        "2,782 train / 395 test, whole chapters held out",
        license="public domain (both translations; 'World English Bible' is a trademark of "
        "eBible.org, used here unchanged)",
        source="Debian packages sword-text-web and sword-text-sparv (SWORD modules in "
        "/usr/share/sword), read with PyPI pysword",
        citation="World English Bible (2020 stable text, eBible.org), SWORD module engWEB2015eb "
        "426.0; Santa Biblia, Reina-Valera revision of 1909, SWORD module spaRV1909eb "
        "(CrossWire Bible Society)",
        description="Verses are aligned by book, chapter and verse number; footnotes, headings "
        "and OSIS markup are removed, punctuation and the 1909 spelling (e.g. the accented "
        "preposition 'á') are kept. Verses with a psalm title are dropped (the Spanish module "
        "prints the title inside verse 1), as are verses one side leaves empty and duplicate "
        "pairs. Only pairs with at most 12 English words are kept. The split is fixed: a "
        "chapter is held out when crc32('Book.chapter') % 100 < 15, so every test verse comes "
        "from a chapter never seen in training (formulaic verses such as 'Yahweh spoke to "
        "Moses, saying,' still recur across chapters, as they do in the text).",
        sources=(
            SwordBibles(
                files={name: (name, sha) for name, sha in _MODULE_FILES.items()},
                package="sword-text-web sword-text-sparv", path=SWORD_ROOT,
            ),
        ),
        reader=_read_bible,
    )
)
