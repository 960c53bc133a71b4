"""What a model costs: arithmetic (FLOPs), time, energy and carbon, with every assumption named.

- :func:`count_flops` — an analytic count of a Keras model's forward floating-point operations
  per example, layer by layer, from each layer's configuration and the shapes it really sees
  (one eager call records them). Layers without a rule are *reported*, never counted as zero;
  :func:`register` adds a rule. :attr:`FlopReport.training` estimates a training step (forward
  plus backward) per example.
- :func:`tf_profiler_flops` — TensorFlow's own count of the same graph
  (``tf.compat.v1.profiler`` on a concrete function), forward or with the gradients: the
  cross-check.
- :func:`step_seconds` — the median wall time of one training step (``train_on_batch``).
- :class:`PowerModel` — energy = time × stated power × data-centre overhead (PUE), after the
  Green Algorithms method (Lannelongue, Grealey & Inouye 2021); :func:`carbon_g` = energy ×
  grid intensity. :class:`RaplMeter` reads the CPU's own energy counter where Linux exposes it.
- :func:`published_runs` — sourced energy and carbon figures of large training runs.

**Conventions.** One FLOP is one floating-point addition or multiplication, so a
multiply-add is 2 FLOPs; counts are per example. Bias additions cost 1 per output element,
pooling 1 per window element, softmax 5 per element (the conventions of TensorFlow's profiler),
batch normalisation 2 per element (inference: a scale and a shift), layer normalisation 7
(mean, subtract, square, mean, divide, scale, shift). Activations, reshapes, dropout and
embedding lookups are counted as free: they move data more than they compute.

>>> keras.utils.set_random_seed(0)
>>> net = keras.Sequential([keras.Input((100,)), keras.layers.Dense(10)])
>>> count_flops(net).forward      # 2 * 100 * 10 multiply-adds + 10 bias additions
2010.0
>>> round(carbon_g(1.0, GRID_US_G_PER_KWH))   # 1 kWh on the 2018 US average grid
433
"""

from __future__ import annotations

import contextlib
import glob
import logging
import math
import os
import re
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras

keras = import_keras()

__all__ = [
    "GRID_FRANCE_G_PER_KWH", "GRID_US_G_PER_KWH", "KG_PER_LB", "PUE_2018_AVERAGE",
    "WATTS_PER_GB_MEMORY", "FlopReport", "PowerModel", "RaplMeter", "carbon_g", "count_flops",
    "published_runs", "register", "step_seconds", "tf_graph_flops", "tf_profiler_flops",
]

# --- assumptions, each with its source --------------------------------------------------------

KG_PER_LB = 0.45359237
"""Kilograms per pound (exact, by definition)."""

GRID_US_G_PER_KWH = 0.954 * KG_PER_LB * 1000
"""433 g CO2e per kWh: the US average of 0.954 lb/kWh (EPA eGRID 2018) that Strubell, Ganesh &
McCallum (2019) used for their estimates."""

GRID_FRANCE_G_PER_KWH = 57.0
"""57 g CO2e per kWh: the French grid (mostly nuclear) that trained BLOOM, as used by Luccioni,
Viguier & Ligozat (2023)."""

PUE_2018_AVERAGE = 1.58
"""Power usage effectiveness (the data centre's total power over its computers' power) of an
average data centre in the Uptime Institute's 2018 survey, as used by Strubell et al. (2019).
Large cloud data centres report about 1.1 (Patterson et al. 2021)."""

WATTS_PER_GB_MEMORY = 0.3725
"""Power drawn by memory, watts per GB, as assumed by the Green Algorithms calculator
(Lannelongue, Grealey & Inouye 2021)."""


# --- counting FLOPs: rules per layer type -------------------------------------------------------

Shape = tuple[int, ...]
Rule = Callable[[Any, list[Shape], Shape], float]
"""A rule maps (layer, input shapes, output shape) of one call, batch axis included, to FLOPs."""

_RULES: dict[type, tuple[Rule, bool]] = {}


def register(layer_type: type, *, recurse: bool = False) -> Callable[[Rule], Rule]:
    """Register ``rule(layer, input_shapes, output_shape) -> FLOPs`` for ``layer_type`` (and
    its subclasses). Shapes include the batch axis. With ``recurse=True`` the rule counts only
    the layer's *own* arithmetic and its sublayers are counted by their own rules.

    >>> class Double(keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2 * x
    >>> @register(Double)
    ... def _double(layer, inputs, output):
    ...     return math.prod(output)          # one multiplication per element
    >>> count_flops(keras.Sequential([keras.Input((8,)), Double()])).forward
    8.0
    """
    if not (isinstance(layer_type, type) and issubclass(layer_type, keras.layers.Layer)):
        raise TypeError(f"layer_type must be a keras.layers.Layer subclass, got {layer_type!r}")

    def add(rule: Rule) -> Rule:
        _RULES[layer_type] = (rule, recurse)
        return rule

    return add


def _n(shape: Shape) -> int:
    return math.prod(shape)


def _bias(layer, output: Shape, name: str = "bias") -> int:
    """Bias additions, plus 5 per element for a softmax activation (other activations are
    counted as free)."""
    softmax = getattr(getattr(layer, "activation", None), "__name__", "") == "softmax"
    return (_n(output) if getattr(layer, name, None) is not None else 0) + 5 * softmax * _n(output)


def _dense(layer, inputs, output):
    return 2 * _n(output) * inputs[0][-1] + _bias(layer, output)


def _conv(layer, inputs, output):
    # kernel (*kernel_size, in_channels / groups, filters): multiply-adds per output element
    return 2 * _n(output) * _n(tuple(layer.kernel.shape[:-1])) + _bias(layer, output)


def _conv_transpose(layer, inputs, output):
    # every input position is scattered through the whole kernel (*kernel_size, filters, in)
    positions = _n(inputs[0]) // inputs[0][-1 if layer.data_format == "channels_last" else 1]
    return 2 * positions * _n(tuple(layer.kernel.shape)) + _bias(layer, output)


def _depthwise(layer, inputs, output):
    return 2 * _n(output) * _n(tuple(layer.kernel.shape[:-2])) + _bias(layer, output)


def _separable(layer, inputs, output):
    channel_axis = -1 if layer.data_format == "channels_last" else 1
    positions = _n(output) // output[channel_axis]
    per_position = _n(tuple(layer.depthwise_kernel.shape)) + _n(tuple(layer.pointwise_kernel.shape))
    return 2 * positions * per_position + _bias(layer, output)


def _pool(layer, inputs, output):
    return _n(output) * _n(tuple(layer.pool_size))


def _per_element(k: float) -> Rule:
    return lambda layer, inputs, output: k * _n(output)


def _merge(layer, inputs, output):
    return (len(inputs) - 1) * _n(output)


def _global_pool(layer, inputs, output):
    return _n(inputs[0])


def _einsum_dense(layer, inputs, output):
    lhs, out = layer.equation.split("->")
    x_letters, w_letters = lhs.split(",")
    if "..." in x_letters:  # the ellipsis stands for the leading axes
        extra = len(inputs[0]) - (len(x_letters) - 3)
        x_letters = x_letters.replace("...", "ABCDEFGH"[:extra])
    sizes = dict(zip(x_letters, inputs[0], strict=True))
    sizes.update(zip(w_letters, tuple(layer.kernel.shape), strict=True))
    return 2 * math.prod(sizes.values()) + _bias(layer, output)


def _rnn_steps(inputs) -> tuple[int, int, int]:
    batch, steps, features = inputs[0][0], inputs[0][1], inputs[0][-1]
    return batch, steps, features


def _simple_rnn(layer, inputs, output):
    b, t, d = _rnn_steps(inputs)
    u = layer.units
    return b * t * (2 * u * (d + u) + u)


def _gru(layer, inputs, output):
    b, t, d = _rnn_steps(inputs)
    u = layer.units
    biases = 6 * u if layer.cell.reset_after else 3 * u
    return b * t * (3 * 2 * u * (d + u) + biases + 5 * u)  # 5u: the gate products and sum


def _lstm(layer, inputs, output):
    b, t, d = _rnn_steps(inputs)
    u = layer.units
    return b * t * (4 * 2 * u * (d + u) + 4 * u + 4 * u)   # 4u biases, 4u f*c + i*g, o*tanh(c)


def _attention(layer, inputs, output):
    """MultiHeadAttention as a whole (Keras may run a fused kernel that skips its sublayers):
    the query, key, value and output projections with their biases, the query scaling, the
    scores Q K^T, their softmax and the weighted sum of the values."""
    query = inputs[0]
    value = inputs[1] if len(inputs) > 1 else query
    key = inputs[2] if len(inputs) > 2 else value
    b, t, s = query[0], _n(query[1:-1]), _n(value[1:-1])
    h, k = layer.num_heads, layer.key_dim
    v = layer.value_dim or k
    out = output[-1]
    flops = 2 * b * (t * query[-1] * h * k + s * key[-1] * h * k + s * value[-1] * h * v
                     + t * h * v * out)
    if layer._use_bias:
        flops += b * (t * h * k + s * h * k + s * h * v + t * out)
    return flops + b * t * h * k + b * h * t * s * (2 * k + 5 + 2 * v)


def _install_default_rules() -> None:
    L = keras.layers
    table: list[tuple[tuple[str, ...], Rule, bool]] = [
        (("Dense",), _dense, False),
        (("EinsumDense",), _einsum_dense, False),
        (("Conv1D", "Conv2D", "Conv3D"), _conv, False),
        (("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"), _conv_transpose, False),
        (("DepthwiseConv1D", "DepthwiseConv2D"), _depthwise, False),
        (("SeparableConv1D", "SeparableConv2D"), _separable, False),
        (tuple(f"{kind}Pooling{d}D" for kind in ("Max", "Average") for d in (1, 2, 3)),
         _pool, False),
        (tuple(f"Global{kind}Pooling{d}D" for kind in ("Max", "Average") for d in (1, 2, 3)),
         _global_pool, False),
        (("BatchNormalization",), _per_element(2), False),
        (("LayerNormalization",), _per_element(7), False),
        (("Softmax",), _per_element(5), False),
        (("Rescaling",), _per_element(2), False),
        (("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"), _merge, False),
        (("SimpleRNN",), _simple_rnn, False),
        (("GRU",), _gru, False),
        (("LSTM",), _lstm, False),
        (("MultiHeadAttention",), _attention, False),
    ]
    for names, rule, recurse in table:
        for name in names:
            if hasattr(L, name):
                _RULES[getattr(L, name)] = (rule, recurse)


_install_default_rules()

_FREE_NAMES = (
    "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "Activation", "ReLU", "LeakyReLU", "ELU", "Concatenate", "Cropping1D", "Cropping2D",
    "Cropping3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Masking", "Identity",
    "Embedding", "RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom",
    "RandomContrast", "RandomBrightness",
)
_FREE = tuple(getattr(keras.layers, n) for n in _FREE_NAMES if hasattr(keras.layers, n))
"""Layers that only move, drop or look up numbers (or, like augmentation, do nothing outside
training): counted as 0 FLOPs, and reported as such."""

_FREE_OPS = {"GetItem", "Cast", "Reshape", "ExpandDims", "Squeeze", "Transpose", "Concatenate",
             "Stack", "Slice", "StopGradient", "ConvertToTensor", "Shape", "Tile", "BroadcastTo",
             "Arange", "OnesLike", "ZerosLike"}
"""Raw ``keras.ops`` in a functional graph that only move or create data."""

_ELEMENTWISE_OPS = {"Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum",
                    "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual",
                    "LogicalAnd", "LogicalOr", "Negative", "Abs", "Square", "Sqrt", "Exp", "Log",
                    "Power", "Where"}
_REDUCTION_OPS = {"Sum", "Mean", "Max", "Min", "Prod"}


def _op_rule(op) -> Rule | None:
    """Rules for raw ``keras.ops`` in a functional graph: element-wise ops cost 1 per output
    element, reductions 1 per input element, ``matmul`` 2 per multiply-add."""
    name = type(op).__name__
    if name in _ELEMENTWISE_OPS:
        return lambda op, inputs, output: _n(output)
    if name in _REDUCTION_OPS:
        return lambda op, inputs, output: _n(inputs[0])
    if name == "Matmul":
        return lambda op, inputs, output: 2 * _n(output) * inputs[0][-1]
    return None


def _rule_for(layer) -> tuple[Rule, bool] | None:
    for cls in type(layer).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    return None


# --- counting FLOPs: recording the shapes each layer sees ---------------------------------------


@dataclass
class _Call:
    order: int
    inputs: list[Shape]
    output: Shape


def _shapes(structure) -> list[Shape]:
    return [tuple(int(d) for d in x.shape) for x in keras.tree.flatten(structure)
            if hasattr(x, "shape") and hasattr(x, "dtype")]


def _sublayers(layer) -> list:
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _raw_ops(layer) -> list:
    """The ``keras.ops`` calls of a functional model's graph that are not layers."""
    return [op for op in getattr(layer, "operations", []) if not isinstance(op, keras.layers.Layer)]


def _operations(model) -> list:
    """Every layer inside ``model`` (nested ones too) and every raw op of its functional graphs."""
    found = list(model._flatten_layers(include_self=False, recursive=True))
    for owner in [model, *found]:
        found += _raw_ops(owner)
    return found


@contextlib.contextmanager
def _recording(model) -> Iterator[dict[int, list[_Call]]]:
    """Wrap the ``call`` of every layer (nested ones too) so that one forward pass records the
    shapes each layer receives and returns; the original methods are restored afterwards."""
    calls: dict[int, list[_Call]] = {}
    counter = iter(range(10**9))
    wrapped = []
    for layer in _operations(model):
        # a quantised layer (model.quantize) runs quantized_call in place of call
        method = "quantized_call" if getattr(layer, "quantization_mode", None) else "call"
        original, key = getattr(layer, method), id(layer)

        def call(*args, _original=original, _key=key, **kwargs):
            order = next(counter)
            out = _original(*args, **kwargs)
            key_value = [kwargs[k] for k in ("value", "key") if kwargs.get(k) is not None]
            first = _shapes(out)
            calls.setdefault(_key, []).append(
                _Call(order, _shapes(list(args)) + _shapes(key_value), first[0] if first else ()))
            return out

        object.__setattr__(layer, method, call)
        wrapped.append((layer, method))
    try:
        yield calls
    finally:
        for layer, method in wrapped:
            object.__delattr__(layer, method)


def _example_for(model, example) -> Any:
    if example is not None:
        return example
    arrays = []
    for t in model.inputs:
        shape = tuple(t.shape)[1:]
        if any(d is None for d in shape):
            raise ValueError(f"the model's input {t.name!r} has shape {tuple(t.shape)} with an "
                             "unknown length; pass example=... (a batch of one, e.g. "
                             "np.zeros((1, 64), 'int32') for 64 tokens)")
        arrays.append(np.zeros((1, *shape), dtype=str(t.dtype)))
    return arrays[0] if len(arrays) == 1 else arrays


def _batch_of(example) -> int:
    first = keras.tree.flatten(example)[0]
    return int(np.shape(first)[0])


@dataclass
class FlopReport:
    """What :func:`count_flops` found, per example.

    ``rows`` has one row per layer reached (``layer`` path, ``type``, ``calls``, forward
    ``flops``, ``backward`` and a ``status``): *counted* (a rule applied), *free* (moves data
    only), *container* (its sublayers are listed below it; arithmetic of its own is not counted
    unless a rule says so) or *unknown* (no rule: left out of every total, listed in
    ``unknown``).
    """

    rows: pd.DataFrame
    batch: int = 1
    unknown: list[str] = field(default_factory=list)

    @property
    def forward(self) -> float:
        """Forward FLOPs per example: the sum of the counted rows."""
        return float(self.rows["flops"].sum(skipna=True))

    @property
    def training(self) -> float:
        """Training FLOPs per example: forward plus backward. The backward pass of a layer
        costs about twice its forward pass (one product for the gradient of its weights, one
        for the gradient of its input), except that nothing before the first layer with weights
        needs a gradient and that layer needs no input gradient (its input is the data). The
        optimizer's update (a few FLOPs per weight per step) is left out."""
        return self.forward + float(self.rows["backward"].sum(skipna=True))

    def by_type(self) -> pd.DataFrame:
        """Forward FLOPs and their share, summed by layer type, largest first."""
        counted = self.rows[self.rows.status == "counted"]
        out = counted.groupby("type")["flops"].sum().sort_values(ascending=False).to_frame()
        out["share"] = out["flops"] / out["flops"].sum()
        return out

    def __str__(self) -> str:
        note = f"; not counted (no rule): {', '.join(self.unknown)}" if self.unknown else ""
        return (f"{self.forward:,.0f} forward FLOPs per example, {self.training:,.0f} "
                f"training{note}")


def count_flops(model, example=None, *, strict: bool = False) -> FlopReport:
    """Count ``model``'s forward FLOPs per example, layer by layer (conventions in the module
    docstring), and estimate its training FLOPs.

    ``example`` is a batch the model accepts (default: zeros of a batch of one, when every
    input's shape is known). The model is called once, eagerly, to record the shapes every
    layer (nested layers included) really sees. Layers with no rule are reported in
    ``unknown`` and in the rows, never counted as zero; ``strict=True`` raises instead.

    >>> keras.utils.set_random_seed(0)
    >>> cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3),
    ...                         keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> report = count_flops(cnn)
    >>> report.rows.flops.tolist()     # 6 x 6 x 4 outputs of 9 multiply-adds + bias; flatten
    [2736.0, 0.0, 578.0]
    >>> report.training   # forward 3314; backward 2 x 578, and 1 x 2736 (no data gradient)
    7206.0
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    example = _example_for(model, example)
    batch = _batch_of(example)
    with _recording(model) as calls, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model(example, training=False)
    rows: list[dict] = []

    def visit(layer, path: str) -> None:
        seen = calls.get(id(layer), [])
        if isinstance(layer, keras.layers.InputLayer):
            return
        if not seen:  # on no path from the inputs to the outputs
            rows.append({"layer": path, "type": type(layer).__name__, "calls": 0, "order": -1,
                         "weights": False, "flops": 0.0, "status": "not called"})
            return
        rule = _rule_for(layer)
        base = {"layer": path, "type": type(layer).__name__, "calls": len(seen),
                "order": seen[0].order, "weights": bool(layer.trainable_weights)}
        if rule is not None:
            fn, recurse = rule
            flops = sum(fn(layer, c.inputs, c.output) for c in seen) / batch
            rows.append({**base, "flops": float(flops), "status": "counted"})
            if not recurse:
                return
        elif isinstance(layer, _FREE):
            rows.append({**base, "flops": 0.0, "status": "free"})
            return
        elif not _sublayers(layer):
            rows.append({**base, "flops": math.nan, "status": "unknown"})
            return
        else:
            rows.append({**base, "flops": 0.0, "status": "container"})
        inside(layer, path)

    def visit_op(op, path: str) -> None:
        seen = calls.get(id(op), [])
        if not seen:
            return
        rule, name = _op_rule(op), type(op).__name__
        row = {"layer": path, "type": name, "calls": len(seen), "order": seen[0].order,
               "weights": False}
        if rule is not None:
            flops = sum(rule(op, c.inputs, c.output) for c in seen) / batch
            rows.append({**row, "flops": float(flops), "status": "counted"})
        else:
            rows.append({**row, "flops": 0.0 if name in _FREE_OPS else math.nan,
                         "status": "free" if name in _FREE_OPS else "unknown"})

    def inside(layer, path: str) -> None:
        prefix = f"{path}/" if path else ""
        for op in _raw_ops(layer):
            visit_op(op, prefix + op.name)
        for child in _sublayers(layer):
            visit(child, prefix + child.name)

    inside(model, "")
    table = pd.DataFrame(rows, columns=["layer", "type", "calls", "order", "weights", "flops",
                                        "status"])
    table["backward"] = _backward(table)
    unknown = table.loc[table.status == "unknown", "layer"].tolist()
    if strict and unknown:
        raise ValueError(f"no FLOP rule for {unknown}; add one with "
                         "@dlbook.cost.register(LayerClass) or pass strict=False")
    return FlopReport(table.drop(columns=["order", "weights"]), batch, unknown)


def _backward(table: pd.DataFrame) -> pd.Series:
    factor = pd.Series(2.0, index=table.index)
    with_weights = table[table.weights & (table.status != "container")]
    if len(with_weights):
        first = with_weights.order.min()
        factor[table.order < first] = 0.0
        factor[(table.order == first) & table.weights] = 1.0
    return table.flops * factor


# --- TensorFlow's own count ---------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_tensorflow() -> Iterator[None]:
    """Silence the v1 profiler's deprecation notices, which TensorFlow logs on every call."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def tf_graph_flops(fn, *specs) -> int:
    """TensorFlow's profiler count of the FLOPs in the graph of the ``tf.function`` ``fn``
    traced for the ``tf.TensorSpec`` s ``specs`` (the whole batch, not per example).

    >>> import tensorflow as tf
    >>> tf_graph_flops(tf.function(lambda a, b: a @ b), tf.TensorSpec((2, 3)),
    ...                tf.TensorSpec((3, 4)))                # 2 * 2 * 4 * 3
    48
    """
    with _quiet_tensorflow():
        graph_def = fn.get_concrete_function(*specs).graph.as_graph_def(add_shapes=True)
        return _profile(graph_def)


def _profile(graph_def) -> int:
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        builder = tf.compat.v1.profiler.ProfileOptionBuilder
        options = builder(builder.float_operation()).with_empty_output().build()
        profile = tf.compat.v1.profiler.profile(
            graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options)
    return int(profile.total_float_ops)


def tf_profiler_flops(model, example, *, training: bool = False) -> float:
    """TensorFlow's count of the FLOPs per example in the graph of ``model`` on the batch
    ``example`` (``tf.compat.v1.profiler``, which has a FLOP formula per op type: MatMul,
    Conv2D, BiasAdd, pooling, softmax... but not Einsum or loops, so it undercounts attention
    and recurrent layers). ``training=True`` profiles the graph that also computes the gradients
    of the outputs' sum with respect to every trainable weight: forward plus backward.

    >>> net = keras.Sequential([keras.Input((100,)), keras.layers.Dense(10)])
    >>> tf_profiler_flops(net, np.zeros((1, 100), "float32"))
    2010.0
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    x = tf.convert_to_tensor(example)
    spec = tf.TensorSpec(x.shape, x.dtype)
    with _quiet_tensorflow():
        if training:
            @tf.function
            def step(batch):
                with tf.GradientTape() as tape:
                    total = tf.reduce_sum(model(batch, training=True))
                return tape.gradient(total, model.trainable_weights)

            graph_def = step.get_concrete_function(spec).graph.as_graph_def(add_shapes=True)
        else:
            fn = tf.function(lambda batch: model(batch, training=False))
            frozen = convert_variables_to_constants_v2(fn.get_concrete_function(spec))
            graph_def = frozen.graph.as_graph_def(add_shapes=True)
        return _profile(graph_def) / int(x.shape[0])


# --- time ----------------------------------------------------------------------------------------


def step_seconds(model, x, y, *, steps: int = 10, warmup: int = 2) -> float:
    """Median wall-clock seconds of one training step of a compiled ``model`` on the batch
    ``(x, y)`` (``train_on_batch``: forward, backward and the optimizer's update), after
    ``warmup`` steps that trace and compile the step function. The median resists the slow
    outliers of a shared machine.

    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> net.compile("sgd", "mse")
    >>> step_seconds(net, np.zeros((8, 4)), np.zeros(8), steps=3) > 0
    True
    """
    steps = positive_int(steps, "steps")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
        raise ValueError(f"warmup must be an int >= 1 (the first step traces), got {warmup!r}")
    if not getattr(model, "compiled", False):
        raise ValueError("compile the model first (model.compile(optimizer, loss)): a training "
                         "step needs a loss and an optimizer")
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)  # returns the loss as a Python float: the step has finished
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- energy and carbon ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerModel:
    """Power drawn while a job runs, and so the energy of a measured time, after the Green
    Algorithms method: ``watts = cores · watts_per_core · usage + memory_gb · watts_per_gb``,
    and ``energy = time · watts · pue``. Every number is an assumption you can change; state
    yours with the result.

    - ``watts_per_core``: the processor's thermal design power (TDP) over its cores, the usual
      stand-in when power is not measured; for a GPU job use the GPU's power instead.
    - ``usage``: the share of those cores the job keeps busy (1 = all of them, all the time).
    - ``pue``: the data centre's power usage effectiveness (cooling, power conversion);
      :data:`PUE_2018_AVERAGE` by default.

    >>> laptop = PowerModel(cores=4, watts_per_core=7.5, memory_gb=8, pue=1.0)
    >>> round(laptop.watts, 2), round(laptop.kwh(3600), 4)   # one hour
    (32.98, 0.033)
    """

    cores: int
    watts_per_core: float
    memory_gb: float = 0.0
    watts_per_gb: float = WATTS_PER_GB_MEMORY
    usage: float = 1.0
    pue: float = PUE_2018_AVERAGE

    def __post_init__(self) -> None:
        positive_int(self.cores, "cores")
        positive_number(self.watts_per_core, "watts_per_core",
                        hint="the processor's TDP in watts divided by its cores, e.g. 10")
        if not (isinstance(self.memory_gb, (int, float)) and self.memory_gb >= 0):
            raise ValueError(f"memory_gb must be >= 0 (GB of memory in use), got "
                             f"{self.memory_gb!r}")
        positive_number(self.watts_per_gb, "watts_per_gb", hint="about 0.37 W per GB")
        if not (isinstance(self.usage, (int, float)) and 0 < self.usage <= 1):
            raise ValueError(f"usage must be a fraction in (0, 1] of the cores kept busy, got "
                             f"{self.usage!r}")
        if not (isinstance(self.pue, (int, float)) and self.pue >= 1):
            raise ValueError(f"pue must be >= 1 (1.0: no overhead; an average data centre "
                             f"about 1.6), got {self.pue!r}")

    @property
    def watts(self) -> float:
        """Power of the job's share of the machine, before the data centre's overhead."""
        return self.cores * self.watts_per_core * self.usage + self.memory_gb * self.watts_per_gb

    def kwh(self, seconds: float) -> float:
        """Energy in kWh of ``seconds`` of work, data-centre overhead (PUE) included."""
        if not (isinstance(seconds, (int, float, np.floating)) and seconds >= 0):
            raise ValueError(f"seconds must be a time >= 0, got {seconds!r}")
        return float(seconds) * self.watts * self.pue / 3.6e6


def carbon_g(kwh: float, grid_g_per_kwh: float = GRID_US_G_PER_KWH) -> float:
    """Grams of CO2-equivalent emitted to supply ``kwh`` from a grid of the given intensity
    (:data:`GRID_US_G_PER_KWH` by default; :data:`GRID_FRANCE_G_PER_KWH` for a low-carbon one).
    Manufacturing the hardware (embodied carbon) is not in it.

    >>> round(carbon_g(2.0, GRID_FRANCE_G_PER_KWH))
    114
    """
    if not (isinstance(kwh, (int, float, np.floating)) and kwh >= 0):
        raise ValueError(f"kwh must be an energy >= 0 in kWh, got {kwh!r}")
    positive_number(grid_g_per_kwh, "grid_g_per_kwh",
                    hint="grams CO2e per kWh of the grid, e.g. 433 for the 2018 US average")
    return float(kwh) * float(grid_g_per_kwh)


class RaplMeter:
    """The CPU packages' energy counters (Intel RAPL, exposed by Linux under
    ``/sys/class/powercap``) read before and after a ``with`` block: measured energy in place
    of an assumed power. Where the counters are missing or unreadable (virtual machines,
    containers, most non-Linux systems) ``joules`` is ``None`` and ``why`` says so.

    >>> with RaplMeter(root="/nonexistent") as meter:
    ...     pass
    >>> meter.joules is None, meter.why
    (True, 'no RAPL counters under /nonexistent (not exposed on this machine)')
    """

    def __init__(self, root: str = "/sys/class/powercap") -> None:
        self.root = root
        self.joules: float | None = None
        self.why = ""
        self._domains = sorted(d for d in glob.glob(os.path.join(root, "intel-rapl:*"))
                               if re.fullmatch(r"intel-rapl:\d+", os.path.basename(d)))
        self._start: list[int] | None = None

    def _read(self) -> list[int] | None:
        if not self._domains:
            self.why = f"no RAPL counters under {self.root} (not exposed on this machine)"
            return None
        try:
            values = []
            for d in self._domains:
                with open(os.path.join(d, "energy_uj")) as f:
                    values.append(int(f.read()))
            return values
        except OSError as err:
            self.why = f"RAPL counters present but unreadable ({err.strerror}; needs root)"
            return None

    def __enter__(self) -> RaplMeter:
        self._start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read() if self._start is not None else None
        if self._start is None or end is None:
            return
        total = 0
        for d, a, b in zip(self._domains, self._start, end, strict=True):
            if b < a:  # the counter wrapped around
                with open(os.path.join(d, "max_energy_range_uj")) as f:
                    b += int(f.read())
            total += b - a
        self.joules = total / 1e6


# --- published figures ---------------------------------------------------------------------------


def published_runs() -> pd.DataFrame:
    """Energy and carbon of large training runs as their authors published them, one row per
    run, with the source. ``energy_kwh`` includes the data centre's overhead (PUE) where the
    source does; ``co2e_kg`` is operational (electricity) carbon unless the note says
    otherwise; ``train_flops`` only where the source states it.

    >>> runs = published_runs()
    >>> float(runs.loc["GPT-3 (175B)", "co2e_kg"])
    552000.0
    """
    lb = KG_PER_LB
    rows = [
        ("Transformer big (213M), 8 P100 GPUs, 84 h", 201.0, 192 * lb, None,
         "Strubell, Ganesh & McCallum (2019), ACL, Table 3 (PUE 1.58, US grid)"),
        ("BERT base (110M), 64 V100 GPUs, 79 h", 1_507.0, 1_438 * lb, None,
         "Strubell, Ganesh & McCallum (2019), ACL, Table 3 (PUE 1.58, US grid)"),
        ("Transformer with architecture search (estimate)", 656_347.0, 626_155 * lb, None,
         "Strubell, Ganesh & McCallum (2019), ACL, Table 3; Patterson et al. (2021) found the "
         "search actually run to emit about 88 times less"),
        ("BLOOM (176B)", 433_196.0, 24_700.0, None,
         "Luccioni, Viguier & Ligozat (2023), JMLR 24(253): 1,082,990 A100 GPU-hours, dynamic "
         "power only, French grid 57 g/kWh; 50.5 t with idle power and manufacturing"),
        ("GPT-3 (175B)", 1_287_000.0, 552_000.0, 3.14e23,
         "Patterson et al. (2021), arXiv:2104.10350, Table 4; FLOPs from Brown et al. (2020)"),
    ]
    return pd.DataFrame(rows, columns=["run", "energy_kwh", "co2e_kg", "train_flops", "source"]
                        ).set_index("run")
