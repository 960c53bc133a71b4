"""Sequence to sequence: word tokens, vocabularies, an encoder–decoder with optional attention,
greedy decoding, and a word-by-word dictionary baseline (IBM Model 1) to beat.

>>> tokenize("God said, “Let there be light.”")
['god', 'said', ',', '“', 'let', 'there', 'be', 'light', '.', '”']
>>> detokenize(["y", "dijo", "dios", ":", "sea", "la", "luz", "."])
'y dijo dios: sea la luz.'
>>> vocab = Vocabulary.fit([["a", "b"], ["a"]])
>>> vocab.encode(["a", "c"]).tolist(), vocab.decode([4, 3, 2, 0])
([1, 4, 3, 2], ['a', '<unk>'])

Ids 0-3 are reserved in every vocabulary: 0 padding, 1 the start marker, 2 the end marker,
3 the unknown word ``<unk>``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.config import import_keras

__all__ = [
    "DictionaryTranslator",
    "Translator",
    "Vocabulary",
    "build_translator",
    "detokenize",
    "greedy_decode",
    "masked_loss",
    "pad",
    "replace_unknown",
    "tokenize",
]

PAD, START, END, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<start>", "<end>", "<unk>")

_TOKEN = re.compile(r"\w+(?:[’']\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = re.compile(r" ([,.;:!?’”)])")
_NO_SPACE_AFTER = re.compile(r"([¿¡“(‘]) ")


# --- tokens and vocabularies ----------------------------------------------------------------------


def tokenize(text: str, *, lower: bool = True) -> list[str]:
    """Split a sentence into word and punctuation tokens (lower-cased by default).

    Words keep their inner apostrophes ("god’s"), every other non-space symbol is a token.

    >>> tokenize("¿Encubriré yo á Abraham?")
    ['¿', 'encubriré', 'yo', 'á', 'abraham', '?']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize takes a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower() if lower else text)


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens into a sentence: no space before closing punctuation or after opening marks.

    >>> detokenize(["¿", "quién", "eres", "?"])
    '¿quién eres?'
    """
    text = " ".join(tokens)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


class Vocabulary:
    """Word ↔ id mapping with the four reserved ids (padding, start, end, ``<unk>``).

    >>> v = Vocabulary.fit([["la", "luz"], ["la", "tierra"]], min_count=2)
    >>> v.words, len(v)
    (['<pad>', '<start>', '<end>', '<unk>', 'la'], 5)
    """

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}; use Vocabulary.fit")
        if len(set(words)) != len(words):
            raise ValueError("the vocabulary lists a word twice; use Vocabulary.fit")
        self.words = words
        self._index = {w: i for i, w in enumerate(words)}

    @classmethod
    def fit(cls, sentences: Iterable[Sequence[str]], *, min_count: int = 1,
            max_size: int | None = None) -> Vocabulary:
        """The words of tokenized sentences that occur at least ``min_count`` times, most
        frequent first (ties alphabetical), at most ``max_size`` entries including the four
        reserved ones."""
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be a positive int, got {min_count!r}")
        if max_size is not None and (not isinstance(max_size, int) or max_size <= len(SPECIALS)):
            raise ValueError(f"max_size must be an int above {len(SPECIALS)}, got {max_size!r}")
        counts = Counter(w for s in sentences for w in s)
        if not counts:
            raise ValueError("no words to fit: pass tokenized sentences (lists of str)")
        ranked = sorted((w for w, c in counts.items() if c >= min_count and w not in SPECIALS),
                        key=lambda w: (-counts[w], w))
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls(list(SPECIALS) + ranked)

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words)"

    def encode(self, tokens: Sequence[str], *, markers: bool = True) -> np.ndarray:
        """Ids of the tokens (``<unk>`` for words not in the vocabulary), wrapped in the start
        and end markers unless ``markers=False``."""
        if isinstance(tokens, str):
            raise TypeError("encode takes a list of tokens; call tokenize(text) first")
        ids = [self._index.get(t, UNK) for t in tokens]
        if markers:
            ids = [START, *ids, END]
        return np.array(ids, dtype=np.int32)

    def decode(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """Words of the ids, stopping at the first end marker and skipping padding and start."""
        words = []
        for i in np.asarray(ids).ravel().tolist():
            if not 0 <= i < len(self.words):
                raise ValueError(f"id {i} outside the vocabulary of {len(self)} words")
            if i == END:
                break
            if i not in (PAD, START):
                words.append(self.words[i])
        return words


def pad(sequences: Sequence[Sequence[int]], length: int | None = None) -> np.ndarray:
    """Right-pad id sequences with 0 into an ``int32`` matrix (longer ones are cut).

    >>> pad([[5, 6], [7]]).tolist()
    [[5, 6], [7, 0]]
    """
    if not len(sequences):
        raise ValueError("nothing to pad: pass at least one sequence")
    length = max(map(len, sequences)) if length is None else int(length)
    out = np.zeros((len(sequences), length), dtype=np.int32)
    for row, seq in zip(out, sequences, strict=True):
        seq = np.asarray(seq)[:length]
        row[: len(seq)] = seq
    return out


# --- the encoder–decoder ----------------------------------------------------------------------


@dataclass
class Translator:
    """The three views of one encoder–decoder, sharing their weights: ``model`` for
    teacher-forced training (inputs ``source`` and ``target_in`` ids, output logits ``(batch,
    T, vocabulary)``), ``encoder`` (source ids to encoder states, attention keys and the
    decoder's first state) and ``step`` (one decoding step: the previous word and state to the
    next word's logits, the new state and the attention weights over the source)."""

    model: Any
    encoder: Any
    step: Any
    attention: bool


def build_translator(src_vocab_size: int, tgt_vocab_size: int, *, attention: bool = True,
                     embed_dim: int = 128, units: int = 256, dropout: float = 0.2,
                     name: str | None = None) -> Translator:
    """A GRU encoder–decoder, with or without attention (see :class:`Translator`).

    The encoder is a bidirectional GRU over the source ids; its two final states, through a
    ``tanh`` layer, start the decoder GRU (Cho et al. 2014). With ``attention`` every decoder
    state also attends over all encoder states with an additive score (Bahdanau et al. 2015)
    and the context vector is joined to the state before a ReLU layer and the output layer (the
    placement of Luong et al. 2015; a ``tanh`` there saturated and left training stuck at the
    word-frequency plateau). Without it, the decoder knows the source only through its first state;
    its "attention weights" are reported as uniform over the source words.

    >>> tr = build_translator(30, 40, embed_dim=8, units=16)
    >>> [tuple(o.shape) for o in tr.step.outputs]
    [(None, 40), (None, 16), (None, None)]
    """
    for what, value in (("src_vocab_size", src_vocab_size), ("tgt_vocab_size", tgt_vocab_size),
                        ("embed_dim", embed_dim), ("units", units)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{what} must be a positive int, got {value!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
    keras = import_keras()
    from keras import layers, ops

    src_embedding = layers.Embedding(src_vocab_size, embed_dim, name="src_embedding")
    encoder_rnn = layers.Bidirectional(
        layers.GRU(units, return_sequences=True, return_state=True), name="encoder")
    bridge = layers.Dense(units, activation="tanh", name="bridge")
    to_keys = layers.Dense(units, use_bias=False, name="keys")
    tgt_embedding = layers.Embedding(tgt_vocab_size, embed_dim, name="tgt_embedding")
    decoder_rnn = layers.GRU(units, return_sequences=True, return_state=True, name="decoder")
    attend = layers.AdditiveAttention(name="attention")
    combine = layers.Dense(units, activation="relu", name="combine")
    to_logits = layers.Dense(tgt_vocab_size, name="logits")

    def encode(source):
        mask = ops.not_equal(source, PAD)
        x = layers.Dropout(dropout)(src_embedding(source))
        states, fwd, bwd = encoder_rnn(x, mask=mask)
        return states, to_keys(states), bridge(ops.concatenate([fwd, bwd], axis=-1))

    def decode(source, target_in, states, keys, first_state):
        y = layers.Dropout(dropout)(tgt_embedding(target_in))
        dec, last = decoder_rnn(y, initial_state=first_state)
        mask = ops.not_equal(source, PAD)
        if attention:
            context, weights = attend([dec, states, keys], mask=[None, mask],
                                      return_attention_scores=True)
            dec = ops.concatenate([dec, context], axis=-1)
        else:
            share = ops.cast(mask, "float32")
            share = share / ops.sum(share, axis=1, keepdims=True)
            weights = ops.zeros_like(dec[:, :, :1]) + share[:, None, :]
        h = layers.Dropout(dropout)(combine(dec))
        return to_logits(h), last, weights

    name = name or ("seq2seq_attention" if attention else "seq2seq")
    source = keras.Input((None,), dtype="int32", name="source")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    states, keys, first = encode(source)
    logits, _, _ = decode(source, target_in, states, keys, first)
    model = keras.Model([source, target_in], logits, name=name)
    encoder = keras.Model(source, [states, keys, first], name=f"{name}_encoder")

    token = keras.Input((1,), dtype="int32", name="previous_word")
    state_in = keras.Input((units,), name="state")
    states_in = keras.Input((None, 2 * units), name="encoder_states")
    keys_in = keras.Input((None, units), name="keys")
    step_logits, state_out, step_weights = decode(source, token, states_in, keys_in, state_in)
    step = keras.Model([source, token, state_in, states_in, keys_in],
                       [step_logits[:, 0], state_out, step_weights[:, 0]], name=f"{name}_step")
    return Translator(model, encoder, step, attention)


def masked_loss(y_true: Any, logits: Any) -> Any:
    """Mean cross-entropy (nats) over the real target words: padding positions (id 0) count
    neither in the sum nor in the number of words. Pass it to ``model.compile(loss=...)``.

    >>> import numpy as np
    >>> logits = np.log(np.array([[[0.5, 0.5], [0.9, 0.1]]], dtype="float32"))
    >>> round(float(masked_loss(np.array([[1, 0]]), logits)), 4)   # only log 2 counts
    0.6931
    """
    from keras import ops

    y_true = ops.cast(y_true, "int32")
    losses = ops.sparse_categorical_crossentropy(y_true, logits, from_logits=True)
    mask = ops.cast(ops.not_equal(y_true, PAD), losses.dtype)
    return ops.sum(losses * mask) / ops.maximum(ops.sum(mask), 1.0)


def greedy_decode(translator: Translator, source_ids: np.ndarray, *, max_len: int = 30,
                  batch_size: int = 512) -> tuple[list[list[int]], list[np.ndarray]]:
    """Translate by always taking the most probable next word, until the end marker.

    The encoder runs once per batch, then the decoder one word at a time, carrying its state.
    Returns, per sentence, the output ids (without markers) and the attention weights of shape
    ``(output length + 1, source length)`` (the last row is the step that chose the end
    marker, or the last step when ``max_len`` was reached).

    >>> tr = build_translator(10, 12, embed_dim=4, units=8)
    >>> ids, att = greedy_decode(tr, np.array([[1, 5, 6, 2]]), max_len=3)
    >>> len(ids[0]) <= 3, att[0].shape[1]
    (True, 4)
    """
    if not isinstance(translator, Translator):
        raise TypeError("greedy_decode takes the Translator that build_translator returns")
    source_ids = np.asarray(source_ids, dtype=np.int32)
    if source_ids.ndim != 2:
        raise ValueError(f"source_ids must be a padded (batch, length) matrix, got shape "
                         f"{source_ids.shape}; use pad([...])")
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len!r}")
    tensor = import_keras().ops.convert_to_tensor
    outputs: list[list[int]] = []
    attentions: list[np.ndarray] = []
    for lo in range(0, len(source_ids), batch_size):
        src = source_ids[lo: lo + batch_size]
        src_t = tensor(src)
        states, keys, state = (tensor(np.asarray(t)) for t in  # drop Keras masks
                               translator.encoder(src_t, training=False))
        token = tensor(np.full((len(src), 1), START, dtype=np.int32))
        words, weights = [], []
        done = np.zeros(len(src), dtype=bool)
        for _ in range(max_len + 1):
            logits, state, w = translator.step([src_t, token, state, states, keys],
                                               training=False)
            nxt = np.asarray(logits).argmax(axis=-1).astype(np.int32)
            nxt[done] = PAD
            words.append(nxt)
            weights.append(np.asarray(w))
            done |= nxt == END
            token = tensor(nxt[:, None])
            if done.all():
                break
        words_m, weights_m = np.stack(words, axis=1), np.stack(weights, axis=1)
        for row in range(len(src)):
            ids = words_m[row].tolist()
            stop = ids.index(END) if END in ids else min(len(ids), max_len)
            n_src = int((src[row] != PAD).sum())
            outputs.append(ids[:stop])
            attentions.append(weights_m[row, : stop + 1, :n_src])
    return outputs, attentions


def replace_unknown(words: Sequence[str], attention: np.ndarray, source: Sequence[str],
                    dictionary: DictionaryTranslator | dict[str, str] | None = None,
                    ) -> list[str]:
    """Replace every ``<unk>`` the decoder wrote by the translation of the source word it
    attended to most at that step (Luong et al. 2015, "Addressing the rare word problem"): the
    dictionary's translation if it has one, else the source word itself (names are the commonest
    unknown words, and many are spelled alike).

    ``words`` are the decoded target words (no markers), ``attention`` their weights over the
    source positions ``(len(words) [+ 1], source length)`` as :func:`greedy_decode` returns them,
    and ``source`` the source tokens as the encoder saw them, markers included.

    >>> att = np.array([[0.1, 0.8, 0.1, 0.0], [0.0, 0.1, 0.8, 0.1]])
    >>> replace_unknown(["y", "<unk>"], att, ["<start>", "and", "moses", "<end>"], {"and": "y"})
    ['y', 'moses']
    """
    attention = np.asarray(attention)
    if attention.ndim != 2 or attention.shape[0] < len(words):
        raise ValueError(f"attention must have one row per output word, got shape "
                         f"{attention.shape} for {len(words)} words")
    if attention.shape[1] != len(source):
        raise ValueError(f"attention covers {attention.shape[1]} source positions but "
                         f"{len(source)} source tokens were given; pass the tokens with their "
                         f"<start> and <end> markers")
    table = dictionary.table if isinstance(dictionary, DictionaryTranslator) else dictionary or {}
    out = []
    for word, weights in zip(words, attention, strict=False):
        if word == SPECIALS[UNK]:
            aligned = source[int(np.argmax(weights))]
            word = table.get(aligned, aligned) if aligned not in SPECIALS else word
        out.append(word)
    return out


# --- the dictionary baseline ----------------------------------------------------------------------


class DictionaryTranslator:
    """Word-by-word translation with a dictionary learned by IBM Model 1 (Brown et al. 1993).

    Expectation–maximisation estimates ``t(f | e)``, the probability that English word ``e``
    is translated by foreign word ``f``, from sentence pairs alone (no word alignments given);
    a NULL word on the English side absorbs foreign words that translate nothing. Translating
    replaces each English word by its most probable foreign word, in the English order.

    >>> pairs = [(["the", "house"], ["la", "casa"]), (["the", "book"], ["el", "libro"]),
    ...          (["a", "book"], ["un", "libro"]), (["the", "house"], ["la", "casa"])]
    >>> tm = DictionaryTranslator(iterations=20).fit([e for e, _ in pairs], [f for _, f in pairs])
    >>> tm.translate(["a", "house"])
    ['un', 'casa']
    """

    NULL = "<null>"

    def __init__(self, iterations: int = 10) -> None:
        if not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be a positive int, got {iterations!r}")
        self.iterations = iterations
        self.table: dict[str, str] = {}

    def fit(self, english: Sequence[Sequence[str]], foreign: Sequence[Sequence[str]]
            ) -> DictionaryTranslator:
        """Estimate the translation table from tokenized sentence pairs."""
        if len(english) != len(foreign) or not len(english):
            raise ValueError(f"need the same, non-zero number of English and foreign sentences, "
                             f"got {len(english)} and {len(foreign)}")
        e_words = [self.NULL] + sorted({w for s in english for w in s})
        f_words = sorted({w for s in foreign for w in s})
        e_index = {w: i for i, w in enumerate(e_words)}
        f_index = {w: i for i, w in enumerate(f_words)}
        # every (foreign position, English word) link of every pair, as flat arrays
        links_f, links_e, rows = [], [], []
        row = 0
        for e, f in zip(english, foreign, strict=True):
            e_ids = np.array([0] + [e_index[w] for w in e])
            for w in f:
                links_f.append(np.full(len(e_ids), f_index[w]))
                links_e.append(e_ids)
                rows.append(np.full(len(e_ids), row))
                row += 1
        links_f, links_e, rows = map(np.concatenate, (links_f, links_e, rows))
        # the word pairs that ever co-occur: t(f | e) is zero for all others
        pair_id, link_pair = np.unique(links_f * len(e_words) + links_e, return_inverse=True)
        pair_e = pair_id % len(e_words)
        t = np.full(len(pair_id), 1.0 / len(f_words))
        for _ in range(self.iterations):
            p = t[link_pair]
            p = p / np.bincount(rows, weights=p)[rows]          # E-step: alignment posteriors
            counts = np.bincount(link_pair, weights=p, minlength=len(pair_id))
            t = counts / np.bincount(pair_e, weights=counts)[pair_e]  # M-step
        order = np.lexsort((-t, pair_e))                       # best f first for each e
        first = order[np.r_[True, pair_e[order][1:] != pair_e[order][:-1]]]
        self.table = {e_words[pair_e[i]]: f_words[pair_id[i] // len(e_words)]
                      for i in first if pair_e[i] != 0}
        return self

    def translate(self, tokens: Sequence[str]) -> list[str]:
        """Each known word replaced by its best translation; unknown words are copied (names
        are the commonest unknown words, and many are spelled alike)."""
        if not self.table:
            raise RuntimeError("the translator is not fitted; call fit(english, foreign) first")
        return [self.table.get(w, w) for w in tokens]
