"""Named, documented datasets that load offline.

>>> from dlbook import data
>>> ds = data.load("digits")
>>> ds.x_train.shape, ds.x_test.shape
((1437, 8, 8), (360, 8, 8))
>>> "fashion-mnist" in [info.name for info in data.catalog()]
True

Every entry lists its sources in order: a resource inside an installed Python package, a Debian
data package, the local cache (``$DLBOOK_DATA``, default ``~/.cache/dlbook``), and, for the
``full`` profile only, a checksummed download into that cache. Tests and the book build never
download.
"""

from dlbook.data._core import (
    ChecksumError,
    DataError,
    Dataset,
    DatasetInfo,
    DataUnavailableError,
    UnknownDatasetError,
    availability,
    cache_dir,
    catalog,
    info,
    load,
)

__all__ = [
    "ChecksumError",
    "DataError",
    "DataUnavailableError",
    "Dataset",
    "DatasetInfo",
    "UnknownDatasetError",
    "availability",
    "cache_dir",
    "catalog",
    "info",
    "load",
]
