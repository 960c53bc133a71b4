import numpy as np
import pytest

from dlbook.memory_tasks import ADDING_BASELINE_MSE, adding_problem, copy_problem


def test_adding_problem_shapes_and_dtypes():
    x, y = adding_problem(16, 30, seed=0)
    assert x.shape == (16, 30, 2) and y.shape == (16,)
    assert x.dtype == np.float32 and y.dtype == np.float32


def test_adding_problem_has_one_marker_in_each_half():
    x, _ = adding_problem(200, 31, seed=1)
    markers = x[..., 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[:, :15].sum(axis=1) == 1).all() and (markers[:, 15:].sum(axis=1) == 1).all()


def test_adding_problem_target_is_the_sum_of_the_marked_values():
    x, y = adding_problem(50, 12, seed=2)
    np.testing.assert_allclose(y, (x[..., 0] * x[..., 1]).sum(axis=1), rtol=1e-6)
    assert ((x[..., 0] >= 0) & (x[..., 0] < 1)).all()


def test_adding_problem_mean_predictor_scores_the_documented_baseline():
    _, y = adding_problem(50_000, 10, seed=3)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(ADDING_BASELINE_MSE, abs=0.005)
    assert round(ADDING_BASELINE_MSE, 3) == 0.167


def test_adding_problem_is_reproducible_per_seed():
    a, b, c = (adding_problem(8, 10, seed=s)[0] for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_adding_problem_rejects_bad_sizes_with_the_fix():
    with pytest.raises(ValueError, match="length must be at least 2"):
        adding_problem(4, 1)
    with pytest.raises(TypeError, match="n_samples must be an int"):
        adding_problem(4.0, 10)


def test_copy_problem_target_repeats_the_symbols_after_the_delimiter():
    x, y = copy_problem(5, 20, n_symbols=8, n_copy=10, seed=0)
    assert x.shape == y.shape == (5, 40)
    assert (y[:, -10:] == x[:, :10]).all() and (y[:, :-10] == 0).all()
    assert (x[:, 29] == 9).all() and (x[:, 10:29] == 0).all() and (x[:, 30:] == 0).all()
    assert x[:, :10].min() >= 1 and x[:, :10].max() <= 8
