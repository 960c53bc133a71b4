"""Training at scale on one machine: data-parallel workers on loopback, a crash and a restart,
and the speed levers of a single process.

**Workers.** ``tf.distribute.MultiWorkerMirroredStrategy`` (MWMS) runs one copy of the model
in every worker process; each worker takes its share of every global batch, computes
gradients, and an all-reduce sums them so that every copy applies the same update. Workers
find each other through the ``TF_CONFIG`` environment variable (:func:`tf_config`), here on
127.0.0.1 ports that :func:`free_ports` picks. :func:`launch` starts N workers of this module
(``python -m dlbook.distributed worker ...``), waits with a hard timeout, stops every worker
as soon as one fails (as a cluster manager would), never leaves a process behind, and returns
what each worker wrote: its loss per epoch, a checksum of its final weights and its samples
per second (:class:`WorkerResult`).

**The job.** :class:`JobConfig` says what a worker trains: a small, seeded MLP on a real,
built-in data set (scikit-learn's digits by default), with a fixed global batch split evenly
across the workers, plain SGD, optional ``keras.callbacks.BackupAndRestore`` into
``backup_dir``, and ``crash_at=(epoch, step)`` to make one worker die (``os._exit``) in the
middle of training. :func:`train` runs it in the current process under any strategy
(``MirroredStrategy`` there), so one machine can compare one replica with two.

>>> len(set(free_ports(3)))
3
>>> tf_config([5001, 5002], 1)["task"]
{'type': 'worker', 'index': 1}
>>> JobConfig(global_batch=64).batch_per_worker(2)
32
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.checks import positive_int, positive_number

__all__ = [
    "CRASH_EXIT_CODE",
    "JobConfig",
    "LaunchError",
    "WorkerResult",
    "draw_data_parallel",
    "encode_png",
    "free_ports",
    "image_pipeline",
    "launch",
    "lever_table",
    "max_weight_difference",
    "precision",
    "tf_config",
    "train",
    "weights_checksum",
    "without_op_determinism",
]

CRASH_EXIT_CODE = 42
"""The exit status of a worker that crashed on purpose (``crash_at``)."""


class LaunchError(RuntimeError):
    """A worker failed, or the job ran past its timeout; the message holds the workers' logs."""


# --- the cluster: ports and TF_CONFIG -----------------------------------------------------------


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports on 127.0.0.1 that are free right now (the OS picks them).

    The sockets are held open together until all are chosen, so the ports differ; another
    program could still take one before a worker binds it, which is rare on one machine.

    >>> ports = free_ports(2)
    >>> ports[0] != ports[1] and all(1024 <= p < 65536 for p in ports)
    True
    """
    n = positive_int(n, "n")
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return ports


def tf_config(ports: Sequence[int], index: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of workers on 127.0.0.1 ``ports``.

    >>> tf_config([5001, 5002], 0)["cluster"]
    {'worker': ['127.0.0.1:5001', '127.0.0.1:5002']}
    >>> tf_config([5001], 1)
    Traceback (most recent call last):
        ...
    ValueError: index must be in 0..0 for 1 worker(s), got 1
    """
    ports = [positive_int(p, "each port") for p in ports]
    if not ports:
        raise ValueError("ports is empty; pass one port per worker, e.g. free_ports(2)")
    if not isinstance(index, (int, np.integer)) or not 0 <= index < len(ports):
        raise ValueError(f"index must be in 0..{len(ports) - 1} for {len(ports)} worker(s), "
                         f"got {index!r}")
    return {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
            "task": {"type": "worker", "index": int(index)}}


# --- the job ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobConfig:
    """What every worker trains. All workers of a job get the same config.

    ``global_batch`` samples make one step, whatever the number of workers: each of N workers
    computes gradients on ``global_batch / N`` of them. ``crash_at=(epoch, step)`` makes
    worker ``crash_worker`` exit (status :data:`CRASH_EXIT_CODE`) after that step of that
    epoch (both counted from 0), without saving anything.

    >>> JobConfig(crash_at=(1, 3)).crash_at
    (1, 3)
    >>> JobConfig(global_batch=0)
    Traceback (most recent call last):
        ...
    ValueError: global_batch must be a positive int, got 0
    """

    dataset: str = "digits"
    n_train: int | None = None
    epochs: int = 4
    global_batch: int = 64
    hidden: int = 64
    learning_rate: float = 0.1
    seed: int = 0
    backup_dir: str | None = None
    crash_at: tuple[int, int] | None = None
    crash_worker: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:
        positive_int(self.epochs, "epochs")
        positive_int(self.global_batch, "global_batch")
        positive_int(self.hidden, "hidden")
        positive_number(self.learning_rate, "learning_rate")
        if self.n_train is not None:
            positive_int(self.n_train, "n_train")
        if self.threads is not None:
            positive_int(self.threads, "threads")
        if self.crash_at is not None:
            crash = tuple(self.crash_at)
            if len(crash) != 2 or not all(isinstance(v, int) and v >= 0 for v in crash):
                raise ValueError(f"crash_at must be (epoch, step), two ints >= 0, got "
                                 f"{self.crash_at!r}")
            if crash[0] >= self.epochs:
                raise ValueError(f"crash_at epoch {crash[0]} never comes: the job has "
                                 f"{self.epochs} epochs (0..{self.epochs - 1})")
            object.__setattr__(self, "crash_at", crash)

    def batch_per_worker(self, n_workers: int) -> int:
        """Samples per worker and step; the global batch must split evenly.

        >>> JobConfig(global_batch=64).batch_per_worker(3)
        Traceback (most recent call last):
            ...
        ValueError: global_batch 64 does not split evenly across 3 workers; use a multiple of 3
        """
        n_workers = positive_int(n_workers, "n_workers")
        if self.global_batch % n_workers:
            raise ValueError(f"global_batch {self.global_batch} does not split evenly across "
                             f"{n_workers} workers; use a multiple of {n_workers}")
        return self.global_batch // n_workers

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JobConfig:
        values = json.loads(text)
        if values.get("crash_at") is not None:
            values["crash_at"] = tuple(values["crash_at"])
        return cls(**values)


@dataclass
class WorkerResult:
    """What one worker reports at the end of training."""

    index: int
    n_workers: int
    initial_epoch: int
    losses: list[float]
    checksum: str
    samples_per_s: float
    epoch_seconds: list[float]
    weights: list[np.ndarray] = field(repr=False, default_factory=list)

    @property
    def epochs_run(self) -> int:
        """Epochs this process trained (fewer than the job's after a restore)."""
        return len(self.losses)


def weights_checksum(weights: Sequence[np.ndarray], decimals: int = 5) -> str:
    """A short hash of weights rounded to ``decimals``: equal models give equal hashes.

    >>> weights_checksum([np.zeros(3)]) == weights_checksum([np.full(3, 1e-9)])
    True
    """
    h = hashlib.sha256()
    for w in weights:
        h.update(np.round(np.asarray(w, dtype="float64"), decimals).tobytes())
    return h.hexdigest()[:12]


def max_weight_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """The largest absolute difference between two models' weights (same architecture).

    >>> max_weight_difference([np.zeros(2)], [np.array([0.0, 0.25])])
    0.25
    """
    if len(a) != len(b) or any(np.shape(x) != np.shape(y) for x, y in zip(a, b, strict=False)):
        raise ValueError("the two weight lists differ in shape: compare the same architecture")
    pairs = zip(a, b, strict=True)
    return float(max(np.max(np.abs(np.asarray(x) - np.asarray(y))) for x, y in pairs))


def _data(config: JobConfig) -> tuple[np.ndarray, np.ndarray]:
    from dlbook import data

    ds = data.load(config.dataset)
    if config.n_train is not None and config.n_train < len(ds.x_train):
        ds = ds.subset(n_train=config.n_train, seed=config.seed)
    x = ds.x_train.reshape(len(ds.x_train), -1).astype("float32")
    return x, ds.y_train.astype("int32")


def _model(keras: Any, n_features: int, config: JobConfig) -> Any:
    keras.utils.set_random_seed(config.seed)
    model = keras.Sequential([keras.Input((n_features,)),
                              keras.layers.Dense(config.hidden, activation="relu"),
                              keras.layers.Dense(10)], name="mlp")
    model.compile(optimizer=keras.optimizers.SGD(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _crash_callback(keras: Any, epoch: int, step: int) -> Any:
    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, e: int, logs: dict | None = None) -> None:
            self._epoch = e

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if self._epoch == epoch and batch == step:
                sys.stdout.flush()
                os._exit(CRASH_EXIT_CODE)  # no clean-up, no save: like a lost machine

    return Crash()


def _patch_symbolic_build(model: Any, strategy: Any) -> None:
    """Work around keras-team/keras#20585 (open; Keras 3.15, TF 2.21): before its first step,
    ``fit`` under a multi-worker strategy reduces one whole ``(x, y)`` batch with
    ``strategy.reduce``, which MWMS cannot do for a tuple, so ``fit`` fails. That batch only
    gives the shapes to build the model's variables with, so this worker's own slice of it
    serves as well."""
    import tensorflow as tf

    build = model._maybe_symbolic_build

    def leafwise(iterator: Any = None, data_batch: Any = None) -> Any:
        if iterator is not None:
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0], batch)
                break
        return build(data_batch=data_batch)

    model._maybe_symbolic_build = leafwise


def _patch_scalar_mean() -> None:
    """Work around the second MWMS fault of ``fit`` in Keras 3.15: after each step it averages
    the step's logs across workers with ``strategy.reduce("MEAN", v, axis=0)``, which fails
    for a scalar such as the loss. Scalars are averaged with ``axis=None`` instead. Patches
    Keras' TensorFlow trainer module of this process once; a worker process is its own."""
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica
    if getattr(original, "_dlbook_patched", False):
        return

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if (reduction not in ("auto", "mean")
                or not tf_trainer._collective_all_reduce_multi_worker(strategy)):
            return original(values, strategy, reduction)

        def mean(v: Any) -> Any:
            local = strategy.experimental_local_results(v)[0]
            return strategy.reduce("MEAN", v, axis=0 if local.shape.rank else None)

        return tree.map_structure(mean, values)

    reduce_per_replica._dlbook_patched = True  # type: ignore[attr-defined]
    tf_trainer.reduce_per_replica = reduce_per_replica


def train(config: JobConfig, strategy: Any = None, *, index: int = 0) -> WorkerResult:
    """Train ``config``'s model under ``strategy`` (default: the current one) and report.

    The data pipeline is batched with the *global* batch and shards by data, so that each
    of the strategy's workers gets its slice of every batch and the updates match a single
    worker's. Used by the worker processes, and in-process with ``MirroredStrategy``.
    """
    import tensorflow as tf

    from dlbook.bench import EpochTimer
    from dlbook.config import import_keras

    keras = import_keras()
    strategy = strategy or tf.distribute.get_strategy()
    n_workers = int(strategy.num_replicas_in_sync)
    config.batch_per_worker(n_workers)
    x, y = _data(config)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = (tf.data.Dataset.from_tensor_slices((x, y))
               .batch(config.global_batch, drop_remainder=True).with_options(options))
    with strategy.scope():
        model = _model(keras, x.shape[1], config)
    if n_workers > 1 and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _patch_scalar_mean()
        _patch_symbolic_build(model, strategy)
    callbacks: list[Any] = []
    if config.backup_dir:  # each worker keeps its own copy: no two processes write one file
        callbacks.append(keras.callbacks.BackupAndRestore(
            str(Path(config.backup_dir) / f"worker-{index}"), save_freq="epoch"))
    if config.crash_at is not None and index == config.crash_worker:
        callbacks.append(_crash_callback(keras, *config.crash_at))
    timer = EpochTimer()
    history = model.fit(dataset, epochs=config.epochs, callbacks=[*callbacks, timer],
                        shuffle=False, verbose=0)
    losses = [float(v) for v in history.history.get("loss", [])]
    samples = (len(x) // config.global_batch) * config.global_batch
    steady = timer.epoch_seconds[1:] or timer.epoch_seconds
    weights = [np.asarray(w) for w in model.get_weights()]
    return WorkerResult(index=index, n_workers=n_workers,
                        initial_epoch=config.epochs - len(losses), losses=losses,
                        checksum=weights_checksum(weights),
                        samples_per_s=samples / float(np.median(steady)) if steady else 0.0,
                        epoch_seconds=list(timer.epoch_seconds), weights=weights)


# --- speed levers of one process ---------------------------------------------------------------


def encode_png(images: Any) -> Any:
    """Grey images in [0, 1], ``(n, h, w)``, as a tensor of PNG byte strings: what a pipeline
    reads from disk before it can train (decoding is part of its cost).

    >>> import tensorflow as tf
    >>> png = encode_png(np.zeros((2, 4, 4)))
    >>> png.shape, tf.io.decode_png(png[0]).shape
    (TensorShape([2]), TensorShape([4, 4, 1]))
    """
    import tensorflow as tf

    x = np.asarray(images)
    if x.ndim != 3 or len(x) == 0 or x.min() < 0 or x.max() > 1:
        raise ValueError(f"images must be a non-empty (n, h, w) stack in [0, 1], got shape "
                         f"{x.shape}; divide 8-bit images by 255")
    pixels = tf.constant(np.round(x * 255).astype("uint8")[..., None])
    return tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)


def image_pipeline(png: Any, labels: Any, *, batch: int, parallel: bool = False,
                   cache: bool = False, prefetch: bool = False) -> Any:
    """A ``tf.data`` pipeline from PNG strings to ``(image, label)`` batches: decode, scale
    to [0, 1] and a random left-right flip (augmentation, after any cache so that it changes
    every epoch; the same flips, epoch by epoch, whatever the levers).

    The levers: ``parallel`` decodes with ``num_parallel_calls=AUTOTUNE`` (on several cores at
    once; the order stays deterministic), ``cache`` keeps decoded images in memory after the
    first epoch, ``prefetch`` prepares the next batches while the model trains on this one.

    >>> ds = image_pipeline(encode_png(np.zeros((8, 4, 4))), np.zeros(8), batch=4,
    ...                     parallel=True, cache=True, prefetch=True)
    >>> [tuple(x.shape) for x, _ in ds]
    [(4, 4, 4, 1), (4, 4, 4, 1)]
    """
    import tensorflow as tf

    batch = positive_int(batch, "batch")
    calls = tf.data.AUTOTUNE if parallel else None

    def decode(data: Any, label: Any) -> Any:
        return tf.cast(tf.io.decode_png(data, channels=1), tf.float32) / 255.0, label

    def flip(pair: Any, coin: Any) -> Any:
        image, label = pair
        return tf.where(coin % 2 == 0, tf.image.flip_left_right(image), image), label

    ds = tf.data.Dataset.from_tensor_slices((png, np.asarray(labels, "int32")))
    ds = ds.map(decode, num_parallel_calls=calls)
    if cache:
        ds = ds.cache()
    # the coin flips come from one seeded stream, new each epoch, so a parallel map (which
    # may draw in any order) augments exactly as a sequential one does
    coins = tf.data.Dataset.random(seed=0, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, coins).map(flip, num_parallel_calls=calls)
    ds = ds.batch(batch, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE) if prefetch else ds


@contextlib.contextmanager
def precision(policy: str | None) -> Any:
    """Build models under a Keras dtype policy (``"mixed_float16"``, ``"mixed_bfloat16"``) for
    the duration of the block; ``None`` leaves float32. The previous policy comes back after.

    >>> import keras
    >>> with precision("mixed_bfloat16"):
    ...     layer = keras.layers.Dense(2)
    >>> layer.compute_dtype, layer.variable_dtype
    ('bfloat16', 'float32')
    """
    from dlbook.config import import_keras

    keras = import_keras()
    known = ("float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16")
    if policy is not None and policy not in known:
        raise ValueError(f"unknown dtype policy {policy!r}; use one of {known} or None")
    old = keras.config.dtype_policy()
    if policy is not None:
        keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


@contextlib.contextmanager
def without_op_determinism() -> Any:
    """Turn TensorFlow's op determinism off for the block (and back on after, if it was on).

    ``dlbook.setup`` enables it, and under it Keras quietly trains a ``jit_compile=True``
    model without XLA. TensorFlow has no public switch back (only ``tf.config.experimental.
    enable_op_determinism``), so this uses its internal one.

    >>> from tensorflow.python.framework import config
    >>> with without_op_determinism():
    ...     config.is_op_determinism_enabled()
    False
    """
    from tensorflow.python.framework import config

    was = config.is_op_determinism_enabled()
    config.disable_op_determinism()
    try:
        yield
    finally:
        if was:
            config.enable_op_determinism()


def lever_table(runs: dict[str, Any], baseline: str) -> Any:
    """One row per configuration: samples/s in its fastest epoch after the first (the first
    traces, and the fastest is the least disturbed on a shared machine) of a
    :class:`dlbook.bench.TimedHistory`, the ratio to ``baseline``'s, and the final loss.

    >>> from dlbook.bench import TimedHistory
    >>> class H: history = {"loss": [1.0, 0.5]}
    >>> runs = {"a": TimedHistory(H(), [9.0, 2.0], 100), "b": TimedHistory(H(), [9.0, 1.0], 100)}
    >>> lever_table(runs, "a")["vs baseline"].tolist()
    [1.0, 2.0]
    """
    import pandas as pd

    if baseline not in runs:
        raise ValueError(f"baseline {baseline!r} is not among the runs {list(runs)}")
    rate = {name: r.samples_per_epoch / r.fastest_epoch_seconds for name, r in runs.items()}
    return pd.DataFrame({
        "samples/s": list(rate.values()),
        "vs baseline": [v / rate[baseline] for v in rate.values()],
        "final loss": [r.history.history["loss"][-1] for r in runs.values()],
    }, index=list(runs))


def draw_data_parallel(n_workers: int = 2) -> Any:
    """A diagram of one synchronous data-parallel step: the global batch is split, every
    worker computes gradients on its part with its copy of the model, an all-reduce averages
    them, and every copy applies the same update. Returns the matplotlib figure.

    >>> fig = draw_data_parallel(2)
    >>> len(fig.axes)
    1
    """
    import matplotlib.pyplot as plt

    n = positive_int(n_workers, "n_workers")
    fig, ax = plt.subplots(figsize=(9, 1.2 + 1.1 * n))
    ax.set(xlim=(0, 10), ylim=(-0.6, n), xticks=[], yticks=[])
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.3", "fc": "#eef3fb", "ec": "#4a6fa5"}
    mid = (n - 1) / 2
    ax.text(0.7, mid, "global batch\nB samples", ha="center", va="center", bbox=box)
    ax.text(8.9, mid, "all-reduce:\nmean of the\ngradients", ha="center", va="center",
            bbox={**box, "fc": "#fbeee6", "ec": "#b5651d"})
    for i in range(n):
        y = n - 1 - i
        ax.annotate("", (2.1, y), (1.5, mid), arrowprops={"arrowstyle": "->"})
        ax.text(2.9, y, f"B/{n} samples", ha="center", va="center", bbox=box)
        ax.text(5.3, y, f"worker {i}: model copy\nforward, backward -> g{i}", ha="center",
                va="center", bbox=box)
        ax.annotate("", (4.0, y), (3.6, y), arrowprops={"arrowstyle": "->"})
        ax.annotate("", (7.9, mid), (6.9, y), arrowprops={"arrowstyle": "->"})
        ax.annotate("", (6.9, y - 0.25), (7.9, mid - 0.25),
                    arrowprops={"arrowstyle": "->", "color": "#b5651d", "ls": "--"})
    ax.text(5.0, -0.5, "every worker applies the same averaged update: the copies stay equal",
            ha="center", va="center", fontsize=9, color="#b5651d")
    ax.set_title("One synchronous data-parallel training step")
    return fig


# --- the launcher -------------------------------------------------------------------------------


@dataclass
class Launch:
    """What :func:`launch` returns: each worker's exit status and result (``None`` where the
    worker wrote none), the job's wall-clock seconds, and each worker's log."""

    returncodes: list[int | None]
    results: list[WorkerResult | None]
    seconds: float
    logs: list[str]

    @property
    def crashed(self) -> bool:
        """Whether a worker exited with :data:`CRASH_EXIT_CODE` (the planned crash)."""
        return CRASH_EXIT_CODE in self.returncodes


def _read_result(path: Path) -> WorkerResult | None:
    if not path.exists():
        return None
    values = json.loads(path.read_text())
    weights = [np.asarray(w, dtype="float32") for w in values.pop("weights")]
    return WorkerResult(**values, weights=weights)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and anything it started
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def launch(n_workers: int, config: JobConfig, *, timeout: float = 120.0,
           workdir: str | Path | None = None) -> Launch:
    """Start ``n_workers`` MWMS worker processes on 127.0.0.1, wait, and collect results.

    Every worker gets ``TF_CONFIG``, no GPU (``CUDA_VISIBLE_DEVICES=""``) and quiet logs, and
    runs in its own process group. As soon as one worker exits with an error, the others are
    killed (they would wait for it in the next all-reduce until their own timeout), and so is
    every worker still running after ``timeout`` seconds, which raises :class:`LaunchError`.
    A worker's planned crash (``config.crash_at``) is not an error: the result says
    ``crashed``. Any other failure raises :class:`LaunchError` with the workers' logs.
    """
    n_workers = positive_int(n_workers, "n_workers")
    timeout = positive_number(timeout, "timeout", hint="seconds the whole job may take")
    if not isinstance(config, JobConfig):
        raise TypeError(f"config must be a JobConfig, got {type(config).__name__}")
    config.batch_per_worker(n_workers)
    if config.crash_worker >= n_workers:
        raise ValueError(f"crash_worker {config.crash_worker} does not exist among "
                         f"{n_workers} workers")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="dlbook-mwms-"))
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        return _run_workers(n_workers, config, timeout, workdir)


def _run_workers(n_workers: int, config: JobConfig, timeout: float, workdir: Path) -> Launch:
    ports = free_ports(n_workers)
    procs: list[subprocess.Popen] = []
    outs = [workdir / f"result-{i}.json" for i in range(n_workers)]
    logs = [workdir / f"log-{i}.txt" for i in range(n_workers)]
    for path in outs:
        path.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        for i in range(n_workers):
            env = {**os.environ, "TF_CONFIG": json.dumps(tf_config(ports, i)),
                   "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3",
                   "PYTHONUNBUFFERED": "1"}
            env.pop("PYTEST_CURRENT_TEST", None)
            with open(logs[i], "w") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "dlbook.distributed", "worker", "--index", str(i),
                     "--config", config.to_json(), "--out", str(outs[i])],
                    env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True))
        (workdir / "pids.txt").write_text(
            "".join(f"worker-{i} {p.pid}\n" for i, p in enumerate(procs)))
        codes: list[int | None] = [None] * n_workers
        while any(c is None for c in codes):
            codes = [p.poll() for p in procs]
            if any(c not in (None, 0) for c in codes):
                break  # one failed: the others would block in the next all-reduce
            if time.perf_counter() - start > timeout:
                raise LaunchError(f"the job ran past its timeout of {timeout:.0f} s; "
                                  f"logs:\n{_tails(logs)}")
            time.sleep(0.05)
    finally:
        for p in procs:
            _stop(p)
    seconds = time.perf_counter() - start
    text = [path.read_text() for path in logs]
    failed = [c for c in codes if c not in (None, 0, CRASH_EXIT_CODE)]
    if failed and CRASH_EXIT_CODE not in codes:
        raise LaunchError(f"worker exit statuses {codes}; logs:\n{_tails(logs)}")
    results = [_read_result(path) for path in outs]
    if CRASH_EXIT_CODE not in codes and any(r is None for r in results):
        raise LaunchError(f"a worker wrote no result; logs:\n{_tails(logs)}")
    return Launch(codes, results, seconds, text)


def _tails(logs: Sequence[Path], n: int = 1500) -> str:
    return "\n".join(f"--- worker {i}:\n{p.read_text()[-n:]}" for i, p in enumerate(logs)
                     if p.exists())


# --- the worker entry point ---------------------------------------------------------------------


def _worker(index: int, config: JobConfig, out: Path) -> None:
    import tensorflow as tf

    if config.threads:
        tf.config.threading.set_intra_op_parallelism_threads(config.threads)
        tf.config.threading.set_inter_op_parallelism_threads(config.threads)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG
    result = train(config, strategy, index=index)
    values = dataclasses.asdict(result)
    values["weights"] = [w.tolist() for w in result.weights]
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(values))
    tmp.replace(out)  # a reader never sees half a file


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlbook.distributed worker --index I --config JSON --out PATH``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dlbook.distributed")
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="run one MWMS worker (TF_CONFIG from the env)")
    worker.add_argument("--index", type=int, required=True)
    worker.add_argument("--config", required=True, help="a JobConfig as JSON")
    worker.add_argument("--out", required=True, help="where to write the result JSON")
    args = parser.parse_args(argv)
    if "TF_CONFIG" not in os.environ:
        parser.error("TF_CONFIG is not set; start workers with dlbook.distributed.launch")
    _worker(args.index, JobConfig.from_json(args.config), Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
