"""dlbook: the helper package behind the dlbook notebooks.

A chapter starts with::

    import dlbook
    dlbook.setup(seed=42)
    sizes = dlbook.pick(test=500, book=5_000, full=60_000)

Submodules (`dlbook.data`, `dlbook.plot`, `dlbook.metrics`) are imported on first use so that
`import dlbook` stays cheap and never imports TensorFlow by itself.
"""

from __future__ import annotations

import importlib
import os

# TensorFlow reads this once, when it is first imported; set it before any chapter imports it so
# its C-level start-up chatter never reaches a stored notebook or the site.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from dlbook.config import (  # noqa: E402
    PROFILES,
    ProfileError,
    active_profile,
    pick,
    setup,
)

__version__ = "0.1.0"
__all__ = [
    "PROFILES",
    "ProfileError",
    "__version__",
    "active_profile",
    "data",
    "metrics",
    "pick",
    "plot",
    "setup",
]

_LAZY = {
    "data", "plot", "metrics", "chapters", "execute", "cli", "probes", "optim", "bench",
    "experiments", "diagnostics", "learning_curves", "layers", "sequences", "memory_tasks", "text",
    "seq2seq", "models", "textclass", "pretraining", "lm", "yardstick", "checkpoints",
    "autoencoders", "vae", "gan", "diffusion", "spiking", "graphs", "multimodal", "rbm", "checks",
    "rl", "fewshot", "nas", "compression", "transfer", "contrastive", "anomaly",
    "security", "recsys", "forecasting", "finance", "survival",
    "segmentation", "detection", "maintenance", "restoration", "routing", "speech", "tracing",
    "serving", "edge", "explain", "adversarial", "fairness", "drift", "cost",
    "benchmark", "distributed",
}


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f"dlbook.{name}")
    raise AttributeError(f"module 'dlbook' has no attribute {name!r}")
