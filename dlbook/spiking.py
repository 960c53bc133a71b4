"""Spiking neural networks: leaky integrate-and-fire (LIF) neurons that talk in spikes, trained
with surrogate gradients, and the operation counts that say what they would cost on
neuromorphic hardware.

- :func:`spike` — the spike nonlinearity: an exact Heaviside step forwards, the derivative of a
  fast sigmoid backwards (the *surrogate gradient* of Zenke & Ganguli 2018 and Neftci, Mostafa &
  Zenke 2019); :func:`surrogate_derivative` is that derivative on its own.
- :func:`lif_simulate`, :func:`steps_to_spike` — LIF neurons in NumPy, and the analytic number
  of steps a neuron at rest needs to reach threshold under constant input.
- :class:`LIFCell` — a layer of LIF neurons behind a dense synapse, one time step per call, for
  ``keras.layers.RNN``; :class:`RateEncoder`, :class:`LatencyEncoder` turn intensities in [0, 1]
  into spike trains (:func:`rate_encode`, :func:`latency_encode` do it for NumPy arrays);
  :class:`SpikeCount` and :class:`TimeMean` turn the output layer into logits.
- :func:`spiking_mlp`, :func:`dense_mlp` — a spiking network and the equal dense network.
- :func:`membrane_trace` — replay a trained LIF layer in NumPy to see its membrane potentials.
- :func:`synaptic_operations`, :func:`dense_macs`, :data:`ENERGY_PJ`, :func:`energy_nj`,
  :func:`energy_proxy` — the energy proxy: synaptic operations (SynOps) of a spiking net
  against multiply-accumulates (MACs) of a dense one, priced with per-operation energies from
  Horowitz (ISSCC 2014).

Spike trains are ``(batch, steps, neurons)`` arrays of 0s and 1s, time on axis 1.

>>> keras.utils.set_random_seed(0)
>>> model = spiking_mlp(4, hidden=(8,), n_classes=3, steps=5)
>>> tuple(model(np.full((2, 4), 0.5, "float32")).shape)   # one logit per class
(2, 3)
>>> [float(v) for v in keras.ops.convert_to_numpy(spike(np.array([-0.1, 0.0, 0.2])))]
[0.0, 1.0, 1.0]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from dlbook.checks import positive_int as _positive_int
from dlbook.checks import positive_number as _positive_float
from dlbook.checks import unit_batch
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "ENERGY_PJ", "LIFCell", "LatencyEncoder", "RateEncoder", "SpikeCount", "TimeMean",
    "dense_macs", "dense_mlp", "energy_nj", "energy_proxy", "latency_encode", "lif_simulate",
    "membrane_trace", "rate_encode", "spike", "spiking_layers", "spiking_mlp", "steps_to_spike",
    "surrogate_derivative", "synaptic_operations",
]

RESETS = ("subtract", "zero")

ENERGY_PJ: dict[str, float] = {
    "int8 add": 0.03, "int8 mult": 0.2, "int32 add": 0.1, "int32 mult": 3.1,
    "fp16 add": 0.4, "fp16 mult": 1.1, "fp32 add": 0.9, "fp32 mult": 3.7,
    "int8 mac": 0.03 + 0.2, "fp32 mac": 0.9 + 3.7,
    "sram 64-bit read (8 KB)": 10.0, "dram 64-bit read": 1300.0,
}
"""Energy per operation in picojoules on a 45 nm process, 0.9 V (M. Horowitz, "Computing's
energy problem (and what we can do about it)", ISSCC 2014). A MAC is priced as one multiply plus
one add; DRAM is the low end of the quoted 1.3-2.6 nJ. A proxy from these numbers ignores
memory traffic, routing and idle power: it is not a measurement of any chip."""


# --- input checks -------------------------------------------------------------------------------


def _beta(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not 0 <= value <= 1:
        raise ValueError(f"beta is the per-step decay of the membrane and must lie in [0, 1] "
                         f"(0.9 keeps 90 % per step; 1 is a perfect integrator), got {value!r}")
    return float(value)


def _reset(value) -> str:
    if value not in RESETS:
        raise ValueError(f"reset must be one of {RESETS} ('subtract' removes the threshold "
                         f"after a spike, 'zero' sets the membrane to 0), got {value!r}")
    return value


def _intensities(x, what: str = "images") -> np.ndarray:
    """Validate a non-empty batch of intensities in [0, 1]; return it as float32."""
    return unit_batch(x, what, example="image",
                      hint="they are spike probabilities: scale them first, e.g. x / 16 for "
                           "scikit-learn digits or x / 255 for 8-bit images")


# --- the spike and its surrogate gradient -------------------------------------------------------


def surrogate_derivative(x, slope: float = 25.0):
    """The fast-sigmoid surrogate for the Heaviside step's derivative,
    ``1 / (1 + slope·|x|)²``, with ``x`` the membrane potential minus the threshold
    (SuperSpike, Zenke & Ganguli 2018). It is 1 at the threshold and falls off as ``1/x²``.

    >>> [round(float(g), 4) for g in surrogate_derivative(np.array([0.0, 0.1, 1.0]))]
    [1.0, 0.0816, 0.0015]
    """
    slope = _positive_float(slope, "slope")
    return 1.0 / ops.square(1.0 + slope * ops.abs(x))


@functools.lru_cache(maxsize=32)
def _spike_fn(slope: float):
    @ops.custom_gradient
    def _spike(x):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream * ops.cast(surrogate_derivative(x, slope), upstream.dtype)

        return ops.cast(ops.greater_equal(x, 0), x.dtype), grad

    return _spike


def spike(x, slope: float = 25.0):
    """Emit a spike (1.0) where ``x >= 0`` and nothing (0.0) elsewhere: an exact Heaviside step.

    ``x`` is the membrane potential minus the threshold. The true derivative is zero almost
    everywhere, which would stop all learning; the backward pass uses
    :func:`surrogate_derivative` instead (``slope`` sets how narrow it is).

    >>> import tensorflow as tf
    >>> x = tf.constant([-1.0, -0.01, 0.0, 0.5])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     s = spike(x)
    >>> s.numpy().tolist(), [round(g, 3) for g in tape.gradient(s, x).numpy().tolist()]
    ([0.0, 0.0, 1.0, 1.0], [0.001, 0.64, 1.0, 0.005])
    """
    x = ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, "float32")
    return _spike_fn(_positive_float(slope, "slope"))(x)


# --- LIF neurons in NumPy -----------------------------------------------------------------------


def lif_simulate(current, *, beta: float = 0.9, threshold: float = 1.0,
                 reset: str = "subtract", v0=0.0) -> tuple[np.ndarray, np.ndarray]:
    """Run LIF neurons over the input current ``(steps,)`` or ``(steps, neurons...)``.

    Each step: ``v = beta·v + I[t]`` (leak and integrate); spike if ``v >= threshold``; then
    reset, by subtracting the threshold (``"subtract"``) or to zero (``"zero"``). Returns the
    membrane potential *before* the reset (so a spike shows as a crossing) and the spikes, both
    shaped like ``current``. The same update as :class:`LIFCell`. ``threshold=math.inf`` never
    fires: a leaky integrator (the readout of ``spiking_mlp(readout="membrane")``).

    >>> v, s = lif_simulate(np.full(6, 0.4), beta=1.0)
    >>> v.round(2).tolist(), s.tolist()
    ([0.4, 0.8, 1.2, 0.6, 1.0, 0.4], [0.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    """
    current = np.asarray(current, dtype="float64")
    if current.ndim == 0 or len(current) == 0 or not np.isfinite(current).all():
        raise ValueError(f"current must be a finite array shaped (steps, ...), got shape "
                         f"{current.shape}")
    beta, threshold = _beta(beta), _positive_float(threshold, "threshold", allow_inf=True)
    reset = _reset(reset)
    v = np.broadcast_to(np.asarray(v0, dtype="float64"), current.shape[1:]).copy()
    membrane, spikes = np.empty_like(current), np.empty_like(current)
    for t, i_t in enumerate(current):
        v = beta * v + i_t
        s = (v >= threshold).astype("float64")
        membrane[t], spikes[t] = v, s
        v = np.where(s > 0, v - threshold if reset == "subtract" else 0.0, v)
    return membrane, spikes


def steps_to_spike(current: float, *, beta: float = 0.9, threshold: float = 1.0) -> float:
    """How many steps a LIF neuron at rest needs, under the constant input ``current``, to reach
    ``threshold``: the smallest ``n`` with ``current·(1 + beta + … + betaⁿ⁻¹) >= threshold``.

    The first spike comes at step ``n - 1`` (counting from 0); with ``reset="zero"`` the neuron
    then repeats exactly, so it fires every ``n`` steps, at the rate ``1/n`` per step. Returns
    ``inf`` when the input is too weak ever to fire (``current <= threshold·(1 - beta)``: the
    leak drains what comes in).

    >>> steps_to_spike(0.3, beta=0.9), steps_to_spike(0.1, beta=0.9)
    (4, inf)
    >>> steps_to_spike(0.25, beta=1.0)
    4
    """
    beta, threshold = _beta(beta), _positive_float(threshold, "threshold")
    if isinstance(current, bool) or not isinstance(current, (int, float, np.floating)) \
            or not math.isfinite(current):
        raise ValueError(f"current must be a finite number, got {current!r}")
    if current <= 0 or current <= threshold * (1 - beta) * (1 + 1e-9):  # at the bound: never
        return math.inf
    if beta == 1:
        return max(1, math.ceil(threshold / current))
    if beta == 0:
        return 1
    return max(1, math.ceil(math.log(1 - threshold * (1 - beta) / current) / math.log(beta)))


# --- Keras layers -------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="dlbook")
class LIFCell(keras.layers.Layer):
    """A layer of ``units`` LIF neurons fed through a dense synapse, one time step per call.

    Use it inside ``keras.layers.RNN(LIFCell(128), return_sequences=True)``: the input at each
    step is a vector of presynaptic spikes, the output the neurons' spikes, the state their
    membrane potentials. Per step: ``I = s_in·W + b``; ``v = beta·v + I``;
    ``s = spike(v - threshold)``; reset (``"subtract"`` or ``"zero"``). The reset is taken out of
    the gradient (``stop_gradient``): a common simplification, so that the surrogate flows only
    through the spike itself.

    >>> cell = LIFCell(3, beta=0.5)
    >>> layer = keras.layers.RNN(cell, return_sequences=True)
    >>> tuple(layer(np.ones((2, 7, 4), "float32")).shape)
    (2, 7, 3)
    """

    def __init__(self, units: int, *, beta: float = 0.9, threshold: float = 1.0,
                 slope: float = 25.0, reset: str = "subtract", fire: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units = _positive_int(units, "units")
        self.fire = bool(fire)
        self.beta, self.reset = _beta(beta), _reset(reset)
        self.threshold = _positive_float(threshold, "threshold")
        self.slope = _positive_float(slope, "slope")
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel",
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

    def call(self, inputs, states, training=False):
        v = states[0] if isinstance(states, (list, tuple)) else states
        v = self.beta * v + ops.matmul(inputs, self.kernel) + self.bias
        if not self.fire:   # a leaky integrator: output the membrane, never spike
            return v, [v]
        s = spike(v - self.threshold, self.slope)
        fired = ops.stop_gradient(s)
        v = v - fired * self.threshold if self.reset == "subtract" else v * (1.0 - fired)
        return s, [v]

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "beta": self.beta, "threshold": self.threshold,
                       "slope": self.slope, "reset": self.reset, "fire": self.fire})
        return config


@keras.saving.register_keras_serializable(package="dlbook")
class RateEncoder(keras.layers.Layer):
    """Rate coding: intensities ``(batch, features)`` in [0, 1] -> spike trains
    ``(batch, steps, features)``, each pixel spiking at each step with probability equal to its
    intensity (Bernoulli draws, fresh on every call).

    >>> enc = RateEncoder(1000, seed=0)
    >>> s = keras.ops.convert_to_numpy(enc(np.array([[0.0, 0.25, 1.0]], "float32")))
    >>> s.shape, [round(float(m), 2) for m in s.mean(axis=1)[0]]
    ((1, 1000, 3), [0.0, 0.25, 1.0])
    """

    def __init__(self, steps: int, *, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.steps, self.seed = _positive_int(steps, "steps"), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x):
        x = ops.cast(x, "float32")
        p = ops.repeat(ops.expand_dims(x, 1), self.steps, axis=1)
        u = keras.random.uniform(ops.shape(p), seed=self.seed_generator)
        return ops.cast(ops.less(u, p), "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "seed": self.seed}


@keras.saving.register_keras_serializable(package="dlbook")
class LatencyEncoder(keras.layers.Layer):
    """Latency coding: each pixel spikes once, the brighter the earlier. A pixel of intensity
    ``x >= min_intensity`` fires at step ``round((1 - x)·(steps - 1))``: white at step 0, the
    dimmest pixels near the end; darker pixels never fire (Thorpe et al. 2001).

    >>> enc = LatencyEncoder(5)
    >>> s = keras.ops.convert_to_numpy(enc(np.array([[1.0, 0.5, 0.0]], "float32")))
    >>> s[0].T.astype(int).tolist()       # one row per pixel, one column per step
    [[1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]]
    """

    def __init__(self, steps: int, *, min_intensity: float = 0.05, **kwargs):
        super().__init__(**kwargs)
        self.steps = _positive_int(steps, "steps")
        if isinstance(min_intensity, bool) or not 0 < min_intensity <= 1:
            raise ValueError(f"min_intensity must lie in (0, 1], got {min_intensity!r}")
        self.min_intensity = float(min_intensity)

    def call(self, x):
        x = ops.cast(x, "float32")
        when = ops.cast(ops.round((1.0 - x) * (self.steps - 1)), "int32")
        trains = ops.one_hot(when, self.steps, axis=1)     # (batch, steps, features...)
        fires = ops.cast(ops.greater_equal(x, self.min_intensity), "float32")
        return trains * ops.expand_dims(fires, 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps, *input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps,
                "min_intensity": self.min_intensity}


@keras.saving.register_keras_serializable(package="dlbook")
class SpikeCount(keras.layers.Layer):
    """Sum spike trains ``(batch, steps, neurons)`` over time: ``(batch, neurons)``."""

    def call(self, spikes):
        return ops.sum(spikes, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])


@keras.saving.register_keras_serializable(package="dlbook")
class TimeMean(keras.layers.Layer):
    """Average ``(batch, steps, neurons)`` over time: ``(batch, neurons)``."""

    def call(self, x):
        return ops.mean(x, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])


def _encode(layer: keras.layers.Layer, images, batch_size: int = 1000) -> np.ndarray:
    x = _intensities(images)
    flat = x.reshape(len(x), -1)
    out = np.concatenate([ops.convert_to_numpy(layer(flat[i:i + batch_size]))
                          for i in range(0, len(flat), batch_size)])
    return out.reshape(len(x), layer.steps, *x.shape[1:])


def rate_encode(images, steps: int, *, seed: int = 0) -> np.ndarray:
    """Rate-code a batch ``(n, ...)`` of intensities in [0, 1] into spike trains
    ``(n, steps, ...)`` of 0s and 1s (see :class:`RateEncoder`).

    >>> rate_encode(np.full((2, 8, 8), 0.5), 100).mean().round(2)
    np.float32(0.5)
    """
    return _encode(RateEncoder(steps, seed=seed), images)


def latency_encode(images, steps: int, *, min_intensity: float = 0.05) -> np.ndarray:
    """Latency-code a batch ``(n, ...)`` of intensities in [0, 1] into spike trains
    ``(n, steps, ...)``: at most one spike per pixel (see :class:`LatencyEncoder`).

    >>> latency_encode(np.array([[1.0, 0.5, 0.0]]), 3)[0].T.tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    return _encode(LatencyEncoder(steps, min_intensity=min_intensity), images)


def membrane_trace(layer: keras.layers.Layer, spikes_in) -> tuple[np.ndarray, np.ndarray]:
    """Replay a (trained) ``RNN(LIFCell)`` layer in NumPy on one spike train ``(steps, inputs)``
    and return its neurons' membrane potentials (before reset) and spikes, each ``(steps,
    units)``. The Keras layer only outputs spikes; this shows what happens under the threshold.
    The spikes equal the layer's own output on the same input (up to float rounding exactly at
    the threshold).

    >>> keras.utils.set_random_seed(0)
    >>> layer = keras.layers.RNN(LIFCell(2), return_sequences=True)
    >>> x = np.ones((1, 6, 3), "float32")
    >>> out = keras.ops.convert_to_numpy(layer(x))[0]
    >>> v, s = membrane_trace(layer, x[0])
    >>> v.shape, bool((s == out).all())
    ((6, 2), True)
    """
    cell = getattr(layer, "cell", None)
    if not isinstance(cell, LIFCell) or not cell.built:
        raise ValueError("layer must be a built keras.layers.RNN wrapping a LIFCell, e.g. "
                         "model.get_layer('lif_1') of a spiking_mlp that has been called")
    spikes_in = np.asarray(spikes_in, dtype="float64")
    kernel = np.asarray(cell.kernel.numpy(), dtype="float64")
    if spikes_in.ndim != 2 or spikes_in.shape[1] != kernel.shape[0]:
        raise ValueError(f"spikes_in must be one spike train shaped (steps, {kernel.shape[0]}), "
                         f"got shape {spikes_in.shape}; pass trains[i] for sample i")
    current = spikes_in @ kernel + np.asarray(cell.bias.numpy(), dtype="float64")
    threshold = cell.threshold if cell.fire else math.inf   # a readout never fires
    return lif_simulate(current, beta=cell.beta, threshold=threshold, reset=cell.reset)


# --- models -------------------------------------------------------------------------------------


def spiking_mlp(n_inputs: int = 64, hidden: Sequence[int] = (128,), n_classes: int = 10, *,
                steps: int = 25, encoding: str | None = "rate", beta: float = 0.9,
                threshold: float = 1.0, slope: float = 25.0, reset: str = "subtract",
                readout: str = "membrane", seed: int | None = None, unroll: bool = False,
                name: str = "spiking_mlp") -> keras.Model:
    """A fully connected spiking network: encoder -> LIF layers -> one output neuron per class.

    ``encoding`` is ``"rate"`` or ``"latency"`` (the model takes intensities ``(batch,
    n_inputs)`` in [0, 1]) or ``None`` (it takes spike trains ``(batch, steps, n_inputs)``).
    With ``readout="membrane"`` the output neurons are leaky integrators that never fire and
    the logits are their membrane potentials averaged over the ``steps``; with
    ``readout="spikes"`` they are LIF neurons and the logits are their spike counts (the class
    that fires most wins; silent output neurons get little gradient, so this trains less
    reliably). Train either with ``SparseCategoricalCrossentropy(from_logits=True)``.

    >>> [layer.name for layer in spiking_mlp(steps=3).layers]
    ['intensities', 'rate_encoder', 'lif_1', 'lif_out', 'mean_membrane']
    >>> spiking_mlp(steps=3, readout="spikes").layers[-1].name
    'spike_count'
    """
    n_inputs, n_classes = _positive_int(n_inputs, "n_inputs"), _positive_int(n_classes, "n_classes")
    steps = _positive_int(steps, "steps")
    hidden = [_positive_int(u, "each hidden size") for u in hidden]
    options = {"beta": beta, "threshold": threshold, "slope": slope, "reset": reset}
    if encoding is None:
        inputs = keras.Input((steps, n_inputs), name="spike_trains")
        h = inputs
    elif encoding in ("rate", "latency"):
        inputs = keras.Input((n_inputs,), name="intensities")
        encoder = (RateEncoder(steps, seed=seed, name="rate_encoder") if encoding == "rate"
                   else LatencyEncoder(steps, name="latency_encoder"))
        h = encoder(inputs)
    else:
        raise ValueError(f"encoding must be 'rate', 'latency' or None (spike trains in), got "
                         f"{encoding!r}")
    if readout not in ("spikes", "membrane"):
        raise ValueError(f"readout must be 'spikes' or 'membrane', got {readout!r}")
    for i, units in enumerate([*hidden, n_classes]):
        last = i == len(hidden)
        cell = LIFCell(units, **options, fire=not (last and readout == "membrane"),
                       name=f"lif_cell_{'out' if last else i + 1}")
        h = keras.layers.RNN(cell, return_sequences=True, unroll=unroll,
                             name="lif_out" if last else f"lif_{i + 1}")(h)
    if readout == "membrane":
        return keras.Model(inputs, TimeMean(name="mean_membrane")(h), name=name)
    return keras.Model(inputs, SpikeCount(name="spike_count")(h), name=name)


def dense_mlp(n_inputs: int = 64, hidden: Sequence[int] = (128,), n_classes: int = 10, *,
              name: str = "dense_mlp") -> keras.Model:
    """The equal non-spiking network: the same layer sizes, ReLU hidden layers, logits out.

    >>> dense_mlp().count_params() == spiking_mlp(steps=2).count_params()
    True
    """
    n_inputs, n_classes = _positive_int(n_inputs, "n_inputs"), _positive_int(n_classes, "n_classes")
    inputs = keras.Input((n_inputs,), name="intensities")
    h = inputs
    for i, units in enumerate(hidden):
        h = keras.layers.Dense(_positive_int(units, "each hidden size"), activation="relu",
                               name=f"dense_{i + 1}")(h)
    return keras.Model(inputs, keras.layers.Dense(n_classes, name="logits")(h), name=name)


# --- the energy proxy ---------------------------------------------------------------------------


def spiking_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of ``model`` that emit spike trains, input first: an encoder (or the input
    itself, when the model takes spike trains) and every ``RNN`` of :class:`LIFCell`."""
    found: list[keras.layers.Layer] = []
    for layer in model.layers:
        if isinstance(layer, (RateEncoder, LatencyEncoder, keras.layers.InputLayer)):
            found = [layer]  # the last of these is where the spikes enter
        elif isinstance(layer, keras.layers.RNN) and isinstance(layer.cell, LIFCell):
            found.append(layer)
    if len(found) < 2 or not isinstance(found[1], keras.layers.RNN):
        raise ValueError(f"model {model.name!r} has no LIF layers to count; build it with "
                         f"spiking_mlp(...)")
    return found


def synaptic_operations(model: keras.Model, x, *, batch_size: int = 500):
    """Count, per sample of ``x`` (averaged), the spikes each spiking layer emits and the
    synaptic operations they cause.

    A spike from one neuron is delivered to every neuron it connects to, and each delivery is
    one *synaptic operation* (SynOp): add the synapse's weight to that neuron's membrane. No
    multiplication is needed, because the spike is 1. So SynOps = spikes × fan-out. Every
    neuron also updates its own membrane once per step (``v = beta·v + I``: one multiply-add),
    counted as ``neuron updates``. Returns a ``pandas.DataFrame`` with one row per layer.

    >>> keras.utils.set_random_seed(0)
    >>> model = spiking_mlp(4, hidden=(8,), n_classes=3, steps=5, encoding="latency")
    >>> table = synaptic_operations(model, np.array([[1.0, 0.6, 0.0, 0.0]]))
    >>> table[["spikes", "fan-out", "SynOps"]].loc["latency_encoder"].tolist()
    [2.0, 8.0, 16.0]
    """
    import pandas as pd

    layers = spiking_layers(model)
    probe = keras.Model(model.input, [layer.output for layer in layers])
    x = np.asarray(x, dtype="float32")
    if len(x) == 0:
        raise ValueError("x must hold at least one sample")
    totals = [0.0] * len(layers)
    for i in range(0, len(x), batch_size):
        outs = probe(x[i:i + batch_size], training=False)
        for j, out in enumerate(outs):
            totals[j] += float(ops.sum(out))
    rows = []
    for j, layer in enumerate(layers):
        steps, neurons = layer.output.shape[1], layer.output.shape[-1]
        fan_out = layers[j + 1].cell.units if j + 1 < len(layers) else 0
        fires = j == 0 or layer.cell.fire    # a leaky-integrator readout emits no spikes
        spikes = totals[j] / len(x) if fires else 0.0
        rows.append({"layer": layer.name, "neurons": neurons, "steps": steps, "spikes": spikes,
                     "spikes per neuron-step": spikes / (neurons * steps), "fan-out": fan_out,
                     "SynOps": spikes * fan_out,
                     "neuron updates": 0 if j == 0 else neurons * steps})
    return pd.DataFrame(rows).set_index("layer")


def dense_macs(sizes: Sequence[int]) -> int:
    """Multiply-accumulates per sample of a dense network with these layer sizes (input first):
    each weight is used once, so the sum of ``sizes[i]·sizes[i+1]`` (biases and activations
    are left out, as they are for the spiking net).

    >>> dense_macs([64, 128, 10])
    9472
    """
    sizes = [_positive_int(s, "each layer size") for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, got {sizes}")
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def energy_nj(*, adds: float = 0.0, macs: float = 0.0, add: str = "fp32 add",
              mac: str = "fp32 mac") -> float:
    """Energy proxy in nanojoules: ``adds`` priced at ``ENERGY_PJ[add]`` plus ``macs`` at
    ``ENERGY_PJ[mac]``. A proxy for arithmetic only, not a measurement.

    >>> round(energy_nj(macs=dense_macs([64, 128, 10])), 1)     # the dense net, fp32
    43.6
    """
    for key in (add, mac):
        if key not in ENERGY_PJ:
            raise ValueError(f"unknown operation {key!r}; known: {sorted(ENERGY_PJ)}")
    for value, what in ((adds, "adds"), (macs, "macs")):
        if isinstance(value, bool) or not np.isfinite(value) or value < 0:
            raise ValueError(f"{what} must be a count >= 0, got {value!r}")
    return (adds * ENERGY_PJ[add] + macs * ENERGY_PJ[mac]) / 1000.0


def energy_proxy(table, dense_sizes: Sequence[int], *, add: str = "fp32 add",
                 mac: str = "fp32 mac"):
    """Price a spiking net's operations (a :func:`synaptic_operations` table) against the MACs
    of the dense net with layer sizes ``dense_sizes``. SynOps are priced as additions, the
    neurons' own membrane updates and the dense net's weights as multiply-accumulates. Returns a
    ``pandas.DataFrame`` (operations and nJ per sample, and the ratio to the dense net).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"SynOps": [100.0, 0.0], "neuron updates": [0, 20]})
    >>> energy_proxy(t, [4, 5])["nJ per sample"].round(3).tolist()
    [0.092, 0.09, 0.092, 0.182]
    """
    import pandas as pd

    missing = {"SynOps", "neuron updates"} - set(getattr(table, "columns", ()))
    if missing:
        raise ValueError(f"table must be the DataFrame from synaptic_operations(...); it lacks "
                         f"{sorted(missing)}")
    synops, updates = float(table["SynOps"].sum()), float(table["neuron updates"].sum())
    macs = float(dense_macs(dense_sizes))
    rows = {f"dense net: MACs ({mac})": (macs, energy_nj(macs=macs, mac=mac)),
            f"spiking net: SynOps ({add})": (synops, energy_nj(adds=synops, add=add)),
            f"spiking net: neuron updates ({mac})": (updates, energy_nj(macs=updates, mac=mac))}
    rows["spiking net: total"] = (synops + updates, rows[f"spiking net: SynOps ({add})"][1]
                                  + rows[f"spiking net: neuron updates ({mac})"][1])
    out = pd.DataFrame(rows, index=["operations", "nJ per sample"]).T
    out["vs dense"] = out["nJ per sample"] / out["nJ per sample"].iloc[0]
    return out
