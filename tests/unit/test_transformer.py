import numpy as np
import pytest

from dlbook import layers, models
from dlbook.config import import_keras

keras = import_keras()
RNG = np.random.default_rng(0)


def test_hand_attention_equals_keras_multi_head_attention_with_a_padding_mask():
    mha = keras.layers.MultiHeadAttention(num_heads=4, key_dim=8)
    x = RNG.normal(size=(3, 6, 16)).astype("float32")
    keep = np.ones((3, 6), dtype=bool)
    keep[0, 4:] = keep[2, 2:] = False
    mask = np.broadcast_to(keep[:, None, :], (3, 6, 6))
    expected, expected_w = mha(x, x, attention_mask=mask, return_attention_scores=True)
    out, w = layers.multi_head_attention_by_hand(mha, x, x, mask=mask)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(w, expected_w, atol=1e-6)
    assert np.allclose(np.asarray(w)[0, :, :, 4:], 0)


def test_hand_attention_equals_keras_with_a_causal_mask_and_distinct_keys():
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3)
    q = RNG.normal(size=(2, 5, 8)).astype("float32")
    v = RNG.normal(size=(2, 5, 8)).astype("float32")
    expected = mha(q, v, use_causal_mask=True)
    out, _ = layers.multi_head_attention_by_hand(mha, q, v, mask=layers.causal_mask(5)[None])
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_hand_attention_needs_a_built_layer():
    with pytest.raises(ValueError, match="called once"):
        layers.multi_head_attention_by_hand(keras.layers.MultiHeadAttention(2, 4),
                                            np.zeros((1, 2, 8)), np.zeros((1, 2, 8)))


def test_attention_weights_are_a_distribution_over_unmasked_keys():
    q, k, v = (RNG.normal(size=(2, 4, 8)).astype("float32") for _ in range(3))
    mask = np.array([[[1, 1, 0, 0]], [[1, 1, 1, 1]]], dtype=bool)
    _, w = layers.scaled_dot_product_attention(q, k, v, mask)
    w = np.asarray(w)
    np.testing.assert_allclose(w.sum(axis=-1), 1, atol=1e-6)
    assert np.all(w[0, :, 2:] == 0)


def test_sinusoidal_positions_are_distinct_and_bounded():
    pe = layers.sinusoidal_positions(100, 32)
    assert np.abs(pe).max() <= 1
    distances = np.linalg.norm(pe[:, None] - pe[None], axis=-1)
    assert (distances + np.eye(100) > 1e-3).all()
    with pytest.raises(ValueError, match="even"):
        layers.sinusoidal_positions(10, 7)


def test_causal_block_output_at_t_ignores_later_tokens():
    lm = models.causal_lm(vocab_size=20, max_len=10, dim=16, heads=2, depth=2, dropout=0.0)
    a = RNG.integers(0, 20, size=(1, 10)).astype("int32")
    b = a.copy()
    b[0, 6:] = (b[0, 6:] + 1) % 20
    la, lb = np.asarray(lm(a)), np.asarray(lm(b))
    np.testing.assert_allclose(la[0, :6], lb[0, :6], atol=1e-5)
    assert not np.allclose(la[0, 6:], lb[0, 6:])


def test_classifier_ignores_padding():
    enc = models.transformer_encoder(vocab_size=30, max_len=12, dim=16, heads=2, depth=2,
                                     dropout=0.0)
    clf = models.text_classifier(enc, n_classes=2, dropout=0.0)
    short = np.array([[5, 6, 7, 0, 0, 0]], dtype="int32")
    longer = np.array([[5, 6, 7, 0, 0, 0, 0, 0, 0, 0]], dtype="int32")
    np.testing.assert_allclose(clf(short), clf(longer), atol=1e-5)
    maps = models.attention_weights(clf, short)
    assert len(maps) == 2 and np.allclose(maps[0][..., 3:], 0)


def test_models_survive_a_keras_file_round_trip(tmp_path):
    enc = models.transformer_encoder(vocab_size=30, max_len=12, dim=16, heads=2, depth=1,
                                     positions="sinusoidal")
    clf = models.text_classifier(enc, n_classes=2)
    vit = models.vision_transformer((28, 28, 1), 10, patch_size=7, dim=16, heads=2, depth=1)
    for model, x in ((clf, np.array([[4, 5, 0]], dtype="int32")),
                     (vit, RNG.random((2, 28, 28, 1)).astype("float32"))):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        again = keras.saving.load_model(path)
        np.testing.assert_allclose(again(x), model(x), atol=1e-6)


def test_patch_embedding_puts_each_patch_in_its_own_token():
    emb = layers.PatchEmbedding(image_size=8, patch_size=4, dim=4)
    image = np.zeros((1, 8, 8, 1), dtype="float32")
    base = np.asarray(emb(image))
    image[0, 5, 1] = 1.0  # bottom-left patch: token 1 + 2
    changed = np.asarray(emb(image)) != base
    assert changed.any(axis=-1)[0].tolist() == [False, False, False, True, False]
    with pytest.raises(ValueError, match="multiple"):
        layers.PatchEmbedding(image_size=28, patch_size=5, dim=8)


def test_transformer_block_rejects_heads_that_do_not_divide_the_width():
    with pytest.raises(ValueError, match="divisible"):
        layers.TransformerBlock(dim=10, heads=3, ff_dim=8)


def test_mask_tokens_masks_the_rate_never_padding_with_80_10_10():
    ids = RNG.integers(4, 500, size=(400, 50))
    ids[:, 40:] = 0
    x, y, w = models.mask_tokens(ids, mask_id=1, vocab_size=500, rng=np.random.default_rng(1))
    assert np.all(w[:, 40:] == 0) and np.all(y == ids)
    assert w[:, :40].mean() == pytest.approx(0.15, abs=0.002)
    chosen = w == 1
    assert (x[chosen] == 1).mean() == pytest.approx(0.8, abs=0.02)
    assert (x[chosen] == ids[chosen]).mean() == pytest.approx(0.1, abs=0.02)
    assert np.all(x[~chosen] == ids[~chosen])


def test_sample_logits_top_p_keeps_the_nucleus_only():
    logits = np.log(np.array([[0.6, 0.25, 0.1, 0.05]]))
    rng = np.random.default_rng(0)
    draws = {int(models.sample_logits(logits, top_p=0.8, rng=rng)[0]) for _ in range(300)}
    assert draws == {0, 1}
    low = [int(models.sample_logits(logits, temperature=0.1, rng=rng)[0]) for _ in range(200)]
    assert np.mean(np.array(low) == 0) > 0.99


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": -1}, "temperature"), ({"top_k": 0}, "top_k"), ({"top_p": 1.5}, "top_p"),
])
def test_sample_logits_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.sample_logits(np.zeros((1, 4)), **kwargs)


def test_sample_logits_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        models.sample_logits(np.array([[0.0, np.nan]]))


def test_generate_greedy_is_deterministic_and_respects_the_window():
    lm = models.causal_lm(vocab_size=12, max_len=6, dim=8, heads=2, depth=1)
    a = models.generate(lm, [1, 2, 3, 4, 5], 8, max_len=6, temperature=0)
    b = models.generate(lm, [1, 2, 3, 4, 5], 8, max_len=6, temperature=0)
    assert a.tolist() == b.tolist() and len(a) == 13 and a[:5].tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="non-empty"):
        models.generate(lm, [], 3, max_len=6)


def test_attention_rejects_mismatched_shapes_with_the_fix():
    q = np.zeros((1, 4, 8), dtype="float32")
    with pytest.raises(ValueError, match="feature size"):
        layers.scaled_dot_product_attention(q, np.zeros((1, 4, 6), "float32"),
                                            np.zeros((1, 4, 6), "float32"))
    with pytest.raises(ValueError, match="length"):
        layers.scaled_dot_product_attention(q, q, np.zeros((1, 5, 8), "float32"))
    with pytest.raises(ValueError, match="add a batch"):
        layers.scaled_dot_product_attention(np.zeros(8, "float32"), q, q)
