"""The dataset registry, :class:`Dataset` and :func:`load`."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dlbook.data._sources import (
    Cache,
    ChecksumMismatch,
    Download,
    Source,
    SourceUnavailable,
    cache_root,
)


class DataError(Exception):
    """Base class of every dataset error."""


class UnknownDatasetError(DataError, KeyError):
    """The name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class DataUnavailableError(DataError):
    """No source of the dataset is available offline here."""


class ChecksumError(DataError):
    """A file was found but is corrupted (its checksum does not match)."""


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, where it comes from and how to cite it."""

    name: str
    title: str
    task: str
    shape: str
    size: str
    license: str
    source: str
    citation: str
    description: str
    sources: tuple[Source, ...] = field(repr=False)
    reader: Callable[[Any], Dataset] = field(repr=False, compare=False)


@dataclass
class Dataset:
    """A dataset split into train and test parts.

    Images are ``float32`` in ``[0, 1]`` with shape ``(n, height, width)``; tabular features keep
    their original units (scaling them is part of the lesson), as an array or, where columns
    have mixed types, a pandas DataFrame. Classification labels are ``int64`` indices into
    ``class_names``; regression targets are ``float64`` and ``class_names`` is empty.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    info: DatasetInfo = field(repr=False)
    feature_names: list[str] | None = None
    source: str = ""

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for a regression target)."""
        return len(self.class_names)

    @property
    def is_regression(self) -> bool:
        return not self.class_names

    def __repr__(self) -> str:
        target = "regression target" if self.is_regression else f"{self.n_classes} classes"
        return (
            f"Dataset({self.name!r}, train {self.x_train.shape} test {self.x_test.shape}, "
            f"{target}, from {self.source})"
        )

    def subset(self, n_train: int | None = None, n_test: int | None = None, *, seed: int = 0) -> Dataset:
        """A stratified random subset, for small profiles.

        >>> ds = load("digits").subset(n_train=100, n_test=50)
        >>> len(ds.x_train), len(ds.x_test)
        (100, 50)
        """
        rng = np.random.default_rng(seed)
        x_train, y_train = _stratified(self.x_train, self.y_train, n_train, rng, "n_train")
        x_test, y_test = _stratified(self.x_test, self.y_test, n_test, rng, "n_test")
        return replace(self, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _stratified(x: np.ndarray, y: np.ndarray, n: int | None, rng: np.random.Generator, what: str):
    if n is None:
        return x, y
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 < n <= len(y):
        raise ValueError(f"{what} must be an int between 1 and {len(y)}, got {n!r}")
    if n == len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    y_values = np.asarray(y)
    classes, counts = np.unique(y_values, return_counts=True)
    discrete = np.issubdtype(y_values.dtype, np.integer)
    stratify = y_values if discrete and n >= len(classes) and counts.min() >= 2 else None
    idx, _ = train_test_split(
        np.arange(len(y)), train_size=int(n), stratify=stratify, random_state=int(rng.integers(2**31))
    )
    idx = np.sort(idx)
    take = (lambda a: a.iloc[idx]) if hasattr(x, "iloc") else (lambda a: a[idx])
    return take(x), y[idx]


REGISTRY: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset to the registry (used by :mod:`dlbook.data._registry`)."""
    if info.name in REGISTRY:
        raise ValueError(f"dataset {info.name!r} is registered twice")
    REGISTRY[info.name] = info
    return info


def _load_registry() -> None:
    from dlbook.data.registry import load_all

    load_all()


def _entry(name: str) -> DatasetInfo:
    _load_registry()

    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; {hint}known: {', '.join(sorted(REGISTRY))} "
            "(`dlbook data list` describes them)"
        ) from None


def info(name: str) -> DatasetInfo:
    """The registry entry of a dataset (what it is, license, citation, sources)."""
    return _entry(name)


def catalog() -> list[DatasetInfo]:
    """Every registered dataset, sorted by name.

    >>> any(i.name == "fashion-mnist" for i in catalog())
    True
    """
    _load_registry()
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def _try_sources(entry: DatasetInfo, sources: Sequence[Source]) -> tuple[Any, Source]:
    reasons = []
    for source in sources:
        try:
            return source.fetch(), source
        except SourceUnavailable as why:
            reasons.append(f"  - {source.describe()}: {why}")
        except ChecksumMismatch as why:
            raise ChecksumError(f"dataset {entry.name!r}: {why}") from None
    raise DataUnavailableError(
        f"dataset {entry.name!r} is not available offline here. Sources tried, in order:\n"
        + "\n".join(reasons)
    )


def load(name: str) -> Dataset:
    """Load a named dataset from the first available source (see :func:`catalog`).

    >>> ds = load("breast_cancer")
    >>> ds.x_train.shape, ds.class_names
    ((455, 30), ['malignant', 'benign'])
    """
    entry = _entry(name)
    raw, source = _try_sources(entry, entry.sources)
    dataset = entry.reader(raw)
    dataset.info = entry
    dataset.source = source.describe()
    return dataset


def availability(name: str) -> tuple[bool, str]:
    """Whether ``name`` loads offline here, and from which source (or why not). Never downloads."""
    entry = _entry(name)
    offline = [s for s in entry.sources if not isinstance(s, Download)]
    try:
        _, source = _try_sources(entry, offline)
    except DataError as why:
        reasons = str(why).splitlines()[1:]  # one line per source tried, the preferred first
        return False, reasons[0].strip(" -") if reasons else str(why)
    return True, source.describe()


def cache_dir() -> Path:
    """Where downloaded datasets are cached: ``$DLBOOK_DATA`` or ``~/.cache/dlbook``."""
    return cache_root()


def fetch(name: str) -> Path:
    """Download a dataset into the cache (checksummed), whatever the profile. For readers who
    want the ``full`` profile's data ahead of time; tests never call it with the network on."""
    entry = _entry(name)
    downloads = [s for s in entry.sources if isinstance(s, Download)]
    if not downloads:
        raise DataError(f"dataset {name!r} has no download source; it ships with a package")
    try:
        downloads[0].fetch(allow=True)
    except ChecksumMismatch as why:
        raise ChecksumError(str(why)) from None
    return downloads[0].directory()


__all__ = ["Cache", "Download"]
