import matplotlib

matplotlib.use("agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook import plot  # noqa: E402


def test_history_draws_a_panel_per_metric_with_validation_curves():
    fig = plot.history({"loss": [1, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8]})
    assert len(fig.axes) == 2
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "validation"]
    assert loss_ax.get_xlabel() == "epoch" and loss_ax.get_title()


def test_history_accepts_a_keras_history_object():
    class History:
        history = {"loss": [1.0, 0.9]}

    assert len(plot.history(History()).axes) == 1


@pytest.mark.parametrize("bad", [None, {}, [1, 2]])
def test_history_rejects_what_fit_does_not_return(bad):
    with pytest.raises(TypeError, match="model.fit"):
        plot.history(bad)


def test_history_unknown_metric_names_the_known_ones():
    with pytest.raises(KeyError, match="has \\['loss'\\]"):
        plot.history({"loss": [1.0]}, metrics=["acc"])


def test_image_grid_lays_out_images_with_captions():
    fig = plot.image_grid(np.random.rand(10, 8, 8), labels=list("abcdefghij"), ncols=4)
    assert len(fig.axes) == 10
    assert fig.axes[3].get_title() == "d"


def test_image_grid_accepts_channels_last():
    assert len(plot.image_grid(np.random.rand(2, 8, 8, 1)).axes) == 2
    assert len(plot.image_grid(np.random.rand(2, 8, 8, 3)).axes) == 2


@pytest.mark.parametrize("shape", [(8, 8), (0, 8, 8), (2, 2, 2, 2, 2)])
def test_image_grid_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="shape"):
        plot.image_grid(np.zeros(shape))


def test_image_grid_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        plot.image_grid(np.zeros((3, 4, 4)), labels=["a", "b"])


def test_confusion_matrix_rows_are_true_classes():
    fig = plot.confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"], normalize=False)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"
    texts = {t.get_text() for t in ax.texts}
    assert texts == {"1", "2"}


def test_confusion_matrix_rejects_probabilities():
    with pytest.raises(ValueError, match="argmax"):
        plot.confusion_matrix([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]]))


def test_network_diagram_shows_every_layer():
    fig = plot.network_diagram([784, 16, 10], layer_names=["in", "hidden", "out"])
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any("784 units" in t for t in labels) and any("hidden" in t for t in labels)


@pytest.mark.parametrize("sizes", [[3], [3, 0], [3, 2.5]])
def test_network_diagram_rejects_bad_layer_sizes(sizes):
    with pytest.raises(ValueError, match="positive ints"):
        plot.network_diagram(sizes)


def test_use_style_sets_the_book_style():
    import matplotlib.pyplot as plt

    plot.use_style()
    assert plt.rcParams["axes.spines.top"] is False


def test_decision_boundary_colours_regions_by_predicted_class():
    x = np.array([[0.0, 0.0], [0.1, 0.2], [1.0, 1.0], [0.9, 0.8]])
    y = np.array([0, 0, 1, 1])
    fig = plot.decision_boundary(lambda p: np.c_[p[:, 0] < 0.5, p[:, 0] >= 0.5].astype(float), x, y,
                                 class_names=["left", "right"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["left", "right"]


def test_decision_boundary_accepts_scikit_learn_and_keras_models():
    import keras
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(40, 2))
    y = (x[:, 0] > 0).astype(int)
    plot.decision_boundary(LogisticRegression().fit(x, y), x, y, resolution=20)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    plot.decision_boundary(model, x, y, resolution=20)


def test_decision_boundary_needs_two_features():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot.decision_boundary(lambda p: p[:, 0], np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(TypeError, match="Keras model, a scikit-learn estimator"):
        plot.decision_boundary(42, np.zeros((2, 2)), np.zeros(2, int))


def test_loss_surface_draws_paths_and_minimum():
    path = np.array([[2.0, 2.0], [1.0, 1.0], [0.0, 0.0]])
    fig = plot.loss_surface(lambda a, b: a**2 + b**2, xlim=(-3, 3), ylim=(-3, 3),
                            paths={"sgd": path}, minimum=(0, 0), resolution=30)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["sgd (2 steps)", "minimum"]


def test_loss_surface_rejects_bad_limits_paths_and_functions():
    with pytest.raises(ValueError, match="low < high"):
        plot.loss_surface(lambda a, b: a, xlim=(1, -1), ylim=(0, 1))
    with pytest.raises(ValueError, match=r"shape \(steps, 2\)"):
        plot.loss_surface(lambda a, b: a + b, xlim=(0, 1), ylim=(0, 1), paths={"p": np.zeros(3)})
    with pytest.raises(ValueError, match="element-wise"):
        plot.loss_surface(lambda a, b: 1.0, xlim=(0, 1), ylim=(0, 1))


def test_plots_can_share_a_figure_through_ax():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    out = plot.loss_surface(lambda a, b: a**2 + b**2, xlim=(-1, 1), ylim=(-1, 1), ax=axes[1], resolution=10)
    assert out is fig


def test_filters_draws_one_panel_per_filter_on_a_shared_zero_centred_scale():
    kernels = np.zeros((3, 3, 1, 4))
    kernels[0, 0, 0, 1] = 2.0
    kernels[1, 1, 0, 2] = -0.5
    fig = plot.filters(kernels, ncols=2)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("filter")]
    assert [ax.get_title() for ax in panels] == [f"filter {k}" for k in range(4)]
    assert all(ax.images[0].get_clim() == (-2.0, 2.0) for ax in panels)


def test_filters_draws_rgb_filters_as_colour_images():
    fig = plot.filters(np.random.randn(5, 5, 3, 3))
    assert fig.axes[0].images[0].get_array().shape == (5, 5, 3)


def test_filters_caps_the_number_of_panels():
    fig = plot.filters(np.random.randn(3, 3, 1, 64), max_filters=10)
    assert sum(ax.get_title().startswith("filter") for ax in fig.axes) == 10


@pytest.mark.parametrize("shape", [(3, 3, 8), (3, 3, 2, 4)])
def test_filters_rejects_other_layouts_and_names_the_keras_one(shape):
    with pytest.raises(ValueError, match="in_channels, filters"):
        plot.filters(np.zeros(shape))


def test_feature_maps_accepts_a_batch_of_one_and_shows_each_channel():
    fig = plot.feature_maps(np.random.rand(1, 7, 7, 5), ncols=3)
    assert [ax.get_title() for ax in fig.axes] == [f"channel {k}" for k in range(5)]
    assert fig.axes[0].images[0].get_array().shape == (7, 7)


def test_feature_maps_caps_the_number_of_panels():
    assert len(plot.feature_maps(np.random.rand(4, 4, 40), max_maps=12).axes) == 12


def test_feature_maps_rejects_a_batch_and_says_how_to_pick_one_image():
    with pytest.raises(ValueError, match=r"maps\[:1\]"):
        plot.feature_maps(np.zeros((2, 7, 7, 3)))


def test_attention_map_labels_rows_with_outputs_and_columns_with_source_words():
    weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.0, 0.1, 0.9], [0.3, 0.3, 0.4]])
    fig = plot.attention_map(weights, ["in", "the", "beginning"], ["en", "el", "principio"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["in", "the", "beginning"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["en", "el", "principio"]
    assert ax.images[0].get_array().shape == (3, 3)  # the end-marker row is cut off
    assert ax.get_title() and ax.get_xlabel() == "source word"


def test_attention_map_rejects_weights_smaller_than_the_tokens():
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        plot.attention_map(np.ones((1, 2, 3)), ["a", "b", "c"], ["x", "y"])
    with pytest.raises(ValueError, match="covering 3 output"):
        plot.attention_map(np.ones((2, 2)), ["a", "b"], ["x", "y", "z"])
