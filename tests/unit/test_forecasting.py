"""Day-ahead forecasting helpers: origins fall at the end of each day with enough history,
lag features never look past the origin, window inputs line up with their targets, MAPE and the
per-step error are computed as defined, and the registered demand and MovieLens data keep their
documented splits."""

import numpy as np
import pytest

from dlbook import data, forecasting


def test_day_ahead_origins_end_each_day_and_respect_history_and_range():
    t = forecasting.day_ahead_origins(10 * 4, 4, history=8)
    assert t.tolist() == [7, 11, 15, 19, 23, 27, 31, 35]
    assert forecasting.day_ahead_origins(40, 4, history=8, start=32).tolist() == [31, 35]
    with pytest.raises(ValueError, match="no forecast origin fits|no whole day"):
        forecasting.day_ahead_origins(12, 4, history=12)


def test_lag_table_never_reads_beyond_the_origin():
    n, spd, season = 6 * 4, 4, 8
    y = np.arange(n, dtype=float)           # value == index: a lag reveals where it was read
    t = np.array([15])
    tab = forecasting.lag_table(y, t, spd, steps_per_day=spd, season=season)
    assert (tab[["lag_day", "lag_week", "last"]].to_numpy() <= t[0]).all()
    assert tab.lag_day.tolist() == [12, 13, 14, 15]           # same time, one day back
    assert tab.lag_week.tolist() == [8, 9, 10, 11]
    assert tab.mean_last_day.tolist() == [13.5] * 4 and tab.step_of_day.tolist() == [0, 1, 2, 3]


def test_lag_table_adds_covariates_at_the_target_and_their_day_mean():
    y = np.zeros(24)
    c = np.arange(24, dtype=float)
    dow = np.arange(24) // 4
    tab = forecasting.lag_table(y, [15, 19], 4, covariates={"temp": c}, steps_per_day=4,
                                season=8, day_of_week=dow)
    assert tab.temp.tolist() == [16, 17, 18, 19, 20, 21, 22, 23]
    assert tab.temp_day_mean.tolist() == [17.5] * 4 + [21.5] * 4
    assert tab.day_of_week.tolist() == [4] * 4 + [5] * 4 and len(tab) == 8


def test_window_inputs_line_up_with_targets():
    y = np.arange(20, dtype=float)
    past, future = forecasting.window_inputs(y, [9, 12], 5, 3, covariates={"a": y, "b": -y})
    assert past.tolist() == [[5, 6, 7, 8, 9], [8, 9, 10, 11, 12]]
    assert future.shape == (2, 3, 2) and future[0, :, 0].tolist() == [10, 11, 12]
    assert future[1, :, 1].tolist() == [-13, -14, -15]
    assert forecasting.window_inputs(y, [9], 5, 3)[1].shape == (1, 3, 0)


def test_mape_and_errors_by_step():
    assert forecasting.mape([2.0, 4.0], [1.0, 5.0]) == pytest.approx(37.5)
    err = forecasting.by_step_of_day([[1, 2, 3], [1, 2, 3]], [[1, 1, 1], [3, 2, 1]])
    assert err.tolist() == [1.0, 0.5, 2.0]


def test_bad_input_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="undefined where the target is 0"):
        forecasting.mape([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="origins must lie"):
        forecasting.lag_table(np.zeros(24), [3], 4, steps_per_day=4, season=8)
    with pytest.raises(ValueError, match="align them first"):
        forecasting.lag_table(np.zeros(24), [15], 4, covariates={"t": np.zeros(5)},
                              steps_per_day=4, season=8)
    with pytest.raises(ValueError, match="NaN"):
        forecasting.window_inputs([1.0, np.nan, 2.0], [1], 1, 1)
    with pytest.raises(ValueError, match="equal shape"):
        forecasting.by_step_of_day([1.0, 2.0], [1.0, 2.0])


def test_registered_elecdemand_is_half_hourly_and_split_at_6_november():
    ds = data.load("elecdemand")
    times = np.concatenate([ds.x_train.time.to_numpy(), ds.x_test.time.to_numpy()])
    assert len(times) == 17520 and (np.diff(times) == np.timedelta64(30, "m")).all()
    assert str(ds.x_test.time.iloc[0]) == "2014-11-06 00:00:00"
    assert 2.5 < ds.y_train.min() and ds.y_train.max() < 10 and set(ds.x_train.workday) == {0, 1}


def test_registered_movielens_holds_out_each_users_latest_fifth():
    ds = data.load("movielens")
    assert len(ds.x_train) + len(ds.x_test) == 100_004
    assert ds.x_train.userId.nunique() == ds.x_test.userId.nunique() == 671
    last_train = ds.x_train.groupby("userId").timestamp.max()
    first_test = ds.x_test.groupby("userId").timestamp.min()
    assert (last_train <= first_test).all()
    assert not ds.x_train.title.isna().any() and ds.y_train.max() == 5.0
