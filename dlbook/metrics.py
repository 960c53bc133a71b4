"""Evaluation reports built on scikit-learn, and the translation metrics BLEU and chrF.

>>> r = report([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
>>> r.accuracy, r.roc_auc
(0.75, 0.75)
"""

from __future__ import annotations

import re
from collections import Counter
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


# --- translation metrics ------------------------------------------------------------------------

_WORDS = re.compile(r"\w+(?:[’']\w+)*|[^\w\s]")
SMOOTHING = ("none", "epsilon", "add-one")


def _corpus(references, hypotheses, what: str) -> tuple[list[list[str]], list[str]]:
    """Validate a corpus: one hypothesis (str) per entry, each with one or more references."""
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError(f"{what} takes lists of sentences; wrap a single sentence in a list")
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(
            f"{what} needs one reference (or a list of references) per hypothesis, got "
            f"{len(references)} references for {len(hypotheses)} hypotheses"
        )
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    if not all(refs) or not all(isinstance(x, str) for r in refs for x in r) or not all(
            isinstance(h, str) for h in hypotheses):
        raise TypeError(f"{what}: every hypothesis and reference must be a str")
    return refs, hypotheses


def _ngrams(items, n: int) -> Counter:
    return Counter(tuple(items[i: i + n]) for i in range(len(items) - n + 1))


def bleu(references, hypotheses, *, max_order: int = 4, smoothing: str = "none",
         lowercase: bool = False) -> float:
    """Corpus BLEU (Papineni et al. 2002) on a 0–100 scale.

    The geometric mean of the clipped n-gram precisions for n = 1..``max_order``, pooled over
    the whole corpus, times the brevity penalty ``exp(1 - r/c)`` when the hypotheses' total
    length ``c`` is below the reference length ``r`` (for each sentence, the reference length
    closest to the hypothesis). Sentences are split into words and punctuation marks.
    ``references`` holds one str per hypothesis, or a list of str for several references.
    ``smoothing``: ``"none"`` (a corpus without any matching 4-gram scores 0), ``"epsilon"``
    (a zero match count becomes 0.1; Chen & Cherry 2014, method 1) or ``"add-one"`` (add one
    to the matches and the total for n > 1; Lin & Och 2004), for short sentences.

    >>> bleu(["a b c d f"], ["a b c d e"])   # precisions 4/5, 3/4, 2/3, 1/2
    66.87
    >>> bleu(["a b c d e f"], ["a b c d"])   # all precisions 1, brevity penalty e^-0.5
    60.65
    """
    refs, hyps = _corpus(references, hypotheses, "bleu")
    if smoothing not in SMOOTHING:
        raise ValueError(f"smoothing must be one of {SMOOTHING}, got {smoothing!r}")
    if not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be a positive int, got {max_order!r}")

    def words(s: str) -> list[str]:
        return _WORDS.findall(s.lower() if lowercase else s)

    matches, totals = np.zeros(max_order), np.zeros(max_order)
    hyp_len = ref_len = 0
    for ref_set, hyp in zip(refs, hyps, strict=True):
        h = words(hyp)
        rs = [words(r) for r in ref_set]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
        for n in range(1, max_order + 1):
            counts = _ngrams(h, n)
            most = Counter()
            for r in rs:
                most |= _ngrams(r, n)
            matches[n - 1] += sum(min(c, most[g]) for g, c in counts.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    if hyp_len == 0:
        return 0.0
    if smoothing == "epsilon":
        matches = np.where(matches == 0, 0.1, matches)
    elif smoothing == "add-one":
        matches[1:] += 1
        totals[1:] += 1
    if np.any(matches == 0) or np.any(totals == 0):
        return 0.0
    log_precision = np.mean(np.log(matches / totals))
    brevity = min(0.0, 1.0 - ref_len / hyp_len)
    return round(float(100 * np.exp(log_precision + brevity)), 2)


def chrf(references, hypotheses, *, max_order: int = 6, beta: float = 2.0,
         lowercase: bool = False) -> float:
    """Corpus chrF (Popović 2015) on a 0–100 scale: the character n-gram F-score.

    Spaces are removed and the character n-grams (n = 1..``max_order``) of hypothesis and
    reference are matched, counts pooled over the corpus. The precision and recall of each order
    are averaged over the orders (orders for which the corpus has no n-gram are skipped) and
    combined as ``(1 + β²) P R / (β² P + R)``; β = 2 weighs recall twice as much as precision.
    With several references per sentence, the one giving the most matches is used. Partly right
    words earn partial credit, which suits a language with rich inflection like Spanish.

    >>> chrf(["abd"], ["abc"])   # P = R = mean(2/3, 1/2, 0/1) = 7/18
    38.89
    >>> chrf(["the cat"], ["the cat"]), chrf(["abc"], ["xyz"])
    (100.0, 0.0)
    """
    refs, hyps = _corpus(references, hypotheses, "chrf")
    if not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be a positive int, got {max_order!r}")
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta!r}")

    def chars(s: str) -> str:
        return "".join((s.lower() if lowercase else s).split())

    matches, hyp_total, ref_total = (np.zeros(max_order) for _ in range(3))
    for ref_set, hyp in zip(refs, hyps, strict=True):
        h = chars(hyp)
        h_grams = [_ngrams(h, n) for n in range(1, max_order + 1)]
        best = None
        for ref in ref_set:
            r = chars(ref)
            r_grams = [_ngrams(r, n) for n in range(1, max_order + 1)]
            m = np.array([sum((hg & rg).values()) for hg, rg in zip(h_grams, r_grams, strict=True)])
            lengths = np.array([sum(rg.values()) for rg in r_grams])
            if best is None or m.sum() > best[0].sum():
                best = (m, lengths)
        matches += best[0]
        ref_total += best[1]
        hyp_total += [sum(hg.values()) for hg in h_grams]
    precision = matches[hyp_total > 0] / hyp_total[hyp_total > 0]
    recall = matches[ref_total > 0] / ref_total[ref_total > 0]
    if not len(precision) or not len(recall):
        return 0.0
    p, r = precision.mean(), recall.mean()
    if p + r == 0:
        return 0.0
    score = (1 + beta**2) * p * r / (beta**2 * p + r)
    return round(float(100 * score), 2)
