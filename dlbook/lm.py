"""Language-model practice: a byte-pair-encoding tokenizer trained locally, training several
small language models side by side, a power-law fit for scaling studies, and LoRA adapters.

>>> bpe = BPETokenizer.train("low lower lowest low low", n_merges=3)
>>> bpe.merges
[('l', 'o'), ('lo', 'w'), (' ', 'low')]
>>> bpe.decode(bpe.encode(" lowest"))
' lowest'
>>> law = fit_power_law([10, 100, 1000], [4.0, 2.0, 1.0])
>>> round(law.exponent, 3), round(float(law(10_000)), 3)
(-0.301, 0.5)

The models trained here are next-token models mapping ``(batch, T)`` ids to ``(batch, T,
vocab)`` logits, such as :func:`dlbook.models.causal_lm`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.text import _as_ids, _predictor, eval_windows, nats_to_bits, window_starts

__all__ = [
    "BPETokenizer",
    "PowerLaw",
    "bits_per_char_each",
    "compiled",
    "enable_lora",
    "fit_power_law",
    "parameter_counts",
    "side_by_side",
    "train_lms",
]

# GPT-2-style pre-tokenisation: a word with its leading space, a run of punctuation, or spaces.
_PIECES = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^A-Za-z0-9\s]+|\s+")


# --- byte-pair encoding ---------------------------------------------------------------------------


def _merge(symbols: list[str], a: str, b: str) -> list[str]:
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


class BPETokenizer:
    """A byte-pair-encoding subword tokenizer (Sennrich et al. 2016) over characters.

    Training starts from single characters and repeatedly merges the most frequent adjacent
    pair inside pre-tokenised words (a word keeps its leading space, as in GPT-2), so frequent
    words become one token and rare ones split into pieces. Ids ``0 .. n_chars-1`` are the
    characters (sorted), the merged tokens follow in the order they were learned.

    >>> tok = BPETokenizer.train("the cat the hat the mat", n_merges=4)
    >>> [tok.decode([i]) for i in tok.encode("the cat")]
    ['the', ' ', 'c', 'at']
    """

    def __init__(self, chars: Sequence[str], merges: Sequence[tuple[str, str]]) -> None:
        self.merges = [tuple(m) for m in merges]
        self.vocab = sorted(set(chars)) + [a + b for a, b in self.merges]
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError("the vocabulary has duplicate tokens; were the merges made twice?")
        self._ids = {token: i for i, token in enumerate(self.vocab)}
        self._rank = {pair: r for r, pair in enumerate(self.merges)}
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, n_merges: int, *, min_count: int = 2,
              alphabet: Sequence[str] = ()) -> BPETokenizer:
        """Learn up to ``n_merges`` merges from ``text`` (fewer if no pair occurs
        ``min_count`` times). The characters of ``alphabet`` join the base vocabulary even
        where ``text`` lacks them, so that any text over that alphabet can be encoded."""
        if not isinstance(text, str) or not text:
            raise ValueError("train on a non-empty str")
        if n_merges < 0:
            raise ValueError(f"n_merges must be ≥ 0, got {n_merges}")
        words = Counter(_PIECES.findall(text))
        seqs = [list(w) for w in words]
        freqs = list(words.values())
        pairs: Counter = Counter()
        where: defaultdict = defaultdict(set)
        for i, (s, f) in enumerate(zip(seqs, freqs, strict=True)):
            for p in zip(s, s[1:], strict=False):
                pairs[p] += f
                where[p].add(i)
        merges = []
        for _ in range(n_merges):
            if not pairs:
                break
            best = max(pairs, key=pairs.__getitem__)
            if pairs[best] < min_count:
                break
            merges.append(best)
            for i in where.pop(best):
                s, f = seqs[i], freqs[i]
                for p in zip(s, s[1:], strict=False):
                    pairs[p] -= f
                seqs[i] = _merge(s, *best)
                for p in zip(seqs[i], seqs[i][1:], strict=False):
                    pairs[p] += f
                    where[p].add(i)
            pairs = +pairs  # drop pairs whose count fell to zero
        return cls(set(text) | set(alphabet), merges)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"

    def _encode_piece(self, piece: str) -> list[int]:
        if piece not in self._cache:
            symbols = list(piece)

            def pairs_of(symbols):
                return zip(symbols, symbols[1:], strict=False)

            while len(symbols) > 1:
                ranked = [(self._rank.get(p, math.inf), p) for p in pairs_of(symbols)]
                rank, pair = min(ranked)
                if rank == math.inf:
                    break
                symbols = _merge(symbols, *pair)
            try:
                self._cache[piece] = [self._ids[s] for s in symbols]
            except KeyError as err:
                raise ValueError(f"character {err.args[0]!r} was not in the training text; "
                                 "train with alphabet= all the characters you need") from None
        return self._cache[piece]

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text`` (int32), applying the merges in the order they were learned."""
        return np.array([i for piece in _PIECES.findall(text) for i in self._encode_piece(piece)],
                        dtype=np.int32)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return "".join(self.vocab[int(i)] for i in ids)


# --- a power law ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLaw:
    """``y = scale · x ** exponent``, a straight line on log-log axes."""

    scale: float
    exponent: float

    def __call__(self, x: Any) -> np.ndarray:
        return self.scale * np.asarray(x, dtype=float) ** self.exponent


def fit_power_law(x: Sequence[float], y: Sequence[float]) -> PowerLaw:
    """Least-squares fit of ``log y = log scale + exponent · log x``.

    >>> fit_power_law([1, 2, 4], [8, 4, 2]).exponent
    -1.0
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need two 1-D arrays of equal length ≥ 2, got shapes {x.shape} and "
                         f"{y.shape}")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("a power law needs positive x and y (it is fitted on their logs)")
    exponent, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return PowerLaw(float(np.exp(intercept)), round(float(exponent), 12))


# --- training several language models side by side ------------------------------------------------


def side_by_side(models: Sequence[Any], name: str = "side_by_side"):
    """One Keras model that runs each model on its own ids input and returns all their logits.

    Parameters are not shared, so when the members' losses are summed each member still gets
    exactly its own gradient: training the group is training every member on its own batches,
    with one compiled step instead of one per member.

    >>> from dlbook.models import causal_lm
    >>> pair = side_by_side([causal_lm(9, 8, dim=8, heads=2, depth=1, name=f"lm_{i}")
    ...                      for i in range(2)])
    >>> [tuple(out.shape) for out in pair([np.zeros((1, 8), "int32")] * 2)]
    [(1, 8, 9), (1, 8, 9)]
    """
    import keras

    if not models:
        raise ValueError("give at least one model")
    names = [m.name for m in {id(m): m for m in models}.values()]  # the same model may repeat
    if len(set(names)) < len(names):
        raise ValueError(f"the models need distinct names, got {names}; build each with its "
                         "own name=..., e.g. causal_lm(..., name='lm_1')")
    inputs = [keras.Input((None,), dtype="int32", name=f"ids_{i}") for i in range(len(models))]
    return keras.Model(inputs, [m(x) for m, x in zip(models, inputs, strict=True)], name=name)


def _stream(ids_per_model: Sequence[np.ndarray], seq_len: int, batch_size: int, seed: int):
    import tensorflow as tf

    def one(ids, k):
        ids = _as_ids(ids)
        starts = window_starts(len(ids), seq_len)
        corpus, offsets = tf.constant(ids), tf.range(seq_len + 1, dtype=tf.int64)
        ds = tf.data.Dataset.from_tensor_slices(starts).shuffle(len(starts), seed=seed + k)
        ds = ds.repeat().batch(batch_size, drop_remainder=True)
        return ds.map(lambda s: tf.gather(corpus, s[:, None] + offsets))

    streams = tuple(one(ids, k) for k, ids in enumerate(ids_per_model))
    ds = tf.data.Dataset.zip(streams)
    return ds.map(lambda *c: (tuple(x[:, :-1] for x in c), tuple(x[:, 1:] for x in c)),
                  num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def train_lms(models: Sequence[Any], ids: np.ndarray | Sequence[np.ndarray], *, steps: int,
              learning_rate: float, seq_len: int = 64, batch_size: int = 32, warmup: float = 0.1,
              checkpoints: int = 10, seed: int = 0) -> np.ndarray:
    """Train next-token models side by side for ``steps`` steps of shuffled windows, each on
    ``ids`` (one id array for all, or one per model), with Adam, a linear warm-up over the
    first ``warmup`` share of the steps, then cosine decay to a tenth, and gradients clipped per
    weight (so the members stay independent). Returns the mean training loss in nats of every
    model over each of ``checkpoints`` equal stretches, shape ``(checkpoints, n_models)``.

    >>> from dlbook.models import causal_lm
    >>> lm = causal_lm(5, 8, dim=8, heads=2, depth=1)
    >>> losses = train_lms([lm], np.arange(400) % 5, steps=60, learning_rate=1e-2, seq_len=8,
    ...                    batch_size=8, checkpoints=2)
    >>> losses.shape, bool(losses[-1, 0] < losses[0, 0])
    ((2, 1), True)
    """
    import keras

    models = list(models)
    if isinstance(ids, np.ndarray) and ids.ndim == 1:
        ids = [ids] * len(models)
    if len(ids) != len(models):
        raise ValueError(f"give one id array, or one per model ({len(models)}), not {len(ids)}")
    if steps < checkpoints or steps % checkpoints:
        raise ValueError(f"steps ({steps}) must be a positive multiple of checkpoints "
                         f"({checkpoints})")
    group = side_by_side(models)
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate / 10, steps, alpha=0.1, warmup_target=learning_rate,
        warmup_steps=int(warmup * steps))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    group.compile(keras.optimizers.Adam(schedule, clipnorm=1.0), loss=[loss] * len(models))
    history = group.fit(_stream(ids, seq_len, batch_size, seed),
                        steps_per_epoch=steps // checkpoints, epochs=checkpoints,
                        shuffle=False, verbose=0).history
    if len(models) == 1:
        return np.array(history["loss"])[:, None]
    return np.array([history[f"{name}_loss"] for name in group.output_names]).T


def bits_per_char_each(models: Sequence[Any], ids: np.ndarray, *, seq_len: int = 64,
                       max_windows: int | None = None, batch_size: int = 128) -> list[float]:
    """Held-out bits per character of each model, scored on the same windows as
    :func:`dlbook.text.bits_per_char` (every character of a window predicted from the ones
    before it), with one compiled call for the whole group.

    >>> import keras
    >>> flat = keras.Sequential([keras.layers.Embedding(4, 4, embeddings_initializer="zeros")])
    >>> [round(b, 3) for b in bits_per_char_each([flat, flat], np.arange(100) % 4, seq_len=9)]
    [2.0, 2.0]
    """
    import keras

    chunks = eval_windows(ids, seq_len, max_windows)
    inputs, targets = chunks[:, :-1], chunks[:, 1:]
    group = side_by_side(list(models))
    outputs = group.predict([inputs] * len(models), batch_size=batch_size, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    bits = []
    for logits in outputs:
        logp = keras.ops.convert_to_numpy(keras.ops.log_softmax(logits, axis=-1))
        picked = np.take_along_axis(logp, targets[..., None], axis=-1)
        bits.append(nats_to_bits(-float(picked.mean())))
    return bits


def compiled(model):
    """``model`` as a callable ``f(ids, training=False)`` backed by one compiled graph for
    every batch size and context length: pass it to :func:`dlbook.models.generate`, which calls
    the model once per new token (eager calls cost milliseconds each on a CPU).

    >>> from dlbook.models import causal_lm, generate
    >>> lm = causal_lm(vocab_size=10, max_len=8, dim=8, heads=2, depth=1)
    >>> generate(compiled(lm), [1, 2, 3], 5, max_len=8, temperature=0).shape
    (8,)
    """
    predict = _predictor(model)

    def call(ids, training=False):
        return predict(np.asarray(ids, dtype=np.int32))

    return call


# --- LoRA -----------------------------------------------------------------------------------------


def _dense_layers(model) -> list:
    import keras

    kinds = (keras.layers.Dense, keras.layers.EinsumDense)
    # _flatten_layers reaches the projections inside MultiHeadAttention, which model.layers
    # does not list
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, kinds)]


def enable_lora(model, rank: int, *, skip: Sequence[str] = ()) -> list[str]:
    """Turn a trained model into a LoRA fine-tuning model (Hu et al. 2022), in place: every
    ``Dense`` and ``EinsumDense`` layer (the query, key, value and output projections inside
    ``MultiHeadAttention`` included) gets a trainable low-rank update ``A·B`` of rank ``rank``
    via Keras' ``layer.enable_lora(rank)``, and every other weight (kernels, biases,
    embeddings, normalisations) is frozen. Returns the names of the adapted layers. Compile the
    model after calling this.

    >>> from dlbook.models import causal_lm
    >>> lm = causal_lm(20, 8, dim=16, heads=2, depth=1)
    >>> len(enable_lora(lm, 2)), parameter_counts(lm)["trainable"]
    (7, 696)
    """
    if not isinstance(rank, (int, np.integer)) or rank < 1:
        raise ValueError(f"rank must be a positive int, got {rank!r}")
    layers = [layer for layer in _dense_layers(model) if layer.name not in skip]
    if not layers:
        raise ValueError("the model has no Dense or EinsumDense layers to adapt; build it first")
    if any(layer.lora_enabled for layer in layers):
        raise ValueError("LoRA is already enabled on this model; clone the original instead")
    for layer in layers:
        layer.enable_lora(rank)
    adapters = {id(v) for layer in layers for v in (layer.lora_kernel_a, layer.lora_kernel_b)}
    for variable in model.trainable_variables:
        if id(variable) not in adapters:
            variable.trainable = False
    return [layer.name for layer in layers]


def parameter_counts(model) -> dict[str, int]:
    """``{"trainable": ..., "frozen": ..., "total": ...}`` numbers of weights of a built model.

    >>> import keras
    >>> parameter_counts(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    {'trainable': 8, 'frozen': 0, 'total': 8}
    """
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    total = sum(int(np.prod(v.shape)) for v in model.weights)
    return {"trainable": trainable, "frozen": total - trainable, "total": total}
