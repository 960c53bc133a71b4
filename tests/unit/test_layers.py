import numpy as np
import pytest

from dlbook import layers
from dlbook.config import import_keras

keras = import_keras()


def test_mlp_parameters_matches_keras_count_for_several_shapes():
    for hidden in [(), (32,), (64, 32, 16)]:
        model = layers.mlp(hidden, input_shape=(8, 8), n_classes=3)
        assert model.count_params() == layers.mlp_parameters(64, hidden, 3)


def test_mlp_with_no_hidden_layers_is_logistic_regression():
    model = layers.mlp(())
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Flatten", "Dense"]
    assert model.layers[-1].activation.__name__ == "softmax"


def test_mlp_outputs_class_probabilities():
    probs = layers.mlp((8,), input_shape=(4,), n_classes=5)(np.random.rand(3, 4)).numpy()
    assert probs.shape == (3, 5)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_mlp_with_batch_norm_drops_the_redundant_dense_bias():
    model = layers.mlp((16,), input_shape=(4,), batch_norm=True)
    assert not model.get_layer("dense_1").use_bias


@pytest.mark.parametrize("hidden", [(0,), (16, -1), (8.0,), (True,)])
def test_mlp_rejects_non_positive_or_non_integer_widths(hidden):
    with pytest.raises(ValueError, match="positive ints"):
        layers.mlp(hidden)


def test_mlp_rejects_dropout_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        layers.mlp((8,), dropout=1.0)


@pytest.mark.parametrize("depth", [1, 2, 4, 8])
def test_width_for_budget_stays_within_the_budget_and_close_to_it(depth):
    width = layers.width_for_budget(100_000, depth)
    params = layers.mlp_parameters(784, (width,) * depth, 10)
    assert params <= 100_000 < layers.mlp_parameters(784, (width + 1,) * depth, 10)


def test_width_for_budget_refuses_budgets_too_small_for_the_depth():
    with pytest.raises(ValueError, match="too small"):
        layers.width_for_budget(100, 3)


def test_recipe_trains_a_model_of_its_own_architecture_reproducibly():
    recipe = layers.MLPRecipe(hidden=(12,), dropout=0.0, batch_size=32)
    x = np.random.default_rng(0).random((96, 6, 6), dtype="float32")
    y = np.arange(96) % 10
    a = recipe.train(x, y, epochs=2, seed=3)
    b = recipe.train(x, y, epochs=2, seed=3)
    assert a.count_params() == recipe.parameters(n_inputs=36)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))


def test_recipe_with_validation_data_stops_early_and_keeps_history():
    recipe = layers.MLPRecipe(hidden=(8,), dropout=0.0, patience=1, learning_rate=0.0)
    x = np.random.default_rng(1).random((64, 4, 4), dtype="float32")
    y = np.arange(64) % 10
    model = recipe.train(x, y, epochs=20, validation_data=(x, y))
    assert len(model.history.history["loss"]) < 20  # a learning rate of 0 never improves


def test_recipe_rejects_mismatched_inputs_and_bad_epochs():
    x, y = np.zeros((4, 2, 2), dtype="float32"), np.zeros(3, dtype=int)
    with pytest.raises(ValueError, match="4 examples but y has 3"):
        layers.FASHION_MLP.train(x, y, epochs=1)
    with pytest.raises(ValueError, match="positive int"):
        layers.FASHION_MLP.train(x, np.zeros(4, dtype=int), epochs=0)


def test_fashion_mlp_is_the_chapter_network():
    assert layers.FASHION_MLP.hidden == (256, 128)
    assert layers.FASHION_MLP.parameters() == 235_146


def test_residual_block_with_identity_shortcut_adds_its_input():
    inputs = keras.Input((6, 6, 4))
    block = keras.Model(inputs, layers.residual_block(inputs, 4, batch_norm=False))
    for layer in block.layers:  # zero the residual branch: the block becomes relu(x)
        if isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype("float32")
    assert np.allclose(block(x).numpy(), np.maximum(x, 0))


def test_residual_block_projects_the_shortcut_when_the_shape_changes():
    inputs = keras.Input((8, 8, 4))
    out = layers.residual_block(inputs, 8, strides=2, name="down")
    model = keras.Model(inputs, out)
    assert out.shape == (None, 4, 4, 8)
    assert "down_project" in [layer.name for layer in model.layers]


def test_residual_block_without_skip_is_a_plain_block_of_the_same_size():
    inputs = keras.Input((8, 8, 4))
    plain = keras.Model(inputs, layers.residual_block(inputs, 4, skip=False))
    residual = keras.Model(inputs, layers.residual_block(inputs, 4))
    assert plain.count_params() == residual.count_params()
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)


def test_residual_block_rejects_flat_inputs_and_says_how_to_fix():
    with pytest.raises(ValueError, match="channel axis"):
        layers.residual_block(keras.Input((16,)), 4)


def test_fashion_cnn_is_the_cnn_chapters_network():
    model = layers.fashion_cnn()
    assert model.count_params() == 50_186  # the number the CNN chapter prints
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 64]
    assert model.output_shape == (None, 10)
    assert model.optimizer is not None  # compiled, ready to fit


def test_fashion_cnn_puts_augmentation_in_front_and_rejects_flat_shapes():
    flip = keras.layers.RandomFlip("horizontal", seed=0)
    model = layers.fashion_cnn([flip])
    assert model.layers[1] is flip
    with pytest.raises(ValueError, match="channel axis"):
        layers.fashion_cnn(input_shape=(28, 28))
