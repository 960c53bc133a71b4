"""dlbook.restoration: patches, degradations, metrics and the restoration models."""

import numpy as np
import pytest

from dlbook import data, restoration
from dlbook.data.registry.photos import CROP, TEST, TRAIN


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (30, 36)).astype("float32")


def test_patches_cover_every_pixel_and_reassemble_exactly(image):
    patches = restoration.extract_patches(image, size=8, stride=5)
    assert patches.shape[1:] == (8, 8)
    assert patches[0].tolist() == image[:8, :8].tolist()
    assert patches[-1].tolist() == image[-8:, -8:].tolist()  # flush with the border
    assert np.allclose(restoration.assemble_patches(patches, image.shape, stride=5), image)


def test_assemble_averages_overlaps():
    patches = np.stack([np.zeros((4, 4)), np.ones((4, 4))])
    out = restoration.assemble_patches(patches, (4, 6), stride=2)
    assert out[0].tolist() == [0, 0, 0.5, 0.5, 1, 1]


def test_assemble_rejects_a_wrong_count(image):
    patches = restoration.extract_patches(image, size=8, stride=4)
    with pytest.raises(ValueError, match="do not tile"):
        restoration.assemble_patches(patches[:-1], image.shape, stride=4)


def test_patch_larger_than_image_names_the_fix(image):
    with pytest.raises(ValueError, match="larger than the image side"):
        restoration.extract_patches(image, size=40, stride=4)


def test_colour_image_is_refused_with_the_conversion():
    with pytest.raises(ValueError, match="rgb2gray"):
        restoration.extract_patches(np.zeros((8, 8, 3)), size=4, stride=4)


def test_predict_tiled_with_identity_and_scaling(image):
    out = restoration.predict_tiled(lambda b: b, image, size=12, stride=8, margin=2)
    assert np.allclose(out, image, atol=1e-6)
    big = restoration.predict_tiled(lambda b: np.kron(b, np.ones((1, 2, 2))), image,
                                    size=12, stride=8, scale=2, margin=3)
    assert np.allclose(big, np.kron(image, np.ones((2, 2))), atol=1e-6)


def test_dihedral_holds_all_eight_symmetries():
    x = np.arange(4.0).reshape(1, 2, 2)
    out = restoration.dihedral(x)
    assert len({tuple(p.ravel()) for p in out}) == 8


def test_downscale_is_the_block_mean_and_checks_divisibility():
    x = np.arange(36.0).reshape(6, 6)
    assert restoration.downscale(x, 3)[0, 0] == x[:3, :3].mean()
    assert restoration.downscale(np.stack([x, x]), 2).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="crop_to_multiple"):
        restoration.downscale(np.zeros((7, 6)), 2)


def test_bicubic_upscale_keeps_constants_and_clips():
    flat = np.full((5, 5), 0.3, "float32")
    assert np.allclose(restoration.upscale(flat, 3), 0.3, atol=1e-5)
    edge = np.kron(np.eye(4, dtype="float32"), np.ones((2, 2)))
    big = restoration.upscale(edge, 2)
    assert big.min() >= 0 and big.max() <= 1  # bicubic overshoots, then it is clipped


def test_noise_is_seeded_and_has_the_stated_sigma():
    a = restoration.add_noise(np.zeros((200, 200)), 25 / 255, seed=3)
    b = restoration.add_noise(np.zeros((200, 200)), 25 / 255, seed=3)
    assert np.array_equal(a, b)
    assert abs(a.std() - 25 / 255) < 0.003
    with pytest.raises(ValueError, match="25/255"):
        restoration.add_noise(np.zeros((4, 4)), 0, seed=0)


def test_damage_mask_draws_full_height_scratches():
    mask = restoration.damage_mask((50, 40), scratches=1, blotches=0, seed=1, width=2)
    assert mask.any(axis=1).all()              # the scratch crosses every row
    assert 1 <= mask.sum(axis=1).max() <= 2
    with pytest.raises(ValueError, match="not both 0"):
        restoration.damage_mask((8, 8), scratches=0, blotches=0, seed=0)


def test_local_mean_fill_keeps_known_pixels_and_fills_a_ramp():
    ramp = np.tile(np.linspace(0, 1, 32, dtype="float32"), (32, 1))
    hole = np.zeros_like(ramp, bool)
    hole[10:14, 10:14] = True
    filled = restoration.local_mean_fill(np.where(hole, 0, ramp), hole)
    assert np.array_equal(filled[~hole], ramp[~hole])
    assert np.abs(filled[hole] - ramp[hole]).max() < 0.02
    with pytest.raises(ValueError, match="boolean"):
        restoration.local_mean_fill(ramp, hole.astype(int))


def test_psnr_needs_the_data_range_and_matches_the_definition():
    ref = np.zeros((10, 10))
    assert restoration.psnr(ref, np.full((10, 10), 0.1), data_range=1.0) == pytest.approx(20)
    assert restoration.psnr(ref, ref, data_range=1.0) == float("inf")
    with pytest.raises(TypeError):
        restoration.psnr(ref, ref)  # no default: the range must be stated
    with pytest.raises(ValueError, match="255 for uint8"):
        restoration.psnr(ref, ref, data_range=0)


def test_metrics_shave_the_border_and_check_shapes():
    ref = np.zeros((10, 10))
    est = ref.copy()
    est[0, :] = 1.0                            # wrong only on the border
    assert restoration.psnr(ref, est, data_range=1.0, border=1) == float("inf")
    big, big_est = np.zeros((20, 20)), np.zeros((20, 20))
    big_est[:, -1] = 1.0
    assert restoration.ssim(big, big_est, data_range=1.0, border=1) == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        restoration.psnr(ref, np.zeros((9, 10)), data_range=1.0)


def test_ssim_falls_with_noise(image):
    noisy = restoration.add_noise(image, 0.2, seed=0)
    assert restoration.ssim(image, noisy, data_range=1.0) < 0.9


def test_evaluate_tabulates_methods_with_a_mean_row(image):
    table = restoration.evaluate([image, image], {"same": [image, image],
                                                  "grey": [image * 0, image * 0]},
                                 names=["a", "b"])
    assert list(table.index) == ["a", "b", "mean"]
    assert table.loc["mean", ("SSIM", "same")] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="references"):
        restoration.evaluate([image], {"x": [image, image]}, names=["a"])


def test_espcn_starts_as_bicubic_and_upsamples():
    low = np.random.default_rng(0).uniform(0, 1, (2, 8, 10)).astype("float32")
    model = restoration.espcn(3, filters=(8,), kernels=(3,))
    out = restoration.apply(model, low)
    assert out.shape == (2, 24, 30)
    assert np.allclose(np.clip(out, 0, 1), restoration.upscale(low, 3), atol=1e-5)


def test_dncnn_starts_near_identity_free_and_keeps_shape():
    model = restoration.dncnn(depth=3, filters=4, batch_norm=False)
    assert restoration.apply(model, np.zeros((1, 12, 9))).shape == (1, 12, 9)
    with pytest.raises(ValueError, match="depth must be >= 2"):
        restoration.dncnn(depth=1)


def test_inpainting_net_starts_as_its_first_guess_and_keeps_known_pixels():
    rng = np.random.default_rng(0)
    guess = rng.uniform(0, 1, (2, 16, 16)).astype("float32")
    mask = (rng.uniform(size=(2, 16, 16)) < 0.2).astype("float32")
    model = restoration.inpainting_net(filters=4, dilations=(1, 2))
    out = restoration.apply(model, np.stack([guess, mask], -1))
    assert np.allclose(out, guess, atol=1e-6)  # the correction starts at zero
    model.get_layer("correction").set_weights(
        [np.ones_like(w) for w in model.get_layer("correction").get_weights()])
    out = restoration.apply(model, np.stack([guess, mask], -1))
    assert np.allclose(out[mask == 0], guess[mask == 0])  # known pixels pass through
    assert not np.allclose(out[mask == 1], guess[mask == 1])


def test_photos_are_split_by_photograph():
    photos = data.load("photos")
    assert photos.x_train.shape == (len(TRAIN), CROP, CROP)
    assert photos.x_test.shape == (len(TEST), CROP, CROP)
    assert not set(TRAIN) & set(TEST)
    assert photos.x_train.dtype == np.float32
    assert 0 <= photos.x_test.min() and photos.x_test.max() <= 1
    assert np.array_equal(photos.y_test, photos.x_test)
