"""Learning curves: test score against training-set size for several models, and their plot.

Each model is a function that takes a :class:`~dlbook.data.Dataset` whose training part has been
cut down to ``n`` examples (a stratified subset; the test part is always the full test set), fits
a fresh model on ``x_train`` and returns one score on ``x_test``.

>>> from dlbook import data
>>> from sklearn.linear_model import LogisticRegression
>>> def linear(part):
...     x = part.x_train.reshape(len(part.x_train), -1)
...     model = LogisticRegression(max_iter=200).fit(x, part.y_train)
...     return model.score(part.x_test.reshape(len(part.x_test), -1), part.y_test)
>>> curve = learning_curve({"linear": linear}, [50, 200], data.load("digits"))
>>> curve[["model", "n_train"]].values.tolist()
[['linear', 50], ['linear', 200]]
>>> bool(curve["score"].iloc[1] > curve["score"].iloc[0])
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from dlbook.plot import PALETTE

COLUMNS = ["model", "n_train", "repeat", "score", "seconds"]


def _check_sizes(sizes: Sequence[int], n_available: int) -> list[int]:
    values = list(sizes)
    if not values or any(
        not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1 for n in values
    ):
        raise ValueError(f"sizes must be a non-empty list of positive ints, got {sizes!r}")
    if any(n > n_available for n in values):
        raise ValueError(
            f"sizes {[n for n in values if n > n_available]} exceed the {n_available} training "
            "examples; drop them or load a larger dataset"
        )
    if sorted(set(values)) != values:
        raise ValueError(f"sizes must be increasing and distinct, e.g. [250, 1000, 4000], got {values}")
    return [int(n) for n in values]


def learning_curve(
    fit_and_score: Mapping[str, Callable[[Any], float]],
    sizes: Sequence[int],
    data: Any,
    seed: int = 0,
    *,
    repeats: int = 1,
):
    """Fit every model on growing training subsets of ``data`` and score it on the test set.

    ``fit_and_score`` maps a model name to a function ``f(part) -> float``; ``part`` is
    ``data.subset(n_train=n, seed=...)``: ``n`` training examples, the full test set. ``repeats``
    draws that many different subsets per size (seeds ``seed``, ``seed + 1``, …), which shows how
    much a score at a small size owes to the luck of the draw.

    A function may instead return a dict with a ``"score"`` and other numbers it measured (say
    ``{"score": auc, "train_s": 1.2, "predict_ms": 30.0}``, timed with :func:`timed`); each
    extra key becomes a column.

    Returns a pandas DataFrame with one row per (model, size, repeat) and the columns ``model``,
    ``n_train``, ``repeat``, ``score`` and ``seconds`` (wall-clock time of that fit and score),
    then any extra columns. For a table of mean scores: ``curve.pivot_table(index="n_train",
    columns="model", values="score")``.
    """
    import pandas as pd

    if not isinstance(fit_and_score, Mapping) or not fit_and_score:
        raise ValueError("fit_and_score must be a non-empty dict, e.g. {'CNN': fit_cnn, 'SVM': fit_svm}")
    not_callable = [name for name, f in fit_and_score.items() if not callable(f)]
    if not_callable:
        raise TypeError(f"fit_and_score values must be functions of a Dataset; not for {not_callable}")
    if not hasattr(data, "subset") or not hasattr(data, "y_train"):
        raise TypeError(
            f"data must be a dlbook Dataset (from dlbook.data.load), got {type(data).__name__}"
        )
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    sizes = _check_sizes(sizes, len(data.y_train))
    rows = []
    for n in sizes:
        for r in range(repeats):
            part = data.subset(n_train=n, seed=seed + r)
            for name, f in fit_and_score.items():
                start = time.perf_counter()
                result = f(part)
                seconds = time.perf_counter() - start
                values = _as_values(result, name, n)
                rows.append({"model": str(name), "n_train": n, "repeat": r, **values,
                             "seconds": seconds})
    table = pd.DataFrame(rows)
    extras = [c for c in table.columns if c not in COLUMNS]
    return table[COLUMNS + extras]


def _finite(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _as_values(result: Any, name: str, n: int) -> dict[str, float]:
    """The score (and any extra measurements) one fit-and-score function returned."""
    fix = (
        "each function must return one finite number (the test score) or a dict with a "
        "'score' and other numbers, e.g. {'score': 0.9, 'train_s': 1.2}"
    )
    if isinstance(result, Mapping):
        bad = [k for k, v in result.items() if not _finite(v)]
        reserved = {"model", "n_train", "repeat", "seconds"} & set(result)
        if "score" not in result or bad or reserved:
            raise TypeError(f"model {name!r} returned {result!r} for n_train={n}; {fix}"
                            + (f" (do not use the names {sorted(reserved)})" if reserved else ""))
        return {str(k): float(v) for k, v in result.items()}
    if not _finite(result):
        raise TypeError(f"model {name!r} returned {result!r} for n_train={n}; {fix}")
    return {"score": float(result)}


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call ``fn(*args, **kwargs)`` and return its result and the wall-clock seconds it took.

    >>> result, seconds = timed(sum, [1, 2, 3])
    >>> result, seconds < 1
    (6, True)
    """
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def plot(
    curve,
    *,
    metric: str = "test score",
    baseline: float | None = None,
    baseline_label: str = "baseline",
    title: str = "Learning curves",
    ax=None,
):
    """Plot a :func:`learning_curve` table: score against training-set size, one line per
    model, on a log x axis labelled with the sizes themselves. With several repeats the line is
    the mean and the band spans the lowest to the highest score.

    ``baseline`` draws a horizontal line (e.g. the majority-class score) labelled
    ``baseline_label``.

    >>> import pandas as pd
    >>> curve = pd.DataFrame({"model": ["a", "a"], "n_train": [100, 1000], "repeat": [0, 0],
    ...                       "score": [0.7, 0.9], "seconds": [0.1, 0.5]})
    >>> fig = plot(curve, metric="accuracy")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('training examples (log scale)', 'accuracy')
    """
    import matplotlib.pyplot as plt

    missing = {"model", "n_train", "score"} - set(getattr(curve, "columns", []))
    if missing:
        raise ValueError(f"curve must be a DataFrame from learning_curve; it lacks {sorted(missing)}")
    if len(curve) == 0:
        raise ValueError("curve is empty: nothing to plot")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
    else:
        fig = ax.figure
    sizes = sorted(curve["n_train"].unique())
    for i, (name, group) in enumerate(curve.groupby("model", sort=False)):
        stats = group.groupby("n_train")["score"].agg(["mean", "min", "max"])
        color = PALETTE[i % len(PALETTE)]
        ax.plot(stats.index, stats["mean"], "o-", color=color, label=str(name))
        if (stats["max"] > stats["min"]).any():
            ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.15)
    if baseline is not None:
        ax.axhline(baseline, ls="--", color="0.5", lw=1, label=baseline_label)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{int(n):,}" for n in sizes])
    ax.minorticks_off()
    ax.set(xlabel="training examples (log scale)", ylabel=metric, title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
