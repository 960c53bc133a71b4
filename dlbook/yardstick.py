"""One yardstick for every generator in Part IV: an FID-like score, recognisability, class
coverage and memorisation, all from a small classifier trained in the book.

The Fréchet Inception Distance (Heusel et al., 2017) compares two sets of images through the
features of a network trained on ImageNet: fit a Gaussian to each set's features and take the
Fréchet (2-Wasserstein) distance between the Gaussians. No ImageNet network can be downloaded
here, and Inception features mean little on 28×28 digits anyway, so :class:`Yardstick` trains
its own small CNN on the same training images the generators learn from and uses its 128
penultimate features. The numbers are therefore **FID-like**: comparable within this book, for
the same dataset and the same scorer, and not with published FID values.

One number misleads (a sharp scribble can score better than a blurry but readable digit), so a
:meth:`Yardstick.report` has four parts:

- ``frechet``: the FID-like distance to real held-out images (lower is better);
- ``recognisable``: the share of samples the classifier labels with probability ≥ 0.9;
- ``classes_covered`` and ``kl_uniform``: how evenly the samples spread over the classes (a
  collapsed generator covers few of them);
- ``nn_ratio`` and ``copies``: how close the samples lie to their nearest training image,
  relative to how close real unseen images lie (a generator that memorises has ``copies`` near 1).

>>> rng = np.random.default_rng(0)
>>> images = rng.random((200, 8, 8)).astype("float32")
>>> labels = np.arange(200) % 2
>>> judge = Yardstick.fit(images, labels, epochs=1)
>>> report = judge.report(images[:50], reference=images[50:], train=images)
>>> report["n"], report["classes_covered"] <= 2
(50, True)
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import linalg

from dlbook.config import import_keras

keras = import_keras()

__all__ = ["Yardstick", "compare", "frechet_distance"]

CONFIDENT = 0.9      # "recognisable": the classifier's top probability at least this
MIN_SAMPLES = 10


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (rows = samples):
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. Zero for identical sets; grows
    with a shift of the mean or a change of the spread.

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(2000, 4))
    >>> round(frechet_distance(a, a), 6)
    0.0
    >>> round(frechet_distance(a, a + 1.0), 1)   # the squared mean shift: 4 x 1^2
    4.0
    """
    a, b = (np.asarray(f, dtype="float64") for f in (features_a, features_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be two (n, d) matrices with the same d, got {a.shape} "
                         f"and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("each feature set needs at least 2 rows to estimate a covariance")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("features contain NaN or inf; check the images fed to the scorer")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU features make the product singular
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():  # nudge both covariances off singularity
            eps = 1e-6 * np.eye(len(cov_a))
            root = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = np.real(root)
    value = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)
    return float(max(value, 0.0))


def _images(x, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Validate a batch of grey images in [0, 1] and return it as (n, h, w, 1) float32."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise ValueError(f"{what} must be numeric images, got dtype {x.dtype}")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        raise ValueError(f"{what} must be grey images shaped (n, height, width) or "
                         f"(n, height, width, 1), got shape {x.shape}")
    if shape is not None and x.shape[1:] != shape:
        raise ValueError(f"{what} are {x.shape[1]}×{x.shape[2]} but the yardstick was trained "
                         f"on {shape[0]}×{shape[1]} images; resize them or fit a new Yardstick")
    if len(x) < MIN_SAMPLES:
        raise ValueError(f"{what} has {len(x)} images; the scores need at least {MIN_SAMPLES} "
                         "(use the same number, ideally 1,000, for every model you compare)")
    x = x.astype("float32")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or inf values; the generator has diverged")
    low, high = float(x.min()), float(x.max())
    if low < -1e-3 or high > 1 + 1e-3:
        hint = ("; a tanh output in [-1, 1] becomes [0, 1] with (x + 1) / 2"
                if low >= -1 - 1e-3 and high <= 1 + 1e-3 else "")
        raise ValueError(f"{what} must lie in [0, 1], got values from {low:.3g} to "
                         f"{high:.3g}{hint}")
    return np.clip(x, 0.0, 1.0)[..., None]


class Yardstick:
    """A small CNN classifier trained on the generators' training images, and the scores that
    use it. Build it with :meth:`fit`; it is seeded, so every chapter gets the same scorer."""

    def __init__(self, classifier, n_classes: int, image_shape: tuple[int, int]):
        self.classifier = classifier
        self.n_classes = n_classes
        self.image_shape = image_shape
        self._features = keras.Model(classifier.inputs,
                                     classifier.get_layer("features").output)
        self._cache: dict[tuple, np.ndarray] = {}  # real-image results reused across reports

    def _cached(self, kind: str, arrays: tuple, compute):
        """``compute()``, remembered for these exact arrays (by content, not identity): the
        real reference and training images are scored again in every report."""
        key = (kind,) + tuple(hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()
                              for a in arrays)
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @classmethod
    def fit(cls, x_train, y_train, *, epochs: int = 6, seed: int = 0) -> Yardstick:
        """Train the scorer (two 3×3 convolution stages, a 128-unit feature layer, softmax) on
        labelled training images. About 10 s for 4,000 28×28 images on a 2-core CPU."""
        x = _images(x_train, "x_train")
        y = np.asarray(y_train)
        if y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "iu":
            raise ValueError(f"y_train must be integer class labels, one per image; got shape "
                             f"{y.shape} and dtype {y.dtype} for {len(x)} images")
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        n_classes = int(y.max()) + 1
        if n_classes < 2:
            raise ValueError("y_train has a single class; the scorer needs at least two")
        keras.utils.set_random_seed(seed)
        inputs = keras.Input(x.shape[1:], name="image")
        h = inputs
        for filters in (32, 64):
            h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
            h = keras.layers.MaxPooling2D()(h)
        h = keras.layers.Dense(128, activation="relu", name="features")(
            keras.layers.Flatten()(h))
        outputs = keras.layers.Dense(n_classes, activation="softmax")(
            keras.layers.Dropout(0.3)(h))
        classifier = keras.Model(inputs, outputs, name="yardstick")
        classifier.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        classifier.fit(x, y, batch_size=64, epochs=int(epochs), verbose=0)
        return cls(classifier, n_classes, x.shape[1:3])

    def _prepare(self, x, what: str) -> np.ndarray:
        return _images(x, what, self.image_shape)

    def probabilities(self, x) -> np.ndarray:
        """Class probabilities, ``(n, n_classes)``."""
        return np.asarray(self.classifier.predict(self._prepare(x, "images"), batch_size=512,
                                                  verbose=0))

    def features(self, x) -> np.ndarray:
        """The 128 penultimate features the Fréchet distance is computed on, ``(n, 128)``."""
        return np.asarray(self._features.predict(self._prepare(x, "images"), batch_size=512,
                                                 verbose=0), dtype="float64")

    def accuracy(self, x, y) -> float:
        """The scorer's own accuracy on labelled images: it should be high (≥ 0.95 on digits)
        before its judgement of samples means anything."""
        return float(np.mean(self.probabilities(x).argmax(axis=1) == np.asarray(y)))

    def frechet(self, samples, reference) -> float:
        """FID-like distance between generated ``samples`` and real ``reference`` images. It
        depends on the number of images: compare models at the same count."""
        reference_features = self._cached("features", (np.asarray(reference),),
                                          lambda: self.features(reference))
        return frechet_distance(self.features(samples), reference_features)

    def coverage(self, samples) -> dict:
        """How the samples spread over the classes, as the classifier sees them:
        ``class_shares`` (predicted share per class), ``classes_covered`` (classes with at least
        half their fair share, 1/(2K)), ``kl_uniform`` (KL divergence of the shares from
        uniform, 0 when even, log K when one class takes all) and ``recognisable`` (share of
        samples with a top probability ≥ 0.9)."""
        probs = self.probabilities(samples)
        shares = np.bincount(probs.argmax(axis=1), minlength=self.n_classes) / len(probs)
        nonzero = shares[shares > 0]
        return {"class_shares": shares,
                "classes_covered": int(np.sum(shares >= 0.5 / self.n_classes)),
                "kl_uniform": float(np.sum(nonzero * np.log(nonzero * self.n_classes))),
                "recognisable": float(np.mean(probs.max(axis=1) >= CONFIDENT))}

    def memorisation(self, samples, train, *, reference=None) -> dict:
        """Pixel distance from each sample to its nearest training image, against the same
        distance for real images the generator never saw (``reference``; by default the
        second half of ``train`` measured against the first half). ``nn_ratio`` near 1 is
        healthy, far below 1 means copying; ``copies`` is the share of samples nearer to a
        training image than 95 % of real unseen images are (about 0.05 for real images, near 1
        for a generator that copies)."""
        s = self._prepare(samples, "samples").reshape(len(samples), -1)
        t = self._prepare(train, "train").reshape(len(train), -1)
        if reference is None:
            half = len(t) // 2
            t, r = t[:half], t[half:]
        else:
            r = self._prepare(reference, "reference").reshape(len(reference), -1)
        nn_samples = _nearest(s, t)
        nn_reference = self._cached("nearest", (r, t), lambda: _nearest(r, t))
        return {"nn_distance": float(np.median(nn_samples)),
                "reference_nn_distance": float(np.median(nn_reference)),
                "nn_ratio": float(np.median(nn_samples) / np.median(nn_reference)),
                "copies": float(np.mean(nn_samples < np.quantile(nn_reference, 0.05)))}

    def report(self, samples, *, reference, train) -> dict:
        """All the scores of ``samples`` at once: ``frechet`` (to ``reference``, real held-out
        images), the :meth:`coverage` scores and the :meth:`memorisation` scores against
        ``train`` (with ``reference`` as the unseen real images)."""
        scores = {"n": len(samples), "frechet": self.frechet(samples, reference)}
        scores.update(self.coverage(samples))
        scores.update(self.memorisation(samples, train, reference=reference))
        return scores


def _nearest(queries: np.ndarray, pool: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Euclidean distance from each query row to its nearest pool row."""
    pool = pool.astype("float32")
    pool_sq = np.sum(pool ** 2, axis=1)
    out = []
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk].astype("float32")
        d2 = np.sum(q ** 2, axis=1)[:, None] - 2 * q @ pool.T + pool_sq[None, :]
        out.append(np.sqrt(np.maximum(d2.min(axis=1), 0.0)))
    return np.concatenate(out)


COLUMNS = {"frechet": "FID-like ↓", "recognisable": "recognisable ↑",
           "classes_covered": "classes covered ↑", "kl_uniform": "KL from uniform ↓",
           "nn_ratio": "NN-distance ratio", "copies": "copies"}


def compare(reports: Mapping[str, Mapping]) -> pd.DataFrame:
    """One table, one row per model, from :meth:`Yardstick.report` dicts (extra keys such as
    ``"train seconds"`` are kept as columns after the scores).

    >>> compare({"a": {"frechet": 1.0, "recognisable": 0.5, "seconds": 3}}).columns.tolist()
    ['FID-like ↓', 'recognisable ↑', 'seconds']
    """
    if not reports:
        raise ValueError("compare needs at least one report: {'model name': judge.report(...)}")
    rows = {}
    for name, scores in reports.items():
        if not isinstance(scores, Mapping):
            raise ValueError(f"the report for {name!r} must be a dict from Yardstick.report, "
                             f"got {type(scores).__name__}")
        row = {COLUMNS[k]: v for k, v in scores.items() if k in COLUMNS}
        row.update({k: v for k, v in scores.items()
                    if k not in COLUMNS and k not in ("n", "class_shares", "nn_distance",
                                                      "reference_nn_distance")})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    ordered = [c for c in COLUMNS.values() if c in table] + [c for c in table
                                                             if c not in COLUMNS.values()]
    return table[ordered]
