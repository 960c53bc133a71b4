"""Alarms from anomaly scores: where to put the threshold, and what it catches.

An anomaly detector (an autoencoder's reconstruction error, a classifier's probability, a
z-score) gives every item a score; operations then need one threshold. Two ways to choose it
are what security and fraud teams actually use: a **false-positive rate** the analysts can live
with (set on normal traffic only), or an **alert budget** (the k items a team can inspect per day).
This module turns scores into those operating points and reports what they catch.

>>> import numpy as np
>>> normal = np.arange(100.0)                 # scores of 100 normal items
>>> t = threshold_at_fpr(normal, 0.05)
>>> float(np.mean(normal > t))
0.05
>>> precision_at_budget([0, 1, 0, 1, 1], [0.1, 0.9, 0.8, 0.7, 0.2], budget=2)
0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "detection_at_fpr",
    "precision_at_budget",
    "recall_at_budget",
    "threshold_at_fpr",
]


def _scores(values: Any, what: str) -> np.ndarray:
    scores = np.asarray(values, dtype=float)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array of scores, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{what} hold NaN or infinite values; drop or impute those items first")
    return scores


def _labels(values: Any, n: int) -> np.ndarray:
    labels = np.asarray(values)
    if labels.shape != (n,):
        raise ValueError(f"labels must be 1-D with one entry per score ({n}), got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 (normal) or 1 (anomaly); map class names to 0/1 first")
    return labels.astype(bool)


def _rate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < 1:
        raise ValueError(f"{what} must be a number strictly between 0 and 1 (0.01 is 1 %), got {value!r}")
    return float(value)


def threshold_at_fpr(normal_scores: Any, fpr: float) -> float:
    """The threshold that flags (``score > threshold``) at most a share ``fpr`` of normal items.

    Set it on normal items the detector did not train on (a validation split): on its own
    training data an autoencoder scores too well, and the threshold comes out too low.

    >>> threshold_at_fpr([1.0, 2.0, 3.0, 4.0], 0.25)
    3.0
    """
    scores = np.sort(_scores(normal_scores, "normal_scores"))
    rate = _rate(fpr, "fpr")
    allowed = int(np.floor(rate * scores.size))  # normal items that may lie above it
    return float(scores[scores.size - allowed - 1])


def detection_at_fpr(scores: Any, kinds: Sequence[Any] | np.ndarray, *, normal: Any = "normal",
                     fpr: float = 0.01, threshold: float | None = None) -> dict[str, float]:
    """Share of each kind of item flagged at the threshold that gives false-positive rate ``fpr``
    on the ``normal`` items (or at a given ``threshold``, e.g. one set on validation data).

    The ``normal`` entry is the false-positive rate actually reached; every other entry is the
    detection rate (recall) of that kind, so an attack type the detector misses shows up.

    >>> r = detection_at_fpr([0.1, 0.2, 0.3, 0.4, 0.9, 0.35],
    ...                      ["normal"] * 4 + ["scan", "exfiltration"], fpr=0.25)
    >>> r["normal"], r["scan"], r["exfiltration"]
    (0.25, 1.0, 1.0)
    """
    values = _scores(scores, "scores")
    kinds = np.asarray(kinds)
    if kinds.shape != values.shape:
        raise ValueError(f"kinds must give one label per score ({values.size}), got shape {kinds.shape}")
    is_normal = kinds == normal
    if not is_normal.any():
        raise ValueError(f"no item has kind {normal!r}; pass normal=<the label of normal items>")
    if threshold is None:
        threshold = threshold_at_fpr(values[is_normal], fpr)
    flagged = values > threshold
    order = [normal] + sorted({k for k in kinds.tolist() if k != normal}, key=str)
    return {str(k): round(float(flagged[kinds == k].mean()), 4) for k in order}


def _budget(budget: Any, n: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or not 1 <= budget <= n:
        raise ValueError(f"budget must be an int from 1 to the number of items ({n}), got {budget!r}")
    return int(budget)


def _top(scores: Any, labels: Any, budget: Any) -> tuple[np.ndarray, np.ndarray]:
    values = _scores(scores, "scores")
    truth = _labels(labels, values.size)
    k = _budget(budget, values.size)
    # A stable sort of the negated scores keeps ties in their original order, so results repeat.
    top = np.argsort(-values, kind="stable")[:k]
    return truth, top


def precision_at_budget(labels: Any, scores: Any, budget: int) -> float:
    """Share of true anomalies among the ``budget`` highest-scoring items: the fraction of an
    analyst's inspections that find something.

    >>> precision_at_budget([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.2], budget=2)
    0.5
    """
    truth, top = _top(scores, labels, budget)
    return float(truth[top].mean())


def recall_at_budget(labels: Any, scores: Any, budget: int) -> float:
    """Share of all true anomalies found among the ``budget`` highest-scoring items.

    >>> recall_at_budget([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.2], budget=2)
    0.5
    """
    truth, top = _top(scores, labels, budget)
    if not truth.any():
        raise ValueError("labels hold no anomaly (1), so recall is undefined")
    return float(truth[top].sum() / truth.sum())
