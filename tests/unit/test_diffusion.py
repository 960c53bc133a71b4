"""dlbook.diffusion: the noise schedules, the forward process, a DDPM train step that lowers the
noise-prediction loss, the two samplers, and the errors that name the fix."""

import numpy as np
import pytest

from dlbook import checkpoints
from dlbook.config import import_keras
from dlbook.diffusion import (
    CHECKPOINT_CODE,
    CHECKPOINT_NAME,
    DDPM,
    build_unet,
    noise_schedule,
    pretrained,
    sample,
)

keras = import_keras()


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    return DDPM(build_unet((8, 8, 1), widths=(8, 16), time_dim=16), timesteps=40)


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_schedules_fall_from_clean_to_almost_pure_noise(kind):
    abar = noise_schedule(1000, kind)
    assert abar.shape == (1000,)
    assert np.all(np.diff(abar) < 0)
    assert abar[0] > 0.999 and 0 < abar[-1] < 1e-3


def test_cosine_schedule_keeps_more_signal_half_way_than_linear():
    assert noise_schedule(1000, "cosine")[500] > 5 * noise_schedule(1000, "linear")[500]


def test_unknown_schedule_names_the_known_ones():
    with pytest.raises(ValueError, match="cosine"):
        noise_schedule(100, "sigmoid")


def test_add_noise_keeps_the_image_at_t0_and_destroys_it_at_the_end(tiny):
    model = DDPM(tiny.network, timesteps=1000)
    x0 = np.linspace(-1, 1, 2 * 64, dtype="float32").reshape(2, 8, 8, 1)
    noise = np.random.default_rng(0).normal(size=x0.shape).astype("float32")
    first = keras.ops.convert_to_numpy(model.add_noise(x0, np.array([0, 0]), noise))
    last = keras.ops.convert_to_numpy(model.add_noise(x0, np.array([999, 999]), noise))
    assert np.abs(first - x0).max() < 0.05
    assert np.abs(last - noise).max() < 0.05


def test_min_snr_weights_cap_the_nearly_clean_timesteps():
    model = DDPM(build_unet((8, 8, 1), widths=(8, 16), time_dim=16), timesteps=100, min_snr=5.0)
    weight = keras.ops.convert_to_numpy(model._weight)
    snr = model.alpha_bar / (1 - model.alpha_bar)
    assert np.all(weight <= 1 + 1e-6)
    assert np.allclose(weight[snr <= 5], 1.0)
    assert weight[0] < 0.01  # t = 0: SNR in the thousands
    plain = DDPM(model.network, timesteps=100, min_snr=None)
    assert np.allclose(keras.ops.convert_to_numpy(plain._weight), 1.0)


def test_a_train_step_reduces_the_noise_prediction_loss_on_a_fixed_batch():
    keras.utils.set_random_seed(1)
    model = DDPM(build_unet((8, 8, 1), widths=(8,), time_dim=8), timesteps=40)
    rng = np.random.default_rng(0)
    images = (rng.random((32, 8, 8, 1)) > 0.6).astype("float32")
    t = rng.integers(0, 40, size=32)
    noise = rng.normal(size=images.shape).astype("float32")

    def fixed_loss() -> float:  # the same timesteps and noise every time
        noisy = model.add_noise(2 * images - 1, t, noise)
        return float(np.mean((keras.ops.convert_to_numpy(model([noisy, t])) - noise) ** 2))

    model.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True)
    before = fixed_loss()
    history = model.fit(images, batch_size=32, epochs=30, verbose=0).history
    after = fixed_loss()
    assert set(history) == {"loss", "mse"}
    assert after < 0.8 * before, (before, after)


def test_train_step_refuses_images_without_a_channel_axis(tiny):
    tiny.compile(optimizer="adam", run_eagerly=True)
    with pytest.raises(ValueError, match=r"x\[\.\.\., None\]"):
        tiny.fit(np.zeros((8, 8, 8), dtype="float32"), batch_size=4, epochs=1, verbose=0)


def test_samplers_return_images_in_unit_range_and_ddim_is_deterministic(tiny):
    images = sample(tiny, 3, steps=5, eta=1.0, seed=0)
    assert images.shape == (3, 8, 8) and images.min() >= 0 and images.max() <= 1
    a, b = (sample(tiny, 3, steps=5, eta=0.0, seed=s) for s in (7, 7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample(tiny, 3, steps=5, eta=0.0, seed=8))


def test_sample_keeps_the_path_in_time_order(tiny):
    images, path, when = sample(tiny, 2, steps=4, keep=[4, 0, 2], batch_size=1)
    assert path.shape == (3, 2, 8, 8)
    assert when.tolist()[0] == 39 and when.tolist()[-1] == -1
    np.testing.assert_allclose(path[-1], images)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 41}, "steps must be an int from 1 to 40"),
    ({"eta": 1.5}, "eta must lie in"),
    ({"keep": [99]}, "keep holds"),
])
def test_sample_validates_its_arguments(tiny, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample(tiny, 2, **kwargs)


def test_unet_refuses_sizes_it_cannot_halve():
    with pytest.raises(ValueError, match="multiples of 4"):
        build_unet((30, 30, 1), widths=(8, 16, 32))
    with pytest.raises(ValueError, match="channel axis"):
        build_unet((28, 28))


def test_ddpm_round_trips_through_its_config(tiny):
    clone = DDPM.from_config(tiny.get_config())
    assert (clone.timesteps, clone.schedule, clone.min_snr) == (40, "cosine", 5.0)
    assert clone.network.count_params() == tiny.network.count_params()


def test_checkpoint_names_code_that_exists():
    import dlbook.diffusion as module

    assert CHECKPOINT_NAME in checkpoints.REGISTRY
    assert all(hasattr(module, name) for name in CHECKPOINT_CODE)


@pytest.mark.skipif(not (checkpoints.DIRECTORY / f"{CHECKPOINT_NAME}.json").exists(),
                    reason="the ddpm-mnist checkpoint has not been made yet")
def test_pretrained_checkpoint_loads_and_samples_digits_sized_images():
    model = pretrained()
    assert model.provenance["recipe"]["steps"] > 1000
    images = sample(model, 2, steps=3, eta=0.0)
    assert images.shape == (2, 28, 28)
