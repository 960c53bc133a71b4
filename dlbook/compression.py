"""Model compression: knowledge distillation, magnitude pruning and post-training int8
quantisation, written with Keras 3 primitives, plus honest measurements of what they save.

- :class:`Distiller` — a ``keras.Model`` that trains a student on a frozen teacher's softened
  outputs and the true labels (Hinton, Vinyals & Dean 2015); :func:`soften` and
  :func:`distillation_loss` are the two formulas on their own.
- :func:`prunable_weights`, :func:`magnitude_masks`, :func:`apply_masks`, :func:`prune` —
  magnitude pruning, one tensor at a time or globally; :func:`polynomial_sparsity` is the
  gradual schedule of Zhu & Gupta (2017) and :class:`GradualPruning` the callback that follows
  it during training and keeps pruned weights at zero; :func:`sparsity` and
  :func:`layer_sparsity` report the zeros actually there.
- :func:`quantize_int8`, :func:`dequantize`, :func:`int8_weights` — a per-channel symmetric
  int8 weight quantiser in NumPy, so the arithmetic is visible; :func:`keras_int8` is Keras'
  own ``model.quantize("int8")`` on a copy of the model.
- :func:`count_params`, :func:`keras_file_bytes`, :func:`weight_bytes`, :func:`latency_ms`,
  :func:`compare_latency` — parameters (all or non-zero), bytes on disk, bytes of a dense /
  sparse / int8 encoding of the weights, and the median time of a compiled batched call.

Models classify with *logits* (no softmax on the last layer), as the distillation loss needs.

>>> keras.utils.set_random_seed(0)
>>> model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(3)])
>>> masks = prune(model, 0.5)
>>> round(sparsity(model), 3)          # half of the 36 kernel weights are now zero
0.5
>>> q, scale = quantize_int8(np.array([[0.5, -2.0], [-1.0, 1.0]]))
>>> q.tolist(), scale.ravel().tolist()   # per output column: scale = max|w| / 127
([[64, -127], [-127, 64]], [0.007874015718698502, 0.015748031437397003])
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence

import numpy as np

from dlbook.checks import positive_int as _positive_int
from dlbook.checks import positive_number
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "ENCODINGS", "Distiller", "GradualPruning", "apply_masks", "compare_latency", "count_params",
    "dequantize",
    "distillation_loss", "int8_weights", "keras_file_bytes", "keras_int8", "latency_ms",
    "layer_sparsity", "magnitude_masks", "polynomial_sparsity", "prunable_weights", "prune",
    "quantize_int8", "soften", "sparsity", "weight_bytes",
]

SCOPES = ("global", "layer")
ENCODINGS = ("dense", "sparse", "int8", "sparse-int8")


# --- input checks -------------------------------------------------------------------------------


def _fraction(value, what: str, *, closed: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or math.isnan(value) or not (0 <= value <= 1 if closed else 0 <= value < 1):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{what} must be a fraction in {interval} (0.9 = 90 %), got {value!r}")
    return float(value)


def _temperature(value) -> float:
    return positive_number(value, "temperature", hint="1 leaves the softmax as it is; 2-8 "
                                                      "softens it")


def _scope(value) -> str:
    if value not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES} ('global' ranks all weights together, "
                         f"'layer' prunes the same fraction of every tensor), got {value!r}")
    return value


def _model(value, what: str = "model"):
    if not isinstance(value, keras.Model):
        raise TypeError(f"{what} must be a keras.Model, got {type(value).__name__}")
    if not value.built:
        raise ValueError(f"{what} is not built yet; give it an Input or call it on a batch first")
    return value


def _np(x) -> np.ndarray:
    """A variable or tensor as NumPy (``Variable.numpy`` avoids NumPy 2's copy warning)."""
    return x.numpy() if isinstance(x, keras.Variable) else keras.ops.convert_to_numpy(x)


# --- knowledge distillation ---------------------------------------------------------------------


def soften(logits, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities ``softmax(logits / T)`` as NumPy: ``T = 1`` is the ordinary softmax,
    a higher ``T`` spreads the probability over the wrong classes (the "dark knowledge").

    >>> soften([[4.0, 2.0, 0.0]]).round(3).tolist()
    [[0.867, 0.117, 0.016]]
    >>> soften([[4.0, 2.0, 0.0]], temperature=4).round(3).tolist()
    [[0.506, 0.307, 0.186]]
    """
    t = _temperature(temperature)
    z = np.asarray(logits, dtype="float64") / t
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def distillation_loss(teacher_logits, student_logits, temperature: float = 4.0):
    """``T² · KL(softmax(teacher/T) ‖ softmax(student/T))``, averaged over the batch.

    The factor ``T²`` keeps the gradients of the soft term the same size whatever ``T`` is
    (they shrink as ``1/T²`` otherwise), so ``alpha`` means the same at every temperature.
    The loss is 0 when the student's logits equal the teacher's (or differ by a constant).

    >>> t = np.array([[3.0, 1.0, 0.0]], "float32")
    >>> float(distillation_loss(t, t + 5.0))
    0.0
    >>> round(float(distillation_loss(t, np.zeros((1, 3), "float32"), temperature=1)), 4)
    0.5743
    """
    t = _temperature(temperature)
    teacher_logits = ops.convert_to_tensor(teacher_logits, "float32")
    student_logits = ops.cast(ops.convert_to_tensor(student_logits), teacher_logits.dtype)
    log_p = ops.log_softmax(teacher_logits / t, axis=-1)
    log_q = ops.log_softmax(student_logits / t, axis=-1)
    kl = ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1)
    return (t * t) * ops.mean(kl)


class Distiller(keras.Model):
    """Train ``student`` on ``alpha · CE(labels, student) + (1 − alpha) · T² · KL(teacher_T ‖
    student_T)`` with the ``teacher`` frozen (Hinton, Vinyals & Dean 2015).

    Both models map the same inputs to logits over the same classes. ``fit`` and ``evaluate``
    report ``loss`` (the weighted sum), ``hard_loss`` (cross-entropy with the labels),
    ``soft_loss`` (the distillation term, with its ``T²``) and the student's ``accuracy``.
    ``alpha = 1`` trains on labels alone; ``alpha = 0`` on the teacher alone. Calling the
    distiller calls the student, which is the model to keep. The teacher passed in is frozen
    in place (``teacher.trainable = False``); set it back before training it further.

    The teacher runs on every batch. When the inputs are not augmented its logits never
    change, so they can be computed once and passed as the targets ``(labels,
    teacher_logits)``: same loss, at the cost of training the student alone.

    >>> keras.utils.set_random_seed(0)
    >>> teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> student = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> d = Distiller(student, teacher, temperature=2.0, alpha=0.5)
    >>> d.compile(optimizer="adam")
    >>> x, y = np.ones((8, 4), "float32"), np.zeros(8, "int32")
    >>> sorted(d.fit(x, y, epochs=1, verbose=0).history)
    ['accuracy', 'hard_loss', 'loss', 'soft_loss']
    >>> teacher.trainable, len(d.trainable_weights) == len(student.trainable_weights)
    (False, True)
    """

    def __init__(self, student, teacher, *, temperature: float = 4.0, alpha: float = 0.1,
                 **kwargs):
        super().__init__(**kwargs)
        self.student = _model(student, "student")
        self.teacher = _model(teacher, "teacher")
        shapes = [tuple(m.outputs[0].shape) for m in (student, teacher)]
        if shapes[0][1:] != shapes[1][1:]:
            raise ValueError(f"student and teacher must output logits over the same classes, "
                             f"got shapes {shapes[0]} and {shapes[1]}")
        self.temperature = _temperature(temperature)
        self.alpha = _fraction(alpha, "alpha", closed=True)
        self.teacher.trainable = False
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.hard_tracker = keras.metrics.Mean(name="hard_loss")
        self.soft_tracker = keras.metrics.Mean(name="soft_loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.hard_tracker, self.soft_tracker, self.accuracy]

    def call(self, x, training=False):
        return self.student(x, training=training)

    def _loss_parts(self, x, y, training: bool):
        if isinstance(y, (tuple, list)):
            if len(y) != 2:
                raise ValueError("targets must be the labels, or the pair (labels, "
                                 "teacher_logits)")
            y, teacher_logits = y
        else:
            teacher_logits = self.teacher(x, training=False)
        teacher_logits = ops.stop_gradient(teacher_logits)
        student_logits = self.student(x, training=training)
        hard = ops.mean(keras.losses.sparse_categorical_crossentropy(
            y, student_logits, from_logits=True))
        soft = distillation_loss(teacher_logits, student_logits, self.temperature)
        loss = self.alpha * hard + (1.0 - self.alpha) * soft
        return y, loss, hard, soft, student_logits

    def _report(self, y, loss, hard, soft, logits):
        self.loss_tracker.update_state(loss)
        self.hard_tracker.update_state(hard)
        self.soft_tracker.update_state(soft)
        self.accuracy.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        import tensorflow as tf  # the TensorFlow backend; the maths stays in keras.ops

        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            parts = self._loss_parts(x, y, training=True)
        weights = self.student.trainable_weights
        self.optimizer.apply(tape.gradient(parts[1], weights), weights)
        return self._report(*parts)

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._report(*self._loss_parts(x, y, training=False))


# --- magnitude pruning --------------------------------------------------------------------------


def prunable_weights(model) -> list:
    """The weight matrices and convolution kernels of ``model`` (variables named ``kernel``
    with two or more axes): what pruning and quantisation act on. Biases and normalisation
    parameters are few and are left alone.

    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> [tuple(v.shape) for v in prunable_weights(m)]
    [(3, 2)]
    """
    model = _model(model)
    found = [v for v in model.weights
             if v.path.rsplit("/", 1)[-1] == "kernel" and len(v.shape) >= 2]
    if not found:
        raise ValueError("the model has no Dense or convolution kernels to prune or quantise")
    return found


def magnitude_masks(weights: Sequence, sparsity: float, *, scope: str = "global") -> list:
    """0/1 masks (float32, one per tensor) that zero the ``sparsity`` fraction of weights with
    the smallest ``|w|``: ranked over all tensors together (``scope="global"``) or within each
    tensor (``"layer"``). Exactly ``round(sparsity · n)`` entries are zero; ties are broken by
    position, so the count always equals the target.

    >>> [m.tolist() for m in magnitude_masks([np.array([[0.1, -3.0], [2.0, -0.2]])], 0.5)]
    [[[0.0, 1.0], [1.0, 0.0]]]
    >>> [m.tolist() for m in magnitude_masks([np.array([1.0, 2.0]), np.array([5.0, 6.0])],
    ...                                      0.5, scope="layer")]
    [[0.0, 1.0], [0.0, 1.0]]
    """
    s = _fraction(sparsity, "sparsity")
    scope = _scope(scope)
    arrays = [np.abs(_np(w)).astype("float64") for w in weights]
    if not arrays:
        raise ValueError("weights is empty; pass prunable_weights(model)")

    def mask_for(flat: np.ndarray) -> np.ndarray:
        k = int(round(s * flat.size))
        mask = np.ones(flat.size, "float32")
        mask[np.argsort(flat, kind="stable")[:k]] = 0.0
        return mask

    if scope == "layer":
        return [mask_for(a.ravel()).reshape(a.shape) for a in arrays]
    flat = mask_for(np.concatenate([a.ravel() for a in arrays]))
    cuts = np.cumsum([a.size for a in arrays])[:-1]
    return [m.reshape(a.shape) for m, a in zip(np.split(flat, cuts), arrays, strict=True)]


def apply_masks(weights: Sequence, masks: Sequence) -> None:
    """Multiply each variable by its mask in place (pruned weights become exactly 0)."""
    if len(weights) != len(masks):
        raise ValueError(f"got {len(weights)} weights but {len(masks)} masks; compute the masks "
                         f"with magnitude_masks(prunable_weights(model), ...)")
    for v, m in zip(weights, masks, strict=True):
        if tuple(v.shape) != tuple(np.shape(m)):
            raise ValueError(f"mask of shape {np.shape(m)} does not fit {v.path} {tuple(v.shape)}")
        v.assign(v * ops.cast(m, v.dtype))


def prune(model, sparsity: float, *, scope: str = "global") -> list:
    """One-shot magnitude pruning of ``model``'s kernels in place; returns the masks.

    >>> keras.utils.set_random_seed(1)
    >>> m = keras.Sequential([keras.Input((10,)), keras.layers.Dense(10)])
    >>> _ = prune(m, 0.9)
    >>> int((m.layers[0].kernel.numpy() != 0).sum())
    10
    """
    weights = prunable_weights(model)
    masks = magnitude_masks(weights, sparsity, scope=scope)
    apply_masks(weights, masks)
    return masks


def polynomial_sparsity(step: int, *, final: float, begin: int, end: int,
                        initial: float = 0.0, power: float = 3.0) -> float:
    """Target sparsity at training ``step`` on the schedule of Zhu & Gupta (2017):
    ``s = final + (initial − final) · (1 − (step − begin) / (end − begin))^power`` between
    ``begin`` and ``end``, ``initial`` before and ``final`` after. It prunes fast while many
    redundant weights remain and slowly near the end.

    >>> [round(polynomial_sparsity(t, final=0.9, begin=0, end=100), 3) for t in (0, 50, 100)]
    [0.0, 0.787, 0.9]
    """
    final = _fraction(final, "final")
    initial = _fraction(initial, "initial")
    if begin < 0 or end < begin:
        raise ValueError(f"need 0 <= begin <= end, got begin={begin}, end={end}")
    if step >= end:
        return final
    if step < begin:
        return initial
    return final + (initial - final) * (1.0 - (step - begin) / (end - begin)) ** power


class GradualPruning(keras.callbacks.Callback):
    """Prune the model's kernels during ``fit``: every ``frequency`` steps from ``begin`` to
    ``end`` the masks are recomputed at the :func:`polynomial_sparsity` target, and after every
    batch they are re-applied, so a pruned weight stays exactly zero however the optimizer
    moves it. ``begin == end`` prunes at once and then fine-tunes with the mask fixed.

    >>> keras.utils.set_random_seed(0)
    >>> m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8), keras.layers.Dense(2)])
    >>> m.compile(optimizer="adam", loss="mse")
    >>> cb = GradualPruning(0.75, begin=0, end=4, frequency=2)
    >>> _ = m.fit(np.ones((32, 8)), np.zeros((32, 2)), batch_size=4, epochs=1, verbose=0,
    ...           callbacks=[cb])
    >>> round(sparsity(m), 4), [round(s, 4) for s in cb.history]
    (0.75, [0.0, 0.6562, 0.75])
    """

    def __init__(self, final_sparsity: float, *, begin: int = 0, end: int = 0,
                 frequency: int = 10, scope: str = "global", power: float = 3.0):
        super().__init__()
        self.final = _fraction(final_sparsity, "final_sparsity")
        if begin < 0 or end < begin:
            raise ValueError(f"need 0 <= begin <= end (training steps), got {begin}, {end}")
        self.begin, self.end, self.power = int(begin), int(end), float(power)
        self.frequency = _positive_int(frequency, "frequency")
        self.scope = _scope(scope)
        self.step = 0
        self.masks = None
        self.history: list[float] = []   # the target sparsity at each mask update

    def target(self, step: int) -> float:
        return polynomial_sparsity(step, final=self.final, begin=self.begin, end=self.end,
                                   power=self.power)

    def on_train_batch_begin(self, batch, logs=None):
        t = self.step
        due = t == self.end or (self.begin <= t < self.end
                                and (t - self.begin) % self.frequency == 0)
        if due or self.masks is None:
            weights = prunable_weights(self.model)
            self.history.append(self.target(t))
            self.masks = magnitude_masks(weights, self.history[-1], scope=self.scope)
            apply_masks(weights, self.masks)

    def on_train_batch_end(self, batch, logs=None):
        apply_masks(prunable_weights(self.model), self.masks)
        self.step += 1


def sparsity(model) -> float:
    """The fraction of ``model``'s kernel weights that are exactly zero (measured, not the
    target)."""
    weights = [_np(v) for v in prunable_weights(model)]
    return float(sum((w == 0).sum() for w in weights) / sum(w.size for w in weights))


def layer_sparsity(model) -> dict[str, float]:
    """The fraction of exact zeros in each kernel, by variable path."""
    return {v.path: float((_np(v) == 0).mean())
            for v in prunable_weights(model)}


# --- post-training int8 quantisation ------------------------------------------------------------


def quantize_int8(w, *, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel int8 quantisation of a weight tensor.

    One scale per output channel (the slice at each index of ``axis``; the last axis holds the
    output channels of Dense and Conv kernels): ``scale = max|w| / 127``, then
    ``q = round(w / scale)`` clipped to [−127, 127]. Zero stays exactly zero, so a pruned
    weight stays pruned. Returns ``(q, scale)`` with ``scale`` shaped to broadcast against
    ``q``; :func:`dequantize` inverts it up to at most half a step, ``scale / 2``.

    >>> q, s = quantize_int8(np.array([[0.0, 0.3], [1.27, -0.6]]))
    >>> err = np.abs(dequantize(q, s) - [[0.0, 0.3], [1.27, -0.6]]).max()
    >>> q.tolist(), bool(err <= s.max() / 2)
    ([[0, 64], [127, -127]], True)
    """
    w = np.asarray(_np(w), dtype="float32")
    if w.ndim == 0 or w.size == 0:
        raise ValueError(f"need a non-empty weight tensor, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("the weights contain NaN or inf; quantise a trained, finite model")
    axis = axis % w.ndim
    others = tuple(i for i in range(w.ndim) if i != axis)
    peak = np.abs(w).max(axis=others, keepdims=True) if others else np.abs(w)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype("float32")
    q = np.clip(np.round(w / scale), -127, 127).astype("int8")
    return q, scale


def dequantize(q, scale) -> np.ndarray:
    """``q · scale`` as float32: the weights an int8 model really computes with."""
    return np.asarray(q, dtype="float32") * np.asarray(scale, dtype="float32")


def _copy(model):
    """An uncompiled copy with the same weights (``clone_model`` would copy the compile
    state, and an optimizer's variables with it)."""
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def int8_weights(model):
    """A copy of ``model`` whose kernels are replaced by their int8 round trip,
    ``dequantize(*quantize_int8(w))``: the accuracy an int8-weight model would have
    (weight-only quantisation; activations stay float).

    >>> keras.utils.set_random_seed(0)
    >>> m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    >>> w = m.layers[0].kernel.numpy()
    >>> w8 = int8_weights(m).layers[0].kernel.numpy()
    >>> bool(0 < np.abs(w8 - w).max() <= np.abs(w).max(axis=0).max() / 254 + 1e-7)
    True
    """
    clone = _copy(_model(model))
    for v in prunable_weights(clone):
        v.assign(dequantize(*quantize_int8(v)))
    return clone


def keras_int8(model):
    """A copy of ``model`` after Keras' built-in ``model.quantize("int8")``: the kernels of
    ``Dense``, ``EinsumDense`` and ``Embedding`` layers are stored as int8 with a float scale
    per output channel, and inputs are quantised on the fly. Other layers (convolutions in
    Keras 3.15) stay float; the warnings saying so are silenced here."""
    clone = _copy(_model(model))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*does not have a `quantize` method")
        clone.quantize("int8")
    return clone


# --- measuring: parameters, bytes, latency ------------------------------------------------------


def count_params(model, *, nonzero: bool = False) -> int:
    """The number of weights (int8 kernels and their scales included), or of non-zero ones."""
    model = _model(model)
    arrays = [_np(v) for v in model.weights]
    if nonzero:
        return int(sum(np.count_nonzero(a) for a in arrays))
    return int(sum(a.size for a in arrays))


def keras_file_bytes(model) -> int:
    """Bytes of ``model`` saved as a ``.keras`` file (a zip archive Keras writes without
    compression, so zeros cost as much as any other weight). An optimizer's state is left out:
    this is the model as it would ship."""
    model = _model(model)
    if model.compiled:
        model = _copy(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        return os.path.getsize(path)


def weight_bytes(model, encoding: str = "dense") -> int:
    """Bytes the weights would need in a given encoding of the kernels; every other weight
    (biases, a float layer's parameters) is counted at 4 bytes. For a model after
    :func:`keras_int8` the stored scales are part of the int8 encodings, not counted twice.

    - ``"dense"``: 4 bytes per kernel weight, zeros included.
    - ``"sparse"``: a bitmap (1 bit per weight saying which are non-zero) plus 4 bytes per
      non-zero weight.
    - ``"int8"``: 1 byte per weight plus one float32 scale per output channel.
    - ``"sparse-int8"``: the bitmap, 1 byte per non-zero weight and the scales.

    >>> m = keras.Sequential([keras.Input((100,)), keras.layers.Dense(10)])
    >>> _ = prune(m, 0.9)
    >>> [weight_bytes(m, e) for e in ENCODINGS]   # 1,000 kernel weights + 10 biases
    [4040, 565, 1080, 305]
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    kernels = prunable_weights(model)
    kernel_ids = {id(v) for v in kernels}
    if encoding in ("int8", "sparse-int8"):   # the encoding carries the scales already
        kernel_ids |= {id(v) for v in model.weights if v.path.endswith("/kernel_scale")}
    total = sum(4 * math.prod(v.shape) for v in model.weights if id(v) not in kernel_ids)
    for v in kernels:
        w = _np(v)
        n, nnz, channels = w.size, int(np.count_nonzero(w)), w.shape[-1]
        bitmap = math.ceil(n / 8)
        total += {"dense": 4 * n, "sparse": bitmap + 4 * nnz, "int8": n + 4 * channels,
                  "sparse-int8": bitmap + nnz + 4 * channels}[encoding]
    return int(total)


def _compiled_call(model):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda batch: model(batch, training=False))
    return lambda batch: model(batch, training=False)


def _warm_up(fn, x, warmup: int) -> None:
    """Trace and run ``fn`` a few times, without TensorFlow's warning that many functions of
    the same code were traced (expected here: one compiled function per model timed)."""
    logger = None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")
    try:
        for _ in range(max(warmup, 1)):
            keras.ops.convert_to_numpy(fn(x))
    finally:
        if logger is not None:
            logger.setLevel(level)


def _time_calls(fn, x, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(fn(x))   # include the copy out: the result must be ready
        times.append(time.perf_counter() - start)
    return times


def _check_timing(repeats, warmup) -> int:
    repeats = _positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    return repeats


def latency_ms(model, x, *, repeats: int = 30, warmup: int = 3) -> float:
    """Median wall time, in milliseconds, of one call of ``model`` on the batch ``x`` through
    a compiled function (``tf.function`` on the TensorFlow backend), after ``warmup`` calls
    that trace and warm caches. The median resists the outliers a shared machine adds.

    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> latency_ms(m, np.zeros((8, 4), "float32"), repeats=3) > 0
    True
    """
    model = _model(model)
    repeats = _check_timing(repeats, warmup)
    x = ops.convert_to_tensor(np.asarray(x, dtype="float32"))
    fn = _compiled_call(model)
    _warm_up(fn, x, warmup)
    return 1000.0 * statistics.median(_time_calls(fn, x, repeats))


def compare_latency(models: dict, x, *, rounds: int = 5, repeats: int = 10,
                    warmup: int = 3) -> dict[str, float]:
    """Median latency in ms of each model in ``models`` (name → model) on the batch ``x``, as
    :func:`latency_ms`, but measured in ``rounds`` that take turns between the models, so a
    slow spell on a shared machine slows them all alike instead of one.

    >>> ms = {k: keras.Sequential([keras.Input((4,)), keras.layers.Dense(n)])
    ...       for k, n in [("small", 2), ("large", 64)]}
    >>> sorted(compare_latency(ms, np.zeros((8, 4)), rounds=2, repeats=2))
    ['large', 'small']
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict of name -> keras.Model")
    rounds = _positive_int(rounds, "rounds")
    repeats = _check_timing(repeats, warmup)
    x = ops.convert_to_tensor(np.asarray(x, dtype="float32"))
    fns = {name: _compiled_call(_model(m, f"models[{name!r}]")) for name, m in models.items()}
    for fn in fns.values():
        _warm_up(fn, x, warmup)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name] += _time_calls(fn, x, repeats)
    return {name: 1000.0 * statistics.median(t) for name, t in times.items()}
