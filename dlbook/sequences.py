"""Time series for recurrent networks: forecasting windows, the naive baselines a forecaster must
beat, the mean absolute error, and causal (streaming) anomaly-detection helpers.

>>> series = np.arange(10.0)
>>> x, y = windows(series, input_len=3, horizon=2)
>>> x.shape, y.shape
((6, 3, 1), (6, 2))
>>> x[0, :, 0].tolist(), y[0].tolist()
([0.0, 1.0, 2.0], [3.0, 4.0])
>>> t = forecast_origins(len(series), input_len=3, horizon=2)
>>> mae(y, naive_forecast(series, t, horizon=2))   # a straight line: off by 1, then by 2
1.5

A **forecast origin** ``t`` is the index of the last observed point: the model sees
``series[t - input_len + 1 : t + 1]`` and predicts ``series[t + 1 : t + 1 + horizon]``.
Every function here takes the same origins, so a model and its baselines are scored on exactly
the same targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "detection_report",
    "forecast_origins",
    "mae",
    "naive_forecast",
    "rolling_zscore",
    "seasonal_naive_forecast",
    "windows",
]


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _as_series(series: Any) -> np.ndarray:
    array = np.asarray(series, dtype="float64")
    if array.ndim != 1:
        raise ValueError(
            f"the series must be 1-D (one value per time step), got shape {array.shape}; "
            "pass one column, e.g. frame['value'].to_numpy()"
        )
    if np.isnan(array).any():
        raise ValueError(
            f"the series holds {int(np.isnan(array).sum())} NaN values; fill them first "
            "(e.g. pandas' Series.interpolate(method='time'))"
        )
    return array


def forecast_origins(
    n: int, input_len: int, horizon: int = 1, *, start: int | None = None, stop: int | None = None
) -> np.ndarray:
    """Every forecast origin ``t`` whose inputs and targets lie inside a series of ``n`` points.

    ``start`` / ``stop`` restrict where the *targets* lie: the first target ``t + 1`` is at
    least ``start`` and the last target ``t + horizon`` is below ``stop`` (default ``n``). So
    ``start=n_train`` gives the origins whose targets are all in the held-out part, while their
    inputs may reach back into the training part, as in real forecasting.

    >>> forecast_origins(10, 3, 2).tolist()
    [2, 3, 4, 5, 6, 7]
    >>> forecast_origins(10, 3, 2, start=7).tolist()       # targets 7..9 only
    [6, 7]
    """
    n = _positive_int(n, "n")
    input_len = _positive_int(input_len, "input_len")
    horizon = _positive_int(horizon, "horizon")
    stop = n if stop is None else min(_positive_int(stop, "stop"), n)
    first = input_len - 1 if start is None else max(input_len - 1, int(start) - 1)
    last = stop - horizon - 1
    if last < first:
        raise ValueError(
            f"no forecast origin fits: {n} points, input_len {input_len}, horizon {horizon}, "
            f"targets in [{start or 0}, {stop}); use a shorter input_len or horizon"
        )
    return np.arange(first, last + 1)


def windows(
    series: Any, input_len: int, horizon: int = 1, *, origins: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a 1-D series into (inputs, targets) for a forecaster.

    Returns ``x`` of shape ``(n, input_len, 1)`` (the channel axis a Keras recurrent layer
    expects) and ``y`` of shape ``(n, horizon)``, both ``float32``, one row per origin
    (default: every origin, see :func:`forecast_origins`).

    >>> x, y = windows([1.0, 2.0, 4.0, 8.0], input_len=2, origins=np.array([2]))
    >>> x[:, :, 0].tolist(), y.tolist()
    ([[2.0, 4.0]], [[8.0]])
    """
    values = _as_series(series)
    input_len = _positive_int(input_len, "input_len")
    horizon = _positive_int(horizon, "horizon")
    t = forecast_origins(len(values), input_len, horizon) if origins is None else np.asarray(origins)
    if t.ndim != 1 or not np.issubdtype(t.dtype, np.integer):
        raise ValueError("origins must be a 1-D integer array (see forecast_origins)")
    if t.size and (t.min() < input_len - 1 or t.max() + horizon >= len(values)):
        raise ValueError(
            f"origins must lie in [{input_len - 1}, {len(values) - horizon - 1}] for a series of "
            f"{len(values)} points; build them with forecast_origins"
        )
    x = values[t[:, None] + np.arange(-input_len + 1, 1)]
    y = values[t[:, None] + np.arange(1, horizon + 1)]
    return x[..., None].astype("float32"), y.astype("float32")


def naive_forecast(series: Any, origins: np.ndarray, horizon: int = 1) -> np.ndarray:
    """The naive forecast: every future step equals the last observed value ``series[t]``.

    >>> naive_forecast([3.0, 5.0, 4.0], np.array([1]), horizon=2).tolist()
    [[5.0, 5.0]]
    """
    values = _as_series(series)
    t = np.asarray(origins)
    horizon = _positive_int(horizon, "horizon")
    return np.repeat(values[t][:, None], horizon, axis=1)


def seasonal_naive_forecast(
    series: Any, origins: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """The seasonal-naive forecast: each future step equals the last observed value one season
    (or a whole number of seasons) earlier, ``series[t + h - k * season]`` with the smallest
    ``k`` that puts it at or before ``t``.

    >>> s = [1.0, 2.0, 3.0, 10.0, 20.0, 30.0]          # season 3
    >>> seasonal_naive_forecast(s, np.array([3]), horizon=4, season=3).tolist()
    [[2.0, 3.0, 10.0, 2.0]]
    """
    values = _as_series(series)
    season = _positive_int(season, "season")
    horizon = _positive_int(horizon, "horizon")
    t = np.asarray(origins)
    h = np.arange(1, horizon + 1)
    back = season * np.ceil(h / season).astype(int)
    index = t[:, None] + h - back
    if t.size and index.min() < 0:
        raise ValueError(
            f"origin {int(t.min())} has less than one season ({season} steps) of history; "
            "start the origins later"
        )
    return values[index]


def mae(y_true: Any, y_pred: Any, *, axis: int | None = None) -> float | np.ndarray:
    """Mean absolute error, in the units of the series (``axis=0`` gives one per horizon).

    >>> mae([1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    0.5
    """
    a, b = np.asarray(y_true, dtype="float64"), np.asarray(y_pred, dtype="float64")
    if a.shape != b.shape:
        raise ValueError(f"y_true has shape {a.shape} but y_pred {b.shape}; they must match")
    if a.size == 0:
        raise ValueError("mae of empty arrays is undefined; pass at least one value")
    for name, values in (("y_true", a), ("y_pred", b)):
        if not np.isfinite(values).all():
            raise ValueError(
                f"{name} holds NaN or infinite values; fill or drop them first (a diverged "
                "model predicts NaN: check its training loss)"
            )
    error = np.abs(a - b).mean(axis=axis)
    return float(error) if axis is None else error


# --- streaming anomaly detection -------------------------------------------------------------


def rolling_zscore(series: Any, window: int) -> np.ndarray:
    """Causal rolling z-score: ``|x_t - mean| / std`` over the ``window`` points *before* ``t``
    (so it can run on a stream); the first ``window`` points score 0.

    >>> z = rolling_zscore([1.0, 2.0, 1.0, 2.0, 9.0], window=4)
    >>> z.round(1).tolist()
    [0.0, 0.0, 0.0, 0.0, 15.0]
    """
    values = _as_series(series)
    window = _positive_int(window, "window", 2)
    if len(values) <= window:
        raise ValueError(f"the series has {len(values)} points, not more than window={window}")
    past = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
    mean, std = past.mean(axis=1), past.std(axis=1)
    score = np.zeros_like(values)
    score[window:] = np.abs(values[window:] - mean) / np.maximum(std, 1e-12)
    return score


def detection_report(labels: Any, flags: Any) -> dict[str, float]:
    """Point-wise precision, recall and F1 of flagged points against 0/1 anomaly labels, plus
    how many labelled anomalous stretches (events) got at least one flag, and how many flags
    fell outside every labelled stretch (false alarms).

    >>> r = detection_report([0, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 1])
    >>> r["precision"], r["recall"], r["events_found"], r["false_alarm_points"]
    (0.667, 0.667, '1 of 1', 1)
    """
    y = np.asarray(labels).astype(bool)
    f = np.asarray(flags).astype(bool)
    if y.shape != f.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and flags {f.shape} must be 1-D and of equal length")
    hits = int((y & f).sum())
    precision = hits / f.sum() if f.any() else 0.0
    recall = hits / y.sum() if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    edges = np.diff(np.r_[0, y.astype(int), 0])
    events = list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))
    found = sum(bool(f[a:b].any()) for a, b in events)
    return {
        "precision": round(float(precision), 3),
        "recall": round(float(recall), 3),
        "f1": round(float(f1), 3),
        "events_found": f"{found} of {len(events)}",
        "false_alarm_points": int((f & ~y).sum()),
    }
