import numpy as np
import pytest

from dlbook import gan
from dlbook.config import import_keras

keras = import_keras()


def small_gan(latent: int = 4, **kwargs) -> gan.GAN:
    return gan.GAN(gan.build_generator(latent, image_shape=(8, 8), filters=8),
                   gan.build_discriminator(image_shape=(8, 8), filters=(4, 8), dropout=0.0),
                   **kwargs)


@pytest.fixture
def batch() -> np.ndarray:
    """32 images made of 4 random patterns."""
    rng = np.random.default_rng(0)
    patterns = rng.random((4, 8, 8)) > 0.5
    return patterns[np.arange(32) % 4].astype("float32")


def d_loss_on(model: gan.GAN, batch: np.ndarray, seed: int = 3) -> float:
    fake = model.generator(model.noise(len(batch), seed=seed), training=False)
    return float(gan.discriminator_loss(model.discriminator(2 * batch[..., None] - 1),
                                        model.discriminator(fake)))


def g_loss_on(model: gan.GAN, batch: np.ndarray, seed: int = 3) -> float:
    fake = model.generator(model.noise(len(batch), seed=seed), training=False)
    return float(gan.generator_loss(model.discriminator(fake)))


def test_discriminator_steps_reduce_its_loss_on_a_fixed_batch(batch):
    keras.utils.set_random_seed(0)
    model = small_gan()
    model.compile(d_optimizer=keras.optimizers.Adam(1e-2),
                  g_optimizer=keras.optimizers.Adam(0.0), run_eagerly=True)  # generator frozen
    before = d_loss_on(model, batch)
    model.fit(batch, epochs=20, batch_size=32, verbose=0)
    after = d_loss_on(model, batch)
    assert after < 0.5 * before  # 1.39 -> well under 0.5 measured


def test_generator_steps_reduce_its_loss_against_a_fixed_discriminator(batch):
    keras.utils.set_random_seed(0)
    model = small_gan()
    model.compile(d_optimizer=keras.optimizers.Adam(0.0),  # discriminator frozen
                  g_optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    before = g_loss_on(model, batch)
    model.fit(batch, epochs=10, batch_size=32, verbose=0)
    after = g_loss_on(model, batch)
    assert after < before - 0.05


def test_train_step_reports_the_four_metrics_in_range(batch):
    keras.utils.set_random_seed(0)
    model = small_gan(g_steps=2, smoothing=0.1)
    model.compile(run_eagerly=True)
    logs = model.fit(batch, epochs=2, batch_size=16, verbose=0).history
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(0 <= p <= 1 for p in logs["d_real"] + logs["d_fake"])
    assert all(np.isfinite(logs["d_loss"]) & np.isfinite(logs["g_loss"]))


def test_both_optimisers_move_only_their_own_network(batch):
    keras.utils.set_random_seed(0)
    model = small_gan()
    model.compile(d_optimizer=keras.optimizers.Adam(0.0),
                  g_optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    d_before = [w.copy() for w in model.discriminator.get_weights()]
    g_before = [w.copy() for w in model.generator.get_weights()]
    model.fit(batch, epochs=1, batch_size=32, verbose=0)
    assert all(np.array_equal(a, b)
               for a, b in zip(d_before, model.discriminator.get_weights(), strict=True))
    assert not all(np.array_equal(a, b)
                   for a, b in zip(g_before, model.generator.get_weights(), strict=True))


def test_discriminator_loss_is_two_log_two_at_chance_and_small_when_it_wins():
    at_chance = float(gan.discriminator_loss(np.zeros((8, 1)), np.zeros((8, 1))))
    wins = float(gan.discriminator_loss(np.full((8, 1), 8.0), np.full((8, 1), -8.0)))
    assert at_chance == pytest.approx(2 * np.log(2), rel=1e-5)
    assert wins < 1e-3


def test_minimax_loss_saturates_where_the_non_saturating_one_does_not():
    import tensorflow as tf

    logits = tf.Variable([[-6.0]])  # the discriminator is sure the fake is fake
    slopes = {}
    for kind in gan.GENERATOR_LOSSES:
        with tf.GradientTape() as tape:
            loss = gan.generator_loss(logits, kind)
        slopes[kind] = abs(float(tape.gradient(loss, logits)[0, 0]))
    assert slopes["non-saturating"] > 0.99 and slopes["minimax"] < 0.01


def test_generate_is_seeded_and_in_the_unit_interval():
    model = small_gan()
    a, b = model.generate(5, seed=1), model.generate(5, seed=1)
    assert a.shape == (5, 8, 8) and np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert not np.array_equal(a, model.generate(5, seed=2))


def test_snapshots_record_the_start_and_every_kth_epoch(batch):
    keras.utils.set_random_seed(0)
    model = small_gan()
    model.compile(run_eagerly=True)
    snaps = gan.Snapshots(model.noise(3), every=2, n_score=10,
                          score=lambda images: {"mean": float(images.mean())})
    model.fit(batch, epochs=4, batch_size=32, verbose=0, callbacks=[snaps])
    assert snaps.epochs == [0, 2, 4]
    assert [im.shape for im in snaps.images] == [(3, 8, 8)] * 3
    assert [set(s) for s in snaps.scores] == [{"mean"}] * 3
    assert not np.array_equal(snaps.images[0], snaps.images[-1])


def test_pixel_gaussian_matches_the_pixel_means():
    rng = np.random.default_rng(0)
    x = np.clip(0.5 + 0.1 * rng.standard_normal((400, 4, 4)), 0, 1)
    samples = gan.pixel_gaussian(x, 2000, seed=0)
    assert samples.shape == (2000, 4, 4)
    assert np.abs(samples.mean(axis=0) - x.mean(axis=0)).max() < 0.02


@pytest.mark.parametrize(("call", "message"), [
    (lambda: gan.GAN(gan.build_generator(4, image_shape=(8, 8)),
                     gan.build_discriminator()), "same image_shape"),
    (lambda: small_gan(loss="wasserstein"), "unknown generator loss"),
    (lambda: small_gan(g_steps=0), "g_steps must be a positive int"),
    (lambda: small_gan(smoothing=1.0), "smoothing"),
    (lambda: gan.build_generator(4, image_shape=(30, 30)), "multiples of 4"),
    (lambda: small_gan().decode(np.zeros((2, 5))), r"shape \(n, 4\)"),
    (lambda: gan.Snapshots(np.zeros(4)), "use gan.noise"),
])
def test_bad_arguments_fail_with_the_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_generator_round_trips_through_keras_serialisation():
    model = small_gan(g_steps=3, smoothing=0.1)
    clone = gan.GAN.from_config(model.get_config())
    assert (clone.g_steps, clone.smoothing, clone.latent_dim) == (3, 0.1, 4)


def test_checkpoint_code_names_exist():
    assert all(hasattr(gan, name) for name in gan.CHECKPOINT_CODE)
    assert gan.CHECKPOINT_NAME == "dcgan-mnist"
