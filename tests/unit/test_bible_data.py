import socket

import numpy as np
import pytest

from dlbook import data
from dlbook.data._sources import SourceUnavailable
from dlbook.data.registry import bible


@pytest.fixture(scope="module")
def ds():
    return data.load("bible-en-es")


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_bible_loads_offline_from_the_debian_sword_modules(no_network):
    ds = data.load("bible-en-es")
    assert "sword-text-web" in ds.source and "sword-text-sparv" in ds.source


def test_bible_holds_english_strings_paired_with_spanish_strings(ds):
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == object and y.dtype == object and len(x) == len(y)
        assert all(isinstance(s, str) and s for s in list(x) + list(y))
    assert "Jehová" in " ".join(ds.y_train) and "Yahweh" in " ".join(ds.x_train)


def test_bible_has_the_documented_size_and_short_english_sides(ds):
    assert len(ds.x_train) == 2782 and len(ds.x_test) == 395
    assert max(len(s.split()) for s in list(ds.x_train) + list(ds.x_test)) == 12


def test_bible_aligns_verse_by_verse():
    pairs = {p.reference: p for p in bible.read_verse_pairs()}
    assert len(pairs) > 30_000
    gen = pairs["Gen 1:1"]
    assert gen.english == "In the beginning, God created the heavens and the earth."
    assert gen.spanish == "EN el principio crió Dios los cielos y la tierra."
    assert pairs["John 11:35"].english == "Jesus wept."
    assert pairs["John 11:35"].spanish == "Y lloró Jesús."


def test_bible_text_carries_no_markup_footnotes_or_appendix():
    pairs = bible.read_verse_pairs()
    assert not any("<" in p.english + p.spanish or ">" in p.english + p.spanish for p in pairs)
    john = next(p for p in pairs if p.reference == "John 3:16")
    assert "only born Son" in john.english  # the footnote between the words is gone
    last = next(p for p in pairs if p.reference == "Rev 22:21")
    assert "Glossary" not in last.english and last.english.endswith("Amen.")


def test_bible_drops_verses_with_psalm_titles():
    refs = {p.reference for p in bible.read_verse_pairs()}
    assert "Ps 3:1" not in refs and "Ps 3:2" in refs


def test_bible_holds_out_whole_chapters(ds):
    pairs = bible.short_pairs()
    test_chapters = {(p.book, p.chapter) for p in pairs if p.is_test}
    train_chapters = {(p.book, p.chapter) for p in pairs if not p.is_test}
    assert test_chapters and not test_chapters & train_chapters
    assert 0.08 < len(ds.x_test) / len(pairs) < 0.2
    assert not set(zip(ds.x_test, ds.y_test, strict=True)) & set(
        zip(ds.x_train, ds.y_train, strict=True))


def test_is_test_chapter_is_a_fixed_function_of_the_chapter_name():
    assert bible.is_test_chapter("Gen", 1) is False
    share = np.mean([bible.is_test_chapter("Ps", c) for c in range(1, 151)])
    assert 0.05 < share < 0.3


def test_short_pairs_rejects_a_bad_word_limit():
    with pytest.raises(ValueError, match="positive int"):
        bible.short_pairs(0)


def test_clean_osis_removes_notes_tags_and_space_before_punctuation():
    raw = '<w lemma="x">God</w><note placement="foot">a note</note><w>said</w> , “<w>Go</w> ”.'
    assert bible.clean_osis(raw) == "God said, “Go”."


def test_bible_source_explains_how_to_install_what_is_missing(monkeypatch):
    source = data.info("bible-en-es").sources[0]
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(SourceUnavailable, match="pip install pysword"):
        source.fetch()
    assert "apt-get install sword-text-web sword-text-sparv" in source.how_to_get()
