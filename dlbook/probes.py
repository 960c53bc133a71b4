"""Probes into a network's gradients: finite differences, relative error, per-layer norms.

The backpropagation chapter checks hand-written gradients with :func:`numerical_gradient` and
:func:`relative_error`, and measures vanishing and exploding gradients with
:func:`gradient_norms`; any chapter that writes its own layer or loss can use the same checks.

>>> import numpy as np
>>> w = np.array([1.0, 2.0])
>>> g = numerical_gradient(lambda v: float(np.sum(v ** 3)), w)   # exact: 3 w**2
>>> g.round(6)
array([ 3., 12.])
>>> relative_error(g, 3 * w ** 2) < 1e-9
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

SCHEMES = ("central", "forward")


def _scalar(value: Any, where: str) -> float:
    """``value`` as a Python float, or an error that says what ``f`` must return."""
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"f must return one number (the loss), got {type(value).__name__} with shape "
            f"{array.shape} {where}; reduce it first, e.g. return float(np.mean(losses))"
        )
    result = float(array.reshape(()))
    if not math.isfinite(result):
        raise ValueError(
            f"f returned {result} {where}; the gradient is undefined there: use a smaller eps "
            "or a point where the loss is finite"
        )
    return result


def numerical_gradient(
    f: Callable[[np.ndarray], float],
    w: Any,
    eps: float = 1e-6,
    *,
    scheme: str = "central",
) -> np.ndarray:
    """Estimate the gradient of a scalar function ``f`` at ``w`` by finite differences.

    The ``central`` scheme nudges each coordinate both ways,
    ``(f(w + eps e_i) - f(w - eps e_i)) / (2 eps)``, with error of order ``eps**2``; the
    ``forward`` scheme uses ``(f(w + eps e_i) - f(w)) / eps``, with error of order ``eps``.
    Smaller is not always better: below about ``1e-6`` (float64) round-off in ``f`` grows like
    ``1e-16 / eps``. Each call costs ``2 * w.size`` evaluations of ``f`` (``w.size + 1`` for
    ``forward``), so use it to *check* a gradient on a small model, never to train one.

    ``f`` receives a float64 array of ``w``'s shape and must return one finite number; ``w``
    itself is never modified. The result has ``w``'s shape and dtype float64.

    >>> import numpy as np
    >>> numerical_gradient(lambda v: float(np.sum(v ** 2)), np.array([[1.0, -2.0]])).round(6)
    array([[ 2., -4.]])
    >>> numerical_gradient(np.sin, np.array([0.0]), 1e-4, scheme="forward").round(6)
    array([1.])
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
        raise ValueError(f"eps must be a positive number such as 1e-6, got {eps!r}")
    w0 = np.asarray(w)
    if w0.size == 0 or not np.issubdtype(w0.dtype, np.number):
        raise ValueError(
            f"w must be a non-empty array of numbers (the parameters), got dtype {w0.dtype} "
            f"and shape {w0.shape}"
        )
    point = w0.astype("float64", copy=True)
    flat = point.reshape(-1)  # a view: nudging it nudges `point`
    grad = np.empty_like(flat)
    base = _scalar(f(point.copy()), "at w") if scheme == "forward" else None
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = _scalar(f(point.copy()), f"at w + eps in coordinate {i}")
        if scheme == "central":
            flat[i] = saved - eps
            down = _scalar(f(point.copy()), f"at w - eps in coordinate {i}")
            grad[i] = (up - down) / (2 * eps)
        else:
            grad[i] = (up - base) / eps
        flat[i] = saved
    return grad.reshape(w0.shape)


def relative_error(a: Any, b: Any) -> float:
    """``||a - b|| / (||a|| + ||b||)``: how far two gradients disagree, whatever their scale.

    0 means identical and 1 means unrelated (or opposite). With float64, a correct analytic
    gradient and a central-difference estimate typically agree to ``1e-7`` or better; float32
    round-off alone leaves about ``1e-6``. Two all-zero arrays agree perfectly (0.0).

    >>> relative_error([1.0, 2.0], [1.0, 2.0])
    0.0
    >>> round(relative_error([1.0, 0.0], [0.0, 1.0]), 3)
    0.707
    """
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {a.shape} and {b.shape}; compare the "
            "gradient of one parameter array at a time, or flatten and concatenate both"
        )
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("a and b must be finite; a NaN or inf gradient is already a failed check")
    scale = float(np.linalg.norm(a) + np.linalg.norm(b))
    return 0.0 if scale == 0.0 else float(np.linalg.norm(a - b)) / scale


def gradient_norms(
    model: Any,
    x: Any,
    y: Any,
    loss: Any,
    *,
    training: bool = False,
) -> dict[str, float]:
    """The L2 norm of the loss gradient with respect to each layer's kernel, input side first.

    Runs one forward and backward pass on the batch ``(x, y)`` with ``tf.GradientTape`` and
    returns ``{layer name: ||dL/dW||}`` for every top-level layer that has a ``kernel``
    (``Dense``, ``Conv2D`` …; biases, and layers without weights such as ``Flatten`` or
    ``Dropout``, are left out). ``loss`` is a Keras loss name (``"sparse_categorical_crossentropy"``),
    a Keras loss object, or a function ``loss(y_true, y_pred)``; per-sample losses are averaged.
    Plotted against depth on a log scale, the norms show gradients vanishing (falling towards
    the input) or exploding (rising towards it). The model is not changed.

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
    ...                           keras.layers.Dense(1, name="out")])
    >>> norms = gradient_norms(model, np.ones((8, 4)), np.zeros((8, 1)), "mse")
    >>> list(norms)[-1], all(v >= 0 for v in norms.values())
    ('out', True)
    """
    from dlbook.config import import_keras

    keras = import_keras()
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            f"gradient_norms uses tf.GradientTape; the Keras backend here is "
            f"{keras.backend.backend()!r}: set KERAS_BACKEND=tensorflow before importing keras"
        )
    import tensorflow as tf

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    x = np.asarray(x) if not tf.is_tensor(x) else x
    if not model.built:
        model(x[:1])
    layers = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]
    if not layers:
        raise ValueError(
            f"model {model.name!r} has no layer with a kernel (Dense, Conv…); gradient_norms "
            "measures those, so build the model from such layers or pass the inner model"
        )
    loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    if not callable(loss_fn):
        raise TypeError(f"loss must be a Keras loss name, a Keras loss or a function, got {loss!r}")
    kernels = [layer.kernel for layer in layers]
    with tf.GradientTape() as tape:
        y_pred = model(x, training=training)
        value = keras.ops.mean(loss_fn(y, y_pred))
    grads = tape.gradient(value, kernels)
    missing = [layer.name for layer, g in zip(layers, grads, strict=True) if g is None]
    if missing:
        raise ValueError(
            f"the loss does not depend on the kernels of {missing}; check that the model's "
            "output is computed from them (a layer outside the forward path has no gradient)"
        )
    return {
        layer.name: float(tf.norm(g)) for layer, g in zip(layers, grads, strict=True)
    }
