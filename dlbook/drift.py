"""Data-drift detection for a deployed model: compare each new batch of inputs (or of the
model's embeddings) with a reference sample from the training distribution, and raise an
alert when they differ by more than chance allows.

Three two-sample statistics, each turned into a detector with the same interface
(``fit(reference)``, ``score(batch)``, ``threshold``; a batch is an alarm when its score
exceeds the threshold):

- :func:`psi`, the *population stability index* of credit scoring: per feature, bin the
  reference at its quantiles (the bins stay fixed), and sum ``(q - p) * ln(q / p)`` over the
  bins, ``p`` the reference share and ``q`` the batch's share. :class:`PSIDetector` averages
  it over features and compares it with a fixed rule-of-thumb threshold (0.1 "watch",
  0.25 "act"), which knows nothing of the batch size.
- :func:`ks_test`, the two-sample Kolmogorov-Smirnov test per feature (largest gap between
  the two empirical CDFs, ties handled). :class:`KSDetector` tests every feature and
  combines their p-values with the Bonferroni correction (:func:`bonferroni`): with ``d``
  features, the smallest p-value must beat ``alpha / d``. Its score is ``-log10`` of the
  corrected p-value, its threshold ``-log10(alpha)``.
- :func:`mmd2`, the (unbiased) squared *maximum mean discrepancy* with a Gaussian (RBF)
  kernel whose width is the median distance between reference points
  (:func:`median_bandwidth`); :func:`mmd_test` gets its p-value by permuting the pooled
  sample (Gretton et al. 2012). :class:`MMDDetector` scores ``-log10 p``.

:func:`run` applies a fitted detector to every batch of a stream; :func:`alerts` turns alarms
into alerts (``patience`` alarms in a row) and :func:`detection_report` measures the delay
after a known onset and the false alarms before it. For label shift, :func:`bbse_priors`
estimates the new class proportions from the model's predictions alone (black-box shift
estimation, Lipton, Wang and Smola 2018) and :func:`reweight` corrects the model's
probabilities for them (Saerens, Latinne and Decaestecker 2002).

>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(size=(500, 3))
>>> same, moved = rng.normal(size=(200, 3)), rng.normal(0.5, 1, size=(200, 3))
>>> bool(psi(ref, moved).mean() > 4 * psi(ref, same).mean())
True
>>> det = KSDetector(alpha=0.01).fit(ref)
>>> bool(det.score(same) > det.threshold), bool(det.score(moved) > det.threshold)
(False, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.checks import positive_int, positive_number

__all__ = [
    "KSDetector", "MMDDetector", "PSIDetector", "Run", "accuracy_alarms", "alerts",
    "batch_accuracy", "bbse_priors", "bonferroni", "confusion", "detection_report", "ks_test",
    "median_bandwidth", "mmd2", "mmd_test", "plot_scores", "psi", "reweight", "run",
]


def _features(x: Any, what: str, *, min_rows: int = 2) -> np.ndarray:
    """A 2-D float array (n, d): 1-D input is one feature, images are flattened."""
    x = np.asarray(x, dtype="float64")
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim > 2:
        x = x.reshape(len(x), -1)
    if len(x) < min_rows:
        raise ValueError(f"{what} needs at least {min_rows} rows (samples), got {len(x)}; "
                         "pass a batch shaped (n_samples, ...)")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN or infinite values; drop or impute them first")
    return x


def _pair(reference: Any, current: Any) -> tuple[np.ndarray, np.ndarray]:
    ref, cur = _features(reference, "reference"), _features(current, "current")
    if ref.shape[1] != cur.shape[1]:
        raise ValueError(f"reference has {ref.shape[1]} features and current {cur.shape[1]}; "
                         "compare the same features (same layer, same image size)")
    return ref, cur


def _alpha(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), the false-alarm rate per batch, got {alpha}")
    return float(alpha)


# --- the statistics -----------------------------------------------------------------------------


def _psi_edges(ref: np.ndarray, bins: int) -> list[np.ndarray]:
    qs = np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1], axis=0)
    return [np.unique(qs[:, j]) for j in range(ref.shape[1])]


def _shares(x: np.ndarray, edges: list[np.ndarray], eps: float) -> list[np.ndarray]:
    return [np.maximum(np.bincount(np.searchsorted(e, x[:, j], side="right"),
                                   minlength=len(e) + 1) / len(x), eps)
            for j, e in enumerate(edges)]


def _psi_from_shares(p: list[np.ndarray], q: list[np.ndarray]) -> np.ndarray:
    return np.array([np.sum((qj - pj) * np.log(qj / pj)) for pj, qj in zip(p, q, strict=True)])


def psi(reference: Any, current: Any, *, bins: int = 10, eps: float = 1e-4) -> np.ndarray:
    """Population stability index of every feature (column) of ``current`` against
    ``reference``, with ``bins`` bins at the reference's quantiles (tied quantiles merge, so a
    feature that is often exactly 0 gets fewer bins). Empty bins count as ``eps``.

    >>> ref = np.arange(1000.0)
    >>> psi(ref, ref).round(6).tolist()
    [0.0]
    >>> round(float(psi(ref, ref[:500])[0]), 2)     # the upper half of the bins is empty
    3.8
    """
    ref, cur = _pair(reference, current)
    bins = positive_int(bins, "bins")
    eps = positive_number(eps, "eps", hint="the share that stands in for an empty bin")
    edges = _psi_edges(ref, bins)
    return _psi_from_shares(_shares(ref, edges, eps), _shares(cur, edges, eps))


def _ks_statistic(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    m, n = len(ref), len(cur)
    pooled = np.concatenate([ref, cur])
    order = np.argsort(pooled, axis=0)       # the order within ties does not matter below
    values = np.take_along_axis(pooled, order, axis=0)
    from_ref = order < m
    gap = np.cumsum(from_ref, axis=0) / m - np.cumsum(~from_ref, axis=0) / n
    last_of_tie = np.ones_like(values, dtype=bool)
    last_of_tie[:-1] = values[1:] != values[:-1]        # compare the CDFs only after each tie
    return np.max(np.abs(gap) * last_of_tie, axis=0)


def _ks_sf(d: Any, m: int, n: int) -> np.ndarray:
    from scipy import stats

    return np.clip(stats.kstwo.sf(d, round(m * n / (m + n))), 0, 1)


def ks_test(reference: Any, current: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample Kolmogorov-Smirnov statistic and (asymptotic) p-value of every feature.

    >>> rng = np.random.default_rng(1)
    >>> d, p = ks_test(rng.normal(size=400), rng.normal(1, 1, size=400))
    >>> round(float(d[0]), 2), bool(p[0] < 1e-10)
    (0.42, True)
    """
    ref, cur = _pair(reference, current)
    d = _ks_statistic(ref, cur)
    values, where = np.unique(d, return_inverse=True)   # D takes few distinct values
    return d, _ks_sf(values, len(ref), len(cur))[where]


def bonferroni(p_values: Any) -> float:
    """The family-wise p-value of ``d`` tests: ``min(1, d * min(p))``.

    >>> bonferroni([0.2, 0.004, 0.5, 0.9])
    0.016
    """
    p = np.asarray(p_values, dtype=float).ravel()
    if p.size == 0 or (p < 0).any() or (p > 1).any():
        raise ValueError("p_values must be a non-empty list of probabilities in [0, 1]")
    return float(min(1.0, p.size * p.min()))


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0)


def median_bandwidth(x: Any, *, max_points: int = 1000, seed: int = 0) -> float:
    """The median heuristic: the median Euclidean distance between distinct points of ``x``
    (of at most ``max_points`` of them, drawn at random), used as the RBF kernel's width.

    >>> median_bandwidth([[0.0], [1.0], [3.0]])
    2.0
    """
    x = _features(x, "x")
    if len(x) > max_points:
        x = x[np.random.default_rng(seed).choice(len(x), max_points, replace=False)]
    d = np.sqrt(_sq_distances(x, x)[np.triu_indices(len(x), 1)])
    width = float(np.median(d))
    if width == 0:
        raise ValueError("x has a median distance of 0 (mostly identical rows); the RBF kernel "
                         "needs spread data, or pass bandwidth= yourself")
    return width


def _kernel(z: np.ndarray, bandwidth: float) -> np.ndarray:
    z = z.astype("float32")     # float32 halves the time of the permutations' products
    return np.exp(-_sq_distances(z, z) / np.float32(2 * bandwidth ** 2))


def _mmd2_many(k: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Unbiased MMD^2 for each row of ``masks`` (True = first sample) on one pooled kernel."""
    k = k.copy()
    np.fill_diagonal(k, 0.0)
    s = masks.astype(float)
    m = s[0].sum()
    n = len(k) - m
    ks = s @ k                                         # (P, N)
    xx = np.einsum("pi,pi->p", ks, s)
    row_total = k.sum(1)
    xy = s @ row_total - xx
    yy = k.sum() - 2 * xy - xx
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


def mmd2(x: Any, y: Any, *, bandwidth: float | None = None) -> float:
    """Unbiased squared maximum mean discrepancy of two samples under an RBF kernel of width
    ``bandwidth`` (default: the median heuristic on ``x``). Near 0 (can be slightly
    negative) when the samples come from one distribution.

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
    >>> abs(mmd2(a, b)) < 0.02, mmd2(a, b + 1.0) > 0.1
    (True, True)
    """
    ref, cur = _pair(x, y)
    width = median_bandwidth(ref) if bandwidth is None else positive_number(bandwidth,
                                                                            "bandwidth")
    mask = np.arange(len(ref) + len(cur)) < len(ref)
    return float(_mmd2_many(_kernel(np.concatenate([ref, cur]), width), mask[None])[0])


def mmd_test(x: Any, y: Any, *, bandwidth: float | None = None, n_permutations: int = 200,
             seed: int = 0) -> tuple[float, float]:
    """MMD^2 and its permutation p-value: the share of random relabellings of the pooled
    sample whose MMD^2 is at least the observed one (counting the observed one itself).

    >>> rng = np.random.default_rng(0)
    >>> _, p_same = mmd_test(rng.normal(size=(80, 2)), rng.normal(size=(80, 2)))
    >>> _, p_moved = mmd_test(rng.normal(size=(80, 2)), rng.normal(1, 1, size=(80, 2)))
    >>> p_same > 0.05, p_moved < 0.01
    (True, True)
    """
    ref, cur = _pair(x, y)
    width = median_bandwidth(ref) if bandwidth is None else positive_number(bandwidth,
                                                                            "bandwidth")
    n_permutations = positive_int(n_permutations, "n_permutations")
    return _permutation_test(_kernel(np.concatenate([ref, cur]), width), len(ref),
                             n_permutations, np.random.default_rng(seed))


def _permutation_test(k: np.ndarray, m: int, n_permutations: int,
                      rng: np.random.Generator) -> tuple[float, float]:
    n_total = len(k)
    masks = np.zeros((n_permutations + 1, n_total), dtype=bool)
    masks[0, :m] = True
    for i in range(1, n_permutations + 1):
        masks[i, rng.permutation(n_total)[:m]] = True
    stats = _mmd2_many(k, masks)
    return float(stats[0]), float((1 + np.sum(stats[1:] >= stats[0])) / (n_permutations + 1))


# --- detectors ----------------------------------------------------------------------------------


class _Detector:
    name = "detector"
    threshold: float

    def fit(self, reference: Any) -> _Detector:
        self.reference_ = _features(reference, "reference", min_rows=10)
        return self

    def _check(self, batch: Any) -> np.ndarray:
        if not hasattr(self, "reference_"):
            raise ValueError(f"call {type(self).__name__}.fit(reference) before scoring batches")
        return _pair(self.reference_, batch)[1]

    def score(self, batch: Any) -> float:  # pragma: no cover - every detector overrides it
        raise NotImplementedError


class PSIDetector(_Detector):
    """Mean PSI over features against fixed reference bins; alarm above ``threshold``.

    >>> rng = np.random.default_rng(0)
    >>> det = PSIDetector(threshold=0.25).fit(rng.normal(size=(1000, 4)))
    >>> det.score(rng.normal(size=(500, 4))) < 0.25 < det.score(rng.normal(1, 1, (500, 4)))
    True
    """

    name = "PSI"

    def __init__(self, threshold: float = 0.1, *, bins: int = 10, eps: float = 1e-4) -> None:
        self.threshold = positive_number(threshold, "threshold",
                                         hint="0.1 'watch' and 0.25 'act' are the usual rules")
        self.bins, self.eps = positive_int(bins, "bins"), positive_number(eps, "eps")

    def fit(self, reference: Any) -> PSIDetector:
        super().fit(reference)
        self.edges_ = _psi_edges(self.reference_, self.bins)
        self.shares_ = _shares(self.reference_, self.edges_, self.eps)
        return self

    def score(self, batch: Any) -> float:
        cur = self._check(batch)
        return float(_psi_from_shares(self.shares_, _shares(cur, self.edges_, self.eps)).mean())


class KSDetector(_Detector):
    """Per-feature KS tests, Bonferroni-corrected; score ``-log10 p``, alarm when the
    corrected p-value is below ``alpha``."""

    name = "KS"

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = _alpha(alpha)
        self.threshold = -math.log10(self.alpha)

    def score(self, batch: Any) -> float:
        cur = self._check(batch)
        d = _ks_statistic(self.reference_, cur)     # Bonferroni needs only the largest D
        p = d.size * float(_ks_sf(d.max(), len(self.reference_), len(cur)))
        return -math.log10(min(max(p, 1e-300), 1.0))


class MMDDetector(_Detector):
    """RBF-kernel MMD permutation test (width from the reference by the median heuristic);
    score ``-log10 p``, alarm when ``p < alpha``. ``n_permutations`` must allow a p-value
    below ``alpha``: at least ``1 / alpha`` of them.

    >>> rng = np.random.default_rng(0)
    >>> det = MMDDetector(alpha=0.05, n_permutations=100).fit(rng.normal(size=(200, 3)))
    >>> det.score(rng.normal(size=(50, 3))) < det.threshold < det.score(rng.normal(1, 1, (50, 3)))
    True
    """

    name = "MMD"

    def __init__(self, alpha: float = 0.01, *, n_permutations: int = 200,
                 bandwidth: float | None = None, max_reference: int = 500,
                 seed: int = 0) -> None:
        self.alpha = _alpha(alpha)
        self.max_reference = positive_int(max_reference, "max_reference")
        self.n_permutations = positive_int(n_permutations, "n_permutations")
        if (1 / (self.n_permutations + 1)) >= self.alpha:
            raise ValueError(f"with {self.n_permutations} permutations the smallest p-value is "
                             f"1/{self.n_permutations + 1}, not below alpha={alpha}; use at "
                             f"least {math.ceil(1 / self.alpha)} permutations")
        self.bandwidth, self.threshold = bandwidth, -math.log10(self.alpha)
        self.rng = np.random.default_rng(seed)

    def fit(self, reference: Any) -> MMDDetector:
        super().fit(reference)
        if len(self.reference_) > self.max_reference:   # the kernel grows with its square
            keep = self.rng.choice(len(self.reference_), self.max_reference, replace=False)
            self.reference_ = self.reference_[np.sort(keep)]
        self.bandwidth_ = (median_bandwidth(self.reference_) if self.bandwidth is None
                           else positive_number(self.bandwidth, "bandwidth"))
        return self

    def score(self, batch: Any) -> float:
        cur = self._check(batch)
        k = _kernel(np.concatenate([self.reference_, cur]), self.bandwidth_)
        _, p = _permutation_test(k, len(self.reference_), self.n_permutations, self.rng)
        return -math.log10(p)


# --- running over a stream ----------------------------------------------------------------------


@dataclass
class Run:
    """Scores of one detector on every batch of a stream, and which batches were alarms."""

    name: str
    scores: np.ndarray
    threshold: float

    @property
    def alarms(self) -> np.ndarray:
        return self.scores > self.threshold


def run(detector: _Detector, batches: Any, *, name: str | None = None) -> Run:
    """Score every batch (``batches[t]`` is one batch) with a fitted detector."""
    if len(batches) == 0:
        raise ValueError("batches is empty; pass a stream of at least one batch")
    scores = np.array([detector.score(b) for b in batches])
    return Run(name or detector.name, scores, detector.threshold)


def alerts(alarms: Any, *, patience: int = 1) -> np.ndarray:
    """Batches at which an alert is raised: the ``patience``-th alarm in a row (each run of
    alarms raises one alert, however long it lasts).

    >>> alerts([0, 1, 1, 1, 0, 1, 1], patience=2).tolist()
    [2, 6]
    """
    a = np.asarray(alarms).astype(bool)
    patience = positive_int(patience, "patience")
    streak = np.zeros(len(a), dtype=int)
    for t, on in enumerate(a):
        streak[t] = (streak[t - 1] + 1 if t else 1) if on else 0
    return np.flatnonzero(streak == patience)


def detection_report(alarms: Any, onset: int | None, *, patience: int = 1) -> dict[str, Any]:
    """Delay (batches from ``onset`` to the first alert at or after it; None if none),
    false alerts before the onset, and the share of pre-onset batches that were alarms.
    ``onset=None`` is a control stream: every alert is false.

    >>> detection_report([0, 1, 0, 0, 1, 1], onset=3, patience=1)
    {'delay': 1, 'false alerts': 1, 'false alarm rate': 0.333}
    """
    a = np.asarray(alarms).astype(bool)
    end = len(a) if onset is None else onset
    if onset is not None and not 0 <= onset < len(a):
        raise ValueError(f"onset {onset} is outside the stream's {len(a)} batches")
    hits = alerts(a, patience=patience)
    late = hits[hits >= end] if onset is not None else np.array([], int)
    return {"delay": int(late[0] - onset) if len(late) else None,
            "false alerts": int(np.sum(hits < end)),
            "false alarm rate": round(float(a[:end].mean()), 3) if end else None}


def batch_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Accuracy of every batch: ``y_true`` and ``y_pred`` shaped (n_batches, batch_size).

    >>> batch_accuracy([[0, 1], [1, 1]], [[0, 0], [1, 1]]).tolist()
    [0.5, 1.0]
    """
    y, p = np.asarray(y_true), np.asarray(y_pred)
    if y.shape != p.shape or y.ndim != 2:
        raise ValueError(f"y_true {y.shape} and y_pred {p.shape} must both be "
                         "(n_batches, batch_size)")
    return (y == p).mean(1)


def accuracy_alarms(accuracy: Any, reference: float, batch_size: int, *,
                    alpha: float = 0.01) -> np.ndarray:
    """Batches whose accuracy is significantly below the ``reference`` accuracy: below
    ``reference - z * sqrt(reference * (1 - reference) / batch_size)``, ``z`` the one-sided
    normal quantile of ``alpha``. Needs the labels, so in practice it runs late.

    >>> accuracy_alarms([0.85, 0.80, 0.70], 0.85, 200).tolist()
    [False, False, True]
    """
    from scipy import stats

    if not 0 < reference < 1:
        raise ValueError(f"reference must be an accuracy in (0, 1), got {reference}")
    batch_size, alpha = positive_int(batch_size, "batch_size"), _alpha(alpha)
    z = stats.norm.isf(alpha)
    return np.asarray(accuracy) < reference - z * math.sqrt(reference * (1 - reference)
                                                            / batch_size)


def plot_scores(ax: Any, runs: Sequence[Run], onset: int | None, *, title: str = "",
                clip: tuple[float, float] = (0.05, 100.0)) -> Any:
    """Each run's score / threshold per batch on a log axis (1 = the alarm line), with the
    shift's onset marked; returns ``ax``."""
    for r in runs:
        ax.plot(np.clip(r.scores / r.threshold, *clip), lw=1, label=r.name)
    ax.axhline(1, color="k", ls=":", lw=0.8)
    if onset is not None:
        ax.axvline(onset, color="red", lw=0.8, ls="--")
    ax.set(yscale="log", ylim=clip, title=title, xlabel="batch",
           ylabel="score / threshold")
    return ax


# --- label shift --------------------------------------------------------------------------------


def confusion(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Joint confusion matrix ``C[i, j] = P(predicted i, true j)`` (columns are true classes).

    >>> confusion([0, 0, 1, 1], [0, 1, 1, 1], 2).tolist()
    [[0.25, 0.0], [0.25, 0.5]]
    """
    y, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    n_classes = positive_int(n_classes, "n_classes")
    if y.shape != p.shape or len(y) == 0:
        raise ValueError(f"y_true and y_pred need the same non-zero length, got {y.shape}, "
                         f"{p.shape}")
    if min(y.min(), p.min()) < 0 or max(y.max(), p.max()) >= n_classes:
        raise ValueError(f"labels must be in [0, {n_classes}); is n_classes right?")
    c = np.zeros((n_classes, n_classes))
    np.add.at(c, (p, y), 1)
    return c / len(y)


def bbse_priors(y_val: Any, pred_val: Any, pred_target: Any, n_classes: int) -> np.ndarray:
    """Black-box shift estimation of the target's class proportions: solve ``C w = mu`` for
    the importance weights ``w = q(y) / p(y)``, ``C`` the joint confusion matrix on labelled
    source validation data and ``mu`` the distribution of predictions on the unlabelled
    target; the estimate is ``w * p(y)``, clipped at 0 and renormalised. Valid under label
    shift only (``p(x | y)`` unchanged) and when ``C`` is invertible.

    >>> y = np.array([0] * 50 + [1] * 50); pred = y.copy(); pred[:10] = 1   # 20 % of 0s missed
    >>> bbse_priors(y, pred, [0] * 16 + [1] * 84, 2).round(2).tolist()
    [0.2, 0.8]
    """
    c = confusion(y_val, pred_val, n_classes)
    target = np.asarray(pred_target).ravel()
    if len(target) == 0 or target.min() < 0 or target.max() >= n_classes:
        raise ValueError(f"pred_target must be a non-empty list of classes in [0, {n_classes})")
    mu = np.bincount(target, minlength=n_classes) / len(target)
    if np.linalg.cond(c) > 1e8:
        raise ValueError("the confusion matrix is singular (a class is never predicted or "
                         "never present); BBSE needs every class in the validation data")
    w = np.clip(np.linalg.solve(c, mu), 0, None)
    q = w * c.sum(0)
    return q / q.sum()


def reweight(probs: Any, source_priors: Sequence[float], target_priors: Sequence[float]
             ) -> np.ndarray:
    """Correct class probabilities for new priors: ``p_t(y | x) ~ p_s(y | x) q(y) / p(y)``.

    >>> reweight([[0.5, 0.5]], [0.5, 0.5], [0.8, 0.2]).round(2).tolist()
    [[0.8, 0.2]]
    """
    p = np.asarray(probs, dtype=float)
    src, tgt = np.asarray(source_priors, float), np.asarray(target_priors, float)
    if p.ndim != 2 or src.shape != (p.shape[1],) or tgt.shape != src.shape:
        raise ValueError(f"probs must be (n, n_classes) and both priors n_classes long, got "
                         f"{p.shape}, {src.shape}, {tgt.shape}")
    if (src <= 0).any():
        raise ValueError("source_priors must be positive: every class was seen in training")
    out = p * (tgt / src)
    return out / out.sum(1, keepdims=True)
