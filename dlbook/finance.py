"""Finance helpers: credit-scoring decisions, card-fraud features and alarms, and honest
forecasting of prices and volatility.

Three concerns of the Finance chapter, each small:

* **Credit scoring**: a :class:`TabularEncoder` (standardised numbers, integer codes for
  categories) and :func:`tabular_mlp` (an MLP with one embedding per categorical column); the
  expected cost of a refusal threshold under a stated cost matrix (:func:`expected_cost`,
  :func:`cost_curve`, :func:`best_threshold`, :func:`bayes_threshold`); a paired bootstrap of
  ROC AUC (:func:`bootstrap_auc`).
* **Fraud detection**: per-card features of a transaction stream (:func:`transaction_features`,
  for :mod:`dlbook.data.transactions`), alerts under a daily budget (:func:`daily_alerts`), and a
  small tabular autoencoder (:func:`tabular_autoencoder`, :func:`reconstruction_error`).
* **Forecasting**: log returns, the realised variance to come, the EWMA (RiskMetrics) variance
  forecast, HAR regressors, the QLIKE loss (and its Keras form), a small window LSTM, and the
  Diebold-Mariano test.

>>> expected_cost([0, 1, 1], [0.1, 0.9, 0.3], threshold=0.5, cost_fn=5, cost_fp=1)  # 1 miss
1.6667
>>> bayes_threshold(cost_fn=5, cost_fp=1)      # refuse when P(default) > 1/6
0.1667
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number

__all__ = [
    "TabularEncoder",
    "bayes_threshold",
    "best_threshold",
    "bootstrap_auc",
    "cost_curve",
    "daily_alerts",
    "diebold_mariano",
    "ewma_variance",
    "expected_cost",
    "future_realised_variance",
    "har_features",
    "log_returns",
    "predict",
    "qlike",
    "qlike_loss",
    "reconstruction_error",
    "tabular_autoencoder",
    "tabular_mlp",
    "window_lstm",
    "transaction_features",
]


# --- checks ---------------------------------------------------------------------------------


def _labels(y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (good / normal) or 1 (default / fraud); map them first")
    return y.astype(int)


def _probs(p: Any, n: int, what: str = "probabilities") -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.shape != (n,):
        raise ValueError(f"{what} must be 1-D with one entry per label ({n}), got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError(f"{what} hold NaN or infinite values")
    return p


# --- credit decisions -----------------------------------------------------------------------


def bayes_threshold(cost_fn: float = 5.0, cost_fp: float = 1.0) -> float:
    """The threshold on a *calibrated* probability of default above which refusing costs less
    than accepting: refuse when ``p * cost_fn > (1 - p) * cost_fp``, i.e.
    ``p > cost_fp / (cost_fp + cost_fn)``.

    >>> bayes_threshold(cost_fn=1, cost_fp=1)
    0.5
    """
    fn = positive_number(cost_fn, "cost_fn", hint="the cost of accepting a client who defaults")
    fp = positive_number(cost_fp, "cost_fp", hint="the cost of refusing a client who repays")
    return round(fp / (fp + fn), 4)


def expected_cost(y: Any, p: Any, threshold: float, *, cost_fn: float = 5.0,
                  cost_fp: float = 1.0) -> float:
    """Average cost per applicant when everyone with score ``p > threshold`` is refused: a
    missed default (accepted, ``y = 1``) costs ``cost_fn``, a refused good client ``cost_fp``.

    >>> expected_cost([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.1], 0.5)  # one refusal wrong, one miss
    1.5
    """
    y = _labels(y)
    p = _probs(p, y.size)
    fn = positive_number(cost_fn, "cost_fn")
    fp = positive_number(cost_fp, "cost_fp")
    if (isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating))
            or not 0 <= threshold <= 1):
        raise ValueError(f"threshold must be a probability from 0 to 1 (scores above it are "
                         f"refused), got {threshold!r}")
    refuse = p > threshold
    return round(float((fn * (y & ~refuse)).sum() + fp * ((1 - y) & refuse).sum()) / y.size, 4)


def cost_curve(y: Any, p: Any, thresholds: Any = None, *, cost_fn: float = 5.0,
               cost_fp: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(thresholds, cost per applicant)`` over a grid (default 0 to 1 in steps of 0.005).

    >>> t, c = cost_curve([0, 1], [0.2, 0.8], [0.1, 0.5, 0.9])
    >>> c.tolist()          # refuse both, refuse the defaulter only, accept both
    [0.5, 0.0, 2.5]
    """
    y = _labels(y)
    p = _probs(p, y.size)
    grid = np.linspace(0, 1, 201) if thresholds is None else np.asarray(thresholds, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError("thresholds must be a non-empty 1-D array")
    costs = np.array([expected_cost(y, p, t, cost_fn=cost_fn, cost_fp=cost_fp) for t in grid])
    return grid, costs


def best_threshold(y: Any, p: Any, thresholds: Any = None, *, cost_fn: float = 5.0,
                   cost_fp: float = 1.0) -> tuple[float, float]:
    """The threshold of lowest expected cost on ``(y, p)`` and that cost. Choose it on
    validation data and report its cost on test data: on the data it was tuned on it looks
    better than it is.

    >>> best_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.9], [0.2, 0.3, 0.5])
    (0.2, 0.25)
    """
    grid, costs = cost_curve(y, p, thresholds, cost_fn=cost_fn, cost_fp=cost_fp)
    i = int(np.argmin(costs))
    return float(grid[i]), float(costs[i])


def bootstrap_auc(y: Any, scores: Mapping[str, Any], *, n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """ROC AUC of each model on ``n_boot`` bootstrap resamples of the test set, the *same*
    resamples for every model (a paired bootstrap), so the spread of differences is honest.

    Returns one column per model, one row per resample; ``.quantile([0.025, 0.975])`` gives a
    95 % interval, and ``(df["a"] - df["b"]).quantile(...)`` one for the difference.

    >>> y = np.array([0, 0, 1, 1] * 25)
    >>> df = bootstrap_auc(y, {"perfect": y * 1.0, "coin": np.tile([0.3, 0.6], 50)}, n_boot=50)
    >>> df.shape, float(df["perfect"].min())
    ((50, 2), 1.0)
    """
    from scipy.stats import rankdata

    def auc(labels: np.ndarray, score: np.ndarray) -> float:  # Mann-Whitney U, ties halved
        ranks = rankdata(score)
        n1 = labels.sum()
        return float((ranks[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (labels.size - n1)))

    y = _labels(y)
    if not scores:
        raise ValueError("scores must map at least one model name to its scores")
    s = {name: _probs(v, y.size, f"scores of {name!r}") for name, v in scores.items()}
    n_boot = positive_int(n_boot, "n_boot")
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n_boot:
        idx = rng.integers(y.size, size=y.size)
        if y[idx].min() == y[idx].max():  # a resample with one class has no AUC
            continue
        rows.append({name: auc(y[idx], v[idx]) for name, v in s.items()})
    return pd.DataFrame(rows)


@dataclass
class TabularEncoder:
    """Turns a mixed-type table into what :func:`tabular_mlp` eats: the numeric columns (those
    in ``log`` through ``log1p`` first) standardised with training means and deviations, and each
    categorical column as integer codes, 0 being kept for "missing or unseen in training".

    >>> frame = pd.DataFrame({"income": [10.0, 20.0, 30.0], "home": ["rent", "own", None]})
    >>> enc = TabularEncoder(numeric=["income"], categorical=["home"]).fit(frame)
    >>> enc.cardinalities
    {'home': 3}
    >>> x = enc.transform(pd.DataFrame({"income": [20.0], "home": ["castle"]}))
    >>> x["numeric"].round(2).tolist(), x["home"].tolist()
    ([[0.0]], [0])
    """

    numeric: Sequence[str]
    categorical: Sequence[str] = ()
    log: Sequence[str] = ()
    mean_: np.ndarray | None = field(default=None, repr=False)
    std_: np.ndarray | None = field(default=None, repr=False)
    levels_: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    def _numbers(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in [*self.numeric, *self.categorical] if c not in frame.columns]
        if missing:
            raise ValueError(f"columns {missing} are missing; the encoder was set up with "
                             f"numeric={list(self.numeric)} categorical={list(self.categorical)}")
        x = frame[list(self.numeric)].astype(float).to_numpy().copy()
        for j, col in enumerate(self.numeric):
            if col in self.log:
                if (x[:, j] < 0).any():
                    raise ValueError(f"column {col!r} has negative values; drop it from log=")
                x[:, j] = np.log1p(x[:, j])
        return x

    def fit(self, frame: pd.DataFrame) -> TabularEncoder:
        unknown = [c for c in self.log if c not in self.numeric]
        if unknown:
            raise ValueError(f"log= names {unknown}, which are not numeric columns")
        x = self._numbers(frame)
        self.mean_ = np.nanmean(x, axis=0)
        self.std_ = np.where(np.nanstd(x, axis=0) > 0, np.nanstd(x, axis=0), 1.0)
        self.levels_ = {c: sorted(frame[c].dropna().unique().tolist(), key=str)
                        for c in self.categorical}
        return self

    @property
    def cardinalities(self) -> dict[str, int]:
        """Number of codes per categorical column (levels + 1 for missing / unseen)."""
        return {c: len(levels) + 1 for c, levels in self.levels_.items()}

    def transform(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if self.mean_ is None:
            raise ValueError("the encoder is not fitted; call .fit(train_frame) first")
        x = (self._numbers(frame) - self.mean_) / self.std_
        out = {"numeric": np.nan_to_num(x, nan=0.0).astype("float32")}  # missing -> the mean
        for c, levels in self.levels_.items():
            codes = {v: i + 1 for i, v in enumerate(levels)}
            out[c] = frame[c].map(codes).fillna(0).to_numpy(dtype="int32")
        return out


def tabular_mlp(encoder: TabularEncoder, *, hidden: Sequence[int] = (64, 32),
                embed_dim: int = 4, dropout: float = 0.2, seed: int = 0):
    """A Keras MLP for tabular data: the standardised numbers, concatenated with a learnt
    ``embed_dim``-vector per categorical column (Guo & Berkhahn 2016), through ReLU layers
    to one sigmoid output, the probability of the positive class. Inputs are the dict that
    ``encoder.transform`` returns.

    >>> enc = TabularEncoder(["a"], ["c"]).fit(pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"]}))
    >>> tabular_mlp(enc, hidden=(8,)).output_shape
    (None, 1)
    """
    from dlbook.config import import_keras

    keras = import_keras()
    if encoder.mean_ is None:
        raise ValueError("fit the encoder on the training frame before building the model")
    hidden = [positive_int(h, "hidden units") for h in hidden]
    embed_dim = positive_int(embed_dim, "embed_dim")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    init = keras.initializers.GlorotUniform(seed=seed)
    numeric = keras.Input((len(encoder.numeric),), name="numeric")
    inputs, parts = [numeric], [numeric]
    for col, size in encoder.cardinalities.items():
        code = keras.Input((), dtype="int32", name=col)
        inputs.append(code)
        parts.append(keras.layers.Embedding(size, embed_dim, name=f"embed_{col}",
                                            embeddings_initializer="uniform")(code))
    h = keras.layers.Concatenate()(parts) if len(parts) > 1 else numeric
    for i, units in enumerate(hidden):
        h = keras.layers.Dense(units, activation="relu", kernel_initializer=init,
                               name=f"dense_{i}")(h)
        if dropout:
            h = keras.layers.Dropout(dropout, seed=seed)(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="p_positive")(h)
    return keras.Model(inputs, out, name="tabular_mlp")


# --- fraud: per-card features and alarms ----------------------------------------------------

_PRIOR_N = 3.0          # a card's typical amount starts at the prior, then follows its history
_PRIOR_LOG_AMOUNT = math.log(40.0)
_NO_GAP_HOURS = 24.0 * 30


def _window_stats(card: np.ndarray, time: np.ndarray, amount: np.ndarray,
                  width: float) -> tuple[np.ndarray, np.ndarray]:
    """Count and sum of the same card's *earlier* transactions within ``width`` days (rows
    sorted by card, then time)."""
    key = card * 1e6 + time            # one increasing key: cards apart by far more than a window
    lo = np.searchsorted(key, key - width, side="left")
    idx = np.arange(card.size)
    csum = np.concatenate([[0.0], np.cumsum(amount)])
    return (idx - lo).astype(float), csum[idx] - csum[lo]


def transaction_features(df: pd.DataFrame) -> pd.DataFrame:
    """Per-card features of a transaction stream, each computed from the card's *past* only
    (what an issuer knows when it must approve or decline), in ``df``'s row order.

    ``df`` needs ``time`` (days, float), ``hour``, ``card``, ``merchant``, ``category``,
    ``country``, ``card_country`` and ``amount``, as :func:`dlbook.data.transactions.generate`
    returns. Features: ``log_amount``; ``amount_vs_usual`` (log amount minus the card's running
    mean log amount, shrunk towards a prior for young cards) and ``amount_vs_max`` (against its
    largest earlier amount); ``log_gap_h`` (hours since the card's previous transaction);
    velocity ``n_1h``, ``n_24h`` and ``log_sum_24h`` (earlier transactions and their total in the
    last hour / day); ``new_merchant``, ``new_category``, ``new_country`` (first time for this
    card), ``foreign``; ``hour_sin``, ``hour_cos``; ``log_history`` (how many earlier
    transactions, so a model can discount the flags of new cards); one ``cat_*`` column per
    category.

    >>> from dlbook.data import transactions
    >>> feats = transaction_features(transactions.generate(n_cards=30, days=10, seed=0))
    >>> feats.shape[1], bool(feats.notna().all().all())
    (22, True)
    """
    needed = ["time", "hour", "card", "merchant", "category", "country", "card_country", "amount"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks columns {missing}; pass a frame like "
                         "dlbook.data.transactions.generate() returns")
    if (df["amount"] <= 0).any():
        raise ValueError("amounts must be positive; drop refunds and zero-value checks first")
    order = np.lexsort((df["time"].to_numpy(), df["card"].to_numpy()))
    s = df.iloc[order].reset_index(drop=True)
    card, time = s["card"].to_numpy(), s["time"].to_numpy(dtype=float)
    log_amt = np.log(s["amount"].to_numpy(dtype=float))
    g = pd.Series(log_amt).groupby(card)
    n_prev = g.cumcount().to_numpy(dtype=float)
    prev_sum = g.cumsum().to_numpy() - log_amt
    usual = (prev_sum + _PRIOR_N * _PRIOR_LOG_AMOUNT) / (n_prev + _PRIOR_N)
    prev_max = g.cummax().groupby(card).shift(1).to_numpy()
    prev_time = pd.Series(time).groupby(card).shift(1).to_numpy()
    gap_h = np.where(np.isnan(prev_time), _NO_GAP_HOURS, (time - prev_time) * 24)
    n1, _ = _window_stats(card, time, s["amount"].to_numpy(float), 1 / 24)
    n24, sum24 = _window_stats(card, time, s["amount"].to_numpy(float), 1.0)
    angle = 2 * np.pi * s["hour"].to_numpy(dtype=float) / 24
    feats = pd.DataFrame({
        "log_amount": log_amt,
        "amount_vs_usual": log_amt - usual,
        "amount_vs_max": np.nan_to_num(log_amt - prev_max, nan=0.0),
        "log_gap_h": np.log1p(gap_h),
        "n_1h": n1, "n_24h": n24, "log_sum_24h": np.log1p(sum24),
        "new_merchant": (s.groupby(["card", "merchant"]).cumcount() == 0).astype(float),
        "new_category": (s.groupby(["card", "category"], observed=True).cumcount() == 0)
        .astype(float),
        "new_country": (s.groupby(["card", "country"]).cumcount() == 0).astype(float),
        "foreign": (s["country"] != s["card_country"]).astype(float),
        "hour_sin": np.sin(angle), "hour_cos": np.cos(angle),
        "log_history": np.log1p(n_prev),
    })
    categories = (s["category"].cat.categories if hasattr(s["category"], "cat")
                  else sorted(s["category"].unique()))
    for c in categories:
        feats[f"cat_{c}"] = (s["category"] == c).astype(float).to_numpy()
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return feats.iloc[inverse].set_index(df.index)


def daily_alerts(scores: Any, days: Any, share: float = 0.005) -> np.ndarray:
    """Boolean mask of the alerts an analyst team raises when it can review the top
    ``ceil(share * n)`` transactions of each day (``n`` that day's transactions), by score.

    Fraud teams work to a budget like this, so precision *at the budget* (``labels[mask].mean()``)
    is the number that tells them how many reviews find fraud; see also
    :func:`dlbook.anomaly.precision_at_budget` for one budget over all items.

    >>> daily_alerts([0.9, 0.1, 0.5, 0.2, 0.8, 0.3], [0, 0, 0, 1, 1, 1], share=0.3).tolist()
    [True, False, False, False, True, False]
    """
    scores = np.asarray(scores, dtype=float)
    days = np.asarray(days)
    if scores.ndim != 1 or scores.shape != days.shape or scores.size == 0:
        raise ValueError(f"scores and days must be 1-D and of equal length, got {scores.shape} "
                         f"and {days.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores hold NaN or infinite values")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        raise ValueError(f"share must lie strictly between 0 and 1 (0.005 is 0.5 %), got {share!r}")
    mask = np.zeros(scores.size, dtype=bool)
    order = np.lexsort((-scores, days))       # by day, highest score first (stable)
    sorted_days = days[order]
    starts = np.flatnonzero(np.r_[True, sorted_days[1:] != sorted_days[:-1]])
    ends = np.r_[starts[1:], sorted_days.size]
    for a, b in zip(starts, ends, strict=True):
        mask[order[a: a + math.ceil(share * (b - a))]] = True
    return mask


def tabular_autoencoder(n_features: int, *, hidden: int = 32, code: int = 6,
                        seed: int = 0):
    """A small dense autoencoder for standardised tabular rows: ``n -> hidden -> code ->
    hidden -> n``, linear output, trained with MSE. Trained on normal rows only, it
    reconstructs normal rows well and unusual ones badly; the error is the anomaly score.

    >>> tabular_autoencoder(10, hidden=8, code=3).output_shape
    (None, 10)
    """
    from dlbook.config import import_keras

    keras = import_keras()
    n = positive_int(n_features, "n_features")
    hidden, code = positive_int(hidden, "hidden"), positive_int(code, "code")
    if code >= n:
        raise ValueError(f"code ({code}) must be smaller than n_features ({n}), or the "
                         "autoencoder can learn the identity")
    init = keras.initializers.GlorotUniform(seed=seed)
    x = keras.Input((n,), name="features")
    h = keras.layers.Dense(hidden, activation="relu", kernel_initializer=init)(x)
    z = keras.layers.Dense(code, activation="relu", kernel_initializer=init, name="code")(h)
    h = keras.layers.Dense(hidden, activation="relu", kernel_initializer=init)(z)
    out = keras.layers.Dense(n, kernel_initializer=init, name="reconstruction")(h)
    return keras.Model(x, out, name="tabular_autoencoder")


def reconstruction_error(model: Any, x: Any, *, batch_size: int = 4096) -> np.ndarray:
    """Mean squared reconstruction error per row: the autoencoder's anomaly score.

    >>> ae = tabular_autoencoder(4, hidden=4, code=2)
    >>> reconstruction_error(ae, np.zeros((3, 4))).shape
    (3,)
    """
    x = np.asarray(x, dtype="float32")
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (rows, features), got shape {x.shape}")
    return np.mean((predict(model, x, batch_size=batch_size) - x) ** 2, axis=1)


def predict(model: Any, x: Any, *, batch_size: int = 8192) -> np.ndarray:
    """``model``'s outputs for ``x`` (an array, or a dict of arrays for a multi-input model) as
    one NumPy array, computed by calling the model on chunks of ``batch_size`` rows. For the
    small models here this is faster than ``model.predict`` and never retraces a
    ``tf.function`` when several models are scored one after another.

    >>> predict(tabular_autoencoder(4, hidden=4, code=2), np.zeros((5, 4))).shape
    (5, 4)
    """
    from keras import ops

    batch_size = positive_int(batch_size, "batch_size")
    parts = x if isinstance(x, Mapping) else {"": x}
    sizes = {len(v) for v in parts.values()}
    if len(sizes) != 1:
        raise ValueError(f"all inputs need the same number of rows, got {sorted(sizes)}")
    n = sizes.pop()
    outs = []
    for start in range(0, n, batch_size):
        chunk = {k: np.asarray(v)[start:start + batch_size] for k, v in parts.items()}
        outs.append(ops.convert_to_numpy(model(chunk if isinstance(x, Mapping) else chunk[""],
                                               training=False)))
    return np.concatenate(outs)


# --- forecasting ----------------------------------------------------------------------------


def _series(x: Any, what: str = "series") -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"{what} must be 1-D with at least 2 values, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} holds NaN or infinite values; drop or fill them first")
    return a


def log_returns(prices: Any) -> np.ndarray:
    """Daily log returns ``log(p_t / p_{t-1})``: one fewer value than ``prices``.

    >>> log_returns([100.0, 110.0, 99.0]).round(4).tolist()
    [0.0953, -0.1054]
    """
    p = _series(prices, "prices")
    if (p <= 0).any():
        raise ValueError("prices must be positive")
    return np.diff(np.log(p))


def future_realised_variance(returns: Any, horizon: int = 5) -> np.ndarray:
    """``rv[t]`` = mean of ``returns[t+1 : t+1+horizon] ** 2``, the variance still to come after
    day ``t`` (NaN for the last ``horizon`` days, which have no full future).

    >>> future_realised_variance([1.0, 2.0, 0.0, 2.0], horizon=2).tolist()
    [2.0, 2.0, nan, nan]
    """
    r2 = _series(returns, "returns") ** 2
    h = positive_int(horizon, "horizon")
    csum = np.concatenate([[0.0], np.cumsum(r2)])
    out = np.full(r2.size, np.nan)
    t = np.arange(r2.size - h)
    out[t] = (csum[t + 1 + h] - csum[t + 1]) / h
    return out


def ewma_variance(returns: Any, lam: float = 0.94, *, init: float | None = None) -> np.ndarray:
    """RiskMetrics' exponentially weighted variance: ``s[t] = lam * s[t-1] + (1 - lam) * r[t]**2``,
    the forecast, made at the close of day ``t``, of every coming day's variance (J.P. Morgan /
    Reuters 1996 use ``lam = 0.94`` for daily data). ``init`` defaults to the mean of the first
    20 squared returns.

    >>> ewma_variance([1.0, 1.0, 3.0], lam=0.5, init=1.0).tolist()
    [1.0, 1.0, 5.0]
    """
    r2 = _series(returns, "returns") ** 2
    if not 0 < lam < 1:
        raise ValueError(f"lam must lie strictly between 0 and 1 (0.94 is RiskMetrics'), got {lam}")
    s = np.empty_like(r2)
    prev = float(np.mean(r2[:20])) if init is None else float(init)
    for t, v in enumerate(r2):
        prev = lam * prev + (1 - lam) * v
        s[t] = prev
    return s


def har_features(returns: Any) -> np.ndarray:
    """Corsi's (2009) HAR regressors at the close of each day: the mean squared return of the
    last 1, 5 and 22 days (shape ``(n, 3)``; NaN until 22 days have passed).

    >>> har_features(np.ones(25))[-1].tolist()
    [1.0, 1.0, 1.0]
    """
    r2 = pd.Series(_series(returns, "returns") ** 2)
    return np.column_stack([r2.rolling(w).mean().to_numpy() for w in (1, 5, 22)])


def qlike(realised: Any, forecast: Any) -> np.ndarray:
    """The QLIKE loss of a variance forecast, per point: ``rv/h - log(rv/h) - 1`` (0 when
    ``h = rv``). Unlike the squared error it is not dominated by a few crisis days, and it ranks
    forecasts correctly even when the realised variance is a noisy proxy (Patton 2011).

    >>> qlike([1.0, 2.0], [1.0, 1.0]).round(4).tolist()
    [0.0, 0.3069]
    """
    rv = np.asarray(realised, dtype=float)
    h = np.asarray(forecast, dtype=float)
    if rv.shape != h.shape:
        raise ValueError(f"realised and forecast must have one shape, got {rv.shape}, {h.shape}")
    if (h <= 0).any() or (rv <= 0).any():
        raise ValueError("variances must be positive; add a floor such as 1e-12 first")
    return rv / h - np.log(rv / h) - 1


def diebold_mariano(loss_a: Any, loss_b: Any, *, horizon: int = 1) -> tuple[float, float]:
    """Diebold-Mariano (1995) test that two forecasts have equal expected loss, with the
    Harvey, Leybourne & Newbold (1997) small-sample correction. Pass per-point losses (squared
    errors, QLIKE, ...). Returns ``(statistic, two-sided p-value)``; a negative statistic means
    ``a`` has the lower loss. The variance of the mean loss difference uses ``horizon - 1``
    autocovariances, as overlapping ``horizon``-step forecasts need.

    >>> rng = np.random.default_rng(0)
    >>> stat, p = diebold_mariano(rng.normal(size=500) ** 2, 2 * rng.normal(size=500) ** 2)
    >>> stat < 0, p < 0.01
    (True, True)
    """
    from scipy import stats

    a, b = _series(loss_a, "loss_a"), _series(loss_b, "loss_b")
    if a.shape != b.shape:
        raise ValueError(f"the two loss series must align, got {a.size} and {b.size} points")
    h = positive_int(horizon, "horizon")
    d = a - b
    n = d.size
    dc = d - d.mean()
    gamma = [float(dc[k:] @ dc[: n - k]) / n for k in range(h)]
    var = (gamma[0] + 2 * sum(gamma[1:])) / n
    if var <= 0:
        raise ValueError("the loss difference has no variance; are the two forecasts identical?")
    correction = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat = correction * d.mean() / math.sqrt(var)
    return round(float(stat), 4), float(2 * stats.t.sf(abs(stat), df=n - 1))


def qlike_loss(y_true: Any, log_h: Any) -> Any:
    """QLIKE as a Keras loss for a network whose output is a *log* variance forecast
    ``log h``: ``mean(rv / h + log h)``, which equals :func:`qlike` up to terms that do not
    depend on the forecast, so both are minimised by ``h = E[rv]``. Predicting the log keeps
    ``h`` positive without a constraint.

    >>> import keras
    >>> float(qlike_loss(keras.ops.ones((2, 1)), keras.ops.zeros((2, 1))))
    1.0
    """
    from keras import ops

    rv = ops.reshape(ops.cast(y_true, "float32"), (-1,))
    log_h = ops.reshape(ops.cast(log_h, "float32"), (-1,))
    return ops.mean(rv * ops.exp(-log_h) + log_h)


def window_lstm(input_len: int, *, units: int = 16, seed: int = 0, name: str = "window_lstm"):
    """A small forecaster for windows shaped ``(input_len, 1)`` (see
    :func:`dlbook.sequences.windows`): one LSTM layer, then one linear output (a return, or a
    log variance with :func:`qlike_loss`).

    >>> window_lstm(20, units=4).output_shape
    (None, 1)
    """
    from dlbook.config import import_keras

    keras = import_keras()
    input_len = positive_int(input_len, "input_len")
    units = positive_int(units, "units")
    init = keras.initializers.GlorotUniform(seed=seed)
    x = keras.Input((input_len, 1), name="window")
    h = keras.layers.LSTM(units, kernel_initializer=init,
                          recurrent_initializer=keras.initializers.Orthogonal(seed=seed))(x)
    out = keras.layers.Dense(1, kernel_initializer=init, name="forecast")(h)
    return keras.Model(x, out, name=name)
