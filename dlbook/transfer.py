"""Transfer learning: reuse a network trained on one task as the start of another.

A network trained on a large *source* task (here a small CNN on MNIST digits 0–4) is cut at a
named layer; what lies below the cut is the *base*, a feature extractor. A new *head* for the
*target* task sits on top. Two ways to train it:

- *feature extraction*: the base is frozen and only the head learns;
- *fine-tuning*: after the head has learned, the top block(s) of the base are unfrozen and
  trained further with a lower learning rate.

The pieces:

- :func:`small_cnn` — the convolutional network used as source, and from scratch as the
  baseline; its layers are named ``block<i>_conv``, ``block<i>_bn``, ``block<i>_relu``,
  ``block<i>_pool``, then ``features`` (global average pooling) and ``head``.
- :func:`transfer_model` — a copy of a (saved and loaded) source model cut at a named layer,
  frozen, with a new head, compiled.
- :func:`unfreeze_top` — unfreeze the top ``blocks`` blocks of the base (batch normalisation
  stays frozen) and recompile with a lower learning rate.
- :func:`restart` — reuse a compiled model for a new run: set its weights, reset its
  optimizer (no new tracing).
- :func:`split_classes` — one data set cut into tasks with different classes.
- :func:`fit_steps` — train for an exact number of updates from a shuffled ``tf.data`` stream
  and return the test accuracy.
- :func:`transfer_curve` — frozen transfer, fine-tuning and training from scratch at growing
  label counts, as a :func:`dlbook.learning_curves.learning_curve` table.
- :func:`pretrained_features` / :func:`imagenet_plan` — features from a ``keras.applications``
  network with published ImageNet weights (downloaded once into Keras' hashed cache), and a
  description of that step for runs that must stay offline.

>>> source = small_cnn((8, 8, 1), 3, widths=(4, 8), seed=0)
>>> model = transfer_model(source, "features", n_classes=2)
>>> [layer.name for layer in model.layers]
['input', 'base', 'head_bn', 'head']
>>> model.get_layer("base").trainable, model.output_shape
(False, (None, 2))
>>> trainable_parameters(unfreeze_top(model, blocks=1)) > trainable_parameters(
...     transfer_model(source, "features", n_classes=2))
True
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlbook.checks import positive_int
from dlbook.config import import_keras

keras = import_keras()

__all__ = [
    "block_names",
    "accuracy",
    "fit_steps",
    "imagenet_plan",
    "split_classes",
    "pretrained_features",
    "restart",
    "small_cnn",
    "trainable_parameters",
    "transfer_curve",
    "transfer_model",
    "unfreeze_top",
]

_BLOCK = re.compile(r"^(block\d+)_")


def small_cnn(input_shape: Sequence[int] = (28, 28, 1), n_classes: int = 10, *,
              widths: Sequence[int] = (32, 64, 96), dropout: float = 0.0,
              seed: int | None = None, name: str = "cnn"):
    """A VGG-style CNN: ``len(widths)`` blocks of 3×3 convolution, batch normalisation and
    ReLU, each but the last followed by 2×2 max pooling, then global average pooling
    (``features``), optional dropout and a softmax layer (``head``). Not compiled.

    >>> model = small_cnn((8, 8, 1), 3, widths=(4, 8))
    >>> [layer.name for layer in model.layers][1:5], model.output_shape
    (['block1_conv', 'block1_bn', 'block1_relu', 'block1_pool'], (None, 3))
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}; "
                         "grey images need a channel axis: (28, 28, 1)")
    n_classes = positive_int(n_classes, "n_classes")
    widths = [positive_int(w, "each width") for w in widths]
    if not widths:
        raise ValueError("widths must name at least one block, e.g. (32, 64)")
    if min(shape[:2]) < 2 ** (len(widths) - 1):
        raise ValueError(f"{len(widths)} blocks halve {shape[:2]} too often; use fewer widths")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input(shape, name="input")
    x = inputs
    for i, width in enumerate(widths, start=1):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                                kernel_initializer=init, name=f"block{i}_conv")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{i}_bn")(x)
        x = keras.layers.ReLU(name=f"block{i}_relu")(x)
        if i < len(widths):
            x = keras.layers.MaxPooling2D(name=f"block{i}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="head",
                                 kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
    return keras.Model(inputs, outputs, name=name)


def _layer(model, name: str):
    names = [layer.name for layer in model.layers]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        raise ValueError(f"{model.name!r} has no layer {name!r}; did you mean {close}? "
                         f"Its layers: {names}")
    return model.get_layer(name)


def _compile(model, learning_rate: float) -> None:
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def transfer_model(source, cut: str, n_classes: int, *, freeze: bool = True,
                   learning_rate: float = 1e-3, dropout: float = 0.0,
                   seed: int | None = None, name: str = "transfer"):
    """A new classifier made of a *copy* of ``source`` up to the layer ``cut`` (the base,
    named ``base``) and a fresh softmax head for ``n_classes``, compiled with Adam.

    The base is called with ``training=False``: its batch-normalisation layers use the
    moving statistics of the source data even when the base is unfrozen later, so a few
    target batches cannot overwrite them. With ``freeze`` only the head learns. The copy
    (weights included) leaves ``source`` untouched, so one loaded model can seed many
    transfer models. A cut whose output is a feature map is pooled to a vector.

    >>> source = small_cnn((8, 8, 1), 3, widths=(4, 8), seed=0)
    >>> transfer_model(source, "block2_relu", n_classes=5).output_shape
    (None, 5)
    >>> transfer_model(source, "block2_rel", n_classes=5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: 'cnn' has no layer 'block2_rel'; did you mean ['block2_relu', ...
    """
    if not isinstance(source, keras.Model):
        raise TypeError(f"source must be a keras.Model (e.g. keras.saving.load_model(path)), "
                        f"got {type(source).__name__}")
    n_classes = positive_int(n_classes, "n_classes")
    cut_layer = _layer(source, cut)
    cut_model = keras.Model(source.input, cut_layer.output)
    base = keras.models.clone_model(cut_model)
    base.set_weights(cut_model.get_weights())
    base.name = "base"
    base.trainable = not freeze
    inputs = keras.Input(source.input_shape[1:], name="input")
    x = base(inputs, training=False)
    if len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="head_bn")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="head",
                                 kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
    model = keras.Model(inputs, outputs, name=name)
    _compile(model, learning_rate)
    return model


def block_names(model) -> list[str]:
    """The blocks of a base (``block1``, ``block2``, …) in order, from its layer names.

    >>> block_names(small_cnn((8, 8, 1), 3, widths=(4, 8)))
    ['block1', 'block2']
    """
    blocks = []
    for layer in model.layers:
        match = _BLOCK.match(layer.name)
        if match and match.group(1) not in blocks:
            blocks.append(match.group(1))
    return blocks


def unfreeze_top(model, blocks: int = 1, *, learning_rate: float = 1e-4,
                 keep_batchnorm_frozen: bool = True, base: str = "base"):
    """Make the top ``blocks`` blocks of the nested ``base`` trainable (everything below them
    stays frozen), then recompile ``model`` with Adam at ``learning_rate``; returns ``model``.

    Call it after the new head has been trained on the frozen base: a random head would send
    large, noisy gradients into the pretrained weights. The lower learning rate (10× below
    the head's is usual) keeps fine-tuning close to what was learned on the source task.
    Batch-normalisation layers stay frozen unless ``keep_batchnorm_frozen`` is False (their
    moving statistics are never updated, since the base runs with ``training=False``).
    Recompiling is required: ``trainable`` takes effect when the model is compiled.

    >>> model = transfer_model(small_cnn((8, 8, 1), 3, widths=(4, 8)), "features", 2)
    >>> unfreeze_top(model, blocks=1).get_layer("base").get_layer("block2_conv").trainable
    True
    >>> model.get_layer("base").get_layer("block1_conv").trainable
    False
    """
    blocks = positive_int(blocks, "blocks")
    inner = _layer(model, base)
    names = block_names(inner)
    if blocks > len(names):
        raise ValueError(f"blocks={blocks}, but the base has only {len(names)} blocks {names}; "
                         f"unfreeze at most {len(names)}")
    top = set(names[-blocks:])
    inner.trainable = True
    for layer in inner.layers:
        match = _BLOCK.match(layer.name)
        in_top = bool(match) and match.group(1) in top
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = in_top and not (is_bn and keep_batchnorm_frozen)
    _compile(model, learning_rate)
    return model


def trainable_parameters(model) -> int:
    """How many parameters ``model`` would update (the weights of trainable layers).

    >>> trainable_parameters(small_cnn((8, 8, 1), 3, widths=(4,)))  # 36 + 8 + 15
    59
    """
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def split_classes(dataset, classes: Sequence[int]):
    """The part of a classification ``dataset`` (a :class:`~dlbook.data.Dataset`) whose labels
    are in ``classes``, relabelled ``0 … len(classes) - 1`` in that order, train and test
    alike: one data set cut into a source and a target task with different classes.

    >>> from dlbook import data
    >>> high = split_classes(data.load("digits"), [5, 6, 7, 8, 9])
    >>> high.class_names, sorted(set(high.y_train.tolist()))
    (['5', '6', '7', '8', '9'], [0, 1, 2, 3, 4])
    """
    import dataclasses

    names = list(getattr(dataset, "class_names", []) or [])
    chosen = [int(c) for c in classes]
    if not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"classes must be distinct label indices, got {classes!r}")
    unknown = [c for c in chosen if not 0 <= c < len(names)]
    if unknown:
        raise ValueError(f"classes {unknown} are not labels of {getattr(dataset, 'name', '')!r},"
                         f" which has {len(names)} classes (0 to {len(names) - 1})")
    lookup = np.full(len(names), -1)
    lookup[chosen] = np.arange(len(chosen))
    keep_train = np.isin(dataset.y_train, chosen)
    keep_test = np.isin(dataset.y_test, chosen)
    return dataclasses.replace(
        dataset, x_train=dataset.x_train[keep_train],
        y_train=lookup[dataset.y_train[keep_train]],
        x_test=dataset.x_test[keep_test], y_test=lookup[dataset.y_test[keep_test]],
        class_names=[names[c] for c in chosen])


def _as_images(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype="float32")
    return x[..., None] if x.ndim == 3 else x


def fit_steps(model, part, steps: int, *, batch_size: int = 64, seed: int = 0) -> float:
    """Train a compiled ``model`` for exactly ``steps`` updates on ``part.x_train`` (shuffled
    anew each pass; the stream repeats before it is batched, so every batch holds
    ``batch_size`` images even when there are fewer labels) and return its accuracy on
    ``part.x_test``. Grey images ``(n, h, w)`` get a channel axis.

    A fixed number of updates, rather than of epochs, gives every label count the same
    training budget: 50 labels in batches of 50 for 300 steps is 300 epochs.

    >>> from dlbook import data
    >>> part = data.load("digits").subset(n_train=60, n_test=60)
    >>> model = small_cnn((8, 8, 1), 10, widths=(8, 16), seed=0)
    >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> 0.0 <= fit_steps(model, part, steps=5) <= 1.0
    True
    """
    import tensorflow as tf

    steps = positive_int(steps, "steps")
    batch_size = positive_int(batch_size, "batch_size")
    x, y = _as_images(part.x_train), np.asarray(part.y_train)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"part must hold as many training labels as images, got {len(x)} "
                         f"images and {len(y)} labels")
    stream = (tf.data.Dataset.from_tensor_slices((x, y))
              .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
              .repeat().batch(batch_size).prefetch(tf.data.AUTOTUNE))
    model.fit(stream, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return accuracy(model, part.x_test, part.y_test)


def accuracy(model, x: Any, y: Any, *, batch_size: int = 500) -> float:
    """The share of ``x`` that ``model`` classifies as ``y`` (argmax of its outputs).

    >>> model = small_cnn((8, 8, 1), 3, widths=(4,), seed=0)
    >>> 0.0 <= accuracy(model, np.zeros((4, 8, 8)), [0, 1, 2, 0]) <= 1.0
    True
    """
    x = _as_images(x)
    batch_size = positive_int(batch_size, "batch_size")
    probs = np.concatenate([   # direct calls: no predict function to trace per model
        keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False))
        for i in range(0, len(x), batch_size)])
    return float(np.mean(np.argmax(probs, axis=-1) == np.asarray(y)))


def restart(model, weights: Sequence[np.ndarray]):
    """Set a compiled ``model`` to ``weights`` and give it a fresh optimizer state (Adam's
    moments and step count back to zero, the learning rate kept); returns ``model``.

    Reusing one compiled model for many runs, instead of building a new one each time,
    keeps Keras from tracing its training and prediction functions again (seconds per model
    on a CPU); the result is the same as a new model with those weights.

    >>> model = small_cnn((8, 8, 1), 3, widths=(4,), seed=0)
    >>> _compile(model, 1e-3)
    >>> start = model.get_weights()
    >>> score = fit_steps(model, _Part(np.zeros((4, 8, 8)), np.arange(4) % 3), steps=2)
    >>> int(restart(model, start).optimizer.iterations.numpy())
    0
    """
    model.set_weights(list(weights))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("model is not compiled; compile it before training it")
    rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    for variable in optimizer.variables:
        variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
    optimizer.learning_rate = rate
    return model


class _Part:
    """A train and test split in the shape of a :class:`~dlbook.data.Dataset` (doctests)."""

    def __init__(self, x, y):
        self.x_train = self.x_test = x
        self.y_train = self.y_test = y


def transfer_curve(source, target, sizes: Sequence[int], *, cut: str = "features",
                   architecture: Callable[[int], Any], head_steps: int, tune_steps: int,
                   blocks: int = 1, head_learning_rate: float = 1e-2,
                   tune_learning_rate: float = 3e-4, learning_rate: float = 3e-3,
                   batch_size: int = 64, repeats: int = 1, seed: int = 0,
                   scratch: bool = True):
    """Test accuracy against the number of labelled target examples for three ways to train:

    - ``"frozen base + new head"``: :func:`transfer_model` (a fresh head on the frozen
      ``source`` cut at ``cut``) trained for ``head_steps`` at ``head_learning_rate``;
    - ``"fine-tuned"``: that model after :func:`unfreeze_top` (``blocks`` blocks) and
      ``tune_steps`` more updates at ``tune_learning_rate``;
    - ``"from scratch"``: ``architecture(seed)`` (an uncompiled model with random weights; the
      source's own architecture makes the comparison fair) trained for ``head_steps +
      tune_steps`` updates at ``learning_rate``, the same budget (left out with
      ``scratch=False``, e.g. when only the source changes).

    ``target`` is a :class:`~dlbook.data.Dataset`; each size draws ``repeats`` stratified
    subsets (seeds ``seed``, ``seed + 1``, …) through
    :func:`dlbook.learning_curves.learning_curve`, and every run starts from a new random
    head or network. Returns that function's table (columns ``model``, ``n_train``,
    ``repeat``, ``score``, ``seconds``), which :func:`dlbook.learning_curves.plot` draws.
    """
    import pandas as pd

    from dlbook import learning_curves

    head_steps = positive_int(head_steps, "head_steps")
    tune_steps = positive_int(tune_steps, "tune_steps")
    if not callable(architecture):
        raise TypeError("architecture must be a function of a seed returning a new model, "
                        "e.g. lambda seed: small_cnn(seed=seed)")
    n_classes = target.n_classes
    frozen = transfer_model(source, cut, n_classes, learning_rate=head_learning_rate)
    tuned = unfreeze_top(transfer_model(source, cut, n_classes), blocks,
                         learning_rate=tune_learning_rate)
    plain = architecture(seed)
    if plain.output_shape[-1] != n_classes:
        raise ValueError(f"architecture(seed) has {plain.output_shape[-1]} outputs, but the "
                         f"target has {n_classes} classes")
    _compile(plain, learning_rate)
    base_weights = frozen.get_weights()
    head = frozen.get_layer("head")
    draws = iter(range(seed + 1, seed + 10**9))

    def transferred(part) -> dict[str, float]:
        draw = next(draws)
        restart(frozen, base_weights)
        kernel = keras.initializers.GlorotUniform(seed=draw)(head.kernel.shape)
        head.kernel.assign(kernel)
        frozen_score, head_s = learning_curves.timed(
            fit_steps, frozen, part, head_steps, batch_size=batch_size, seed=draw)
        restart(tuned, frozen.get_weights())
        tuned_score = fit_steps(tuned, part, tune_steps, batch_size=batch_size, seed=draw)
        return {"score": tuned_score, "frozen": frozen_score, "head_s": head_s}

    def from_scratch(part) -> float:
        draw = next(draws)
        restart(plain, architecture(draw).get_weights())
        return fit_steps(plain, part, head_steps + tune_steps, batch_size=batch_size,
                         seed=draw)

    runs = {"fine-tuned": transferred}
    if scratch:
        runs["from scratch"] = from_scratch
    table = learning_curves.learning_curve(runs, sizes, target, seed=seed, repeats=repeats)
    tuned_rows = table[table["model"] == "fine-tuned"]
    frozen_rows = tuned_rows.assign(model="frozen base + new head",
                                    score=tuned_rows["frozen"], seconds=tuned_rows["head_s"])
    out = pd.concat([frozen_rows, tuned_rows, table[table["model"] == "from scratch"]])
    return out[learning_curves.COLUMNS].reset_index(drop=True)


# --- published weights (network at `full` only) -------------------------------------------

_PREPROCESS = {  # architecture -> (keras.applications module, what its preprocess_input does)
    "EfficientNetB0": ("efficientnet", "nothing: the model rescales [0, 255] itself"),
    "MobileNetV2": ("mobilenet_v2", "scales [0, 255] to [-1, 1]"),
    "ResNet50": ("resnet50", "RGB to BGR, subtracts the ImageNet channel means (caffe style)"),
}


def _application(architecture: str):
    if architecture not in _PREPROCESS:
        raise ValueError(f"architecture must be one of {sorted(_PREPROCESS)}, got "
                         f"{architecture!r}")
    module = getattr(keras.applications, _PREPROCESS[architecture][0])
    return getattr(keras.applications, architecture), module.preprocess_input


def imagenet_plan(architecture: str = "EfficientNetB0", size: int = 96) -> str:
    """What :func:`pretrained_features` would do, in words, without touching the network.

    >>> print(imagenet_plan("MobileNetV2", 96))  # doctest: +ELLIPSIS
    would download MobileNetV2 ImageNet weights (no top) into ~/.keras/models, ...
    """
    _application(architecture)
    size = positive_int(size, "size")
    return (f"would download {architecture} ImageNet weights (no top) into ~/.keras/models, "
            f"once, through keras.utils.get_file; resize grey images to {size}×{size}, repeat "
            f"them into 3 channels, scale to [0, 255], apply preprocess_input "
            f"({_PREPROCESS[architecture][1]}) and average-pool the last feature map")


def pretrained_features(images: Any, *, architecture: str = "EfficientNetB0", size: int = 96,
                        weights: str | None = "imagenet", batch_size: int = 64) -> np.ndarray:
    """Features of grey images in [0, 1] ``(n, h, w)`` from a ``keras.applications`` network
    without its top: resized to ``size`` × ``size``, repeated into three channels, scaled to
    [0, 255] and passed through the network's own ``preprocess_input``, then average-pooled.

    ``weights="imagenet"`` downloads the published weights the first time (Keras keeps them
    in ``~/.keras/models`` and, for most architectures, checks a published hash); never call
    it where the network is off limits. ``weights=None`` builds the same network with random
    weights, which is how the tests check the plumbing offline.

    >>> feats = pretrained_features(np.zeros((2, 8, 8)), architecture="MobileNetV2", size=32,
    ...                             weights=None)
    >>> feats.shape
    (2, 1280)
    """
    from dlbook.checks import unit_batch

    build, preprocess = _application(architecture)
    size = positive_int(size, "size")
    if size < 32:
        raise ValueError(f"keras.applications networks need inputs of at least 32×32, "
                         f"got size={size}")
    x = unit_batch(images, "images", hint="divide 8-bit images by 255")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (n, h, w) grey or (n, h, w, 3) colour, got {x.shape}")
    net = build(include_top=False, weights=weights, input_shape=(size, size, 3),
                pooling="avg")
    out = []
    for start in range(0, len(x), positive_int(batch_size, "batch_size")):
        chunk = keras.ops.image.resize(x[start:start + batch_size], (size, size))
        if chunk.shape[-1] == 1:
            chunk = keras.ops.repeat(chunk, 3, axis=-1)
        out.append(keras.ops.convert_to_numpy(
            net(preprocess(chunk * 255.0), training=False)))
    return np.concatenate(out)
