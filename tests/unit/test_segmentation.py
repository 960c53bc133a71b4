"""Segmentation helpers: Dice and IoU agree with their set definitions and with each other,
the soft-Dice loss matches hard Dice on binary masks and has useful gradients, the U-Net keeps
the image size and refuses shapes it cannot pool, it learns a toy task, and the threshold
baseline's grid search finds the band that separates a toy target."""

import numpy as np
import pytest

from dlbook import segmentation as seg


def _random_masks(seed=0, n=6, size=12):
    rng = np.random.default_rng(seed)
    return rng.random((n, size, size)) < 0.3, rng.random((n, size, size)) < 0.3


def test_dice_and_iou_follow_their_set_definitions():
    a, b = _random_masks()
    for i in range(len(a)):
        inter, union = (a[i] & b[i]).sum(), (a[i] | b[i]).sum()
        assert seg.dice(a, b)[i] == pytest.approx(2 * inter / (a[i].sum() + b[i].sum()))
        assert seg.iou(a, b)[i] == pytest.approx(inter / union)
    d = seg.dice(a, b)
    np.testing.assert_allclose(seg.iou(a, b), d / (2 - d))


def test_empty_masks_agree_perfectly_and_disjoint_ones_not_at_all():
    empty = np.zeros((1, 4, 4))
    full = np.ones((1, 4, 4))
    assert seg.dice(empty, empty)[0] == 1.0 and seg.iou(empty, empty)[0] == 1.0
    assert seg.dice(empty, full)[0] == 0.0


def test_soft_dice_loss_equals_one_minus_hard_dice_on_binary_masks():
    a, b = _random_masks(seed=2)
    loss = seg.SoftDiceLoss(smooth=0.0)
    value = float(loss(a[..., None].astype("float32"), b[..., None].astype("float32")))
    assert value == pytest.approx(1 - seg.dice(a, b).mean(), rel=1e-5)


def test_soft_dice_gradient_raises_probability_on_missed_foreground():
    import tensorflow as tf

    y = np.zeros((1, 4, 4, 1), "float32")
    y[0, 1:3, 1:3] = 1
    p = tf.Variable(np.full((1, 4, 4, 1), 0.5, "float32"))
    with tf.GradientTape() as tape:
        loss = seg.SoftDiceLoss(bce_weight=1.0)(y, p)
    grad = tape.gradient(loss, p).numpy()[0, ..., 0]
    assert np.all(grad[1:3, 1:3] < 0) and np.all(grad[0] > 0)


def test_unet_keeps_the_image_size_and_outputs_probabilities():
    model = seg.unet((32, 48, 1), filters=4, depth=2)
    out = np.asarray(model(np.random.default_rng(0).random((2, 32, 48, 1), dtype="float32")))
    assert out.shape == (2, 32, 48, 1) and np.all((out >= 0) & (out <= 1))


def test_unet_learns_a_bright_square():
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(0.2, 0.05, (64, 16, 16, 1)).astype("float32")
    y = np.zeros_like(x)
    for i in range(64):
        r, c = rng.integers(2, 10, 2)
        y[i, r:r + 4, c:c + 4] = 1
    x += 0.3 * y
    keras.utils.set_random_seed(0)
    model = seg.unet((16, 16, 1), filters=4, depth=2)
    model.compile(keras.optimizers.Adam(1e-2), loss=seg.SoftDiceLoss(bce_weight=1.0))
    model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    pred = np.asarray(model(x, training=False))[..., 0] > 0.5
    assert seg.dice(y[..., 0], pred).mean() > 0.8


def test_threshold_baseline_grid_search_finds_the_target_band():
    rng = np.random.default_rng(0)
    images = rng.normal(0.1, 0.02, (8, 24, 24))
    masks = np.zeros_like(images)
    masks[:, 8:14, 8:14] = 1
    images[:, 8:14, 8:14] += 0.2            # the target at ~0.3
    images[:, 18:22, :] = 0.9                # a bright "skull" band to exclude
    best = seg.ThresholdSegmenter.fit(images, masks, lows=(0.05, 0.2), highs=(0.5, 1.0),
                                      sigmas=(0.5,), openings=(0, 1), min_sizes=(1,))
    assert (best.low, best.high) == (0.2, 0.5)
    assert seg.dice(masks, best.predict(images)).mean() > 0.9


@pytest.mark.parametrize("call, match", [
    (lambda: seg.dice(np.zeros((2, 3, 3)), np.zeros((2, 3, 4))), "same shape"),
    (lambda: seg.dice(np.zeros((1, 3, 3)), np.full((1, 3, 3), 0.7)), "threshold probabilities"),
    (lambda: seg.unet((30, 30, 1), depth=2), "divisible by 2\\*\\*depth = 4"),
    (lambda: seg.unet((32, 32)), "height, width, channels"),
    (lambda: seg.SoftDiceLoss(smooth=-1), "smooth"),
    (lambda: seg.ThresholdSegmenter().predict(np.zeros((3, 3))), r"\(n, h, w\)"),
    (lambda: seg.ThresholdSegmenter.fit(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), lows=(0.5,),
                                        highs=(0.4,)), "low < high"),
])
def test_bad_input_is_refused_with_the_fix(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_show_masks_draws_one_row_per_method_with_dice_titles():
    import matplotlib

    matplotlib.use("Agg")
    truth = np.zeros((2, 8, 8))
    truth[:, 2:5, 2:5] = 1
    fig = seg.show_masks(np.zeros((2, 8, 8)), truth, {"same": truth, "none": 0 * truth})
    assert len(fig.axes) == 8
    assert fig.axes[4].get_title() == "Dice 1.00" and fig.axes[6].get_title() == "Dice 0.00"
