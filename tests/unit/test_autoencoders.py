"""Autoencoders: the builders make the right shapes, a train step lowers the reconstruction
loss, a denoising model trains against clean targets, the baselines and scores are exact where
they can be, and bad input is refused with the fix."""

import numpy as np
import pytest

from dlbook import autoencoders as A
from dlbook import checkpoints

keras = A.keras


@pytest.fixture(scope="module")
def batch():
    """A fixed batch of 32 smooth blob images in [0, 1] (structure an AE can learn fast)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    centres = rng.uniform(6, 22, size=(32, 2))
    blobs = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 18)
    return blobs.astype("float32")


def _loss(model, x):
    return float(model.evaluate(x, batch_size=len(x), verbose=0))


@pytest.mark.parametrize("build", [lambda k: A.dense_autoencoder(k, hidden=(64,)),
                                   lambda k: A.conv_autoencoder(k, filters=(8, 16))],
                         ids=["dense", "conv"])
def test_a_train_step_reduces_the_loss_on_a_fixed_batch(build, batch):
    keras.utils.set_random_seed(0)
    model = build(8)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    before = _loss(model, batch)
    model.fit(batch, epochs=10, batch_size=len(batch), verbose=0)
    assert _loss(model, batch) < 0.5 * before


def test_denoising_scores_the_output_against_the_clean_images(batch):
    keras.utils.set_random_seed(0)
    model = A.dense_autoencoder(8, noise=0.4, hidden=(32,))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True)
    noisy_in = model.corrupt(keras.ops.convert_to_tensor(batch))
    assert float(keras.ops.max(keras.ops.abs(noisy_in - batch))) > 0.1  # noise is on
    assert 0.0 <= float(keras.ops.min(noisy_in)) <= float(keras.ops.max(noisy_in)) <= 1.0
    # the loss is computed against clean targets, so an identity output scores the noise
    identity = A.reconstruction_errors(batch, keras.ops.convert_to_numpy(noisy_in)).mean()
    assert identity > 0.01
    before = _loss(model, batch)
    model.fit(batch, epochs=10, batch_size=len(batch), verbose=0)
    assert _loss(model, batch) < 0.5 * before


def test_fixed_pairs_train_towards_the_targets(batch):
    keras.utils.set_random_seed(0)
    model = A.dense_autoencoder(4, hidden=(32,))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    target = np.zeros_like(batch)
    model.fit(batch, target, epochs=20, batch_size=len(batch), verbose=0)
    assert model.reconstruct(batch).max() < 0.1


def test_encode_and_decode_shapes(batch):
    model = A.conv_autoencoder(5)
    codes = model.encode(batch[..., None])        # a trailing channel is accepted
    assert codes.shape == (32, 5)
    assert model.decode(codes).shape == (32, 28, 28)
    assert model.reconstruct(batch).shape == (32, 28, 28)
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        model.decode(np.zeros((3, 4)))


def test_the_autoencoder_survives_a_save_and_load(batch, tmp_path):
    model = A.dense_autoencoder(3, hidden=(16,), noise=0.2)
    path = tmp_path / "ae.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert isinstance(again, A.Autoencoder) and again.noise == 0.2
    np.testing.assert_allclose(again.reconstruct(batch), model.reconstruct(batch), atol=1e-6)


def test_bad_arguments_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="same code_size"):
        A.Autoencoder(A.dense_encoder(3), A.dense_decoder(4))
    with pytest.raises(ValueError, match="positive int"):
        A.dense_encoder(0)
    with pytest.raises(ValueError, match="divisible by 4"):
        A.conv_encoder(4, image_shape=(30, 30))
    with pytest.raises(ValueError, match="one of"):
        A.dense_autoencoder(2, loss="l1")
    with pytest.raises(ValueError, match="divide 8-bit images by 255"):
        A.dense_autoencoder(2).encode(np.full((2, 28, 28), 255.0))
    with pytest.raises(ValueError, match=r"x\[None\]"):
        A.add_noise(np.zeros((28, 28)))


def test_linear_autoencoder_has_no_nonlinearity():
    model = A.dense_autoencoder(4, linear=True)
    activations = [layer.activation.__name__ for part in (model.encoder, model.decoder)
                   for layer in part.layers if hasattr(layer, "activation")]
    assert set(activations) == {"linear"}


def test_pca_baseline_matches_scikit_learn_and_improves_with_the_code_size():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    x = rng.random((200, 6, 6))
    pca = A.PCABaseline(x)
    flat = x.reshape(200, -1)
    for k in (1, 5, 20):
        reference = PCA(k, svd_solver="full").fit(flat)
        expected = reference.inverse_transform(reference.transform(flat)).reshape(x.shape)
        np.testing.assert_allclose(pca.reconstruct(x, k), expected, atol=1e-8)
    errors = [A.reconstruction_errors(x, pca.reconstruct(x, k)).mean() for k in (1, 5, 20)]
    assert errors[0] > errors[1] > errors[2]
    with pytest.raises(ValueError, match="same shape"):
        pca.reconstruct(np.zeros((3, 5, 5)), 2)
    with pytest.raises(ValueError, match="exceeds"):
        A.pca_reconstruct(x[:10], x, 20)


def test_noise_and_psnr():
    clean = np.full((4, 20, 20), 0.5, "float32")
    heavy = A.add_noise(clean, amount=0.5, seed=0)
    light = A.add_noise(clean, amount=0.1, seed=0)
    assert heavy.min() >= 0 and heavy.max() <= 1
    assert A.psnr(clean, light).mean() > A.psnr(clean, heavy).mean()
    np.testing.assert_array_equal(A.add_noise(clean, seed=3), A.add_noise(clean, seed=3))
    assert np.all(A.psnr(clean, clean) > 100)   # identical: no noise at all


def test_gaussian_samples_come_from_the_codes_of_the_training_images(batch):
    keras.utils.set_random_seed(0)
    model = A.dense_autoencoder(2, hidden=(16,))
    samples = A.gaussian_samples(model, batch, 12, seed=0)
    assert samples.shape == (12, 28, 28) and 0 <= samples.min() <= samples.max() <= 1
    np.testing.assert_array_equal(samples, A.gaussian_samples(model, batch, 12, seed=0))
    with pytest.raises(ValueError, match="more rows than columns"):
        A.fit_code_gaussian(np.zeros((2, 2)))


def test_the_checkpoint_is_registered_and_its_code_hash_is_computable():
    assert checkpoints.REGISTRY[A.CHECKPOINT_NAME] == "dlbook.autoencoders"
    assert len(checkpoints.code_hash(A.CHECKPOINT_NAME)) == 16
