import numpy as np
import pytest

from dlbook import vae
from dlbook.config import import_keras

keras = import_keras()


def small_vae(latent: int = 2, **kwargs) -> vae.VAE:
    encoder = vae.build_encoder(latent, image_shape=(8, 8), filters=(4, 8), hidden=16)
    decoder = vae.build_decoder(latent, image_shape=(8, 8), filters=(8, 4))
    return vae.VAE(encoder, decoder, **kwargs)


@pytest.fixture
def batch() -> np.ndarray:
    """32 images made of 4 random patterns: structure a VAE can learn fast."""
    rng = np.random.default_rng(0)
    patterns = rng.random((4, 8, 8)) > 0.5
    return patterns[np.arange(32) % 4].astype("float32")


def test_a_train_step_reduces_the_loss_on_a_fixed_batch(batch):
    keras.utils.set_random_seed(0)
    model = small_vae()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    before = model.evaluate(batch, batch_size=32, verbose=0, return_dict=True)
    model.fit(batch, epochs=40, batch_size=32, verbose=0)
    after = model.evaluate(batch, batch_size=32, verbose=0, return_dict=True)
    assert set(after) == {"loss", "reconstruction", "kl"}
    assert after["loss"] < 0.85 * before["loss"]  # 44 -> 32 nats measured
    assert after["loss"] == pytest.approx(after["reconstruction"] + after["kl"], rel=1e-4)


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mu, log_var = np.array([[0.5, -1.0]]), np.array([[-0.7, 0.4]])
    sd = np.exp(0.5 * log_var)
    z = mu + sd * rng.standard_normal((200_000, 2))
    log_q = -0.5 * (((z - mu) / sd) ** 2 + log_var + np.log(2 * np.pi)).sum(axis=1)
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi)).sum(axis=1)
    closed = float(keras.ops.convert_to_numpy(vae.gaussian_kl(mu, log_var))[0])
    assert closed == pytest.approx(np.mean(log_q - log_p), abs=0.01)


def test_kl_is_zero_only_when_the_code_distribution_is_the_prior():
    kl = keras.ops.convert_to_numpy(vae.gaussian_kl(np.array([[0.0], [1.0], [0.0]]),
                                                    np.array([[0.0], [0.0], [1.0]])))
    assert kl[0] == 0.0 and kl[1] > 0 and kl[2] > 0


def test_gradients_reach_mu_and_log_var_through_the_sample(batch):
    import tensorflow as tf

    model = small_vae()
    with tf.GradientTape() as tape:
        reconstruction, _ = model.elbo_terms(batch, training=True)
        loss = keras.ops.mean(reconstruction)  # no KL: only the sample links log_var to loss
    head = model.encoder.get_layer("log_var").kernel
    grad = tape.gradient(loss, head)
    assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0


def test_plain_autoencoder_mode_is_deterministic_and_ignores_kl(batch):
    model = small_vae(beta=0.0, sample=False)
    r1, _ = model.elbo_terms(batch)
    r2, _ = model.elbo_terms(batch)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(r1),
                                  keras.ops.convert_to_numpy(r2))
    noisy = small_vae()
    n1, _ = noisy.elbo_terms(batch)
    n2, _ = noisy.elbo_terms(batch)
    assert not np.array_equal(keras.ops.convert_to_numpy(n1), keras.ops.convert_to_numpy(n2))


def test_mismatched_latent_sizes_name_the_fix():
    with pytest.raises(ValueError, match="same latent_dim"):
        vae.VAE(vae.build_encoder(2), vae.build_decoder(3))


def test_image_side_must_be_a_multiple_of_four():
    with pytest.raises(ValueError, match="multiples of 4"):
        vae.build_encoder(2, image_shape=(30, 30))
    with pytest.raises(ValueError, match="positive int"):
        vae.build_decoder(0)


def test_inputs_are_validated_at_the_boundary():
    model = small_vae()
    with pytest.raises(ValueError, match="255"):
        model.encode(np.full((2, 8, 8), 255.0))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        model.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="positive int"):
        model.generate(0)


def test_generate_gives_images_in_the_unit_interval_and_is_seeded():
    model = small_vae()
    a, b = model.generate(5, seed=1), model.generate(5, seed=1)
    assert a.shape == (5, 8, 8) and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, b)


def test_interpolation_starts_and_ends_at_the_reconstructions(batch):
    model = small_vae()
    path = vae.interpolate(model, batch[0], batch[1], steps=5)
    ends = keras.ops.convert_to_numpy(model(batch[:2]))[..., 0]
    assert path.shape == (5, 8, 8)
    np.testing.assert_allclose(path[[0, -1]], ends, atol=1e-5)


def test_latent_grid_tiles_the_decoded_manifold_and_needs_two_dimensions():
    assert vae.latent_grid(small_vae(), n=3).shape == (24, 24)
    with pytest.raises(ValueError, match="2-D latent"):
        vae.latent_grid(small_vae(latent=3))


def test_a_saved_vae_loads_with_the_same_outputs(tmp_path, batch):
    model = small_vae(beta=0.5)
    path = tmp_path / "vae.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.beta == 0.5 and loaded.latent_dim == 2
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(batch[:4])),
                               keras.ops.convert_to_numpy(model(batch[:4])), atol=1e-6)


def test_checkpoint_code_names_exist_in_the_module():
    assert vae.CHECKPOINT_NAME == "vae-mnist"
    for name in vae.CHECKPOINT_CODE:
        assert callable(getattr(vae, name))
