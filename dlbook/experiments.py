"""Train model variants side by side, from the same seed, and compare them fairly.

The bookkeeping behind every "which of these works best?" chapter (regularisation,
hyperparameter tuning, optimisers, ...): a train / validation / test split, a loop that trains
each variant the same way and tabulates what it learned, the plots that compare the runs, and
the cost accounting of a KerasTuner search.

>>> import numpy as np
>>> table = results_frame({"a": {"train_accuracy": 1.0, "val_accuracy": 0.8,
...                              "test_accuracy": 0.79}})
>>> round(float(table.loc["a", "gap"]), 2)
0.2
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

XY = tuple[np.ndarray, np.ndarray]

_RESERVED_FIT_KEYS = ("x", "y", "validation_data", "validation_split", "verbose")


# --- splits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Splits:
    """Three disjoint parts of a labelled dataset, each an ``(x, y)`` pair.

    ``train`` fits the weights, ``val`` chooses between models (epochs, regularisers,
    hyperparameters), ``test`` is looked at once, at the end.
    """

    train: XY
    val: XY
    test: XY
    class_names: list[str] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        """How many examples each part holds.

        >>> s = Splits((np.zeros(3), np.zeros(3)), (np.zeros(2), np.zeros(2)),
        ...            (np.zeros(1), np.zeros(1)))
        >>> s.sizes()
        {'train': 3, 'val': 2, 'test': 1}
        """
        return {"train": len(self.train[1]), "val": len(self.val[1]), "test": len(self.test[1])}


def three_way_split(
    dataset: Any, *, n_train: int, n_val: int, n_test: int | None = None, seed: int = 0
) -> Splits:
    """Carve a validation set out of a :class:`dlbook.data.Dataset`'s training part.

    Takes a stratified ``n_train + n_val`` examples of the training part and splits them
    (stratified again) into ``n_train`` for training and ``n_val`` for validation; the test part
    is the dataset's own (``n_test`` of it, stratified, or all of it). No example appears in
    two parts.

    >>> from dlbook import data
    >>> s = three_way_split(data.load("digits"), n_train=500, n_val=200, n_test=100)
    >>> s.sizes()
    {'train': 500, 'val': 200, 'test': 100}
    """
    for name, value in (("n_train", n_train), ("n_val", n_val)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    available = len(dataset.y_train)
    if n_train + n_val > available:
        raise ValueError(
            f"n_train + n_val = {n_train + n_val} but the training part has only {available} "
            "examples; ask for fewer"
        )
    from sklearn.model_selection import train_test_split

    part = dataset.subset(n_train=n_train + n_val, n_test=n_test, seed=seed)
    y = np.asarray(part.y_train)
    classes, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and min(n_train, n_val) >= len(classes) else None
    x_tr, x_val, y_tr, y_val = train_test_split(
        part.x_train, y, test_size=int(n_val), stratify=stratify, random_state=seed
    )
    return Splits((x_tr, y_tr), (x_val, y_val), (part.x_test, part.y_test),
                  list(getattr(dataset, "class_names", [])))


# --- training variants --------------------------------------------------------------------------


@dataclass
class VariantResults:
    """What :func:`run_variants` returns: the results ``table`` (one row per variant), each
    variant's per-epoch ``histories`` and the trained ``models``."""

    table: Any
    histories: dict[str, dict[str, list[float]]]
    models: dict[str, Any] = field(repr=False)


def _scores(model: Any, x: np.ndarray, n: int, batch_size: int = 1024) -> np.ndarray:
    if hasattr(model, "layers") and callable(model):  # Keras: a direct call skips predict's tracing
        from dlbook.config import import_keras

        ops = import_keras().ops
        scores = np.concatenate([
            ops.convert_to_numpy(model(x[i : i + batch_size], training=False))
            for i in range(0, max(len(x), 1), batch_size)
        ])
    else:
        scores = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    if scores.ndim != 2 or scores.shape[0] != n:
        raise ValueError(
            f"expected class scores of shape ({n}, n_classes), got {scores.shape}; "
            "accuracy needs a classifier with one output unit per class"
        )
    return scores


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1024) -> float:
    """Share of examples whose highest-scoring class is the label (inference mode: dropout
    and augmentation off), for a Keras classifier with one output per class."""
    scores = _scores(model, x, len(y), batch_size)
    return float(np.mean(scores.argmax(axis=1) == np.asarray(y)))


def cross_entropy(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true class, in nats (the data loss alone: no
    regularisation penalty). ``probs`` holds one row of class probabilities per example.

    >>> round(cross_entropy(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 0])), 4)
    0.3993
    """
    probs, y = np.asarray(probs, dtype="float64"), np.asarray(y)
    if probs.ndim != 2 or len(probs) != len(y):
        raise ValueError(f"probs must be (n, n_classes) with n = len(y) = {len(y)}, got {probs.shape}")
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs rows must be probabilities summing to 1 (a softmax output), "
                         "not logits; apply keras.ops.softmax first")
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))


def noisy_labels(y: np.ndarray, fraction: float, n_classes: int, *, seed: int = 0) -> np.ndarray:
    """A copy of ``y`` where a random ``fraction`` of the labels is replaced by a class drawn
    uniformly at random (which is sometimes the right one: about ``fraction / n_classes`` of
    the replaced labels stay correct). Simulates careless annotation.

    >>> y = np.zeros(10_000, dtype=int)
    >>> round(float(np.mean(noisy_labels(y, 0.5, 10) != y)), 2)
    0.45
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1 (the share of labels replaced), got {fraction!r}")
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class indices, got dtype {y.dtype}")
    rng = np.random.default_rng(seed)
    replace = rng.random(len(y)) < fraction
    out = y.copy()
    out[replace] = rng.integers(0, n_classes, int(replace.sum()))
    return out


def results_frame(rows: Mapping[str, Mapping[str, float]], *, baseline: str | None = None):
    """A pandas table from per-variant numbers, with the train-validation ``gap`` and, when
    ``baseline`` names a row, each variant's test-accuracy gain over it."""
    import pandas as pd

    table = pd.DataFrame.from_dict(dict(rows), orient="index")
    table.index.name = "variant"
    if {"train_accuracy", "val_accuracy"} <= set(table.columns):
        table["gap"] = table["train_accuracy"] - table["val_accuracy"]
    if baseline is not None:
        if baseline not in table.index:
            raise KeyError(f"baseline {baseline!r} is not a variant; variants: {list(table.index)}")
        table["vs_baseline"] = table["test_accuracy"] - table.loc[baseline, "test_accuracy"]
    return table


def _check_xy(name: str, xy: Any) -> XY:
    if not isinstance(xy, (tuple, list)) or len(xy) != 2:
        raise TypeError(f"{name} must be an (x, y) pair of arrays, got {type(xy).__name__}")
    x, y = xy
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"{name}: x has {len(x)} examples and y has {len(y)}; they must match")
    return x, y


def run_variants(
    build_fns: Mapping[str, Callable[[], Any]],
    train: XY,
    val: XY,
    test: XY,
    fit_kwargs: Mapping[str, Any] | None = None,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    baseline: str | None = None,
    seed: int = 42,
) -> VariantResults:
    """Train each variant from the same seed on the same data and tabulate the outcome.

    ``build_fns`` maps a variant's name to a function returning a compiled Keras classifier
    (softmax outputs). Each is built after ``keras.utils.set_random_seed(seed)`` and fitted on
    ``train`` with ``validation_data=val`` and ``fit_kwargs`` (epochs, batch_size, ...), updated
    by ``overrides[name]`` (e.g. an early-stopping callback for one variant). Validation runs in
    batches of 1,024 unless ``fit_kwargs`` sets ``validation_batch_size``. Accuracies are
    measured afterwards in inference mode, so dropout and augmentation do not blur the gap.

    The table has one row per variant: ``train_accuracy``, ``val_accuracy``,
    ``test_accuracy``, ``gap`` (train minus validation accuracy), ``test_loss`` (the test
    cross-entropy in nats, without any penalty), ``epochs`` trained, ``seconds`` of training
    and ``params``; with ``baseline``, also ``vs_baseline`` (test accuracy gained).

    >>> import keras
    >>> def tiny():
    ...     m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, "softmax")])
    ...     m.compile("adam", "sparse_categorical_crossentropy")
    ...     return m
    >>> x = np.array([[0.0, 1.0], [1.0, 0.0]] * 8, "float32"); y = np.array([0, 1] * 8)
    >>> out = run_variants({"tiny": tiny}, (x, y), (x, y), (x, y), {"epochs": 2})
    >>> int(out.table.loc["tiny", "epochs"]), sorted(out.histories["tiny"])
    (2, ['loss', 'val_loss'])
    """
    from dlbook.config import import_keras

    keras = import_keras()
    if not isinstance(build_fns, Mapping) or not build_fns:
        raise TypeError(
            "build_fns must be a non-empty dict of name -> function returning a compiled model, "
            "e.g. {'baseline': build_mlp}"
        )
    for name, build in build_fns.items():
        if not callable(build):
            raise TypeError(f"build_fns[{name!r}] must be callable (a function that builds a model)")
    train, val, test = _check_xy("train", train), _check_xy("val", val), _check_xy("test", test)
    fit_kwargs = dict(fit_kwargs or {})
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(build_fns)
    if unknown:
        raise KeyError(f"overrides for unknown variants {sorted(unknown)}; variants: {list(build_fns)}")
    for where, kwargs in [("fit_kwargs", fit_kwargs), *((f"overrides[{k!r}]", v) for k, v in overrides.items())]:
        clash = [k for k in _RESERVED_FIT_KEYS if k in kwargs]
        if clash:
            raise ValueError(
                f"{where} must not set {clash}: run_variants passes the data and verbose=0 itself; "
                "give the data as train=(x, y), val=(x, y)"
            )
    if baseline is not None and baseline not in build_fns:
        raise KeyError(f"baseline {baseline!r} is not a variant; variants: {list(build_fns)}")

    rows, histories, models = {}, {}, {}
    for name, build in build_fns.items():
        keras.utils.set_random_seed(seed)
        model = build()
        kwargs = {"validation_batch_size": 1024, **fit_kwargs, **overrides.get(name, {})}
        start = time.perf_counter()
        history = model.fit(*train, validation_data=val, verbose=0, **kwargs)
        seconds = time.perf_counter() - start
        histories[name] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        models[name] = model
        test_scores = _scores(model, test[0], len(test[1]))
        rows[name] = {
            "train_accuracy": accuracy(model, *train),
            "val_accuracy": accuracy(model, *val),
            "test_accuracy": float(np.mean(test_scores.argmax(axis=1) == np.asarray(test[1]))),
            "test_loss": _maybe_cross_entropy(test_scores, test[1]),
            "epochs": len(history.history["loss"]),
            "seconds": seconds,
            "params": model.count_params(),
        }
    table = results_frame(rows, baseline=baseline)
    return VariantResults(table[_columns(table)], histories, models)


def _columns(table: Any) -> list[str]:
    order = ["train_accuracy", "val_accuracy", "test_accuracy", "gap", "vs_baseline",
             "test_loss", "epochs", "seconds", "params"]
    return [c for c in order if c in table.columns] + [c for c in table.columns if c not in order]


def _maybe_cross_entropy(scores: np.ndarray, y: np.ndarray) -> float:
    try:
        return cross_entropy(scores, y)
    except ValueError:  # logits, not probabilities: no loss column
        return float("nan")


def combine(*results: VariantResults, baseline: str | None = None) -> VariantResults:
    """Merge the results of several :func:`run_variants` calls into one comparison (say, a
    baseline trained first and the variants trained later, from the same seed), recomputing
    ``vs_baseline`` against ``baseline``.

    >>> a = VariantResults(results_frame({"base": {"test_accuracy": 0.7}}), {"base": {}}, {})
    >>> b = VariantResults(results_frame({"reg": {"test_accuracy": 0.75}}), {"reg": {}}, {})
    >>> round(float(combine(a, b, baseline="base").table.loc["reg", "vs_baseline"]), 2)
    0.05
    """
    import pandas as pd

    if not results or not all(isinstance(r, VariantResults) for r in results):
        raise TypeError("combine takes the VariantResults that run_variants returned, e.g. combine(first, second)")
    names = [name for r in results for name in r.table.index]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"variants {twice} appear in more than one result; rename one of them")
    table = pd.concat([r.table.drop(columns="vs_baseline", errors="ignore") for r in results])
    if baseline is not None:
        if baseline not in table.index:
            raise KeyError(f"baseline {baseline!r} is not a variant; variants: {list(table.index)}")
        table["vs_baseline"] = table["test_accuracy"] - table.loc[baseline, "test_accuracy"]
    histories = {k: v for r in results for k, v in r.histories.items()}
    models = {k: v for r in results for k, v in r.models.items()}
    return VariantResults(table[_columns(table)], histories, models)


# --- plots --------------------------------------------------------------------------------------


def _colors(n: int) -> list:
    import matplotlib.pyplot as plt

    from dlbook.plot import PALETTE

    return list(PALETTE) if n <= len(PALETTE) else [plt.cm.tab10(i % 10) for i in range(n)]


def plot_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    metric: str = "accuracy",
    *,
    reference: str | None = None,
    ncols: int = 4,
    title: str = "Training and validation curves",
):
    """One small panel per variant: its training curve (dashed) and validation curve (solid)
    of ``metric``, with the ``reference`` variant's validation curve in grey for comparison.

    >>> h = {"a": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]},
    ...      "b": {"loss": [1.0, 0.7], "val_loss": [1.0, 0.8]}}
    >>> fig = plot_curves(h, "loss", reference="a")
    >>> [ax.get_title() for ax in fig.axes]
    ['a', 'b']
    """
    import matplotlib.pyplot as plt

    if not histories:
        raise ValueError("histories is empty; pass run_variants(...).histories")
    missing = [n for n, h in histories.items() if metric not in h or f"val_{metric}" not in h]
    if missing:
        first = next(iter(histories.values()))
        raise KeyError(f"no {metric!r} and 'val_{metric}' in the histories of {missing}; "
                       f"they hold {sorted(first)}")
    if reference is not None and reference not in histories:
        raise KeyError(f"reference {reference!r} is not a variant; variants: {list(histories)}")
    names = list(histories)
    ncols = max(1, min(ncols, len(names)))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows + 0.5),
                             sharex=True, sharey=True, squeeze=False)
    colors = _colors(len(names))
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            fig.delaxes(ax)
            continue
        name, h = names[i], histories[names[i]]
        if reference is not None and name != reference:
            ref = histories[reference][f"val_{metric}"]
            ax.plot(np.arange(1, len(ref) + 1), ref, color="0.6", lw=1.2,
                    label=f"{reference} (validation)")
        epochs = np.arange(1, len(h[metric]) + 1)
        ax.plot(epochs, h[metric], color=colors[i], ls="--", label="train")
        ax.plot(epochs, h[f"val_{metric}"], color=colors[i], label="validation")
        ax.set_title(name, fontsize=10)
        if i % ncols == 0:
            ax.set_ylabel(metric.replace("_", " "))
        if i >= len(names) - ncols:
            ax.set_xlabel("epoch")
            ax.tick_params(labelbottom=True)
    handles, labels = [], []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels and not (label.endswith("(validation)") and labels.count(label)):
                handles.append(handle)
                labels.append("train (dashed)" if label == "train" else
                              "validation (solid)" if label == "validation" else label)
    handles, labels = handles[:3], labels[:3]
    fig.legend(handles, labels, loc="upper center", ncol=len(labels),
               bbox_to_anchor=(0.5, 0.995 - 0.06 / nrows), fontsize=9)
    fig.suptitle(title, y=1.0)
    fig.tight_layout(rect=(0, 0, 1, 0.97 - 0.06 / nrows))
    return fig


def plot_results(
    table: Any,
    *,
    baseline: str | None = None,
    title: str = "Test accuracy and train-validation gap per variant",
):
    """Two bar charts side by side: each variant's test accuracy and its train-validation
    accuracy gap (both in percentage points), the ``baseline`` row marked by dotted lines.

    >>> t = results_frame({"a": {"train_accuracy": 1.0, "val_accuracy": 0.8,
    ...                          "test_accuracy": 0.8},
    ...                    "b": {"train_accuracy": 0.9, "val_accuracy": 0.85,
    ...                          "test_accuracy": 0.84}})
    >>> fig = plot_results(t, baseline="a")
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['test accuracy (%)', 'train − validation accuracy (points)']
    """
    import matplotlib.pyplot as plt

    needed = {"test_accuracy", "gap"}
    if not needed <= set(table.columns):
        raise KeyError(f"table needs columns {sorted(needed)} (from run_variants); has {list(table.columns)}")
    if baseline is not None and baseline not in table.index:
        raise KeyError(f"baseline {baseline!r} is not a row; rows: {list(table.index)}")
    names = list(table.index)[::-1]
    y = np.arange(len(names))
    colors = _colors(len(names))[: len(names)][::-1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(names) + 1.6), sharey=True)
    for ax, column, label in ((axes[0], "test_accuracy", "test accuracy (%)"),
                              (axes[1], "gap", "train − validation accuracy (points)")):
        values = 100 * table.loc[names, column].to_numpy(dtype=float)
        ax.barh(y, values, color=colors)
        for yi, v in zip(y, values, strict=True):
            ax.text(v, yi, f" {v:.1f} " if v >= 0 else f"{v:.1f} ", va="center", fontsize=8,
                    ha="left" if v >= 0 else "right")
        ax.axvline(0, color="0.2", lw=0.8)
        if baseline is not None:
            ax.axvline(100 * float(table.loc[baseline, column]), color="0.3", ls=":", lw=1)
        ax.set_xlabel(label)
        ax.grid(axis="y", visible=False)
    lo = 100 * float(table["test_accuracy"].min())
    hi = 100 * float(table["test_accuracy"].max())
    axes[0].set_xlim(max(0.0, lo - 2 * max(hi - lo, 1.0)), min(100.0, hi + 0.6 * max(hi - lo, 1.0) + 1))
    gaps = 100 * table["gap"].to_numpy(dtype=float)
    span = max(gaps.max(), 0.0) - min(gaps.min(), 0.0)
    axes[1].set_xlim(min(0.0, gaps.min() - 0.25 * span), max(gaps.max(), 0.0) + 0.25 * span + 1)
    axes[0].set_yticks(y, names)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- hyperparameter search ----------------------------------------------------------------------


class SearchCost:
    """What a KerasTuner search spends: one record per model trained (trial id, epochs,
    seconds, best value of ``monitor``).

    Pass one instance to ``tuner.search(..., callbacks=[cost.callback()])``. KerasTuner
    deep-copies the callbacks for every trial; the callback this returns survives the copy
    as itself, so every trial reports to the same ``SearchCost``.

    >>> cost = SearchCost(monitor="val_accuracy")
    >>> cost.add(trial_id="00", epochs=3, seconds=1.5, best=0.8)
    >>> cost.add(trial_id="01", epochs=2, seconds=1.0, best=0.9)
    >>> cost.summary()
    {'trials': 2, 'models trained': 2, 'epochs': 5, 'training seconds': 2.5, 'best val_accuracy': 0.9}
    """

    def __init__(self, tuner: Any = None, *, monitor: str = "val_accuracy", mode: str = "max"):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min' (how {monitor!r} improves), got {mode!r}")
        self.tuner = tuner
        self.monitor = monitor
        self.mode = mode
        self.records: list[dict[str, Any]] = []

    def add(self, *, trial_id: str | None, epochs: int, seconds: float, best: float | None) -> None:
        """Record one trained model (the callback calls this at the end of each ``fit``)."""
        self.records.append({"trial_id": trial_id, "epochs": int(epochs),
                             "seconds": float(seconds), "best": best})

    def _better(self, a: float, b: float | None) -> bool:
        return b is None or (a > b if self.mode == "max" else a < b)

    def summary(self) -> dict[str, Any]:
        """Trials, models trained, epochs and training seconds spent, best ``monitor`` seen."""
        best = None
        for record in self.records:
            if record["best"] is not None and self._better(record["best"], best):
                best = record["best"]
        return {
            "trials": len({r["trial_id"] for r in self.records}),
            "models trained": len(self.records),
            "epochs": sum(r["epochs"] for r in self.records),
            "training seconds": round(sum(r["seconds"] for r in self.records), 3),
            f"best {self.monitor}": best,
        }

    def progress(self) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative epochs spent and the best ``monitor`` found so far, after each model.

        >>> cost = SearchCost()
        >>> cost.add(trial_id="a", epochs=2, seconds=1, best=0.7)
        >>> cost.add(trial_id="b", epochs=2, seconds=1, best=0.6)
        >>> cost.progress()
        (array([2, 4]), array([0.7, 0.7]))
        """
        epochs = np.cumsum([r["epochs"] for r in self.records])
        best, so_far = None, []
        for record in self.records:
            if record["best"] is not None and self._better(record["best"], best):
                best = record["best"]
            so_far.append(np.nan if best is None else best)
        return epochs, np.asarray(so_far, dtype=float)

    def callback(self):
        """A Keras callback that reports every ``fit`` of the search to this object."""
        keras = _keras()
        cost = self

        class _Reporter(keras.callbacks.Callback):
            def __deepcopy__(self, memo):  # KerasTuner copies callbacks per trial: stay shared
                return self

            def on_train_begin(self, logs=None):
                self._start, self._epochs, self._best = time.perf_counter(), 0, None
                self._trial = None
                oracle = getattr(cost.tuner, "oracle", None)
                if oracle is not None:
                    trial = oracle.ongoing_trials.get(cost.tuner.tuner_id)
                    self._trial = getattr(trial, "trial_id", None)

            def on_epoch_end(self, epoch, logs=None):
                self._epochs += 1
                value = (logs or {}).get(cost.monitor)
                if value is not None and cost._better(float(value), self._best):
                    self._best = float(value)

            def on_train_end(self, logs=None):
                cost.add(trial_id=self._trial, epochs=self._epochs,
                         seconds=time.perf_counter() - self._start, best=self._best)

        return _Reporter()


def _keras():
    from dlbook.config import import_keras

    return import_keras()


def trials_table(tuner: Any, cost: SearchCost | None = None, *, bookkeeping: bool = False):
    """One row per trial of a KerasTuner search: its hyperparameters, its ``score`` (the
    objective, e.g. best validation accuracy), and, with ``cost``, the epochs and seconds it
    trained. KerasTuner's bookkeeping values (``tuner/epochs``, ``tuner/bracket``, ... of
    Hyperband) are left out unless ``bookkeeping``."""
    import pandas as pd

    oracle = getattr(tuner, "oracle", None)
    if oracle is None or not hasattr(oracle, "trials"):
        raise TypeError(f"tuner must be a KerasTuner tuner (it has .oracle.trials), got {type(tuner).__name__}")
    rows = []
    for trial_id, trial in oracle.trials.items():
        values = {k: v for k, v in trial.hyperparameters.values.items()
                  if bookkeeping or not k.startswith("tuner/")}
        rows.append({"trial": trial_id, **values, "score": trial.score, "status": str(trial.status)})
    table = pd.DataFrame(rows).set_index("trial") if rows else pd.DataFrame()
    if cost is not None and len(table):
        spent = pd.DataFrame(cost.records)
        if len(spent):
            per_trial = spent.groupby("trial_id")[["epochs", "seconds"]].sum()
            table = table.join(per_trial)
    return table


def plot_trials(
    tables: Mapping[str, Any],
    params: Sequence[str],
    *,
    log_scale: Sequence[str] = ("learning_rate",),
    score: str = "score",
    score_label: str = "validation accuracy",
    default: float | None = None,
    title: str = "Trial scores against hyperparameters",
):
    """One panel per hyperparameter: each trial's ``score`` against the value it tried, one
    colour per search (``tables`` maps a search's name to its :func:`trials_table`). A
    ``default`` score (the hand-picked model's) is drawn as a dotted line.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"learning_rate": [1e-3, 1e-2], "score": [0.8, 0.7]})
    >>> fig = plot_trials({"random": t}, ["learning_rate"])
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_ylabel()
    ('log', 'validation accuracy')
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not tables:
        raise ValueError("tables is empty; pass {'random search': trials_table(tuner), ...}")
    params = list(params)
    if not params:
        raise ValueError("name at least one hyperparameter to plot, e.g. ['learning_rate']")
    for name, table in tables.items():
        missing = [p for p in [*params, score] if p not in table.columns]
        if missing:
            raise KeyError(f"table {name!r} has no columns {missing}; it has {list(table.columns)}")
    fig, axes = plt.subplots(1, len(params), figsize=(3.3 * len(params), 3.3), sharey=True,
                             squeeze=False)
    colors = _colors(len(tables))
    for ax, param in zip(axes[0], params, strict=True):
        for color, (name, table) in zip(colors, tables.items(), strict=False):
            ax.scatter(table[param], table[score], s=28, alpha=0.75, color=color, label=name)
        if default is not None:
            ax.axhline(default, color="0.3", ls=":", lw=1.2, label="hand-picked default")
        if param in log_scale:
            ax.set_xscale("log")
        elif all(float(v).is_integer() for t in tables.values() for v in t[param].dropna()):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(param.replace("_", " ") + (" (log scale)" if param in log_scale else ""))
    axes[0][0].set_ylabel(score_label)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), bbox_to_anchor=(0.5, 0.93),
               fontsize=9)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    return fig
