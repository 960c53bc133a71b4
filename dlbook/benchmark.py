"""``dlbook bench``: how fast this machine trains a fixed set of small reference models.

A benchmark, not a test: it trains each reference model (an MLP, a CNN, an LSTM, a small
Transformer encoder and a small ViT, all built here with fixed shapes) for a fixed number of
warm-up and timed steps on *synthetic* random inputs of the right shape and dtype (the speed of
a dense training step does not depend on the values it sees), and records per model:

- **step time** (median and fastest of the timed steps, ``train_on_batch``: forward, backward,
  Adam's update) and **samples/s** (batch size / median step time);
- **peak memory**: the process's resident-set high-water mark while that model ran (Linux
  ``VmHWM``, reset between models; else ``resource.getrusage``, which never resets), with the
  resident memory just before it (``rss_before_mib``: TensorFlow itself, and what the
  allocator kept from the models before), and, on a GPU, TensorFlow's peak allocation
  (``tf.config.experimental.get_memory_info``);
- **model-FLOP utilisation (MFU)**: the model's training FLOP/s (the analytic count of
  :func:`dlbook.cost.count_flops`, forward plus backward, per example x samples/s) divided by
  the machine's dense float32 matmul throughput, which :func:`matmul_throughput` measures in
  the same run. MFU is relative to what *this* machine reaches on one large matmul, not to a
  vendor's peak figure.

:func:`run_benchmark` returns a JSON-ready dict (checked by :func:`validate`);
:func:`write_results` stores it as ``benchmarks/<machine-kind>.json`` and ``.md`` and updates
the include list of the book's page ``book/benchmarks.md``.

>>> sorted(REFERENCE_MODELS)
['cnn', 'lstm', 'mlp', 'transformer', 'vit']
>>> machine_kind({"gpu": None, "cpu": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
...               "cores": 2})
'cpu-intel-xeon-platinum-8375c-2core'
>>> machine_kind({"gpu": "NVIDIA H200", "cpu": "x", "cores": 16})
'gpu-nvidia-h200'
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import os
import platform
import re
import resource
import statistics
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.checks import positive_int
from dlbook.config import import_keras

keras = import_keras()

SCHEMA_VERSION = 1
SYNTHETIC_DATA = ("synthetic: standard-normal float32 inputs (uniform token ids for the "
                  "Transformer), uniform random class labels, fixed seed")
PAGE_BEGIN = "<!-- dlbook bench: begin (this block is rewritten by `dlbook bench`) -->"
PAGE_END = "<!-- dlbook bench: end -->"

__all__ = [
    "REFERENCE_MODELS", "Reference", "machine", "machine_kind", "matmul_throughput",
    "peak_rss_mib", "reset_peak_rss", "rss_mib", "run_benchmark", "time_training", "to_markdown",
    "update_page", "validate", "write_results",
]


# --- the reference models ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A reference model: how to build it, its input shape (without the batch), the input dtype,
    how many classes its labels have and the batch size it trains with."""

    name: str
    description: str
    build: Callable[[], Any]
    input_shape: tuple[int, ...]
    batch: int
    classes: int
    dtype: str = "float32"
    vocab: int | None = None

    def batch_data(self, batch: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """One synthetic batch ``(x, y)`` of the right shape and dtype.

        >>> x, y = REFERENCE_MODELS["transformer"].batch_data(batch=2)
        >>> x.shape, str(x.dtype), y.shape
        ((2, 64), 'int32', (2,))
        """
        n = positive_int(self.batch if batch is None else batch, "batch")
        rng = np.random.default_rng(seed)
        if self.vocab is not None:
            x = rng.integers(0, self.vocab, (n, *self.input_shape)).astype(self.dtype)
        else:
            x = rng.standard_normal((n, *self.input_shape)).astype(self.dtype)
        return x, rng.integers(0, self.classes, n).astype("int32")


def _encoder_block(h, heads: int, width: int, hidden: int):
    """A post-norm Transformer encoder block: self-attention and a two-layer MLP, each with a
    residual connection and layer normalisation."""
    L = keras.layers
    attended = L.MultiHeadAttention(heads, width // heads)(h, h)
    h = L.LayerNormalization()(L.Add()([h, attended]))
    mlp = L.Dense(width)(L.Dense(hidden, activation="relu")(h))
    return L.LayerNormalization()(L.Add()([h, mlp]))


def _mlp():
    L = keras.layers
    return keras.Sequential([keras.Input((784,)), L.Dense(512, activation="relu"),
                             L.Dense(256, activation="relu"), L.Dense(10)], name="mlp")


def _cnn():
    L = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
        L.Dense(128, activation="relu"), L.Dense(10)], name="cnn")


def _lstm():
    L = keras.layers
    return keras.Sequential([keras.Input((64, 32)), L.LSTM(128), L.Dense(10)], name="lstm")


def _transformer():
    L = keras.layers
    tokens = keras.Input((64,), dtype="int32")
    h = L.Embedding(1000, 128)(tokens)
    for _ in range(2):
        h = _encoder_block(h, heads=4, width=128, hidden=512)
    out = L.Dense(2)(L.GlobalAveragePooling1D()(h))
    return keras.Model(tokens, out, name="transformer")


def _vit():
    L = keras.layers
    image = keras.Input((32, 32, 3))
    patches = L.Conv2D(128, 4, strides=4)(image)  # 8 x 8 patches of 4 x 4 pixels
    h = L.Reshape((64, 128))(patches)
    for _ in range(2):
        h = _encoder_block(h, heads=4, width=128, hidden=256)
    out = L.Dense(10)(L.GlobalAveragePooling1D()(h))
    return keras.Model(image, out, name="vit")


REFERENCE_MODELS: dict[str, Reference] = {r.name: r for r in (
    Reference("mlp", "MLP 784-512-256-10", _mlp, (784,), 128, 10),
    Reference("cnn", "CNN, 2 conv + 2 dense, 28x28x1", _cnn, (28, 28, 1), 64, 10),
    Reference("lstm", "LSTM(128) over 64 steps of 32 features", _lstm, (64, 32), 64, 10),
    Reference("transformer", "2-block Transformer encoder, 64 tokens, width 128",
              _transformer, (64,), 32, 2, dtype="int32", vocab=1000),
    Reference("vit", "2-block ViT, 32x32x3 in 4x4 patches, width 128", _vit, (32, 32, 3),
              64, 10),
)}
"""The fixed reference set. Changing a model or a batch size changes every figure: bump
:data:`SCHEMA_VERSION` with it so old and new results are never compared."""


# --- the machine ------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                value = line.split(":", 1)[1].strip()
                if value and not value.isdigit():
                    return value
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _gpus() -> list[Any]:
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def _gpu_name() -> str | None:
    import tensorflow as tf

    gpus = _gpus()
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name") or gpus[0].name)


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU model (``/proc/cpuinfo``), usable cores, memory,
    the first GPU's name (``None`` without one), OS and Python."""
    return {
        "cpu": _cpu_model(),
        "cores": _cores(),
        "arch": platform.machine(),
        "memory_gib": _memory_gib(),
        "gpu": _gpu_name(),
        "os": f"{platform.system()} {platform.release()}",
    }


def _slug(text: str) -> str:
    text = re.sub(r"\((?:R|TM|tm|r)\)", " ", text)
    text = re.sub(r"@.*$", " ", text)
    text = re.sub(r"\b(?:CPU|Processor|[0-9]+-Core)\b", " ", text, flags=re.I)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def machine_kind(description: Mapping[str, Any]) -> str:
    """The file name results are stored under: ``gpu-<name>`` on a GPU machine, else
    ``cpu-<model>-<cores>core``. Two machines of one kind overwrite each other's figures."""
    if description.get("gpu"):
        return "gpu-" + _slug(str(description["gpu"]))
    return f"cpu-{_slug(str(description.get('cpu', '')))}-{int(description.get('cores', 0))}core"


# --- memory -----------------------------------------------------------------------------------

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak_rss() -> bool:
    """Reset the process's resident-set high-water mark (Linux >= 4.0: write 5 to
    ``/proc/self/clear_refs``); return whether it could."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """The process's peak resident memory in MiB since the last :func:`reset_peak_rss` (Linux
    ``VmHWM``), or since it started (``getrusage``) where ``/proc`` is missing.

    >>> peak_rss_mib() > 1
    True
    """
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024  # bytes vs KiB


def rss_mib() -> float | None:
    """The process's resident memory now, in MiB (Linux ``VmRSS``; ``None`` without ``/proc``).
    """
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_gpu_peak() -> None:
    import tensorflow as tf

    if _gpus():
        tf.config.experimental.reset_memory_stats("GPU:0")


def _gpu_peak_mib() -> float | None:
    import tensorflow as tf

    if not _gpus():
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


# --- dense matmul throughput ------------------------------------------------------------------


def matmul_throughput(n: int | None = None, *, repeats: int = 5, dtype: str = "float32",
                      seed: int = 0) -> dict[str, Any]:
    """The machine's dense matmul throughput: the fastest of ``repeats`` timed products of two
    ``n x n`` matrices (``tf.linalg.matmul`` under ``tf.function``, after one untimed call that
    traces it), at 2 n³ FLOPs each. ``n`` defaults to 2048 on a CPU and 8192 on a GPU: large
    enough that the product, not the call, dominates. The result is reduced to a scalar and
    read back, so the time covers the whole product on an asynchronous GPU too.

    >>> probe = matmul_throughput(64, repeats=2)
    >>> probe["n"], probe["flops"], probe["gflop_per_s"] > 0
    (64, 524288, True)
    """
    import tensorflow as tf

    if n is None:
        n = 8192 if _gpus() else 2048
    n = positive_int(n, "n (the matrix size)")
    repeats = positive_int(repeats, "repeats")
    if dtype not in ("float32", "float16", "bfloat16", "float64"):
        raise ValueError(f"dtype must be a floating type such as 'float32', got {dtype!r}")
    rng = np.random.default_rng(seed)
    a = tf.constant(rng.standard_normal((n, n)), dtype=dtype)
    b = tf.constant(rng.standard_normal((n, n)), dtype=dtype)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b), "float32")))
    float(product(a, b))  # trace, and warm the kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        float(product(a, b))  # reading the scalar back waits for the product
        times.append(time.perf_counter() - start)
    flops = 2 * n**3
    best = min(times)
    return {"n": n, "dtype": dtype, "repeats": repeats, "flops": flops,
            "best_s": best, "median_s": statistics.median(times),
            "gflop_per_s": flops / best / 1e9}


# --- training one model -----------------------------------------------------------------------


def _compile(model: Any) -> None:
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def time_training(reference: Reference, *, steps: int = 30, warmup: int = 3,
                  batch: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Build and compile ``reference``, run ``warmup`` untimed training steps (the first traces
    and compiles the step), then ``steps`` timed ones on one fixed synthetic batch; return step
    times, samples/s, training FLOPs and peak memory (not MFU: :func:`run_benchmark` adds it).
    ``batch`` overrides the reference's batch size. (It trains, so its example lives in
    tests/unit/test_benchmark.py rather than here.)
    """
    import tensorflow as tf

    from dlbook.cost import count_flops

    steps = positive_int(steps, "steps")
    warmup = positive_int(warmup, "warmup (the first step traces; at least 1)")
    n = positive_int(reference.batch if batch is None else batch, "batch")
    keras.backend.clear_session()  # drop the models before this one, and their graphs
    gc.collect()
    keras.utils.set_random_seed(seed)
    before = rss_mib()
    reset_peak_rss()
    _reset_gpu_peak()
    model = reference.build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flops = count_flops(model)
    _compile(model)
    x, y = reference.batch_data(n, seed)
    x, y = tf.constant(x), tf.constant(y)  # on the GPU when there is one: no copy per step
    for _ in range(warmup):
        loss = model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = model.train_on_batch(x, y)  # returns a Python float: the step has finished
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "name": reference.name,
        "description": reference.description,
        "params": int(model.count_params()),
        "batch": n,
        "input_shape": list(reference.input_shape),
        "steps": steps,
        "warmup": warmup,
        "step_s_median": median,
        "step_s_best": min(times),
        "samples_per_s": n / median,
        "train_flops_per_example": flops.training,
        "flops_not_counted": list(flops.unknown),
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_mib": before,
        "peak_gpu_mib": _gpu_peak_mib(),
        "final_loss": float(loss),
        "jit_compile": bool(getattr(model, "jit_compile", False)),
    }


# --- the whole run ----------------------------------------------------------------------------


def _select(models: Iterable[str] | None) -> list[Reference]:
    names = list(REFERENCE_MODELS) if models is None else list(models)
    if not names:
        raise ValueError(f"no models chosen; pick from {', '.join(REFERENCE_MODELS)}")
    unknown = [m for m in names if m not in REFERENCE_MODELS]
    if unknown:
        raise ValueError(f"unknown reference model(s) {unknown}; pick from "
                         f"{', '.join(REFERENCE_MODELS)}")
    return [REFERENCE_MODELS[m] for m in dict.fromkeys(names)]


def run_benchmark(models: Iterable[str] | None = None, *, steps: int = 30, warmup: int = 3,
                  matmul_n: int | None = None, references: Mapping[str, Reference] | None = None,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure the matmul throughput, then train each chosen reference model; return the
    result as a dict (the JSON that :func:`write_results` stores; :func:`validate` checks it).

    ``models`` names entries of :data:`REFERENCE_MODELS` (default: all), or of ``references``
    when given (the tests pass tiny ones). ``progress`` is called with one line per step done.
    """
    import tensorflow as tf

    from dlbook.execute import versions

    steps = positive_int(steps, "steps")
    warmup = positive_int(warmup, "warmup (the first step traces; at least 1)")
    if references is None:
        chosen = _select(models)
    else:
        pool = dict(references)
        names = list(pool) if models is None else list(models)
        missing = [m for m in names if m not in pool]
        if missing or not names:
            raise ValueError(f"unknown reference model(s) {missing or names}; pick from "
                             f"{', '.join(pool)}")
        chosen = [pool[m] for m in names]
    say = progress or (lambda line: None)
    described = machine()
    probe = matmul_throughput(matmul_n)
    say(f"matmul {probe['n']}x{probe['n']} {probe['dtype']}: {probe['gflop_per_s']:,.1f} GFLOP/s")
    rows = []
    for reference in chosen:
        row = time_training(reference, steps=steps, warmup=warmup)
        row["model_gflop_per_s"] = row["train_flops_per_example"] * row["samples_per_s"] / 1e9
        row["mfu"] = row["model_gflop_per_s"] / probe["gflop_per_s"]
        rows.append(row)
        say(f"{row['name']}: {row['step_s_median'] * 1e3:,.1f} ms/step, "
            f"{row['samples_per_s']:,.0f} samples/s, MFU {row['mfu']:.1%}")
    return {
        "schema": SCHEMA_VERSION,
        "kind": machine_kind(described),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": described,
        "device": "GPU:0" if described["gpu"] else "CPU",
        "versions": versions(),
        "settings": {"steps": steps, "warmup": warmup, "optimizer": "Adam",
                     "jit_compile": "Keras default ('auto'); per model in models[]",
                     "dtype": "float32",
                     "data": SYNTHETIC_DATA,
                     "tf32": bool(described["gpu"])
                     and bool(tf.config.experimental.tensor_float_32_execution_enabled())},
        "matmul": probe,
        "models": rows,
    }


# --- checking, rendering and storing a result -------------------------------------------------

_TOP = {"schema": int, "kind": str, "date": str, "machine": dict, "device": str,
        "versions": dict, "settings": dict, "matmul": dict, "models": list}
_MACHINE = {"cpu": str, "cores": int, "arch": str}
_MATMUL = {"n": int, "dtype": str, "flops": int, "best_s": float, "gflop_per_s": float}
_MODEL = {"name": str, "params": int, "batch": int, "steps": int, "step_s_median": float,
          "step_s_best": float, "samples_per_s": float, "train_flops_per_example": float,
          "model_gflop_per_s": float, "mfu": float, "peak_rss_mib": float}


def _check(block: Mapping[str, Any], fields: Mapping[str, type], where: str) -> list[str]:
    problems = []
    for key, kind in fields.items():
        if key not in block:
            problems.append(f"{where} has no {key!r}")
            continue
        value = block[key]
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              if kind is float else isinstance(value, kind) and not isinstance(value, bool))
        if not ok:
            problems.append(f"{where}[{key!r}] must be {kind.__name__}, got {value!r}")
        elif kind in (int, float) and not (math.isfinite(value) and value >= 0):
            problems.append(f"{where}[{key!r}] must be finite and >= 0, got {value!r}")
    return problems


def validate(result: Mapping[str, Any]) -> dict[str, Any]:
    """Check that ``result`` has the fields and types of a ``dlbook bench`` result (schema
    :data:`SCHEMA_VERSION`); return it as a dict, or raise ``ValueError`` listing every problem.

    >>> validate({"schema": 1})
    Traceback (most recent call last):
        ...
    ValueError: not a dlbook bench result (schema 1): result has no 'kind'; ... (7 more)
    """
    if not isinstance(result, Mapping):
        raise ValueError(f"a bench result is a JSON object, got {type(result).__name__}")
    problems = _check(result, _TOP, "result")
    if not problems:
        if result["schema"] != SCHEMA_VERSION:
            problems.append(f"schema {result['schema']} is not {SCHEMA_VERSION}; re-run "
                            "`dlbook bench` to measure with the current reference models")
        problems += _check(result["machine"], _MACHINE, "machine")
        problems += _check(result["matmul"], _MATMUL, "matmul")
        if not result["models"]:
            problems.append("models is empty")
        for i, row in enumerate(result["models"]):
            problems += (_check(row, _MODEL, f"models[{i}]") if isinstance(row, Mapping)
                         else [f"models[{i}] must be an object"])
    if problems:
        more = f"; ... ({len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(f"not a dlbook bench result (schema {SCHEMA_VERSION}): "
                         f"{problems[0]}{more}")
    return dict(result)


def _number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _title(result: Mapping[str, Any]) -> str:
    m = result["machine"]
    cpu = f"{m['cpu']}, {m['cores']} core{'s' if m['cores'] != 1 else ''}"
    return f"GPU: {m['gpu']} (host {cpu})" if m.get("gpu") else f"CPU: {cpu}"


def _xla_note(rows: Sequence[Mapping[str, Any]]) -> str:
    flags = {row["name"]: row.get("jit_compile") for row in rows}
    if any(v is None for v in flags.values()):
        return ""
    if all(flags.values()):
        return " Every step compiled with XLA (Keras' default)."
    on = [name for name, v in flags.items() if v]
    return f" Steps compiled with XLA: {', '.join(on) if on else 'none'}."


def to_markdown(result: Mapping[str, Any]) -> str:
    """The result as a Markdown section: a heading naming the machine, one line on how it was
    measured, and a table with one row per model.

    >>> row = {"name": "mlp", "params": 10, "batch": 8, "steps": 2, "step_s_median": 0.002,
    ...        "step_s_best": 0.001, "samples_per_s": 4000.0, "train_flops_per_example": 60.0,
    ...        "model_gflop_per_s": 0.00024, "mfu": 0.0001, "peak_rss_mib": 700.0}
    >>> result = {"schema": 1, "kind": "cpu-x-2core", "date": "2026-01-01T00:00:00+00:00",
    ...     "machine": {"cpu": "X", "cores": 2, "arch": "x86_64"}, "device": "CPU",
    ...     "versions": {"tensorflow": "2.21.0"}, "settings": {"warmup": 3},
    ...     "matmul": {"n": 64, "dtype": "float32", "flops": 524288, "best_s": 0.001,
    ...                "gflop_per_s": 2.4}, "models": [row]}
    >>> print(to_markdown(result).splitlines()[0])
    ### CPU: X, 2 cores
    >>> to_markdown(result).splitlines()[-1]
    '| mlp | 10 | 8 | 2.00 | 4,000 | 0.000 | 0.0 | 0.01% | 700 |'
    """
    result = validate(result)
    gpu = any(row.get("peak_gpu_mib") is not None for row in result["models"])
    v = result["versions"]
    stack = ", ".join(f"{k} {v[k]}" for k in ("tensorflow", "tensorflow-cpu", "keras") if k in v)
    mm = result["matmul"]
    lines = [
        f"### {_title(result)}",
        "",
        f"Measured {result['date'][:10]} on {result['device']} ({stack}); "
        f"dense {mm['dtype']} matmul {mm['n']}×{mm['n']}: **{_number(mm['gflop_per_s'], 1)} "
        f"GFLOP/s** (the MFU denominator). Median of {result['models'][0]['steps']} timed "
        f"training steps after {result['settings'].get('warmup', '?')} warm-up steps, "
        f"synthetic inputs.{_xla_note(result['models'])}",
        "",
        "| model | parameters | batch | step (ms) | samples/s | training GFLOP/step "
        "| model GFLOP/s | MFU | peak RSS (MiB) |" + (" peak GPU (MiB) |" if gpu else ""),
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|" + ("--:|" if gpu else ""),
    ]
    for row in result["models"]:
        step_gflop = row["train_flops_per_example"] * row["batch"] / 1e9
        cells = [row["name"], _number(row["params"]), _number(row["batch"]),
                 _number(row["step_s_median"] * 1e3, 2), _number(row["samples_per_s"]),
                 _number(step_gflop, 3), _number(row["model_gflop_per_s"], 1),
                 f"{row['mfu']:.2%}" if row["mfu"] < 0.1 else f"{row['mfu']:.1%}",
                 _number(row["peak_rss_mib"])]
        if gpu:
            peak = row.get("peak_gpu_mib")
            cells.append("–" if peak is None else _number(peak))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def update_page(page: Path, tables: Sequence[Path]) -> bool:
    """Rewrite the block between :data:`PAGE_BEGIN` and :data:`PAGE_END` of the book page
    ``page`` so that it includes every Markdown table in ``tables`` (CPU kinds first), with
    paths relative to the page. Return whether the page changed; raise if it lacks the markers.
    """
    text = page.read_text()
    if PAGE_BEGIN not in text or PAGE_END not in text:
        raise ValueError(f"{page} has no `{PAGE_BEGIN}` ... `{PAGE_END}` block; add one where "
                         "the tables belong")
    ordered = sorted(tables, key=lambda p: (not p.stem.startswith("cpu-"), p.stem))
    includes = [f"```{{include}} {os.path.relpath(t, page.parent)}\n```" for t in ordered]
    head, rest = text.split(PAGE_BEGIN, 1)
    _, tail = rest.split(PAGE_END, 1)
    new = "\n\n".join([head.rstrip("\n") + "\n\n" + PAGE_BEGIN, *includes, PAGE_END]) + tail
    if new != text:
        page.write_text(new)
        return True
    return False


def write_results(result: Mapping[str, Any], out: Path | str,
                  page: Path | str | None = None) -> tuple[Path, Path]:
    """Store ``result`` as ``<out>/<kind>.json`` and ``<out>/<kind>.md`` (replacing the figures
    of an earlier run on the same machine kind); with ``page``, rewrite its include block to
    list every table in ``out``. Return the two paths."""
    result = validate(result)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"{result['kind']}.json", out / f"{result['kind']}.md"
    json_path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    md_path.write_text(to_markdown(result) + "\n")
    if page is not None:
        update_page(Path(page), sorted(out.glob("*.md")))
    return json_path, md_path
