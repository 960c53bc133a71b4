"""Survival analysis with neural networks: the Cox partial likelihood as a Keras loss, a
DeepSurv-style model, Breslow's baseline hazard, concordance and calibration.

A survival model sees, for each patient, covariates ``x``, a follow-up time ``t`` and an event
flag ``e`` (1: the event, e.g. recurrence or death, was seen at ``t``; 0: the patient was
*censored* at ``t``, still event-free when follow-up ended). The Cox model (Cox 1972) writes
the hazard as ``h(t | x) = h0(t) exp(f(x))`` and fits ``f`` by maximising the *partial
likelihood*, which needs no ``h0``: at each event time, the chance that it was this patient,
among all still at risk, who had the event. ``f`` linear is the classical Cox model; ``f`` a
neural network is DeepSurv (Katzman et al. 2018).

- :func:`cox_nll` — the negative log partial likelihood in NumPy, with Breslow's handling of
  tied times (everyone with ``t_j >= t_i`` is at risk at ``t_i``), averaged over events.
- :class:`CoxLoss` — the same on ``keras.ops``, for ``model.fit``: ``y_true`` is ``(n, 2)``
  holding ``[time, event]``, ``y_pred`` the log-risk ``f(x)``. The risk sets are formed within
  the batch, so train with the whole training set as one batch (or large batches).
- :func:`deepsurv` — an MLP with one linear output and no bias (``h0`` absorbs any constant);
  ``hidden=()`` gives the linear Cox model.
- :func:`fit_full_batch` — train such a model on the whole training set as one batch, with an
  inner validation set for early stopping (Keras ``fit`` over a repeated ``tf.data`` batch, so
  an "epoch" is ``eval_every`` gradient steps and costs no per-epoch set-up).
- :class:`BreslowBaseline` — Breslow's estimator of the cumulative baseline hazard ``H0(t)``,
  which turns log-risks into survival curves ``S(t | x) = exp(-H0(t) exp(f(x)))``.
- :func:`concordance`, :func:`bootstrap_concordance` — Harrell's C-index (lifelines) for
  log-risks, and paired bootstrap intervals for several models on one test set.
- :func:`calibration_table`, :func:`calibration_plot`, :func:`km_by_group` — predicted
  against Kaplan-Meier observed survival at a horizon, by risk group, and survival curves of
  risk groups.

>>> t = np.array([1.0, 2.0, 3.0]); e = np.array([1, 1, 0])
>>> round(cox_nll(t, e, np.zeros(3)), 4)   # log(3) and log(2), averaged over 2 events
0.8959
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "BreslowBaseline", "CoxLoss", "bootstrap_concordance", "calibration_plot",
    "calibration_table", "concordance", "cox_nll", "deepsurv", "fit_full_batch", "km_by_group",
    "log_risk",
]


# --- input checks -------------------------------------------------------------------------------


def _survival_data(time: Any, event: Any, *scores: Any) -> tuple[np.ndarray, ...]:
    t = np.asarray(time, dtype=np.float64).reshape(-1)
    e = np.asarray(event).reshape(-1)
    if len(t) == 0:
        raise ValueError("time is empty; pass one follow-up time per patient")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("time must hold finite follow-up times >= 0 (days, months, ...)")
    if len(e) != len(t):
        raise ValueError(f"time and event must have one entry per patient, got {len(t)} and {len(e)}")
    if not np.isin(e, (0, 1)).all():
        raise ValueError("event must be 0 (censored) or 1 (event observed) for every patient")
    out = [t, e.astype(np.float64)]
    for s in scores:
        s = np.asarray(s, dtype=np.float64).reshape(-1)
        if len(s) != len(t):
            raise ValueError(f"scores must have one entry per patient ({len(t)}), got {len(s)}; "
                             "flatten a model's (n, 1) output with .ravel()")
        if not np.all(np.isfinite(s)):
            raise ValueError("scores hold NaN or infinite values; check the model's outputs")
        out.append(s)
    return tuple(out)


# --- the Cox partial likelihood -----------------------------------------------------------------


def cox_nll(time: Any, event: Any, log_risk: Any) -> float:
    """Negative log Cox partial likelihood (Breslow ties), averaged over the events.

    >>> round(cox_nll([1.0, 1.0], [1, 1], [0.0, 0.0]), 4)   # a tie: both share one risk set
    0.6931
    """
    t, e, r = _survival_data(time, event, log_risk)
    if e.sum() == 0:
        raise ValueError("no events: the partial likelihood needs at least one event (event=1)")
    at_risk = t[None, :] >= t[:, None]                 # [i, j]: j still at risk at t_i
    masked = np.where(at_risk, r[None, :], -np.inf)
    top = masked.max(axis=1)
    lse = top + np.log(np.exp(masked - top[:, None]).sum(axis=1))
    return float(-(e * (r - lse)).sum() / e.sum())


class CoxLoss(keras.losses.Loss):
    """The negative log Cox partial likelihood (Breslow ties) of a batch, on ``keras.ops``.

    ``y_true`` is ``(n, 2)`` with columns ``[time, event]``; ``y_pred`` is ``(n,)`` or
    ``(n, 1)``, the log-risk. A batch without events contributes 0.

    >>> y = np.array([[1.0, 1], [2.0, 1], [3.0, 0]], "float32")
    >>> round(float(CoxLoss()(y, np.zeros((3, 1), "float32"))), 4)
    0.8959
    """

    def __init__(self, name: str = "cox_nll", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        time, event = y_true[:, 0], y_true[:, 1]
        r = ops.reshape(y_pred, (-1,))
        at_risk = ops.expand_dims(time, 0) >= ops.expand_dims(time, 1)
        masked = ops.where(at_risk, ops.expand_dims(r, 0), ops.full_like(at_risk, -1e30, r.dtype))
        lse = ops.logsumexp(masked, axis=1)
        return -ops.sum(event * (r - lse)) / ops.maximum(ops.sum(event), 1.0)


def deepsurv(n_features: int, *, hidden: Sequence[int] = (32, 32), dropout: float = 0.1,
             l2: float = 1e-3, activation: str = "relu", name: str = "deepsurv") -> keras.Model:
    """An MLP from ``n_features`` covariates to one log-risk, with no output bias.

    ``hidden=()`` makes it the linear Cox model ``f(x) = beta . x``.

    >>> deepsurv(5, hidden=(8,)).count_params()    # 5*8 + 8 + 8*1
    56
    """
    n_features = positive_int(n_features, "n_features")
    if isinstance(hidden, (int, np.integer)):
        raise ValueError(f"hidden is a sequence of layer widths, e.g. (32, 32) or ({hidden},)")
    widths = [positive_int(h, "hidden widths") for h in hidden]
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0 (0 turns weight decay off), got {l2!r}")
    reg = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input((n_features,), name="covariates")
    x = inputs
    for k, width in enumerate(widths):
        x = keras.layers.Dense(width, activation=activation, kernel_regularizer=reg,
                               name=f"hidden{k}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout{k}")(x)
    out = keras.layers.Dense(1, use_bias=False, kernel_regularizer=reg if widths else None,
                             name="log_risk")(x)
    return keras.Model(inputs, out, name=name)


def fit_full_batch(model: keras.Model, x: Any, y: Any, *, steps: int = 1000,
                   learning_rate: float = 1e-3, validation: tuple[Any, Any] | None = None,
                   eval_every: int = 25, patience: int = 8) -> keras.callbacks.History:
    """Train ``model`` with :class:`CoxLoss` and Adam, one gradient step on all of ``x`` per
    step, for at most ``steps`` steps. With ``validation=(x_val, y_val)`` the validation loss
    is checked every ``eval_every`` steps, training stops after ``patience`` checks without
    improvement and the best weights are restored. ``y`` is ``(n, 2)``: ``[time, event]``.

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(60, 2)).astype("float32")
    >>> y = np.column_stack([rng.exponential(np.exp(-x[:, 0])), np.ones(60)])
    >>> model = deepsurv(2, hidden=(), l2=0.0)
    >>> history = fit_full_batch(model, x, y, steps=200, learning_rate=0.05)
    >>> float(model.get_weights()[0][0, 0]) > 0.5     # the true coefficient is 1
    True
    """
    import tensorflow as tf

    steps, eval_every = positive_int(steps, "steps"), positive_int(eval_every, "eval_every")
    patience = positive_int(patience, "patience")
    learning_rate = positive_number(learning_rate, "learning_rate")
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y, dtype="float32")
    if y.ndim != 2 or y.shape[1] != 2 or len(y) != len(x):
        raise ValueError(f"y must be (n, 2) holding [time, event] for the {len(x)} rows of x, "
                         f"got shape {y.shape}")
    model.compile(keras.optimizers.Adam(learning_rate), loss=CoxLoss())
    batch = tf.data.Dataset.from_tensors((x, y)).repeat()
    callbacks, val = [], None
    if validation is not None:
        vx, vy = (np.asarray(v, dtype="float32") for v in validation)
        val = tf.data.Dataset.from_tensors((vx, vy))
        callbacks.append(keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True))
    return model.fit(batch, validation_data=val, steps_per_epoch=eval_every,
                     epochs=max(1, steps // eval_every), callbacks=callbacks, shuffle=False,
                     verbose=0)


def log_risk(model: keras.Model, x: Any) -> np.ndarray:
    """The model's log-risks ``f(x)`` as a flat NumPy array (inference mode: no dropout).

    >>> log_risk(deepsurv(3, hidden=()), np.zeros((4, 3))).tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    out = model(np.asarray(x, dtype="float32"), training=False)
    return np.asarray(ops.convert_to_numpy(out), dtype=np.float64).reshape(-1)


# --- from log-risk to survival curves -----------------------------------------------------------


@dataclass(frozen=True)
class BreslowBaseline:
    """Breslow's cumulative baseline hazard: at each distinct event time ``s``,
    ``H0`` jumps by ``d(s) / sum_{j: t_j >= s} exp(f(x_j))`` (``d(s)`` events at ``s``).

    >>> b = BreslowBaseline.fit([1.0, 2.0, 3.0], [1, 1, 0], [0.0, 0.0, 0.0])
    >>> b.cumulative_hazard([0.5, 1.0, 2.5]).round(4).tolist()   # 1/3, then + 1/2
    [0.0, 0.3333, 0.8333]
    """

    times: np.ndarray
    cumhazard: np.ndarray

    @classmethod
    def fit(cls, time: Any, event: Any, log_risk: Any) -> BreslowBaseline:
        """Estimate ``H0`` from training times, events and the model's log-risks."""
        t, e, r = _survival_data(time, event, log_risk)
        if e.sum() == 0:
            raise ValueError("no events: Breslow's estimator needs at least one event (event=1)")
        shift = r.max()                        # exp(r - shift) cannot overflow
        w = np.exp(r - shift)
        times = np.unique(t[e == 1])
        deaths = np.array([e[t == s].sum() for s in times])
        at_risk = np.array([w[t >= s].sum() for s in times])
        return cls(times, np.cumsum(deaths / at_risk) * np.exp(-shift))

    def cumulative_hazard(self, t: Any) -> np.ndarray:
        """``H0(t)``, a step function: 0 before the first event time."""
        t = np.asarray(t, dtype=np.float64)
        idx = np.searchsorted(self.times, t, side="right")
        return np.concatenate([[0.0], self.cumhazard])[idx]

    def survival(self, log_risk: Any, t: Any) -> np.ndarray:
        """``S(t | x) = exp(-H0(t) exp(f(x)))``: ``(n,)`` for a scalar ``t``, else ``(n, len(t))``.

        >>> b = BreslowBaseline(np.array([1.0]), np.array([np.log(2)]))
        >>> b.survival([0.0, np.log(2)], 1.0).tolist()
        [0.5, 0.25]
        """
        r = np.asarray(log_risk, dtype=np.float64).reshape(-1)
        h = self.cumulative_hazard(t)
        return np.exp(-np.multiply.outer(np.exp(r), h))


# --- discrimination: the concordance index ------------------------------------------------------


def concordance(time: Any, event: Any, log_risk: Any) -> float:
    """Harrell's C: of the comparable pairs (the shorter time is an event), the fraction where
    the patient with the event earlier has the higher risk. 0.5 is chance, 1 perfect.

    >>> concordance([1, 2, 3], [1, 1, 1], [3.0, 2.0, 1.0])
    1.0
    """
    from lifelines.utils import concordance_index

    t, e, r = _survival_data(time, event, log_risk)
    return float(concordance_index(t, -r, e))   # lifelines wants higher = survives longer


def bootstrap_concordance(time: Any, event: Any, scores: Mapping[str, Any], *,
                          reference: str | None = None, n_boot: int = 200, level: float = 0.95,
                          seed: int = 0) -> pd.DataFrame:
    """C-index of each model's log-risks with a percentile bootstrap interval over patients.

    The same resampled patients score every model (a paired bootstrap), so with ``reference``
    the interval of ``C(model) - C(reference)`` is also given: if it holds 0, the test set
    cannot tell the two apart.

    >>> rng = np.random.default_rng(0); t = rng.exponential(size=50); e = np.ones(50)
    >>> table = bootstrap_concordance(t, e, {"truth": -t, "noise": rng.normal(size=50)},
    ...                               reference="noise", n_boot=20)
    >>> float(table.loc["truth", "C"]), bool(table.loc["truth", "diff_low"] > 0)
    (1.0, True)
    """
    if not scores:
        raise ValueError("scores is empty; pass {'model name': log_risk, ...}")
    if reference is not None and reference not in scores:
        raise ValueError(f"reference {reference!r} is not one of the scores: {list(scores)}")
    n_boot = positive_int(n_boot, "n_boot")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), e.g. 0.95, got {level!r}")
    names = list(scores)
    t, e, *rs = _survival_data(time, event, *scores.values())
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, len(names)))
    for b in range(n_boot):
        idx = rng.integers(0, len(t), len(t))
        while e[idx].sum() == 0:
            idx = rng.integers(0, len(t), len(t))
        boots[b] = [concordance(t[idx], e[idx], r[idx]) for r in rs]
    lo, hi = (1 - level) / 2, (1 + level) / 2
    table = pd.DataFrame({
        "C": [concordance(t, e, r) for r in rs],
        "low": np.quantile(boots, lo, axis=0), "high": np.quantile(boots, hi, axis=0),
    }, index=names)
    if reference is not None:
        diff = boots - boots[:, [names.index(reference)]]
        table["diff"] = table["C"] - table.loc[reference, "C"]
        table["diff_low"], table["diff_high"] = np.quantile(diff, [lo, hi], axis=0)
    return table


# --- calibration and risk groups ----------------------------------------------------------------


def calibration_table(time: Any, event: Any, predicted: Any, horizon: float, *,
                      groups: int = 5) -> pd.DataFrame:
    """Predicted against observed survival at ``horizon``, by groups of predicted survival.

    Patients are split into ``groups`` equal-sized groups by their predicted ``S(horizon)``
    (group 1: highest risk); per group, the mean prediction is set against the Kaplan-Meier
    estimate of the group's survival at ``horizon``, with its 95 % interval. A calibrated model
    puts the two on the diagonal.

    >>> rng = np.random.default_rng(0); t = rng.exponential(10, 400)
    >>> tab = calibration_table(t, np.ones(400), np.full(400, np.exp(-0.5)), 5.0, groups=2)
    >>> tab.columns.tolist()
    ['n', 'events', 'predicted', 'observed', 'observed_low', 'observed_high']
    """
    from lifelines import KaplanMeierFitter

    t, e, p = _survival_data(time, event, predicted)
    horizon = positive_number(horizon, "horizon", hint="a time in the units of `time`")
    groups = positive_int(groups, "groups")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("predicted must be survival probabilities in [0, 1] at the horizon")
    if len(t) < 2 * groups:
        raise ValueError(f"{len(t)} patients are too few for {groups} groups; use fewer groups")
    order = np.argsort(p, kind="stable")
    rows = []
    for k, idx in enumerate(np.array_split(order, groups), start=1):
        km = KaplanMeierFitter().fit(t[idx], e[idx])
        ci = km.confidence_interval_survival_function_
        at = ci.index.searchsorted(horizon, side="right") - 1
        rows.append({
            "group": k, "n": len(idx), "events": int(e[idx].sum()),
            "predicted": float(p[idx].mean()),
            "observed": float(km.survival_function_at_times(horizon).iloc[0]),
            "observed_low": float(ci.iloc[at, 0]), "observed_high": float(ci.iloc[at, 1]),
        })
    return pd.DataFrame(rows).set_index("group")


def calibration_plot(tables: Mapping[str, pd.DataFrame], *, horizon_label: str = "",
                     ax: Any = None):
    """Observed (Kaplan-Meier, with 95 % intervals) against predicted survival per group, one
    series per model, and the diagonal of perfect calibration. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.plot([0, 1], [0, 1], color="0.6", ls=":", label="perfect calibration")
    for k, (name, tab) in enumerate(tables.items()):
        err = [tab["observed"] - tab["observed_low"], tab["observed_high"] - tab["observed"]]
        ax.errorbar(tab["predicted"] + 0.004 * k, tab["observed"], yerr=err, fmt="o-",
                    capsize=3, label=name)
    where = f" at {horizon_label}" if horizon_label else ""
    ax.set(xlabel=f"predicted survival{where}", ylabel=f"observed survival{where} (Kaplan-Meier)",
           xlim=(0, 1), ylim=(0, 1), title=f"Calibration by risk group{where}")
    ax.legend(fontsize=8, loc="upper left")
    return ax


def km_by_group(time: Any, event: Any, labels: Sequence[Any], *, ax: Any = None,
                time_unit: str = "days"):
    """Kaplan-Meier survival curves, with 95 % bands, of the patients in each group of
    ``labels`` (e.g. predicted risk groups), in sorted order or, for a pandas
    ``Categorical``, in the order of its categories. Returns the axes."""
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    t, e = _survival_data(time, event)
    order = list(labels.categories) if isinstance(labels, pd.Categorical) else None
    labels = np.asarray(labels)
    order = order if order is not None else sorted(pd.unique(labels))
    if len(labels) != len(t):
        raise ValueError(f"labels must have one entry per patient ({len(t)}), got {len(labels)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    for label in order:
        idx = labels == label
        if not idx.any():
            continue
        KaplanMeierFitter(label=f"{label} (n={idx.sum()})").fit(t[idx], e[idx]).plot_survival_function(ax=ax)
    ax.set(xlabel=f"time since surgery ({time_unit})", ylabel="event-free survival", ylim=(0, 1.02))
    return ax
