import math

import pytest

from dlbook import metrics


def test_bleu_of_identical_corpora_is_100_and_of_disjoint_ones_is_0():
    refs = ["in the beginning god created the heavens", "and the earth was empty"]
    assert metrics.bleu(refs, refs) == 100.0
    assert metrics.bleu(refs, ["x y z w v u", "p q r s t"]) == 0.0


def test_bleu_matches_a_hand_computed_case():
    # clipped precisions 4/5, 3/4, 2/3, 1/2; equal lengths, so no brevity penalty
    expected = 100 * (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    assert metrics.bleu(["a b c d f"], ["a b c d e"]) == pytest.approx(expected, abs=0.01)


def test_bleu_clips_repeated_words_to_their_reference_count():
    # "the the the the" against "the cat": unigram precision 1/4, no bigram match
    assert metrics.bleu(["the cat"], ["the the the the"], max_order=1) == 25.0


def test_bleu_brevity_penalty_punishes_short_hypotheses():
    assert metrics.bleu(["a b c d e f"], ["a b c d"]) == pytest.approx(
        100 * math.exp(1 - 6 / 4), abs=0.01)
    # a longer hypothesis pays no penalty, only in precision
    assert metrics.bleu(["a b c d"], ["a b c d"]) == 100.0


def test_bleu_pools_counts_over_the_corpus_not_an_average_of_sentences():
    refs, hyps = ["a b c d", "e f g h"], ["a b c d", "e f x y"]
    pooled = 100 * (6 / 8 * 4 / 6 * 2 / 4 * 1 / 2) ** 0.25
    assert metrics.bleu(refs, hyps) == pytest.approx(pooled, abs=0.01)


def test_bleu_smoothing_gives_short_partial_matches_credit():
    refs, hyps = ["the cat is on the mat"], ["the cat sat on the mat"]
    assert metrics.bleu(refs, hyps) == 0.0  # no matching 4-gram
    epsilon = 100 * (5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25
    assert metrics.bleu(refs, hyps, smoothing="epsilon") == pytest.approx(epsilon, abs=0.01)
    add_one = 100 * (5 / 6 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25
    assert metrics.bleu(refs, hyps, smoothing="add-one") == pytest.approx(add_one, abs=0.01)


def test_bleu_takes_several_references_and_the_closest_length():
    assert metrics.bleu([["the cat", "a cat sat here"]], ["a cat sat here"]) == 100.0


def test_bleu_splits_punctuation_and_can_ignore_case():
    assert metrics.bleu(["Dijo Dios: Sea la luz."], ["dijo dios : sea la luz ."],
                        lowercase=True) == 100.0


def test_bleu_rejects_a_bare_string_and_mismatched_lengths():
    with pytest.raises(TypeError, match="wrap a single sentence"):
        metrics.bleu("a b", "a b")
    with pytest.raises(ValueError, match="one reference"):
        metrics.bleu(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="smoothing"):
        metrics.bleu(["a"], ["a"], smoothing="floor")


def test_chrf_of_identical_text_is_100_and_of_disjoint_characters_is_0():
    assert metrics.chrf(["la luz"], ["la luz"]) == 100.0
    assert metrics.chrf(["abc"], ["xyz"]) == 0.0


def test_chrf_matches_a_hand_computed_case():
    # orders 1..3 exist: matches 2/3, 1/2, 0/1 on both sides, so P = R = 7/18
    assert metrics.chrf(["abd"], ["abc"]) == pytest.approx(100 * 7 / 18, abs=0.01)


def test_chrf_weighs_recall_more_than_precision():
    # hypothesis "ab" of reference "abcd": precision 1 (orders 1-2), recall averaged over the
    # reference's four orders: 2/4, 1/3, 0/2, 0/1
    p, r = 1.0, (2 / 4 + 1 / 3) / 4
    f2 = 5 * p * r / (4 * p + r)
    assert metrics.chrf(["abcd"], ["ab"]) == pytest.approx(100 * f2, abs=0.01)
    assert metrics.chrf(["ab"], ["abcd"]) > metrics.chrf(["abcd"], ["ab"])


def test_chrf_ignores_spaces_and_gives_partial_credit_for_inflections():
    assert metrics.chrf(["la luz"], ["laluz"]) == 100.0
    assert 30 < metrics.chrf(["habló"], ["hablaron"]) < 70


def test_chrf_rejects_bad_arguments_with_the_fix():
    with pytest.raises(TypeError, match="wrap a single sentence"):
        metrics.chrf(["a"], "a")
    with pytest.raises(ValueError, match="beta"):
        metrics.chrf(["a"], ["a"], beta=0)
