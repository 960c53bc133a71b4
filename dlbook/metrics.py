"""Evaluation reports built on scikit-learn.

>>> r = report([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
>>> r.accuracy, r.roc_auc
(0.75, 0.75)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


@dataclass(frozen=True)
class EvaluationReport:
    """Classification metrics for one model on one test set. Precision, recall and F1 are
    macro-averaged over classes (each class counts equally, whatever its size); ROC AUC is
    one-vs-rest, and ``None`` when only hard labels were given."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float | None
    n_samples: int
    per_class: dict[str, dict[str, float]] = field(repr=False)

    def as_dict(self) -> dict[str, float | None]:
        """The headline metrics, by name."""
        return {name: getattr(self, name) for name in METRICS}

    def __str__(self) -> str:
        cells = [f"{k} {v:.3f}" for k, v in self.as_dict().items() if v is not None]
        return f"n={self.n_samples}: " + " · ".join(cells)

    def _repr_html_(self) -> str:
        return compare({"model": self})._repr_html_()


def _as_scores(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (predicted labels, class probabilities or None) from what the caller passed."""
    if y_score.ndim == 2:
        if y_score.shape[1] == 1:
            y_score = y_score[:, 0]
        else:
            if not np.all(np.isfinite(y_score)):
                raise ValueError("y_score contains NaN or infinite values; check the model's outputs")
            return y_score.argmax(axis=1), y_score
    if y_score.ndim != 1:
        raise ValueError(f"y_score must be 1-D (labels or P(class 1)) or 2-D (n, classes), got shape {y_score.shape}")
    if not np.all(np.isfinite(y_score)):
        raise ValueError("y_score contains NaN or infinite values; check the model's outputs")
    if np.issubdtype(y_score.dtype, np.integer) or np.all(y_score == np.round(y_score)):
        return y_score.astype(int), None  # hard labels: no ROC AUC
    if y_score.min() < 0 or y_score.max() > 1:
        raise ValueError(
            "1-D float scores must be probabilities of class 1 in [0, 1]; for logits apply a "
            "sigmoid first, for several classes pass the (n, classes) probability matrix"
        )
    probs = np.stack([1 - y_score, y_score], axis=1)
    return (y_score >= 0.5).astype(int), probs


def report(
    y_true: Sequence[int] | np.ndarray,
    y_score: Sequence | np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
) -> EvaluationReport:
    """Evaluate a classifier.

    ``y_score`` is one of: predicted labels (1-D ints), the probability of class 1 for a binary
    task (1-D floats in [0, 1]), or a matrix of class probabilities (``model.predict`` output,
    shape ``(n, classes)``). ROC AUC needs probabilities.

    >>> round(report([0, 1, 2], [0, 1, 1]).accuracy, 3)
    0.667
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array of class indices, got shape {y_true.shape}")
    if not np.issubdtype(y_true.dtype, np.integer):
        if np.issubdtype(y_true.dtype, np.number) and np.all(y_true == np.round(y_true)):
            y_true = y_true.astype(int)
        else:
            raise ValueError("y_true must hold integer class indices; for one-hot labels pass y.argmax(axis=1)")
    if len(y_score) != len(y_true):
        raise ValueError(f"y_true has {len(y_true)} samples but y_score has {len(y_score)}")
    y_pred, probs = _as_scores(y_true, y_score)
    n_classes = probs.shape[1] if probs is not None else int(max(y_true.max(), y_pred.max())) + 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    if len(names) < n_classes:
        raise ValueError(f"{len(names)} class names given for {n_classes} classes")
    labels = np.arange(len(names))
    p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    auc = None
    if probs is not None and len(np.unique(y_true)) > 1:
        if probs.shape[1] == 2:
            auc = skm.roc_auc_score(y_true, probs[:, 1])
        else:
            present = np.unique(y_true)
            sub = probs[:, present] / np.clip(probs[:, present].sum(axis=1, keepdims=True), 1e-12, None)
            if len(present) > 2:
                auc = skm.roc_auc_score(y_true, sub, multi_class="ovr", average="macro", labels=present)
            else:
                auc = skm.roc_auc_score(y_true == present[1], sub[:, 1])
    pc_p, pc_r, pc_f, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    per_class = {
        names[i]: {"precision": float(pc_p[i]), "recall": float(pc_r[i]), "f1": float(pc_f[i]), "support": int(support[i])}
        for i in labels
    }
    return EvaluationReport(
        accuracy=float(skm.accuracy_score(y_true, y_pred)),
        precision=float(p),
        recall=float(r),
        f1=float(f),
        roc_auc=None if auc is None else float(auc),
        n_samples=int(len(y_true)),
        per_class=per_class,
    )


def evaluate(model, x, y_true, *, class_names: Sequence[str] | None = None) -> EvaluationReport:
    """Score a Keras model or a scikit-learn classifier on ``(x, y_true)``.

    Uses class probabilities when the model gives them (Keras ``predict``, scikit-learn
    ``predict_proba``), hard labels otherwise.

    >>> from sklearn.linear_model import LogisticRegression
    >>> clf = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> evaluate(clf, [[0.1], [0.9]], [0, 1]).accuracy
    1.0
    """
    if hasattr(model, "predict_proba"):
        scores = model.predict_proba(x)
    elif hasattr(model, "predict"):
        try:
            scores = model.predict(x, verbose=0)  # Keras: no progress bar in stored outputs
        except TypeError:
            scores = model.predict(x)
    else:
        raise TypeError(
            f"evaluate needs a Keras model or a scikit-learn classifier, got {type(model).__name__}; "
            "for precomputed predictions use report(y_true, y_score)"
        )
    return report(y_true, np.asarray(scores), class_names=class_names)


def compare(reports: Mapping[str, EvaluationReport]):
    """A table (pandas DataFrame) with one row per model, for "baseline vs model" comparisons.

    >>> a = report([0, 1], [0, 1]); b = report([0, 1], [1, 1])
    >>> compare({"good": a, "bad": b})["accuracy"].tolist()
    [1.0, 0.5]
    """
    import pandas as pd

    if not reports:
        raise ValueError("compare needs at least one report, e.g. compare({'baseline': r1, 'model': r2})")
    bad = [k for k, v in reports.items() if not isinstance(v, EvaluationReport)]
    if bad:
        raise TypeError(f"values must be EvaluationReport (from dlbook.metrics.report); not for {bad}")
    table = pd.DataFrame({name: asdict(r) for name, r in reports.items()}).T
    table = table[list(METRICS) + ["n_samples"]].dropna(axis=1, how="all")
    return table.astype({c: float for c in table.columns if c != "n_samples"}).round(3)
