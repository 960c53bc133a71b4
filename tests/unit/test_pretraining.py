"""Tests of dlbook.pretraining: masked positions, MLM batches and the gathered MLM head."""

import keras
import numpy as np
import pytest

from dlbook import models, pretraining


def test_masked_positions_are_left_aligned_and_padded_with_zero_weight():
    positions, weights = pretraining.masked_positions(np.array([[0, 1, 0, 1], [0, 0, 0, 0]]), 3)
    assert positions.tolist() == [[1, 3, 0], [0, 0, 0]]
    assert weights.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_masked_positions_too_few_slots_names_the_fix():
    with pytest.raises(ValueError, match="raise max_predictions"):
        pretraining.masked_positions(np.ones((1, 5)), 2)


def test_masked_positions_allows_more_slots_than_length():
    positions, weights = pretraining.masked_positions(np.array([[1, 0]]), 4)
    assert positions.shape == (1, 4) and weights.sum() == 1


def test_mlm_batch_targets_are_the_original_tokens_at_chosen_positions():
    ids = np.random.default_rng(0).integers(4, 50, size=(32, 20)).astype("int32")
    ids[:, 15:] = 0
    (inputs, positions), targets, weights = pretraining.mlm_batch(
        ids, mask_id=50, vocab_size=51, max_predictions=3, rng=np.random.default_rng(1))
    assert inputs.shape == ids.shape and positions.shape == targets.shape == (32, 3)
    chosen = weights > 0
    rows = np.nonzero(chosen)[0]
    assert (targets[chosen] == ids[rows, positions[chosen]]).all()
    assert (ids[rows, positions[chosen]] != 0).all()       # padding is never chosen
    assert (weights.sum(axis=1) == 2).all()                # round(15 % of 15) per row


def test_gathered_head_equals_the_all_position_head():
    enc = models.transformer_encoder(vocab_size=30, max_len=10, dim=16, heads=2, depth=1)
    gathered = pretraining.masked_lm_at(enc, 30, 2)
    everywhere = models.masked_lm(enc, 30)
    for name in ("mlm_transform", "mlm_norm", "mlm_logits"):
        everywhere.get_layer(name).set_weights(gathered.get_layer(name).get_weights())
    ids = np.array([[5, 6, 7, 8, 0, 0]])
    pos = np.array([[1, 3]])
    full = np.asarray(everywhere(ids))
    assert np.allclose(np.asarray(gathered([ids, pos])), full[:, [1, 3]], atol=1e-5)


def test_masked_scores_of_an_untrained_model_are_near_chance():
    keras.utils.set_random_seed(0)
    enc = models.transformer_encoder(vocab_size=30, max_len=10, dim=16, heads=2, depth=1)
    batch = pretraining.mlm_batch(np.full((16, 10), 7), mask_id=29, vocab_size=30,
                                  max_predictions=2)
    scores = pretraining.masked_scores(pretraining.masked_lm_at(enc, 30, 2), batch, k=30)
    assert 0.5 * np.log(30) < scores["loss"] < 2 * np.log(30)   # chance: ln 30
    assert scores["top_k"] == 1.0 and 0 <= scores["accuracy"] <= 1


def test_masked_lm_at_rejects_bad_sizes():
    enc = models.transformer_encoder(vocab_size=30, max_len=10, dim=16, heads=2, depth=1)
    with pytest.raises(ValueError, match="max_predictions"):
        pretraining.masked_lm_at(enc, 30, 0)
