"""Unit tests of dlbook.contrastive: views, the NT-Xent loss, the SimCLR train step, the probe."""

import dataclasses

import numpy as np
import pytest

from dlbook import contrastive as cl
from dlbook import data, learning_curves

keras = cl.keras


def _reference_nt_xent(z1, z2, temperature):
    """NT-Xent written the slow way, one view at a time, in float64 NumPy."""
    z = np.concatenate([z1, z2]).astype("float64")
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n2 = len(z)
    losses = []
    for k in range(n2):
        partner = (k + n2 // 2) % n2
        others = [j for j in range(n2) if j != k]
        sims = np.array([z[k] @ z[j] for j in others]) / temperature
        log_denominator = np.log(np.exp(sims).sum())
        losses.append(log_denominator - z[k] @ z[partner] / temperature)
    return float(np.mean(losses))


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
def test_nt_xent_matches_a_loop_over_views(rng, temperature):
    z1, z2 = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    got = float(cl.nt_xent(z1, z2, temperature))
    assert got == pytest.approx(_reference_nt_xent(z1, z2, temperature), rel=1e-5)


def test_nt_xent_is_symmetric_in_the_two_views(rng):
    z1, z2 = rng.normal(size=(8, 4)), rng.normal(size=(8, 4))
    assert float(cl.nt_xent(z1, z2)) == pytest.approx(float(cl.nt_xent(z2, z1)), rel=1e-6)


def test_nt_xent_ignores_the_length_of_embeddings(rng):
    z1, z2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    scaled = float(cl.nt_xent(3.0 * z1, 0.2 * z2))
    assert scaled == pytest.approx(float(cl.nt_xent(z1, z2)), rel=1e-5)


def test_nt_xent_of_uninformative_embeddings_is_log_of_the_negatives():
    same = np.ones((10, 4))
    assert float(cl.nt_xent(same, same)) == pytest.approx(np.log(19), rel=1e-5)


def test_nt_xent_rewards_matched_pairs_over_shuffled_ones(rng):
    z = rng.normal(size=(16, 8))
    noisy = z + 0.1 * rng.normal(size=z.shape)
    matched = float(cl.nt_xent(z, noisy, 0.2))
    shuffled = float(cl.nt_xent(z, noisy[::-1], 0.2))
    assert matched < 0.5 < np.log(31) - 0.5 < shuffled


def test_pair_logits_mask_self_similarity_and_point_to_partners(rng):
    logits, partner = cl.pair_logits(rng.normal(size=(3, 2)), rng.normal(size=(3, 2)))
    logits = keras.ops.convert_to_numpy(logits)
    assert keras.ops.convert_to_numpy(partner).tolist() == [3, 4, 5, 0, 1, 2]
    assert (np.diag(logits) < -1e8).all()
    off = logits[~np.eye(6, dtype=bool)]
    assert np.abs(off).max() <= 1 / 0.5 + 1e-5      # cosine / temperature


def test_pair_accuracy_is_one_for_matched_and_zero_for_mismatched_pairs():
    z = np.eye(4)
    assert float(cl.pair_accuracy(z, z)) == 1.0
    assert float(cl.pair_accuracy(z, -z)) == 0.0


@pytest.mark.parametrize("bad", [0, -0.5, True, "0.5"])
def test_temperature_must_be_positive(bad):
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        cl.nt_xent(np.ones((2, 2)), np.ones((2, 2)), bad)


def test_nt_xent_refuses_views_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        cl.nt_xent(np.ones((4, 3)), np.ones((5, 3)))


def test_augmenter_makes_different_views_only_in_training_mode():
    x = np.random.default_rng(1).random((6, 28, 28, 1)).astype("float32")
    aug = cl.augmenter(seed=0)
    assert np.allclose(keras.ops.convert_to_numpy(aug(x, training=False)), x)
    a, b = (keras.ops.convert_to_numpy(v) for v in cl.two_views(aug, x))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert np.abs(a - b).mean() > 0.01 and np.abs(a - x).mean() > 0.01


def test_augmenter_with_everything_off_is_the_identity():
    aug = cl.augmenter(translation=0, rotation=0, zoom=0, contrast=0, erase=0, noise=0)
    x = np.random.default_rng(2).random((2, 8, 8, 1)).astype("float32")
    assert np.allclose(keras.ops.convert_to_numpy(aug(x, training=True)), x)


def test_augmenter_refuses_out_of_range_strengths():
    with pytest.raises(ValueError, match="rotation must be a number in"):
        cl.augmenter(rotation=2.0)


def test_images_adds_a_channel_and_refuses_8_bit_values():
    assert cl.images(np.zeros((2, 5, 5))).shape == (2, 5, 5, 1)
    with pytest.raises(ValueError, match="divide 8-bit images by 255"):
        cl.images(np.full((2, 5, 5), 255.0))


@pytest.fixture(scope="module")
def digits():
    """8x8 scikit-learn digits (in [0, 1]): small enough for a few quick steps."""
    ds = data.load("digits")
    return ds.x_train[:256], ds.y_train[:256]


def _tiny_simclr(**kwargs):
    encoder = cl.conv_encoder((8, 8, 1), widths=(8, 16), seed=0)
    aug = cl.augmenter(translation=0.1, rotation=0.03, zoom=0.1, erase=0.0, seed=0)
    model = cl.SimCLR(encoder, projection_dim=16, augment=aug, temperature=0.5, seed=0, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True)
    return model


def test_simclr_training_lowers_the_loss_and_finds_partners_above_chance(digits):
    x, _ = digits
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(32)])                # a linear encoder
    aug = cl.augmenter(translation=0.1, rotation=0, zoom=0, contrast=0, erase=0, noise=0.05,
                       seed=0)
    model = cl.SimCLR(encoder, projection_dim=16, augment=aug, temperature=0.5, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x[:64], epochs=12, batch_size=64, verbose=0).history
    assert set(history) == {"loss", "contrastive_accuracy"}
    assert history["loss"][-1] < history["loss"][0] - 0.5
    assert history["contrastive_accuracy"][-1] > 0.15               # chance is 1/127


def test_simclr_train_step_updates_encoder_and_head_but_not_the_augmenter(digits):
    x, _ = digits
    model = _tiny_simclr()
    model.fit(x[:64], epochs=1, batch_size=64, verbose=0)
    before = [w.copy() for w in model.encoder.get_weights() + model.projector.get_weights()]
    model.fit(x[:64], epochs=1, batch_size=64, verbose=0)
    after = model.encoder.get_weights() + model.projector.get_weights()
    assert all(not np.allclose(a, b) for a, b in zip(before, after, strict=True)
               if a.ndim > 1)                                    # every kernel moved
    assert not model.augment.trainable_weights


def test_simclr_reports_validation_metrics_and_ignores_labels(digits):
    x, y = digits
    model = _tiny_simclr()
    history = model.fit(x[:128], y[:128], epochs=1, batch_size=64, verbose=0,
                        validation_data=(x[128:], y[128:])).history
    assert {"val_loss", "val_contrastive_accuracy"} <= set(history)


def test_simclr_features_are_the_encoders(digits):
    x, _ = digits
    model = _tiny_simclr()
    out = keras.ops.convert_to_numpy(model(cl.images(x[:4])))
    assert out.shape == (4, 16)
    assert np.allclose(out, cl.embed(model.encoder, x[:4]), atol=1e-5)
    assert tuple(model.project(cl.images(x[:4])).shape) == (4, 16)


def test_simclr_refuses_a_non_model_encoder_and_bad_images():
    with pytest.raises(TypeError, match="encoder must be a keras.Model"):
        cl.SimCLR(lambda v: v)
    model = _tiny_simclr()
    with pytest.raises(ValueError, match="must lie in"):
        model.fit(np.full((4, 8, 8), 3.0), verbose=0)


def test_conv_encoder_gives_one_vector_per_image():
    enc = cl.conv_encoder((28, 28, 1), widths=(4, 8, 12))
    assert enc.output_shape == (None, 12)
    with pytest.raises(ValueError, match="at least one"):
        cl.conv_encoder(widths=())
    with pytest.raises(ValueError, match="bn_momentum must be in"):
        cl.conv_encoder(bn_momentum=1.5)


def test_linear_probe_separates_informative_features_and_not_noise():
    rng = np.random.default_rng(3)
    y = np.arange(400) % 4
    signal = rng.normal(size=(400, 6)) + 2.0 * np.eye(4, 6)[y]
    noise = rng.normal(size=(400, 6))
    assert cl.linear_probe(signal[:200], y[:200], signal[200:], y[200:]) > 0.8
    assert cl.linear_probe(noise[:200], y[:200], noise[200:], y[200:]) < 0.4


def test_linear_probe_refuses_mismatched_inputs():
    f, y = np.zeros((10, 3)), np.arange(10) % 2
    with pytest.raises(ValueError, match="same encoder"):
        cl.linear_probe(f, y, np.zeros((10, 4)), y)
    with pytest.raises(ValueError, match="one label"):
        cl.linear_probe(f, y[:5], f, y)
    with pytest.raises(ValueError, match="two classes"):
        cl.linear_probe(f, np.zeros(10), f, y)


def test_probe_scorer_runs_inside_a_learning_curve_on_features():
    ds = data.load("digits")
    flat = dataclasses.replace(ds, x_train=ds.x_train.reshape(len(ds.x_train), -1),
                               x_test=ds.x_test.reshape(len(ds.x_test), -1))
    curve = learning_curves.learning_curve({"pixels": cl.probe_scorer()}, [30, 300], flat)
    assert curve.score.tolist()[1] > curve.score.tolist()[0]


def test_classifier_puts_a_softmax_on_the_shared_encoder():
    enc = cl.conv_encoder((8, 8, 1), widths=(4,), seed=0)
    model = cl.classifier(enc, 3, augment=cl.augmenter(seed=0))
    x = np.random.default_rng(4).random((5, 8, 8, 1)).astype("float32")
    p = keras.ops.convert_to_numpy(model(x, training=False))
    assert p.shape == (5, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert any(w is enc.weights[0] for w in model.weights)       # shared, not copied
    with pytest.raises(ValueError, match="n_classes must be a positive int"):
        cl.classifier(enc, 0)
