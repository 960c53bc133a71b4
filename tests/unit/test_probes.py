import numpy as np
import pytest

from dlbook.probes import gradient_norms, numerical_gradient, relative_error

# --- numerical_gradient -------------------------------------------------------------------------


def test_central_differences_match_an_analytic_gradient():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    w = rng.normal(size=(3, 2))

    def f(v):
        return float(np.sum(np.tanh(a @ v) ** 2))

    exact = a.T @ (2 * np.tanh(a @ w) * (1 - np.tanh(a @ w) ** 2))
    assert relative_error(numerical_gradient(f, w), exact) < 1e-8


def test_central_is_more_accurate_than_forward_at_the_same_step():
    w = np.array([0.3, -1.2, 2.0])
    exact = np.cos(w)

    def f(v):
        return float(np.sum(np.sin(v)))

    central = relative_error(numerical_gradient(f, w, 1e-4), exact)
    forward = relative_error(numerical_gradient(f, w, 1e-4, scheme="forward"), exact)
    assert central < forward / 100


def test_the_result_keeps_the_shape_and_w_is_not_modified():
    w = np.arange(6, dtype="float32").reshape(2, 3)
    before = w.copy()
    seen = []

    def f(v):
        seen.append(v.shape)
        v[0, 0] = 99.0  # a careless f must not corrupt the next evaluation
        return float(np.sum(v))

    g = numerical_gradient(f, w)
    assert g.shape == (2, 3) and g.dtype == np.float64
    assert set(seen) == {(2, 3)}
    np.testing.assert_array_equal(w, before)


def test_it_costs_two_evaluations_per_parameter_central_and_one_forward():
    calls = []

    def f(v):
        calls.append(1)
        return float(np.sum(v))

    numerical_gradient(f, np.zeros(5))
    assert len(calls) == 10
    calls.clear()
    numerical_gradient(f, np.zeros(5), scheme="forward")
    assert len(calls) == 6


def test_a_non_scalar_loss_is_rejected_with_the_fix():
    with pytest.raises(ValueError, match="reduce it first"):
        numerical_gradient(lambda v: v * 2, np.ones(3))


def test_a_non_finite_loss_is_rejected():
    with pytest.raises(ValueError, match="gradient is undefined"):
        numerical_gradient(lambda v: np.inf if v[0] > 0 else 0.0, np.array([0.0]))


@pytest.mark.parametrize("eps", [0, -1e-6, float("nan"), float("inf"), "1e-6", True])
def test_eps_must_be_a_positive_number(eps):
    with pytest.raises(ValueError, match="eps must be a positive number"):
        numerical_gradient(lambda v: float(v.sum()), np.ones(2), eps)


def test_unknown_scheme_names_the_known_ones():
    with pytest.raises(ValueError, match="central, forward"):
        numerical_gradient(lambda v: float(v.sum()), np.ones(2), scheme="backward")


@pytest.mark.parametrize("w", [np.array([]), np.array(["a", "b"])])
def test_w_must_be_a_non_empty_array_of_numbers(w):
    with pytest.raises(ValueError, match="non-empty array of numbers"):
        numerical_gradient(lambda v: 0.0, w)


# --- relative_error -----------------------------------------------------------------------------


def test_relative_error_is_scale_free_and_symmetric():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.3])
    assert relative_error(a, b) == pytest.approx(relative_error(b, a))
    assert relative_error(a * 1e6, b * 1e6) == pytest.approx(relative_error(a, b))
    assert relative_error(a, -a) == pytest.approx(1.0)


def test_two_zero_gradients_agree():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_relative_error_rejects_shape_mismatch_with_the_fix():
    with pytest.raises(ValueError, match="flatten and concatenate"):
        relative_error(np.ones(3), np.ones((3, 1)))


def test_relative_error_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        relative_error([np.nan], [1.0])


# --- gradient_norms -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    from dlbook.config import import_keras

    return import_keras()


def test_gradient_norms_equal_the_hand_derived_gradient(keras):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="linear")])
    w, b = model.get_weights()
    # mean squared error: dL/dW = 2/n x^T (x W + b - y)
    expected = np.linalg.norm(2 / len(x) * x.T @ (x @ w + b - y))
    norms = gradient_norms(model, x, y, "mse")
    assert list(norms) == ["linear"]
    assert norms["linear"] == pytest.approx(expected, rel=1e-5)


def test_gradient_norms_skip_layers_without_a_kernel_and_keep_layer_order(keras):
    model = keras.Sequential([
        keras.Input((4, 4)),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(8, activation="relu", name="first"),
        keras.layers.Dropout(0.5, name="drop"),
        keras.layers.Dense(3, activation="softmax", name="last"),
    ])
    x = np.random.default_rng(1).random((10, 4, 4))
    y = np.arange(10) % 3
    norms = gradient_norms(model, x, y, keras.losses.SparseCategoricalCrossentropy())
    assert list(norms) == ["first", "last"]
    assert all(v > 0 for v in norms.values())


def test_gradient_norms_do_not_change_the_model(keras):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    before = [w.copy() for w in model.get_weights()]
    gradient_norms(model, np.ones((4, 2)), np.zeros((4, 2)), lambda t, p: (t - p) ** 2)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_gradient_norms_need_a_layer_with_a_kernel(keras):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Activation("relu")])
    with pytest.raises(ValueError, match="no layer with a kernel"):
        gradient_norms(model, np.ones((2, 4)), np.ones((2, 4)), "mse")


def test_gradient_norms_reject_what_is_not_a_keras_model(keras):
    with pytest.raises(TypeError, match="keras.Model"):
        gradient_norms(lambda x: x, np.ones((2, 2)), np.ones((2, 2)), "mse")


def test_gradient_norms_reject_a_loss_that_is_not_callable(keras):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="loss must be"):
        gradient_norms(model, np.ones((2, 2)), np.ones((2, 2)), 3)
