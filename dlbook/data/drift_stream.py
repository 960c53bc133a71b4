"""A seeded stream of deployment traffic built from real labelled images, with a known shift:
gradual or sudden covariate shift, or label (prior) shift, starting at a known batch.

A deployed classifier sees its inputs in batches (an hour, a day of requests). This module
draws such batches from a pool of real images (in the book, Fashion-MNIST's test set) and,
from batch ``onset`` on, changes them in one of four ways (``kind``):

- ``"none"``: a control stream; every batch is drawn from the pool as it is.
- ``"gradual"``: *covariate shift* that creeps in, like a camera whose lens fogs and whose
  exposure slowly rises. Severity ``s`` ramps linearly from 0 at ``onset`` to 1 at
  ``onset + ramp`` and stays there; an image ``x`` becomes
  ``clip(0.2 s + (1 - 0.4 s) * blur(x, 1.2 s))``: a Gaussian blur of up to 1.2 px,
  contrast cut by up to 40 % and the black background lifted to grey 0.2.
- ``"sudden"``: covariate shift that arrives at once, like a new, cheaper camera installed
  overnight: from ``onset`` on, every image is ``clip(0.1 + 0.8 x + n)`` with independent
  Gaussian pixel noise ``n`` of standard deviation 0.12.
- ``"label"``: *label shift* (prior shift): from ``onset`` on, classes are drawn with
  ``target_priors`` instead of the pool's own proportions, and each image is drawn from its
  class as before, so ``p(x | y)`` is unchanged and only ``p(y)`` moves (a shop whose
  customers start returning mostly shirts and coats).

Before ``onset`` (and always for ``"none"``), classes are drawn with the pool's class
proportions. Within a stream, images are drawn at random with replacement from their class,
so a pool of a few thousand images yields any number of batches; a duplicate inside one
batch is rare when the pool is large. The stream keeps the ground truth: ``severity`` per
batch (0 to 1; the covariate shifts only), the class ``priors`` each batch was drawn from,
and ``onset``.

**Parameters**: ``kind``, ``n_batches``, ``batch_size``, ``onset`` (the first shifted batch),
``ramp`` (batches from 0 to full severity, ``"gradual"`` only), ``target_priors`` (``"label"``
only; default: 60 % of the mass on classes 2, 4 and 6, 40 % spread over the others), ``seed``.

**Known simplifications**: real drift is rarely one clean mechanism at a known time; here the
covariate shifts are pixel transforms that treat every class alike and never change what the
label should be (no concept drift), the label shift switches in a single batch, and the
batches are independent draws (real traffic has daily cycles and bursts). The images
themselves are real; the shifts are ours.

>>> import numpy as np
>>> x = np.random.default_rng(0).uniform(size=(300, 8, 8)).astype("float32")
>>> y = np.repeat(np.arange(3), 100)
>>> s = simulate(x, y, "gradual", n_batches=6, batch_size=20, onset=2, ramp=2, seed=0)
>>> s.x.shape, s.y.shape, s.severity.tolist()
((6, 20, 8, 8), (6, 20), [0.0, 0.0, 0.5, 1.0, 1.0, 1.0])
>>> lab = simulate(x, y, "label", n_batches=4, batch_size=20, onset=2,
...                target_priors=[0.8, 0.1, 0.1], seed=0)
>>> lab.priors[1].round(2).tolist(), lab.priors[3].tolist()
([0.33, 0.33, 0.33], [0.8, 0.1, 0.1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.checks import positive_int

__all__ = ["KINDS", "Stream", "default_target_priors", "shift_images", "simulate"]

KINDS = ("none", "gradual", "sudden", "label")
BLUR_PX, CONTRAST_CUT, BACKGROUND = 1.2, 0.4, 0.2   # "gradual" at severity 1
NOISE_SD, SUDDEN_CONTRAST, SUDDEN_OFFSET = 0.12, 0.8, 0.1   # "sudden"


@dataclass
class Stream:
    """Batches of a simulated deployment stream and the ground truth of its shift."""

    x: np.ndarray          # (n_batches, batch_size, *image shape), float32 in [0, 1]
    y: np.ndarray          # (n_batches, batch_size) int64 labels (they arrive late in practice)
    severity: np.ndarray   # (n_batches,) covariate-shift severity, 0 = none, 1 = full
    priors: np.ndarray     # (n_batches, n_classes) class proportions each batch was drawn from
    kind: str
    onset: int | None      # first shifted batch; None for the control stream

    @property
    def n_batches(self) -> int:
        return len(self.x)

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """All images and labels, batch after batch, as one ``(n, ...)`` array each."""
        return self.x.reshape(-1, *self.x.shape[2:]), self.y.reshape(-1)


def default_target_priors(n_classes: int = 10, classes: Sequence[int] = (2, 4, 6),
                          mass: float = 0.6) -> np.ndarray:
    """Priors with ``mass`` spread evenly over ``classes`` and the rest over the others.

    >>> default_target_priors(4, classes=(0,), mass=0.7).round(2).tolist()
    [0.7, 0.1, 0.1, 0.1]
    """
    classes = list(classes)
    if not classes or not all(0 <= c < n_classes for c in classes):
        raise ValueError(f"classes must be indices in [0, {n_classes}), got {classes}")
    if not 0 < mass < 1:
        raise ValueError(f"mass must be in (0, 1), the share of the shifted classes, got {mass}")
    p = np.full(n_classes, (1 - mass) / (n_classes - len(classes)))
    p[classes] = mass / len(classes)
    return p


def shift_images(x: Any, severity: float, kind: str, *,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply the ``"gradual"`` shift at ``severity`` (0 to 1) or the ``"sudden"`` one (needs an
    ``rng`` for its noise) to a stack of grey images ``(n, h, w)`` in [0, 1].

    >>> x = np.zeros((1, 5, 5), "float32")
    >>> round(float(shift_images(x, 1.0, "gradual").max()), 3)   # background lifted to 0.2
    0.2
    >>> shift_images(x, 0.0, "gradual") is x
    True
    """
    from scipy import ndimage

    x = np.asarray(x, dtype="float32")
    if x.ndim != 3:
        raise ValueError(f"x must be a stack of grey images (n, h, w), got shape {x.shape}")
    if not 0 <= severity <= 1:
        raise ValueError(f"severity must be in [0, 1], got {severity}")
    if kind == "gradual":
        if severity == 0:
            return x
        blurred = ndimage.gaussian_filter(x, (0, BLUR_PX * severity, BLUR_PX * severity))
        out = BACKGROUND * severity + (1 - CONTRAST_CUT * severity) * blurred
    elif kind == "sudden":
        if rng is None:
            raise ValueError("the 'sudden' shift adds noise: pass rng=np.random.default_rng(seed)")
        out = SUDDEN_OFFSET + SUDDEN_CONTRAST * x + rng.normal(0, NOISE_SD, x.shape)
    else:
        raise ValueError(f"shift_images applies 'gradual' or 'sudden', got {kind!r}")
    return np.clip(out, 0, 1).astype("float32")


def _severity(kind: str, n_batches: int, onset: int, ramp: int) -> np.ndarray:
    t = np.arange(n_batches)
    if kind == "gradual":
        return np.clip((t - onset + 1) / ramp, 0, 1) * (t >= onset)
    if kind == "sudden":
        return (t >= onset).astype(float)
    return np.zeros(n_batches)


def simulate(x_pool: Any, y_pool: Any, kind: str, *, n_batches: int = 60,
             batch_size: int = 200, onset: int | None = 20, ramp: int = 20,
             target_priors: Sequence[float] | None = None, seed: int = 0) -> Stream:
    """A stream of ``n_batches`` batches of ``batch_size`` images drawn from the pool, shifted
    from batch ``onset`` on as ``kind`` says (see the module's docstring)."""
    x_pool, y_pool = np.asarray(x_pool, dtype="float32"), np.asarray(y_pool)
    if x_pool.ndim != 3 or len(x_pool) != len(y_pool):
        raise ValueError(f"x_pool must be grey images (n, h, w) with one label each, got "
                         f"{x_pool.shape} and {y_pool.shape}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS}")
    n_batches, batch_size = positive_int(n_batches, "n_batches"), positive_int(batch_size,
                                                                               "batch_size")
    ramp = positive_int(ramp, "ramp")
    if kind == "none":
        onset = None
    elif onset is None or not 0 < onset < n_batches:
        raise ValueError(f"onset must be a batch in [1, {n_batches}) so that the stream has "
                         f"clean batches before the shift, got {onset}")
    classes, counts = np.unique(y_pool, return_counts=True)
    if not np.array_equal(classes, np.arange(len(classes))):
        raise ValueError("y_pool must hold the labels 0 .. n_classes - 1, each at least once")
    source = counts / counts.sum()
    target = source
    if kind == "label":
        target = (default_target_priors(len(classes)) if target_priors is None
                  else np.asarray(target_priors, dtype=float))
        if target.shape != source.shape or (target < 0).any() or abs(target.sum() - 1) > 1e-6:
            raise ValueError(f"target_priors must be {len(classes)} non-negative numbers "
                             f"that sum to 1, got {target_priors}")
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y_pool == c) for c in classes]
    priors = np.array([target if onset is not None and t >= onset else source
                       for t in range(n_batches)])
    severity = _severity(kind, n_batches, onset or 0, ramp)
    xs, ys = [], []
    for t in range(n_batches):
        y = rng.choice(len(classes), size=batch_size, p=priors[t])
        idx = np.empty(batch_size, dtype=int)
        for c, members in enumerate(by_class):
            chosen = y == c
            idx[chosen] = members[rng.integers(len(members), size=chosen.sum())]
        x = x_pool[idx]
        if kind in ("gradual", "sudden") and severity[t] > 0:
            x = shift_images(x, float(severity[t]), kind, rng=rng)
        xs.append(x)
        ys.append(y.astype("int64"))
    return Stream(np.stack(xs), np.stack(ys), severity, priors, kind, onset)
