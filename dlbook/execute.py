"""Run chapter notebooks in a fresh kernel and store their outputs with run metadata.

``dlbook execute`` (and ``make execute``) use :func:`execute`; the outputs a reader sees on the
site come from here, at the ``book`` profile.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from importlib import metadata as importlib_metadata
from pathlib import Path

import nbformat

from dlbook.chapters import META_KEY, code_hash, read, runtime_header
from dlbook.config import PROFILES, ProfileError

VERSIONED = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "scikit-learn", "matplotlib", "dlbook")


def versions() -> dict[str, str]:
    """Versions of the packages a chapter's outputs depend on (those installed)."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return found


def kernel_env(profile: str) -> dict[str, str]:
    """The environment a chapter runs in: the profile, quiet TensorFlow, and the variable that
    makes ipykernel leave C-level stderr alone exactly as it does under nbval (so a stored
    notebook and a test run produce the same streams)."""
    env = dict(os.environ)
    env.update({
        "DLBOOK_PROFILE": profile,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTEST_CURRENT_TEST": "dlbook-execute",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    return env


def run(nb: nbformat.NotebookNode, path: Path, profile: str, *, timeout: int = 900, progress=None) -> float:
    """Execute ``nb`` in place in a fresh kernel started in the notebook's folder; return the wall
    time in seconds. Raises ``nbclient.exceptions.CellExecutionError`` when a cell fails."""
    from nbclient import NotebookClient

    if profile not in PROFILES:
        raise ProfileError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    if progress is not None:
        client.on_cell_executed = lambda **_: progress.update(1)
    start = time.perf_counter()
    client.execute(env=kernel_env(profile))
    return time.perf_counter() - start


def execute(path: Path | str, *, profile: str = "book", time_test: bool = False, timeout: int = 900,
            progress: bool = True) -> dict:
    """Execute a chapter at ``profile``, store outputs and metadata in the file, return the
    metadata. With ``time_test`` the chapter first runs at the ``test`` profile (outputs
    discarded) so its test runtime is recorded too.

    Storing is only allowed for the ``book`` profile: those are the outputs the site shows and
    the stale-output test expects.
    """
    path = Path(path)
    if profile != "book":
        raise ProfileError(
            f"stored outputs must come from the 'book' profile, not {profile!r}; to try another "
            "profile without storing, use `DLBOOK_PROFILE=test pytest --nbval-lax PATH`"
        )
    original = read(path)
    runtimes: dict[str, float] = dict(original.metadata.get(META_KEY, {}).get("runtime_s", {}))
    n_code = sum(1 for c in original.cells if c.cell_type == "code")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_code * (2 if time_test else 1), desc=path.name, unit="cell", leave=True)
    try:
        if time_test:
            runtimes["test"] = round(run(read(path), path, "test", timeout=timeout, progress=bar), 1)
        nb = read(path)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        runtimes["book"] = round(run(nb, path, "book", timeout=timeout, progress=bar), 1)
    finally:
        if bar is not None:
            bar.close()
    meta = {
        "profile": "book",
        "code_sha256": code_hash(nb),
        "runtime_s": runtimes,
        "executed": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "versions": versions(),
    }
    nb.metadata[META_KEY] = {**nb.metadata.get(META_KEY, {}), **meta}
    header = runtime_header(nb, runtimes)
    if header is not None:  # the header states what was just measured, never a stale guess
        nb.cells[0].source = header
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return meta
