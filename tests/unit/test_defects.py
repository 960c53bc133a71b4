import numpy as np
import pytest

from dlbook.data import defects


def test_textures_load_offline_as_unit_grey_images():
    for name in defects.TEXTURES:
        image = defects.texture(name)
        assert image.shape == (512, 512) and image.dtype == np.float32
        assert 0.0 <= image.min() < image.max() <= 1.0


def test_unknown_texture_names_the_choices():
    with pytest.raises(ValueError, match="brick"):
        defects.texture("bricks")


def test_train_and_test_patches_come_from_disjoint_rows():
    image = np.tile(np.arange(128, dtype="float32")[:, None] / 128, (1, 64))  # value = row
    train, test = defects.split_patches(image, size=16, stride=8, test_rows=0.25)
    assert train.max() < test.min()                  # no test row inside any training patch
    assert test.shape == (2 * 4, 16, 16)              # side by side, no overlap


def test_split_refuses_colour_and_too_small_images():
    with pytest.raises(ValueError, match="grey"):
        defects.split_patches(np.zeros((64, 64, 3)))
    with pytest.raises(ValueError, match="smaller patches"):
        defects.split_patches(np.zeros((40, 40)), size=32)


def test_defects_are_seeded_masked_and_only_in_the_chosen_share():
    _, test = defects.split_patches(defects.texture("brick"), size=32)
    a = defects.add_defects(test, fraction=0.5, seed=3)
    b = defects.add_defects(test, fraction=0.5, seed=3)
    c = defects.add_defects(test, fraction=0.5, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.masks, c.masks)
    assert a.labels.sum() == len(test) // 2
    good = a.labels == 0
    np.testing.assert_array_equal(a.images[good], test[good])     # good patches untouched
    changed = np.abs(a.images - test) > defects.VISIBLE
    np.testing.assert_array_equal(changed, a.masks.astype(bool))  # mask = changed pixels
    assert set(a.kinds[~good]) == set(defects.KINDS)


def test_each_kind_has_its_shape():
    flat = np.full((30, 32, 32), 0.5, "float32")
    area = {k: defects.add_defects(flat, fraction=1.0, kinds=[k], seed=0).masks.sum((1, 2)).mean()
            for k in defects.KINDS}
    holes = defects.add_defects(flat, fraction=1.0, kinds=["hole"], seed=0)
    assert holes.images[holes.masks == 1].mean() < 0.2             # holes are dark
    assert area["hole"] < area["stain"]                            # stains are the big ones
    assert 5 < area["scratch"] < 60                                # thin lines


def test_weaker_defects_change_pixels_less():
    flat = np.full((10, 32, 32), 0.5, "float32")
    strong = defects.add_defects(flat, fraction=1.0, seed=0)
    weak = defects.add_defects(flat, fraction=1.0, strength=0.3, seed=0)
    assert np.abs(weak.images - flat).sum() < np.abs(strong.images - flat).sum()


def test_add_defects_validates_its_inputs():
    x = np.full((4, 32, 32), 0.5, "float32")
    with pytest.raises(ValueError, match="divide by 255"):
        defects.add_defects(x * 255)
    with pytest.raises(ValueError, match="kinds"):
        defects.add_defects(x, kinds=["crack"])
    with pytest.raises(ValueError, match="fraction"):
        defects.add_defects(x, fraction=1.5)
    with pytest.raises(ValueError, match="strength"):
        defects.add_defects(x, strength=0)
