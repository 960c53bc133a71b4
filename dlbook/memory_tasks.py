"""Synthetic long-range memory tasks for recurrent networks, seeded and exact.

These are the benchmarks Hochreiter & Schmidhuber (1997) designed to show what a plain RNN cannot
learn: the answer depends on inputs far in the past, and everything in between is noise.

>>> x, y = adding_problem(4, 20, seed=0)
>>> x.shape, y.shape, x.dtype
((4, 20, 2), (4,), dtype('float32'))
>>> bool(np.allclose(y, (x[..., 0] * x[..., 1]).sum(axis=1)))
True
>>> round(ADDING_BASELINE_MSE, 3)
0.167
"""

from __future__ import annotations

import numpy as np

ADDING_BASELINE_MSE: float = 1.0 / 6.0
"""MSE of always predicting the mean target 1.0: the variance of the sum of two independent
U(0, 1) values, 2 * 1/12 = 1/6 ≈ 0.167. A model that has not learned to remember stays here."""


def _check_sizes(n_samples: int, length: int, min_length: int) -> None:
    for name, value, low in (("n_samples", n_samples, 1), ("length", length, min_length)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")


def adding_problem(
    n_samples: int, length: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997, experiment 4).

    Each sequence has two channels: ``x[..., 0]`` holds values drawn uniformly from [0, 1),
    ``x[..., 1]`` is a marker that is 1 at exactly two steps, one in the first half of the
    sequence and one in the second, and 0 elsewhere. The target is the sum of the two marked
    values, in [0, 2). Predicting the mean (1.0) gives ``ADDING_BASELINE_MSE`` ≈ 0.167; solving
    the task means remembering one value across up to ``length`` - 1 steps.

    Returns ``x`` of shape ``(n_samples, length, 2)`` and ``y`` of shape ``(n_samples,)``, both
    ``float32``; the same ``seed`` gives the same data.

    >>> x, y = adding_problem(2, 6, seed=1)
    >>> x[..., 1].sum(axis=1).tolist()      # two markers per sequence
    [2.0, 2.0]
    >>> bool(x[0, :3, 1].sum() == 1 and x[0, 3:, 1].sum() == 1)   # one in each half
    True
    """
    _check_sizes(n_samples, length, 2)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n_samples, length))
    half = length // 2
    first = rng.integers(0, half, size=n_samples)
    second = rng.integers(half, length, size=n_samples)
    markers = np.zeros((n_samples, length))
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    y = (values[rows, first] + values[rows, second]).astype("float32")
    return x, y


def copy_problem(
    n_samples: int, length: int, *, n_symbols: int = 8, n_copy: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The copy (memory) task: read ``n_copy`` symbols, wait ``length`` blank steps, then a
    delimiter, and reproduce the symbols (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).

    Tokens are ints: 1..``n_symbols`` are the symbols, 0 is blank and ``n_symbols + 1`` the
    delimiter that says "now repeat". Each input has ``n_copy + length + n_copy`` steps; the
    target is blank everywhere except its last ``n_copy`` steps, which hold the symbols. A model
    that forgets scores the baseline cross-entropy ``n_copy * log(n_symbols) / total_steps``.

    >>> x, y = copy_problem(1, 5, n_symbols=4, n_copy=3, seed=0)
    >>> x.shape, y.shape, x.dtype
    ((1, 11), (1, 11), dtype('int32'))
    >>> bool((y[0, -3:] == x[0, :3]).all()) and int(x[0, -4]) == 5
    True
    """
    _check_sizes(n_samples, length, 1)
    _check_sizes(n_symbols, n_copy, 1)
    rng = np.random.default_rng(seed)
    symbols = rng.integers(1, n_symbols + 1, size=(n_samples, n_copy))
    total = n_copy + length + n_copy
    x = np.zeros((n_samples, total), dtype="int32")
    y = np.zeros((n_samples, total), dtype="int32")
    x[:, :n_copy] = symbols
    x[:, n_copy + length - 1] = n_symbols + 1
    y[:, -n_copy:] = symbols
    return x, y
