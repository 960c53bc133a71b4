import math

import matplotlib

matplotlib.use("agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbook import optim  # noqa: E402

keras = optim.keras


@pytest.mark.parametrize("surface", [optim.VALLEY, optim.ROTATED_VALLEY, optim.ROSENBROCK, optim.BEALE])
def test_surfaces_are_zero_at_their_minimum_and_positive_at_their_start(surface):
    assert surface(*surface.minimum) == pytest.approx(0.0, abs=1e-12)
    assert surface(*surface.start) > 0.1
    lo, hi = surface.xlim
    assert lo <= surface.start[0] <= hi and lo <= surface.minimum[0] <= hi
    lo, hi = surface.ylim
    assert lo <= surface.start[1] <= hi and lo <= surface.minimum[1] <= hi


def test_test_functions_work_on_numpy_grids_and_on_tensors():
    g1, g2 = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4))
    for fn in (optim.valley, optim.rosenbrock, optim.beale):
        assert fn(g1, g2).shape == (4, 5)
        tensor = fn(keras.ops.convert_to_tensor(0.5), keras.ops.convert_to_tensor(0.25))
        assert float(tensor) == pytest.approx(float(fn(0.5, 0.25)), rel=1e-6)


def test_valley_condition_is_the_ratio_of_curvatures():
    assert optim.valley(0.0, 1.0, condition=20.0) / optim.valley(1.0, 0.0, condition=20.0) == 20.0
    rotated = optim.valley(1.0, 1.0, angle=45.0)  # (1, 1) lies along the rotated valley floor
    assert rotated == pytest.approx(1.0)


def test_rotated_valley_starts_at_the_same_height_as_the_valley():
    assert optim.ROTATED_VALLEY(*optim.ROTATED_VALLEY.start) == pytest.approx(
        optim.VALLEY(*optim.VALLEY.start))


def test_valley_rejects_a_condition_below_one():
    with pytest.raises(ValueError, match="condition must be >= 1"):
        optim.valley(1.0, 1.0, condition=0.5)


def test_descend_with_sgd_matches_hand_written_gradient_descent():
    lr, start = 0.03, np.array([-9.0, 2.0])
    path = optim.descend(optim.valley, start, keras.optimizers.SGD(lr), steps=20)
    w, expected = start.copy(), [start.copy()]
    for _ in range(20):
        w = w - lr * np.array([w[0], 50.0 * w[1]])  # the valley's gradient
        expected.append(w.copy())
    np.testing.assert_allclose(path, np.array(expected), rtol=1e-5, atol=1e-6)


def test_descend_returns_start_then_one_row_per_step():
    path = optim.descend(optim.rosenbrock, (-1.5, 2.5), keras.optimizers.Adam(0.05), steps=7)
    assert path.shape == (8, 2) and path.dtype == np.float64
    assert path[0].tolist() == [-1.5, 2.5]


def test_descend_keeps_going_when_a_run_diverges():
    path = optim.descend(optim.valley, (-9.0, 2.0), keras.optimizers.SGD(0.3), steps=200)
    assert path.shape == (201, 2)
    assert not np.all(np.isfinite(path[-1])) or abs(path[-1, 1]) > 1e6


def test_descend_refuses_a_used_optimizer():
    opt = keras.optimizers.SGD(0.01)
    optim.descend(optim.valley, (1.0, 1.0), opt, steps=1)
    with pytest.raises(ValueError, match="fresh one"):
        optim.descend(optim.valley, (1.0, 1.0), opt, steps=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"optimizer": "adam"}, TypeError, "keras.optimizers.SGD"),
        ({"start": (1.0, 2.0, 3.0)}, ValueError, "2 numbers"),
        ({"start": (1.0, math.nan)}, ValueError, "finite"),
        ({"steps": 0}, ValueError, "positive int"),
        ({"steps": 2.5}, ValueError, "positive int"),
    ],
)
def test_descend_validates_its_inputs(kwargs, error, match):
    args = {"fn": optim.valley, "start": (1.0, 1.0), "optimizer": keras.optimizers.SGD(0.1), "steps": 3}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        optim.descend(**args)


def test_replay_feeds_the_given_gradients_to_the_optimizer():
    grads = np.random.default_rng(0).normal(size=(5, 3))
    path = optim.replay(keras.optimizers.SGD(0.1, momentum=0.9), np.zeros(3), grads)
    velocity, w, expected = np.zeros(3), np.zeros(3), [np.zeros(3)]
    for g in grads:
        velocity = 0.9 * velocity - 0.1 * g
        w = w + velocity
        expected.append(w)
    np.testing.assert_allclose(path, np.array(expected), rtol=1e-5, atol=1e-6)


def test_replay_rejects_gradients_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(steps, 2\)"):
        optim.replay(keras.optimizers.SGD(0.1), (0.0, 0.0), np.ones((4, 3)))


def test_losses_along_evaluates_every_point_and_checks_the_shape():
    path = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert optim.losses_along(optim.rosenbrock, path).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="as descend returns"):
        optim.losses_along(optim.rosenbrock, np.zeros(4))


def test_steps_to_target_finds_the_first_step_at_or_below_the_target():
    assert optim.steps_to_target([3.0, 1.0, 0.5, 2.0, 0.1], 1.0) == 1
    assert optim.steps_to_target([0.5], 1.0) == 0
    assert optim.steps_to_target([3.0, math.nan, math.inf], 1.0) is None


def test_steps_to_target_with_stay_waits_until_the_run_settles():
    bouncing = [3.0, 0.5, 2.0, 0.4, 0.3]
    assert optim.steps_to_target(bouncing, 1.0) == 1
    assert optim.steps_to_target(bouncing, 1.0, stay=True) == 3
    assert optim.steps_to_target([3.0, 0.5, 2.0], 1.0, stay=True) is None
    assert optim.steps_to_target([0.5, 0.4], 1.0, stay=True) == 0
    assert optim.steps_to_target([0.5, math.nan], 1.0, stay=True) is None


@pytest.mark.parametrize(("losses", "target"), [([], 1.0), ([[1.0]], 1.0), ([1.0], math.nan)])
def test_steps_to_target_validates_its_inputs(losses, target):
    with pytest.raises(ValueError):
        optim.steps_to_target(losses, target)


def _tiny_regression():
    x = np.linspace(-1, 1, 64, dtype="float32")[:, None]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    return model, x, 3 * x


def test_time_to_target_logs_every_epoch_and_the_first_hit():
    model, x, y = _tiny_regression()
    clock = optim.TimeToTarget(0.01, monitor="loss")
    model.fit(x, y, batch_size=16, epochs=15, verbose=0, callbacks=[clock])
    curve = clock.curve()
    assert curve.shape == (15, 3)
    assert curve[:, 0].tolist() == [4.0 * (i + 1) for i in range(15)]  # 64 / 16 steps per epoch
    assert np.all(np.diff(curve[:, 1]) > 0)
    first = int(np.argmax(curve[:, 2] <= 0.01))
    assert clock.epoch == first + 1 and clock.steps == curve[first, 0]
    assert clock.seconds == pytest.approx(curve[first, 1])


def test_time_to_target_stays_none_when_the_target_is_never_reached():
    model, x, y = _tiny_regression()
    clock = optim.TimeToTarget(-1.0, monitor="loss")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[clock])
    assert clock.steps is None and clock.seconds is None and len(clock.log) == 2


def test_time_to_target_explains_a_missing_validation_loss():
    model, x, y = _tiny_regression()
    with pytest.raises(KeyError, match="validation_split"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[optim.TimeToTarget(0.1)])


def test_surface_plot_draws_paths_on_the_surface():
    path = np.array([[-1.5, 2.5], [0.0, 0.0], [1.0, 1.0]])
    fig = optim.ROSENBROCK.plot({"by hand": path}, resolution=30)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["by hand (2 steps)", "minimum"]
