"""Group fairness of a binary classifier: metrics by group, the usual gaps, calibration by
group, and two mitigations (reweighing the training data, per-group thresholds).

A classifier turns a score into a decision (select, approve, flag) with a threshold. Group
fairness compares what those decisions do to the groups of a protected attribute:

* **demographic parity** asks for equal *selection rates* across groups
  (:func:`demographic_parity_difference`, :func:`demographic_parity_ratio`);
* **equal opportunity** asks for equal *true-positive rates*, and **equalised odds** for equal
  true- *and* false-positive rates (Hardt, Price & Srebro 2016;
  :func:`equal_opportunity_difference`, :func:`equalized_odds_difference`);
* **calibration within groups** asks that a score of 0.7 mean a 70 % chance in every group
  (:func:`expected_calibration_error`, :func:`calibration_table`).

:func:`group_metrics` puts them side by side, one row per group. When base rates differ
between groups, no classifier short of a perfect one satisfies calibration and equalised odds
together (Kleinberg, Mullainathan & Raghavan 2016; Chouldechova 2017), so which gap to close is
a choice, not a computation.

Two mitigations: :func:`reweighing_weights` (Kamiran & Calders 2012) weights every (group,
label) cell so that, in the weighted training data, label and group are independent;
:func:`group_thresholds` picks one threshold per group that reaches a target selection rate or
true-positive rate (the post-processing of Hardt et al. 2016, without its randomisation);
:func:`tradeoff_sweep` moves the thresholds step by step from one common threshold to the
equalising ones and measures accuracy and gaps on the way.

Conventions: labels are 0/1 (1 = the favourable outcome); scores are probabilities of label 1;
a decision is ``score >= threshold``. A group with no positive (or no negative) example has
an undefined true- (false-) positive rate: :func:`group_metrics` shows it as NaN, the gap
functions refuse it with an error.

>>> y      = [1, 0, 1, 0, 1, 0, 0, 0]
>>> pred   = [1, 0, 1, 1, 1, 0, 0, 0]
>>> groups = ["a", "a", "a", "a", "b", "b", "b", "b"]
>>> selection_rates(pred, groups)           # a: 3 of 4 selected, b: 1 of 4
{'a': 0.75, 'b': 0.25}
>>> demographic_parity_difference(pred, groups), demographic_parity_ratio(pred, groups)
(0.5, 0.3333)
>>> equalized_odds_difference(y, pred, groups)  # FPR a 1/2, b 0/3; TPR 1 in both
0.5
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int

__all__ = [
    "apply_thresholds",
    "calibration_table",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "expected_calibration_error",
    "group_metrics",
    "group_thresholds",
    "logistic_baseline",
    "reweighing_weights",
    "selection_rates",
    "tradeoff_sweep",
]


# --- checks -------------------------------------------------------------------------------------


def _binary(y: Any, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype("int64")
    if y.dtype.kind not in "iuf" or not np.isin(y, (0, 1)).all():
        raise ValueError(f"{what} must hold only 0 and 1 (1 = the favourable outcome); got "
                         f"values like {np.unique(y)[:5].tolist()}; threshold scores first, "
                         "e.g. (p >= 0.5).astype(int)")
    return y.astype("int64")


def _scores(s: Any, what: str = "y_score", *, unit: bool = False) -> np.ndarray:
    s = np.asarray(s, dtype="float64")
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    if unit and (s.min() < 0 or s.max() > 1):
        raise ValueError(f"{what} must be probabilities in [0, 1] for calibration, got values "
                         f"from {s.min():.3g} to {s.max():.3g}; apply a sigmoid to logits")
    return s


def _groups(groups: Any, n: int, against: str) -> np.ndarray:
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"groups must be 1-D (one label per example), got shape {g.shape}")
    if len(g) != n:
        raise ValueError(f"groups has {len(g)} entries but {against} has {n}; pass one group "
                         "label per example, in the same order")
    if pd.isna(g).any():
        raise ValueError("groups holds missing values; give every example a group (or an "
                         "explicit 'unknown' group)")
    return g


def _levels(g: np.ndarray) -> list:
    return sorted(pd.unique(g).tolist(), key=str)


def _gap(rates: Mapping[Any, float], what: str, fix: str) -> float:
    bad = [k for k, v in rates.items() if np.isnan(v)]
    if bad:
        raise ValueError(f"{what} is undefined for group(s) {bad}: {fix}")
    if len(rates) < 2:
        raise ValueError(f"a gap needs at least two groups, got {list(rates)}")
    return round(float(max(rates.values()) - min(rates.values())), 4)


def _rate(mask: np.ndarray, of: np.ndarray) -> float:
    return float(mask[of].mean()) if of.any() else float("nan")


# --- metrics ------------------------------------------------------------------------------------


def selection_rates(y_pred: Any, groups: Any) -> dict[Any, float]:
    """The share of each group that is selected (decision 1).

    >>> selection_rates([1, 1, 0, 0, 0], ["a", "a", "a", "b", "b"])
    {'a': 0.6667, 'b': 0.0}
    """
    d = _binary(y_pred, "y_pred")
    g = _groups(groups, len(d), "y_pred")
    return {k: round(float(d[g == k].mean()), 4) for k in _levels(g)}


def _true_rates(y_true: Any, y_pred: Any, groups: Any) -> tuple[dict, dict]:
    y = _binary(y_true, "y_true")
    d = _binary(y_pred, "y_pred")
    if len(d) != len(y):
        raise ValueError(f"y_pred has {len(d)} entries but y_true has {len(y)}")
    g = _groups(groups, len(y), "y_true")
    tpr = {k: _rate(d == 1, (g == k) & (y == 1)) for k in _levels(g)}
    fpr = {k: _rate(d == 1, (g == k) & (y == 0)) for k in _levels(g)}
    return tpr, fpr


def demographic_parity_difference(y_pred: Any, groups: Any) -> float:
    """Largest minus smallest selection rate across groups (0 = parity)."""
    return _gap(selection_rates(y_pred, groups), "the selection rate", "")


def demographic_parity_ratio(y_pred: Any, groups: Any) -> float:
    """Smallest over largest selection rate (1 = parity). The US 'four-fifths rule' of
    employment law flags ratios below 0.8.

    >>> demographic_parity_ratio([1, 0, 1, 1], ["a", "a", "b", "b"])
    0.5
    """
    rates = selection_rates(y_pred, groups)
    if len(rates) < 2:
        raise ValueError(f"a ratio needs at least two groups, got {list(rates)}")
    top = max(rates.values())
    if top == 0:
        raise ValueError("no group has anyone selected, so the ratio is undefined; check the "
                         "threshold")
    return round(min(rates.values()) / top, 4)


def equal_opportunity_difference(y_true: Any, y_pred: Any, groups: Any) -> float:
    """Largest minus smallest true-positive rate across groups (0 = equal opportunity)."""
    tpr, _ = _true_rates(y_true, y_pred, groups)
    return _gap(tpr, "the true-positive rate", "the group has no positive example; merge "
                "small groups or evaluate on more data")


def equalized_odds_difference(y_true: Any, y_pred: Any, groups: Any) -> float:
    """The larger of the true-positive-rate gap and the false-positive-rate gap across groups
    (0 = equalised odds, Hardt et al. 2016)."""
    tpr, fpr = _true_rates(y_true, y_pred, groups)
    fix = "merge small groups or evaluate on more data"
    return max(_gap(tpr, "the true-positive rate", f"no positive example; {fix}"),
               _gap(fpr, "the false-positive rate", f"no negative example; {fix}"))


def _bins(n_bins: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, positive_int(n_bins, "n_bins") + 1)


def expected_calibration_error(y_true: Any, y_score: Any, *, n_bins: int = 10) -> float:
    """Expected calibration error: put scores in ``n_bins`` equal-width bins of [0, 1]; the
    average, weighted by bin size, of |mean score - share of positives| in each bin.

    >>> expected_calibration_error([0, 1, 0, 1], [0.2, 0.2, 0.8, 0.8], n_bins=2)  # 0.3 both
    0.3
    """
    y = _binary(y_true, "y_true")
    s = _scores(y_score, unit=True)
    if len(s) != len(y):
        raise ValueError(f"y_score has {len(s)} entries but y_true has {len(y)}")
    idx = np.clip(np.digitize(s, _bins(n_bins)[1:-1]), 0, n_bins - 1)
    total = sum(abs(s[idx == b].mean() - y[idx == b].mean()) * (idx == b).sum()
                for b in np.unique(idx))
    return round(float(total / len(y)), 4)


def calibration_table(y_true: Any, y_score: Any, groups: Any, *, n_bins: int = 10
                      ) -> pd.DataFrame:
    """The reliability table by group: for every group and non-empty score bin, its count,
    mean score and observed share of positives. A calibrated model has ``observed`` close to
    ``mean score`` in every row.

    >>> calibration_table([0, 1, 1, 1], [0.2, 0.2, 0.9, 0.9], ["a", "a", "b", "b"], n_bins=2)
      group  bin  n  mean score  observed
    0     a    0  2         0.2       0.5
    1     b    1  2         0.9       1.0
    """
    y = _binary(y_true, "y_true")
    s = _scores(y_score, unit=True)
    g = _groups(groups, len(y), "y_true")
    if len(s) != len(y):
        raise ValueError(f"y_score has {len(s)} entries but y_true has {len(y)}")
    idx = np.clip(np.digitize(s, _bins(n_bins)[1:-1]), 0, n_bins - 1)
    frame = pd.DataFrame({"group": g, "bin": idx, "score": s, "y": y})
    table = frame.groupby(["group", "bin"]).agg(
        n=("y", "size"), **{"mean score": ("score", "mean")}, observed=("y", "mean"))
    return table.reset_index()


def group_metrics(y_true: Any, y_score: Any, groups: Any, *,
                  threshold: float | Mapping[Any, float] = 0.5, n_bins: int = 10,
                  overall: bool = True) -> pd.DataFrame:
    """One row per group (and an ``all`` row if ``overall``): its size, base rate (share of
    label 1), selection rate, true- and false-positive rates, precision, accuracy, mean score
    and expected calibration error, for decisions ``y_score >= threshold`` (one threshold, or
    one per group). Undefined rates (a group with no positives, no negatives, or no one
    selected) are NaN.

    >>> t = group_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], ["a", "a", "b", "b"])
    >>> t[["selection rate", "TPR", "FPR"]]  # doctest: +NORMALIZE_WHITESPACE
           selection rate  TPR  FPR
    group
    a                 1.0  1.0  1.0
    b                 0.0  0.0  0.0
    all               0.5  0.5  0.5
    """
    y = _binary(y_true, "y_true")
    s = _scores(y_score, unit=True)
    if len(s) != len(y):
        raise ValueError(f"y_score has {len(s)} entries but y_true has {len(y)}")
    g = _groups(groups, len(y), "y_true")
    d = apply_thresholds(s, g, threshold)
    rows = {}
    parts = [(k, g == k) for k in _levels(g)] + ([("all", np.ones(len(y), bool))]
                                                 if overall else [])
    for k, m in parts:
        rows[k] = {
            "n": int(m.sum()), "base rate": y[m].mean(), "selection rate": d[m].mean(),
            "TPR": _rate(d == 1, m & (y == 1)), "FPR": _rate(d == 1, m & (y == 0)),
            "precision": _rate(y == 1, m & (d == 1)), "accuracy": (d[m] == y[m]).mean(),
            "mean score": s[m].mean(),
            "ECE": expected_calibration_error(y[m], s[m], n_bins=n_bins)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "group"
    return table


# --- mitigation ---------------------------------------------------------------------------------


def reweighing_weights(y_true: Any, groups: Any, *, strength: float = 1.0) -> np.ndarray:
    """Kamiran & Calders' (2012) reweighing: example weights ``P(group) P(label) /
    P(group, label)``, so that in the weighted data the label is independent of the group
    (under-represented cells, such as positives of a group with a low base rate, weigh more).
    ``strength`` in [0, 1] raises the weights to that power (0 = no reweighing); the weights
    are rescaled to mean 1.

    >>> reweighing_weights([1, 0, 0, 0, 1, 1, 1, 0], list("aaaabbbb")).round(3).tolist()
    [2.0, 0.667, 0.667, 0.667, 0.667, 0.667, 0.667, 2.0]
    """
    y = _binary(y_true, "y_true")
    g = _groups(groups, len(y), "y_true")
    if not 0 <= strength <= 1:
        raise ValueError(f"strength must be in [0, 1] (0 = no reweighing, 1 = full), got "
                         f"{strength!r}")
    w = np.empty(len(y))
    for k in _levels(g):
        for label in (0, 1):
            cell = (g == k) & (y == label)
            if not cell.any():
                raise ValueError(f"group {k!r} has no example with label {label}; reweighing "
                                 "needs every (group, label) pair; merge small groups")
            w[cell] = (g == k).mean() * (y == label).mean() / cell.mean()
    w = w ** strength
    return w / w.mean()


def apply_thresholds(y_score: Any, groups: Any, thresholds: float | Mapping[Any, float]
                     ) -> np.ndarray:
    """Decisions ``score >= threshold`` with one threshold for everyone or one per group.

    >>> apply_thresholds([0.3, 0.3], ["a", "b"], {"a": 0.2, "b": 0.5}).tolist()
    [1, 0]
    """
    s = _scores(y_score)
    g = _groups(groups, len(s), "y_score")
    if not isinstance(thresholds, Mapping):
        return (s >= float(thresholds)).astype("int64")
    missing = [k for k in _levels(g) if k not in thresholds]
    if missing:
        raise ValueError(f"no threshold for group(s) {missing}; thresholds has "
                         f"{list(thresholds)}")
    t = np.array([thresholds[k] for k in g], dtype="float64")
    return (s >= t).astype("int64")


def _threshold_for(scores: np.ndarray, rate: float) -> float:
    """The threshold that selects a share ``rate`` of ``scores`` (ties select all tied)."""
    k = int(round(rate * len(scores)))
    if k == 0:
        return float("inf")
    return float(np.sort(scores)[::-1][k - 1])


def group_thresholds(y_score: Any, groups: Any, *, selection_rate: Any = None,
                     tpr: Any = None, y_true: Any = None) -> dict[Any, float]:
    """One threshold per group reaching a target ``selection_rate`` (demographic parity) or a
    target true-positive rate ``tpr`` (equal opportunity; needs ``y_true``). A target is one
    number for every group or a mapping group -> number. Choose thresholds on validation data,
    then apply them with :func:`apply_thresholds` to new data.

    >>> s = [0.9, 0.8, 0.4, 0.3, 0.6, 0.2, 0.1, 0.05]
    >>> group_thresholds(s, list("aaaabbbb"), selection_rate=0.5)
    {'a': 0.8, 'b': 0.2}
    """
    if (selection_rate is None) == (tpr is None):
        raise ValueError("pass exactly one of selection_rate= (demographic parity) or tpr= "
                         "(equal opportunity)")
    s = _scores(y_score)
    g = _groups(groups, len(s), "y_score")
    target = selection_rate if tpr is None else tpr
    if tpr is not None:
        if y_true is None:
            raise ValueError("a tpr target needs y_true, the labels of the validation data")
        y = _binary(y_true, "y_true")
        if len(y) != len(s):
            raise ValueError(f"y_true has {len(y)} entries but y_score has {len(s)}")
    out = {}
    for k in _levels(g):
        value = target[k] if isinstance(target, Mapping) else target
        if not isinstance(value, (int, float, np.floating, np.integer)) or not 0 <= value <= 1:
            raise ValueError(f"the target for group {k!r} must be a rate in [0, 1], got "
                             f"{value!r}")
        pool = s[g == k] if tpr is None else s[(g == k) & (y == 1)]
        if len(pool) == 0:
            raise ValueError(f"group {k!r} has no positive example, so no threshold reaches "
                             "a true-positive rate; merge small groups")
        out[k] = _threshold_for(pool, float(value))
    return out


def tradeoff_sweep(y_true: Any, y_score: Any, groups: Any, *, fit: Sequence | None = None,
                   criterion: str = "parity", steps: int = 11, threshold: float = 0.5
                   ) -> pd.DataFrame:
    """Accuracy and gaps as per-group thresholds move from one common ``threshold``
    (``alpha`` 0) to thresholds that equalise the chosen rate (``alpha`` 1): the selection
    rate (``criterion="parity"``) or the true-positive rate (``"opportunity"``). At each
    ``alpha`` every group's target rate is ``(1 - alpha) * its own rate + alpha * the overall
    rate`` at the common threshold. Thresholds are chosen on ``fit = (y_true, y_score,
    groups)`` of validation data (default: the evaluated data itself, which flatters) and
    evaluated on the data passed.

    >>> rng = np.random.default_rng(0); g = np.repeat(["a", "b"], 200)
    >>> y = rng.random(400) < np.where(g == "a", 0.6, 0.3)
    >>> s = np.clip(0.5 * y + 0.5 * rng.random(400), 0, 1)
    >>> sweep = tradeoff_sweep(y, s, g, steps=3)
    >>> bool(sweep["parity gap"].iloc[-1] < sweep["parity gap"].iloc[0])
    True
    """
    if criterion not in ("parity", "opportunity"):
        raise ValueError(f"criterion must be 'parity' or 'opportunity', got {criterion!r}")
    steps = positive_int(steps, "steps")
    y, s = _binary(y_true, "y_true"), _scores(y_score)
    g = _groups(groups, len(y), "y_true")
    if fit is not None and len(fit) != 3:
        raise ValueError("fit must be (y_true, y_score, groups) of the validation data")
    fy, fs, fg = (y, s, g) if fit is None else (
        _binary(fit[0], "fit y_true"), _scores(fit[1], "fit y_score"), np.asarray(fit[2]))
    if len(fs) != len(fy):
        raise ValueError(f"fit y_score has {len(fs)} entries but fit y_true has {len(fy)}")
    fg = _groups(fg, len(fy), "fit y_true")
    base = (fs >= threshold).astype("int64")
    pool = np.ones(len(fy), bool) if criterion == "parity" else fy == 1
    empty = [k for k in _levels(fg) if not (pool & (fg == k)).any()]
    if empty:
        raise ValueError(f"group(s) {empty} have no positive example in the fit data, so "
                         "their true-positive rate is undefined; merge small groups")
    own = {k: base[pool & (fg == k)].mean() for k in _levels(fg)}
    mean = base[pool].mean()
    missing = [k for k in _levels(g) if k not in own]
    if missing:
        raise ValueError(f"group(s) {missing} are not in the fit data; every evaluated group "
                         "needs validation examples to set its threshold")
    rows = []
    for alpha in np.linspace(0.0, 1.0, steps) if steps > 1 else [1.0]:
        target = {k: (1 - alpha) * r + alpha * mean for k, r in own.items()}
        if alpha == 0:                     # the common threshold itself
            t = {k: float(threshold) for k in own}
        elif criterion == "parity":
            t = group_thresholds(fs, fg, selection_rate=target)
        else:
            t = group_thresholds(fs, fg, tpr=target, y_true=fy)
        d = apply_thresholds(s, g, t)
        rows.append({"alpha": round(float(alpha), 4), "accuracy": float((d == y).mean()),
                     "parity gap": demographic_parity_difference(d, g),
                     "TPR gap": equal_opportunity_difference(y, d, g),
                     "odds gap": equalized_odds_difference(y, d, g),
                     **{f"threshold {k}": v for k, v in t.items()}})
    return pd.DataFrame(rows)


# --- baseline -----------------------------------------------------------------------------------


def logistic_baseline(numeric: Sequence[str], categorical: Sequence[str] = (), *,
                      max_iter: int = 1000) -> Any:
    """A scikit-learn pipeline: standardised ``numeric`` columns and one-hot ``categorical``
    ones into a logistic regression. Fit it on a DataFrame; columns not named are ignored.

    >>> frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "c": list("abab")})
    >>> model = logistic_baseline(["x"], ["c"]).fit(frame, [0, 0, 1, 1])
    >>> model.predict_proba(frame).shape
    (4, 2)
    """
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if not numeric and not categorical:
        raise ValueError("name at least one numeric or categorical column")
    parts = [(StandardScaler(), list(numeric))] if numeric else []
    if categorical:
        parts.append((OneHotEncoder(handle_unknown="ignore"), list(categorical)))
    return make_pipeline(make_column_transformer(*parts),
                         LogisticRegression(max_iter=positive_int(max_iter, "max_iter")))
