import math

import keras
import numpy as np
import pytest

from dlbook.text import (
    CharTokenizer,
    NGramModel,
    UnknownCharacterError,
    bits_per_char,
    eval_windows,
    nats_to_bits,
    sample,
    window_starts,
    windows,
)

TEXT = "to be, or not to be, that is the question: " * 30


def test_tokenizer_round_trips_and_sorts_its_vocabulary():
    tok = CharTokenizer.fit(TEXT)
    ids = tok.encode(TEXT)
    assert ids.dtype == np.int32 and tok.decode(ids) == TEXT
    assert tok.vocab == sorted(set(TEXT)) and tok.vocab_size == len(tok) == len(set(TEXT))


def test_tokenizer_fits_on_several_texts():
    assert CharTokenizer.fit(["ab", "bc"]).vocab == ["a", "b", "c"]


def test_unknown_character_error_names_the_fix():
    tok = CharTokenizer.fit("abc")
    with pytest.raises(UnknownCharacterError, match=r"'xz'.*CharTokenizer.fit.*errors='skip'"):
        tok.encode("axbz")
    assert tok.encode("axbz", errors="skip").tolist() == [0, 1]


def test_decode_rejects_ids_from_another_tokenizer():
    with pytest.raises(ValueError, match="different tokenizer"):
        CharTokenizer.fit("ab").decode([0, 5])


def test_windows_pair_each_input_with_the_next_character():
    ids = np.arange(100, dtype=np.int32)
    x, y = next(iter(windows(ids, 8, batch_size=4, seed=1)))
    assert x.shape == y.shape == (4, 8) and x.dtype.name == "int32"
    np.testing.assert_array_equal(y.numpy(), x.numpy() + 1)


def test_windows_shuffle_is_seeded_and_repeat_cycles():
    ids = np.arange(200)
    a = next(iter(windows(ids, 4, batch_size=8, seed=3)))[0].numpy()
    b = next(iter(windows(ids, 4, batch_size=8, seed=3)))[0].numpy()
    assert np.array_equal(a, b) and not np.array_equal(a[:, 0], np.arange(0, 32, 4))
    n_batches = len(window_starts(200, 4)) // 8
    assert len(list(windows(ids, 4, batch_size=8).take(n_batches + 5))) == n_batches
    assert len(list(windows(ids, 4, batch_size=8, repeat=True).take(n_batches + 5))) == n_batches + 5


def test_windows_reject_a_text_too_short_for_one_batch():
    with pytest.raises(ValueError, match="lower batch_size or seq_len"):
        windows(np.arange(20), 8, batch_size=4)
    with pytest.raises(ValueError, match="CharTokenizer.encode"):
        windows(np.array([0.5, 1.5]), 1)


def _constant_model(vocab: int, logits: list[float]) -> keras.Model:
    init = keras.initializers.Constant([logits] * vocab)
    return keras.Sequential([keras.Input((None,), dtype="int32"),
                             keras.layers.Embedding(vocab, vocab, embeddings_initializer=init)])


def test_bits_per_char_of_a_uniform_model_is_log2_of_the_vocabulary():
    model = _constant_model(8, [0.0] * 8)
    assert bits_per_char(model, np.arange(500) % 8, seq_len=16) == pytest.approx(3.0)


def test_bits_per_char_scores_the_probability_given_to_each_target():
    # P(target) = 0.5 for every character: exactly 1 bit
    model = _constant_model(2, [0.0, 0.0])
    assert bits_per_char(model, np.zeros(300, dtype=int), seq_len=10, max_windows=5) == pytest.approx(1.0)
    confident = _constant_model(2, [10.0, 0.0])
    assert bits_per_char(confident, np.zeros(300, dtype=int), seq_len=10) < 0.001


def test_sample_is_greedy_at_zero_temperature_and_seeded_above():
    tok = CharTokenizer.fit("abcd")
    model = _constant_model(4, [0.0, 3.0, 0.0, 0.0])
    assert sample(model, tok, "a", 10, temperature=0) == "b" * 10
    hot = sample(model, tok, "a", 200, temperature=5.0, seed=1)
    assert hot == sample(model, tok, "a", 200, temperature=5.0, seed=1)
    assert len(hot) == 200 and set(hot) == set("abcd")  # high temperature: nearly uniform
    cold = sample(model, tok, "a", 200, temperature=0.3, seed=1)
    assert cold.count("b") > 190


def test_sample_rejects_a_negative_temperature():
    tok = CharTokenizer.fit("ab")
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample(_constant_model(2, [0.0, 0.0]), tok, "a", 3, temperature=-1)


@pytest.mark.parametrize("smoothing,order", [("kneser-ney", 1), ("kneser-ney", 3),
                                             ("kneser-ney", 5), ("add-k", 3)])
def test_ngram_probabilities_sum_to_one_for_any_context(smoothing, order):
    tok = CharTokenizer.fit(TEXT + "xyz")
    model = NGramModel(order, smoothing, tokenizer=tok).fit(TEXT)
    for context in ["to be, or not to b", "q", "zyx zyx"]:
        probs = [math.exp(model.log_probs(context + c)[-1]) for c in tok.vocab]
        assert sum(probs) == pytest.approx(1.0, abs=1e-9)
        assert min(probs) > 0  # unseen characters keep some probability


def test_ngram_higher_order_models_repetitive_text_better():
    train, test = TEXT[:1000], TEXT[1000:]
    scores = [NGramModel(order).fit(train).bits_per_char(test) for order in (1, 3, 5)]
    assert scores[0] > scores[1] > scores[2] and scores[2] < 0.3


def test_ngram_unigram_matches_the_character_entropy():
    text = "aab" * 100
    model = NGramModel(1, "add-k", k=1e-9).fit(text)
    entropy = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert model.bits_per_char(text) == pytest.approx(entropy, abs=1e-6)


def test_ngram_needs_fitting_and_validates_its_settings():
    with pytest.raises(RuntimeError, match="call fit"):
        NGramModel(3).bits_per_char("abc")
    with pytest.raises(ValueError, match="smoothing must be"):
        NGramModel(3, "laplace")
    with pytest.raises(ValueError, match="order must be"):
        NGramModel(0)


def test_nats_to_bits_divides_by_ln2():
    assert nats_to_bits(math.log(8)) == pytest.approx(3.0)


def test_ngram_and_keras_scores_use_the_same_windows():
    ids = np.arange(1000) % 7
    tok = CharTokenizer([str(i) for i in range(7)])
    uniform = NGramModel(1, "add-k", k=1e9, tokenizer=tok).fit(ids)
    # a (near-)uniform n-gram and a uniform network agree on the windows they score
    by_ngram = uniform.bits_per_char(ids, seq_len=16, max_windows=10)
    by_model = bits_per_char(_constant_model(7, [0.0] * 7), ids, seq_len=16, max_windows=10)
    assert by_ngram == pytest.approx(by_model, abs=1e-6)
    assert eval_windows(ids, 16, max_windows=10).shape == (10, 17)


def test_windowed_ngram_score_gives_each_window_only_its_own_context():
    model = NGramModel(3).fit(TEXT)
    ids = model.tokenizer.encode(TEXT[:200])
    chunks = eval_windows(ids, 8)
    by_hand = -np.mean([model.log_probs(c)[1:] for c in chunks]) / math.log(2)
    assert model.bits_per_char(ids, seq_len=8) == pytest.approx(by_hand)
    # cut off from the text before it, the first characters of a window are harder
    assert model.bits_per_char(ids, seq_len=8) > model.bits_per_char(ids[1:])
