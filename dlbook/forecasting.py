"""Day-ahead forecasting of a regular series with known covariates (electricity demand with
temperature and a working-day flag): the daily forecast origins, the lag-and-calendar table a
gradient-boosting model learns from, the window inputs a neural network reads, and the
percentage error. Windows and the naive baselines come from :mod:`dlbook.sequences`.

A **day-ahead origin** ``t`` is the last step of a day (``t % steps_per_day ==
steps_per_day - 1``): at midnight we forecast the next ``steps_per_day`` steps. Covariates are
values known in advance for the target steps (a calendar, or a weather forecast; using the
measured temperature instead, as the chapter does, is the "perfect weather forecast"
simplification).

>>> series = np.arange(8 * 4, dtype=float)           # 8 days of 4 steps
>>> day_ahead_origins(len(series), 4, history=8).tolist()
[7, 11, 15, 19, 23, 27]
>>> mape([100.0, 200.0], [110.0, 180.0])
10.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int
from dlbook.sequences import forecast_origins

__all__ = ["by_step_of_day", "day_ahead_origins", "lag_table", "mape", "window_inputs"]


def _series(values: Any, what: str, n: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype="float64")
    if array.ndim != 1:
        raise ValueError(f"{what} must be 1-D (one value per step), got shape {array.shape}")
    if n is not None and len(array) != n:
        raise ValueError(f"{what} has {len(array)} steps but the series {n}; align them first")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} holds NaN or infinite values; fill them first")
    return array


def day_ahead_origins(
    n: int, steps_per_day: int, *, history: int, start: int | None = None, stop: int | None = None,
) -> np.ndarray:
    """The origins at the end of each day with at least ``history`` steps behind them (the
    origin included) and a whole next day inside ``[start, stop)`` (see
    :func:`dlbook.sequences.forecast_origins`).

    >>> day_ahead_origins(40, 4, history=8, start=28).tolist()    # targets in the last 3 days
    [27, 31, 35]
    """
    spd = positive_int(steps_per_day, "steps_per_day")
    t = forecast_origins(n, positive_int(history, "history"), spd, start=start, stop=stop)
    t = t[t % spd == spd - 1]
    if not len(t):
        raise ValueError("no whole day fits between start and stop; widen the range")
    return t


def _check_origins(t: Any, n: int, history: int, horizon: int) -> np.ndarray:
    t = np.asarray(t)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer) or not len(t):
        raise ValueError("origins must be a non-empty 1-D integer array (see day_ahead_origins)")
    if t.min() < history - 1 or t.max() + horizon >= n:
        raise ValueError(f"origins must lie in [{history - 1}, {n - horizon - 1}]; build them "
                         "with day_ahead_origins")
    return t


def lag_table(
    series: Any, origins: Any, horizon: int, *, covariates: Mapping[str, Any] | None = None,
    steps_per_day: int = 48, season: int = 336, day_of_week: Any = None,
) -> pd.DataFrame:
    """One row per (origin, step ahead) for a tabular model, rows origin-major so that a
    prediction reshapes to ``(len(origins), horizon)``. Columns: ``ahead`` (1..horizon),
    ``step_of_day`` of the target, ``lag_day`` and ``lag_week`` (the value at the target's
    time one day / one ``season`` earlier, taken from the last observed day or week when that
    lies after the origin), ``last`` (the value at the origin) and ``mean_last_day``; each
    covariate at the target step and its mean over the target's day (``<name>_day_mean``);
    ``day_of_week`` of the target if given (an integer per step of the series).

    >>> s = np.arange(12.0)
    >>> tab = lag_table(s, [7], 2, steps_per_day=2, season=4)
    >>> tab[["ahead", "lag_day", "lag_week", "last"]].values.tolist()
    [[1.0, 6.0, 4.0, 7.0], [2.0, 7.0, 5.0, 7.0]]
    """
    y = _series(series, "series")
    spd, season = positive_int(steps_per_day, "steps_per_day"), positive_int(season, "season")
    horizon = positive_int(horizon, "horizon")
    t = _check_origins(origins, len(y), max(season, spd), horizon)
    h = np.arange(1, horizon + 1)
    target = t[:, None] + h                                 # (n, horizon)
    back_day = spd * np.ceil(h / spd).astype(int)
    back_week = season * np.ceil(h / season).astype(int)
    cols: dict[str, np.ndarray] = {
        "ahead": np.broadcast_to(h, target.shape),
        "step_of_day": target % spd,
        "lag_day": y[target - back_day],
        "lag_week": y[target - back_week],
        "last": np.broadcast_to(y[t][:, None], target.shape),
        "mean_last_day": np.broadcast_to(
            y[t[:, None] - np.arange(spd)].mean(1)[:, None], target.shape),
    }
    for name, values in (covariates or {}).items():
        c = _series(values, f"covariate {name!r}", len(y))
        cols[name] = c[target]
        day_start = target - target % spd
        cols[f"{name}_day_mean"] = c[day_start[..., None] + np.arange(spd)].mean(-1)
    if day_of_week is not None:
        dow = np.asarray(day_of_week)
        if dow.shape != y.shape:
            raise ValueError(f"day_of_week must give one value per step ({len(y)}), got {dow.shape}")
        cols["day_of_week"] = dow[target]
    return pd.DataFrame({k: np.asarray(v, dtype="float64").ravel() for k, v in cols.items()})


def window_inputs(
    series: Any, origins: Any, input_len: int, horizon: int, *,
    covariates: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs for a neural forecaster: the past ``input_len`` values up to each origin,
    ``(n, input_len)``, and the covariates over the ``horizon`` target steps,
    ``(n, horizon, n_covariates)`` (``n_covariates`` may be 0). Both float32.

    >>> past, future = window_inputs(np.arange(6.0), [3], 2, 2, covariates={"c": np.arange(6.0)})
    >>> past.tolist(), future[..., 0].tolist()
    ([[2.0, 3.0]], [[4.0, 5.0]])
    """
    y = _series(series, "series")
    input_len, horizon = positive_int(input_len, "input_len"), positive_int(horizon, "horizon")
    t = _check_origins(origins, len(y), input_len, horizon)
    past = y[t[:, None] + np.arange(-input_len + 1, 1)]
    target = t[:, None] + np.arange(1, horizon + 1)
    covs = [_series(v, f"covariate {k!r}", len(y))[target] for k, v in (covariates or {}).items()]
    future = np.stack(covs, -1) if covs else np.zeros((len(t), horizon, 0))
    return past.astype("float32"), future.astype("float32")


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error, in percent; defined only for a target that is never 0.

    >>> mape([4.0, 5.0], [5.0, 5.0])
    12.5
    """
    a, b = np.asarray(y_true, dtype="float64"), np.asarray(y_pred, dtype="float64")
    if a.shape != b.shape or not a.size:
        raise ValueError(f"y_true {a.shape} and y_pred {b.shape} must be non-empty and match")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("y_true and y_pred must be finite (a diverged model predicts NaN)")
    if (a == 0).any():
        raise ValueError("MAPE is undefined where the target is 0; use the MAE instead")
    return float(100 * np.mean(np.abs(a - b) / np.abs(a)))


def by_step_of_day(y_true: Any, y_pred: Any) -> np.ndarray:
    """MAE per step ahead for day-ahead forecasts ``(days, steps_per_day)`` made at midnight:
    entry ``j`` is the error at step ``j`` of the day (for half-hours, ``j / 2`` o'clock).

    >>> by_step_of_day([[1.0, 2.0], [3.0, 4.0]], [[1.0, 3.0], [3.0, 2.0]]).tolist()
    [0.0, 1.5]
    """
    a, b = np.asarray(y_true, dtype="float64"), np.asarray(y_pred, dtype="float64")
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"pass (days, steps) matrices of equal shape, got {a.shape} and {b.shape}")
    return np.abs(a - b).mean(0)
