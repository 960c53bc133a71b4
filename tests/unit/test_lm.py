import numpy as np
import pytest

from dlbook import lm, models, text
from dlbook.config import import_keras

keras = import_keras()


def test_bpe_round_trips_any_text_over_its_alphabet():
    tok = lm.BPETokenizer.train("to be or not to be, that is the question", n_merges=20,
                                alphabet="xyz")
    line = "not to be, xyz"
    assert tok.decode(tok.encode(line)) == line
    assert len(tok.encode("to be")) < len("to be")  # merges compress the text


def test_bpe_merges_the_most_frequent_pair_first():
    tok = lm.BPETokenizer.train("ab ab ab cd", n_merges=1)
    assert tok.merges == [("a", "b")]
    assert tok.vocab_size == len(set("ab ab ab cd")) + 1


def test_bpe_unknown_character_names_the_fix():
    tok = lm.BPETokenizer.train("aaa", n_merges=1)
    with pytest.raises(ValueError, match="alphabet="):
        tok.encode("b")


def test_power_law_recovers_a_known_exponent():
    x = np.array([1e3, 1e4, 1e5])
    law = lm.fit_power_law(x, 3.0 * x**-0.25)
    assert law.exponent == pytest.approx(-0.25)
    assert law.scale == pytest.approx(3.0)


def test_power_law_rejects_non_positive_values():
    with pytest.raises(ValueError, match="positive"):
        lm.fit_power_law([1, 2], [0.0, 1.0])


def test_side_by_side_needs_distinct_names():
    a = models.causal_lm(5, 8, dim=8, heads=2, depth=1)
    b = models.causal_lm(5, 8, dim=8, heads=2, depth=1)
    with pytest.raises(ValueError, match="name="):
        lm.side_by_side([a, b])


def test_training_side_by_side_gives_each_model_its_own_loss():
    keras.utils.set_random_seed(0)
    a = models.causal_lm(5, 8, dim=8, heads=2, depth=1, name="a")
    b = models.causal_lm(5, 8, dim=8, heads=2, depth=1, name="b")
    easy, noise = np.arange(800) % 5, np.random.default_rng(0).integers(0, 5, 800)
    losses = lm.train_lms([a, b], [easy, noise], steps=80, learning_rate=1e-2, seq_len=8,
                          batch_size=8, checkpoints=2)
    assert losses.shape == (2, 2)
    assert losses[-1, 0] < 0.5 < np.log(5) - 0.2 < losses[-1, 1]  # a learns, b cannot
    held = lm.bits_per_char_each([a, b], easy, seq_len=8)
    assert held[0] == pytest.approx(text.bits_per_char(a, easy, seq_len=8), abs=1e-4)


def test_enable_lora_freezes_everything_but_the_adapters():
    model = models.causal_lm(20, 8, dim=16, heads=2, depth=1)
    before = model(np.arange(8)[None])
    names = lm.enable_lora(model, 2)
    assert {"query", "key", "value", "attention_output"} <= set(names)
    assert all("lora" in v.path for v in model.trainable_weights)
    counts = lm.parameter_counts(model)
    assert counts["trainable"] < 0.2 * counts["total"]
    np.testing.assert_allclose(model(np.arange(8)[None]), before, atol=1e-6)  # B starts at 0
    with pytest.raises(ValueError, match="already"):
        lm.enable_lora(model, 2)


def test_compiled_predictor_matches_the_model():
    model = models.causal_lm(10, 8, dim=8, heads=2, depth=1)
    ids = np.array([[1, 2, 3]])
    np.testing.assert_allclose(lm.compiled(model)(ids), model(ids), atol=1e-5)
