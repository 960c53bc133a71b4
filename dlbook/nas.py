"""Neural architecture search at teaching scale: a search space of small image classifiers,
the two search loops it is most instructive to compare, and the bookkeeping of what a search
found and what it cost.

- :class:`Block`, :class:`Architecture` — the encoding: a sequence of convolutional blocks
  (``conv`` or depthwise-separable ``sepconv``, with a width, a kernel size and optional 2×2 max
  pooling), a ``head`` that turns feature maps into a vector (``flatten`` or ``global`` average
  pooling), then dense blocks; :func:`conv`, :func:`sepconv`, :func:`dense` write blocks briefly.
- :class:`SearchSpace` — the choices a search may make (widths, kernels, depths, heads) and
  :meth:`SearchSpace.size`, the exact number of architectures it holds.
- :func:`build` — an :class:`Architecture` as a compiled Keras classifier; :func:`count_params`
  and :func:`feature_shapes` compute its size and shapes from the encoding alone.
- :func:`random_architecture`, :func:`mutate` — draw a member of the space; change one thing
  about it.
- :func:`random_search`, :func:`regularized_evolution` — the search loops (Li & Talwalkar 2019;
  Real et al. 2019, "aging evolution"), each under a trial budget, a time budget or both,
  seeded; they return a :class:`SearchResult`.
- :func:`make_evaluator` — the performance estimate: train briefly on one split, score on
  another; :func:`train` is the lean training loop it uses.
- :func:`pareto_front`, :func:`plot_progress`, :func:`plot_pareto`, :func:`draw` — what a search
  found: best-so-far curves, accuracy against size, and the architectures drawn as blocks.

>>> arch = Architecture([conv(16, pool=True), conv(32, pool=True), dense(64)])
>>> print(arch)
conv16 3x3 pool > conv32 3x3 pool > flatten > dense64
>>> count_params(arch, (14, 14), 10)
23946
>>> build(arch, (14, 14), 10).count_params()
23946
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dlbook.checks import positive_int as _positive_int
from dlbook.config import import_keras

keras = import_keras()

__all__ = [
    "Architecture", "Block", "SearchResult", "SearchSpace", "Trial", "build", "conv",
    "count_params", "dense", "draw", "feature_shapes", "make_evaluator", "mutate",
    "pareto_front", "plot_pareto", "plot_progress", "random_architecture", "random_search",
    "regularized_evolution", "sepconv", "train",
]

CONV_KINDS = ("conv", "sepconv")
KINDS = (*CONV_KINDS, "dense")
HEADS = ("flatten", "global")


# --- the encoding -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One block of an architecture.

    ``kind`` is ``"conv"`` (a 2-D convolution), ``"sepconv"`` (a depthwise-separable one, as in
    MobileNet) or ``"dense"``. ``width`` is the number of filters or units; convolutional blocks
    also have a square ``kernel`` (default 3) and may end in 2×2 max pooling (``pool``). Every
    block applies ReLU; convolutions use ``"same"`` padding.

    >>> Block("sepconv", 32, kernel=5, pool=True)
    Block(kind='sepconv', width=32, kernel=5, pool=True)
    >>> Block("dense", 64, pool=True)
    Traceback (most recent call last):
        ...
    ValueError: a dense block has no kernel and no pooling; write Block('dense', 64)
    """

    kind: str
    width: int
    kernel: int | None = None
    pool: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"block kind must be one of {KINDS}, got {self.kind!r}")
        _positive_int(self.width, f"the width of a {self.kind} block")
        if not isinstance(self.pool, (bool, np.bool_)):
            raise ValueError(f"pool must be True or False, got {self.pool!r}")
        if self.kind == "dense":
            if self.kernel is not None or self.pool:
                raise ValueError(f"a dense block has no kernel and no pooling; write "
                                 f"Block('dense', {self.width})")
        elif self.kernel is None:
            object.__setattr__(self, "kernel", 3)
        else:
            _positive_int(self.kernel, f"the kernel size of a {self.kind} block")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "pool", bool(self.pool))

    @property
    def is_conv(self) -> bool:
        """Whether the block works on feature maps (``conv`` or ``sepconv``)."""
        return self.kind in CONV_KINDS

    def __str__(self) -> str:
        if not self.is_conv:
            return f"dense{self.width}"
        short = "conv" if self.kind == "conv" else "sep"
        return f"{short}{self.width} {self.kernel}x{self.kernel}" + (" pool" if self.pool else "")


def conv(width: int, kernel: int = 3, *, pool: bool = False) -> Block:
    """A convolutional block: ``Conv2D(width, kernel, padding="same")``, ReLU, optional pooling.

    >>> str(conv(8, 5, pool=True))
    'conv8 5x5 pool'
    """
    return Block("conv", width, kernel, pool)


def sepconv(width: int, kernel: int = 3, *, pool: bool = False) -> Block:
    """A depthwise-separable convolutional block (``SeparableConv2D``), ReLU, optional pooling.

    >>> str(sepconv(16))
    'sep16 3x3'
    """
    return Block("sepconv", width, kernel, pool)


def dense(width: int) -> Block:
    """A fully connected block: ``Dense(width)`` and ReLU.

    >>> str(dense(128))
    'dense128'
    """
    return Block("dense", width)


@dataclass(frozen=True)
class Architecture:
    """A classifier described by its blocks: convolutional blocks first, then the ``head``
    (``"flatten"`` or ``"global"`` average pooling) that turns the feature maps into a vector,
    then dense blocks, then a softmax layer with one unit per class (added by :func:`build`).

    With no convolutional block the image is flattened and the network is an MLP; with no
    blocks at all it is multinomial logistic regression.

    >>> mlp = Architecture([dense(256), dense(128)])
    >>> print(mlp), mlp.depth
    flatten > dense256 > dense128
    (None, 2)
    >>> Architecture([dense(64), conv(8)])
    Traceback (most recent call last):
        ...
    ValueError: convolutional blocks must come before dense blocks (block 1 is conv after a dense block)
    """

    blocks: tuple[Block, ...] = ()
    head: str = "flatten"

    def __post_init__(self):
        if isinstance(self.blocks, (str, Block)) or not isinstance(self.blocks, Sequence):
            raise TypeError("blocks must be a list of Block, e.g. [conv(16), dense(64)]")
        blocks = tuple(self.blocks)
        for i, block in enumerate(blocks):
            if not isinstance(block, Block):
                raise TypeError(f"block {i} must be a Block (use conv(), sepconv(), dense()), "
                                f"got {type(block).__name__}")
        seen_dense = False
        for i, block in enumerate(blocks):
            if block.is_conv and seen_dense:
                raise ValueError(f"convolutional blocks must come before dense blocks (block {i} "
                                 f"is {block.kind} after a dense block)")
            seen_dense = seen_dense or not block.is_conv
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.head == "global" and not any(b.is_conv for b in blocks):
            raise ValueError("global average pooling needs at least one convolutional block; "
                             "use head='flatten' for an MLP")
        object.__setattr__(self, "blocks", blocks)

    @property
    def conv_blocks(self) -> tuple[Block, ...]:
        """The convolutional blocks, in order."""
        return tuple(b for b in self.blocks if b.is_conv)

    @property
    def dense_blocks(self) -> tuple[Block, ...]:
        """The dense blocks, in order."""
        return tuple(b for b in self.blocks if not b.is_conv)

    @property
    def depth(self) -> int:
        """Number of blocks with weights before the output layer."""
        return len(self.blocks)

    def __str__(self) -> str:
        parts = [str(b) for b in self.conv_blocks] + [self.head]
        return " > ".join(parts + [str(b) for b in self.dense_blocks])

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready description (:meth:`from_dict` reads it back).

        >>> a = Architecture([conv(8, pool=True)], head="global")
        >>> Architecture.from_dict(a.to_dict()) == a
        True
        """
        return {"blocks": [{"kind": b.kind, "width": b.width, "kernel": b.kernel, "pool": b.pool}
                           for b in self.blocks], "head": self.head}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Architecture:
        """The architecture that :meth:`to_dict` described."""
        try:
            blocks = [Block(**b) for b in spec["blocks"]]
        except (KeyError, TypeError) as why:
            raise ValueError(f"not an architecture description ({why}); expected "
                             "{'blocks': [{'kind': ..., 'width': ...}, ...], 'head': ...}") from None
        return cls(blocks, spec.get("head", "flatten"))


# --- shapes, parameters and the Keras model -----------------------------------------------------


def _image_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"input_shape must be (height, width) or (height, width, channels), "
                         f"got {input_shape!r}")
    for n in shape:
        _positive_int(n, "every entry of input_shape")
    return (*shape, 1) if len(shape) == 2 else shape  # type: ignore[return-value]


def feature_shapes(arch: Architecture, input_shape: Sequence[int]) -> list[tuple[str, tuple[int, ...]]]:
    """The shape of the features after each block and after the head (batch axis left out).

    Raises if pooling would shrink the feature maps below 1×1: the space must not pool more
    often than the image can be halved.

    >>> feature_shapes(Architecture([conv(8, pool=True)], "global"), (14, 14))
    [('input', (14, 14, 1)), ('conv8 3x3 pool', (7, 7, 8)), ('global', (8,))]
    """
    h, w, c = _image_shape(input_shape)
    shapes: list[tuple[str, tuple[int, ...]]] = [("input", (h, w, c))]
    for block in arch.conv_blocks:
        c = block.width
        if block.pool:
            h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(f"too many pooled blocks in {arch}: the feature maps of a "
                                 f"{input_shape} input shrink below 1x1; pool less often")
        shapes.append((str(block), (h, w, c)))
    features = c if arch.head == "global" else h * w * c
    shapes.append((arch.head, (features,)))
    for block in arch.dense_blocks:
        shapes.append((str(block), (block.width,)))
    return shapes


def count_params(arch: Architecture, input_shape: Sequence[int], n_classes: int) -> int:
    """The number of weights :func:`build` gives ``arch``, computed from the encoding alone
    (a convolution has ``k·k·c_in·c_out + c_out``; a separable one ``k·k·c_in + c_in·c_out +
    c_out``; a dense layer ``n_in·n_out + n_out``).

    >>> count_params(Architecture([]), (28, 28), 10)   # logistic regression: 784·10 + 10
    7850
    """
    _positive_int(n_classes, "n_classes")
    shapes = feature_shapes(arch, input_shape)
    total, channels = 0, shapes[0][1][2]
    for block in arch.conv_blocks:
        k = block.kernel
        if block.kind == "conv":
            total += k * k * channels * block.width + block.width
        else:
            total += k * k * channels + channels * block.width + block.width
        channels = block.width
    features = shapes[1 + len(arch.conv_blocks)][1][0]
    for width in [b.width for b in arch.dense_blocks] + [n_classes]:
        total += features * width + width
        features = width
    return total


def build(arch: Architecture, input_shape: Sequence[int], n_classes: int, *,
          learning_rate: float = 1e-3, metrics: Sequence[str] | None = None,
          name: str = "candidate"):
    """``arch`` as a Keras classifier, compiled with Adam and sparse categorical cross-entropy.

    ``input_shape`` is ``(height, width)`` for grey images given without a channel axis (a
    ``Reshape`` adds it) or ``(height, width, channels)``. The output layer is a softmax over
    ``n_classes``. ``metrics`` defaults to none: a metric costs tracing time in every trial,
    and :func:`make_evaluator` scores the model itself.

    >>> model = build(Architecture([sepconv(8, pool=True)], "global"), (14, 14), 10)
    >>> model.output_shape, model.count_params()
    ((None, 10), 115)
    """
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be an Architecture, got {type(arch).__name__}")
    feature_shapes(arch, input_shape)  # validates the input shape and the pooling
    _positive_int(n_classes, "n_classes")
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    layers = keras.layers
    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs if len(tuple(input_shape)) == 3 else layers.Reshape(_image_shape(input_shape))(inputs)
    for block in arch.conv_blocks:
        kind = layers.Conv2D if block.kind == "conv" else layers.SeparableConv2D
        x = kind(block.width, block.kernel, padding="same", activation="relu")(x)
        if block.pool:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x) if arch.head == "global" else layers.Flatten()(x)
    for block in arch.dense_blocks:
        x = layers.Dense(block.width, activation="relu")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=list(metrics or []))
    return model


# --- the search space ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchSpace:
    """The choices a search may make: up to ``max_conv`` convolutional blocks, each of a kind in
    ``conv_kinds``, a width in ``conv_widths``, a kernel in ``kernels``, pooled or not; a head
    in ``heads`` (only when there is a convolutional block); up to ``max_dense`` dense blocks of
    a width in ``dense_widths``. Pooling is allowed as often as the input can be halved.

    >>> space = SearchSpace(input_shape=(14, 14))
    >>> space.max_pools, space.size()
    (3, 1420629)
    """

    input_shape: tuple[int, ...] = (14, 14)
    n_classes: int = 10
    conv_kinds: tuple[str, ...] = CONV_KINDS
    conv_widths: tuple[int, ...] = (8, 16, 32, 64)
    kernels: tuple[int, ...] = (3, 5)
    dense_widths: tuple[int, ...] = (32, 64, 128, 256)
    heads: tuple[str, ...] = HEADS
    max_conv: int = 3
    max_dense: int = 2

    def __post_init__(self):
        _image_shape(self.input_shape)
        _positive_int(self.n_classes, "n_classes")
        for name in ("conv_kinds", "conv_widths", "kernels", "dense_widths", "heads"):
            values = tuple(getattr(self, name))
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{name} must list at least one choice, without repeats; "
                                 f"got {values!r}")
            object.__setattr__(self, name, values)
        if not set(self.conv_kinds) <= set(CONV_KINDS):
            raise ValueError(f"conv_kinds must be drawn from {CONV_KINDS}, got {self.conv_kinds}")
        if not set(self.heads) <= set(HEADS):
            raise ValueError(f"heads must be drawn from {HEADS}, got {self.heads}")
        for name in ("conv_widths", "kernels", "dense_widths"):
            for v in getattr(self, name):
                _positive_int(v, f"every entry of {name}")
        for name in ("max_conv", "max_dense"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        object.__setattr__(self, "input_shape", tuple(self.input_shape))

    @property
    def max_pools(self) -> int:
        """How many 2×2 poolings the input survives (feature maps stay at least 1×1)."""
        side, pools = min(_image_shape(self.input_shape)[:2]), 0
        while side // 2 >= 1:
            side, pools = side // 2, pools + 1
        return pools

    def contains(self, arch: Architecture) -> bool:
        """Whether the space can produce ``arch`` (the rivals a person designs often lie
        outside it: LeNet's 6 and 16 filters are not among the widths).

        >>> space = SearchSpace()
        >>> space.contains(Architecture([conv(16, pool=True), dense(64)]))
        True
        >>> space.contains(Architecture([conv(6, 5)]))
        False
        """
        convs, denses = arch.conv_blocks, arch.dense_blocks
        if len(convs) > self.max_conv or len(denses) > self.max_dense:
            return False
        if sum(b.pool for b in convs) > self.max_pools:
            return False
        if convs and arch.head not in self.heads:
            return False
        if not convs and arch.head != "flatten":
            return False
        ok_conv = all(b.kind in self.conv_kinds and b.width in self.conv_widths
                      and b.kernel in self.kernels for b in convs)
        return ok_conv and all(b.width in self.dense_widths for b in denses)

    def size(self) -> int:
        """The exact number of distinct architectures in the space."""
        per_block = len(self.conv_kinds) * len(self.conv_widths) * len(self.kernels)
        conv_part = 0
        for depth in range(self.max_conv + 1):
            pooled = sum(math.comb(depth, p) for p in range(min(depth, self.max_pools) + 1))
            conv_part += per_block ** depth * pooled * (len(self.heads) if depth else 1)
        dense_part = sum(len(self.dense_widths) ** d for d in range(self.max_dense + 1))
        return conv_part * dense_part

    def count_params(self, arch: Architecture) -> int:
        """:func:`count_params` for this space's input shape and classes."""
        return count_params(arch, self.input_shape, self.n_classes)

    def build(self, arch: Architecture, **kwargs: Any):
        """:func:`build` for this space's input shape and classes."""
        return build(arch, self.input_shape, self.n_classes, **kwargs)


def _rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}")


def _check_space(space: Any) -> SearchSpace:
    if not isinstance(space, SearchSpace):
        raise TypeError(f"space must be a SearchSpace, got {type(space).__name__}")
    return space


def _random_conv(space: SearchSpace, rng: np.random.Generator, pool: bool) -> Block:
    kind = space.conv_kinds[rng.integers(len(space.conv_kinds))]
    width = space.conv_widths[rng.integers(len(space.conv_widths))]
    kernel = space.kernels[rng.integers(len(space.kernels))]
    return Block(kind, width, kernel, pool)


def _random_dense(space: SearchSpace, rng: np.random.Generator) -> Block:
    return dense(space.dense_widths[rng.integers(len(space.dense_widths))])


def random_architecture(space: SearchSpace, rng: Any = 0) -> Architecture:
    """Draw an architecture from ``space``: the numbers of convolutional and of dense blocks
    uniformly, then every choice of every block uniformly (each convolutional block pooled with
    probability ½, as long as the input survives it).

    >>> space = SearchSpace()
    >>> arch = random_architecture(space, np.random.default_rng(3))
    >>> space.contains(arch)
    True
    """
    space, rng = _check_space(space), _rng(rng)
    n_conv = int(rng.integers(space.max_conv + 1))
    n_dense = int(rng.integers(space.max_dense + 1))
    pools = rng.random(n_conv) < 0.5
    while pools.sum() > space.max_pools:
        pools[rng.choice(np.flatnonzero(pools))] = False
    blocks = [_random_conv(space, rng, bool(p)) for p in pools]
    blocks += [_random_dense(space, rng) for _ in range(n_dense)]
    head = space.heads[rng.integers(len(space.heads))] if n_conv else "flatten"
    return Architecture(blocks, head)


def _other(values: Sequence[Any], current: Any, rng: np.random.Generator) -> Any:
    choices = [v for v in values if v != current]
    return choices[rng.integers(len(choices))]


def _mutations(arch: Architecture, space: SearchSpace) -> list[str]:
    convs, denses = arch.conv_blocks, arch.dense_blocks
    ops = []
    if (convs and len(space.conv_widths) > 1) or (denses and len(space.dense_widths) > 1):
        ops.append("width")
    if convs and len(space.kernels) > 1:
        ops.append("kernel")
    if convs and len(space.conv_kinds) > 1:
        ops.append("kind")
    if convs and (sum(b.pool for b in convs) < space.max_pools or any(b.pool for b in convs)):
        ops.append("pool")
    if len(convs) < space.max_conv:
        ops.append("add conv")
    if len(denses) < space.max_dense:
        ops.append("add dense")
    if arch.blocks:
        ops.append("remove")
    if convs and len(space.heads) > 1:
        ops.append("head")
    return ops


def mutate(arch: Architecture, space: SearchSpace, rng: Any = 0) -> Architecture:
    """A copy of ``arch`` with one random change: a block's width, kernel, kind (conv ↔
    separable) or pooling; a block added or removed; or the head swapped. The child is always
    in ``space`` and always differs from its parent. (Removing the last convolutional block
    also resets a ``global`` head to ``flatten``.)

    >>> space = SearchSpace()
    >>> parent = Architecture([conv(16, pool=True), dense(64)])
    >>> child = mutate(parent, space, np.random.default_rng(0))
    >>> child != parent and space.contains(child)
    True
    """
    space, rng = _check_space(space), _rng(rng)
    if not isinstance(arch, Architecture):
        raise TypeError(f"arch must be an Architecture, got {type(arch).__name__}")
    if not space.contains(arch):
        raise ValueError(f"{arch} is not in the search space; mutate only architectures the "
                         "space can produce (check space.contains(arch))")
    ops = _mutations(arch, space)
    if not ops:
        raise ValueError("this space has a single architecture; there is nothing to mutate")
    convs, denses = list(arch.conv_blocks), list(arch.dense_blocks)
    head = arch.head
    op = ops[rng.integers(len(ops))]
    if op == "width":
        can = [i for i in range(len(convs)) if len(space.conv_widths) > 1]
        can += [len(convs) + j for j in range(len(denses)) if len(space.dense_widths) > 1]
        i = can[rng.integers(len(can))]
        if i < len(convs):
            convs[i] = replace(convs[i], width=_other(space.conv_widths, convs[i].width, rng))
        else:
            j = i - len(convs)
            denses[j] = dense(_other(space.dense_widths, denses[j].width, rng))
    elif op == "kernel":
        i = int(rng.integers(len(convs)))
        convs[i] = replace(convs[i], kernel=_other(space.kernels, convs[i].kernel, rng))
    elif op == "kind":
        i = int(rng.integers(len(convs)))
        convs[i] = replace(convs[i], kind=_other(space.conv_kinds, convs[i].kind, rng))
    elif op == "pool":
        full = sum(b.pool for b in convs) >= space.max_pools
        can = [i for i, b in enumerate(convs) if b.pool or not full]
        i = can[rng.integers(len(can))]
        convs[i] = replace(convs[i], pool=not convs[i].pool)
    elif op == "add conv":
        full = sum(b.pool for b in convs) >= space.max_pools
        block = _random_conv(space, rng, pool=bool(rng.random() < 0.5) and not full)
        convs.insert(int(rng.integers(len(convs) + 1)), block)
    elif op == "add dense":
        denses.insert(int(rng.integers(len(denses) + 1)), _random_dense(space, rng))
    elif op == "remove":
        i = int(rng.integers(len(convs) + len(denses)))
        if i < len(convs):
            del convs[i]
        else:
            del denses[i - len(convs)]
    else:  # head
        head = _other(space.heads, head, rng)
    if not convs:
        head = "flatten"
    return Architecture(convs + denses, head)


# --- the search loops ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One architecture a search trained and scored: its place in the search (``index``), the
    ``score`` the evaluator returned (higher is better), its ``params``, the ``seconds`` its
    evaluation took, the ``elapsed`` seconds since the search began (at the end of this trial),
    where it came from (``origin``: ``"random"`` or ``"mutant of #k"``) and whatever else the
    evaluator reported (``info``)."""

    index: int
    arch: Architecture
    score: float
    params: int
    seconds: float
    elapsed: float
    origin: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    """What a search loop returns: every :class:`Trial` in order, the wall-clock ``seconds``
    of the whole search and why it ``stopped`` (``"trial budget"`` or ``"time budget"``)."""

    name: str
    trials: list[Trial]
    seconds: float
    stopped: str

    @property
    def best(self) -> Trial:
        """The trial with the highest score (the earliest one on a tie)."""
        if not self.trials:
            raise ValueError(f"the search {self.name!r} ran no trial; give it a larger budget")
        return max(self.trials, key=lambda t: (t.score, -t.index))

    def best_so_far(self, by: str = "trial") -> tuple[np.ndarray, np.ndarray]:
        """The best score found after each trial, against the trial count (``by="trial"``,
        1, 2, ...) or the seconds elapsed (``by="seconds"``).

        >>> r = SearchResult("s", [Trial(0, Architecture(), 0.5, 1, 1.0, 1.0, "random"),
        ...                        Trial(1, Architecture(), 0.4, 1, 1.0, 2.0, "random")], 2.0,
        ...                  "trial budget")
        >>> r.best_so_far()
        (array([1, 2]), array([0.5, 0.5]))
        """
        if by not in ("trial", "seconds"):
            raise ValueError(f"by must be 'trial' or 'seconds', got {by!r}")
        scores = np.maximum.accumulate([t.score for t in self.trials]) if self.trials \
            else np.array([])
        x = np.arange(1, len(self.trials) + 1) if by == "trial" \
            else np.array([t.elapsed for t in self.trials])
        return x, np.asarray(scores, dtype=float)

    def table(self):
        """One row per trial (a pandas DataFrame indexed by trial number)."""
        import pandas as pd

        rows = [{"trial": t.index, "architecture": str(t.arch), "score": t.score,
                 "params": t.params, "seconds": t.seconds, "elapsed": t.elapsed,
                 "origin": t.origin, **{k: v for k, v in t.info.items() if k != "score"}}
                for t in self.trials]
        return pd.DataFrame(rows).set_index("trial") if rows else pd.DataFrame()

    def summary(self) -> dict[str, Any]:
        """Trials run, distinct architectures, seconds spent, the best score and architecture."""
        best = self.best
        return {"trials": len(self.trials),
                "distinct architectures": len({t.arch for t in self.trials}),
                "seconds": round(self.seconds, 1),
                "seconds per trial": round(self.seconds / len(self.trials), 2),
                "best score": best.score, "best trial": best.index,
                "best architecture": str(best.arch), "best params": best.params,
                "stopped by": self.stopped}


def _budget(trials: Any, seconds: Any) -> tuple[int | None, float | None]:
    if trials is None and seconds is None:
        raise ValueError("give the search a budget: trials=N, seconds=S, or both")
    if trials is not None:
        trials = _positive_int(trials, "trials")
    if seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not seconds > 0 or math.isinf(seconds):
            raise ValueError(f"seconds must be a positive, finite number, got {seconds!r}")
        seconds = float(seconds)
    return trials, seconds


class _Runner:
    """Evaluates architectures for a search, keeps the trials and watches both budgets."""

    def __init__(self, name, space, evaluate, trials, seconds, clock):
        if not callable(evaluate):
            raise TypeError("evaluate must be a function arch -> score (or a dict with a "
                            "'score'), e.g. make_evaluator(train, val, ...)")
        self.name, self.space, self.evaluate, self.clock = name, space, evaluate, clock
        self.max_trials, self.max_seconds = _budget(trials, seconds)
        self.trials: list[Trial] = []
        self.start = clock()

    def exhausted(self) -> str | None:
        if self.max_trials is not None and len(self.trials) >= self.max_trials:
            return "trial budget"
        if self.max_seconds is not None and self.clock() - self.start >= self.max_seconds:
            return "time budget"
        return None

    def run(self, arch: Architecture, origin: str) -> Trial:
        began = self.clock()
        outcome = self.evaluate(arch)
        ended = self.clock()
        info = dict(outcome) if isinstance(outcome, Mapping) else {"score": outcome}
        score = info.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float, np.floating, np.integer)) \
                or not math.isfinite(score):
            raise TypeError(f"evaluate must return a finite number (or a dict with a 'score'); "
                            f"for {arch} it returned {outcome!r}")
        info.pop("score")
        trial = Trial(len(self.trials), arch, float(score), self.space.count_params(arch),
                      ended - began, ended - self.start, origin, info)
        self.trials.append(trial)
        return trial

    def result(self, stopped: str) -> SearchResult:
        return SearchResult(self.name, self.trials, self.clock() - self.start, stopped)


def random_search(space: SearchSpace, evaluate: Callable[[Architecture], Any], *,
                  trials: int | None = None, seconds: float | None = None, seed: int = 0,
                  clock: Callable[[], float] = time.perf_counter) -> SearchResult:
    """Draw architectures from ``space`` independently (:func:`random_architecture`), score each
    with ``evaluate``, keep them all.

    Stops after ``trials`` evaluations or, with ``seconds``, before starting a trial once the
    time is spent (a trial under way is finished). ``evaluate(arch)`` returns the score (higher
    is better) or a dict with a ``"score"`` and anything else worth keeping (it lands in
    :attr:`Trial.info`).

    >>> space = SearchSpace()
    >>> wide = lambda arch: sum(b.width for b in arch.blocks)   # a stand-in for training
    >>> result = random_search(space, wide, trials=5, seed=0)
    >>> len(result.trials), result.stopped
    (5, 'trial budget')
    """
    space, rng = _check_space(space), np.random.default_rng(seed)
    runner = _Runner("random search", space, evaluate, trials, seconds, clock)
    while not (stopped := runner.exhausted()):
        runner.run(random_architecture(space, rng), "random")
    return runner.result(stopped)


def regularized_evolution(space: SearchSpace, evaluate: Callable[[Architecture], Any], *,
                          trials: int | None = None, seconds: float | None = None,
                          population: int = 10, sample: int = 3, seed: int = 0,
                          clock: Callable[[], float] = time.perf_counter) -> SearchResult:
    """Aging evolution (Real et al. 2019): start from ``population`` random architectures;
    then, repeatedly, pick ``sample`` members of the population at random, mutate the best of
    them (:func:`mutate`), score the child, add it and remove the *oldest* member. Removing
    the oldest rather than the worst is the regularisation: an architecture survives only by
    having good children, not by one lucky score.

    The budget counts every evaluation, the random start included, as in
    :func:`random_search`, so the two compare at equal cost.

    >>> space = SearchSpace()
    >>> wide = lambda arch: sum(b.width for b in arch.blocks)
    >>> result = regularized_evolution(space, wide, trials=12, population=4, sample=2)
    >>> [t.origin for t in result.trials][3:5]
    ['random', 'mutant of #3']
    """
    space, rng = _check_space(space), np.random.default_rng(seed)
    population = _positive_int(population, "population")
    sample = _positive_int(sample, "sample")
    if sample > population:
        raise ValueError(f"sample ({sample}) cannot exceed population ({population}): the "
                         "tournament picks its contestants from the population")
    runner = _Runner("regularized evolution", space, evaluate, trials, seconds, clock)
    alive: deque[Trial] = deque()
    while not (stopped := runner.exhausted()):
        if len(runner.trials) < population:
            alive.append(runner.run(random_architecture(space, rng), "random"))
            continue
        picked = rng.choice(len(alive), size=sample, replace=False)
        parent = max((alive[int(i)] for i in picked), key=lambda t: (t.score, -t.index))
        child = mutate(parent.arch, space, rng)
        alive.append(runner.run(child, f"mutant of #{parent.index}"))
        alive.popleft()
    return runner.result(stopped)


def train(model, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int = 64,
          seed: int = 0) -> float:
    """Train a compiled Keras ``model`` on ``(x, y)`` with its own optimiser and loss, in a
    loop of compiled steps; return the seconds it took.

    This is ``model.fit`` stripped to what a search needs: batches reshuffled every epoch
    (seeded), the last incomplete batch dropped so that the step is traced once, no callbacks,
    metrics or progress bar. Building and tracing a new model is the fixed cost of every trial,
    and this loop pays about half of what ``fit`` does (TensorFlow backend).

    >>> x = np.zeros((8, 3), "float32"); y = np.array([0, 1] * 4)
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    >>> m.compile("adam", "sparse_categorical_crossentropy")
    >>> train(m, x, y, epochs=1, batch_size=4) > 0
    True
    """
    import tensorflow as tf

    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if len(x) != len(y) or len(y) < batch_size:
        raise ValueError(f"x and y must hold the same number of examples, at least one batch "
                         f"({batch_size}); got {len(x)} and {len(y)}")
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        raise ValueError("compile the model first (build() does): train uses its optimizer "
                         "and loss")
    loss_fn = keras.losses.get(model.loss)
    optimizer, weights = model.optimizer, model.trainable_variables
    optimizer.build(weights)

    @tf.function(reduce_retracing=True)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(loss_fn(yb, model(xb, training=True)))
        optimizer.apply(tape.gradient(loss, weights), weights)
        return loss

    batches = (tf.data.Dataset.from_tensor_slices((np.asarray(x), np.asarray(y)))
               .shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size, drop_remainder=True))
    began = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in batches:
            step(xb, yb)
    return time.perf_counter() - began


def make_evaluator(train_data: tuple[np.ndarray, np.ndarray],
                   val_data: tuple[np.ndarray, np.ndarray], *, n_classes: int, epochs: int = 2,
                   batch_size: int = 64, learning_rate: float = 1e-3,
                   seed: int = 0) -> Callable[[Architecture], dict]:
    """The performance estimate of a search: build ``arch`` (:func:`build`), train it for
    ``epochs`` on ``train_data`` from the same ``seed`` every time (:func:`train`), and return
    its accuracy on ``val_data`` as the ``score``, with its ``params`` (counted by Keras) and
    ``train_seconds`` (the training loop, tracing included; building the model is not).

    Every call starts from a fresh Keras session so that a long search does not accumulate
    graphs. Pointed at the test set with more epochs and another seed, the same function
    retrains a finalist.

    >>> x = np.random.default_rng(0).random((32, 4, 4), dtype="float32")
    >>> y = (x.mean(axis=(1, 2)) > 0.5).astype(int)
    >>> evaluate = make_evaluator((x, y), (x, y), n_classes=2, epochs=1, batch_size=8)
    >>> sorted(evaluate(Architecture([dense(8)])))
    ['params', 'score', 'train_seconds']
    """
    from dlbook.experiments import accuracy

    x_train, y_train = train_data
    x_val, y_val = val_data
    if len(x_train) != len(y_train) or len(x_val) != len(y_val) or not len(y_val):
        raise ValueError("train_data and val_data must be non-empty (x, y) pairs of equal "
                         "lengths")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    input_shape = tuple(np.shape(x_train)[1:])

    def evaluate(arch: Architecture) -> dict[str, Any]:
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        model = build(arch, input_shape, n_classes, learning_rate=learning_rate)
        seconds = train(model, x_train, y_train, epochs=epochs, batch_size=batch_size,
                        seed=seed)
        return {"score": accuracy(model, x_val, y_val), "params": int(model.count_params()),
                "train_seconds": seconds}

    return evaluate


# --- what a search found ------------------------------------------------------------------------


def pareto_front(params: Sequence[float], scores: Sequence[float]) -> np.ndarray:
    """Indices of the points no other point beats on both counts (at most as many parameters
    *and* at least as high a score, better in one), ordered by parameter count.

    >>> pareto_front([100, 200, 300, 150], [0.8, 0.9, 0.85, 0.7]).tolist()
    [0, 1]
    """
    params, scores = np.asarray(params, dtype=float), np.asarray(scores, dtype=float)
    if params.shape != scores.shape or params.ndim != 1:
        raise ValueError(f"params and scores must be 1-D and equally long, got "
                         f"{params.shape} and {scores.shape}")
    order = np.lexsort((-scores, params))  # fewest parameters first, best score first on ties
    front, best = [], -np.inf
    for i in order:
        if scores[i] > best:
            front.append(int(i))
            best = scores[i]
    return np.array(front, dtype=int)


def _results(results: Any) -> list[SearchResult]:
    if isinstance(results, SearchResult):
        results = [results]
    results = list(results.values() if isinstance(results, Mapping) else results)
    if not results or not all(isinstance(r, SearchResult) for r in results):
        raise TypeError("results must be a SearchResult or a list of them")
    return results


def plot_progress(results: Any, *, references: Mapping[str, float] | None = None,
                  score_label: str = "validation accuracy",
                  title: str = "Best architecture found so far"):
    """Two panels: each search's best score so far against trials, and against seconds of
    search (the honest axis: trials differ in cost); every trial's own score as a faint dot;
    ``references`` (say, the hand-designed rivals' scores) as dotted lines. Scores in %.

    >>> r = random_search(SearchSpace(), lambda a: 0.5, trials=3)
    >>> fig = plot_progress(r, references={"MLP": 0.4})
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['trials', 'seconds of search']
    """
    import matplotlib.pyplot as plt

    from dlbook.plot import PALETTE

    results = _results(results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.9), sharey=True)
    for ax, by in zip(axes, ("trial", "seconds"), strict=True):
        for color, result in zip(PALETTE, results, strict=False):
            x, best = result.best_so_far(by)
            own = [100 * t.score for t in result.trials]
            ax.plot(x, own, "o", color=color, alpha=0.25, ms=4)
            ax.step(x, 100 * best, where="post", color=color, lw=2, label=result.name)
        for i, (name, value) in enumerate((references or {}).items()):
            ax.axhline(100 * value, color=("0.15", "0.45", "0.65")[i % 3],
                       ls=(":", "--", "-.")[i % 3], lw=1.2, label=name)
        ax.set_xlabel("trials" if by == "trial" else "seconds of search")
    axes[0].set_ylabel(f"{score_label} (%)")
    axes[0].set_title("against trials", fontsize=10)
    axes[1].set_title("against wall-clock time", fontsize=10)
    scores = [100 * t.score for r in results for t in r.trials]
    floor = [100 * v for v in (references or {}).values()]
    top = max(scores + floor)
    lows = sorted(scores)[len(scores) // 5: len(scores) // 5 + 1] + floor
    axes[0].set_ylim(max(0.0, min(lows) - 3), min(100.0, top + 1.5))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 5),
               bbox_to_anchor=(0.5, 0.95), fontsize=9)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def plot_pareto(results: Any, *, rivals: Mapping[str, tuple[int, float]] | None = None,
                score_label: str = "validation accuracy",
                title: str = "Accuracy against size: every trial and the Pareto front"):
    """Every trial's score against its parameter count (log scale), one colour per search, the
    Pareto front of all trials as a line, and ``rivals`` (name -> (params, score)) as labelled
    stars. Scores in %.

    >>> r = random_search(SearchSpace(), lambda a: 0.5, trials=3)
    >>> fig = plot_pareto(r, rivals={"MLP": (50_000, 0.4)})
    >>> fig.axes[0].get_xscale()
    'log'
    """
    import matplotlib.pyplot as plt

    from dlbook.plot import PALETTE

    results = _results(results)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for color, result in zip(PALETTE, results, strict=False):
        ax.scatter([t.params for t in result.trials], [100 * t.score for t in result.trials],
                   s=26, alpha=0.7, color=color, label=result.name)
    every = [t for r in results for t in r.trials]
    params = np.array([t.params for t in every])
    scores = np.array([t.score for t in every])
    low = np.percentile(100 * scores, 15)
    floor = [100 * s for _, s in (rivals or {}).values()]
    bottom = max(0.0, min([low, *floor]) - 3)
    front = pareto_front(params, scores)
    front = front[100 * scores[front] >= bottom]  # the part of the front the axes show
    ax.step(params[front], 100 * scores[front], where="post", color="0.25", lw=1.2,
            label="Pareto front of the trials")
    for name, (n, score) in (rivals or {}).items():
        ax.scatter([n], [100 * score], marker="*", s=160, color="black", zorder=3)
        ax.annotate(name, (n, 100 * score), textcoords="offset points", xytext=(6, -12),
                    fontsize=9)
    ax.set_xscale("log")
    ax.set_ylim(bottom, min(100.0, 100 * scores.max() + 1.5))
    ax.set(xlabel="parameters (log scale)", ylabel=f"{score_label} (%)", title=title)
    ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


_COLORS = {"conv": "#1f77b4", "sepconv": "#17becf", "global": "#9467bd", "flatten": "#9467bd",
           "dense": "#ff7f0e", "input": "0.8", "output": "#d62728"}


def draw(archs: Mapping[str, Architecture], input_shape: Sequence[int], n_classes: int, *,
         title: str = "Architectures, block by block"):
    """Draw each architecture as a row of boxes, input to softmax, one colour per kind of
    block, each box labelled with the block and the shape it outputs.

    >>> fig = draw({"MLP": Architecture([dense(64)])}, (14, 14), 10)
    >>> len(fig.axes)
    1
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    if not isinstance(archs, Mapping) or not archs:
        raise TypeError("archs must be a non-empty dict of name -> Architecture")
    rows = []
    for name, arch in archs.items():
        if not isinstance(arch, Architecture):
            raise TypeError(f"archs[{name!r}] must be an Architecture, got {type(arch).__name__}")
        shapes = feature_shapes(arch, input_shape)
        kinds = ["input"] + [b.kind for b in arch.conv_blocks] + [arch.head] + \
            [b.kind for b in arch.dense_blocks] + ["output"]
        labels = [f"input\n{'x'.join(map(str, shapes[0][1]))}"]
        labels += [f"{str(b).replace(' pool', chr(10) + 'pool')}\n"
                   f"{'x'.join(map(str, s))}" for b, (_, s) in zip(arch.conv_blocks, shapes[1:],
                                                                   strict=False)]
        labels.append(f"{arch.head}\n{shapes[1 + len(arch.conv_blocks)][1][0]}")
        labels += [str(b) for b in arch.dense_blocks]
        labels.append(f"softmax\n{n_classes}")
        rows.append((name, kinds, labels, count_params(arch, input_shape, n_classes)))
    width = max(len(k) for _, k, _, _ in rows)
    fig, ax = plt.subplots(figsize=(1.45 * width + 2.2, 1.05 * len(rows) + 0.6))
    for r, (name, kinds, labels, params) in enumerate(rows):
        y = len(rows) - 1 - r
        ax.text(-0.25, y, f"{name}\n{params:,} params", ha="right", va="center", fontsize=9)
        for i, (kind, label) in enumerate(zip(kinds, labels, strict=True)):
            ax.add_patch(FancyBboxPatch((i + 0.06, y - 0.36), 0.88, 0.72,
                                        boxstyle="round,pad=0.02", color=_COLORS[kind],
                                        alpha=0.35 if kind == "input" else 0.8))
            ax.text(i + 0.5, y, label, ha="center", va="center", fontsize=7.5)
            if i:
                ax.annotate("", (i + 0.06, y), (i - 0.06, y),
                            arrowprops={"arrowstyle": "->", "lw": 0.8})
    ax.set_xlim(-2.2, width + 0.1)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig
