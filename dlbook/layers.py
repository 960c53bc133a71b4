"""Teaching layers and blocks that several chapters reuse.

Small on purpose: each builder is a few lines a reader can check against the chapter that
explains it.

- :func:`mlp` builds a feed-forward classifier of any width and depth (Part II, deep MLPs);
  :func:`width_for_budget` finds the width that gives such a network a parameter budget.
- :class:`MLPRecipe` is a whole training recipe (architecture, optimiser, batch size, early
  stopping). :data:`FASHION_MLP` is the MLP the deep-MLP chapter settles on; the CNN chapter
  retrains it on its own images instead of copying a number from another notebook.
- :func:`residual_block` is the basic block of a ResNet (He et al., 2016).

>>> model = mlp((64, 32), input_shape=(8, 8), n_classes=10)
>>> model.count_params() == (64 * 64 + 64) + (64 * 32 + 32) + (32 * 10 + 10)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from dlbook.config import import_keras

keras = import_keras()


def _check_sizes(hidden: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(hidden)
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(
            f"hidden must be a sequence of positive ints (units per hidden layer), got {hidden!r}; "
            "use () for logistic regression"
        )
    return sizes


def mlp_parameters(n_inputs: int, hidden: Sequence[int], n_classes: int) -> int:
    """Weights and biases of a dense network ``n_inputs -> hidden... -> n_classes``.

    >>> mlp_parameters(784, (), 10)   # logistic regression
    7850
    >>> mlp_parameters(784, (256, 128), 10)
    235146
    """
    sizes = (n_inputs, *_check_sizes(hidden), n_classes)
    return sum((a + 1) * b for a, b in pairwise(sizes))


def width_for_budget(budget: int, depth: int, *, n_inputs: int = 784, n_classes: int = 10) -> int:
    """The width ``w`` that gives ``depth`` hidden layers of ``w`` units about ``budget``
    parameters (the positive root of the quadratic in ``w``), at least 1.

    >>> w = width_for_budget(100_000, 2)
    >>> w, mlp_parameters(784, (w, w), 10)
    (110, 99670)
    """
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int (hidden layers), got {depth!r}")
    if budget <= mlp_parameters(n_inputs, (1,) * depth, n_classes):
        raise ValueError(f"a budget of {budget} parameters is too small for {depth} hidden layers")
    # params(w) = (depth - 1) w^2 + (n_inputs + depth + n_classes) w + n_classes
    a, b, c = depth - 1, n_inputs + depth + n_classes, n_classes - budget
    w = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    return max(1, int(w))


def mlp(
    hidden: Sequence[int],
    *,
    input_shape: tuple[int, ...] = (28, 28),
    n_classes: int = 10,
    dropout: float = 0.0,
    batch_norm: bool = False,
    kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
    activation: str = "relu",
    name: str = "mlp",
) -> keras.Model:
    """A feed-forward classifier: flatten, ``Dense`` hidden layers, a softmax over classes.

    Each hidden layer is ``Dense`` -> (``BatchNormalization``) -> activation -> (``Dropout``).
    ``hidden=()`` gives multinomial logistic regression.

    >>> mlp((), input_shape=(28, 28)).count_params()
    7850
    >>> [type(l).__name__ for l in mlp((4,), batch_norm=True, dropout=0.5).layers[1:]]
    ['Flatten', 'Dense', 'BatchNormalization', 'Activation', 'Dropout', 'Dense']
    """
    sizes = _check_sizes(hidden)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout is the share of units dropped, in [0, 1); got {dropout}")
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(sizes, start=1):
        x = keras.layers.Dense(
            units, use_bias=not batch_norm, kernel_initializer=kernel_initializer, name=f"dense_{i}"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = keras.layers.Activation(activation, name=f"{activation}_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name=name)


@dataclass(frozen=True)
class MLPRecipe:
    """An MLP and the way it is trained: Adam, sparse cross-entropy, a batch size, and early
    stopping on validation loss (the best epoch's weights are kept).

    >>> import numpy as np
    >>> recipe = MLPRecipe(hidden=(16,), dropout=0.0)
    >>> x, y = np.random.rand(64, 28, 28).astype("float32"), np.arange(64) % 10
    >>> model = recipe.train(x, y, epochs=1)
    >>> model.count_params() == recipe.parameters()
    True
    """

    hidden: tuple[int, ...] = (256, 128)
    dropout: float = 0.2
    batch_norm: bool = False
    learning_rate: float = 1e-3
    batch_size: int = 128
    patience: int = 3

    def build(self, *, input_shape: tuple[int, ...] = (28, 28), n_classes: int = 10) -> keras.Model:
        """The compiled, untrained model."""
        model = mlp(
            self.hidden, input_shape=input_shape, n_classes=n_classes,
            dropout=self.dropout, batch_norm=self.batch_norm,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        )
        return model

    def parameters(self, *, n_inputs: int = 784, n_classes: int = 10) -> int:
        """Trainable weights and biases (batch normalisation adds its own, not counted here)."""
        return mlp_parameters(n_inputs, self.hidden, n_classes)

    def train(
        self, x, y, *, epochs: int, validation_data: tuple | None = None, seed: int = 0,
        verbose: int = 0,
    ) -> keras.Model:
        """Build the model from ``seed`` and fit it; with ``validation_data``, stop early and
        keep the best epoch. The fit history is ``model.history``."""
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)} labels")
        keras.utils.set_random_seed(seed)
        model = self.build(input_shape=tuple(x.shape[1:]), n_classes=max(10, int(max(y)) + 1))
        callbacks = []
        if validation_data is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                patience=self.patience, restore_best_weights=True))
        model.fit(x, y, epochs=epochs, batch_size=self.batch_size, verbose=verbose,
                  validation_data=validation_data, callbacks=callbacks)
        return model


FASHION_MLP = MLPRecipe(hidden=(256, 128), dropout=0.2)
"""The MLP the deep-MLP chapter chooses for Fashion-MNIST, and the baseline the CNN chapter
must beat: two hidden layers (256 and 128 ReLU units), dropout 0.2, Adam 1e-3, batch 128."""


def residual_block(
    x, filters: int, *, kernel_size: int = 3, strides: int = 1, batch_norm: bool = True,
    skip: bool = True, name: str | None = None,
):
    """A ResNet basic block on a functional-API tensor: two convolutions, plus a shortcut that
    adds the block's input to its output, then ReLU: ``relu(x + F(x))``.

    When ``strides`` or ``filters`` change the shape, the shortcut is a 1×1 convolution
    (a "projection"); otherwise it is the identity and costs no parameters. ``skip=False``
    drops the shortcut: the same two convolutions as a plain block, ``relu(F(x))``, for
    comparison.

    >>> inputs = keras.Input((28, 28, 16))
    >>> block = keras.Model(inputs, residual_block(inputs, 16))
    >>> block.output.shape, block.count_params() - 2 * 4 * 16  # 2 convs of 3*3*16*16
    ((None, 28, 28, 16), 4608)
    >>> residual_block(inputs, 32, strides=2).shape
    (None, 14, 14, 32)
    >>> keras.Model(inputs, residual_block(inputs, 16, skip=False)).layers[-1].name
    'out'

    """
    if not isinstance(filters, int) or filters < 1:
        raise ValueError(f"filters must be a positive int, got {filters!r}")
    if len(x.shape) != 4:
        raise ValueError(
            f"residual_block needs images (batch, height, width, channels), got shape {x.shape}; "
            "add a channel axis with keras.layers.Reshape or x[..., None]"
        )
    prefix = f"{name}_" if name else ""
    conv = dict(padding="same", use_bias=not batch_norm, kernel_initializer="he_normal")

    def norm(t, label):
        return keras.layers.BatchNormalization(name=prefix + label)(t) if batch_norm else t

    y = keras.layers.Conv2D(filters, kernel_size, strides=strides, name=prefix + "conv1", **conv)(x)
    y = keras.layers.Activation("relu", name=prefix + "relu1")(norm(y, "bn1"))
    y = keras.layers.Conv2D(filters, kernel_size, name=prefix + "conv2", **conv)(y)
    y = norm(y, "bn2")
    if not skip:
        return keras.layers.Activation("relu", name=prefix + "out")(y)
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, name=prefix + "project", **conv)(x)
        shortcut = norm(shortcut, "bn_project")
    y = keras.layers.Add(name=prefix + "add")([y, shortcut])
    return keras.layers.Activation("relu", name=prefix + "out")(y)
