"""Explaining a classifier's decisions: gradient attributions for images, their sanity checks
and a faithfulness test (Part VIII, "Opening the black box").

- :func:`gradients`, :func:`saliency`, :func:`smoothgrad` — the gradient of one class score
  with respect to the input (Simonyan et al. 2014), and its average over noisy copies of the
  input (SmoothGrad, Smilkov et al. 2017).
- :func:`integrated_gradients` — Sundararajan et al. (2017): the gradient averaged along the
  straight path from a baseline to the input, times the difference. Its attributions add up
  to ``score(x) - score(baseline)`` (*completeness*); :func:`completeness_gap` measures how
  close a finite number of steps gets.
- :func:`grad_cam` — Selvaraju et al. (2017): the feature maps of one convolution, weighted by
  the average gradient of the class score over each map, rectified and scaled to the input.
- :func:`randomized_copy`, :func:`cascading_randomization`, :func:`rank_correlation` — the
  sanity check of Adebayo et al. (2018): re-initialise the layers from the top down and see
  whether the explanations change. A method whose maps survive a randomised network explains
  the image, not the model.
- :func:`perturbation_curve`, :func:`curve_area` — deletion and insertion (Petsiuk et al.
  2018): remove (or reveal) the most-attributed pixels first and follow the class
  probability; a faithful map makes it fall (or rise) faster than a random order does.
- :func:`feature_deletion`, :func:`token_occlusion` — the same test for tables (replace the
  most-attributed columns by background values, e.g. for SHAP) and leave-one-token-out
  occlusion for text models (a reference for LIME and attention).

Scores are the class *logits* by default: for a model whose last layer is a ``Dense`` with a
softmax, the softmax is skipped, so a saturated probability does not hide the gradient.
Gradients are taken eagerly with ``tf.GradientTape`` (no tracing per model or shape, which
keeps a randomisation cascade cheap); the TensorFlow backend is required.

>>> keras.utils.set_random_seed(0)
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
>>> x = np.array([[1.0, 2.0, -1.0]], "float32")
>>> ig = integrated_gradients(model, x, target=1, steps=8)
>>> w, b = model.layers[-1].get_weights()      # a linear score: IG = (x - 0) * weight exactly
>>> bool(np.allclose(ig[0], x[0] * w[:, 1], atol=1e-5))
True
>>> float(completeness_gap(model, x, ig, target=1)[0]) < 1e-5
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras

keras = import_keras()

__all__ = [
    "cascading_randomization",
    "class_scores",
    "completeness_gap",
    "curve_area",
    "feature_deletion",
    "grad_cam",
    "gradients",
    "integrated_gradients",
    "perturbation_curve",
    "randomized_copy",
    "rank_correlation",
    "saliency",
    "smoothgrad",
    "token_occlusion",
    "weighted_layers",
]

AttributionMethod = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]
"""``method(model, x, target) -> maps (n, h, w)``: what :func:`cascading_randomization` runs."""


# --- inputs -------------------------------------------------------------------------------------


def _tf():
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            "dlbook.explain differentiates with tf.GradientTape and needs the TensorFlow "
            f"backend; set KERAS_BACKEND=tensorflow (now {keras.backend.backend()!r})")
    import tensorflow as tf
    return tf


def _batch(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch shaped (n, ...), got shape {x.shape}; "
                         "a single image needs x[None]")
    if not np.isfinite(x).all():
        raise ValueError("x holds NaN or infinite values")
    return x


def _targets(target: Any, n: int, n_classes: int) -> np.ndarray:
    t = np.asarray(target)
    if t.ndim == 0:
        t = np.full(n, t)
    if t.shape != (n,) or t.dtype.kind not in "iu":
        raise ValueError(f"target must be one class index or one per example ({n}), got "
                         f"{np.asarray(target)!r}; pass e.g. model.predict(x).argmax(1)")
    if t.min() < 0 or t.max() >= n_classes:
        raise ValueError(f"target must lie in [0, {n_classes}), got {t.min()} to {t.max()}")
    return t.astype("int64")


def _baseline(baseline: Any, x: np.ndarray) -> np.ndarray:
    if baseline is None:
        return np.zeros_like(x)
    b = np.broadcast_to(np.asarray(baseline, dtype="float32"), x.shape)
    return np.array(b)


def _maps(a: np.ndarray, n: int | None = None) -> np.ndarray:
    """(n, h, w) from an attribution of the input's shape: channels summed away."""
    a = np.asarray(a, dtype="float64")
    if a.ndim == 4:
        a = a.sum(axis=-1)
    if a.ndim != 3 or (n is not None and len(a) != n):
        raise ValueError(f"maps must be shaped (n, h, w) or (n, h, w, channels), got {a.shape}")
    return a


# --- scores and gradients -----------------------------------------------------------------------


def _inputs(model: Any) -> Any:
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _split_softmax(model: Any, logits: bool) -> tuple[Any, Any]:
    """(body, head): body(x) gives the last layer's input when that layer is a softmax Dense
    and ``logits`` is set; otherwise the model itself and no head."""
    last = model.layers[-1]
    is_softmax = (isinstance(last, keras.layers.Dense)
                  and getattr(last.activation, "__name__", "") == "softmax")
    if logits and is_softmax:
        return keras.Model(_inputs(model), last.input), last
    return model, None


def _score_fn(model: Any, logits: bool, extra: Any = None):
    body, head = _split_softmax(model, logits)
    if extra is not None:  # also return a named layer's output (Grad-CAM)
        body = keras.Model(_inputs(model), [model.get_layer(extra).output, body.outputs[0]])

    def scores(x, training=False):
        out = body(x, training=training)
        feats, h = out if extra is not None else (None, out)
        if head is not None:
            h = keras.ops.matmul(h, head.kernel) + head.bias
        return (feats, h) if extra is not None else h

    return scores


def class_scores(model: Any, x: Any, *, logits: bool = True, batch_size: int = 256) -> np.ndarray:
    """The class scores ``(n, classes)`` that the attributions explain: logits when the model
    ends in a softmax ``Dense`` and ``logits`` is True, else the model's outputs.

    >>> keras.utils.set_random_seed(0)
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    >>> z = class_scores(m, np.ones((1, 2)))
    >>> bool(np.allclose(keras.ops.softmax(z), m.predict(np.ones((1, 2)), verbose=0)))
    True
    """
    x = _batch(x)
    fn = _score_fn(model, logits)
    return np.concatenate([np.asarray(fn(x[i:i + batch_size]))
                           for i in range(0, len(x), positive_int(batch_size, "batch_size"))])


def gradients(model: Any, x: Any, target: Any, *, logits: bool = True,
              batch_size: int = 256) -> np.ndarray:
    """d score[target] / d x, the input's shape: how the class score moves per unit of each
    input value, at ``x``.

    >>> keras.utils.set_random_seed(0)
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> g = gradients(m, np.zeros((1, 2)), target=0)
    >>> bool(np.allclose(g[0], m.layers[0].kernel.numpy()[:, 0]))
    True
    """
    tf = _tf()
    x = _batch(x)
    fn = _score_fn(model, logits)
    n_classes = int(model.output_shape[-1])
    t = _targets(target, len(x), n_classes)
    out = []
    for i in range(0, len(x), positive_int(batch_size, "batch_size")):
        xb = tf.convert_to_tensor(x[i:i + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(xb)
            picked = tf.gather(fn(xb), t[i:i + batch_size], axis=1, batch_dims=1)
        out.append(tape.gradient(picked, xb).numpy())
    return np.concatenate(out)


def saliency(model: Any, x: Any, target: Any, *, logits: bool = True) -> np.ndarray:
    """Vanilla gradient saliency (Simonyan et al. 2014): ``|gradient|``, the largest over
    channels, one ``(h, w)`` map per example."""
    g = np.abs(gradients(model, x, target, logits=logits))
    return g.max(axis=-1) if g.ndim == 4 else g


def smoothgrad(model: Any, x: Any, target: Any, *, samples: int = 16, noise: float = 0.15,
               seed: int = 0, logits: bool = True) -> np.ndarray:
    """SmoothGrad (Smilkov et al. 2017): the mean absolute gradient over ``samples`` copies of
    each input with Gaussian noise of standard deviation ``noise`` times the input's range."""
    samples = positive_int(samples, "samples")
    noise = positive_number(noise, "noise", hint="a fraction of the input range, e.g. 0.15")
    x = _batch(x)
    rng = np.random.default_rng(seed)
    spread = (x.max() - x.min()) or 1.0
    noisy = np.repeat(x, samples, axis=0)
    noisy += rng.normal(0, noise * spread, noisy.shape).astype("float32")
    t = np.repeat(_targets(target, len(x), int(model.output_shape[-1])), samples)
    g = np.abs(gradients(model, noisy, t, logits=logits))
    g = g.max(axis=-1) if g.ndim == 4 else g
    return g.reshape(len(x), samples, *g.shape[1:]).mean(axis=1)


def integrated_gradients(model: Any, x: Any, target: Any, *, baseline: Any = None,
                         steps: int = 32, logits: bool = True) -> np.ndarray:
    """Integrated gradients (Sundararajan et al. 2017), the input's shape:
    ``(x - x') * mean of the gradient on the straight path from x' to x``, integrated with the
    trapezoid rule over ``steps`` intervals. ``baseline`` x' is black (zeros) unless given.
    """
    steps = positive_int(steps, "steps")
    x = _batch(x)
    base = _baseline(baseline, x)
    t = _targets(target, len(x), int(model.output_shape[-1]))
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype="float32")
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] /= 2                                   # trapezoid rule
    shape = (1, -1) + (1,) * (x.ndim - 1)
    path = base[:, None] + alphas.reshape(shape) * (x - base)[:, None]
    g = gradients(model, path.reshape(-1, *x.shape[1:]), np.repeat(t, steps + 1),
                  logits=logits).reshape(path.shape)
    avg = np.tensordot(g, weights, axes=([1], [0]))
    return (x - base) * avg


def completeness_gap(model: Any, x: Any, attributions: Any, target: Any, *,
                     baseline: Any = None, logits: bool = True) -> np.ndarray:
    """Per example, ``|sum(attributions) - (score(x) - score(baseline))|`` relative to
    ``|score(x) - score(baseline)|``: 0 for exact integrated gradients."""
    x = _batch(x)
    a = np.asarray(attributions, dtype="float64")
    if a.shape != x.shape:
        raise ValueError(f"attributions must have the input's shape {x.shape}, got {a.shape}")
    t = _targets(target, len(x), int(model.output_shape[-1]))
    rows = np.arange(len(x))
    delta = (class_scores(model, x, logits=logits)[rows, t]
             - class_scores(model, _baseline(baseline, x), logits=logits)[rows, t])
    total = a.reshape(len(x), -1).sum(axis=1)
    return np.abs(total - delta) / np.maximum(np.abs(delta), 1e-12)


def grad_cam(model: Any, x: Any, target: Any, *, layer: str, weighting: str = "mean",
             logits: bool = True) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) for the convolution ``layer``: each of its feature maps
    weighted by the mean gradient of the class score over that map, summed, rectified and
    resized (bilinear) to the input's height and width. Returns ``(n, h, w)``, not normalised.

    ``weighting="elementwise"`` multiplies each feature map by its gradient position by
    position before the sum (HiResCAM, Draelos and Carin 2020). The mean is exact only when the
    network averages its last feature maps (global average pooling, as CAM assumed); after a
    ``Flatten`` and a ``Dense`` layer each position has its own weights, the averaged weights
    can cancel, and the rectified map is often empty.
    """
    if weighting not in ("mean", "elementwise"):
        raise ValueError(f"weighting must be 'mean' (Grad-CAM) or 'elementwise' (HiResCAM), "
                         f"got {weighting!r}")
    tf = _tf()
    x = _batch(x)
    try:
        model.get_layer(layer)
    except ValueError:
        names = [lay.name for lay in model.layers if len(lay.output.shape) == 4]
        raise ValueError(f"no layer {layer!r} in {model.name}; layers with feature maps: "
                         f"{names}") from None
    fn = _score_fn(model, logits, extra=layer)
    t = _targets(target, len(x), int(model.output_shape[-1]))
    xb = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        feats, scores = fn(xb)
        picked = tf.gather(scores, t, axis=1, batch_dims=1)
    grads = tape.gradient(picked, feats)
    if len(feats.shape) != 4:
        raise ValueError(f"layer {layer!r} outputs shape {tuple(feats.shape)}; Grad-CAM needs "
                         "a layer with (height, width, channels) feature maps")
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True) if weighting == "mean" else grads
    cam = tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1, keepdims=True))
    return tf.image.resize(cam, x.shape[1:3], method="bilinear").numpy()[..., 0]


# --- sanity check: randomise the weights --------------------------------------------------------


def weighted_layers(model: Any) -> list[str]:
    """Names of the layers that hold weights, from the output down to the input: the order
    in which :func:`cascading_randomization` re-initialises them."""
    return [lay.name for lay in reversed(model.layers) if lay.weights]


def randomized_copy(model: Any, layers: Sequence[str], *, seed: int = 0) -> Any:
    """A copy of ``model`` whose ``layers`` are re-initialised with their own initialisers
    (as before training); every other weight is the trained one. ``model`` is unchanged.

    >>> keras.utils.set_random_seed(0)
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(2, name="b")])
    >>> r = randomized_copy(m, ["b"], seed=1)
    >>> bool(np.array_equal(r.get_layer("a").kernel, m.get_layer("a").kernel))
    True
    >>> bool(np.array_equal(r.get_layer("b").kernel, m.get_layer("b").kernel))
    False
    """
    known = {lay.name for lay in model.layers}
    unknown = [name for name in layers if name not in known]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; layers with weights, top first: "
                         f"{weighted_layers(model)}")
    keras.utils.set_random_seed(seed)
    fresh = keras.models.clone_model(model)          # new layers, freshly initialised
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for name in layers:
        copy.get_layer(name).set_weights(fresh.get_layer(name).get_weights())
    return copy


def rank_correlation(a: Any, b: Any, *, absolute: bool = True) -> np.ndarray:
    """Spearman rank correlation of two stacks of maps, one value per pair of maps (of the
    absolute values by default, since a sign flip still points at the same pixels). A
    constant map has no ranking: its correlation is NaN. Maps with a channel axis
    ``(n, h, w, c)`` are summed over it first.

    >>> m = np.arange(8.0).reshape(2, 2, 2)
    >>> rank_correlation(m, m ** 2).tolist(), rank_correlation(m, -m, absolute=False).tolist()
    ([1.0, 1.0], [-1.0, -1.0])
    """
    from scipy.stats import rankdata

    a, b = (np.asarray(m, dtype="float64") for m in (a, b))
    a, b = (m.sum(axis=-1) if m.ndim == 4 else m for m in (a, b))   # channels summed
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"the two stacks of maps must have one shape (n, ...), got {a.shape} "
                         f"and {b.shape}")
    if absolute:
        a, b = np.abs(a), np.abs(b)
    ra = rankdata(a.reshape(len(a), -1), axis=1)
    rb = rankdata(b.reshape(len(b), -1), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(1) / denom, np.nan)


def _nanmean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def cascading_randomization(model: Any, x: Any, target: Any,
                            methods: Mapping[str, AttributionMethod], *,
                            layers: Sequence[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Adebayo et al.'s (2018) cascade: re-initialise ``layers`` (default: every layer with
    weights, top first) one more at a time, recompute every method's maps for the same ``x``
    and ``target`` and compare them with the trained model's maps. Returns the mean rank
    correlation, one row per stage (``"trained"``, then ``"up to <layer>"``), one column per
    method. The trained row is 1 by construction; a method that still scores high after all
    layers are random does not depend on what the model learned.
    """
    if not methods:
        raise ValueError("methods is empty: pass {name: fn(model, x, target) -> maps}")
    x = _batch(x)
    layers = list(weighted_layers(model) if layers is None else layers)
    reference = {name: _maps(fn(model, x, target), len(x)) for name, fn in methods.items()}
    rows = {"trained": {name: 1.0 for name in methods}}
    for k in range(1, len(layers) + 1):
        copy = randomized_copy(model, layers[:k], seed=seed)
        rows[f"up to {layers[k - 1]}"] = {
            name: _nanmean(rank_correlation(reference[name], _maps(fn(copy, x, target), len(x))))
            for name, fn in methods.items()}
    table = pd.DataFrame(rows).T
    table.index.name = "randomised"
    return table


# --- faithfulness: delete or insert the most-attributed pixels first ----------------------------


def perturbation_curve(model: Any, x: Any, target: Any, maps: Any, *,
                       fractions: Sequence[float] = (0, 0.05, 0.1, 0.2, 0.3, 0.5),
                       mode: str = "deletion", fill: float = 0.0) -> np.ndarray:
    """The model's probability of ``target``, ``(len(fractions), n)``, after the top
    ``fraction`` of each example's pixels by ``maps`` are set to ``fill`` (``"deletion"``), or
    when only they are kept and the rest is ``fill`` (``"insertion"``). Ties are broken in
    pixel order; pass random maps for the random-order reference.

    >>> keras.utils.set_random_seed(0)
    >>> m = keras.Sequential([keras.Input((2, 2)), keras.layers.Flatten(),
    ...                       keras.layers.Dense(2, activation="softmax")])
    >>> x = np.ones((1, 2, 2), "float32")
    >>> curve = perturbation_curve(m, x, 0, np.ones((1, 2, 2)), fractions=(0, 1))
    >>> curve.shape, bool(np.isclose(curve[1, 0], 0.5))   # all pixels gone: logits 0
    ((2, 1), True)
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    x = _batch(x)
    m = _maps(maps, len(x))
    if m.shape[1:] != x.shape[1:3]:
        raise ValueError(f"maps {m.shape[1:]} must match the inputs' height and width "
                         f"{x.shape[1:3]}")
    fr = np.asarray(fractions, dtype="float64")
    if fr.ndim != 1 or not len(fr) or fr.min() < 0 or fr.max() > 1:
        raise ValueError(f"fractions must be a list of numbers in [0, 1], got {fractions!r}")
    t = _targets(target, len(x), int(model.output_shape[-1]))
    n_pix = m[0].size
    order = np.argsort(-m.reshape(len(x), -1), axis=1, kind="stable")   # most attributed first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_pix)[None].repeat(len(x), 0), axis=1)
    batches = []
    for f in fr:
        top = (rank < round(f * n_pix)).reshape(m.shape)
        keep = ~top if mode == "deletion" else top
        keep = keep.reshape(keep.shape + (1,) * (x.ndim - 3))
        batches.append(np.where(keep, x, np.float32(fill)))
    probs = model.predict(np.concatenate(batches), verbose=0, batch_size=512)
    return probs[np.arange(len(probs)), np.tile(t, len(fr))].reshape(len(fr), len(x))


def curve_area(fractions: Sequence[float], curve: Any) -> float:
    """Area under a mean perturbation curve over ``fractions`` (trapezoid rule), divided by
    the fraction range: the average probability along the curve. Lower is better for
    deletion, higher for insertion.

    >>> curve_area([0, 0.5, 1], np.array([[1.0], [0.5], [0.0]]))
    0.5
    """
    fr = np.asarray(fractions, dtype="float64")
    c = np.asarray(curve, dtype="float64")
    c = c.mean(axis=1) if c.ndim == 2 else c
    if c.shape != fr.shape or len(fr) < 2:
        raise ValueError(f"curve needs one value (or row) per fraction ({len(fr)}, at least 2), "
                         f"got shape {np.shape(curve)}")
    return float(np.trapezoid(c, fr) / (fr[-1] - fr[0]))


# --- features and tokens ------------------------------------------------------------------------


def feature_deletion(predict: Callable[[np.ndarray], np.ndarray], x: Any, attributions: Any,
                     background: Any, *, k: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """How much a tabular model's prediction moves when each row's ``k`` most attributed
    features (by ``|attribution|``) are replaced by the values of every ``background`` row,
    against ``k`` features chosen at random. ``predict`` maps rows ``(n, d)`` to one number
    each. Returns two arrays ``(n,)`` of ``|f(x) - mean f(x with features replaced)|``: the
    top-``k`` effect and the random effect. A faithful explanation moves it more.

    >>> f = lambda z: z @ np.array([3.0, 0.0, 0.0])     # only feature 0 matters
    >>> x = np.ones((2, 3)); att = np.array([[3.0, 0, 0], [3.0, 0, 0]])
    >>> top, rand = feature_deletion(f, x, att, np.zeros((4, 3)), k=1)
    >>> top.tolist()
    [3.0, 3.0]
    """
    x = np.asarray(x, dtype="float64")
    a = np.asarray(attributions, dtype="float64")
    bg = np.asarray(background, dtype="float64")
    if x.ndim != 2 or a.shape != x.shape or bg.ndim != 2 or bg.shape[1] != x.shape[1]:
        raise ValueError(f"x and attributions must be (n, features) alike and background "
                         f"(m, features); got {x.shape}, {a.shape} and {bg.shape}")
    k = positive_int(k, "k")
    if k > x.shape[1]:
        raise ValueError(f"k={k} is more than the {x.shape[1]} features")
    rng = np.random.default_rng(seed)
    base = np.asarray(predict(x), dtype="float64").reshape(len(x))
    effects = []
    for orders in (np.argsort(-np.abs(a), axis=1),
                   np.array([rng.permutation(x.shape[1]) for _ in x])):
        rows = np.repeat(x, len(bg), axis=0)
        for i, order in enumerate(orders):
            cols = order[:k]
            rows[i * len(bg):(i + 1) * len(bg), cols] = bg[:, cols]
        moved = np.asarray(predict(rows), dtype="float64").reshape(len(x), len(bg)).mean(1)
        effects.append(np.abs(base - moved))
    return effects[0], effects[1]


def token_occlusion(predict: Callable[[np.ndarray], np.ndarray], ids: Any, target: Any, *,
                    pad_id: int = 0) -> list[np.ndarray]:
    """Leave-one-token-out: for each row of token ``ids`` and each real (non-padding) token,
    the drop in the probability of ``target`` when that token is removed (the rest shift
    left). ``predict`` maps an id matrix to class probabilities. One array per row, one value
    per real token, in order.

    >>> predict = lambda ids: np.stack([1 - (ids == 7).any(1), (ids == 7).any(1)], 1) * 1.0
    >>> [d.tolist() for d in token_occlusion(predict, np.array([[5, 7, 9, 0]]), 1)]
    [[0.0, 1.0, 0.0]]
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"ids must be an integer matrix (texts, positions), got {ids.shape} "
                         f"{ids.dtype}; encode texts first")
    t = np.asarray(target)
    t = np.full(len(ids), t) if t.ndim == 0 else t
    variants, owners = [ids], []
    for r, row in enumerate(ids):
        real = np.flatnonzero(row != pad_id)
        for i in real:
            kept = np.delete(row, i)
            variants.append(np.append(kept, pad_id)[None])
            owners.append(r)
    probs = np.asarray(predict(np.concatenate(variants)))
    full = probs[np.arange(len(ids)), t]
    owners = np.array(owners, dtype=int)
    dropped = full[owners] - probs[len(ids) + np.arange(len(owners)), t[owners]]
    return [dropped[owners == r] for r in range(len(ids))]
