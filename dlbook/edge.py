"""Edge AI: convert a Keras model to a LiteRT (TensorFlow Lite) flatbuffer, with or without
post-training quantisation, run it with ``ai_edge_litert`` and measure what changed.

- :func:`affine_params`, :func:`quantize`, :func:`dequantize` — the affine (scale and zero
  point) mapping between real numbers and 8-bit integers that LiteRT uses for activations,
  in NumPy, so the arithmetic is visible.
- :func:`convert` — ``tf.lite.TFLiteConverter`` in one of :data:`MODES`: ``"float32"`` (no
  quantisation), ``"float16"`` (weights stored in half precision), ``"dynamic-int8"`` (int8
  weights, float activations) and ``"int8"`` (full-integer: weights *and* activations in int8,
  calibrated on a representative dataset, int8 input and output).
- :class:`LiteModel` — a flatbuffer loaded into ``ai_edge_litert.interpreter.Interpreter``:
  ``predict`` quantises inputs and dequantises outputs with the tensors' own scale and zero
  point, ``latency_ms`` times one image, ``tensors`` and ``ops`` list what the file holds.
- :func:`compare` — the one table of size, accuracy, agreement with the Keras model and
  latency per image, for the Keras model and each converted variant.

>>> scale, zero = affine_params(0.0, 1.0)      # pixels in [0, 1] -> int8
>>> round(scale * 255, 6), zero
(1.0, -128)
>>> quantize([0.0, 0.5, 1.0, 2.0], scale, zero).tolist()   # 2.0 is clipped to 127
[-128, 0, 127, 127]
>>> dequantize([-128, 127], scale, zero).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from dlbook.checks import positive_int
from dlbook.config import _c_stderr_silenced, import_keras

keras = import_keras()

__all__ = ["MODES", "LiteModel", "affine_params", "compare", "convert", "dequantize",
           "quantize"]

MODES = ("float32", "float16", "dynamic-int8", "int8")
"""The conversions :func:`convert` knows, from no quantisation to full-integer."""

_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


# --- the arithmetic -----------------------------------------------------------------------------


def _int_dtype(dtype: Any) -> str:
    name = np.dtype(dtype).name
    if name not in _RANGES:
        raise ValueError(f"dtype must be int8 or uint8 (the 8-bit types LiteRT quantises to), "
                         f"got {name}")
    return name


def affine_params(lo: float, hi: float, *, dtype: Any = "int8") -> tuple[float, int]:
    """Scale and zero point that map the real range ``[lo, hi]`` onto all 256 integer codes:
    ``scale = (hi - lo) / 255`` and ``zero_point`` the integer that stands for 0.0. The range
    is first widened to contain 0, so that 0.0 (padding, a ReLU's output) is exact.

    >>> affine_params(-1.0, 1.0)
    (0.00784313725490196, 0)
    >>> affine_params(0.0, 6.0, dtype="uint8")
    (0.023529411764705882, 0)
    """
    qmin, qmax = _RANGES[_int_dtype(dtype)]
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
        raise ValueError(f"need a finite range lo <= hi, got lo={lo}, hi={hi}")
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        return 1.0, 0 if qmin < 0 else qmin
    scale = (hi - lo) / (qmax - qmin)
    zero_point = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return scale, zero_point


def quantize(x: Any, scale: float, zero_point: int, dtype: Any = "int8") -> np.ndarray:
    """``q = clip(round(x / scale) + zero_point)`` to the range of ``dtype``: a value outside
    the calibrated range lands on the first or last code (it is *clipped*).

    >>> quantize([-0.1, 0.1], 0.1, 0).tolist()
    [-1, 1]
    """
    qmin, qmax = _RANGES[_int_dtype(dtype)]
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}; take it from affine_params or "
                         f"from the tensor's quantization parameters")
    q = np.round(np.asarray(x, dtype="float64") / scale) + int(zero_point)
    return np.clip(q, qmin, qmax).astype(_int_dtype(dtype))


def dequantize(q: Any, scale: float, zero_point: int) -> np.ndarray:
    """``(q - zero_point) * scale`` as float32: the real number an integer code stands for.

    >>> dequantize([0, 10], 0.5, 10).tolist()
    [-5.0, 0.0]
    """
    return ((np.asarray(q, dtype="float64") - int(zero_point)) * float(scale)).astype("float32")


# --- conversion ---------------------------------------------------------------------------------


def _check_model(model: Any) -> Any:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not model.built or not model.inputs:
        raise ValueError("the model has no Input yet; build it with keras.Input(...) first")
    return model


def _representative(x: Any, model: Any) -> np.ndarray:
    x = np.asarray(x, dtype="float32")
    want = tuple(model.inputs[0].shape[1:])
    if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want or len(x) == 0:
        raise ValueError(f"representative data must be a non-empty batch shaped (n, "
                         f"{', '.join(map(str, want))}), like the model's input; got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("representative data contains NaN or inf")
    return x


def convert(model: Any, mode: str = "float32", *, representative: Any = None) -> bytes:
    """Convert ``model`` to a LiteRT flatbuffer (the bytes of a ``.tflite`` file).

    ``"int8"`` needs ``representative`` inputs (a few hundred training images): the converter
    runs them through the model, records each activation's range and fixes the scales and
    zero points from it (calibration). Inputs and outputs of that model are int8 too, so a
    device can feed it bytes straight from a sensor. The other modes take no data. The
    converter's own prints and warnings are kept out of the notebook.

    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> flat = convert(m)
    >>> flat[4:8]                 # every LiteRT flatbuffer carries this file identifier
    b'TFL3'
    >>> convert(m, "int4")
    Traceback (most recent call last):
        ...
    ValueError: mode must be one of ('float32', 'float16', 'dynamic-int8', 'int8'), got 'int4'
    """
    import tensorflow as tf

    model = _check_model(model)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "int8" and representative is None:
        raise ValueError("mode 'int8' calibrates activations: pass representative=<a few "
                         "hundred training inputs>")
    if mode != "int8" and representative is not None:
        raise ValueError(f"representative data is used only by mode 'int8', not {mode!r}; "
                         f"leave it out")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        rep = _representative(representative, model)
        converter.representative_dataset = lambda: ([rep[i:i + 1]] for i in range(len(rep)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    logger = tf.get_logger()   # "Assets written to ...", logged at INFO
    level = logger.level
    logger.setLevel("ERROR")
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                _c_stderr_silenced():
            warnings.simplefilter("ignore")
            return converter.convert()
    finally:
        logger.setLevel(level)


# --- running ------------------------------------------------------------------------------------


class LiteModel:
    """A LiteRT flatbuffer in an ``ai_edge_litert`` interpreter, callable like a model on
    float inputs.

    ``num_threads`` is the number of CPU threads the kernels may use (1 is a small device's
    single core). ``xnnpack=False`` runs LiteRT's built-in kernels without the XNNPACK CPU
    delegate, which LiteRT otherwise applies by default.

    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> lite = LiteModel(convert(m))
    >>> x = np.ones((5, 4), "float32")
    >>> bool(np.abs(lite.predict(x) - m.predict(x, verbose=0)).max() < 1e-5)
    True
    >>> lite.input_dtype, lite.predict(x).shape
    ('float32', (5, 3))
    """

    def __init__(self, flatbuffer: bytes, *, num_threads: int = 1, xnnpack: bool = True) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        if not isinstance(flatbuffer, (bytes, bytearray)) or flatbuffer[4:8] != b"TFL3":
            raise ValueError("flatbuffer must be the bytes of a .tflite model (from convert(...) "
                             "or open(path, 'rb').read())")
        resolver = OpResolverType.AUTO if xnnpack else \
            OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.flatbuffer = bytes(flatbuffer)
        with _c_stderr_silenced():   # the "Created XNNPACK delegate" notice
            self.interpreter = Interpreter(model_content=self.flatbuffer,
                                           num_threads=positive_int(num_threads, "num_threads"),
                                           experimental_op_resolver_type=resolver)
            self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self._batch = int(self._input["shape"][0])

    @property
    def size_bytes(self) -> int:
        """Bytes of the flatbuffer: the file a device would store."""
        return len(self.flatbuffer)

    @property
    def input_dtype(self) -> str:
        return np.dtype(self._input["dtype"]).name

    @property
    def output_dtype(self) -> str:
        return np.dtype(self._output["dtype"]).name

    @property
    def input_quantization(self) -> tuple[float, int]:
        """``(scale, zero_point)`` of the input; ``(0.0, 0)`` for a float input."""
        scale, zero = self._input["quantization"]
        return float(scale), int(zero)

    def _resize(self, n: int) -> None:
        if n != self._batch:
            shape = [n, *self._input["shape"][1:]]
            self.interpreter.resize_tensor_input(self._input["index"], shape)
            self.interpreter.allocate_tensors()
            self._input = self.interpreter.get_input_details()[0]
            self._output = self.interpreter.get_output_details()[0]
            self._batch = n

    def encode(self, x: Any) -> np.ndarray:
        """``x`` (float) as the input tensor wants it: quantised with the input's scale and
        zero point for an integer model, unchanged (as float32) otherwise."""
        x = np.asarray(x, dtype="float32")
        want = tuple(self._input["shape"][1:])
        if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want:
            raise ValueError(f"x must be a batch shaped (n, {', '.join(map(str, want))}), got "
                             f"{x.shape}; a single example needs x[None]")
        if self.input_dtype in _RANGES:
            return quantize(x, *self.input_quantization, dtype=self.input_dtype)
        return x

    def _run(self, encoded: np.ndarray) -> np.ndarray:
        self._resize(len(encoded))
        self.interpreter.set_tensor(self._input["index"], encoded)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output["index"])

    def predict(self, x: Any, *, batch_size: int = 256) -> np.ndarray:
        """The model's outputs on ``x`` as float32 (dequantised for an integer model)."""
        batch_size = positive_int(batch_size, "batch_size")
        encoded = self.encode(x)
        if len(encoded) == 0:
            raise ValueError("x is empty")
        out = np.concatenate([self._run(encoded[i:i + batch_size])
                              for i in range(0, len(encoded), batch_size)])
        if self.output_dtype in _RANGES:
            scale, zero = self._output["quantization"]
            return dequantize(out, scale, zero)
        return out.astype("float32")

    __call__ = predict

    def latency_ms(self, x: Any, *, repeats: int = 100, warmup: int = 5) -> float:
        """Median milliseconds of one ``invoke`` on the batch ``x`` (usually one image),
        copying the input in and the output out; the input is encoded beforehand, as a
        device's sensor would deliver it."""
        return 1000.0 * statistics.median(self._times(x, repeats, warmup))

    def _times(self, x: Any, repeats: int, warmup: int) -> list[float]:
        repeats = positive_int(repeats, "repeats")
        encoded = self.encode(x)
        for _ in range(max(int(warmup), 1)):
            self._run(encoded)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self._run(encoded)
            times.append(time.perf_counter() - start)
        return times

    def tensors(self):
        """A table (pandas DataFrame) of every tensor: name, dtype, shape and how it is
        quantised (the number of scales: 1 per tensor, or one per output channel)."""
        import pandas as pd

        rows = []
        for t in self.interpreter.get_tensor_details():
            q = t["quantization_parameters"]
            rows.append({"name": t["name"], "dtype": np.dtype(t["dtype"]).name,
                         "shape": tuple(int(s) for s in t["shape"]),
                         "scales": len(q["scales"]),
                         "scale": float(q["scales"][0]) if len(q["scales"]) else np.nan,
                         "zero point": int(q["zero_points"][0]) if len(q["zero_points"])
                         else 0})
        return pd.DataFrame(rows).set_index(pd.Index(
            [t["index"] for t in self.interpreter.get_tensor_details()], name="tensor"))

    def ops(self, *, delegates: bool = False):
        """A table of the graph's operators with the dtypes of their inputs and outputs.
        Nodes that a delegate (XNNPACK) took over are listed once more as ``DELEGATE``; they
        are left out unless ``delegates``."""
        import pandas as pd

        rows = []
        for op in self.interpreter._get_ops_details():
            if op["op_name"] == "DELEGATE" and not delegates:
                continue
            rows.append({"op": op["op_name"],
                         "inputs": ", ".join(np.dtype(t).name for t in op["operand_types"]),
                         "outputs": ", ".join(np.dtype(t).name for t in op["result_types"])})
        return pd.DataFrame(rows)

    def constant(self, name_contains: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored values of the one constant tensor (a weight) whose name contains
        ``name_contains``, with its scales and zero points (empty for a float tensor)."""
        found = [t for t in self.interpreter.get_tensor_details()
                 if name_contains in t["name"] and len(t["shape"]) >= 2]
        found = [t for t in found if self._is_constant(t["index"])]
        if len(found) != 1:
            names = [t["name"] for t in self.interpreter.get_tensor_details()]
            raise ValueError(f"{len(found)} weight tensors match {name_contains!r}; names are "
                             f"{names}")
        t = found[0]
        q = t["quantization_parameters"]
        return self.interpreter.get_tensor(t["index"]), q["scales"], q["zero_points"]

    def _is_constant(self, index: int) -> bool:
        produced = {int(o) for op in self.interpreter._get_ops_details() for o in op["outputs"]}
        return index not in produced and index != self._input["index"]


# --- the table ----------------------------------------------------------------------------------


def _keras_call(model: Any):
    import tensorflow as tf

    fn = tf.function(lambda batch: model(batch, training=False))
    return lambda x: keras.ops.convert_to_numpy(fn(x))


def compare(model: Any, lite: Mapping[str, LiteModel], x: Any, y: Any, *,
            rounds: int = 5, repeats: int = 20):
    """One row per model: the Keras ``model`` first, then each ``lite`` variant. Columns:
    ``size (KB)`` (the ``.keras`` file for Keras, the flatbuffer otherwise), ``accuracy`` on
    ``(x, y)``, ``agreement`` (the fraction of ``x`` on which the variant predicts the same
    class as the Keras model) and ``latency (ms)``: the median time of one image at batch 1,
    measured in ``rounds`` that take turns between the models, so that a busy moment of a
    shared machine slows them all alike. Keras runs through a compiled ``tf.function``.

    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> t = compare(m, {"float32": LiteModel(convert(m))}, np.eye(4), [0, 1, 2, 0],
    ...             rounds=1, repeats=2)
    >>> t.index.tolist(), float(t.loc["float32", "agreement"])
    (['Keras', 'float32'], 1.0)
    """
    import pandas as pd

    from dlbook.compression import keras_file_bytes

    model = _check_model(model)
    if not lite:
        raise ValueError("lite is empty; pass {'name': LiteModel(convert(model, mode)), ...}")
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of equal length, got {len(x)} and "
                         f"{len(y)}")
    rounds, repeats = positive_int(rounds, "rounds"), positive_int(repeats, "repeats")
    reference = np.concatenate([model.predict_on_batch(x[i:i + 512])
                                for i in range(0, len(x), 512)]).argmax(axis=1)
    one = x[:1]
    keras_fn = _keras_call(model)
    tensor = keras.ops.convert_to_tensor(one)
    for _ in range(3):
        keras_fn(tensor)
    times: dict[str, list[float]] = {"Keras": [], **{name: [] for name in lite}}
    for _ in range(rounds):
        for _ in range(repeats):
            start = time.perf_counter()
            keras_fn(tensor)
            times["Keras"].append(time.perf_counter() - start)
        for name, variant in lite.items():
            times[name] += variant._times(one, repeats, warmup=2)
    with warnings.catch_warnings():   # Keras' saving trips a NumPy 2 deprecation notice
        warnings.simplefilter("ignore", DeprecationWarning)
        keras_kb = keras_file_bytes(model) / 1024
    rows = {"Keras": {"size (KB)": keras_kb,
                      "accuracy": float((reference == y).mean()), "agreement": 1.0}}
    for name, variant in lite.items():
        pred = variant.predict(x).argmax(axis=1)
        rows[name] = {"size (KB)": variant.size_bytes / 1024,
                      "accuracy": float((pred == y).mean()),
                      "agreement": float((pred == reference).mean())}
    table = pd.DataFrame(rows).T
    table["latency (ms)"] = [1000.0 * statistics.median(times[name]) for name in table.index]
    return table
