"""Measure how fast things run: a timer, input-pipeline throughput, and ``fit`` with seconds
per epoch.

Timings on a shared machine are noisy. Every helper here can repeat a measurement and keep the
best run (the least disturbed one), which is the usual practice for benchmarks.

>>> with Timer() as t:
...     _ = sum(range(10_000))
>>> t.seconds > 0
True
>>> throughput([[1, 2], [3, 4], [5]]).samples   # three batches, five samples
5
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlbook.config import import_keras

keras = import_keras()


# --- a timer ------------------------------------------------------------------------------------


class Timer:
    """Wall-clock time of a ``with`` block, in seconds (``time.perf_counter``).

    ``seconds`` is the elapsed time so far while the block runs, and the final time after it.

    >>> with Timer() as t:
    ...     time.sleep(0.01)
    >>> 0.01 <= t.seconds < 1
    True
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._stop: float | None = None

    def __enter__(self) -> Timer:
        self._start, self._stop = time.perf_counter(), None
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = time.perf_counter()

    @property
    def seconds(self) -> float:
        if self._start is None:
            raise RuntimeError("the timer has not started; use it as `with Timer() as t: ...`")
        end = self._stop if self._stop is not None else time.perf_counter()
        return end - self._start

    def __repr__(self) -> str:
        state = "not started" if self._start is None else f"{self.seconds:.3f} s"
        return f"Timer({state})"


# --- input-pipeline throughput --------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """How many samples and batches a pipeline delivered, and in how many seconds."""

    samples: int
    batches: int
    seconds: float

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else math.inf

    @property
    def batches_per_s(self) -> float:
        return self.batches / self.seconds if self.seconds > 0 else math.inf

    def __str__(self) -> str:
        return (f"{self.samples_per_s:,.0f} samples/s · {self.batches_per_s:,.1f} batches/s "
                f"({self.samples:,} samples in {self.seconds:.3f} s)")


def _positive_int(value: Any, name: str, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _first_leaf(element: Any) -> Any:
    if isinstance(element, Mapping):
        if not element:
            raise ValueError("cannot count samples in an empty dict element")
        return _first_leaf(next(iter(element.values())))
    if isinstance(element, (tuple, list)) and element and not np.isscalar(element[0]):
        return _first_leaf(element[0])
    return element


def _batch_size(element: Any) -> int:
    leaf = _first_leaf(element)
    shape = np.shape(leaf) if not hasattr(leaf, "shape") else tuple(leaf.shape)
    if len(shape) == 0:
        raise ValueError(
            "an element has no batch dimension (it is a scalar); pass batched=False to count "
            "each element as one sample"
        )
    return int(shape[0])


def _is_tf_dataset(data: Any) -> bool:
    tf = sys.modules.get("tensorflow")  # a tf.data pipeline implies TensorFlow is imported
    return tf is not None and isinstance(data, tf.data.Dataset)


def _one_pass_tf(dataset: Any, batched: bool) -> tuple[int, int]:
    """Consume a tf.data pipeline inside TensorFlow (``reduce``): no Python cost per element."""
    import tensorflow as tf

    def count(state, element):
        batches, samples = state
        if batched:
            leaf = tf.nest.flatten(element)[0]
            if leaf.shape.rank == 0:
                raise ValueError(
                    "the pipeline's elements have no batch dimension; add .batch(...) or pass "
                    "batched=False to count each element as one sample"
                )
            n = tf.cast(tf.shape(leaf)[0], tf.int64)
        else:
            n = tf.constant(1, tf.int64)
        return batches + 1, samples + n

    start = (tf.constant(0, tf.int64), tf.constant(0, tf.int64))
    batches, samples = dataset.reduce(start, count)
    return int(batches), int(samples)


def _one_pass_python(data: Iterable, batched: bool) -> tuple[int, int]:
    batches = samples = 0
    for element in data:
        batches += 1
        samples += _batch_size(element) if batched else 1
    return batches, samples


def throughput(
    data: Iterable,
    *,
    epochs: int = 1,
    warmup: int = 0,
    batched: bool = True,
    repeats: int = 1,
) -> Throughput:
    """Read ``data`` for ``epochs`` full passes and report samples and batches per second.

    ``data`` is a ``tf.data.Dataset`` (consumed inside TensorFlow, so the figure is the
    pipeline's own speed, not Python's) or any re-iterable of batches (a list, a Keras
    ``PyDataset``...). ``warmup`` passes run first and are not timed: use one when the first
    pass differs (it fills a ``cache()``, or traces functions). Batches are counted by the
    leading dimension of their first array; pass ``batched=False`` when each element is one
    sample. With ``repeats`` > 1 the timed passes run that many times and the fastest counts.

    >>> round(throughput([np.zeros((4, 2))] * 3, epochs=2).samples / 2)
    12
    >>> throughput(range(5), batched=False).batches
    5
    """
    epochs = _positive_int(epochs, "epochs", 1)
    warmup = _positive_int(warmup, "warmup", 0)
    repeats = _positive_int(repeats, "repeats", 1)
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(
            f"data must be a tf.data.Dataset or an iterable of batches, got {type(data).__name__}"
        )
    if iter(data) is data and epochs + warmup + repeats > 2:
        raise ValueError(
            "data is a one-shot iterator (a generator?): it cannot be read more than once. Pass "
            "a re-iterable (a tf.data.Dataset, a list, a PyDataset), or epochs=1, warmup=0, "
            "repeats=1"
        )
    one_pass = _one_pass_tf if _is_tf_dataset(data) else _one_pass_python
    for _ in range(warmup):
        one_pass(data, batched)
    best: Throughput | None = None
    for _ in range(repeats):
        batches = samples = 0
        with Timer() as timer:
            for _ in range(epochs):
                b, s = one_pass(data, batched)
                batches, samples = batches + b, samples + s
        if batches == 0:
            raise ValueError("data yielded no elements; is the dataset empty?")
        run = Throughput(samples, batches, timer.seconds)
        if best is None or run.seconds < best.seconds:
            best = run
    assert best is not None
    return best


def throughput_table(
    pipelines: Mapping[str, Iterable],
    *,
    epochs: int = 1,
    warmup: int = 0,
    batched: bool | Mapping[str, bool] = True,
    repeats: int = 1,
):
    """Measure several pipelines and return a table (pandas DataFrame), one row each, with
    samples/s, batches/s, seconds and the speed-up over the first row.

    ``batched`` may be one value for all or a dict naming it per pipeline.

    >>> table = throughput_table({"a": [[1, 2]] * 4, "b": [[1, 2, 3, 4]] * 2})
    >>> table.columns.tolist()
    ['samples/s', 'batches/s', 'seconds', 'speed-up']
    >>> float(table.loc["a", "speed-up"])
    1.0
    """
    import pandas as pd

    if not pipelines:
        raise ValueError("pipelines is empty; pass {'name': dataset, ...}")
    if isinstance(batched, Mapping):
        missing = [k for k in pipelines if k not in batched]
        if missing:
            raise ValueError(f"batched has no entry for {missing}; give one per pipeline")
    rows = {}
    for name, data in pipelines.items():
        flag = batched[name] if isinstance(batched, Mapping) else batched
        rows[name] = throughput(data, epochs=epochs, warmup=warmup, batched=flag, repeats=repeats)
    first = next(iter(rows.values())).samples_per_s
    table = pd.DataFrame(
        {
            "samples/s": [r.samples_per_s for r in rows.values()],
            "batches/s": [r.batches_per_s for r in rows.values()],
            "seconds": [r.seconds for r in rows.values()],
            "speed-up": [r.samples_per_s / first for r in rows.values()],
        },
        index=list(rows),
    )
    return table


# --- fit, timed -----------------------------------------------------------------------------------


class EpochTimer(keras.callbacks.Callback):
    """A callback that records the wall-clock seconds of every training epoch.

    ``epoch_seconds`` holds one entry per epoch (training and, when given, validation).

    >>> timer = EpochTimer()
    >>> timer.epoch_seconds
    []
    """

    def __init__(self) -> None:
        super().__init__()
        self.epoch_seconds: list[float] = []
        self.steps_per_epoch: int | None = None
        self._start = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch_seconds = []
        self.steps_per_epoch = self.params.get("steps") if self.params else None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_seconds.append(time.perf_counter() - self._start)


@dataclass
class TimedHistory:
    """What :func:`timed_fit` returns: the ``History``, seconds per epoch and samples per epoch."""

    history: Any
    epoch_seconds: list[float]
    samples_per_epoch: int | None = None
    steps_per_epoch: int | None = None
    fit_seconds: float = field(default=math.nan)

    @property
    def seconds_per_epoch(self) -> float:
        """Median seconds per epoch, leaving out the first epoch (it traces and compiles the
        step function) when there are at least two."""
        steady = self.epoch_seconds[1:] if len(self.epoch_seconds) > 1 else self.epoch_seconds
        return float(np.median(steady))

    @property
    def fastest_epoch_seconds(self) -> float:
        """Seconds of the fastest epoch after the first: the one least disturbed by other work
        on a shared machine (the first epoch traces and compiles, so it is left out when there
        are at least two)."""
        steady = self.epoch_seconds[1:] if len(self.epoch_seconds) > 1 else self.epoch_seconds
        return float(min(steady))

    @property
    def samples_per_s(self) -> float:
        """Training samples per second in the steady epochs (needs ``samples_per_epoch``)."""
        if self.samples_per_epoch is None:
            raise ValueError(
                "samples per epoch unknown (fit on a dataset?); pass n_samples=... to timed_fit"
            )
        return self.samples_per_epoch / self.seconds_per_epoch

    def __str__(self) -> str:
        rate = f" · {self.samples_per_s:,.0f} samples/s" if self.samples_per_epoch else ""
        return (f"{len(self.epoch_seconds)} epochs in {self.fit_seconds:.1f} s · "
                f"{self.seconds_per_epoch:.3f} s/epoch after the first{rate}")


def _training_samples(x: Any, validation_split: float) -> int | None:
    if x is None or _is_tf_dataset(x) or isinstance(x, keras.utils.PyDataset):
        return None
    first = _first_leaf(x)
    try:
        n = len(first)
    except TypeError:
        return None
    return int(math.ceil(n * (1.0 - validation_split)))


def timed_fit(
    model: Any,
    x: Any = None,
    y: Any = None,
    *,
    n_samples: int | None = None,
    **fit_kwargs: Any,
) -> TimedHistory:
    """``model.fit(x, y, **fit_kwargs)`` that also times every epoch.

    Samples per epoch are taken from ``x`` (minus any ``validation_split``) or from
    ``n_samples`` when ``x`` is a dataset. ``verbose`` defaults to 0, and ``shuffle`` to False
    for a ``tf.data`` pipeline (it shuffles itself).

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> run = timed_fit(model, np.zeros((64, 3)), np.zeros(64), epochs=3, batch_size=16)
    >>> len(run.epoch_seconds), run.samples_per_epoch, run.steps_per_epoch
    (3, 64, 4)
    """
    if not hasattr(model, "fit"):
        raise TypeError(f"model must be a compiled Keras model, got {type(model).__name__}")
    if n_samples is not None:
        n_samples = _positive_int(n_samples, "n_samples", 1)
    callbacks = list(fit_kwargs.pop("callbacks", None) or [])
    timer = EpochTimer()
    fit_kwargs.setdefault("verbose", 0)
    if _is_tf_dataset(x):  # a pipeline shuffles itself; fit warns when asked to
        fit_kwargs.setdefault("shuffle", False)
    with Timer() as total:
        history = model.fit(x, y, callbacks=[*callbacks, timer], **fit_kwargs)
    samples = n_samples or _training_samples(x, float(fit_kwargs.get("validation_split", 0.0)))
    return TimedHistory(history, list(timer.epoch_seconds), samples, timer.steps_per_epoch,
                        total.seconds)

