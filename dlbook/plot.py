"""Plots every chapter needs, in one consistent style. Each function returns its figure.

>>> import numpy as np
>>> fig = image_grid(np.zeros((4, 8, 8)), labels=["a", "b", "c", "d"])
>>> len(fig.axes)
4
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE: dict[str, Any] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "legend.frameon": False,
    "image.cmap": "viridis",
}
"""The book's Matplotlib settings; :func:`dlbook.setup` applies them."""

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def use_style() -> None:
    """Apply the book's plot style to Matplotlib (idempotent)."""
    plt.rcParams.update(STYLE)
    plt.rcParams["axes.prop_cycle"] = matplotlib.cycler(color=PALETTE)


def _history_dict(history: Any) -> Mapping[str, Sequence[float]]:
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping) or not values:
        raise TypeError(
            "history must be what model.fit returns (a keras History) or a non-empty dict of "
            f"metric name -> list of per-epoch values, got {type(history).__name__}"
        )
    return values


def history(history: Any, *, metrics: Sequence[str] | None = None, title: str = "Training history"):
    """Plot per-epoch training and validation curves, one panel per metric.

    ``history`` is the object ``model.fit`` returns, or its ``.history`` dict. Validation curves
    (``val_<metric>``) are drawn beside their training curve.

    >>> fig = history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    >>> fig.axes[0].get_ylabel()
    'loss'
    """
    values = _history_dict(history)
    names = list(metrics) if metrics else [k for k in values if not k.startswith("val_")]
    unknown = [m for m in names if m not in values]
    if unknown:
        raise KeyError(f"metrics {unknown} not in history; it has {sorted(values)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        epochs = np.arange(1, len(values[name]) + 1)
        ax.plot(epochs, values[name], marker="o", ms=3, label="train")
        if f"val_{name}" in values:
            ax.plot(epochs, values[f"val_{name}"], marker="o", ms=3, label="validation")
        ax.set(xlabel="epoch", ylabel=name, title=name.replace("_", " "))
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(
    images: np.ndarray,
    labels: Sequence[Any] | None = None,
    *,
    ncols: int = 8,
    cmap: str = "gray_r",
    title: str | None = None,
    size: float = 1.1,
):
    """Show images in a grid, optionally with a caption under each.

    ``images`` has shape ``(n, height, width)`` or ``(n, height, width, channels)``.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty array of shape (n, h, w) or (n, h, w, c), got {images.shape}"
        )
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.25) * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            fig.delaxes(ax)
            continue
        image = images[i][..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images[i]
        ax.imshow(image, cmap=cmap if image.ndim == 2 else None)
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=8, fontweight="normal")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    class_names: Sequence[str] | None = None,
    *,
    normalize: bool = True,
    title: str = "Confusion matrix",
):
    """Plot a confusion matrix; rows are true classes, columns predictions.

    With ``normalize`` each row shows the share of its class (recall on the diagonal).

    >>> fig = confusion_matrix([0, 1, 1], [0, 1, 0], ["cat", "dog"])
    >>> fig.axes[0].get_xlabel()
    'predicted class'
    """
    from sklearn.metrics import confusion_matrix as sk_confusion

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D and the same length (class indices), got "
            f"{y_true.shape} and {y_pred.shape}; for probabilities pass y_prob.argmax(axis=1)"
        )
    n_classes = len(class_names) if class_names is not None else int(max(y_true.max(), y_pred.max())) + 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    matrix = sk_confusion(y_true, y_pred, labels=np.arange(n_classes))
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    side = max(3.5, 0.45 * n_classes + 1.5)
    fig, ax = plt.subplots(figsize=(side + 0.8, side))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.grid(False)
    ax.set_xticks(range(n_classes), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right" if max(map(len, names)) > 2 else "center")
    ax.set_yticks(range(n_classes), names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    for i in range(n_classes):
        for j in range(n_classes):
            if matrix[i, j]:
                text = f"{shown[i, j]:.2f}" if normalize else str(matrix[i, j])
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > 0.5 * shown.max() else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class" if normalize else "count")
    fig.tight_layout()
    return fig


def network_diagram(
    layer_sizes: Sequence[int],
    *,
    layer_names: Sequence[str] | None = None,
    max_units: int = 8,
    title: str = "A fully connected network",
):
    """Draw a fully connected network: one column of units per layer, every unit of a layer
    connected to every unit of the next. Layers wider than ``max_units`` show their first and
    last units with an ellipsis and the true width underneath.

    >>> fig = network_diagram([784, 128, 10], layer_names=["pixels", "hidden", "classes"])
    >>> fig.axes[0].get_title()
    'A fully connected network'
    """
    sizes = list(layer_sizes)
    if len(sizes) < 2 or any(not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
        raise ValueError(f"layer_sizes must be at least two positive ints, got {layer_sizes!r}")
    names = list(layer_names) if layer_names is not None else [f"layer {i}" for i in range(len(sizes))]
    if len(names) != len(sizes):
        raise ValueError(f"{len(sizes)} layers but {len(names)} layer names")
    fig, ax = plt.subplots(figsize=(1.9 * len(sizes) + 1, 4.2))
    positions = []
    for i, n in enumerate(sizes):
        shown = n if n <= max_units else max_units
        ys = np.linspace(0.9, 0.1, shown) if shown > 1 else np.array([0.5])
        positions.append(ys)
        color = PALETTE[0] if i == 0 else PALETTE[1] if i == len(sizes) - 1 else PALETTE[2]
        for j, y in enumerate(ys):
            if n > max_units and j == shown // 2:
                ax.text(i, y, "⋮", ha="center", va="center", fontsize=14)
                continue
            ax.add_patch(plt.Circle((i, y), 0.035, color=color, zorder=3))
        ax.text(i, -0.02, f"{names[i]}\n{n:,} unit{'s' if n != 1 else ''}", ha="center", va="top", fontsize=9)
    for i in range(len(sizes) - 1):
        for y0 in positions[i]:
            for y1 in positions[i + 1]:
                ax.plot([i, i + 1], [y0, y1], color="0.6", lw=0.4, zorder=1)
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-0.2, 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _new_or(ax, figsize=(5.6, 4.4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _as_predictor(model: Any):
    """A function from (n, 2) points to class scores, from a callable, a Keras model or a
    scikit-learn estimator."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba
    if hasattr(model, "predict") and hasattr(model, "layers"):  # Keras
        return lambda points: model.predict(points, verbose=0, batch_size=4096)
    if hasattr(model, "predict"):
        return model.predict
    if callable(model):
        return model
    raise TypeError(
        "model must be a Keras model, a scikit-learn estimator or a function of an (n, 2) array, "
        f"got {type(model).__name__}"
    )


def decision_boundary(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    resolution: int = 200,
    margin: float = 0.5,
    title: str = "Decision regions",
    ax=None,
):
    """Colour the plane by the class a model predicts, with the data points on top.

    ``model`` is a Keras model, a scikit-learn classifier or a function mapping an ``(n, 2)``
    array to class probabilities ``(n, k)``, probabilities of class 1 ``(n,)`` or labels.

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 1.0]]); y = np.array([0, 1])
    >>> fig = decision_boundary(lambda p: (p.sum(axis=1) > 1).astype(int), x, y)
    >>> fig.axes[0].get_xlabel()
    '$x_1$'
    """
    x, y = np.asarray(x, dtype="float64"), np.asarray(y)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-D inputs: x must have shape (n, 2), got {x.shape}")
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} points but y has {len(y)} labels")
    predict = _as_predictor(model)
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[g1.ravel(), g2.ravel()].astype("float32")
    scores = np.asarray(predict(grid))
    if scores.ndim == 2 and scores.shape[1] > 1:
        labels = scores.argmax(axis=1)
    elif scores.dtype.kind == "f" and not np.all(scores == np.round(scores)):
        labels = (scores.reshape(-1) >= 0.5).astype(int)
    else:
        labels = scores.reshape(-1).astype(int)
    n_classes = int(max(labels.max(), y.max())) + 1
    colors = matplotlib.colors.ListedColormap(PALETTE[:n_classes] if n_classes <= len(PALETTE) else plt.cm.tab10.colors[:n_classes])
    fig, ax = _new_or(ax)
    ax.contourf(g1, g2, labels.reshape(g1.shape), levels=np.arange(n_classes + 1) - 0.5, cmap=colors, alpha=0.25)
    for k in range(n_classes):
        mask = y == k
        if mask.any():
            name = class_names[k] if class_names is not None else f"class {k}"
            ax.scatter(x[mask, 0], x[mask, 1], s=14, color=colors(k), edgecolor="white", linewidth=0.4, label=name)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title)
    ax.grid(False)
    ax.legend(loc="best", fontsize=8)
    return fig


def loss_surface(
    fn,
    *,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    paths: Mapping[str, np.ndarray] | None = None,
    minimum: Sequence[float] | None = None,
    levels: int = 30,
    log_scale: bool = True,
    resolution: int = 300,
    labels: tuple[str, str] = ("$w_1$", "$w_2$"),
    title: str = "Loss surface",
    ax=None,
):
    """Contour plot of a function of two parameters, with optimisation paths drawn on it.

    ``fn(w1, w2)`` must accept NumPy arrays (it is evaluated on a grid). Each path is an array
    of shape ``(steps, 2)``: the parameters after each step, starting point first.

    >>> import numpy as np
    >>> path = np.array([[2.0, 2.0], [1.0, 0.5], [0.2, 0.1]])
    >>> fig = loss_surface(lambda a, b: a**2 + 3 * b**2, xlim=(-3, 3), ylim=(-3, 3),
    ...                    paths={"gradient descent": path}, minimum=(0, 0))
    >>> fig.axes[0].get_title()
    'Loss surface'
    """
    if xlim[0] >= xlim[1] or ylim[0] >= ylim[1]:
        raise ValueError(f"xlim and ylim must be (low, high) with low < high, got {xlim} and {ylim}")
    g1, g2 = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    z = np.asarray(fn(g1, g2), dtype="float64")
    if z.shape != g1.shape:
        raise ValueError(f"fn must work element-wise on arrays: got shape {z.shape} for a {g1.shape} grid")
    fig, ax = _new_or(ax)
    if log_scale:
        shifted = z - z.min() + 1e-3
        contour_levels = np.geomspace(shifted.min(), shifted.max(), levels) + z.min() - 1e-3
    else:
        contour_levels = np.linspace(z.min(), z.max(), levels)
    ax.contourf(g1, g2, z, levels=contour_levels, cmap="viridis_r", alpha=0.85)
    ax.contour(g1, g2, z, levels=contour_levels, colors="white", linewidths=0.3, alpha=0.6)
    for i, (name, path) in enumerate((paths or {}).items()):
        path = np.asarray(path, dtype="float64")
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"path {name!r} must have shape (steps, 2), got {path.shape}")
        color = PALETTE[(i + 1) % len(PALETTE)]
        ax.plot(path[:, 0], path[:, 1], "-o", color=color, ms=2.5, lw=1.4, label=f"{name} ({len(path) - 1} steps)")
        ax.plot(*path[0], "s", color=color, ms=6)
    if minimum is not None:
        ax.plot(*minimum, "*", color="white", ms=14, markeredgecolor="black", label="minimum")
    ax.set(xlim=xlim, ylim=ylim, xlabel=labels[0], ylabel=labels[1], title=title)
    ax.grid(False)
    if paths or minimum is not None:
        ax.legend(loc="upper right", fontsize=8)
    return fig


def _panel_grid(n: int, ncols: int, size: float):
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.6), squeeze=False)
    for ax in axes.flat[n:]:
        fig.delaxes(ax)
    return fig, list(axes.flat[:n])


def filters(
    kernels: np.ndarray,
    *,
    max_filters: int = 32,
    ncols: int = 8,
    title: str = "Convolution filters",
    size: float = 0.9,
):
    """Show the kernels of a convolution layer, one panel per output channel.

    ``kernels`` is a ``Conv2D`` kernel in Keras layout, ``(height, width, in_channels,
    filters)`` (``layer.get_weights()[0]``). Single-channel filters are drawn with a diverging
    colour map centred on zero (red positive, blue negative, one scale for all panels); filters
    with three input channels are drawn as colour images, rescaled to [0, 1].

    >>> import numpy as np
    >>> fig = filters(np.random.randn(3, 3, 1, 6))
    >>> len(fig.axes), fig.axes[0].get_title()
    (7, 'filter 0')
    """
    kernels = np.asarray(kernels, dtype="float64")
    if kernels.ndim != 4 or kernels.shape[2] not in (1, 3):
        raise ValueError(
            "kernels must have the Keras Conv2D layout (height, width, in_channels, filters) with 1 "
            f"or 3 input channels, got shape {kernels.shape}; pass layer.get_weights()[0], or one "
            "input channel of it as kernels[:, :, i:i+1, :]"
        )
    if max_filters < 1:
        raise ValueError(f"max_filters must be at least 1, got {max_filters}")
    shown = kernels[..., :max_filters]
    fig, axes = _panel_grid(shown.shape[-1], ncols, size)
    limit = float(np.abs(shown).max()) or 1.0
    image = None
    for k, ax in enumerate(axes):
        kernel = shown[..., k]
        if kernel.shape[2] == 1:
            image = ax.imshow(kernel[..., 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            lo, hi = kernel.min(), kernel.max()
            ax.imshow((kernel - lo) / (hi - lo if hi > lo else 1.0))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.set_title(f"filter {k}", fontsize=7, fontweight="normal")
    fig.suptitle(title)
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=axes, fraction=0.02, pad=0.02, label="weight")
    return fig


def feature_maps(
    maps: np.ndarray,
    *,
    max_maps: int = 16,
    ncols: int = 8,
    title: str = "Feature maps",
    size: float = 1.1,
    cmap: str = "magma",
):
    """Show the channels of one layer's output for one input, one panel per channel.

    ``maps`` has shape ``(height, width, channels)``, or ``(1, height, width, channels)`` as a
    Keras model returns it for a batch of one image. Each panel has its own colour scale
    (bright = strong response).

    >>> import numpy as np
    >>> fig = feature_maps(np.random.rand(1, 14, 14, 4), ncols=2)
    >>> len(fig.axes), fig.axes[3].get_title()
    (4, 'channel 3')
    """
    maps = np.asarray(maps, dtype="float64")
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3 or maps.shape[-1] < 1:
        raise ValueError(
            "maps must have shape (height, width, channels) or (1, height, width, channels) for "
            f"one input, got {maps.shape}; for a batch pass one image's maps, e.g. maps[:1]"
        )
    if max_maps < 1:
        raise ValueError(f"max_maps must be at least 1, got {max_maps}")
    shown = maps[..., :max_maps]
    fig, axes = _panel_grid(shown.shape[-1], ncols, size)
    for k, ax in enumerate(axes):
        ax.imshow(shown[..., k], cmap=cmap)
        ax.axis("off")
        ax.set_title(f"channel {k}", fontsize=7, fontweight="normal")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def attention_map(
    weights: np.ndarray,
    source_tokens: Sequence[str],
    target_tokens: Sequence[str],
    *,
    title: str = "Attention weights",
    xlabel: str = "source word",
    ylabel: str = "output word",
    ax=None,
    cmap: str = "Blues",
):
    """Show how much each output word (rows) attended to each input word (columns).

    ``weights`` has shape ``(len(target_tokens), len(source_tokens))``; each row is one decoding
    step's attention distribution (it sums to 1). Extra rows or columns beyond the tokens (an
    end-marker step, padding) are cut off; fewer raise an error.

    >>> import numpy as np
    >>> fig = attention_map(np.eye(3), ["in", "the", "beginning"], ["en", "el", "principio"])
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('source word', 'output word')
    """
    weights = np.asarray(weights, dtype="float64")
    n_out, n_src = len(target_tokens), len(source_tokens)
    if weights.ndim != 2 or weights.shape[0] < n_out or weights.shape[1] < n_src:
        raise ValueError(
            f"weights must be a 2-D (output steps, source positions) matrix covering "
            f"{n_out} output and {n_src} source tokens, got shape {weights.shape}; for a batch "
            "pass one sentence's weights, e.g. weights[0]"
        )
    if not n_out or not n_src:
        raise ValueError("source_tokens and target_tokens must not be empty")
    shown = weights[:n_out, :n_src]
    fig, ax = _new_or(ax, figsize=(max(3.5, 0.42 * n_src + 1.8), max(2.5, 0.34 * n_out + 1.4)))
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=max(float(shown.max()), 1e-9),
                      aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(n_src), list(source_tokens), rotation=60, ha="right",
                  rotation_mode="anchor", fontsize=8)
    ax.set_yticks(range(n_out), list(target_tokens), fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    return fig
