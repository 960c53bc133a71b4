"""Checkpoints the project trains itself, committed with their provenance, and verified on load.

Some models cannot learn enough inside a chapter's 5-minute CPU budget (a diffusion model is the
known case), and the Part IV comparison needs every generator at once. For those, the chapter
trains briefly to show the mechanism, then loads a small checkpoint made **by this project with
the same code** (never weights from elsewhere). Each checkpoint is two files in
``dlbook/checkpoints/``:

- ``NAME.weights.h5``: the Keras weights;
- ``NAME.json``: its provenance: the command that made it, the training recipe (data, steps,
  seconds, final loss), the package versions, the sha256 of the weights file and a hash of the
  source code it depends on.

A module that owns a checkpoint (see :data:`REGISTRY`) defines ``CHECKPOINT_CODE`` (the names of
the classes and functions whose source the weights depend on), ``train_checkpoint()`` (returns
the trained model and its recipe) and ``pretrained()`` (builds the model and calls :func:`load`).
``python -m dlbook.checkpoints train NAME`` makes or remakes one; ``verify`` checks them all.
:func:`load` refuses a checkpoint whose file or code no longer matches, and says how to remake it.

>>> sorted(REGISTRY)
['ae-mnist', 'dcgan-mnist', 'ddpm-mnist', 'vae-mnist']
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib
import inspect
import json
import platform
import time
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).resolve().parent / "checkpoints"

#: checkpoint name -> the dlbook module that defines, trains and loads it
REGISTRY = {
    "ae-mnist": "dlbook.autoencoders",
    "vae-mnist": "dlbook.vae",
    "dcgan-mnist": "dlbook.gan",
    "ddpm-mnist": "dlbook.diffusion",
}

__all__ = ["DIRECTORY", "REGISTRY", "CheckpointError", "code_hash", "load", "provenance",
           "save", "verify"]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, altered, or older than the code it depends on."""


def _module(name: str):
    if name not in REGISTRY:
        raise CheckpointError(f"unknown checkpoint {name!r}; known: {sorted(REGISTRY)}")
    return importlib.import_module(REGISTRY[name])


def _remake(name: str) -> str:
    return f"remake it with `python -m dlbook.checkpoints train {name}`"


def code_hash(name: str) -> str:
    """A sha256 (first 16 hex digits) of the source of everything in the owning module's
    ``CHECKPOINT_CODE``: it changes when the code that defines or trains the model changes."""
    module = _module(name)
    names = getattr(module, "CHECKPOINT_CODE", None)
    if not names:
        raise CheckpointError(f"{module.__name__} defines no CHECKPOINT_CODE (the names whose "
                              f"source checkpoint {name!r} depends on)")
    source = "\n".join(inspect.getsource(getattr(module, n)) for n in names)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _paths(name: str) -> tuple[Path, Path]:
    return DIRECTORY / f"{name}.weights.h5", DIRECTORY / f"{name}.json"


def provenance(name: str) -> dict[str, Any]:
    """The recorded provenance of a checkpoint (no checks; see :func:`verify`)."""
    _module(name)
    _, meta = _paths(name)
    if not meta.exists():
        raise CheckpointError(f"checkpoint {name!r} has not been made yet; {_remake(name)}")
    return json.loads(meta.read_text())


def verify(name: str) -> dict[str, Any]:
    """Check that the weights file is the recorded one (sha256) and that the code it depends on
    is unchanged (code hash); return the provenance."""
    info = provenance(name)
    weights, _ = _paths(name)
    if not weights.exists():
        raise CheckpointError(f"{weights.name} is missing; {_remake(name)}")
    if _sha256(weights) != info["sha256"]:
        raise CheckpointError(f"{weights.name} does not match the sha256 in {name}.json (the "
                              f"file was changed or truncated); restore it from git or "
                              f"{_remake(name)}")
    if code_hash(name) != info["code_hash"]:
        raise CheckpointError(f"the code behind {name!r} ({REGISTRY[name]}: "
                              f"{', '.join(info['code'])}) changed after the checkpoint was "
                              f"made, so its weights may no longer fit; {_remake(name)}")
    return info


def load(model, name: str) -> dict[str, Any]:
    """Verify checkpoint ``name`` and load its weights into ``model`` (built with the same
    architecture); return its provenance (``info["recipe"]`` holds steps, seconds, data)."""
    info = verify(name)
    model.load_weights(_paths(name)[0])
    return info


def save(model, name: str, *, recipe: dict[str, Any]) -> Path:
    """Write ``model``'s weights and the provenance of checkpoint ``name``; return the weights
    path. Called by ``python -m dlbook.checkpoints train NAME``."""
    module = _module(name)
    from dlbook.execute import versions  # noqa: PLC0415 - only when saving

    DIRECTORY.mkdir(exist_ok=True)
    weights, meta = _paths(name)
    model.save_weights(weights)
    info = {
        "name": name,
        "command": f"python -m dlbook.checkpoints train {name}",
        "module": module.__name__,
        "code": list(module.CHECKPOINT_CODE),
        "code_hash": code_hash(name),
        "sha256": _sha256(weights),
        "bytes": weights.stat().st_size,
        "parameters": int(model.count_params()),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {_cores()} CPU cores",
        "versions": versions(),
        "recipe": recipe,
    }
    meta.write_text(json.dumps(info, indent=2, default=_plain) + "\n")
    return weights


def _cores() -> int:
    import os  # noqa: PLC0415

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _plain(value):
    """JSON for NumPy scalars and arrays in a recipe."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"recipe value {value!r} is not JSON-serialisable")


def train(name: str) -> Path:
    """Train checkpoint ``name`` from scratch with its module's ``train_checkpoint()`` and
    save it."""
    module = _module(name)
    import dlbook  # noqa: PLC0415

    dlbook.setup(seed=42)
    start = time.perf_counter()
    model, recipe = module.train_checkpoint()
    recipe = dict(recipe, wall_seconds=round(time.perf_counter() - start, 1))
    return save(model, name, recipe=recipe)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlbook.checkpoints",
                                     description="Make or verify dlbook's own checkpoints.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train a checkpoint from scratch").add_argument(
        "name", choices=sorted(REGISTRY))
    sub.add_parser("verify", help="check every checkpoint's sha256 and code hash")
    args = parser.parse_args(argv)
    if args.command == "train":
        path = train(args.name)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return 0
    failed = 0
    for name in sorted(REGISTRY):
        try:
            info = verify(name)
            print(f"ok       {name}: {info['recipe'].get('steps', '?')} steps, made "
                  f"{info['created']}")
        except CheckpointError as error:
            failed += 1
            print(f"FAILED   {name}: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
