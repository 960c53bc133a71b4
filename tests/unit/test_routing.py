"""Language-at-work helpers: ROUGE matches hand-computed values (Lin 2004's own examples),
the abstention curve routes the most confident texts first, zero-shot similarity picks the
closest label, the extractive baselines and sentence features do what they say, the corpora
load with fixed splits, and bad input is refused with the fix."""

import numpy as np
import pytest

from dlbook import routing
from dlbook.data.registry import work

# --- ROUGE ----------------------------------------------------------------------------------------


def test_rouge1_counts_shared_words_once_per_occurrence():
    # ref: the x2, cat, sat, on, mat; cand: the x2, cat, lay, on, mat -> 5 of 6 shared
    s = routing.rouge_n("The cat sat on the mat.", "the cat lay on the mat", 1)
    assert s.precision == pytest.approx(5 / 6) and s.recall == pytest.approx(5 / 6)
    assert s.fmeasure == pytest.approx(5 / 6)


def test_rouge2_shares_three_of_five_bigrams():
    s = routing.rouge_n("the cat sat on the mat", "the cat lay on the mat", 2)
    assert s == pytest.approx((0.6, 0.6, 0.6))   # the cat, on the, the mat


def test_rouge_n_clips_repeated_words():
    assert routing.rouge_n("the the the", "the", 1) == pytest.approx((1.0, 1 / 3, 0.5))
    assert routing.rouge_n("the", "the the the the", 1) == pytest.approx((0.25, 1.0, 0.4))


def test_rouge_l_reproduces_lin_2004_examples():
    ref = "police killed the gunman"
    assert routing.rouge_l(ref, "police kill the gunman").fmeasure == pytest.approx(0.75)
    assert routing.rouge_l(ref, "the gunman kill police").fmeasure == pytest.approx(0.5)


def test_rouge_l_uses_order_where_rouge1_does_not():
    ref = "a b c d"
    assert routing.rouge_n(ref, "d c b a", 1).fmeasure == 1.0
    assert routing.rouge_l(ref, "d c b a").fmeasure == pytest.approx(0.25)


def test_rouge_of_empty_or_too_short_text_is_zero():
    assert routing.rouge_n("a b", "", 1) == (0.0, 0.0, 0.0)
    assert routing.rouge_n("a", "a", 2) == (0.0, 0.0, 0.0)   # no bigrams at all
    assert routing.rouge_l("", "a b") == (0.0, 0.0, 0.0)


def test_corpus_rouge_is_the_mean_over_pairs():
    scores = routing.rouge(["a b c d", "x y"], ["a b", "q"])
    # pair 1: P 1, R 0.5 -> F 2/3; bigram "a b" of 3 -> P 1, R 1/3 -> 0.5; pair 2: 0
    assert scores["rouge1"] == pytest.approx((2 / 3) / 2)
    assert scores["rouge2"] == pytest.approx(0.5 / 2)
    assert scores["rougeL"] == pytest.approx((2 / 3) / 2)


def test_rouge_refuses_single_strings_and_mismatched_lists():
    with pytest.raises(TypeError, match="lists of texts"):
        routing.rouge("a b", "a b")
    with pytest.raises(ValueError, match="one candidate per reference"):
        routing.rouge(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="join a list"):
        routing.rouge_n(["a"], "a")
    with pytest.raises(ValueError, match="n must be a positive int"):
        routing.rouge_n("a", "a", 0)


# --- routing with abstention ----------------------------------------------------------------------


def test_coverage_curve_routes_the_most_confident_first():
    y = [0, 0, 1, 1]
    probs = [[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.55, 0.45]]   # the two unsure ones are wrong
    curve = routing.coverage_curve(y, probs, points=2)
    assert curve["accuracy"].tolist() == [1.0, 0.5]
    assert curve["threshold"].tolist() == [0.8, 0.55]
    assert routing.accuracy_at_coverage(y, probs, 1.0) == 0.5


def test_abstention_helps_a_calibrated_model():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 2_000)
    y = np.zeros(2_000, dtype=int)
    right = rng.random(2_000) < confidence                   # calibrated by construction
    probs = np.where(right[:, None], [[1, 0]], [[0, 1]]) * confidence[:, None]
    probs = probs + np.where(right[:, None], [[0, 1]], [[1, 0]]) * (1 - confidence[:, None])
    curve = routing.coverage_curve(y, probs, points=10)
    assert curve["accuracy"].iloc[0] > curve["accuracy"].iloc[-1] + 0.15


def test_coverage_helpers_refuse_bad_input():
    with pytest.raises(ValueError, match=r"\(n, classes\) matrix"):
        routing.coverage_curve([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="one label per row"):
        routing.coverage_curve([0], [[0.2, 0.8], [0.1, 0.9]])
    with pytest.raises(ValueError, match=r"coverage is a share"):
        routing.accuracy_at_coverage([0], [[1.0, 0.0]], 0)
    with pytest.raises(ValueError, match="NaN"):
        routing.coverage_curve([0], [[np.nan, 1.0]])


# --- zero-shot ------------------------------------------------------------------------------------


def test_zero_shot_picks_the_most_similar_label_and_temperature_keeps_the_winner():
    texts = np.array([[1.0, 0.1, 0.0], [0.0, 0.2, 3.0]])
    labels = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    sim = routing.cosine_similarity(texts, labels)
    for t in (0.01, 1.0):
        probs = routing.zero_shot_probs(sim, temperature=t)
        assert probs.argmax(axis=1).tolist() == [0, 1]
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    sharp = routing.zero_shot_probs(sim, temperature=0.01).max(axis=1)
    assert (sharp > routing.zero_shot_probs(sim, temperature=1.0).max(axis=1)).all()


def test_cosine_similarity_accepts_sparse_and_refuses_mismatched_sizes():
    import scipy.sparse as sp

    np.testing.assert_allclose(routing.cosine_similarity(sp.csr_matrix([[3.0, 4.0]]),
                                                         [[6.0, 8.0]]), [[1.0]])
    with pytest.raises(ValueError, match="differ in size"):
        routing.cosine_similarity([[1.0, 0.0]], [[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="temperature must be a positive"):
        routing.zero_shot_probs([[0.1]], temperature=0)


# --- sentences and extractive summaries -----------------------------------------------------------


def test_split_sentences_respects_abbreviations_and_initials():
    text = "We use it, i.e. daily. Prof. Ng and J. Doe agree! Version 2 is out. 3 bugs remain."
    assert routing.split_sentences(text) == [
        "We use it, i.e. daily.", "Prof. Ng and J. Doe agree!", "Version 2 is out.",
        "3 bugs remain."]
    with pytest.raises(TypeError, match="takes a str"):
        routing.split_sentences(["a."])


def test_readme_sentences_keeps_prose_and_drops_markup():
    readme = """Tool
====

.. image:: https://ci/badge.svg

Tool is a `small <https://x.org>`_ library for **parsing** logs.

::

    import tool
    tool.parse("x")

| table | row |

- It reads files, sockets and streams.
- See https://tool.org
"""
    assert routing.readme_sentences(readme) == [
        "Tool is a small library for parsing logs.", "It reads files, sockets and streams."]


def test_lead_and_textrank():
    doc = ["Cats purr.", "Cats and dogs play together.", "Dogs bark.", "Taxes are due in April."]
    assert routing.lead(doc) == "Cats purr."
    assert routing.textrank(doc) == "Cats and dogs play together."   # linked to both others
    scores = routing.textrank(doc, return_scores=True)
    assert scores.argmin() == 3 and scores.sum() == pytest.approx(1.0)
    assert routing.textrank(doc, 2).startswith("Cats purr.")  # document order
    with pytest.raises(TypeError, match="list of sentences"):
        routing.lead("One. Two.")


def test_sentence_features_mark_position_and_name():
    f = routing.sentence_features(["Pandas is a data library.", "It is fast.",
                                   "Install pandas 2.0 now."], name="pandas")
    assert f.shape == (3, len(routing.FEATURE_NAMES))
    col = dict(zip(routing.FEATURE_NAMES, f.T, strict=True))
    assert col["position"].tolist() == [0.0, 0.5, 1.0] and col["is_first"].tolist() == [1, 0, 0]
    assert col["names_package"].tolist() == [1.0, 0.0, 1.0]
    assert col["share_digits"][2] == pytest.approx(0.25)


def test_sentence_scorer_learns_to_rank_a_planted_word():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 20, size=(400, 6)).astype("int32")
    good = (ids == 7).any(axis=1).astype("float32")            # word 7 marks a good sentence
    features = rng.normal(size=(400, len(routing.FEATURE_NAMES))).astype("float32")
    model = routing.sentence_scorer(vocab_size=20)
    model.get_layer("scale").adapt(features)
    model.compile(keras.optimizers.Adam(1e-2), loss="mse")
    model.fit([ids, features], good, epochs=30, batch_size=64, verbose=0)
    score = model.predict([ids, features], verbose=0)[:, 0]
    assert score[good == 1].mean() > score[good == 0].mean() + 0.3


# --- the corpora ----------------------------------------------------------------------------------


def test_parse_fortunes_cleans_entries():
    raw = "Bo\x08old words.\n\t\t-- Somebody\n%\n\n%\nTwo\nlines.\n%\n"
    assert work.parse_fortunes(raw) == ["Bold words.", "Two lines."]
    with pytest.raises(TypeError, match="read_text"):
        work.parse_fortunes(b"x")


def test_fortune_topics_split_is_fixed_and_disjoint():
    from dlbook import data

    ds = data.load("fortune-topics")
    assert ds.class_names == list(work.TOPICS)
    assert set(ds.x_train).isdisjoint(ds.x_test)
    assert all(work.is_test_text(t) for t in ds.x_test[:50])
    assert max(map(len, ds.x_train)) <= work.MAX_CHARS
    pool = data.load("fortunes")
    assert set(ds.x_test).isdisjoint(pool.x_train)     # pretraining never sees routing tests
    assert not any("\x07" in t for t in pool.x_train)


def test_package_summaries_have_references_and_sentences():
    from dlbook import data

    ds = data.load("package-summaries")
    assert len(ds.x_train) > 50 and len(ds.x_test) > 20
    assert all(len(s) >= 3 for s in ds.x_test["sentences"])
    assert all(isinstance(s, str) and s for s in ds.y_test)
    assert set(ds.x_train["package"]).isdisjoint(ds.x_test["package"])
