"""Hybrid and multimodal models: a CNN that reads each frame of a sequence, a recurrent
network that reasons over the order of the frames, and models that fuse an image with a
question.

Sequences of digits (the hybrid CNN + LSTM):

- :func:`compose_sequences`, :func:`compose_split` — a seeded composer that strings real digit
  images into short sequences whose label is *the digit right after the first marker digit*
  (7 by default). The label is exactly balanced over the nine non-marker digits and the marker
  exactly balanced over the positions it can take; train and test sequences draw on disjoint
  image pools (:func:`shared_images` checks that no test image is in the training pool).
- :func:`label_after_marker` (the rule itself) and :func:`order_free_ceiling` (the best
  accuracy any model that ignores frame order can reach, even with perfect perception).
- :func:`frame_encoder`, :func:`digit_reader`, :func:`sequence_classifier` — the per-frame CNN,
  the same CNN with a softmax (to learn to read single digits), and a sequence model with an
  order-free (``"bag"``), a flat order-aware (``"flat"``) or a recurrent (``"lstm"``) head.

Images with questions (fusion):

- :func:`ask`, :func:`answer`, :func:`tokenize`, :func:`compose_questions` — seeded, templated
  yes/no questions about a digit ("is the digit greater than five"), paired with real images;
  the answer needs both the image and the question.
- :func:`best_accuracy_given` — the ceiling of a model that sees only part of the input.
- :func:`text_branch`, :func:`fusion_model`, :class:`FusionModel`, :func:`check_inputs`,
  :func:`late_fusion`, :func:`drop_modality` — any branch models fused by concatenation or by a
  gated multimodal unit (Arevalo et al. 2017), with inputs checked by branch name, shape and
  batch size before Keras sees them; averaging single-modality probabilities; and a missing
  modality at test time.
- :func:`plot_sequences`, :func:`plot_questions` — example inputs with labels and predictions.

>>> rng = np.random.default_rng(0)
>>> pool, digits = rng.random((50, 8, 8)).astype("float32"), np.arange(50) % 10
>>> seqs = compose_sequences(pool, digits, 18, length=4, seed=0)
>>> seqs.frames.shape, np.bincount(seqs.labels, minlength=10).tolist()
((18, 4, 8, 8), [2, 2, 2, 2, 2, 2, 2, 0, 2, 2])
>>> bool((label_after_marker(seqs.digits, 7) == seqs.labels).all())
True
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "FUSION_MODES", "HEADS", "MAX_WORDS", "NUMBER_WORDS", "QUESTION_KINDS", "VOCAB",
    "DigitQA", "DigitSequences", "FusionModel",
    "answer", "ask", "best_accuracy_given", "check_inputs", "compose_questions",
    "compose_sequences", "compose_split", "digit_reader", "drop_modality", "frame_encoder",
    "fusion_model", "label_after_marker", "late_fusion", "order_free_ceiling",
    "plot_questions", "plot_sequences", "predict", "question_kind", "sequence_classifier", "shared_images", "text_branch",
    "tokenize",
]

HEADS = ("bag", "flat", "lstm")
FUSION_MODES = ("concat", "gated")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
QUESTION_KINDS = ("parity", "greater", "less", "identity")
VOCAB = ("<pad>", "a", "an", "digit", "even", "greater", "is", "it", "less", "odd", "than", "the",
         *NUMBER_WORDS)
"""Every word the question templates use; index 0 pads short questions."""
MAX_WORDS = 6


# --- input checks -------------------------------------------------------------------------------


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _pool(images, digits) -> tuple[np.ndarray, np.ndarray]:
    """Validate an image pool: (n, height, width) numbers and one digit 0-9 per image."""
    x, y = np.asarray(images), np.asarray(digits)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or len(x) == 0 or x.dtype.kind not in "fiu":
        raise ValueError(f"images must be a non-empty numeric array shaped (n, height, width), "
                         f"got shape {x.shape} and dtype {x.dtype}")
    if y.shape != (len(x),) or y.dtype.kind not in "iu":
        raise ValueError(f"digits must be one int per image, shape ({len(x)},), got shape "
                         f"{y.shape} and dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"digits must lie in 0-9, got values from {y.min()} to {y.max()}")
    return x.astype("float32"), y.astype("int64")


def _digit(value, name: str) -> int:
    value = _positive_int(value, name, minimum=0)
    if value > 9:
        raise ValueError(f"{name} must be a digit 0-9, got {value}")
    return value


# --- sequences of digits ------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitSequences:
    """Sequences of digit images and what the composer put in them.

    ``frames`` (n, length, height, width) float32 · ``labels`` (n,) the digit right after the
    first ``marker`` · ``digits`` (n, length) the digit shown in each frame · ``sources``
    (n, length) the index of each frame's image in the pool it came from.
    """

    frames: np.ndarray
    labels: np.ndarray
    digits: np.ndarray
    sources: np.ndarray
    marker: int

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def length(self) -> int:
        """Frames per sequence."""
        return int(self.frames.shape[1])


def _balanced(values: Sequence[int], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws from ``values`` with every value as often as possible (counts differ by at
    most one), in random order."""
    out = np.resize(np.asarray(values), n)
    rng.shuffle(out)
    return out


def compose_sequences(images, digits, n: int, *, length: int = 5, marker: int = 7,
                      seed: int = 0) -> DigitSequences:
    """Compose ``n`` sequences of ``length`` digit images from one pool.

    Each sequence is made so: the position ``p`` of the first ``marker`` is drawn from
    ``0 … length - 2``, every position equally often; frames before ``p`` show non-marker
    digits, uniformly; frame ``p + 1`` shows the **label**, one of the nine non-marker digits,
    each equally often (counts differ by at most one); frames after it show any digit
    uniformly, the marker included (a second marker is a distractor: only the first counts).
    Each frame is an image drawn at random from the pool images of its digit.

    >>> pool, digits = np.zeros((20, 4, 4)), np.arange(20) % 10
    >>> s = compose_sequences(pool, digits, 8, length=3, seed=1)
    >>> s.digits.shape, sorted(np.bincount(s.digits[:, :2].ravel() == 7).tolist())
    ((8, 3), [8, 8])
    """
    x, y = _pool(images, digits)
    n = _positive_int(n, "n")
    length = _positive_int(length, "length", minimum=2)
    marker = _digit(marker, "marker")
    missing = sorted(set(range(10)) - set(y.tolist()))
    if missing:
        raise ValueError(f"the pool has no image of digit(s) {missing}; every digit 0-9 needs "
                         f"at least one image")
    rng = np.random.default_rng(seed)
    others = [d for d in range(10) if d != marker]
    labels = _balanced(others, n, rng)
    positions = _balanced(range(length - 1), n, rng)
    seq = rng.integers(0, 10, size=(n, length))
    before = np.asarray(others)[rng.integers(0, 9, size=(n, length))]
    cols = np.arange(length)
    seq = np.where(cols < positions[:, None], before, seq)
    seq[np.arange(n), positions] = marker
    seq[np.arange(n), positions + 1] = labels
    by_digit = [np.flatnonzero(y == d) for d in range(10)]
    sources = np.empty_like(seq)
    for d in range(10):
        hit = seq == d
        sources[hit] = rng.choice(by_digit[d], size=int(hit.sum()))
    return DigitSequences(x[sources], labels.astype("int64"), seq.astype("int64"),
                          sources.astype("int64"), marker)


def _hashes(images) -> set[bytes]:
    flat = np.ascontiguousarray(np.asarray(images, dtype="float32"))
    flat = flat.reshape(-1, *flat.shape[-2:]) if flat.ndim > 2 else flat[None]
    return {hashlib.sha1(im.tobytes()).digest() for im in flat}


def shared_images(a, b) -> int:
    """How many distinct images of ``a`` also occur, pixel for pixel, in ``b`` (any leading
    shape: pools ``(n, h, w)`` or sequences ``(n, length, h, w)``).

    >>> shared_images(np.eye(3)[None], np.stack([np.eye(3), np.zeros((3, 3))]))
    1
    """
    return len(_hashes(a) & _hashes(b))


def compose_split(x_train, y_train, x_test, y_test, *, n_train: int, n_test: int,
                  length: int = 5, marker: int = 7,
                  seed: int = 0) -> tuple[DigitSequences, DigitSequences]:
    """Training sequences from the training pool and test sequences from the test pool
    (:func:`compose_sequences`, with independent streams of one ``seed``). Refuses pools that
    share an image, so no test image is ever seen in training.

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.random((30, 4, 4)), rng.random((20, 4, 4))
    >>> train, test = compose_split(a, np.arange(30) % 10, b, np.arange(20) % 10,
    ...                             n_train=9, n_test=9, length=3)
    >>> len(train), len(test), shared_images(train.frames, test.frames)
    (9, 9, 0)
    """
    overlap = shared_images(x_test, x_train)
    if overlap:
        raise ValueError(f"{overlap} test image(s) also occur in the training pool; split the "
                         f"images first (e.g. data.load('mnist-5k') gives disjoint x_train and "
                         f"x_test) so that no test image is seen in training")
    train_seed, test_seed = np.random.SeedSequence(seed).spawn(2)
    train = compose_sequences(x_train, y_train, n_train, length=length, marker=marker,
                              seed=np.random.default_rng(train_seed))
    test = compose_sequences(x_test, y_test, n_test, length=length, marker=marker,
                             seed=np.random.default_rng(test_seed))
    return train, test


def label_after_marker(digits, marker: int = 7) -> np.ndarray:
    """The rule the composer labels by: the digit right after the first ``marker`` in each
    row of ``digits`` (n, length); -1 where there is none. Applied to a digit reader's
    per-frame predictions it is the *perception + hand-written rule* pipeline.

    >>> label_after_marker([[1, 7, 3, 7, 5], [7, 7, 2, 0, 1], [1, 2, 3, 4, 7]]).tolist()
    [3, 7, -1]
    """
    d = np.asarray(digits)
    marker = _digit(marker, "marker")
    if d.ndim != 2 or d.shape[1] < 2:
        raise ValueError(f"digits must be shaped (n, length >= 2), got {d.shape}")
    is_marker = d[:, :-1] == marker
    first = np.argmax(is_marker, axis=1)
    found = is_marker.any(axis=1)
    return np.where(found, d[np.arange(len(d)), np.minimum(first + 1, d.shape[1] - 1)], -1)


def _sequence_probability(seq: tuple[int, ...], marker: int) -> tuple[float, int]:
    """P(seq) under :func:`compose_sequences` and its label (-1 and 0 if impossible)."""
    length = len(seq)
    if marker not in seq[:-1]:
        return 0.0, -1
    p = seq.index(marker)
    if seq[p + 1] == marker:
        return 0.0, -1
    prob = (1 / (length - 1)) * (1 / 9) ** p * (1 / 9) * (1 / 10) ** (length - p - 2)
    return prob, seq[p + 1]


def order_free_ceiling(digits, labels, marker: int = 7) -> float:
    """The accuracy of the best possible *order-free* model on these sequences: one that
    knows every frame's digit exactly but not the order of the frames (a perfect bag of
    frames). For each sequence it sums the composer's probability of every ordering of the
    same digits, by label, and guesses the most probable label; ties count fractionally.

    >>> order_free_ceiling([[7, 3], [3, 7]], [3, 3])   # {3, 7}: only 7-then-3 is possible
    1.0
    >>> round(order_free_ceiling([[7, 3, 5]], [3]), 2)   # 7,3,5 / 7,5,3 / 3,7,5 / 5,7,3
    0.5
    """
    d, y = np.asarray(digits), np.asarray(labels)
    marker = _digit(marker, "marker")
    if d.ndim != 2 or y.shape != (len(d),):
        raise ValueError(f"digits must be (n, length) with one label per row, got {d.shape} "
                         f"and {y.shape}")
    cache: dict[tuple[int, ...], dict[int, float]] = {}
    score = 0.0
    for row, label in zip(d.tolist(), y.tolist(), strict=True):
        key = tuple(sorted(row))
        if key not in cache:
            by_label: dict[int, float] = {}
            for perm in set(itertools.permutations(key)):
                prob, lab = _sequence_probability(perm, marker)
                if prob:
                    by_label[lab] = by_label.get(lab, 0.0) + prob
            cache[key] = by_label
        by_label = cache[key]
        best = max(by_label.values(), default=0.0)
        winners = [lab for lab, p in by_label.items() if math.isclose(p, best)]
        score += (label in winners) / len(winners) if winners else 0.0
    return score / len(d)


# --- sequence models ----------------------------------------------------------------------------


def frame_encoder(frame_shape: Sequence[int] = (28, 28), *, filters: Sequence[int] = (16, 32),
                  units: int = 32, name: str = "frame_encoder") -> keras.Model:
    """A small CNN that turns one grey image into ``units`` features: one stride-2 3×3
    convolution per entry of ``filters``, then a dense ReLU layer.

    >>> tuple(frame_encoder()(np.zeros((2, 28, 28))).shape)
    (2, 32)
    """
    shape = tuple(int(s) for s in frame_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"frame_shape must be (height, width), got {frame_shape!r}")
    units = _positive_int(units, "units")
    inputs = keras.Input(shape, name="frame")
    h = keras.layers.Reshape((*shape, 1))(inputs)
    for f in filters:
        h = keras.layers.Conv2D(_positive_int(f, "filters"), 3, strides=2, padding="same",
                                activation="relu")(h)
    h = keras.layers.Dense(units, activation="relu")(keras.layers.Flatten()(h))
    return keras.Model(inputs, h, name=name)


def _single_io(model, what: str) -> tuple[tuple, int]:
    if not isinstance(model, keras.Model):
        raise ValueError(f"{what} must be a keras.Model, got {type(model).__name__}; build one "
                         f"with the functional API, e.g. frame_encoder()")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{what} must have one input and one output, got "
                         f"{len(model.inputs)} and {len(model.outputs)}")
    out = tuple(model.outputs[0].shape)
    if len(out) != 2 or out[1] is None:
        raise ValueError(f"{what} must output a flat feature vector (batch, features), got "
                         f"shape {out}; end it with Flatten() or GlobalAveragePooling2D()")
    return tuple(model.inputs[0].shape[1:]), int(out[1])


def digit_reader(encoder: keras.Model, n_classes: int = 10, *,
                 name: str = "digit_reader") -> keras.Model:
    """``encoder`` followed by a softmax over ``n_classes``: trained on single labelled
    images, it teaches the encoder to *read* a frame. The encoder's weights are shared, not
    copied, so training the reader trains the encoder.

    >>> tuple(digit_reader(frame_encoder())(np.zeros((3, 28, 28))).shape)
    (3, 10)
    """
    shape, _ = _single_io(encoder, "encoder")
    inputs = keras.Input(shape, name="image")
    out = keras.layers.Dense(_positive_int(n_classes, "n_classes", 2), activation="softmax",
                             name="digit")(encoder(inputs))
    return keras.Model(inputs, out, name=name)


def _copy(model: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def sequence_classifier(encoder: keras.Model, length: int, *, head: str = "lstm",
                        units: int = 64, n_classes: int = 10, train_encoder: bool = False,
                        name: str | None = None) -> keras.Model:
    """A copy of ``encoder`` applied to every frame (``TimeDistributed``), then a head that
    combines the frame features and a softmax over ``n_classes``:

    - ``"bag"``: the mean over frames, then a dense ReLU layer. Order-free: any shuffle of
      the frames gives the same output.
    - ``"flat"``: the frame features concatenated in order, then a dense ReLU layer. It sees
      the order, but has separate weights for every position and no notion of time.
    - ``"lstm"``: an LSTM reads the frames one after another (Donahue et al. 2015, LRCN).

    The encoder is copied (its current weights included), so several classifiers built from
    one trained encoder stay independent; ``train_encoder=False`` freezes the copy.

    >>> enc = frame_encoder((8, 8), filters=(4,), units=6)
    >>> model = sequence_classifier(enc, 5, head="bag")
    >>> x = np.random.default_rng(0).random((2, 5, 8, 8)).astype("float32")
    >>> shuffled = np.ascontiguousarray(x[:, ::-1])
    >>> bool(np.allclose(model.predict(x, verbose=0), model.predict(shuffled, verbose=0),
    ...                  atol=1e-6))
    True
    """
    shape, _ = _single_io(encoder, "encoder")
    length = _positive_int(length, "length")
    units = _positive_int(units, "units")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    frames = _copy(encoder)
    frames.trainable = bool(train_encoder)
    inputs = keras.Input((length, *shape), name="frames")
    features = keras.layers.TimeDistributed(frames, name="per_frame_cnn")(inputs)
    if head == "bag":
        z = keras.layers.GlobalAveragePooling1D(name="mean_over_frames")(features)
        z = keras.layers.Dense(units, activation="relu")(z)
    elif head == "flat":
        z = keras.layers.Flatten(name="frames_in_order")(features)
        z = keras.layers.Dense(units, activation="relu")(z)
    else:
        z = keras.layers.LSTM(units, name="lstm")(features)
    out = keras.layers.Dense(_positive_int(n_classes, "n_classes", 2), activation="softmax",
                             name="label")(z)
    return keras.Model(inputs, out, name=name or f"cnn_{head}")


# --- images with questions ----------------------------------------------------------------------


def ask(rng: np.random.Generator) -> str:
    """One templated yes/no question about a digit, drawn at random: the kind uniformly from
    :data:`QUESTION_KINDS`, then its number. No image is involved: a question alone says
    nothing about the image it will be paired with.

    - parity: "is the digit even" / "is the digit odd"
    - greater / less: "is the digit greater than K" / "... less than K", K from one to eight
    - identity: "is it a K" ("an eight"), K from zero to nine

    >>> ask(np.random.default_rng(0))
    'is it a six'
    """
    kind = QUESTION_KINDS[int(rng.integers(len(QUESTION_KINDS)))]
    if kind == "parity":
        return "is the digit " + ("even" if rng.random() < 0.5 else "odd")
    if kind == "identity":
        word = NUMBER_WORDS[int(rng.integers(10))]
        return f"is it {_article(word)} {word}"
    word = "greater" if kind == "greater" else "less"
    return f"is the digit {word} than {NUMBER_WORDS[int(rng.integers(1, 9))]}"


def _article(word: str) -> str:
    return "an" if word == "eight" else "a"


def answer(question: str, digit: int) -> bool:
    """The true answer to a templated question (:func:`ask`) about ``digit``.

    >>> answer("is the digit greater than five", 7), answer("is it a three", 8)
    (True, False)
    """
    d = _digit(digit, "digit")
    words = str(question).split()
    if words[:3] == ["is", "the", "digit"] and words[3:] in (["even"], ["odd"]):
        return (d % 2 == 0) == (words[3] == "even")
    if (len(words) == 4 and words[:2] == ["is", "it"] and words[3] in NUMBER_WORDS
            and words[2] == _article(words[3])):
        return d == NUMBER_WORDS.index(words[3])
    if (len(words) == 6 and words[:3] == ["is", "the", "digit"] and words[4] == "than"
            and words[3] in ("greater", "less") and words[5] in NUMBER_WORDS[1:9]):
        k = NUMBER_WORDS.index(words[5])
        return d > k if words[3] == "greater" else d < k
    raise ValueError(f"not a question this task asks: {question!r}; see ask() for the "
                     f"templates")


def question_kind(question: str) -> str:
    """Which of :data:`QUESTION_KINDS` a templated question is.

    >>> question_kind("is the digit less than four"), question_kind("is it a one")
    ('less', 'identity')
    """
    answer(question, 0)                       # refuses anything that is not a template
    words = question.split()
    return "identity" if words[1] == "it" else ("parity" if len(words) == 4 else words[3])


def tokenize(questions: Sequence[str]) -> np.ndarray:
    """Word indices into :data:`VOCAB`, padded with 0 to :data:`MAX_WORDS`: (n, MAX_WORDS)
    int32.

    >>> tokenize(["is it a seven"]).tolist()
    [[6, 7, 1, 19, 0, 0]]
    """
    if isinstance(questions, str):
        raise ValueError("questions must be a list of strings; wrap a single one: [question]")
    index = {w: i for i, w in enumerate(VOCAB)}
    out = np.zeros((len(questions), MAX_WORDS), "int32")
    for row, q in enumerate(questions):
        words = str(q).split()
        unknown = [w for w in words if w not in index or w == VOCAB[0]]
        if unknown or len(words) > MAX_WORDS:
            raise ValueError(f"question {q!r} has unknown words {unknown} or more than "
                             f"{MAX_WORDS} words; the vocabulary is dlbook.multimodal.VOCAB")
        out[row, :len(words)] = [index[w] for w in words]
    return out


@dataclass(frozen=True)
class DigitQA:
    """Images paired with questions: ``images`` (n, h, w) · ``questions`` (n,) strings ·
    ``tokens`` (n, MAX_WORDS) · ``answers`` (n,) float32 1 = yes · ``digits`` (n,) the
    image's digit · ``sources`` (n,) its index in the pool."""

    images: np.ndarray
    questions: np.ndarray
    tokens: np.ndarray
    answers: np.ndarray
    digits: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.answers)

    @property
    def kinds(self) -> np.ndarray:
        """The kind of each question (one of :data:`QUESTION_KINDS`)."""
        return np.array([question_kind(q) for q in self.questions])

    def inputs(self) -> dict[str, np.ndarray]:
        """The model inputs by branch name: ``{"image": …, "question": …}``."""
        return {"image": self.images, "question": self.tokens}


def compose_questions(images, digits, *, per_image: int = 1, seed: int = 0) -> DigitQA:
    """Pair every pool image with ``per_image`` questions drawn by :func:`ask`, independently
    of the image, answered by :func:`answer` from the image's true digit; shuffled.

    >>> qa = compose_questions(np.zeros((10, 4, 4)), np.arange(10), per_image=3)
    >>> len(qa), qa.tokens.shape, np.bincount(qa.sources).tolist() == [3] * 10
    (30, (30, 6), True)
    """
    x, y = _pool(images, digits)
    per_image = _positive_int(per_image, "per_image")
    rng = np.random.default_rng(seed)
    sources = np.repeat(np.arange(len(x)), per_image)
    rng.shuffle(sources)
    questions = [ask(rng) for _ in sources]
    answers = np.array([answer(q, int(y[i])) for q, i in zip(questions, sources, strict=True)],
                       "float32")
    return DigitQA(x[sources], np.array(questions), tokenize(questions), answers, y[sources],
                   sources.astype("int64"))


def best_accuracy_given(keys, labels) -> float:
    """The best accuracy of any predictor that sees only ``keys``: in every group of equal
    keys, predict the group's most common label. With perfect perception, ``keys=digits``
    is the ceiling of an image-only model and ``keys=questions`` that of a question-only one.
    Measured on a set, it is optimistic when groups are small (a group of one is always
    right); use it with few distinct keys.

    >>> best_accuracy_given(["a", "a", "a", "b"], [1, 1, 0, 0])
    0.75
    """
    k, y = list(np.asarray(keys).tolist()), list(np.asarray(labels).tolist())
    if len(k) != len(y) or not k:
        raise ValueError(f"keys and labels must be non-empty and of equal length, got "
                         f"{len(k)} and {len(y)}")
    keyed = [repr(key) for key in k]
    counts = Counter(zip(keyed, y, strict=True))
    best: dict[str, int] = {}
    for (key, _), c in counts.items():
        best[key] = max(best.get(key, 0), c)
    return sum(best.values()) / len(y)


# --- fusion -------------------------------------------------------------------------------------


def text_branch(max_words: int = MAX_WORDS, vocab_size: int = len(VOCAB), *, dim: int = 32,
                units: int = 64, name: str = "question_encoder") -> keras.Model:
    """Word indices (n, max_words) -> ``units`` features: an embedding per word, averaged
    over the words (padding included), then a dense ReLU layer. Word order is lost, which
    these questions do not need.

    >>> tuple(text_branch()(np.zeros((2, 6), "int32")).shape)
    (2, 64)
    """
    inputs = keras.Input((_positive_int(max_words, "max_words"),), dtype="int32",
                         name="words")
    h = keras.layers.Embedding(_positive_int(vocab_size, "vocab_size", 2),
                               _positive_int(dim, "dim"))(inputs)
    h = keras.layers.GlobalAveragePooling1D()(h)
    h = keras.layers.Dense(_positive_int(units, "units"), activation="relu")(h)
    return keras.Model(inputs, h, name=name)


class FusionModel(keras.Model):
    """A functional model with one named input per branch (:func:`fusion_model`) whose
    ``fit``, ``evaluate`` and ``predict`` first check the inputs (:func:`check_inputs`): the
    branch names, every input's shape and equal batch sizes, with errors that name the fix.
    (Keras would fail deep inside the graph, or silently broadcast.)"""

    def __init__(self, inputs, outputs, *, branch_shapes: Mapping[str, tuple] | None = None,
                 **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.branch_shapes = dict(branch_shapes or {})

    def fit(self, x=None, y=None, *args, **kwargs):
        return super().fit(check_inputs(self, x, y), y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return super().evaluate(check_inputs(self, x, y), y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        return super().predict(check_inputs(self, x), *args, **kwargs)


def check_inputs(model: FusionModel, x, y=None) -> dict[str, np.ndarray]:
    """Validate inputs for ``model``: a dict by branch name (or a list in branch order) with
    each input's non-batch shape equal to its branch's and one batch size for all (and for
    ``y``). Returns them as a dict of arrays.

    >>> m = fusion_model({"a": text_branch(3, name="a3"), "b": text_branch(2, name="b2")})
    >>> check_inputs(m, {"a": np.zeros((4, 3)), "b": np.zeros((5, 2))})
    Traceback (most recent call last):
    ...
    ValueError: inputs have different batch sizes: a 4, b 5; every branch needs one row per example, in the same order
    """
    shapes = getattr(model, "branch_shapes", None)
    if not shapes:
        raise ValueError("check_inputs needs a model built by fusion_model()")
    names = list(shapes)
    if isinstance(x, Mapping):
        unknown, missing = sorted(set(x) - set(names)), [n for n in names if n not in x]
        if unknown or missing:
            raise ValueError(f"inputs must be keyed by the branch names {names}; missing "
                             f"{missing}, unknown {unknown}")
        arrays = {n: x[n] for n in names}
    elif isinstance(x, (list, tuple)) and len(names) > 1:
        if len(x) != len(names):
            raise ValueError(f"got {len(x)} inputs for {len(names)} branches {names}; pass one "
                             f"per branch, or a dict keyed by branch name")
        arrays = dict(zip(names, x, strict=True))
    elif len(names) == 1 and not isinstance(x, (list, tuple)):
        arrays = {names[0]: x}
    else:
        raise ValueError(f"inputs must be a dict keyed by the branch names {names}, got "
                         f"{type(x).__name__}")
    arrays = {n: np.asarray(a) for n, a in arrays.items()}
    for n, a in arrays.items():
        want = tuple(shapes[n])
        if a.ndim != len(want) + 1 or any(w is not None and w != s
                                          for w, s in zip(want, a.shape[1:], strict=True)):
            raise ValueError(f"input {n!r} must be shaped (batch, {', '.join(map(str, want))})"
                             f", got {a.shape}")
    sizes = {n: len(a) for n, a in arrays.items()}
    if y is not None:
        sizes["y"] = len(np.asarray(y))
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{n} {s}" for n, s in sizes.items())
        raise ValueError(f"inputs have different batch sizes: {listed}; every branch needs "
                         f"one row per example, in the same order")
    return arrays


def fusion_model(branches: Mapping[str, keras.Model], *, mode: str = "concat",
                 hidden: Sequence[int] = (64,), n_outputs: int = 1, units: int = 32,
                 name: str = "fusion") -> FusionModel:
    """Fuse any branch models, each mapping its own input to a feature vector, into one
    model with an input per branch (named by the keys of ``branches``) and a head of
    ``hidden`` ReLU layers. ``n_outputs=1`` gives a sigmoid (yes/no), more a softmax.

    - ``"concat"``: intermediate fusion by concatenating the branch features. One branch is
      allowed: the single-modality model with the same head.
    - ``"gated"``: a gated multimodal unit (Arevalo et al. 2017) for two branches: each
      feature vector is projected to ``units`` tanh features, and a sigmoid gate computed
      from both decides, feature by feature, how much of each to pass on.

    The branches are used as they are (shared, not copied): freeze one with
    ``branch.trainable = False`` before building.

    >>> m = fusion_model({"image": frame_encoder(), "question": text_branch()})
    >>> [t.name for t in m.inputs], tuple(m.outputs[0].shape)
    (['image', 'question'], (None, 1))
    """
    if not isinstance(branches, Mapping) or not branches:
        raise ValueError("branches must be a non-empty dict {name: keras.Model}, e.g. "
                         "{'image': frame_encoder(), 'question': text_branch()}")
    if mode not in FUSION_MODES:
        raise ValueError(f"mode must be one of {FUSION_MODES}, got {mode!r}")
    if mode == "gated" and len(branches) != 2:
        raise ValueError(f"gated fusion takes exactly two branches, got {len(branches)}; use "
                         f"mode='concat' for one or more than two")
    if len({id(b) for b in branches.values()}) != len(branches):
        raise ValueError("each branch must be a different model; to feed one input to two "
                         "branches, build the branch twice")
    model_names = [b.name for b in branches.values() if isinstance(b, keras.Model)]
    if len(set(model_names)) != len(model_names) or set(model_names) & set(branches):
        raise ValueError(f"branch models need distinct names, different from the input names "
                         f"{list(branches)}; got {model_names}: build them with name=...")
    shapes, inputs, features = {}, {}, []
    for key, branch in branches.items():
        shape, _ = _single_io(branch, f"branch {key!r}")
        shapes[key] = shape
        inputs[key] = keras.Input(shape, dtype=branch.inputs[0].dtype, name=key)
        features.append(branch(inputs[key]))
    if mode == "gated":
        a, b = (keras.layers.Dense(units, activation="tanh")(f) for f in features)
        gate = keras.layers.Dense(units, activation="sigmoid", name="gate")(
            keras.layers.Concatenate()(features))
        z = gate * a + (1 - gate) * b
    else:
        z = features[0] if len(features) == 1 else keras.layers.Concatenate(
            name="fused")(features)
    for width in hidden:
        z = keras.layers.Dense(_positive_int(width, "hidden"), activation="relu")(z)
    n_outputs = _positive_int(n_outputs, "n_outputs")
    out = keras.layers.Dense(n_outputs, activation="sigmoid" if n_outputs == 1 else "softmax",
                             name="answer")(z)
    return FusionModel(inputs, out, branch_shapes=shapes, name=name)


def predict(model: keras.Model, x, *, batch_size: int = 512) -> np.ndarray:
    """The model's outputs for ``x`` as NumPy, computed by calling the model on batches
    (no ``predict()`` graph per model and per batch shape, so no retracing notices); the
    inputs of a :class:`FusionModel` are checked first.

    >>> predict(fusion_model({"question": text_branch()}), np.zeros((3, 6), "int32")).shape
    (3, 1)
    """
    if getattr(model, "branch_shapes", None):
        x = check_inputs(model, x)
        n = len(next(iter(x.values())))
        parts = ({k: v[i:i + batch_size] for k, v in x.items()} for i in range(0, n, batch_size))
    else:
        x = np.asarray(x)
        n = len(x)
        parts = (x[i:i + batch_size] for i in range(0, n, batch_size))
    return np.concatenate([ops.convert_to_numpy(model(part, training=False))
                           for part in parts])


def late_fusion(probabilities: Sequence, weights: Sequence[float] | None = None) -> np.ndarray:
    """Late fusion: the (weighted) average of several models' predicted probabilities for
    the same examples.

    >>> late_fusion([[0.9, 0.2], [0.5, 0.6]]).tolist()
    [0.7, 0.4]
    """
    probs = [np.asarray(p, dtype="float64") for p in probabilities]
    if len(probs) < 2 or any(p.shape != probs[0].shape for p in probs):
        raise ValueError(f"late_fusion needs two or more arrays of one shape, got shapes "
                         f"{[p.shape for p in probs]}")
    w = np.ones(len(probs)) if weights is None else np.asarray(weights, dtype="float64")
    if w.shape != (len(probs),) or (w < 0).any() or w.sum() == 0:
        raise ValueError(f"weights must be {len(probs)} non-negative numbers, not all zero")
    return sum(wi * p for wi, p in zip(w / w.sum(), probs, strict=True))


def drop_modality(inputs: Mapping[str, np.ndarray], name: str, fill: float = 0) -> dict:
    """A copy of ``inputs`` with input ``name`` replaced by ``fill`` everywhere: the modality
    is missing at test time (a blank image, an empty question), the shapes unchanged.

    >>> x = drop_modality({"image": np.ones((2, 3)), "question": np.ones((2, 4))}, "image")
    >>> float(x["image"].sum()), float(x["question"].sum())
    (0.0, 8.0)
    """
    if name not in inputs:
        raise ValueError(f"no input named {name!r}; the inputs are {sorted(inputs)}")
    out = dict(inputs)
    out[name] = np.full_like(np.asarray(inputs[name]), fill)
    return out


# --- pictures -----------------------------------------------------------------------------------


def plot_sequences(seqs: DigitSequences, predictions: Mapping[str, np.ndarray] | None = None,
                   *, n: int = 6, title: str = "Digit sequences: the label is the digit "
                   "after the first 7"):
    """One row per sequence, one column per frame; the first marker frame is outlined, and
    the row says the label and each model's prediction (``{name: predicted labels}``)."""
    import matplotlib.pyplot as plt

    n = min(_positive_int(n, "n"), len(seqs))
    predictions = dict(predictions or {})
    fig, axes = plt.subplots(n, seqs.length, figsize=(1.25 * seqs.length + 3.2, 1.3 * n),
                             squeeze=False)
    first = np.argmax(seqs.digits[:, :-1] == seqs.marker, axis=1)
    for i in range(n):
        for j in range(seqs.length):
            ax = axes[i, j]
            ax.imshow(seqs.frames[i, j], cmap="gray_r", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[])
            colour = "tab:orange" if j == first[i] else ("tab:green" if j == first[i] + 1
                                                         else "0.8")
            for spine in ax.spines.values():
                spine.set(color=colour, linewidth=2.5 if colour != "0.8" else 0.8)
            if i == 0:
                ax.set_title(f"frame {j + 1}", fontsize=9)
        text = f"label {seqs.labels[i]}"
        for model, pred in predictions.items():
            mark = "✓" if pred[i] == seqs.labels[i] else "✗"
            text += f"\n{model}: {pred[i]} {mark}"
        axes[i, -1].text(1.12, 0.5, text, transform=axes[i, -1].transAxes, va="center",
                         fontsize=8.5)
    fig.suptitle(title + " (orange: first marker, green: label)", fontsize=10)
    fig.subplots_adjust(right=0.78, wspace=0.08, hspace=0.12)
    return fig


def plot_questions(qa: DigitQA, predictions: Mapping[str, np.ndarray] | None = None, *,
                   n: int = 8, ncols: int = 4, title: str = "Images with questions"):
    """Each image with its question, the true answer and each model's yes/no prediction
    (``{name: probability of yes}``)."""
    import matplotlib.pyplot as plt

    n = min(_positive_int(n, "n"), len(qa))
    ncols = min(_positive_int(ncols, "ncols"), n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 3.0 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, ax in enumerate(axes.ravel()[:n]):
        ax.imshow(qa.images[i], cmap="gray_r", vmin=0, vmax=1)
        lines = [qa.questions[i] + "?", f"answer: {'yes' if qa.answers[i] else 'no'}"]
        for model, prob in (predictions or {}).items():
            said = bool(prob[i] > 0.5)
            lines.append(f"{model}: {'yes' if said else 'no'} "
                         f"{'✓' if said == bool(qa.answers[i]) else '✗'}")
        ax.set_title("\n".join(lines), fontsize=8.5)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
