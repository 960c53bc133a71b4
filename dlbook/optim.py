"""Optimisation you can watch: classic 2-D test functions, real Keras optimisers run on them
step by step, and how long a run takes to reach a target loss.

The test functions are plain arithmetic, so the same function works element-wise on NumPy grids
(to draw it with :func:`dlbook.plot.loss_surface`) and on tensors (to differentiate it).

>>> import keras
>>> path = descend(valley, (-9.0, 2.0), keras.optimizers.SGD(0.01, momentum=0.9), steps=200)
>>> path.shape
(201, 2)
>>> losses = losses_along(valley, path)
>>> steps_to_target(losses, target=1e-3) < 100
True

Importing this module imports Keras (quietly, through :func:`dlbook.config.import_keras`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.config import import_keras

keras = import_keras()

Fn2D = Callable[[Any, Any], Any]
"""A function of two parameters ``fn(w1, w2)``, element-wise on arrays or tensors."""


# --- test functions -----------------------------------------------------------------------------


def valley(w1, w2, *, condition: float = 50.0, angle: float = 0.0):
    """An ill-conditioned quadratic bowl: a long, narrow valley with its minimum 0 at (0, 0).

    ``0.5 * (u**2 + condition * v**2)`` where ``(u, v)`` are ``(w1, w2)`` rotated by ``angle``
    degrees. The curvature is 1 along the valley and ``condition`` across it, so plain gradient
    descent must take steps small enough for the steep direction and then crawls along the flat
    one. With ``angle=0`` the valley lies along the ``w1`` axis, where per-parameter step sizes
    (RMSProp, Adam) undo the bad conditioning; a rotated valley mixes the two parameters.

    >>> float(valley(1.0, 1.0))
    25.5
    >>> round(float(valley(1.0, 0.0, angle=90)), 6)
    25.0
    """
    if not condition >= 1.0:
        raise ValueError(f"condition must be >= 1 (the ratio of curvatures), got {condition!r}")
    if angle:
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        w1, w2 = c * w1 + s * w2, -s * w1 + c * w2
    return 0.5 * (w1 * w1 + condition * w2 * w2)


def rosenbrock(w1, w2, *, a: float = 1.0, b: float = 100.0):
    """Rosenbrock's banana function, minimum 0 at ``(a, a**2)``: a curved, flat-bottomed valley
    (Rosenbrock, 1960).

    >>> float(rosenbrock(1.0, 1.0)), float(rosenbrock(0.0, 0.0))
    (0.0, 1.0)
    """
    return (a - w1) ** 2 + b * (w2 - w1 * w1) ** 2


def beale(w1, w2):
    """Beale's function, minimum 0 at (3, 0.5): flat plateaus and steep walls (Beale, 1958).

    >>> float(beale(3.0, 0.5))
    0.0
    """
    return (
        (1.5 - w1 + w1 * w2) ** 2
        + (2.25 - w1 + w1 * w2 * w2) ** 2
        + (2.625 - w1 + w1 * w2 * w2 * w2) ** 2
    )


@dataclass(frozen=True)
class Surface:
    """A 2-D test function with its minimum, a window to draw it in and a starting point.

    >>> VALLEY(0.0, 0.0) == 0.0
    True
    >>> fig = ROSENBROCK.plot(resolution=40)
    >>> fig.axes[0].get_title()
    'Rosenbrock function'
    """

    name: str
    fn: Fn2D
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]

    def __call__(self, w1, w2):
        return self.fn(w1, w2)

    def plot(self, paths: Mapping[str, np.ndarray] | None = None, **kwargs):
        """Draw the surface with :func:`dlbook.plot.loss_surface` (keywords pass through)."""
        from dlbook import plot

        kwargs.setdefault("title", self.name)
        return plot.loss_surface(
            self.fn, xlim=self.xlim, ylim=self.ylim, paths=paths, minimum=self.minimum, **kwargs
        )


VALLEY = Surface(
    "Ill-conditioned valley", valley, (0.0, 0.0), (-10.0, 10.0), (-3.0, 3.0), (-9.0, 2.0)
)
"""``valley`` with condition 50 along the ``w1`` axis, started high on one side."""


def _rotated(point: tuple[float, float], angle: float) -> tuple[float, float]:
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return (c * point[0] - s * point[1], s * point[0] + c * point[1])


def rotated_valley(w1, w2):
    """:func:`valley` turned by 45°, so that its floor runs along the diagonal ``w1 = w2``.

    >>> round(float(rotated_valley(1.0, 1.0)), 6)
    1.0
    """
    return valley(w1, w2, angle=45.0)


ROTATED_VALLEY = Surface(
    "Valley turned by 45°", rotated_valley, (0.0, 0.0), (-9.0, 9.0), (-9.0, 9.0),
    _rotated(VALLEY.start, 45.0),
)
"""The same valley turned by 45° and started at the same point turned with it: SGD and
momentum take exactly the same steps on both; per-parameter methods do not."""

ROSENBROCK = Surface(
    "Rosenbrock function", rosenbrock, (1.0, 1.0), (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5)
)
BEALE = Surface("Beale function", beale, (3.0, 0.5), (-4.5, 4.5), (-4.5, 4.5), (-1.0, 1.5))


# --- running a Keras optimiser ------------------------------------------------------------------


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            "optimizer must be a Keras optimiser instance, e.g. keras.optimizers.SGD(0.1), "
            f"got {type(optimizer).__name__}"
        )
    if int(optimizer.iterations.numpy()) > 0:
        raise ValueError(
            "this optimiser has already taken steps and keeps their state (momentum, averages); "
            "pass a fresh one, e.g. keras.optimizers.Adam(0.1)"
        )


def _check_steps(steps: Any) -> int:
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    return int(steps)


def _start_vector(start: Sequence[float], size: int | None = 2) -> np.ndarray:
    point = np.asarray(start, dtype="float32")
    if point.ndim != 1 or (size is not None and point.shape[0] != size):
        want = f"{size} numbers, e.g. (-1.5, 2.0)" if size else "a 1-D vector"
        raise ValueError(f"start must be {want}, got shape {point.shape}")
    if not np.all(np.isfinite(point)):
        raise ValueError(f"start must be finite, got {start!r}")
    return point


def _require_tensorflow(what: str) -> None:
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            f"{what} differentiates with tf.GradientTape and needs the TensorFlow backend; "
            f"set KERAS_BACKEND=tensorflow (the backend now is {keras.backend.backend()!r})"
        )


def descend(fn: Fn2D, start: Sequence[float], optimizer: Any, steps: int) -> np.ndarray:
    """Minimise ``fn(w1, w2)`` from ``start`` with a real Keras optimiser; return the path.

    The two parameters live in one ``keras.Variable``; each step computes the gradient with
    ``tf.GradientTape`` and calls ``optimizer.apply_gradients``, exactly as ``model.fit`` does
    for a network's weights. The result has shape ``(steps + 1, 2)``: the start, then the
    parameters after every step. A run that diverges keeps going (its path fills with inf/nan).

    >>> import keras
    >>> path = descend(valley, (-9.0, 2.0), keras.optimizers.SGD(0.03), steps=300)
    >>> path[0].tolist(), bool(abs(path[-1]).max() < 0.01)
    ([-9.0, 2.0], True)
    """
    _check_optimizer(optimizer)
    steps = _check_steps(steps)
    point = _start_vector(start)
    _require_tensorflow("descend")
    import tensorflow as tf

    w = keras.Variable(point, name="w")
    optimizer.build([w])

    @tf.function
    def run():  # the whole loop runs as one TensorFlow graph: no Python between steps
        path = tf.TensorArray(w.dtype, size=steps)
        for i in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = fn(w[0], w[1])
            optimizer.apply_gradients([(tape.gradient(loss, w), w)])
            path = path.write(i, w.value)
        return path.stack()

    logger = tf.get_logger()  # a new graph per call is the point here: no retracing warning
    level = logger.level
    logger.setLevel("ERROR")
    try:
        after = np.asarray(run().numpy(), dtype="float64")
    finally:
        logger.setLevel(level)
    return np.concatenate([point[None].astype("float64"), after])


def replay(optimizer: Any, start: Sequence[float], gradients: np.ndarray) -> np.ndarray:
    """Feed a fixed sequence of gradients to a Keras optimiser; return the parameters after
    each step, shape ``(len(gradients) + 1, d)``, start first.

    Use it to check a hand-written update rule: give your NumPy version the same gradients and
    compare the two trajectories.

    >>> import keras, numpy as np
    >>> replay(keras.optimizers.SGD(0.5), (1.0, 1.0), np.ones((2, 2))).tolist()
    [[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]]
    """
    _check_optimizer(optimizer)
    point = _start_vector(start, size=None)
    grads = np.asarray(gradients, dtype="float32")
    if grads.ndim != 2 or grads.shape[1] != point.shape[0] or len(grads) == 0:
        raise ValueError(
            f"gradients must have shape (steps, {point.shape[0]}) to match start, got {grads.shape}"
        )
    w = keras.Variable(point, name="w")
    path = [point.astype("float64")]
    for g in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), w)])
        path.append(np.asarray(w.numpy(), dtype="float64"))
    return np.stack(path)


def losses_along(fn: Fn2D, path: np.ndarray) -> np.ndarray:
    """The value of ``fn`` at every point of a path of shape ``(steps + 1, 2)``.

    >>> losses_along(valley, np.array([[2.0, 0.0], [0.0, 0.0]])).tolist()
    [2.0, 0.0]
    """
    path = np.asarray(path, dtype="float64")
    if path.ndim != 2 or path.shape[1] != 2:
        raise ValueError(f"path must have shape (steps + 1, 2), as descend returns; got {path.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        values = fn(path[:, 0], path[:, 1])
    return np.asarray(values, dtype="float64").reshape(len(path))


def steps_to_target(losses: Sequence[float], target: float, *, stay: bool = False) -> int | None:
    """The first step at which ``losses`` reaches ``target`` or below (index 0 is the start),
    or ``None`` if it never does. NaN (a diverged run) never counts as reaching it.

    With ``stay=True`` the run must also remain at or below the target until its end: a run
    that passes through the target and bounces out again does not count until it settles.

    >>> steps_to_target([4.0, 2.0, 0.9, 0.5], target=1.0)
    2
    >>> steps_to_target([4.0, 3.0], target=1.0) is None
    True
    >>> steps_to_target([4.0, 0.5, 2.0, 0.7, 0.6], target=1.0, stay=True)
    3
    """
    values = np.asarray(losses, dtype="float64")
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"losses must be a non-empty 1-D sequence, got shape {values.shape}")
    if not math.isfinite(target):
        raise ValueError(f"target must be a finite number, got {target!r}")
    with np.errstate(invalid="ignore"):
        below = values <= target
    if stay:
        above = np.flatnonzero(~below)
        first = int(above[-1]) + 1 if len(above) else 0
        return first if first < len(values) else None
    hits = np.flatnonzero(below)
    return int(hits[0]) if len(hits) else None


# --- time to a target loss during model.fit -----------------------------------------------------


class TimeToTarget(keras.callbacks.Callback):
    """Record when a ``model.fit`` run first reaches a target loss, in steps and seconds.

    At the end of every epoch it reads ``monitor`` (``"val_loss"`` by default; ``"loss"`` is the
    mean training loss over the epoch) and logs ``(steps, seconds, value)`` in :attr:`log`:
    optimiser steps (batches) taken so far and seconds of training. The clock starts when the
    first step has finished, so Keras's one-off compilation of the training step (which differs
    little between optimisers and says nothing about them) is left out. :attr:`steps`,
    :attr:`seconds` and :attr:`epoch` hold the first epoch end at or below ``target``
    (``None`` until then). Epoch granularity: the reported time is an upper bound by at most
    one epoch.

    >>> import keras, numpy as np
    >>> x = np.linspace(-1, 1, 64)[:, None]; y = 3 * x
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(0.5), "mse")
    >>> clock = TimeToTarget(0.01, monitor="loss")
    >>> _ = model.fit(x, y, batch_size=16, epochs=20, verbose=0, callbacks=[clock])
    >>> clock.steps is not None and clock.steps % 4 == 0
    True
    """

    def __init__(self, target: float, *, monitor: str = "val_loss"):
        super().__init__()
        if not math.isfinite(target):
            raise ValueError(f"target must be a finite number, got {target!r}")
        self.target = float(target)
        self.monitor = monitor
        self.log: list[tuple[int, float, float]] = []
        self.steps: int | None = None
        self.seconds: float | None = None
        self.epoch: int | None = None
        self._start = 0.0
        self._batches = 0

    def on_train_begin(self, logs=None):
        self.log, self.steps, self.seconds, self.epoch = [], None, None, None
        self._batches = 0
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches == 1:  # compiled and run once: start the clock now
            self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"{self.monitor!r} is not in the epoch logs ({sorted(logs)}); "
                "monitor 'val_loss' needs validation data (validation_split= or validation_data=)"
            )
        value = float(logs[self.monitor])
        seconds = time.perf_counter() - self._start
        self.log.append((self._batches, seconds, value))
        if self.steps is None and value <= self.target:
            self.steps, self.seconds, self.epoch = self._batches, seconds, epoch + 1

    def curve(self) -> np.ndarray:
        """The log as an array of shape ``(epochs, 3)``: steps, seconds, monitored value."""
        return np.asarray(self.log, dtype="float64").reshape(-1, 3)
