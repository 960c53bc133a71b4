import numpy as np
import pytest

from dlbook import sequences as sq


def test_windows_pair_each_input_with_the_next_horizon_values():
    series = np.arange(20.0)
    x, y = sq.windows(series, input_len=4, horizon=3)
    assert x.shape == (14, 4, 1) and y.shape == (14, 3) and x.dtype == np.float32
    for row in range(len(x)):
        assert y[row, 0] == x[row, -1, 0] + 1 and np.all(np.diff(y[row]) == 1)


def test_windows_follow_the_given_origins():
    series = np.arange(10.0) ** 2
    x, y = sq.windows(series, 2, 1, origins=np.array([1, 5]))
    assert x[:, :, 0].tolist() == [[0.0, 1.0], [16.0, 25.0]] and y.tolist() == [[4.0], [36.0]]


def test_windows_reject_origins_outside_the_series():
    with pytest.raises(ValueError, match="forecast_origins"):
        sq.windows(np.arange(10.0), 3, 2, origins=np.array([8]))
    with pytest.raises(ValueError, match="forecast_origins"):
        sq.windows(np.arange(10.0), 3, 2, origins=np.array([0]))


def test_windows_reject_nan_and_2d_series_with_the_fix():
    with pytest.raises(ValueError, match="interpolate"):
        sq.windows([1.0, np.nan, 3.0, 4.0], 2)
    with pytest.raises(ValueError, match="one column"):
        sq.windows(np.zeros((5, 2)), 2)


def test_forecast_origins_with_start_keep_every_target_in_the_test_part():
    n, n_train, horizon = 50, 40, 5
    t = sq.forecast_origins(n, 8, horizon, start=n_train)
    assert (t + 1).min() == n_train and (t + horizon).max() == n - 1
    t_train = sq.forecast_origins(n, 8, horizon, stop=n_train)
    assert (t_train + horizon).max() == n_train - 1


def test_forecast_origins_explain_when_nothing_fits():
    with pytest.raises(ValueError, match="shorter"):
        sq.forecast_origins(5, 4, 3)
    with pytest.raises(TypeError, match="int"):
        sq.forecast_origins(10, 2.5)


def test_naive_forecast_repeats_the_last_value():
    series = np.array([1.0, 4.0, 2.0, 7.0])
    assert sq.naive_forecast(series, np.array([1, 2]), 3).tolist() == [[4.0] * 3, [2.0] * 3]


def test_seasonal_naive_is_exact_on_a_periodic_series():
    season = 12
    series = np.tile(np.sin(np.arange(season)), 6)
    t = sq.forecast_origins(len(series), season, 30, start=season)
    _, y = sq.windows(series, season, 30, origins=t)
    forecast = sq.seasonal_naive_forecast(series, t, 30, season)
    assert np.allclose(forecast, y, atol=1e-6)
    assert sq.mae(y, sq.naive_forecast(series, t, 30)) > 0.3


def test_seasonal_naive_needs_one_season_of_history():
    with pytest.raises(ValueError, match="season"):
        sq.seasonal_naive_forecast(np.arange(30.0), np.array([3]), 2, season=12)


def test_mae_per_horizon_and_shape_check():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert sq.mae(y, y + [[0.5, 1.0], [0.5, 3.0]], axis=0).tolist() == [0.5, 2.0]
    assert sq.mae(y, y) == 0.0
    with pytest.raises(ValueError, match="shape"):
        sq.mae(y, y[0])


def test_rolling_zscore_is_causal_and_flags_a_spike():
    rng = np.random.default_rng(0)
    series = rng.normal(size=300)
    series[250] = 12.0
    z = sq.rolling_zscore(series, 50)
    assert z[:50].tolist() == [0.0] * 50 and z.argmax() == 250 and z[250] > 8
    changed = series.copy()
    changed[260:] = 100.0  # the future must not change past scores
    assert np.array_equal(sq.rolling_zscore(changed, 50)[:260], z[:260])


def test_detection_report_counts_points_events_and_false_alarms():
    labels = np.array([0, 1, 1, 0, 0, 1, 1, 1, 0, 0])
    flags = np.array([0, 0, 1, 0, 1, 0, 0, 0, 0, 1])
    report = sq.detection_report(labels, flags)
    assert report["precision"] == pytest.approx(1 / 3, abs=1e-3)
    assert report["recall"] == pytest.approx(1 / 5, abs=1e-3)
    assert report["events_found"] == "1 of 2" and report["false_alarm_points"] == 2
    assert sq.detection_report(labels, np.zeros(10))["f1"] == 0.0
    with pytest.raises(ValueError, match="equal length"):
        sq.detection_report(labels, flags[:5])


@pytest.mark.parametrize("bad", [[0.0, float("nan")], [0.0, float("inf")]])
def test_mae_rejects_non_finite_values_instead_of_returning_nan(bad):
    with pytest.raises(ValueError, match="NaN or infinite"):
        sq.mae([0.0, 0.0], bad)


def test_mae_rejects_empty_arrays():
    with pytest.raises(ValueError, match="empty"):
        sq.mae([], [])
