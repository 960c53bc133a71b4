"""Teaching layers and blocks that several chapters reuse.

Small on purpose: each builder is a few lines a reader can check against the chapter that
explains it.

- :func:`mlp` builds a feed-forward classifier of any width and depth (Part II, deep MLPs);
  :func:`width_for_budget` finds the width that gives such a network a parameter budget.
- :class:`MLPRecipe` is a whole training recipe (architecture, optimiser, batch size, early
  stopping). :data:`FASHION_MLP` is the MLP the deep-MLP chapter settles on; the CNN chapter
  retrains it on its own images instead of copying a number from another notebook.
- :func:`residual_block` is the basic block of a ResNet (He et al., 2016).
- :func:`fashion_cnn` is the small CNN the CNN chapter trains on Fashion-MNIST (two
  convolution + pooling stages, dropout, a softmax), the baseline of the Vision Transformer chapter.
- Attention and the Transformer (Part III): :func:`scaled_dot_product_attention`,
  :func:`causal_mask`, :func:`padding_mask`, :func:`sinusoidal_positions`,
  :func:`multi_head_attention_by_hand` (checked equal to Keras' layer), and the layers
  :class:`TokenAndPositionEmbedding`, :class:`TransformerBlock` and :class:`PatchEmbedding`;
  :mod:`dlbook.models` assembles them into whole models.
- Part V keeps its layers beside their chapters' other helpers, re-exported here: the spiking
  :class:`~dlbook.spiking.LIFCell` (:mod:`dlbook.spiking`) and the graph layers
  :class:`~dlbook.graphs.GraphConv` and :class:`~dlbook.graphs.MessagePassing`
  (:mod:`dlbook.graphs`).

>>> model = mlp((64, 32), input_shape=(8, 8), n_classes=10)
>>> model.count_params() == (64 * 64 + 64) + (64 * 32 + 32) + (32 * 10 + 10)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

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


def fashion_cnn(augmentation: Sequence | None = None, *, input_shape: Sequence[int] = (28, 28, 1),
                n_classes: int = 10):
    """The CNN of the CNN chapter, compiled: two stages of a 3×3 convolution (32, then 64
    filters, ReLU, same padding) and 2×2 max pooling, then flatten, dropout 0.3 and a softmax.
    Adam, sparse categorical cross-entropy, accuracy. 50,186 parameters on 28×28 grey images.

    ``augmentation`` is a list of preprocessing layers placed in front of the first convolution
    (e.g. ``keras.layers.RandomTranslation``); Keras runs them in training only.

    >>> model = fashion_cnn()
    >>> model.name, model.count_params(), [layer.name for layer in model.layers[1:5]]
    ('cnn', 50186, ['conv1', 'pool1', 'conv2', 'pool2'])
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}; "
                         "grey images need a channel axis of 1, e.g. (28, 28, 1)")
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an int ≥ 2, got {n_classes!r}")
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for layer in augmentation or []:
        x = layer(x)  # active in training, identity otherwise
    for i, filters in enumerate([32, 64], start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.Dropout(0.3)(keras.layers.Flatten()(x))
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="cnn")
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss="sparse_categorical_crossentropy")
    return model

# --- attention and the Transformer (Part III) -----------------------------------------------------
#
# Written with keras.ops only, so they run on every Keras backend. Masks are boolean: True means
# "may attend". Every layer is registered for saving in the .keras format.

from keras import ops  # noqa: E402


def scaled_dot_product_attention(query, key, value, mask=None):
    """Attention of Vaswani et al. (2017): ``softmax(q kᵀ / √d) v``, returning
    ``(output, weights)``.

    ``query`` has shape ``(..., T, d)``, ``key`` and ``value`` ``(..., S, d)`` and ``(..., S,
    d_v)``; ``mask`` (broadcastable to ``(..., T, S)``, True = may attend) sets the scores of
    masked positions to a large negative number before the softmax, so they get weight 0.

    >>> import numpy as np
    >>> q = k = v = np.eye(3, dtype="float32")[None]
    >>> out, w = scaled_dot_product_attention(q, k, v, mask=causal_mask(3))
    >>> [round(float(a), 2) for a in np.asarray(w)[0, 1]]   # row 2 sees positions 1 and 2 only
    [0.36, 0.64, 0.0]
    """
    q_shape, k_shape, v_shape = (tuple(ops.shape(t)) for t in (query, key, value))
    if min(len(q_shape), len(k_shape), len(v_shape)) < 2:
        raise ValueError(f"query, key and value need shape (..., length, features), got "
                         f"{q_shape}, {k_shape}, {v_shape}; add a batch or length axis")
    def differ(a, b):  # only sizes known now; traced (None) sizes are checked by the backend
        return isinstance(a, int) and isinstance(b, int) and a != b

    if differ(q_shape[-1], k_shape[-1]) or differ(k_shape[-2], v_shape[-2]):
        raise ValueError(f"query and key must share their feature size and key and value their "
                         f"length, got query {q_shape}, key {k_shape}, value {v_shape}; project "
                         f"them to matching sizes first (a Dense layer each)")
    d = q_shape[-1]
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ops.sqrt(ops.cast(d, query.dtype))
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.full_like(scores, -1e9))
    weights = ops.softmax(scores, axis=-1)
    return ops.matmul(weights, value), weights


def causal_mask(length: int):
    """The ``(length, length)`` boolean mask of a decoder: position ``t`` may attend to
    positions ``≤ t`` only (no peeking at the future it must predict).

    >>> np.asarray(causal_mask(3)).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    return np.tril(np.ones((length, length), dtype=bool))


def padding_mask(ids, pad_id: int = 0):
    """The ``(batch, 1, S)`` attention mask that hides padding tokens (id ``pad_id``) from every
    query; broadcast it against ``(batch, T, S)`` scores.

    >>> np.asarray(padding_mask(np.array([[5, 7, 0]]))).astype(int).tolist()
    [[[1, 1, 0]]]
    """
    return ops.expand_dims(ops.not_equal(ids, pad_id), axis=1)


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """The fixed positional encodings of Vaswani et al. (2017), ``(length, dim)`` float32:
    ``PE[p, 2i] = sin(p / 10000^(2i/dim))``, ``PE[p, 2i+1] = cos(...)``. Every position gets a
    distinct pattern, and a fixed offset is a linear map of it.

    >>> pe = sinusoidal_positions(50, 16)
    >>> pe.shape, float(pe[0, 0]), float(pe[0, 1])
    ((50, 16), 0.0, 1.0)
    """
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even int ≥ 2 (sines and cosines in pairs), got {dim!r}")
    if length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    position = np.arange(length)[:, None]
    rate = 1.0 / 10000 ** (np.arange(0, dim, 2) / dim)
    pe = np.zeros((length, dim), dtype="float32")
    pe[:, 0::2], pe[:, 1::2] = np.sin(position * rate), np.cos(position * rate)
    return pe


def multi_head_attention_by_hand(layer, query, value, key=None, mask=None):
    """Multi-head attention computed from the weights of a built
    ``keras.layers.MultiHeadAttention``, one visible step at a time; returns ``(output,
    weights)`` with weights ``(batch, heads, T, S)``. It should equal the layer to float
    tolerance: the chapter and the tests check that it does.

    Each head projects queries, keys and values with its own matrices, attends with
    :func:`scaled_dot_product_attention`, and the heads' outputs are projected back and summed.

    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
    >>> expected, _ = mha(x, x, return_attention_scores=True)
    >>> out, w = multi_head_attention_by_hand(mha, x, x)
    >>> bool(np.allclose(out, expected, atol=1e-5)), tuple(w.shape)
    (True, (1, 2, 5, 5))
    """
    if not isinstance(layer, keras.layers.MultiHeadAttention) or not layer.built:
        raise ValueError("pass a keras.layers.MultiHeadAttention that has been called once "
                         "(so that its weights exist)")
    key = value if key is None else key

    def project(dense, x):  # (batch, len, d_model) -> (batch, heads, len, head_dim)
        y = ops.einsum("bld,dhk->bhlk", x, dense.kernel)
        return y + ops.expand_dims(dense.bias, axis=1) if dense.bias is not None else y

    q = project(layer._query_dense, ops.convert_to_tensor(query))
    k = project(layer._key_dense, ops.convert_to_tensor(key))
    v = project(layer._value_dense, ops.convert_to_tensor(value))
    if mask is not None:
        mask = ops.expand_dims(ops.convert_to_tensor(mask), axis=-3)  # the same for every head
    heads, weights = scaled_dot_product_attention(q, k, v, mask)
    out = ops.einsum("bhlk,hkd->bld", heads, layer._output_dense.kernel)
    if layer._output_dense.bias is not None:
        out = out + layer._output_dense.bias
    return out, weights


@keras.saving.register_keras_serializable(package="dlbook")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embeddings plus position embeddings: learned (BERT, GPT, ViT) or the fixed
    sinusoids of :func:`sinusoidal_positions` (the original Transformer).

    Without positions a Transformer sees a bag of tokens: attention is the same for any order.

    >>> emb = TokenAndPositionEmbedding(vocab_size=100, max_len=16, dim=8)
    >>> tuple(emb(np.array([[3, 4, 0]])).shape)
    (1, 3, 8)
    """

    def __init__(self, vocab_size: int, max_len: int, dim: int, *,
                 positions: str = "learned", **kwargs):
        super().__init__(**kwargs)
        if positions not in ("learned", "sinusoidal"):
            raise ValueError(f"positions must be 'learned' or 'sinusoidal', got {positions!r}")
        for what, value in (("vocab_size", vocab_size), ("max_len", max_len), ("dim", dim)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{what} must be a positive int, got {value!r}")
        self.vocab_size, self.max_len, self.dim, self.positions = vocab_size, max_len, dim, positions
        self.tokens = keras.layers.Embedding(vocab_size, dim, name="tokens")
        if positions == "learned":
            self.position_table = keras.layers.Embedding(max_len, dim, name="positions")
        else:
            self.position_table = None
            self._fixed = sinusoidal_positions(max_len, dim)

    def build(self, input_shape):
        self.tokens.build(input_shape)
        if self.position_table is not None:
            self.position_table.build((None,))
        self.built = True

    def call(self, ids):
        length = ops.shape(ids)[-1]
        x = self.tokens(ids)
        if self.position_table is not None:
            return x + self.position_table(ops.arange(length))
        return x + ops.convert_to_tensor(self._fixed)[:length]

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len,
                "dim": self.dim, "positions": self.positions}


@keras.saving.register_keras_serializable(package="dlbook")
class TransformerBlock(keras.layers.Layer):
    """One Transformer layer: multi-head self-attention, then a position-wise feed-forward
    network, each wrapped in a residual connection with layer normalisation.

    ``norm_first=True`` (the default) normalises before each sub-layer ("pre-LN", as in GPT-2
    and ViT), which trains stably without a learning-rate warm-up; ``False`` is the post-LN
    order of the original paper. ``causal=True`` makes it a decoder block (GPT). Call it with
    ``mask`` (``(batch, T, S)`` or ``(batch, 1, S)`` booleans, e.g. :func:`padding_mask`) and
    ``return_attention_scores=True`` to get the weights ``(batch, heads, T, S)`` as well.

    >>> block = TransformerBlock(dim=8, heads=2, ff_dim=16)
    >>> x = np.zeros((2, 5, 8), dtype="float32")
    >>> y, w = block(x, return_attention_scores=True)
    >>> tuple(y.shape), tuple(w.shape)
    ((2, 5, 8), (2, 2, 5, 5))
    """

    def __init__(self, dim: int, heads: int, ff_dim: int, *, dropout: float = 0.1,
                 causal: bool = False, norm_first: bool = True, **kwargs):
        super().__init__(**kwargs)
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads}): each head gets "
                             "dim // heads features")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.dim, self.heads, self.ff_dim = dim, heads, ff_dim
        self.dropout_rate, self.causal, self.norm_first = dropout, causal, norm_first
        self.attention = keras.layers.MultiHeadAttention(heads, dim // heads, dropout=dropout,
                                                         name="attention")
        self.ff_in = keras.layers.Dense(ff_dim, activation="gelu", name="ff_in")
        self.ff_out = keras.layers.Dense(dim, name="ff_out")
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        self.norm1.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.norm2.build(input_shape)
        self.ff_in.build(input_shape)
        self.ff_out.build((*input_shape[:-1], self.ff_dim))
        self.built = True

    def call(self, x, mask=None, training=None, return_attention_scores=False):
        if mask is not None:
            length = ops.shape(x)[1]
            mask = ops.logical_and(ops.cast(mask, "bool"),
                                   ops.ones((1, length, length), dtype="bool"))
        norm = self.norm1(x) if self.norm_first else x
        attended, weights = self.attention(norm, norm, attention_mask=mask,
                                           use_causal_mask=self.causal, training=training,
                                           return_attention_scores=True)
        x = x + self.drop(attended, training=training)
        x = x if self.norm_first else self.norm1(x)
        norm = self.norm2(x) if self.norm_first else x
        x = x + self.drop(self.ff_out(self.ff_in(norm)), training=training)
        x = x if self.norm_first else self.norm2(x)
        return (x, weights) if return_attention_scores else x

    def compute_mask(self, x, mask=None):
        return None  # the block consumes its attention mask; it does not pass a Keras mask on

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads,
                "ff_dim": self.ff_dim, "dropout": self.dropout_rate, "causal": self.causal,
                "norm_first": self.norm_first}


@keras.saving.register_keras_serializable(package="dlbook")
class PatchEmbedding(keras.layers.Layer):
    """The input of a Vision Transformer (Dosovitskiy et al. 2021): cut an image into
    ``patch_size``² patches, project each linearly to ``dim`` features (a strided convolution
    does exactly that), prepend a learned class token and add learned position embeddings.

    >>> emb = PatchEmbedding(image_size=28, patch_size=7, dim=16)
    >>> tuple(emb(np.zeros((2, 28, 28, 1), dtype="float32")).shape)   # 16 patches + class token
    (2, 17, 16)
    """

    def __init__(self, image_size: int, patch_size: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        if image_size % patch_size:
            raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size "
                             f"({patch_size}); crop or pad the images first")
        self.image_size, self.patch_size, self.dim = image_size, patch_size, dim
        self.n_patches = (image_size // patch_size) ** 2
        self.project = keras.layers.Conv2D(dim, patch_size, strides=patch_size, name="project")

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"PatchEmbedding needs images (batch, height, width, channels), "
                             f"got shape {input_shape}; add a channel axis with x[..., None]")
        self.project.build(input_shape)
        self.class_token = self.add_weight(shape=(1, 1, self.dim), initializer="zeros",
                                           name="class_token")
        self.position = self.add_weight(shape=(1, self.n_patches + 1, self.dim),
                                        initializer=keras.initializers.RandomNormal(stddev=0.02),
                                        name="position")
        self.built = True

    def call(self, images):
        patches = self.project(images)
        patches = ops.reshape(patches, (-1, self.n_patches, self.dim))
        token = ops.tile(self.class_token, (ops.shape(patches)[0], 1, 1))
        return ops.concatenate([token, patches], axis=1) + self.position

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size,
                "patch_size": self.patch_size, "dim": self.dim}


#: layers that live in their own modules (with the chapter's other helpers)
_ELSEWHERE = {"LIFCell": "dlbook.spiking", "GraphConv": "dlbook.graphs",
              "MessagePassing": "dlbook.graphs"}


def __getattr__(name: str):
    if name in _ELSEWHERE:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module 'dlbook.layers' has no attribute {name!r}")
