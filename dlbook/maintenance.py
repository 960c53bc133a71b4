"""Manufacturing analytics: visual inspection (anomaly maps of surfaces, image- and pixel-level
ROC AUC) and predictive maintenance (remaining-useful-life targets, windows, the PHM08 score
and a health-index extrapolation baseline).

**Inspection.** A one-class detector learns defect-free surface and returns an *anomaly map*
per image: the autoencoder's squared reconstruction error (:func:`texture_autoencoder`,
:func:`error_maps`) or the Mahalanobis distance of each pixel's neighbourhood under a Gaussian
fitted to good surface (:class:`LocalGaussian`). Maps are smoothed, because a defect covers
several pixels and single-pixel noise does not. The image's score is the map's maximum; as in
the MVTec AD benchmark (Bergmann et al. 2019), :func:`image_auc` ranks images by that score and
:func:`pixel_auc` ranks all test pixels by their map value against the defect masks.

**Maintenance.** Units (engines, pumps, bearings) are observed cycle by cycle until they fail.
:func:`rul_targets` gives each cycle's remaining useful life, optionally *capped*: early in life
the sensors show no wear, so no model can tell 300 cycles left from 200 and the target is held
flat at ``cap`` (the piecewise-linear target of Heimes 2008). :func:`unit_windows` cuts the
last ``window`` cycles before each cycle, within a unit. :func:`phm08_score` is the PHM 2008
challenge's asymmetric score (a late prediction, which lets a unit fail in service, costs more
than an early one), :func:`rmse` the usual error.

>>> rul_targets([1, 1, 1, 2, 2], [1, 2, 3, 1, 2], cap=1).tolist()
[1.0, 1.0, 0.0, 1.0, 0.0]
>>> round(phm08_score([50.0, 50.0], [40.0, 60.0]), 3)   # 10 early, 10 late
2.876
>>> x = np.zeros((1, 32, 32), "float32"); x[0, 10:13, 10:13] = 1.0
>>> maps = error_maps(x, np.zeros_like(x), sigma=1.0)
>>> np.unravel_index(maps[0].argmax(), maps[0].shape)
(np.int64(11), np.int64(11))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number

__all__ = [
    "HealthIndexBaseline",
    "LocalGaussian",
    "error_maps",
    "image_auc",
    "image_scores",
    "last_rows",
    "normalize_by_condition",
    "phm08_score",
    "pixel_auc",
    "rmse",
    "rul_targets",
    "texture_autoencoder",
    "unit_windows",
    "window_features",
]


# --- inspection ---------------------------------------------------------------------------------


def _stack(x: Any, what: str) -> np.ndarray:
    x = np.asarray(x, dtype="float32")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"{what} must be a non-empty stack of grey images (n, h, w), got "
                         f"shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    return x


def texture_autoencoder(size: int = 32, *, filters: Sequence[int] = (16, 32, 32),
                        code: int = 8) -> Any:
    """A fully convolutional autoencoder for ``size`` x ``size`` grey patches: each filter count
    is a stride-2 convolution down (and a transposed one back up); the bottleneck keeps
    ``code`` channels at ``size / 2**len(filters)`` resolution, too few to copy the patch.

    >>> model = texture_autoencoder(32)
    >>> model.output_shape, model.count_params()
    ((None, 32, 32, 1), 30665)
    """
    import keras

    size, code = positive_int(size, "size"), positive_int(code, "code")
    filters = [positive_int(f, "each filter count") for f in filters]
    if not filters or size % 2 ** len(filters):
        raise ValueError(f"size {size} must be divisible by 2**len(filters) = "
                         f"{2 ** len(filters)}; use fewer filters or another patch size")
    inputs = keras.Input((size, size, 1))
    x = inputs
    for f in filters:
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(code, 1, activation="relu", name="code")(x)
    for f in filters[::-1]:
        x = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(x)
    outputs = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="texture_autoencoder")


def _smooth(maps: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage

    if sigma == 0:
        return maps
    sigma = positive_number(sigma, "sigma", hint="the smoothing width in pixels; 0 turns it off")
    return ndimage.gaussian_filter(maps, (0, sigma, sigma), mode="reflect").astype("float32")


def error_maps(x: Any, reconstruction: Any, *, sigma: float = 2.0) -> np.ndarray:
    """Squared reconstruction error per pixel, smoothed by a Gaussian of ``sigma`` px.

    >>> error_maps(np.ones((2, 8, 8)), np.zeros((2, 8, 8)), sigma=0).mean()
    np.float32(1.0)
    """
    x, r = _stack(x, "x"), _stack(reconstruction, "reconstruction")
    if x.shape != r.shape:
        raise ValueError(f"x {x.shape} and reconstruction {r.shape} must have the same shape")
    return _smooth((x - r) ** 2, sigma)


def _neighbourhoods(x: np.ndarray, k: int) -> np.ndarray:
    pad = k // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))
    return windows.reshape(*x.shape, k * k)


class LocalGaussian:
    """A classical anomaly map: fit one Gaussian to the ``k`` x ``k`` neighbourhoods of good
    pixels; a pixel's score is the Mahalanobis distance of its neighbourhood,
    ``(v - mu)^T Sigma^{-1} (v - mu)``, smoothed like the autoencoder's maps.

    >>> rng = np.random.default_rng(0)
    >>> good = rng.uniform(0.4, 0.6, (20, 16, 16)).astype("float32")
    >>> test = good[:2].copy(); test[1, 6:9, 6:9] = 0.0
    >>> maps = LocalGaussian(k=3, samples=2000).fit(good).maps(test)
    >>> bool(maps[1].max() > 3 * maps[0].max())
    True
    """

    def __init__(self, k: int = 7, *, samples: int = 30_000, ridge: float = 1e-4,
                 seed: int = 0) -> None:
        k = positive_int(k, "k")
        if k % 2 == 0:
            raise ValueError(f"k must be odd so that the neighbourhood is centred, got {k}")
        self.k, self.samples = k, positive_int(samples, "samples")
        self.ridge, self.seed = positive_number(ridge, "ridge"), seed
        self.mean_: np.ndarray | None = None

    def fit(self, images: Any) -> LocalGaussian:
        x = _stack(images, "images")
        v = _neighbourhoods(x, self.k)
        rng = np.random.default_rng(self.seed)
        picks = tuple(rng.integers(0, n, self.samples) for n in x.shape)
        features = v[picks].astype("float64")
        self.mean_ = features.mean(0)
        cov = np.cov(features, rowvar=False) + self.ridge * np.eye(self.k ** 2)
        self.precision_ = np.linalg.inv(cov)
        return self

    def maps(self, images: Any, *, sigma: float = 2.0) -> np.ndarray:
        if self.mean_ is None:
            raise ValueError("call fit(good_images) before maps()")
        v = _neighbourhoods(_stack(images, "images"), self.k) - self.mean_.astype("float32")
        d = np.einsum("...i,ij,...j->...", v, self.precision_.astype("float32"), v)
        return _smooth(d.astype("float32"), sigma)


def image_scores(maps: Any, *, reduce: str = "max") -> np.ndarray:
    """One score per image from its anomaly map: the ``max`` (MVTec's usual choice) or the
    ``mean``.

    >>> image_scores(np.arange(8.0).reshape(2, 2, 2)).tolist()
    [3.0, 7.0]
    """
    m = _stack(maps, "maps")
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce must be 'max' or 'mean', got {reduce!r}")
    return (m.max((1, 2)) if reduce == "max" else m.mean((1, 2))).astype("float64")


def _auc(truth: np.ndarray, scores: np.ndarray, what: str) -> float:
    from sklearn.metrics import roc_auc_score

    if truth.shape != scores.shape:
        raise ValueError(f"{what}: truth {truth.shape} and scores {scores.shape} must match")
    if not np.isin(truth, (0, 1)).all():
        raise ValueError(f"{what}: truth must be 0 (good) or 1 (defect)")
    if truth.min() == truth.max():
        raise ValueError(f"{what}: truth holds only one class; AUC needs good and defective items")
    return float(roc_auc_score(truth, scores))


def image_auc(labels: Any, scores: Any) -> float:
    """ROC AUC of image scores against image labels (1 = defective).

    >>> image_auc([0, 0, 1], [0.1, 0.3, 0.2])
    0.5
    """
    return _auc(np.asarray(labels).ravel(), np.asarray(scores, dtype=float).ravel(), "image_auc")


def pixel_auc(masks: Any, maps: Any) -> float:
    """ROC AUC over every pixel of every test image: map values against defect masks.

    >>> pixel_auc([[[0, 1]]], [[[0.2, 0.9]]])
    1.0
    """
    masks, maps = np.asarray(masks), np.asarray(maps, dtype=float)
    if masks.shape != maps.shape:
        raise ValueError(f"pixel_auc: masks {masks.shape} and maps {maps.shape} must match")
    return _auc(masks.ravel(), maps.ravel(), "pixel_auc")


# --- remaining useful life ----------------------------------------------------------------------


def _units(units: Any, cycles: Any | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    u = np.asarray(units)
    if u.ndim != 1 or u.size == 0:
        raise ValueError(f"units must be a non-empty 1-D array (one unit id per row), got {u.shape}")
    if (u[1:] != u[:-1]).sum() + 1 != len(np.unique(u)):
        raise ValueError("each unit's rows must be contiguous; sort by unit and cycle first")
    if cycles is None:
        return u, None
    c = np.asarray(cycles, dtype=float)
    if c.shape != u.shape:
        raise ValueError(f"cycles {c.shape} must give one cycle per row of units {u.shape}")
    same = u[1:] == u[:-1]
    if (np.diff(c)[same] <= 0).any():
        raise ValueError("cycles must increase within each unit; sort by unit and cycle first")
    return u, c


def rul_targets(units: Any, cycles: Any, *, cap: float | None = None) -> np.ndarray:
    """Remaining useful life of every row of run-to-failure units (last cycle = 0), held at
    ``cap`` where it is larger (the piecewise-linear target).

    >>> rul_targets([7, 7, 7], [1, 2, 3]).tolist()
    [2.0, 1.0, 0.0]
    """
    u, c = _units(units, cycles)
    last = pd.Series(c).groupby(u).transform("max").to_numpy()
    rul = last - c
    if cap is not None:
        rul = np.minimum(rul, positive_number(cap, "cap", hint="cycles, e.g. 125"))
    return rul.astype("float64")


def last_rows(units: Any) -> np.ndarray:
    """Index of each unit's last row (where a test unit's RUL is predicted).

    >>> last_rows([1, 1, 2, 3, 3]).tolist()
    [1, 2, 4]
    """
    u, _ = _units(units)
    return np.flatnonzero(np.r_[u[1:] != u[:-1], True])


def normalize_by_condition(train: pd.DataFrame, frames: Sequence[pd.DataFrame],
                           columns: Sequence[str], *, by: str = "condition") -> list[pd.DataFrame]:
    """z-score ``columns`` per operating condition with the training frame's mean and standard
    deviation per condition (regime offsets are much larger than wear). Constant columns
    become 0.

    >>> tr = pd.DataFrame({"condition": [0, 0, 1, 1], "s": [1.0, 3.0, 10.0, 30.0]})
    >>> normalize_by_condition(tr, [tr], ["s"])[0].s.round(2).tolist()
    [-0.71, 0.71, -0.71, 0.71]
    """
    columns = list(columns)
    missing = [c for c in [by, *columns] if c not in train.columns]
    if missing:
        raise ValueError(f"train lacks columns {missing}")
    stats = train.groupby(by)[columns].agg(["mean", "std"])
    out = []
    for frame in frames:
        unknown = set(frame[by]) - set(stats.index)
        if unknown:
            raise ValueError(f"conditions {sorted(unknown)} never occur in train; "
                             "they cannot be normalised")
        mean = stats.xs("mean", axis=1, level=1).loc[frame[by]].to_numpy()
        std = stats.xs("std", axis=1, level=1).loc[frame[by]].to_numpy()
        std = np.where(std > 0, std, np.inf)
        copy = frame.copy()
        copy[columns] = (frame[columns].to_numpy() - mean) / std
        out.append(copy)
    return out


def unit_windows(values: Any, units: Any, window: int, *, rows: Any | None = None) -> np.ndarray:
    """The ``window`` rows up to and including each row in ``rows`` (default: all), never
    reaching into another unit; a unit's first rows are padded with its first row.

    >>> v = np.arange(5.0)[:, None]
    >>> unit_windows(v, [1, 1, 1, 2, 2], 2)[:, :, 0].tolist()
    [[0.0, 0.0], [0.0, 1.0], [1.0, 2.0], [3.0, 3.0], [3.0, 4.0]]
    """
    v = np.asarray(values, dtype="float32")
    if v.ndim != 2:
        raise ValueError(f"values must be 2-D (rows, features), got shape {v.shape}")
    u, _ = _units(units)
    if len(u) != len(v):
        raise ValueError(f"units ({len(u)}) and values ({len(v)}) need one entry per row")
    window = positive_int(window, "window")
    rows = np.arange(len(v)) if rows is None else np.asarray(rows, dtype=int)
    start = np.r_[0, np.flatnonzero(u[1:] != u[:-1]) + 1]
    first = start[np.searchsorted(start, np.arange(len(v)), side="right") - 1]
    index = rows[:, None] - np.arange(window - 1, -1, -1)[None, :]
    index = np.maximum(index, first[rows][:, None])
    return v[index]


def window_features(x: Any) -> np.ndarray:
    """Per-window summary features for a tabular model: each feature's mean, last value and
    least-squares slope over the window, ``(n, 3 * features)``.

    >>> window_features(np.arange(4.0).reshape(1, 4, 1)).tolist()
    [[1.5, 3.0, 1.0]]
    """
    x = np.asarray(x, dtype="float64")
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"x must be windows (n, steps >= 2, features), got shape {x.shape}")
    t = np.arange(x.shape[1]) - (x.shape[1] - 1) / 2
    slope = np.einsum("t,ntf->nf", t, x) / (t ** 2).sum()
    return np.hstack([x.mean(1), x[:, -1], slope])


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true, dtype=float).ravel(), np.asarray(y_pred, dtype=float).ravel()
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} must be non-empty and match")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("y_true and y_pred must be finite")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error.

    >>> rmse([0.0, 0.0], [3.0, 4.0])
    3.5355339059327378
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def phm08_score(y_true: Any, y_pred: Any) -> float:
    """The PHM08 challenge score, summed over units: with ``d = predicted - true`` RUL,
    ``exp(-d / 13) - 1`` for early (``d < 0``) and ``exp(d / 10) - 1`` for late predictions.
    Lower is better; 0 is perfect.

    >>> round(phm08_score([100.0], [90.0]), 3), round(phm08_score([100.0], [110.0]), 3)
    (1.158, 1.718)
    """
    t, p = _pair(y_true, y_pred)
    d = p - t
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1, np.exp(d / 10.0) - 1)))


class HealthIndexBaseline:
    """The classical prognostics baseline: map sensors to one health indicator, fit a curve to
    a unit's indicator so far and extrapolate it to the failure threshold.

    ``fit`` learns the indicator by linear regression of the sensors on 1 (the first
    ``healthy`` cycles of each training unit) and 0 (its last ``failing`` cycles), as in the
    similarity-based method of Wang et al. (2008); the threshold is the indicator's mean over
    the training units' final cycles. ``predict`` fits, to the last ``span`` cycles of each
    unit's indicator (``None``: all of them), either a line (``kind="linear"``) or
    ``a + b * exp(rate * t)`` (``kind="exp"``: the rate from a grid, ``a`` and ``b`` by least
    squares), and returns the cycles until the curve meets the threshold, clipped to
    ``[0, cap]`` (a curve that never falls to it predicts ``cap``).

    >>> t = np.arange(1, 101.0)
    >>> units = np.repeat([1, 2], 100)
    >>> sensor = np.r_[t, t][:, None] / 100.0          # rises steadily to failure
    >>> base = HealthIndexBaseline(healthy=10, failing=10, span=20, kind="linear").fit(
    ...     sensor, units, np.r_[t, t])
    >>> base.predict(sensor[:60], units[:60]).round(0).tolist()
    [40.0]
    """

    RATES = np.geomspace(0.002, 0.08, 25)

    def __init__(self, *, healthy: int = 30, failing: int = 15, span: int | None = None,
                 kind: str = "exp", cap: float = 125.0) -> None:
        self.healthy, self.failing = positive_int(healthy, "healthy"), positive_int(failing, "failing")
        self.span = None if span is None else positive_int(span, "span")
        if kind not in ("linear", "exp"):
            raise ValueError(f"kind must be 'linear' or 'exp', got {kind!r}")
        self.kind, self.cap = kind, positive_number(cap, "cap")
        self.coef_: np.ndarray | None = None

    def _x(self, values: Any) -> np.ndarray:
        v = np.asarray(values, dtype="float64")
        if v.ndim != 2 or not np.isfinite(v).all():
            raise ValueError(f"values must be finite and 2-D (rows, sensors), got shape {v.shape}")
        return np.c_[np.ones(len(v)), v]

    def fit(self, values: Any, units: Any, cycles: Any) -> HealthIndexBaseline:
        x = self._x(values)
        u, c = _units(units, cycles)
        first = c - pd.Series(c).groupby(u).transform("min").to_numpy()
        rul = rul_targets(u, c)
        healthy, failing = first < self.healthy, rul < self.failing
        rows = healthy | failing
        self.coef_, *_ = np.linalg.lstsq(x[rows], healthy[rows].astype(float), rcond=None)
        self.threshold_ = float(self.indicator(values)[rul == 0].mean())
        return self

    def indicator(self, values: Any) -> np.ndarray:
        """The health indicator of every row (about 1 healthy, about 0 failing)."""
        if self.coef_ is None:
            raise ValueError("call fit(values, units, cycles) on training units first")
        return self._x(values) @ self.coef_

    def _remaining(self, y: np.ndarray) -> float:
        t = np.arange(len(y), dtype=float)
        now = t[-1]
        if len(y) < 3:
            return self.cap
        if self.kind == "linear":
            slope, intercept = np.polyfit(t, y, 1)
            return (self.threshold_ - intercept) / slope - now if slope < 0 else self.cap
        best = (np.inf, 0.0, 0.0, 0.0)
        for rate in self.RATES:
            basis = np.c_[np.ones_like(t), np.exp(rate * (t - now))]   # 1 at "now": stable
            (a, b), *_ = np.linalg.lstsq(basis, y, rcond=None)
            sse = float(np.sum((basis @ np.array([a, b]) - y) ** 2))
            if sse < best[0]:
                best = (sse, a, b, rate)
        _, a, b, rate = best
        ratio = (self.threshold_ - a) / b if b != 0 else -1.0
        return float(np.log(ratio) / rate) if b < 0 and ratio > 0 else self.cap

    def predict(self, values: Any, units: Any) -> np.ndarray:
        """Predicted RUL at each unit's last row, in unit order."""
        h = self.indicator(values)
        u, _ = _units(units)
        out = []
        for end in last_rows(u):
            begin = int(np.flatnonzero(u == u[end])[0])
            if self.span is not None:
                begin = max(begin, end - self.span + 1)
            out.append(float(np.clip(self._remaining(h[begin:end + 1]), 0.0, self.cap)))
        return np.array(out)
