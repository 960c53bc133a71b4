"""Evaluation tools for binary classifiers: ROC and precision-recall curves, calibration
(reliability diagrams, expected calibration error, temperature scaling) and decision thresholds.

Every function takes the true labels as 0/1 (1 = the positive class, the one you are looking
for) and the model's probability of the positive class, as a 1-D array.

>>> y = [0, 0, 1, 1]
>>> p = [0.1, 0.6, 0.4, 0.9]
>>> round(expected_calibration_error(y, p, bins=2), 3)
0.25
>>> best_threshold(y, p, min_recall=1.0)
0.4
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dlbook.plot import PALETTE

ArrayLike = Sequence[float] | np.ndarray


# --- input checks -------------------------------------------------------------------------------


def _labels(y_true: ArrayLike) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array of 0/1 labels, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(
            "y_true must hold 0/1 labels, 1 for the positive class; for other codes pass "
            "(y == positive_code).astype(int)"
        )
    return y.astype(int)


def _probabilities(prob: ArrayLike, n: int, name: str = "prob") -> np.ndarray:
    p = np.asarray(prob, dtype="float64")
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim == 2 and p.shape[1] == 2:
        raise ValueError(
            f"{name} has two columns; pass the probability of the positive class only, "
            f"e.g. {name}[:, 1]"
        )
    if p.ndim != 1 or len(p) != n:
        raise ValueError(f"{name} must be 1-D with one probability per label ({n}), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; for logits or margins apply a sigmoid first"
        )
    return p


def _both(y_true: ArrayLike, prob: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _labels(y_true)
    return y, _probabilities(prob, len(y))


def _need_both_classes(y: np.ndarray, what: str) -> None:
    if y.min() == y.max():
        raise ValueError(f"{what} needs both classes in y_true; it holds only class {y[0]}")


def _as_models(scores: Mapping[str, ArrayLike] | ArrayLike, n: int) -> dict[str, np.ndarray]:
    if isinstance(scores, Mapping):
        if not scores:
            raise ValueError("pass at least one model, e.g. {'logistic regression': p}")
        return {str(k): _probabilities(v, n, f"scores for {k!r}") for k, v in scores.items()}
    return {"model": _probabilities(scores, n)}


# --- ROC and precision-recall -------------------------------------------------------------------


def roc_pr_curves(
    y_true: ArrayLike,
    scores_by_model: Mapping[str, ArrayLike] | ArrayLike,
    *,
    positive: str = "positive class",
    title: str = "ROC and precision-recall curves",
):
    """Draw the ROC curve (left) and the precision-recall curve (right) of one or more models.

    The legend gives each model's ROC AUC and average precision (the area under the PR curve).
    Dashed lines show what a model that guesses achieves: the diagonal for ROC, the share of
    positives (prevalence) for precision-recall.

    >>> fig = roc_pr_curves([0, 0, 1, 1], {"model": [0.1, 0.6, 0.4, 0.9]}, positive="cat")
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['false positive rate (1 − specificity)', 'recall of cat (sensitivity)']
    """
    import matplotlib.pyplot as plt
    from sklearn import metrics as skm

    y = _labels(y_true)
    _need_both_classes(y, "roc_pr_curves")
    models = _as_models(scores_by_model, len(y))
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    for i, (name, p) in enumerate(models.items()):
        color = PALETTE[i % len(PALETTE)]
        fpr, tpr, _ = skm.roc_curve(y, p)
        roc_ax.plot(fpr, tpr, color=color, lw=1.8,
                    label=f"{name} (AUC {skm.roc_auc_score(y, p):.3f})")
        precision, recall, _ = skm.precision_recall_curve(y, p)
        pr_ax.step(recall, precision, where="post", color=color, lw=1.8,
                   label=f"{name} (AP {skm.average_precision_score(y, p):.3f})")
    roc_ax.plot([0, 1], [0, 1], "--", color="0.5", lw=1, label="guessing (AUC 0.5)")
    prevalence = y.mean()
    pr_ax.axhline(prevalence, ls="--", color="0.5", lw=1, label=f"guessing (AP {prevalence:.3f})")
    roc_ax.set(xlabel="false positive rate (1 − specificity)",
               ylabel=f"true positive rate (recall of {positive})", title="ROC curve",
               xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    pr_ax.set(xlabel=f"recall of {positive} (sensitivity)", ylabel="precision",
              title="Precision-recall curve", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    roc_ax.legend(loc="lower right", fontsize=8)
    pr_ax.legend(loc="lower left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- calibration --------------------------------------------------------------------------------


def _check_bins(bins: int) -> None:
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"bins must be a positive int (10 is usual; fewer for small test sets), got {bins!r}")


def calibration_table(y_true: ArrayLike, prob: ArrayLike, bins: int = 10):
    """Group predictions into ``bins`` equal-width probability bins and compare, in each bin,
    the mean predicted probability with the observed share of positives.

    Returns a pandas DataFrame with one row per non-empty bin: ``low``, ``high`` (the bin's
    edges), ``count``, ``predicted`` (mean probability) and ``observed`` (share of positives).
    A calibrated model has ``predicted`` close to ``observed`` in every bin.

    >>> calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.7], bins=2)[["count", "observed"]]
       count  observed
    0      2       0.0
    1      2       1.0
    """
    import pandas as pd

    _check_bins(bins)
    y, p = _both(y_true, prob)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    rows = [
        {"low": edges[b], "high": edges[b + 1], "count": int((which == b).sum()),
         "predicted": float(p[which == b].mean()), "observed": float(y[which == b].mean())}
        for b in range(bins) if (which == b).any()
    ]
    return pd.DataFrame(rows, columns=["low", "high", "count", "predicted", "observed"])


def expected_calibration_error(y_true: ArrayLike, prob: ArrayLike, bins: int = 10) -> float:
    """The expected calibration error (ECE): the gap between predicted probability and observed
    frequency, averaged over equal-width bins weighted by how many predictions fall in each
    (Naeini et al., 2015; Guo et al., 2017). 0 is perfect; it is noisy on small test sets.

    >>> expected_calibration_error([0, 1], [0.0, 1.0])
    0.0
    """
    table = calibration_table(y_true, prob, bins)
    weights = table["count"] / table["count"].sum()
    return float((weights * (table["predicted"] - table["observed"]).abs()).sum())


def reliability_diagram(
    y_true: ArrayLike,
    probs_by_model: Mapping[str, ArrayLike] | ArrayLike,
    *,
    bins: int = 10,
    positive: str = "positive class",
    title: str = "Reliability diagram",
):
    """Draw a reliability diagram: observed share of positives against mean predicted
    probability per bin, one line per model, with each model's ECE in the legend. A marker's
    area grows with the number of predictions in its bin, because a bin of three predictions
    says little; the panel below counts them (most models put nearly all near 0 and 1).

    >>> fig = reliability_diagram([0, 0, 1, 1], {"model": [0.1, 0.2, 0.8, 0.7]}, bins=5)
    >>> fig.axes[0].get_ylabel()
    'observed share of positive class'
    """
    import matplotlib.pyplot as plt

    y = _labels(y_true)
    models = _as_models(probs_by_model, len(y))
    _check_bins(bins)
    fig, (ax, hist_ax) = plt.subplots(
        2, 1, figsize=(5.6, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], "--", color="0.5", lw=1, label="perfectly calibrated")
    edges = np.linspace(0, 1, bins + 1)
    width = 1 / bins / (len(models) + 1)
    for i, (name, p) in enumerate(models.items()):
        color = PALETTE[i % len(PALETTE)]
        table = calibration_table(y, p, bins)
        ece = expected_calibration_error(y, p, bins)
        ax.plot(table["predicted"], table["observed"], "-", color=color, lw=1.5,
                label=f"{name} (ECE {ece:.3f})")
        ax.scatter(table["predicted"], table["observed"], color=color, zorder=3,
                   s=12 + 250 * table["count"] / len(p), edgecolor="white", linewidth=0.5)
        counts, _ = np.histogram(p, bins=edges)
        hist_ax.bar(edges[:-1] + (i + 0.5) * width, counts, width=width, color=color,
                    align="edge")
    ax.set(ylabel=f"observed share of {positive}", title=title, xlim=(0, 1), ylim=(-0.02, 1.02))
    ax.legend(loc="upper left", fontsize=8)
    hist_ax.set(xlabel=f"predicted probability of {positive}", ylabel="predictions")
    fig.tight_layout()
    return fig


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def apply_temperature(prob: ArrayLike, temperature: float) -> np.ndarray:
    """Divide the model's logit by ``temperature`` and map it back to a probability.

    ``temperature`` > 1 pulls overconfident probabilities towards 0.5; the ranking of the
    predictions, and so the ROC AUC, does not change.

    >>> apply_temperature([0.5, 0.9], 2.0).round(3)
    array([0.5 , 0.75])
    """
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    p = _probabilities(prob, len(np.asarray(prob)))
    return 1 / (1 + np.exp(-_logit(p) / temperature))


def fit_temperature(y_true: ArrayLike, prob: ArrayLike) -> float:
    """Temperature scaling (Guo et al., 2017): the one number T that minimises the log loss of
    ``apply_temperature(prob, T)`` on held-out data. Fit it on a validation set, never on the
    test set.

    >>> y = [0, 1] * 50
    >>> overconfident = [0.01, 0.99] * 45 + [0.99, 0.01] * 5   # 10 % confidently wrong
    >>> fit_temperature(y, overconfident) > 1
    True
    """
    from scipy.optimize import minimize_scalar

    y, p = _both(y_true, prob)
    _need_both_classes(y, "fit_temperature")
    z = _logit(p)

    def log_loss(log_t: float) -> float:
        q = np.clip(1 / (1 + np.exp(-z / np.exp(log_t))), 1e-12, 1 - 1e-12)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))

    best = minimize_scalar(log_loss, bounds=(np.log(0.01), np.log(100.0)), method="bounded")
    return float(np.exp(best.x))


# --- thresholds ---------------------------------------------------------------------------------


def _counts(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """Confusion counts for 'positive when p >= t', for every t at once."""
    predicted = p[None, :] >= thresholds[:, None]
    tp = (predicted & (y == 1)).sum(axis=1)
    fp = (predicted & (y == 0)).sum(axis=1)
    positives = int(y.sum())
    return {"tp": tp, "fp": fp, "fn": positives - tp, "tn": (len(y) - positives) - fp}


def threshold_sweep(
    y_true: ArrayLike,
    prob: ArrayLike,
    *,
    thresholds: ArrayLike | None = None,
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
):
    """Precision, recall, F1 and cost of the rule "positive when prob >= threshold", for many
    thresholds (default: 0.00, 0.01, …, 1.00).

    Returns a pandas DataFrame with columns ``threshold``, ``tp``, ``fp``, ``fn``, ``tn``,
    ``precision``, ``recall``, ``f1``, ``flagged`` (share predicted positive) and ``cost``
    (``cost_fp * fp + cost_fn * fn``; say a missed case costs 20 false alarms with
    ``cost_fn=20``). Precision is 1.0 where nothing is flagged.

    >>> sweep = threshold_sweep([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], thresholds=[0.5])
    >>> sweep[["precision", "recall", "cost"]].values.tolist()
    [[0.5, 0.5, 2.0]]
    """
    import pandas as pd

    y, p = _both(y_true, prob)
    t = np.linspace(0, 1, 101) if thresholds is None else np.asarray(thresholds, dtype="float64")
    if t.ndim != 1 or len(t) == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"thresholds must be a non-empty 1-D array of numbers, got shape {t.shape}")
    if cost_fp < 0 or cost_fn < 0:
        raise ValueError(f"costs must be non-negative, got cost_fp={cost_fp}, cost_fn={cost_fn}")
    c = _counts(y, p, np.sort(t))
    flagged = c["tp"] + c["fp"]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(flagged > 0, c["tp"] / np.maximum(flagged, 1), 1.0)
        recall = c["tp"] / max(int(y.sum()), 1)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return pd.DataFrame({
        "threshold": np.sort(t), **c, "precision": precision, "recall": recall, "f1": f1,
        "flagged": flagged / len(y), "cost": cost_fp * c["fp"] + cost_fn * c["fn"],
    })


def best_threshold(
    y_true: ArrayLike,
    prob: ArrayLike,
    *,
    min_recall: float | None = None,
    min_precision: float | None = None,
    cost_fp: float | None = None,
    cost_fn: float | None = None,
) -> float:
    """The threshold t of the rule "positive when prob >= t" that meets one goal:

    - ``min_recall``: the *highest* t whose recall reaches the target, i.e. the fewest false
      alarms that still catch that share of the positives (a screening goal);
    - ``min_precision``: the *lowest* t whose precision reaches the target (most positives
      caught while that share of alarms is right);
    - ``cost_fp`` and ``cost_fn``: the t with the lowest total cost;
    - nothing: the t with the highest F1.

    Candidates are the predicted probabilities themselves, so the result is exact on the data
    given. Choose it on validation data and report its effect on the test set.

    >>> best_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], min_precision=1.0)
    0.9
    """
    y, p = _both(y_true, prob)
    _need_both_classes(y, "best_threshold")
    goals = [min_recall is not None, min_precision is not None,
             cost_fp is not None or cost_fn is not None]
    if sum(goals) > 1:
        raise ValueError("give one goal: min_recall, min_precision, or cost_fp and cost_fn")
    candidates = np.unique(p)
    sweep = threshold_sweep(y, p, thresholds=candidates, cost_fp=cost_fp or 0.0,
                            cost_fn=cost_fn or 0.0)
    for name, target in (("min_recall", min_recall), ("min_precision", min_precision)):
        if target is not None and not 0 < target <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {target!r}")
    if min_recall is not None:
        ok = sweep[sweep["recall"] >= min_recall - 1e-12]
        return float(ok["threshold"].max())  # the lowest candidate always has recall 1
    if min_precision is not None:
        ok = sweep[sweep["precision"] >= min_precision - 1e-12]
        ok = ok[ok["tp"] > 0]
        if ok.empty:
            raise ValueError(
                f"no threshold reaches precision {min_precision}; the best is "
                f"{sweep.loc[sweep['tp'] > 0, 'precision'].max():.3f}"
            )
        return float(ok["threshold"].min())
    if goals[2]:
        if cost_fp is None or cost_fn is None:
            raise ValueError("give both cost_fp and cost_fn (the cost of a false alarm and of a miss)")
        return float(sweep.loc[sweep["cost"].idxmin(), "threshold"])
    return float(sweep.loc[sweep["f1"].idxmax(), "threshold"])


def plot_threshold_sweep(
    sweep,
    *,
    chosen: float | None = None,
    positive: str = "positive class",
    title: str = "Precision, recall and F1 against the threshold",
):
    """Draw precision, recall and F1 from :func:`threshold_sweep` against the threshold, with
    a vertical line at a ``chosen`` threshold.

    >>> fig = plot_threshold_sweep(threshold_sweep([0, 1], [0.2, 0.7]), chosen=0.5)
    >>> fig.axes[0].get_xlabel()
    'threshold on the predicted probability of positive class'
    """
    import matplotlib.pyplot as plt

    missing = {"threshold", "precision", "recall", "f1"} - set(getattr(sweep, "columns", []))
    if missing:
        raise ValueError(f"sweep must be a DataFrame from threshold_sweep; it lacks {sorted(missing)}")
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for column, color in (("precision", PALETTE[0]), ("recall", PALETTE[1]), ("f1", PALETTE[2])):
        ax.plot(sweep["threshold"], sweep[column], color=color, lw=1.8,
                label=column if column != "f1" else "F1")
    if chosen is not None:
        ax.axvline(chosen, color="black", lw=1, ls=":", label=f"chosen threshold {chosen:.3g}")
    ax.set(xlabel=f"threshold on the predicted probability of {positive}",
           ylabel="score (share, 0 to 1)", title=title, xlim=(0, 1), ylim=(-0.02, 1.02))
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig
