"""Character-level language modelling: a tokenizer, training windows, sampling, bits per
character, and a count-based n-gram baseline to beat.

>>> tok = CharTokenizer.fit("to be or not to be")
>>> tok.vocab_size, tok.decode(tok.encode("be or not"))
(7, 'be or not')
>>> ngram = NGramModel(order=2, smoothing="add-k", k=1.0).fit("abababab")
>>> round(ngram.bits_per_char("abab"), 2)          # it learned the alternation
0.46
>>> round(nats_to_bits(np.log(2)), 6)
1.0

Bits per character (bpc) is the mean cross-entropy of the next character in base 2: a model
that guesses uniformly over ``V`` symbols scores ``log2(V)``, a perfect model 0. Keras reports
losses in nats (natural log); divide by ln 2 to get bits.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "CharTokenizer",
    "NGramModel",
    "UnknownCharacterError",
    "bits_per_char",
    "eval_windows",
    "nats_to_bits",
    "sample",
    "windows",
]

LN2 = math.log(2.0)


def nats_to_bits(nats: float) -> float:
    """Convert a cross-entropy in nats (Keras' losses) to bits: divide by ln 2.

    >>> round(nats_to_bits(2.03), 2)
    2.93
    """
    return float(nats) / LN2


# --- the tokenizer --------------------------------------------------------------------------------


class UnknownCharacterError(ValueError):
    """The text holds characters the tokenizer was not fitted on."""


class CharTokenizer:
    """Maps each distinct character to an integer id (sorted by code point) and back.

    >>> tok = CharTokenizer.fit("hello")
    >>> tok.vocab
    ['e', 'h', 'l', 'o']
    >>> tok.encode("hole").tolist()
    [1, 3, 2, 0]
    >>> tok.decode([0, 2, 2, 3])
    'ello'
    """

    def __init__(self, vocab: Sequence[str]) -> None:
        vocab = list(vocab)
        if not vocab:
            raise ValueError("the vocabulary is empty; fit the tokenizer on non-empty text")
        bad = [c for c in vocab if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"every vocabulary entry must be one character, got {bad[:5]!r}")
        if len(set(vocab)) != len(vocab):
            raise ValueError("the vocabulary lists a character twice; use CharTokenizer.fit(text)")
        self.vocab: list[str] = vocab
        self._index = {c: i for i, c in enumerate(vocab)}
        self._lookup = np.array(vocab, dtype=object)

    @classmethod
    def fit(cls, text: str | Iterable[str]) -> CharTokenizer:
        """Build the vocabulary from a text (or several texts)."""
        texts = [text] if isinstance(text, str) else list(text)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("fit takes a str or an iterable of str")
        chars: set[str] = set()
        for t in texts:
            chars.update(t)
        return cls(sorted(chars))

    @property
    def vocab_size(self) -> int:
        """Number of distinct characters (the size of the model's output layer)."""
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"

    def encode(self, text: str, *, errors: str = "strict") -> np.ndarray:
        """The ids of ``text`` as an ``int32`` array.

        ``errors="strict"`` raises on a character outside the vocabulary; ``errors="skip"``
        drops such characters.

        >>> tok = CharTokenizer.fit("abc")
        >>> tok.encode("cab!", errors="skip").tolist()
        [2, 0, 1]
        """
        if not isinstance(text, str):
            raise TypeError(f"encode takes a str, got {type(text).__name__}")
        if errors not in ("strict", "skip"):
            raise ValueError(f"errors must be 'strict' or 'skip', got {errors!r}")
        index = self._index
        unknown = set(text) - index.keys()
        if unknown and errors == "strict":
            shown = "".join(sorted(unknown))[:20]
            raise UnknownCharacterError(
                f"{len(unknown)} character(s) not in the vocabulary: {shown!r}; fit the "
                "tokenizer on text that contains them (CharTokenizer.fit(all_texts)) or pass "
                "errors='skip' to drop them"
            )
        if unknown:
            text = "".join(c for c in text if c in index)
        return np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The text of a sequence of ids."""
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"decode takes a 1-D sequence of ids, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"ids must lie in [0, {self.vocab_size}); got {ids.min()}..{ids.max()} — were "
                "they made by a different tokenizer?"
            )
        return "".join(self._lookup[ids.astype(np.int64)])


# --- training windows -----------------------------------------------------------------------------


def _as_ids(ids: Any, name: str = "ids") -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} must be a 1-D integer array (use CharTokenizer.encode(text)), got "
            f"{array.dtype} of shape {array.shape}"
        )
    return array.astype(np.int32, copy=False)


def window_starts(n_ids: int, seq_len: int, stride: int | None = None) -> np.ndarray:
    """Start offsets of the (input, target) windows :func:`windows` cuts from ``n_ids`` ids.

    >>> window_starts(10, 3).tolist()        # windows of 4 ids: 3 inputs + the shifted target
    [0, 3, 6]
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    stride = seq_len if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if n_ids < seq_len + 1:
        raise ValueError(
            f"the text has {n_ids} ids, too few for one window of seq_len + 1 = {seq_len + 1}; "
            "use a shorter seq_len or more text"
        )
    return np.arange(0, n_ids - seq_len, stride, dtype=np.int64)


def windows(
    ids: np.ndarray,
    seq_len: int,
    *,
    batch_size: int = 32,
    stride: int | None = None,
    shuffle: bool = True,
    repeat: bool = False,
    seed: int = 0,
):
    """A ``tf.data`` dataset of ``(input, target)`` windows for next-character prediction.

    Each element is a pair of ``int32`` tensors of shape ``(batch, seq_len)``: the target is the
    input shifted left by one character (``target[t] = input[t + 1]``). Windows start every
    ``stride`` ids (default ``seq_len``: non-overlapping); ``shuffle`` shuffles their order
    (reshuffled every pass, seeded), ``repeat`` cycles forever for step-based training
    (``fit(..., steps_per_epoch=n)``). Partial batches are dropped.

    >>> ds = windows(np.arange(20), 4, batch_size=2, shuffle=False)
    >>> x, y = next(iter(ds))
    >>> x.numpy().tolist(), y.numpy().tolist()
    ([[0, 1, 2, 3], [4, 5, 6, 7]], [[1, 2, 3, 4], [5, 6, 7, 8]])
    """
    import tensorflow as tf

    ids = _as_ids(ids)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    starts = window_starts(len(ids), seq_len, stride)
    if len(starts) < batch_size:
        raise ValueError(
            f"only {len(starts)} windows of {seq_len} fit in {len(ids)} ids, fewer than one "
            f"batch of {batch_size}; lower batch_size or seq_len"
        )
    corpus = tf.constant(ids)
    offsets = tf.range(seq_len + 1, dtype=tf.int64)

    def cut(starts):
        chunk = tf.gather(corpus, starts[:, None] + offsets)  # (batch, seq_len + 1)
        return chunk[:, :-1], chunk[:, 1:]

    ds = tf.data.Dataset.from_tensor_slices(starts)
    if shuffle:
        ds = ds.shuffle(len(starts), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(cut, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_windows(ids: np.ndarray, seq_len: int, max_windows: int | None = None) -> np.ndarray:
    """The held-out windows that :func:`bits_per_char` and :meth:`NGramModel.bits_per_char`
    score: non-overlapping runs of ``seq_len + 1`` ids, ``max_windows`` of them evenly spaced
    over the text (all if None). Shape ``(n_windows, seq_len + 1)``.

    >>> eval_windows(np.arange(12), 2, max_windows=2).tolist()
    [[0, 1, 2], [8, 9, 10]]
    """
    ids = _as_ids(ids)
    starts = window_starts(len(ids), seq_len)
    if max_windows is not None:
        if max_windows < 1:
            raise ValueError(f"max_windows must be at least 1, got {max_windows}")
        if len(starts) > max_windows:
            starts = starts[np.linspace(0, len(starts) - 1, max_windows).round().astype(int)]
    return ids[starts[:, None] + np.arange(seq_len + 1)]


# --- a Keras model's predictions ------------------------------------------------------------------

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _predictor(model: Any):
    """A function ids (batch, time) -> model outputs, compiled once per model on TensorFlow
    with a dynamic time axis (so every context length reuses one graph)."""
    if model in _COMPILED:
        return _COMPILED[model]
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((None, None), tf.int32)
        ref = weakref.ref(model)  # the cache must not keep the model alive
        fn = tf.function(lambda x: ref()(x, training=False), input_signature=[spec])
    else:  # pragma: no cover - other backends

        def fn(x):
            return model(x, training=False)

    _COMPILED[model] = fn
    return fn


def _log_softmax(scores: np.ndarray, from_logits: bool) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if not from_logits:
        return np.log(np.clip(scores, 1e-12, 1.0))
    scores = scores - scores.max(axis=-1, keepdims=True)
    return scores - np.log(np.exp(scores).sum(axis=-1, keepdims=True))


def bits_per_char(
    model: Any,
    ids: np.ndarray,
    *,
    seq_len: int = 64,
    batch_size: int = 64,
    max_windows: int | None = None,
    from_logits: bool = True,
) -> float:
    """Held-out bits per character of a Keras next-character model on an encoded text.

    The text is cut into non-overlapping windows (:func:`eval_windows`); the model maps
    ``(batch, seq_len)`` ids to ``(batch, seq_len, vocab)`` scores (logits unless
    ``from_logits=False``) and predicts every character of a window after the first from the
    ones before it in that window. ``max_windows`` evenly spaced windows keep the cost bounded
    on long texts; :meth:`NGramModel.bits_per_char` with the same ``seq_len`` and
    ``max_windows`` scores exactly the same characters with the same context.

    >>> import keras
    >>> uniform = keras.Sequential([keras.layers.Embedding(5, 5, embeddings_initializer="zeros")])
    >>> round(bits_per_char(uniform, np.arange(200) % 5, seq_len=10), 4)   # log2(5)
    2.3219
    """
    chunks = eval_windows(ids, seq_len, max_windows)
    predict = _predictor(model)
    total, count = 0.0, 0
    for i in range(0, len(chunks), batch_size):
        chunk = chunks[i : i + batch_size]
        scores = np.asarray(predict(chunk[:, :-1]))
        if scores.ndim != 3 or scores.shape[:2] != chunk[:, 1:].shape:
            raise ValueError(
                f"the model must map (batch, {seq_len}) ids to (batch, {seq_len}, vocab) scores; "
                f"it returned shape {scores.shape}"
            )
        logp = _log_softmax(scores, from_logits)
        target = chunk[:, 1:]
        picked = np.take_along_axis(logp, target[..., None], axis=-1)
        total -= float(picked.sum())
        count += target.size
    return nats_to_bits(total / count)


def sample(
    model: Any,
    tokenizer: CharTokenizer,
    prompt: str,
    n_chars: int = 200,
    *,
    temperature: float = 1.0,
    context: int = 128,
    seed: int = 0,
    from_logits: bool = True,
) -> str:
    """Generate ``n_chars`` characters after ``prompt`` with a next-character model.

    At each step the model sees the last ``context`` characters and the next one is drawn from
    ``softmax(logits / temperature)``: low temperatures pick the likeliest characters
    (``temperature=0`` is greedy), high ones flatten the distribution towards uniform noise.
    Returns the generated text without the prompt; the same seed gives the same text.

    >>> import keras
    >>> tok = CharTokenizer.fit("ab")
    >>> always_b = keras.Sequential([keras.layers.Embedding(
    ...     2, 2, embeddings_initializer=keras.initializers.Constant([[0., 9.], [0., 9.]]))])
    >>> sample(always_b, tok, "a", 5, temperature=0)
    'bbbbb'
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy), got {temperature}")
    if n_chars < 0 or context < 1:
        raise ValueError(f"need n_chars >= 0 and context >= 1, got {n_chars} and {context}")
    if not prompt:
        raise ValueError("the prompt is empty; give at least one character to start from")
    ids = list(tokenizer.encode(prompt))
    predict = _predictor(model)
    rng = np.random.default_rng(seed)
    for _ in range(n_chars):
        window = np.asarray(ids[-context:], dtype=np.int32)[None, :]
        logp = _log_softmax(np.asarray(predict(window))[0, -1], from_logits)
        if temperature == 0:
            nxt = int(np.argmax(logp))
        else:
            z = logp / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
        ids.append(nxt)
    return tokenizer.decode(ids[len(ids) - n_chars :]) if n_chars else ""


# --- the n-gram baseline --------------------------------------------------------------------------


def _codes(ids: np.ndarray, m: int, base: int) -> np.ndarray:
    """Integer code of the m-gram ending at each position i >= m - 1 (length len(ids) - m + 1)."""
    n = len(ids) - m + 1
    code = np.zeros(max(n, 0), dtype=np.int64)
    if n <= 0:
        return code
    for j in range(m):
        code = code * base + ids[j : j + n]
    return code


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[k] where keys[k] == query, else 0 (keys sorted)."""
    if len(keys) == 0:
        return np.zeros(len(query), dtype=values.dtype)
    pos = np.clip(np.searchsorted(keys, query), 0, len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], 0)


class NGramModel:
    """A character n-gram language model: the count-based baseline a neural model must beat.

    ``smoothing="kneser-ney"`` is interpolated Kneser–Ney (Chen & Goodman 1999) with one
    absolute discount per order estimated as ``n1 / (n1 + 2 n2)``, lower orders on continuation
    counts, and the unigram interpolated with a uniform distribution so no character in the
    vocabulary gets zero probability. ``smoothing="add-k"`` adds ``k`` to every count
    (``P = (c(h, w) + k) / (c(h) + k V)``). Each character is predicted from up to ``order - 1``
    characters before it (fewer at the start of a text).

    >>> text = "the cat sat on the mat. " * 20
    >>> kn = NGramModel(order=3).fit(text)
    >>> kn.bits_per_char("the cat sat") < NGramModel(order=1).fit(text).bits_per_char("the cat sat")
    True
    """

    def __init__(
        self,
        order: int = 3,
        smoothing: str = "kneser-ney",
        *,
        k: float = 0.1,
        tokenizer: CharTokenizer | None = None,
    ) -> None:
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 9:
            raise ValueError(f"order must be an int from 1 to 9, got {order!r}")
        if smoothing not in ("kneser-ney", "add-k"):
            raise ValueError(f"smoothing must be 'kneser-ney' or 'add-k', got {smoothing!r}")
        if smoothing == "add-k" and not k > 0:
            raise ValueError(f"k must be > 0 for add-k smoothing, got {k}")
        self.order, self.smoothing, self.k = order, smoothing, float(k)
        self.tokenizer = tokenizer
        self._tables: list[dict[str, np.ndarray]] | None = None

    def __repr__(self) -> str:
        extra = f", k={self.k}" if self.smoothing == "add-k" else ""
        return f"NGramModel(order={self.order}, smoothing={self.smoothing!r}{extra})"

    def _ids(self, text: str | np.ndarray | Sequence[str]) -> np.ndarray:
        if isinstance(text, np.ndarray) and np.issubdtype(text.dtype, np.integer):
            return _as_ids(text, "text")
        if not isinstance(text, str):
            raise TypeError("pass a str (or an int array made by the model's tokenizer)")
        return self.tokenizer.encode(text)

    @property
    def vocab_size(self) -> int:
        if self.tokenizer is None:
            raise RuntimeError("the model has no vocabulary yet; call fit(train_text) first")
        return self.tokenizer.vocab_size

    def fit(self, text: str | np.ndarray) -> NGramModel:
        """Count the n-grams of a training text (a str, or ids from ``tokenizer``)."""
        if self.tokenizer is None:
            if not isinstance(text, str):
                raise TypeError("fit on a str, or give the model a tokenizer to read int ids")
            self.tokenizer = CharTokenizer.fit(text)
        ids = self._ids(text)
        if len(ids) < self.order:
            raise ValueError(f"the training text needs at least {self.order} characters")
        base = self.vocab_size
        tables: list[dict[str, np.ndarray]] = []
        for m in range(1, self.order + 1):
            if m == self.order or self.smoothing == "add-k":
                grams, counts = np.unique(_codes(ids, m, base), return_counts=True)
            else:  # continuation count: how many distinct characters precede the m-gram
                longer = np.unique(_codes(ids, m + 1, base))
                grams, counts = np.unique(longer % base**m, return_counts=True)
            context = grams // base
            ctx, ctx_total = _group_sum(context, counts)
            _, ctx_types = _group_sum(context, np.ones_like(counts))
            n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
            discount = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
            tables.append(
                dict(grams=grams, counts=counts, ctx=ctx, ctx_total=ctx_total,
                     ctx_types=ctx_types, discount=np.float64(discount))
            )
        self._tables = tables
        return self

    def log_probs(self, text: str | np.ndarray) -> np.ndarray:
        """Natural-log probability of every character of ``text`` given the ones before it."""
        if self._tables is None:
            raise RuntimeError("the model is not fitted; call fit(train_text) first")
        ids = self._ids(text)
        base, n = self.vocab_size, len(ids)
        if self.smoothing == "add-k":
            return np.log(self._add_k(ids, base, n))
        prob = np.full(n, 1.0 / base)  # the uniform floor under the unigram
        for m, t in enumerate(self._tables, start=1):
            gram = np.zeros(n, dtype=np.int64)
            has = np.arange(n) >= m - 1  # positions with m - 1 characters of context
            gram[has] = _codes(ids, m, base)
            ctx = gram // base
            total = _lookup(t["ctx"], t["ctx_total"], ctx).astype(np.float64)
            types = _lookup(t["ctx"], t["ctx_types"], ctx).astype(np.float64)
            count = _lookup(t["grams"], t["counts"], gram).astype(np.float64)
            d = float(t["discount"])
            seen = has & (total > 0)
            safe = np.where(seen, total, 1.0)
            mixed = (np.maximum(count - d, 0.0) + d * types * prob) / safe
            prob = np.where(seen, mixed, prob)
        return np.log(prob)

    def _add_k(self, ids: np.ndarray, base: int, n: int) -> np.ndarray:
        prob = np.full(n, 1.0 / base)
        for m, t in enumerate(self._tables, start=1):  # higher orders overwrite lower ones
            has = np.arange(n) >= m - 1  # the first characters back off to shorter contexts
            gram = np.zeros(n, dtype=np.int64)
            gram[has] = _codes(ids, m, base)
            count = _lookup(t["grams"], t["counts"], gram).astype(np.float64)
            total = _lookup(t["ctx"], t["ctx_total"], gram // base).astype(np.float64)
            prob = np.where(has, (count + self.k) / (total + self.k * base), prob)
        return prob

    def nats_per_char(self, text: str | np.ndarray) -> float:
        """Mean cross-entropy of ``text`` under the model, in nats per character."""
        return float(-self.log_probs(text).mean())

    def bits_per_char(
        self, text: str | np.ndarray, *, seq_len: int | None = None,
        max_windows: int | None = None,
    ) -> float:
        """Mean cross-entropy of ``text`` under the model, in bits per character.

        With ``seq_len``, score the windows of :func:`eval_windows` instead, each on its own
        (every character after a window's first, given only what precedes it in the window):
        the same characters and context a neural model is scored on by :func:`bits_per_char`.

        >>> m = NGramModel(2).fit("abcabcabc")
        >>> m.bits_per_char(np.array([0, 1, 2, 0, 1]), seq_len=2) < 0.5
        True
        """
        if seq_len is None:
            return nats_to_bits(self.nats_per_char(text))
        chunks = eval_windows(self._ids(text), seq_len, max_windows)
        total = sum(-self.log_probs(chunk)[1:].sum() for chunk in chunks)
        return nats_to_bits(total / (chunks.shape[0] * seq_len))


def _group_sum(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``values`` per distinct key (keys need not be sorted); returns sorted keys."""
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse, weights=values, minlength=len(unique)).astype(np.int64)
