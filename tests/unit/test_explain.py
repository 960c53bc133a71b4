import keras
import numpy as np
import pytest

from dlbook import explain as ex


@pytest.fixture(scope="module")
def cnn():
    """A tiny untrained softmax CNN on 8x8 grey images: enough to test the plumbing."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")


def test_class_scores_are_the_logits_behind_the_softmax(cnn, images):
    z = ex.class_scores(cnn, images)
    assert np.allclose(keras.ops.softmax(z), cnn.predict(images, verbose=0), atol=1e-6)
    probs = ex.class_scores(cnn, images, logits=False)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_gradients_match_a_finite_difference(cnn, images):
    g = ex.gradients(cnn, images[:1], 2)
    eps = 1e-2
    bumped = images[:1].copy()
    bumped[0, 3, 4, 0] += eps
    diff = (ex.class_scores(cnn, bumped) - ex.class_scores(cnn, images[:1]))[0, 2] / eps
    assert diff == pytest.approx(g[0, 3, 4, 0], rel=0.05, abs=1e-4)


def test_integrated_gradients_add_up_to_the_score_difference(cnn, images):
    ig = ex.integrated_gradients(cnn, images, [0, 1, 2, 0], steps=64)
    assert ig.shape == images.shape
    assert ex.completeness_gap(cnn, images, ig, [0, 1, 2, 0]).max() < 0.02
    # without the (x - baseline) factor the sum is wrong
    wrong = ig / np.where(images == 0, 1, images)
    assert ex.completeness_gap(cnn, images, wrong, [0, 1, 2, 0]).max() > 0.05


def test_integrated_gradients_of_the_baseline_itself_are_zero(cnn, images):
    ig = ex.integrated_gradients(cnn, images, 1, baseline=images, steps=4)
    assert np.abs(ig).max() == 0


def test_bad_targets_and_inputs_name_the_fix(cnn, images):
    with pytest.raises(ValueError, match="lie in"):
        ex.gradients(cnn, images, 5)
    with pytest.raises(ValueError, match="one per example"):
        ex.gradients(cnn, images, [0, 1])
    with pytest.raises(ValueError, match=r"x\[None\]"):
        ex.gradients(cnn, images[0, ..., 0].ravel(), 0)
    with pytest.raises(ValueError, match="steps"):
        ex.integrated_gradients(cnn, images, 0, steps=0)
    with pytest.raises(ValueError, match="noise"):
        ex.smoothgrad(cnn, images, 0, noise=-1)


def test_saliency_and_smoothgrad_give_one_map_per_image(cnn, images):
    assert ex.saliency(cnn, images, 0).shape == (4, 8, 8)
    sg = ex.smoothgrad(cnn, images, 0, samples=3)
    assert sg.shape == (4, 8, 8) and (sg >= 0).all()


def test_grad_cam_resizes_to_the_input_and_refuses_unknown_layers(cnn, images):
    for weighting in ("mean", "elementwise"):
        cam = ex.grad_cam(cnn, images, 1, layer="conv", weighting=weighting)
        assert cam.shape == (4, 8, 8) and (cam >= 0).all()
    with pytest.raises(ValueError, match="layers with feature maps"):
        ex.grad_cam(cnn, images, 1, layer="nope")
    with pytest.raises(ValueError, match="HiResCAM"):
        ex.grad_cam(cnn, images, 1, layer="conv", weighting="max")


def test_randomized_copy_changes_only_the_named_layers(cnn):
    assert ex.weighted_layers(cnn) == ["classes", "conv"]
    copy = ex.randomized_copy(cnn, ["classes"], seed=3)
    assert np.array_equal(copy.get_layer("conv").kernel, cnn.get_layer("conv").kernel)
    assert not np.array_equal(copy.get_layer("classes").kernel, cnn.get_layer("classes").kernel)
    with pytest.raises(ValueError, match="top first"):
        ex.randomized_copy(cnn, ["dense_9"])


def test_rank_correlation_ignores_sign_by_default_and_flags_constant_maps():
    a = np.arange(16.0).reshape(1, 4, 4)
    assert ex.rank_correlation(a, -a)[0] == pytest.approx(1.0)
    assert ex.rank_correlation(a, -a, absolute=False)[0] == pytest.approx(-1.0)
    assert np.isnan(ex.rank_correlation(a, np.zeros_like(a))[0])
    with pytest.raises(ValueError, match="one shape"):
        ex.rank_correlation(a, a[:, :2])


def test_cascade_scores_an_input_copying_method_high_and_the_gradient_lower(cnn, images):
    methods = {"input": lambda m, x, t: x[..., 0],
               "gradient": lambda m, x, t: ex.saliency(m, x, t)}
    table = ex.cascading_randomization(cnn, images, 0, methods, seed=1)
    assert list(table.index) == ["trained", "up to classes", "up to conv"]
    assert (table["input"] == 1.0).all()               # ignores the weights entirely
    assert table["gradient"].iloc[-1] < 0.9
    with pytest.raises(ValueError, match="methods is empty"):
        ex.cascading_randomization(cnn, images, 0, {})


def test_deletion_of_the_true_evidence_beats_random_order():
    # a linear "model" that only reads the top-left 2x2 block
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    w = np.zeros((16, 2), "float32")
    w[[0, 1, 4, 5], 0] = 3.0
    model.layers[-1].set_weights([w, np.zeros(2, "float32")])
    x = np.ones((3, 4, 4), "float32")
    truth = np.zeros((3, 4, 4))
    truth[:, :2, :2] = 1.0
    fr = [0, 0.25, 0.5]
    good = ex.curve_area(fr, ex.perturbation_curve(model, x, 0, truth, fractions=fr))
    rand = ex.curve_area(fr, ex.perturbation_curve(
        model, x, 0, np.random.default_rng(0).random((3, 4, 4)), fractions=fr))
    assert good < rand
    inserted = ex.perturbation_curve(model, x, 0, truth, fractions=fr, mode="insertion")
    assert inserted[-1].mean() > inserted[0].mean()
    with pytest.raises(ValueError, match="mode"):
        ex.perturbation_curve(model, x, 0, truth, mode="erase")
    with pytest.raises(ValueError, match="fractions"):
        ex.perturbation_curve(model, x, 0, truth, fractions=[0, 2])
    with pytest.raises(ValueError, match="one value"):
        ex.curve_area([0, 1], np.zeros(3))


def test_feature_deletion_finds_the_feature_that_matters():
    f = lambda z: 2.0 * z[:, 1]                               # noqa: E731
    x = np.ones((5, 4))
    att = np.zeros((5, 4))
    att[:, 1] = 2.0
    top, rand = ex.feature_deletion(f, x, att, np.zeros((3, 4)), k=1, seed=0)
    assert np.allclose(top, 2.0) and rand.mean() < 2.0
    with pytest.raises(ValueError, match="more than"):
        ex.feature_deletion(f, x, att, np.zeros((3, 4)), k=9)
    with pytest.raises(ValueError, match="background"):
        ex.feature_deletion(f, x, att, np.zeros((3, 2)))


def test_token_occlusion_skips_padding_and_refuses_text():
    def predict(ids):
        p = (ids == 4).sum(axis=1) / 2
        return np.stack([1 - p, p], axis=1)

    drops = ex.token_occlusion(predict, np.array([[4, 4, 0], [5, 0, 0]]), 1)
    assert [d.tolist() for d in drops] == [[0.5, 0.5], [0.0]]
    with pytest.raises(ValueError, match="encode"):
        ex.token_occlusion(predict, np.array([["a", "b"]]), 1)
