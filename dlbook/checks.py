"""Input checks shared by dlbook's modules: each returns the clean value or raises a
``ValueError`` that says what was wrong and how to fix it.

>>> positive_int(3, "epochs")
3
>>> unit_batch([[0.0, 0.5, 1.0]]).dtype
dtype('float32')
>>> unit_batch([[0, 255]], hint="divide 8-bit images by 255")
Traceback (most recent call last):
    ...
ValueError: data must lie in [0, 1], got values from 0 to 255; divide 8-bit images by 255
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["positive_int", "positive_number", "unit_batch"]


def positive_int(value: Any, what: str) -> int:
    """``value`` as an ``int`` if it is an integer >= 1 (bools are refused).

    >>> positive_int(2.0, "steps")
    Traceback (most recent call last):
        ...
    ValueError: steps must be a positive int, got 2.0
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


def positive_number(value: Any, what: str, *, allow_inf: bool = False, hint: str = "") -> float:
    """``value`` as a ``float`` if it is a real number > 0 and finite (``allow_inf`` admits
    ``inf``); ``hint`` is added to the message to say what the number means.

    >>> positive_number(0.5, "slope")
    0.5
    >>> positive_number(0, "temperature", hint="1 leaves the softmax as it is")
    Traceback (most recent call last):
        ...
    ValueError: temperature must be a positive finite number (1 leaves the softmax as it is), got 0
    """
    number = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not number or math.isnan(value) or value <= 0 or (math.isinf(value) and not allow_inf):
        note = f" ({hint})" if hint else ""
        raise ValueError(f"{what} must be a positive finite number{note}, got {value!r}")
    return float(value)


def unit_batch(x: Any, what: str = "data", *, hint: str = "scale it into [0, 1] first",
               example: str = "example") -> np.ndarray:
    """A non-empty batch ``(n, ...)`` of finite numbers in [0, 1] (pixel intensities,
    probabilities), returned as float32. ``hint`` ends the out-of-range message with the fix
    that suits the caller's data; ``example`` names one item of the batch.

    >>> unit_batch(np.zeros(3))
    Traceback (most recent call last):
        ...
    ValueError: data must be a non-empty batch shaped (n, ...), got shape (3,); a single example needs x[None]
    """
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{what} must be numeric, got dtype {x.dtype}")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{what} must be a non-empty batch shaped (n, ...), got shape "
                         f"{x.shape}; a single {example} needs x[None]")
    x = x.astype("float32")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf values")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"{what} must lie in [0, 1], got values from {x.min():.3g} to "
                         f"{x.max():.3g}; {hint}")
    return x
