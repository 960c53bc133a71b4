"""Profiles, seeding and the one-line environment report every chapter starts with."""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from typing import TypeVar

PROFILES: tuple[str, ...] = ("test", "book", "full")
"""The three sizes of every notebook: ``test`` (CI, <= 60 s on 2 CPU cores), ``book`` (the
published outputs, <= 5 min) and ``full`` (the real-size run, for a GPU)."""

DEFAULT_PROFILE = "book"
PROFILE_ENV = "DLBOOK_PROFILE"

T = TypeVar("T")


class ProfileError(ValueError):
    """Raised for an unknown profile name or an incomplete :func:`pick`."""


def active_profile() -> str:
    """Return the active profile, read from ``DLBOOK_PROFILE`` (default ``"book"``).

    >>> import os; os.environ["DLBOOK_PROFILE"] = "test"
    >>> active_profile()
    'test'
    >>> del os.environ["DLBOOK_PROFILE"]
    >>> active_profile()
    'book'
    """
    raw = os.environ.get(PROFILE_ENV, "")
    name = raw.strip().lower() or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ProfileError(
            f"unknown profile {raw!r} in ${PROFILE_ENV}; use one of {', '.join(PROFILES)} "
            f"(e.g. `export {PROFILE_ENV}=test`), or unset it for the default {DEFAULT_PROFILE!r}"
        )
    return name


def pick(*, test: T, book: T, full: T | None = None) -> T:
    """Return the value for the active profile.

    ``full`` defaults to ``book``: most chapters only grow between ``test`` and ``book``.

    >>> import os; os.environ["DLBOOK_PROFILE"] = "test"
    >>> pick(test=2, book=20, full=200)
    2
    >>> del os.environ["DLBOOK_PROFILE"]
    >>> pick(test=2, book=20)
    20
    """
    values = {"test": test, "book": book, "full": book if full is None else full}
    return values[active_profile()]


@contextlib.contextmanager
def _c_stderr_silenced():
    """Send file descriptor 2 to /dev/null for a moment: TensorFlow's C++ start-up notices
    (oneDNN, absl) ignore TF_CPP_MIN_LOG_LEVEL. Python exceptions still propagate."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras():
    """Import Keras (and TensorFlow, when it is the backend) without C-level start-up noise."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    with _c_stderr_silenced():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.constant(0) + 0  # the first op prints a second oneDNN notice
    return keras


def _seed_everything(seed: int, deterministic: bool) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    keras = import_keras()

    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _device() -> str:
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return f"{len(gpus)} GPU" + ("s" if len(gpus) > 1 else "")
    return f"CPU ({os.cpu_count()} cores)"


def describe() -> str:
    """One line naming the versions, backend, device and profile in use."""
    keras = import_keras()

    parts = [f"Python {platform.python_version()}", f"Keras {keras.__version__}"]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        parts.append(f"TensorFlow {tf.__version__}")
    parts += [f"backend {backend}", _device(), f"profile {active_profile()}"]
    return " · ".join(parts)


def setup(seed: int = 42, *, deterministic: bool = True, quiet: bool = False) -> None:
    """Seed Python, NumPy and Keras, make TensorFlow ops deterministic, and report the set-up.

    Call it once, at the top of a chapter, before building any model. Prints one line with the
    versions, backend, device, profile and seed (unless ``quiet``).

    >>> setup(seed=0)  # doctest: +ELLIPSIS
    Python ... · Keras ... · profile ... · seed 0
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    active_profile()  # fail early, before the slow imports, on a bad $DLBOOK_PROFILE
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _seed_everything(seed, deterministic)
    from dlbook import plot

    plot.use_style()
    if not quiet:
        print(describe() + f" · seed {seed}", file=sys.stdout)
