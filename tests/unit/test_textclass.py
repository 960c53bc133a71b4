import numpy as np
import pytest

from dlbook import textclass
from dlbook.seq2seq import UNK

TEXTS = ["A fine film.", "A dull film.", "Fine acting, dull plot."]


def test_word_encoder_pads_cuts_and_maps_unseen_words_to_unk():
    enc = textclass.WordEncoder.fit(TEXTS, min_count=2)
    ids = enc.encode(["a fine film about nothing", "film"], max_len=4)
    assert ids.shape == (2, 4) and ids.dtype == np.int32
    assert ids[0, 3] == UNK                 # "about" was never seen
    assert ids[1].tolist()[1:] == [0, 0, 0]  # right padding
    assert (ids < enc.vocab_size).all()


def test_word_encoder_tokens_mark_unknown_words_and_match_encode():
    enc = textclass.WordEncoder.fit(TEXTS, min_count=2)
    tokens = enc.tokens("A fine premise", max_len=10)
    assert tokens == ["a", "fine", "premise*"]
    assert len(tokens) == (enc.encode(["A fine premise"], max_len=10) > 0).sum()


def test_word_encoder_rejects_a_single_string_and_bad_max_len():
    enc = textclass.WordEncoder.fit(TEXTS, min_count=1)
    with pytest.raises(TypeError, match="wrap it"):
        enc.encode("a fine film", max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        enc.encode(["a"], max_len=0)
    with pytest.raises(TypeError, match="Vocabulary"):
        textclass.WordEncoder(["a", "b"])


def test_tfidf_logreg_learns_a_separable_toy_task_and_validates_arguments():
    x = ["great fun", "awful bore", "fun and great", "a bore, awful"] * 3
    y = [1, 0, 1, 0] * 3
    clf = textclass.tfidf_logreg(10, min_df=1).fit(x, y)
    assert clf.score(x, y) == 1.0
    with pytest.raises(ValueError, match="analyzer"):
        textclass.tfidf_logreg(analyzer="words")
    with pytest.raises(ValueError, match="positive"):
        textclass.tfidf_logreg(0)


def test_tune_tfidf_scores_every_c_and_prefers_stronger_regularisation_on_ties():
    x = ["great fun", "awful bore", "fun and great", "a bore, awful"] * 3
    y = [1, 0, 1, 0] * 3
    best, scores = textclass.tune_tfidf(x, y, x, y, Cs=(0.1, 1, 10), min_df=1)
    assert set(scores) == {0.1, 1, 10} and all(0 <= s <= 1 for s in scores.values())
    assert best == min(c for c, s in scores.items() if s == max(scores.values()))
    with pytest.raises(ValueError, match="Cs is empty"):
        textclass.tune_tfidf(x, y, x, y, Cs=())
    with pytest.raises(ValueError, match="differ in length"):
        textclass.tune_tfidf(x, y[:-1], x, y)
