"""Object detection from boxes to mAP: box overlap, non-maximum suppression, CenterNet-style
heatmap targets and their decoding, a small one-stage detector (with an optional lane-mask
head), VOC/COCO-style average precision, a classical sliding-window baseline, and box drawing.

Boxes are ``(x0, y0, x1, y1)`` in pixels, ``x`` to the right and ``y`` down, ``x1 > x0``.

- :func:`box_iou`, :func:`nms`: intersection over union of every pair of boxes; greedy
  non-maximum suppression (keep the best box, drop those overlapping it by more than a
  threshold, repeat).
- :func:`encode_centers`, :func:`decode_centers`: the "objects as points" targets of Zhou et
  al. (2019): per class a heatmap on a grid ``stride`` times coarser than the image, with a
  Gaussian bump at each object's centre; at each centre cell the box's width and height (in
  grid cells) and the sub-cell offset of the true centre. Decoding takes the local maxima of
  the heatmaps (a 3 x 3 max filter stands in for NMS) and rebuilds boxes from size and offset.
- :class:`CenterNetLoss`, :func:`centernet`: the penalty-reduced focal loss on the heatmaps
  plus L1 losses on size and offset at the centre cells only; and a small encoder-decoder
  whose stride-4 features feed the three detection heads and whose full-resolution decoder
  feeds an optional lane-mask head (one backbone, two tasks, as in YOLOP, Wu et al. 2022).
- :func:`average_precision`, :func:`evaluate`, :func:`found`: per-class AP at an IoU
  threshold, computed as in PASCAL VOC 2010+ and COCO: detections of all images ranked by
  score, each matched greedily to the best-overlapping unmatched ground-truth box, and the
  area under the precision-recall curve after making precision monotone ("all-point
  interpolation"); mAP is their mean. :func:`found` says which ground-truth boxes a
  detector found at a score threshold, for failure analysis.
- :class:`SlidingWindowDetector`: the pre-deep-learning pipeline of Dalal and Triggs (2005):
  an image pyramid, histogram-of-oriented-gradient and colour features per cell, one window
  shape per class scanned over every position and scale, a logistic regression per class with
  a round of hard-negative mining, and NMS.
- :func:`draw_boxes`: boxes with class names (and scores) on a matplotlib axis.

>>> a = np.array([[0, 0, 10, 10], [5, 5, 15, 15]], float)
>>> box_iou(a, a).round(3)
array([[1.   , 0.143],
       [0.143, 1.   ]])
>>> nms(a, np.array([0.9, 0.8]), iou_threshold=0.1).tolist()
[0]
>>> y = encode_centers([a], [np.array([0, 1])], n_classes=2, image_size=16, stride=4)
>>> boxes, scores, labels = decode_centers(y, n_classes=2, stride=4)[0]
>>> boxes.round(1).tolist(), labels.tolist()
([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 15.0, 15.0]], [0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = ["CenterNetLoss", "SlidingWindowDetector", "average_precision", "box_iou",
           "centernet", "decode_centers", "draw_boxes", "encode_centers", "evaluate", "found",
           "nms"]

Detections = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One image's detections: boxes ``(k, 4)``, scores ``(k,)``, class ids ``(k,)``."""


def _boxes(value: Any, what: str = "boxes") -> np.ndarray:
    b = np.asarray(value, dtype=np.float64)
    if b.size == 0:
        return b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{what} must have shape (n, 4) as x0, y0, x1, y1; got {b.shape}")
    if np.any(b[:, 2] < b[:, 0]) or np.any(b[:, 3] < b[:, 1]):
        raise ValueError(f"{what} need x1 >= x0 and y1 >= y0 (x0, y0, x1, y1 order)")
    return b


# --- overlap and suppression --------------------------------------------------------------------


def box_iou(a: Any, b: Any) -> np.ndarray:
    """Intersection over union of every box in ``a`` ``(n, 4)`` with every box in ``b``
    ``(m, 4)``: an ``(n, m)`` array. Boxes of zero area overlap nothing (IoU 0).

    >>> box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [4, 4, 5, 5], [0, 0, 0, 0]]).round(3)
    array([[0.143, 0.   , 0.   ]])
    """
    a, b = _boxes(a, "a"), _boxes(b, "b")
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: Any, scores: Any, *, iou_threshold: float = 0.5, max_out: int | None = None
        ) -> np.ndarray:
    """Indices of the boxes greedy non-maximum suppression keeps, best score first: take the
    best remaining box, drop every box overlapping it by IoU > ``iou_threshold``, repeat.

    >>> nms([[0, 0, 4, 4], [0, 0, 4, 5], [10, 10, 12, 12]], [0.5, 0.9, 0.7]).tolist()
    [1, 2]
    """
    b = _boxes(boxes)
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != (len(b),):
        raise ValueError(f"scores must have one value per box, got {s.shape} for {len(b)} boxes")
    if not 0 <= iou_threshold <= 1:
        raise ValueError(f"iou_threshold must lie in [0, 1], got {iou_threshold!r}")
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    while order.size and (max_out is None or len(keep) < max_out):
        best, order = order[0], order[1:]
        keep.append(int(best))
        if order.size:
            order = order[box_iou(b[best:best + 1], b[order])[0] <= iou_threshold]
    return np.array(keep, dtype=np.int64)


# --- CenterNet targets --------------------------------------------------------------------------


def _sigma(w: float, h: float) -> float:
    """Spread of a centre's Gaussian on the output grid: about a sixth of the diameter of the
    region whose centres still give a box of IoU >= 0.7 (CenterNet's radius rule, simplified
    to ``r = 0.2 * min(w, h)``)."""
    return max((2 * 0.2 * min(w, h) + 1) / 6, 0.35)


def encode_centers(boxes: Sequence[Any], labels: Sequence[Any], *, n_classes: int,
                   image_size: int, stride: int = 4) -> np.ndarray:
    """Training targets ``(n, g, g, n_classes + 5)`` on the ``g = image_size / stride`` grid:
    channels ``0..C-1`` the class heatmaps (1 at each centre cell, a Gaussian around it,
    maximum where bumps meet), then the box width and height in grid cells, the centre's
    offset inside its cell (0..1, x then y), and a 0/1 mask of the centre cells. Where two
    objects share a centre cell, the larger one keeps the size and offset.

    >>> y = encode_centers([[[0, 0, 8, 8]]], [[0]], n_classes=1, image_size=16, stride=4)
    >>> y.shape, y[0, 1, 1].round(2).tolist()
    ((1, 4, 4, 6), [1.0, 2.0, 2.0, 0.0, 0.0, 1.0])
    """
    n_classes = positive_int(n_classes, "n_classes")
    stride = positive_int(stride, "stride")
    image_size = positive_int(image_size, "image_size")
    if image_size % stride:
        raise ValueError(f"image_size {image_size} must be a multiple of stride {stride}")
    if len(boxes) != len(labels):
        raise ValueError(f"boxes and labels need one entry per image, got {len(boxes)} and {len(labels)}")
    g = image_size // stride
    out = np.zeros((len(boxes), g, g, n_classes + 5), np.float32)
    gy, gx = np.mgrid[0:g, 0:g]
    for i, (bx, lab) in enumerate(zip(boxes, labels, strict=True)):
        b = _boxes(bx) / stride
        lab = np.asarray(lab, dtype=np.int64).reshape(-1)
        if len(lab) != len(b):
            raise ValueError(f"image {i}: {len(b)} boxes but {len(lab)} labels")
        if len(lab) and (lab.min() < 0 or lab.max() >= n_classes):
            raise ValueError(f"image {i}: class ids must lie in 0..{n_classes - 1}, got {lab.tolist()}")
        for j in np.argsort(-np.prod(b[:, 2:] - b[:, :2], axis=1))[::-1]:  # small first, large last
            (x0, y0, x1, y1), c = b[j], lab[j]
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            ix, iy = min(int(cx), g - 1), min(int(cy), g - 1)
            s = _sigma(x1 - x0, y1 - y0)
            bump = np.exp(-((gx - ix) ** 2 + (gy - iy) ** 2) / (2 * s * s))
            out[i, :, :, c] = np.maximum(out[i, :, :, c], bump)
            out[i, iy, ix, n_classes:] = [x1 - x0, y1 - y0, cx - ix, cy - iy, 1.0]
    return out


def decode_centers(y: Any, *, n_classes: int, stride: int = 4, threshold: float = 0.05,
                   top_k: int = 40) -> list[Detections]:
    """Detections per image from heatmap, size and offset maps ``(n, g, g, n_classes + 4)``
    (extra trailing channels, such as :func:`encode_centers`' mask, are ignored): cells that are the
    maximum of their 3 x 3 neighbourhood in a class's heatmap and score above ``threshold``,
    at most ``top_k`` per image, best first.

    >>> y = np.zeros((1, 4, 4, 5)); y[0, 2, 1] = [0.9, 2, 1, 0.5, 0.5]
    >>> decode_centers(y, n_classes=1, stride=4)[0][0].tolist()
    [[2.0, 8.0, 10.0, 12.0]]
    """
    from scipy.ndimage import maximum_filter

    y = np.asarray(y, dtype=np.float64)
    n_classes = positive_int(n_classes, "n_classes")
    if y.ndim != 4 or y.shape[-1] < n_classes + 4:
        raise ValueError(f"y must be (n, g, g, n_classes + 4) = (n, g, g, {n_classes + 4}), "
                         f"got shape {y.shape}")
    stride = positive_int(stride, "stride")
    top_k = positive_int(top_k, "top_k")
    results = []
    for img in y:
        heat = img[..., :n_classes]
        peaks = (heat == maximum_filter(heat, size=(3, 3, 1), mode="constant")) & (heat > threshold)
        iy, ix, c = np.nonzero(peaks)
        score = heat[iy, ix, c]
        order = np.argsort(-score, kind="stable")[:top_k]
        iy, ix, c, score = iy[order], ix[order], c[order], score[order]
        w, h, ox, oy = (img[iy, ix, n_classes + k] for k in range(4))
        cx, cy = (ix + ox) * stride, (iy + oy) * stride
        w, h = np.maximum(w, 0) * stride, np.maximum(h, 0) * stride
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        results.append((boxes, score, c.astype(np.int64)))
    return results



# --- the model ----------------------------------------------------------------------------------


class CenterNetLoss(keras.losses.Loss):
    """CenterNet's training loss on targets from :func:`encode_centers` and predictions
    ``(n, g, g, C + 4)`` (sigmoid heatmaps, then width, height, x and y offset):

    ``focal + size_weight * L1(size) + L1(offset)``, the L1 terms at centre cells only, all
    divided by the number of objects. The focal term (alpha 2, beta 4) is Zhou et al.'s
    penalty-reduced form of the focal loss: near a centre, the negatives' penalty shrinks by
    ``(1 - target) ** beta``, so the Gaussian bump is not fought as background.

    >>> y = encode_centers([[[0, 0, 8, 8]]], [[0]], n_classes=1, image_size=16, stride=4)
    >>> good = y[..., :5].copy(); bad = good.copy(); bad[..., 0] = 0.5
    >>> loss = CenterNetLoss(n_classes=1)
    >>> float(loss(y, good)) < 0.01 < float(loss(y, bad))
    True
    """

    def __init__(self, n_classes: int, size_weight: float = 0.1, alpha: float = 2.0,
                 beta: float = 4.0, name: str = "centernet", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.n_classes = positive_int(n_classes, "n_classes")
        self.size_weight = positive_number(size_weight, "size_weight")
        self.alpha, self.beta = positive_number(alpha, "alpha"), positive_number(beta, "beta")

    def call(self, y_true, y_pred):
        c = self.n_classes
        y_true = ops.cast(y_true, y_pred.dtype)
        heat_t, heat_p = y_true[..., :c], ops.clip(y_pred[..., :c], 1e-4, 1 - 1e-4)
        mask = y_true[..., c + 4:c + 5]
        centre = ops.cast(heat_t > 0.999, y_pred.dtype)
        pos = -ops.log(heat_p) * (1 - heat_p) ** self.alpha * centre
        neg = -ops.log(1 - heat_p) * heat_p ** self.alpha * (1 - heat_t) ** self.beta * (1 - centre)
        axes = (1, 2, 3)
        n_obj = ops.maximum(ops.sum(centre, axis=axes), 1.0)
        focal = (ops.sum(pos, axis=axes) + ops.sum(neg, axis=axes)) / n_obj
        size = ops.sum(ops.abs(y_pred[..., c:c + 2] - y_true[..., c:c + 2]) * mask, axis=axes)
        offset = ops.sum(ops.abs(y_pred[..., c + 2:c + 4] - y_true[..., c + 2:c + 4]) * mask, axis=axes)
        n_mask = ops.maximum(ops.sum(mask, axis=axes), 1.0)
        return focal + (self.size_weight * size + offset) / n_mask

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_classes": self.n_classes, "size_weight": self.size_weight,
                "alpha": self.alpha, "beta": self.beta}


def _conv(x, filters: int, name: str):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def centernet(input_shape: Sequence[int] = (64, 64, 3), n_classes: int = 3, *,
              filters: Sequence[int] = (16, 32, 64, 96), lanes: bool = True,
              name: str = "centernet") -> keras.Model:
    """A small one-stage detector. The encoder halves the resolution three times
    (``filters[0..3]`` channels at strides 1, 2, 4, 8); a decoder step brings stride 8 back to
    stride 4, where three 1 x 1 heads predict the class heatmaps (sigmoid, bias set for a 1 %
    prior as in the focal-loss paper), box sizes (ReLU, in grid cells) and centre offsets
    (sigmoid), concatenated as output ``"boxes"`` ``(g, g, n_classes + 4)``. With ``lanes`` a
    U-Net-like decoder climbs back to full resolution, with skip connections, to output
    ``"lanes"`` ``(h, w, 1)``: P(pixel is lane marking).

    >>> m = centernet((32, 32, 3), 2, filters=(4, 4, 8, 8))
    >>> [tuple(o.shape) for o in m.outputs]
    [(None, 8, 8, 6), (None, 32, 32, 1)]
    """
    if len(input_shape) != 3 or input_shape[0] % 8 or input_shape[1] % 8:
        raise ValueError(f"input_shape must be (h, w, c) with h, w multiples of 8, got {input_shape}")
    n_classes = positive_int(n_classes, "n_classes")
    if len(filters) != 4:
        raise ValueError(f"filters needs four channel counts (strides 1, 2, 4, 8), got {filters}")
    f1, f2, f4, f8 = (positive_int(f, "filters") for f in filters)
    inputs = keras.Input(tuple(input_shape), name="image")
    s1 = _conv(_conv(inputs, f1, "s1a"), f1, "s1b")
    s2 = _conv(_conv(keras.layers.MaxPooling2D(name="pool1")(s1), f2, "s2a"), f2, "s2b")
    s4 = _conv(_conv(keras.layers.MaxPooling2D(name="pool2")(s2), f4, "s4a"), f4, "s4b")
    s8 = _conv(_conv(keras.layers.MaxPooling2D(name="pool3")(s4), f8, "s8a"), f8, "s8b")
    up = keras.layers.UpSampling2D(name="up4")(s8)
    d4 = _conv(keras.layers.Concatenate(name="cat4")([up, s4]), f4, "d4")
    prior = float(-np.log((1 - 0.01) / 0.01))
    heat = keras.layers.Conv2D(n_classes, 1, activation="sigmoid", name="heatmap",
                               bias_initializer=keras.initializers.Constant(prior))(d4)
    size = keras.layers.Conv2D(2, 1, activation="relu", name="size")(d4)
    offset = keras.layers.Conv2D(2, 1, activation="sigmoid", name="offset")(d4)
    outputs = {"boxes": keras.layers.Concatenate(name="boxes")([heat, size, offset])}
    if lanes:
        d2 = _conv(keras.layers.Concatenate(name="cat2")(
            [keras.layers.UpSampling2D(name="up2")(d4), s2]), f2, "d2")
        d1 = _conv(keras.layers.Concatenate(name="cat1")(
            [keras.layers.UpSampling2D(name="up1")(d2), s1]), f1, "d1")
        outputs["lanes"] = keras.layers.Conv2D(1, 1, activation="sigmoid", name="lanes")(d1)
    return keras.Model(inputs, outputs, name=name)


# --- average precision --------------------------------------------------------------------------


def average_precision(recall: Any, precision: Any) -> float:
    """Area under a precision-recall curve with all-point interpolation (VOC 2010+): each
    precision is replaced by the best precision at any higher recall, and the area is summed
    over the recall steps. ``recall`` must be non-decreasing.

    >>> average_precision([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3])
    0.8333333333333333
    """
    r = np.concatenate([[0.0], np.asarray(recall, float), [1.0]])
    p = np.concatenate([[0.0], np.asarray(precision, float), [0.0]])
    if r.shape != p.shape:
        raise ValueError(f"recall and precision must have the same length, got {len(r) - 2} and {len(p) - 2}")
    if np.any(np.diff(r[:-1]) < 0):
        raise ValueError("recall must be non-decreasing (rank detections by score first)")
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1]) + 1
    return float(np.sum((r[steps] - r[steps - 1]) * p[steps]))


def _check_pairs(detections: Sequence[Detections], gt_boxes: Sequence[Any], gt_labels: Sequence[Any]):
    if not len(detections) == len(gt_boxes) == len(gt_labels):
        raise ValueError(f"need one entry per image: {len(detections)} detections, "
                         f"{len(gt_boxes)} box arrays, {len(gt_labels)} label arrays")


def _match(detections: Sequence[Detections], gt_boxes: Sequence[Any], gt_labels: Sequence[Any],
           cls: int, iou_threshold: float) -> tuple[np.ndarray, np.ndarray, int, list[np.ndarray]]:
    """Scores and true-positive flags of class ``cls`` detections ranked over all images,
    the number of ground-truth boxes, and per image the best score that found each box."""
    rows = []
    for i, (boxes, scores, labels) in enumerate(detections):
        sel = np.asarray(labels) == cls
        for b, s in zip(_boxes(boxes)[sel], np.asarray(scores, float)[sel], strict=True):
            rows.append((s, i, b))
    rows.sort(key=lambda r: -r[0])
    gts = [_boxes(g)[np.asarray(lab) == cls] for g, lab in zip(gt_boxes, gt_labels, strict=True)]
    taken = [np.full(len(g), -np.inf) for g in gts]
    tp = np.zeros(len(rows), bool)
    for k, (s, i, b) in enumerate(rows):
        if not len(gts[i]):
            continue
        overlap = box_iou(b[None], gts[i])[0]
        overlap[np.isfinite(taken[i])] = -1.0           # each box is matched once
        j = int(np.argmax(overlap))
        if overlap[j] >= iou_threshold:
            tp[k], taken[i][j] = True, s
    scores = np.array([r[0] for r in rows], float)
    return scores, tp, sum(len(g) for g in gts), taken


def evaluate(detections: Sequence[Detections], gt_boxes: Sequence[Any], gt_labels: Sequence[Any],
             *, n_classes: int, iou_threshold: float = 0.5) -> dict[str, float]:
    """Average precision per class id (keys ``"0"``, ``"1"``, ...) at ``iou_threshold`` and
    their mean, ``"mAP"``; a class with no ground-truth box gets NaN and is left out of the
    mean. A detection is a true positive when it overlaps a not-yet-matched ground-truth box
    of its class by IoU >= ``iou_threshold``; duplicates count as false positives.

    >>> gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]])]
    >>> det = [(np.array([[0, 0, 10, 10], [0, 0, 10, 9], [40, 40, 50, 50]]),
    ...         np.array([0.9, 0.8, 0.7]), np.array([0, 0, 0]))]
    >>> evaluate(det, gt, [np.array([0, 0])], n_classes=1)
    {'0': 0.5, 'mAP': 0.5}
    """
    _check_pairs(detections, gt_boxes, gt_labels)
    n_classes = positive_int(n_classes, "n_classes")
    result: dict[str, float] = {}
    for c in range(n_classes):
        scores, tp, n_gt, _ = _match(detections, gt_boxes, gt_labels, c, iou_threshold)
        if n_gt == 0:
            result[str(c)] = float("nan")
            continue
        ctp = np.cumsum(tp)
        recall = ctp / n_gt
        precision = ctp / np.arange(1, len(tp) + 1)
        result[str(c)] = average_precision(recall, precision) if len(tp) else 0.0
    aps = [v for v in result.values() if not np.isnan(v)]
    result["mAP"] = float(np.mean(aps)) if aps else float("nan")
    return result


def found(detections: Sequence[Detections], gt_boxes: Sequence[Any], gt_labels: Sequence[Any],
          *, n_classes: int, score_threshold: float, iou_threshold: float = 0.5) -> list[np.ndarray]:
    """Per image, a boolean per ground-truth box: did a detection of its class with score >=
    ``score_threshold`` match it (same greedy matching as :func:`evaluate`)?

    >>> det = [(np.array([[0, 0, 10, 10]]), np.array([0.6]), np.array([0]))]
    >>> found(det, [np.array([[0, 0, 10, 10], [20, 20, 30, 30]])], [np.array([0, 0])],
    ...       n_classes=1, score_threshold=0.5)[0].tolist()
    [True, False]
    """
    _check_pairs(detections, gt_boxes, gt_labels)
    hits = [np.zeros(len(np.asarray(lab).reshape(-1)), bool) for lab in gt_labels]
    for c in range(positive_int(n_classes, "n_classes")):
        _, _, _, taken = _match(detections, gt_boxes, gt_labels, c, iou_threshold)
        for i, t in enumerate(taken):
            hits[i][np.asarray(gt_labels[i]).reshape(-1) == c] = t >= score_threshold
    return hits


# --- the classical baseline ---------------------------------------------------------------------


def _cell_maps(image: np.ndarray, bins: int, cell: int, step: int) -> np.ndarray:
    """Per cell (``cell`` x ``cell`` pixels, every ``step`` pixels): a histogram of gradient
    orientations (unsigned, ``bins`` bins, weighted by magnitude) and the mean colour."""
    grey = image.mean(axis=2)
    gy, gx = np.gradient(grey)
    mag = np.hypot(gx, gy)
    ori = (np.arctan2(gy, gx) % np.pi) / np.pi * bins
    b = np.minimum(ori.astype(int), bins - 1)
    chans = np.zeros(grey.shape + (bins + 3,))
    np.put_along_axis(chans, b[..., None], mag[..., None], axis=2)
    chans[..., bins:] = image
    total = np.pad(chans.cumsum(0).cumsum(1), ((1, 0), (1, 0), (0, 0)))   # integral image
    y0 = np.arange(0, grey.shape[0] - cell + 1, step)
    x0 = np.arange(0, grey.shape[1] - cell + 1, step)
    y1, x1 = y0 + cell, x0 + cell
    boxed = (total[y1][:, x1] - total[y0][:, x1] - total[y1][:, x0] + total[y0][:, x0])
    return boxed / (cell * cell)


@dataclass
class SlidingWindowDetector:
    """HOG-style sliding windows with a logistic regression per class (Dalal & Triggs 2005).

    ``windows`` gives, per class id, the window's width and height in cells of ``cell``
    pixels; windows are scanned every ``step`` pixels on each level of an image pyramid with
    the ``scales`` (image zoom factors). A window's feature vector is its cells' orientation
    histograms (L2-normalised over the window, which removes overall brightness and contrast)
    and mean colours. :meth:`fit` takes windows overlapping a ground-truth box of the class
    by IoU >= ``pos_iou`` as positives and random windows below ``neg_iou`` as negatives,
    fits, then adds the training windows it scores highest among the negatives (hard negative
    mining, ``mining_rounds`` times) and fits again.

    >>> from dlbook.data import roads
    >>> s = roads.render(12, size=64, seed=1)
    >>> det = SlidingWindowDetector(scales=(1.0, 2.0)).fit(s.images, s.boxes, s.labels)
    >>> boxes, scores, labels = det.predict(s.images[:1])[0]
    >>> boxes.shape[1], bool(set(labels.tolist()) <= {0, 1, 2})
    (4, True)
    """

    windows: Sequence[tuple[int, int]] = ((4, 3), (2, 6), (3, 3))
    scales: Sequence[float] = (0.6, 0.9, 1.35, 2.0, 3.0)
    cell: int = 4
    step: int = 2
    bins: int = 9
    pos_iou: float = 0.6
    neg_iou: float = 0.3
    negatives_per_image: int = 40
    mining_rounds: int = 1
    C: float = 0.1
    seed: int = 0
    models_: list = field(default_factory=list, repr=False)

    def _levels(self, image: np.ndarray):
        """The pyramid: per scale, the image resized (bilinear, as two small matrix
        products) and turned into cell maps, with the squared gradient norm per cell last."""
        for f in self.scales:
            h, w = (max(int(round(n * f)), 1) for n in image.shape[:2])
            if min(h, w) < self.cell * 8:
                continue
            ry, rx = _resize_matrix(image.shape[0], h), _resize_matrix(image.shape[1], w)
            planes = np.ascontiguousarray(np.moveaxis(image, 2, 0), dtype=np.float64)
            img = np.moveaxis(ry @ planes @ rx.T, 0, 2)
            maps = _cell_maps(img, self.bins, self.cell, self.step)
            yield f, np.concatenate([maps, np.sum(maps[..., : self.bins] ** 2, -1, keepdims=True)], -1)

    def _grid(self, maps: np.ndarray, f: float, c: int) -> tuple[int, int, np.ndarray]:
        """Rows and columns of class ``c``'s window positions on one level, and their boxes
        ``(ny * nx, 4)`` in image pixels."""
        wc, hc = self.windows[c]
        k = self.cell // self.step                       # map entries per cell
        ny, nx = maps.shape[0] - (hc - 1) * k, maps.shape[1] - (wc - 1) * k
        if ny < 1 or nx < 1:
            return 0, 0, np.zeros((0, 4))
        y0, x0 = np.mgrid[0:ny, 0:nx] * self.step
        boxes = np.stack([x0.ravel(), y0.ravel(), x0.ravel() + wc * self.cell,
                          y0.ravel() + hc * self.cell], axis=1) / f
        return ny, nx, boxes

    def _features(self, maps: np.ndarray, c: int, rows: np.ndarray) -> np.ndarray:
        """Feature vectors ``(m, d)`` of the windows at flat grid positions ``rows``: the
        cells' orientation histograms, L2-normalised over the window, then their colours."""
        wc, hc = self.windows[c]
        k = self.cell // self.step
        nx = maps.shape[1] - (wc - 1) * k
        iy, ix = np.divmod(np.asarray(rows, dtype=np.int64), nx)
        oy, ox = np.mgrid[0:hc, 0:wc] * k
        cells = maps[iy[:, None] + oy.ravel(), ix[:, None] + ox.ravel()]   # (m, cells, F)
        grad = cells[..., : self.bins].reshape(len(rows), hc * wc * self.bins)
        grad = grad / (np.linalg.norm(grad, axis=1, keepdims=True) + 1e-3)
        return np.hstack([grad, cells[..., self.bins:self.bins + 3].reshape(len(rows), hc * wc * 3)])

    def _scores(self, maps: np.ndarray, c: int) -> np.ndarray:
        """The fitted model's decision value at every window position (flat), computed as a
        correlation of the cell maps with the model's weights instead of window by window."""
        scaler, lr = self.models_[c][0], self.models_[c][-1]
        w = lr.coef_[0] / scaler.scale_
        b = lr.intercept_[0] - float(w @ scaler.mean_)
        wc, hc = self.windows[c]
        k = self.cell // self.step
        ny, nx = maps.shape[0] - (hc - 1) * k, maps.shape[1] - (wc - 1) * k
        if ny < 1 or nx < 1:
            return np.zeros(0)
        n_g = hc * wc * self.bins
        wg = w[:n_g].reshape(hc * wc, self.bins)
        wcol = w[n_g:].reshape(hc * wc, 3)
        lin, norm2, col = np.zeros((ny, nx)), np.zeros((ny, nx)), np.zeros((ny, nx))
        for j, (a, bb) in enumerate(np.ndindex(hc, wc)):
            patch = maps[a * k:a * k + ny, bb * k:bb * k + nx]
            lin += patch[..., : self.bins] @ wg[j]
            norm2 += patch[..., -1]
            col += patch[..., self.bins:self.bins + 3] @ wcol[j]
        return (lin / (np.sqrt(norm2) + 1e-3) + col + b).ravel()

    def fit(self, images: Any, boxes: Sequence[Any], labels: Sequence[Any]) -> SlidingWindowDetector:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (n, h, w, 3) RGB, got shape {images.shape}")
        _check_pairs(list(images), boxes, labels)
        rng = np.random.default_rng(self.seed)
        n_cls = len(self.windows)
        pos, neg = [[] for _ in range(n_cls)], [[] for _ in range(n_cls)]

        def windows(img, gb, gl):
            """Per level and class: the cell maps and each window's best IoU with a box."""
            gb, gl = _boxes(gb), np.asarray(gl).reshape(-1)
            for f, maps in self._levels(img):
                for c in range(n_cls):
                    _, _, b = self._grid(maps, f, c)
                    g = gb[gl == c]
                    best = box_iou(b, g).max(axis=1) if len(g) and len(b) else np.zeros(len(b))
                    yield c, maps, best

        for img, gb, gl in zip(images, boxes, labels, strict=True):
            for c, maps, best in windows(img, gb, gl):
                pos[c].append(self._features(maps, c, np.flatnonzero(best >= self.pos_iou)))
                pool = np.flatnonzero(best < self.neg_iou)
                pick = rng.choice(pool, min(max(1, self.negatives_per_image // len(self.scales)), len(pool)), replace=False)
                neg[c].append(self._features(maps, c, pick))
        if any(not sum(map(len, p)) for p in pos):
            raise ValueError(f"some class has no training window overlapping its boxes by IoU >= "
                             f"{self.pos_iou}; add scales or lower pos_iou")
        make = lambda: make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=1000))  # noqa: E731
        self.models_ = [make().fit(*_xy(pos[c], neg[c])) for c in range(n_cls)]
        for _ in range(self.mining_rounds):            # hard negatives: the best-scoring mistakes
            for img, gb, gl in zip(images, boxes, labels, strict=True):
                for c, maps, best in windows(img, gb, gl):
                    pool = np.flatnonzero(best < self.neg_iou)
                    top = pool[np.argsort(-self._scores(maps, c)[pool])[: max(1, self.negatives_per_image // len(self.scales))]]
                    neg[c].append(self._features(maps, c, top))
            self.models_ = [make().fit(*_xy(pos[c], neg[c])) for c in range(n_cls)]
        return self

    def predict(self, images: Any, *, threshold: float = 0.05, iou_threshold: float = 0.3,
                top_k: int = 20) -> list[Detections]:
        """Detections per image: window probabilities above ``threshold``, NMS per class,
        at most ``top_k`` per class."""
        if not self.models_:
            raise ValueError("call fit(images, boxes, labels) before predict")
        out = []
        for img in np.asarray(images):
            per_class = [([], []) for _ in self.windows]
            for f, maps in self._levels(img):
                for c in range(len(self.windows)):
                    _, _, b = self._grid(maps, f, c)
                    p = 1 / (1 + np.exp(-self._scores(maps, c)))
                    sel = np.flatnonzero(p > threshold)
                    sel = sel[np.argsort(-p[sel])[: 10 * top_k]]
                    per_class[c][0].append(b[sel])
                    per_class[c][1].append(p[sel])
            all_b, all_s, all_l = [], [], []
            for c, (bs, ps) in enumerate(per_class):
                b, p = np.vstack(bs), np.concatenate(ps)
                top = np.argsort(-p)[: 10 * top_k]
                b, p = b[top], p[top]
                keep = nms(b, p, iou_threshold=iou_threshold, max_out=top_k)
                all_b.append(b[keep])
                all_s.append(p[keep])
                all_l.append(np.full(len(keep), c))
            out.append((np.vstack(all_b).reshape(-1, 4), np.concatenate(all_s),
                        np.concatenate(all_l).astype(np.int64)))
        return out


def _resize_matrix(n: int, m: int) -> np.ndarray:
    """``(m, n)`` matrix of bilinear (triangle-kernel) weights resizing a length-``n`` axis to
    ``m`` samples, pixel centres aligned."""
    centres = (np.arange(m) + 0.5) * n / m - 0.5
    width = max(n / m, 1.0)                  # widen the kernel when shrinking (anti-aliasing)
    w = np.clip(1 - np.abs(centres[:, None] - np.arange(n)[None, :]) / width, 0, None)
    return w / w.sum(axis=1, keepdims=True)


def _xy(pos: list[np.ndarray], neg: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    xp, xn = np.vstack(pos), np.vstack(neg)
    return np.vstack([xp, xn]), np.r_[np.ones(len(xp)), np.zeros(len(xn))]


# --- pictures -----------------------------------------------------------------------------------


def draw_boxes(ax: Any, boxes: Any, labels: Any, *, scores: Any = None,
               names: Sequence[str] | None = None, colors: Sequence[str] = ("gold", "magenta", "cyan"),
               linestyle: str = "-", fontsize: float = 6) -> Any:
    """Draw boxes on a matplotlib axis showing an image (pixel ``(i, j)`` centred at
    ``(j, i)``, as ``imshow`` places it), labelled with the class name and the score.

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = draw_boxes(ax, [[0, 0, 4, 4]], [0], scores=[0.9], names=["car"])
    >>> len(ax.patches), ax.texts[0].get_text()
    (1, 'car 0.90')
    """
    import matplotlib.patches as patches

    b = _boxes(boxes)
    lab = np.asarray(labels).reshape(-1)
    if len(lab) != len(b):
        raise ValueError(f"need one label per box, got {len(lab)} labels for {len(b)} boxes")
    for k, (x0, y0, x1, y1) in enumerate(b):
        color = colors[int(lab[k]) % len(colors)]
        ax.add_patch(patches.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                       edgecolor=color, linewidth=1.0, linestyle=linestyle))
        text = names[int(lab[k])] if names is not None else str(int(lab[k]))
        if scores is not None:
            text += f" {float(np.asarray(scores)[k]):.2f}"
        ax.text(x0 - 0.5, y0 - 1, text, color=color, fontsize=fontsize, va="bottom")
    return ax
