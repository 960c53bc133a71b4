"""Binary image segmentation: a small 2-D U-Net, overlap metrics, a soft-Dice loss, and a
classical thresholding baseline to measure it against.

- :func:`unet` — the encoder-decoder of Ronneberger et al. (2015) with skip connections, sized
  for small images (``filters`` channels at full resolution, doubling at each of ``depth``
  down-samplings), ending in one sigmoid channel: P(pixel is foreground).
- :func:`dice`, :func:`iou` — per-image Dice coefficient ``2|A∩B| / (|A|+|B|)`` and
  intersection over union ``|A∩B| / |A∪B|`` of binary masks, in NumPy (1 when both are empty).
- :class:`SoftDiceLoss` — ``1 - soft Dice`` on probabilities, per image and averaged, plus an
  optional binary cross-entropy term: Dice does not drown a few lesion pixels in thousands of
  background ones, cross-entropy gives smooth gradients early on (Milletari et al. 2016).
- :func:`show_masks` — images in grey with each method's mask outlined over them, one row per
  method, the Dice of each prediction in its title.
- :class:`ThresholdSegmenter` — the non-deep baseline: Gaussian smoothing, an intensity band
  ``low < x < high``, a morphological opening and removal of tiny components, with all four
  settings tuned by grid search for the best Dice on training images.

>>> import numpy as np
>>> a = np.zeros((1, 4, 4)); a[0, :2, :2] = 1
>>> b = np.zeros((1, 4, 4)); b[0, :2, :1] = 1
>>> dice(a, b).round(3), iou(a, b).round(3)
(array([0.667]), array([0.5]))
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.checks import positive_int
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = ["SoftDiceLoss", "ThresholdSegmenter", "dice", "iou", "show_masks", "unet"]


# --- the model ----------------------------------------------------------------------------------


def _conv_block(x, filters: int, name: str):
    for k in (1, 2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{k}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{k}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{k}")(x)
    return x


def unet(input_shape: Sequence[int] = (64, 64, 1), *, filters: int = 16, depth: int = 3,
         name: str = "unet") -> keras.Model:
    """A 2-D U-Net for binary segmentation: ``(h, w, c)`` images in, ``(h, w, 1)`` P(foreground)
    out. Height and width must be divisible by ``2 ** depth``.

    >>> model = unet((32, 32, 1), filters=4, depth=2)
    >>> model.output_shape, model.count_params()
    ((None, 32, 32, 1), 7637)
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape is (height, width, channels), got {tuple(input_shape)!r}")
    h, w, c = (positive_int(v, "input_shape entries") for v in input_shape)
    filters, depth = positive_int(filters, "filters"), positive_int(depth, "depth")
    if h % 2**depth or w % 2**depth:
        raise ValueError(f"height and width must be divisible by 2**depth = {2**depth}, got "
                         f"{h}x{w}; pad the images or use a smaller depth")
    inputs = keras.Input((h, w, c), name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = _conv_block(x, filters * 2**level, f"down{level}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(name=f"pool{level}")(x)
    x = _conv_block(x, filters * 2**depth, "bottom")
    for level in reversed(range(depth)):
        x = keras.layers.Conv2DTranspose(filters * 2**level, 2, strides=2, name=f"up{level}")(x)
        x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _conv_block(x, filters * 2**level, f"dec{level}")
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)


# --- metrics ------------------------------------------------------------------------------------


def _masks(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y_true), np.asarray(y_pred)
    if a.shape != b.shape:
        raise ValueError(f"masks must have the same shape, got {a.shape} and {b.shape}; squeeze "
                         "the channel axis of model outputs (y[..., 0])")
    if a.ndim < 2:
        raise ValueError(f"masks must be (n, h, w) or (h, w), got shape {a.shape}")
    for m, what in ((a, "y_true"), (b, "y_pred")):
        if not np.isin(m, (0, 1)).all():
            raise ValueError(f"{what} must be binary (0/1 or bool); threshold probabilities "
                             "first, e.g. y_prob > 0.5")
    if a.ndim == 2:
        a, b = a[None], b[None]
    return a.astype(bool).reshape(len(a), -1), b.astype(bool).reshape(len(b), -1)


def dice(y_true: Any, y_pred: Any) -> np.ndarray:
    """Dice coefficient of each pair of binary masks (1.0 where both are empty).

    >>> dice(np.ones((2, 2)), np.zeros((2, 2)))
    array([0.])
    """
    a, b = _masks(y_true, y_pred)
    inter, total = (a & b).sum(1), a.sum(1) + b.sum(1)
    return np.where(total == 0, 1.0, 2 * inter / np.maximum(total, 1))


def iou(y_true: Any, y_pred: Any) -> np.ndarray:
    """Intersection over union (Jaccard index) of each pair of binary masks (1.0 where both
    are empty). Per image, ``iou = dice / (2 - dice)``.

    >>> iou(np.eye(3), np.eye(3))
    array([1.])
    """
    a, b = _masks(y_true, y_pred)
    inter, union = (a & b).sum(1), (a | b).sum(1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


class SoftDiceLoss(keras.losses.Loss):
    """``1 - soft Dice`` per image, averaged over the batch, plus ``bce_weight`` times the
    pixel-wise binary cross-entropy. ``smooth`` keeps empty masks finite.

    >>> loss = SoftDiceLoss()
    >>> y = np.ones((1, 2, 2, 1), "float32")
    >>> round(float(loss(y, y)), 4), round(float(loss(y, 0 * y)), 4)
    (0.0, 0.8)
    """

    def __init__(self, smooth: float = 1.0, bce_weight: float = 0.0, name: str = "soft_dice",
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        for value, what in ((smooth, "smooth"), (bce_weight, "bce_weight")):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{what} must be a number >= 0, got {value!r}")
        self.smooth, self.bce_weight = float(smooth), float(bce_weight)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        axes = tuple(range(1, len(y_pred.shape)))
        inter = ops.sum(y_true * y_pred, axis=axes)
        total = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
        loss = 1.0 - (2.0 * inter + self.smooth) / (total + self.smooth)
        if self.bce_weight:
            bce = keras.losses.binary_crossentropy(y_true, y_pred)
            loss = loss + self.bce_weight * ops.mean(ops.reshape(bce, (ops.shape(bce)[0], -1)), 1)
        return loss

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smooth": self.smooth, "bce_weight": self.bce_weight}


# --- the classical baseline ---------------------------------------------------------------------


@dataclass
class ThresholdSegmenter:
    """Smooth, keep ``low < x < high``, open with a disk of ``opening`` pixels' radius, drop
    components smaller than ``min_size`` pixels. :meth:`fit` tunes all four on training data.

    >>> img = np.zeros((1, 16, 16)); img[0, 4:9, 4:9] = 0.3
    >>> seg = ThresholdSegmenter(low=0.2, high=0.4, sigma=0.0, opening=0, min_size=1)
    >>> int(seg.predict(img).sum())
    25
    """

    low: float = 0.25
    high: float = 0.45
    sigma: float = 1.0
    opening: int = 1
    min_size: int = 4

    def predict(self, images: Any) -> np.ndarray:
        """Binary masks ``(n, h, w)`` for images ``(n, h, w)`` (or ``(n, h, w, 1)``)."""
        from scipy.ndimage import binary_opening, gaussian_filter
        from skimage.morphology import disk, remove_small_objects

        x = np.asarray(images, dtype=np.float64)
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3:
            raise ValueError(f"images must be (n, h, w) or (n, h, w, 1), got shape {x.shape}")
        out = np.empty(x.shape, bool)
        for i, img in enumerate(x):
            s = gaussian_filter(img, self.sigma) if self.sigma > 0 else img
            m = (s > self.low) & (s < self.high)
            if self.opening > 0:
                m = binary_opening(m, structure=disk(self.opening))
            if self.min_size > 1:
                m = remove_small_objects(m, max_size=self.min_size - 1)
            out[i] = m
        return out

    @classmethod
    def fit(cls, images: Any, masks: Any, *, lows: Sequence[float] = (0.22, 0.25, 0.28, 0.31),
            highs: Sequence[float] = (0.4, 0.5, 0.6), sigmas: Sequence[float] = (0.5, 1.0),
            openings: Sequence[int] = (0, 1), min_sizes: Sequence[int] = (1, 4, 8),
            ) -> ThresholdSegmenter:
        """The settings on the grid with the best mean Dice on ``images``/``masks``."""
        truth = np.asarray(masks)
        best, best_score = None, -1.0
        for low, high, sigma, opening, min_size in itertools.product(
                lows, highs, sigmas, openings, min_sizes):
            if low >= high:
                continue
            seg = cls(low, high, sigma, opening, min_size)
            score = float(dice(truth, seg.predict(images)).mean())
            if score > best_score:
                best, best_score = seg, score
        if best is None:
            raise ValueError("the grid has no setting with low < high; widen lows or highs")
        return best


# --- pictures -----------------------------------------------------------------------------------


def show_masks(images: Any, truth: Any, predictions: dict[str, Any] | None = None, *,
               vmax: float = 0.6, size: float = 2.1):
    """One column per image: the image alone, then the true mask (green) and each predicted
    mask (orange) outlined over it, titled with its Dice. Returns the figure.

    >>> fig = show_masks(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), {"empty": np.zeros((2, 8, 8))})
    >>> len(fig.axes)
    6
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    truth = np.asarray(truth).astype(bool)
    predictions = {k: np.asarray(v).astype(bool) for k, v in (predictions or {}).items()}
    if images.ndim != 3 or truth.shape != images.shape:
        raise ValueError(f"images and truth must both be (n, h, w), got {images.shape} and {truth.shape}")
    rows = [("image", None), ("truth", truth), *predictions.items()]
    n = len(images)
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, size * len(rows)), squeeze=False,
                             layout="constrained")
    for r, (name, masks) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=vmax)
            if masks is not None:
                color = "lime" if name == "truth" else "orange"
                ax.contour(masks[i].astype(float), levels=[0.5], colors=color, linewidths=1.0)
                if name != "truth":
                    ax.set_title(f"Dice {dice(truth[i], masks[i])[0]:.2f}", fontsize=8)
            ax.set(xticks=[], yticks=[])
        axes[r, 0].set_ylabel(name, fontsize=9)
    return fig
