"""Transfer learning helpers: the transfer model is a frozen *copy* of the source cut at the
named layer with a fresh head, unfreezing reaches only the top blocks (batch normalisation
stays frozen), training runs exactly the requested updates, a restarted model is as good as
new, the label-count curve has its three methods, a saved model reloads to the same
predictions, and bad input is refused with the fix."""

import dataclasses

import numpy as np
import pytest

from dlbook import transfer as T

keras = T.keras


@dataclasses.dataclass
class Part:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list

    @property
    def n_classes(self):
        return len(self.class_names)

    def subset(self, n_train=None, seed=0):
        rng = np.random.default_rng(seed)
        keep = rng.permutation(len(self.y_train))[:n_train]
        return dataclasses.replace(self, x_train=self.x_train[keep], y_train=self.y_train[keep])


@pytest.fixture(scope="module")
def bars():
    """8×8 images of one bright row (class 0), one column (class 1) or a diagonal (class 2),
    with noise: a task a 2-block CNN learns in a few dozen steps."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    x = rng.random((240, 8, 8)).astype("float32") * 0.3
    for img, label, where in zip(x, y, rng.integers(1, 7, 240), strict=True):
        if label == 0:
            img[where, :] = 1
        elif label == 1:
            img[:, where] = 1
        else:
            np.fill_diagonal(img, 1)
    return Part(x[:180], y[:180], x[180:], y[180:], ["row", "column", "diagonal"])


@pytest.fixture(scope="module")
def source():
    return T.small_cnn((8, 8, 1), 3, widths=(4, 8), seed=0)


def test_small_cnn_names_its_blocks_and_refuses_a_missing_channel_axis():
    model = T.small_cnn((8, 8, 1), 3, widths=(4, 8, 8))
    assert T.block_names(model) == ["block1", "block2", "block3"]
    assert model.get_layer("features").output.shape == (None, 8)
    with pytest.raises(ValueError, match=r"\(28, 28, 1\)"):
        T.small_cnn((28, 28), 10)
    with pytest.raises(ValueError, match="fewer widths"):
        T.small_cnn((4, 4, 1), 2, widths=(2, 2, 2, 2))


def test_transfer_model_is_a_frozen_copy_of_the_source_up_to_the_cut(source, bars):
    model = T.transfer_model(source, "features", 5, seed=1)
    base = model.get_layer("base")
    assert not base.trainable and base.layers[-1].name == "features"
    assert model.output_shape == (None, 5)
    x = bars.x_test[..., None]
    cut = keras.Model(source.input, source.get_layer("features").output)
    np.testing.assert_array_equal(base.predict(x, verbose=0), cut.predict(x, verbose=0))
    only_head = {w.path.split("/")[0] for w in model.trainable_weights}
    assert only_head == {"head_bn", "head"}


def test_training_the_transfer_model_leaves_source_and_frozen_statistics_alone(source, bars):
    before = [w.copy() for w in source.get_weights()]
    model = T.transfer_model(source, "features", 3)
    base_before = [w.copy() for w in model.get_layer("base").get_weights()]
    T.unfreeze_top(model, blocks=2, learning_rate=1e-2)
    T.fit_steps(model, bars, steps=5, batch_size=32)
    for old, new in zip(before, source.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    bn = model.get_layer("base").get_layer("block1_bn")
    index = [w.path for w in model.get_layer("base").weights].index(bn.moving_mean.path)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), base_before[index])
    conv = model.get_layer("base").get_layer("block2_conv").get_weights()[0]
    assert not np.array_equal(conv, source.get_layer("block2_conv").get_weights()[0])


def test_a_cut_that_does_not_exist_is_refused_with_close_names(source):
    with pytest.raises(ValueError, match=r"did you mean \['block2_relu'"):
        T.transfer_model(source, "block2_rel", 3)
    with pytest.raises(TypeError, match="load_model"):
        T.transfer_model("source.keras", "features", 3)


def test_a_cut_at_a_feature_map_is_pooled_to_a_vector(source):
    model = T.transfer_model(source, "block1_pool", 3)
    assert model.get_layer("pool").output.shape == (None, 4)


def test_unfreeze_top_reaches_only_the_top_blocks_and_keeps_batchnorm_frozen(source):
    model = T.transfer_model(source, "features", 3)
    frozen = T.trainable_parameters(model)
    T.unfreeze_top(model, blocks=1, learning_rate=1e-4)
    base = model.get_layer("base")
    assert base.get_layer("block2_conv").trainable
    assert not base.get_layer("block2_bn").trainable
    assert not base.get_layer("block1_conv").trainable
    conv = base.get_layer("block2_conv").kernel
    assert T.trainable_parameters(model) == frozen + int(np.prod(conv.shape))
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    T.unfreeze_top(model, blocks=2, keep_batchnorm_frozen=False)
    assert base.get_layer("block1_bn").trainable


def test_unfreezing_more_blocks_than_exist_names_the_limit(source):
    model = T.transfer_model(source, "features", 3)
    with pytest.raises(ValueError, match="at most 2"):
        T.unfreeze_top(model, blocks=3)
    with pytest.raises(ValueError, match="positive int"):
        T.unfreeze_top(model, blocks=0)


def test_fit_steps_runs_exactly_the_requested_updates_and_learns(bars):
    model = T.small_cnn((8, 8, 1), 3, widths=(8, 16), seed=0)
    T._compile(model, 1e-2)
    score = T.fit_steps(model, bars, steps=60, batch_size=32)
    assert int(model.optimizer.iterations.numpy()) == 60
    assert score > 0.8, f"accuracy {score} on an easy task"


def test_fit_steps_uses_full_batches_when_labels_are_fewer_than_a_batch(bars):
    few = bars.subset(n_train=10)
    model = T.small_cnn((8, 8, 1), 3, widths=(4,), seed=0)
    T._compile(model, 1e-3)
    T.fit_steps(model, few, steps=3, batch_size=32)
    assert int(model.optimizer.iterations.numpy()) == 3


def test_restart_gives_the_same_result_as_a_new_model(bars):
    def trained(model):
        return T.fit_steps(model, bars, steps=10, batch_size=32, seed=3), model.get_weights()

    start = T.small_cnn((8, 8, 1), 3, widths=(4, 8), seed=0).get_weights()
    fresh = T.small_cnn((8, 8, 1), 3, widths=(4, 8), seed=0)
    T._compile(fresh, 1e-2)
    reused = T.small_cnn((8, 8, 1), 3, widths=(4, 8), seed=5)
    T._compile(reused, 1e-2)
    T.fit_steps(reused, bars, steps=4, batch_size=32)          # some history to forget
    T.restart(reused, start)
    assert int(reused.optimizer.iterations.numpy()) == 0
    assert float(reused.optimizer.learning_rate) == pytest.approx(1e-2)
    fresh.set_weights(start)
    (a, wa), (b, wb) = trained(fresh), trained(reused)
    assert a == b
    for x, y in zip(wa, wb, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_transfer_curve_scores_three_methods_at_every_size_and_repeat(source, bars):
    curve = T.transfer_curve(source, bars, [30, 90], head_steps=3, tune_steps=3, repeats=2,
                             architecture=lambda s: T.small_cnn((8, 8, 1), 3, widths=(4, 8),
                                                                seed=s))
    assert set(curve["model"]) == {"fine-tuned", "frozen base + new head", "from scratch"}
    assert len(curve) == 3 * 2 * 2
    assert curve["score"].between(0, 1).all() and (curve["seconds"] > 0).all()


def test_transfer_curve_refuses_a_scratch_model_with_the_wrong_classes(source, bars):
    with pytest.raises(ValueError, match="3 classes"):
        T.transfer_curve(source, bars, [30], head_steps=1, tune_steps=1,
                         architecture=lambda s: T.small_cnn((8, 8, 1), 7, widths=(4,)))


def test_a_saved_small_cnn_reloads_in_safe_mode_with_identical_predictions(tmp_path, bars):
    model = T.small_cnn((8, 8, 1), 3, widths=(4, 8), seed=0)
    T._compile(model, 1e-2)
    T.fit_steps(model, bars, steps=3, batch_size=32)
    model.save(tmp_path / "source.keras")
    loaded = keras.saving.load_model(tmp_path / "source.keras", safe_mode=True)
    x = bars.x_test[..., None]
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_split_classes_keeps_only_those_labels_and_renumbers_them():
    from dlbook import data

    digits = data.load("digits")
    low = T.split_classes(digits, [3, 1])
    assert set(low.y_train) == {0, 1} and low.class_names == ["3", "1"]
    assert (low.x_train[low.y_train == 0] == digits.x_train[digits.y_train == 3]).all()
    assert len(low.y_test) == int(np.isin(digits.y_test, [1, 3]).sum())
    with pytest.raises(ValueError, match="0 to 9"):
        T.split_classes(digits, [4, 12])


def test_pretrained_features_builds_the_network_offline_without_weights():
    feats = T.pretrained_features(np.random.default_rng(0).random((3, 8, 8)),
                                  architecture="MobileNetV2", size=32, weights=None)
    assert feats.shape == (3, 1280) and np.isfinite(feats).all()
    assert "EfficientNetB0" in T.imagenet_plan() and "96×96" in T.imagenet_plan()
    with pytest.raises(ValueError, match="one of"):
        T.imagenet_plan("VGG99")
    with pytest.raises(ValueError, match="at least 32"):
        T.pretrained_features(np.zeros((1, 8, 8)), size=16, weights=None)
