"""Run chapter notebooks in a fresh kernel and store their outputs with run metadata.

``dlbook execute`` (and ``make execute``) use :func:`execute`, and :func:`execute_many` to run
several chapters at once; the outputs a reader sees on the site come from here, at the ``book``
profile.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
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
            progress: bool = True, parallel_jobs: int = 1) -> dict:
    """Execute a chapter at ``profile``, store outputs and metadata in the file, return the
    metadata. With ``time_test`` the chapter first runs at the ``test`` profile (outputs
    discarded) so its test runtime is recorded too. ``parallel_jobs`` is how many chapters ran
    at the same time as this one (itself included); it is stored with the runtimes, which it
    inflates on a machine with few cores.

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
        "parallel_jobs": int(parallel_jobs),
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


# --- several chapters at once ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one chapter in :func:`execute_many`: its metadata when stored, or the
    error (as text: exceptions from a worker process do not always survive pickling)."""

    path: Path
    meta: dict | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _execute_one(path: Path, time_test: bool, timeout: int, parallel_jobs: int,
                 progress: bool) -> Outcome:
    """Run one chapter and report, never raise: a failing chapter must not stop the others."""
    try:
        meta = execute(path, time_test=time_test, timeout=timeout, progress=progress,
                       parallel_jobs=parallel_jobs)
    except Exception as why:  # noqa: BLE001 - cell errors, timeouts, dead kernels alike
        return Outcome(path, error=f"{type(why).__name__}: {why}")
    return Outcome(path, meta=meta)


def execute_many(paths: Sequence[Path | str], *, jobs: int = 1, time_test: bool = True,
                 timeout: int = 900, progress: bool = True) -> Iterator[Outcome]:
    """Execute and store every chapter in ``paths``, ``jobs`` at a time, yielding an
    :class:`Outcome` as each finishes (in the order they finish when ``jobs`` > 1). Each
    chapter runs in its own kernel, driven from its own worker process, so one that fails or
    hangs leaves the others' runs and stored outputs untouched; a failed chapter keeps its old
    outputs. Each stored chapter records ``parallel_jobs``: how many ran at once.

    With ``jobs=1`` the chapters run one after another in this process (with progress bars).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1 (how many chapters run at once), got {jobs!r}")
    paths = [Path(p) for p in paths]
    at_once = min(jobs, len(paths)) or 1
    if at_once == 1:
        for path in paths:
            yield _execute_one(path, time_test, timeout, 1, progress)
        return
    # "spawn": a fresh interpreter per worker, never a fork of a process that may hold threads
    # (TensorFlow's, ZeroMQ's) whose locks a fork would copy in an unknown state.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=at_once, mp_context=context) as pool:
        futures = {pool.submit(_execute_one, path, time_test, timeout, at_once, False): path
                   for path in paths}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as why:  # noqa: BLE001 - the worker process itself died
                yield Outcome(futures[future], error=f"{type(why).__name__}: {why}")


def report_outcome(outcome: Outcome, root: Path, say: Callable[[str], None],
                   warn: Callable[[str], None]) -> None:
    """One line per chapter: where it was stored and its runtimes, or why it failed."""
    try:
        rel = outcome.path.resolve().relative_to(root)
    except ValueError:
        rel = outcome.path
    if outcome.ok:
        assert outcome.meta is not None
        times = ", ".join(f"{k} {v:.0f} s" for k, v in outcome.meta["runtime_s"].items())
        jobs = outcome.meta.get("parallel_jobs", 1)
        alone = "" if jobs == 1 else f", {jobs} chapters at once"
        say(f"stored {rel} ({times}{alone})")
    else:
        warn(f"error: {rel} failed; its stored outputs are unchanged.\n{outcome.error}")
