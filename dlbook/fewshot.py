"""Few-shot classification: episodes, prototypical networks, and an honest evaluator.

A few-shot task is an *episode*: ``n_way`` classes the model may never have seen, ``k_shot``
labelled examples of each (the *support set*), and ``n_query`` more of each to classify (the
*query set*). A method sees the support set and must label the queries; its score is the
accuracy averaged over many random episodes, reported with a 95 % confidence interval.

- :class:`EpisodeSampler` — draws seeded N-way K-shot Q-query episodes (:class:`Episode`) from
  any labelled arrays, optionally restricted to some of the classes; :meth:`EpisodeSampler.dataset`
  turns it into a ``tf.data`` pipeline for ``fit``.
- :func:`prototypes`, :func:`squared_distances`, :func:`prototypical_logits`,
  :func:`prototypical_loss` — the prototypical network of Snell, Swersky and Zemel (2017) in
  ``keras.ops``: each class is the mean of its support embeddings, and a query's logits are its
  negative squared Euclidean distances to those means.
- :class:`PrototypicalNetwork` — a ``keras.Model`` wrapping an encoder, whose ``train_step``
  is one episode: embed, average, measure, cross-entropy. :func:`conv_encoder` builds the
  "Conv-4" style encoder of that paper for small grey images.
- :func:`embed` — the encoder's features for a whole array, once, so that evaluation is cheap.
- :func:`evaluate` — mean accuracy and its 95 % interval over many episodes for a fixed feature
  map and a rule (nearest prototype or nearest neighbour, Euclidean or cosine);
  :func:`confidence_interval` on its own; :func:`compare` scores several methods at several
  shot counts in one table. With the same labels and seed, every feature map is scored on
  exactly the same episodes, so methods are compared pairwise.
- :func:`show_episode` — a picture of one episode, a row per class.

>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(60, 2)) + np.repeat(np.eye(3, 2) * 6, 20, axis=0)   # 3 blobs
>>> y = np.repeat([0, 1, 2], 20)
>>> episode = EpisodeSampler(x, y, n_way=3, k_shot=2, n_query=4, seed=0).sample()
>>> episode.support_x.shape, episode.query_x.shape, episode.support_y.tolist()
((6, 2), (12, 2), [0, 0, 1, 1, 2, 2])
>>> score = evaluate(x, y, n_way=3, k_shot=2, n_query=4, episodes=50)
>>> score.mean > 0.9, score.half_width < 0.05
(True, True)
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from dlbook.checks import positive_int as _positive_int
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "Episode", "EpisodeSampler", "FewShotScore", "PrototypicalNetwork", "compare",
    "confidence_interval", "conv_encoder", "embed", "evaluate", "prototypes", "prototypical_logits",
    "prototypical_loss", "show_episode", "squared_distances",
]

RULES = ("prototype", "neighbour")
METRICS = ("euclidean", "cosine")


# --- episodes -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Episode:
    """One N-way K-shot task. Labels are episode labels ``0 … n_way-1``; ``classes[j]`` is the
    original label of episode class ``j``. Support and query sets are ordered class by class."""

    support_x: np.ndarray
    support_y: np.ndarray
    query_x: np.ndarray
    query_y: np.ndarray
    classes: np.ndarray

    @property
    def n_way(self) -> int:
        return len(self.classes)

    @property
    def k_shot(self) -> int:
        return len(self.support_y) // self.n_way

    @property
    def n_query(self) -> int:
        return len(self.query_y) // self.n_way


class EpisodeSampler:
    """Draw N-way K-shot Q-query episodes from labelled arrays, reproducibly.

    Each episode picks ``n_way`` distinct classes at random (from ``classes``, or from all the
    labels in ``y``), then ``k_shot + n_query`` distinct examples of each, without replacement,
    so no query is also a support example. The draws depend only on ``y``, the sizes and
    ``seed``: two samplers built on different features of the same examples (pixels and
    embeddings, say) yield the same episodes.

    >>> y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    >>> EpisodeSampler(np.zeros((8, 1)), y, n_way=2, k_shot=1, n_query=2)
    Traceback (most recent call last):
        ...
    ValueError: class 2 has 2 examples but an episode needs k_shot + n_query = 3 of each; lower k_shot or n_query, or leave the class out with classes=[...]
    """

    def __init__(self, x, y, *, n_way: int, k_shot: int, n_query: int = 15,
                 classes: Sequence[int] | None = None, seed: int = 0):
        self.x = np.asarray(x)
        y = np.asarray(y)
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise ValueError(f"y must be a 1-D array of integer class labels, got dtype "
                             f"{y.dtype} and shape {y.shape}")
        if len(self.x) != len(y):
            raise ValueError(f"x has {len(self.x)} examples but y has {len(y)} labels")
        self.y = y
        self.n_way = _positive_int(n_way, "n_way")
        self.k_shot = _positive_int(k_shot, "k_shot")
        self.n_query = _positive_int(n_query, "n_query")
        present = np.unique(y)
        if classes is None:
            self.classes = present
        else:
            self.classes = np.unique(np.asarray(classes, dtype=y.dtype))
            missing = np.setdiff1d(self.classes, present)
            if missing.size:
                raise ValueError(f"classes {missing.tolist()} have no examples in y; "
                                 f"the labels present are {present.tolist()}")
        if self.n_way > len(self.classes):
            raise ValueError(f"n_way={self.n_way} but only {len(self.classes)} classes are "
                             f"available ({self.classes.tolist()}); lower n_way")
        need = self.k_shot + self.n_query
        self._members = {}
        for c in self.classes:
            members = np.flatnonzero(y == c)
            if len(members) < need:
                raise ValueError(
                    f"class {c} has {len(members)} examples but an episode needs k_shot + "
                    f"n_query = {need} of each; lower k_shot or n_query, or leave the class "
                    "out with classes=[...]")
            self._members[int(c)] = members
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def indices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next episode as indices into ``x``: (support, query, classes)."""
        chosen = self.rng.choice(self.classes, size=self.n_way, replace=False)
        support, query = [], []
        for c in chosen:
            picked = self.rng.choice(self._members[int(c)], self.k_shot + self.n_query,
                                     replace=False)
            support.append(picked[:self.k_shot])
            query.append(picked[self.k_shot:])
        return np.concatenate(support), np.concatenate(query), chosen

    def sample(self) -> Episode:
        """The next episode, as arrays."""
        support, query, chosen = self.indices()
        way = np.arange(self.n_way, dtype="int32")
        return Episode(self.x[support], np.repeat(way, self.k_shot),
                       self.x[query], np.repeat(way, self.n_query), chosen)

    def __iter__(self) -> Iterator[Episode]:
        while True:
            yield self.sample()

    def dataset(self, episodes: int):
        """A ``tf.data.Dataset`` of ``episodes`` episodes, each ``((support_x, support_y,
        query_x), query_y)``: what :meth:`PrototypicalNetwork.fit` reads, one episode a step.
        Iterating it again continues the sampler's random stream (new episodes)."""
        import tensorflow as tf

        episodes = _positive_int(episodes, "episodes")
        shape = self.x.shape[1:]
        n_s, n_q = self.n_way * self.k_shot, self.n_way * self.n_query

        def generate():
            for _ in range(episodes):
                e = self.sample()
                yield ((e.support_x.astype("float32"), e.support_y, e.query_x.astype("float32")),
                       e.query_y)

        signature = ((tf.TensorSpec((n_s, *shape), tf.float32), tf.TensorSpec((n_s,), tf.int32),
                      tf.TensorSpec((n_q, *shape), tf.float32)), tf.TensorSpec((n_q,), tf.int32))
        data = tf.data.Dataset.from_generator(generate, output_signature=signature)
        return data.apply(tf.data.experimental.assert_cardinality(episodes)).prefetch(2)


# --- the prototypical network -------------------------------------------------------------------


def prototypes(support, labels, n_way: int):
    """Class means of the support embeddings: ``(n_way, dim)``, row j the mean of class j.

    >>> p = prototypes(np.array([[0., 0.], [2., 2.], [5., 1.]]), np.array([0, 0, 1]), 2)
    >>> keras.ops.convert_to_numpy(p).tolist()
    [[1.0, 1.0], [5.0, 1.0]]
    """
    onehot = ops.one_hot(ops.cast(labels, "int32"), n_way, dtype=support.dtype
                         if hasattr(support, "dtype") else "float32")
    support = ops.cast(support, onehot.dtype)
    sums = ops.matmul(ops.transpose(onehot), support)
    counts = ops.sum(onehot, axis=0)
    return sums / ops.maximum(counts, 1.0)[:, None]


def squared_distances(a, b):
    """``(len(a), len(b))`` squared Euclidean distances, ``|a|² - 2 a·b + |b|²``, clipped at 0.

    >>> keras.ops.convert_to_numpy(squared_distances(np.array([[0., 0.]]),
    ...                                               np.array([[3., 4.], [0., 1.]]))).tolist()
    [[25.0, 1.0]]
    """
    a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
    cross = ops.matmul(a, ops.transpose(b))
    d = ops.sum(a * a, axis=1)[:, None] - 2.0 * cross + ops.sum(b * b, axis=1)[None, :]
    return ops.maximum(d, 0.0)


def prototypical_logits(support, support_labels, query, n_way: int):
    """A query's logits: minus its squared distance to each class prototype, ``(n_query, n_way)``.
    The softmax of these is the prototypical network's class probability."""
    return -squared_distances(query, prototypes(support, support_labels, n_way))


def prototypical_loss(support, support_labels, query, query_labels, n_way: int):
    """Mean cross-entropy of the query labels under :func:`prototypical_logits`."""
    logits = prototypical_logits(support, support_labels, query, n_way)
    losses = keras.losses.sparse_categorical_crossentropy(query_labels, logits, from_logits=True)
    return ops.mean(losses)


def conv_encoder(input_shape: Sequence[int] = (28, 28), filters: Sequence[int] = (32,) * 4, *,
                 batch_norm: bool = False, name: str = "encoder") -> keras.Model:
    """Blocks of 3×3 convolution, (batch norm,) ReLU and 2×2 max-pooling, then flatten: the
    "Conv-4" encoder of Snell et al. (2017) with ``filters=(64,) * 4, batch_norm=True``.
    Grey images ``(h, w)`` get their channel axis added inside the model.

    >>> conv_encoder((28, 28), (8, 8, 8, 8)).output_shape    # 28 -> 14 -> 7 -> 3 -> 1
    (None, 8)
    """
    if not filters:
        raise ValueError("filters must name at least one block, e.g. (32, 32, 32, 32)")
    filters = [_positive_int(f, "each entry of filters") for f in filters]
    inputs = keras.Input(tuple(input_shape))
    h = inputs if len(input_shape) == 3 else keras.layers.Reshape((*input_shape, 1))(inputs)
    for f in filters:
        h = keras.layers.Conv2D(f, 3, padding="same", use_bias=not batch_norm)(h)
        if batch_norm:
            h = keras.layers.BatchNormalization()(h)
        h = keras.layers.ReLU()(h)
        h = keras.layers.MaxPooling2D()(h)
    return keras.Model(inputs, keras.layers.Flatten()(h), name=name)


@keras.saving.register_keras_serializable(package="dlbook")
class PrototypicalNetwork(keras.Model):
    """A prototypical network: ``encoder`` maps inputs to embeddings, trained one episode per
    step so that queries lie nearest the mean embedding of their own class.

    ``fit`` reads :meth:`EpisodeSampler.dataset` batches ``((support_x, support_y, query_x),
    query_y)`` of ``n_way`` classes; it reports the episode ``loss`` and the query
    ``accuracy``. ``call(x)`` returns the embeddings.

    >>> sampler = EpisodeSampler(np.random.default_rng(0).random((40, 4), "float32"),
    ...                          np.repeat(np.arange(4), 10), n_way=3, k_shot=2, n_query=3)
    >>> net = PrototypicalNetwork(keras.Sequential([keras.layers.Dense(5)]), n_way=3)
    >>> net.compile(optimizer="adam", run_eagerly=True)
    >>> sorted(net.fit(sampler.dataset(4), shuffle=False, verbose=0).history)
    ['accuracy', 'loss']
    """

    def __init__(self, encoder: keras.Model, n_way: int, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.n_way = _positive_int(n_way, "n_way")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")

    def call(self, x, training=False):
        return self.encoder(x, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def _episode(self, data, training: bool):
        (support_x, support_y, query_x), query_y = data
        n_support = ops.shape(support_x)[0]
        # one pass over support and query together: batch statistics, if any, are shared
        z = self.encoder(ops.concatenate([support_x, query_x], axis=0), training=training)
        logits = prototypical_logits(z[:n_support], support_y, z[n_support:], self.n_way)
        loss = ops.mean(keras.losses.sparse_categorical_crossentropy(
            query_y, logits, from_logits=True))
        hits = ops.cast(ops.equal(ops.argmax(logits, axis=1), ops.cast(query_y, "int64")),
                        "float32")
        return loss, ops.mean(hits)

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, accuracy = self._episode(data, training=True)
        weights = self.encoder.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
        return self._track(loss, accuracy)

    def test_step(self, data):
        return self._track(*self._episode(data, training=False))

    def _track(self, loss, accuracy):
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(accuracy)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(), "n_way": self.n_way,
                "encoder": keras.saving.serialize_keras_object(self.encoder)}

    @classmethod
    def from_config(cls, config):
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        return cls(encoder, **config)


def embed(encoder, x, *, batch_size: int = 512) -> np.ndarray:
    """The encoder's features of every example in ``x`` (inference mode), as a float32 array
    ``(n, dim)``: computed once, then reused by every episode of :func:`evaluate`."""
    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch (n, ...), got shape {x.shape}")
    parts = [ops.convert_to_numpy(encoder(x[i:i + batch_size], training=False))
             for i in range(0, len(x), _positive_int(batch_size, "batch_size"))]
    return np.concatenate(parts).reshape(len(x), -1).astype("float32")


# --- evaluation ---------------------------------------------------------------------------------


def confidence_interval(accuracies, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the normal-approximation interval, ``z · sd / √n``, as few-shot
    papers report it (600 or more episodes make the approximation good).

    >>> m, h = confidence_interval([0.5, 0.7, 0.6, 0.6])
    >>> round(m, 3), round(h, 3)
    (0.6, 0.08)
    """
    a = np.asarray(accuracies, dtype="float64").ravel()
    if a.size < 2:
        raise ValueError(f"need at least 2 episode accuracies for an interval, got {a.size}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95, got {level!r}")
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    return float(a.mean()), float(z * a.std(ddof=1) / np.sqrt(a.size))


@dataclasses.dataclass(frozen=True)
class FewShotScore:
    """Accuracy over episodes: ``mean`` ± ``half_width`` is the 95 % interval."""

    mean: float
    half_width: float
    accuracies: np.ndarray = dataclasses.field(repr=False)
    n_way: int
    k_shot: int
    rule: str
    metric: str

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def __str__(self) -> str:
        return f"{100 * self.mean:.1f} % ± {100 * self.half_width:.1f}"


def _normalise(f: np.ndarray) -> np.ndarray:
    return f / np.maximum(np.linalg.norm(f, axis=-1, keepdims=True), 1e-12)


def evaluate(features, labels, *, n_way: int, k_shot: int, n_query: int = 15,
             episodes: int = 600, rule: str = "prototype", metric: str = "euclidean",
             classes: Sequence[int] | None = None, seed: int = 0) -> FewShotScore:
    """Score a fixed feature map on ``episodes`` random N-way K-shot episodes.

    ``features`` are the examples as vectors (raw pixels flattened, or :func:`embed` output).
    ``rule="prototype"`` labels a query with the class whose mean support feature is nearest
    (the prototypical rule; "nearest class mean" on pixels); ``rule="neighbour"`` with the
    class of its single nearest support example (1-NN). ``metric="cosine"`` normalises the
    features to unit length first. The same ``labels``, sizes and ``seed`` give the same
    episodes for every feature map.

    >>> f = np.array([[0.], [0.1], [5.], [5.1], [0.2], [4.9]])
    >>> evaluate(f, np.array([0, 0, 1, 1, 0, 1]), n_way=2, k_shot=1, n_query=2,
    ...          episodes=20).mean
    1.0
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    f = np.asarray(features, dtype="float32")
    f = f.reshape(len(f), -1)
    if not np.isfinite(f).all():
        raise ValueError("features contain NaN or inf values")
    if metric == "cosine":
        f = _normalise(f)
    sampler = EpisodeSampler(f, labels, n_way=n_way, k_shot=k_shot, n_query=n_query,
                             classes=classes, seed=seed)
    episodes = _positive_int(episodes, "episodes")
    way = np.arange(sampler.n_way)
    support_y, query_y = np.repeat(way, sampler.k_shot), np.repeat(way, sampler.n_query)
    accuracies = np.empty(episodes)
    with threadpool_limits(1, user_api="blas"):    # tiny products: threads only cost time
        for i in range(episodes):
            accuracies[i] = _episode_accuracy(f, sampler, rule, support_y, query_y)
    mean, half = confidence_interval(accuracies)
    return FewShotScore(mean, half, accuracies, sampler.n_way, sampler.k_shot, rule, metric)


def _episode_accuracy(f, sampler, rule, support_y, query_y) -> float:
    s, q, _ = sampler.indices()
    centres, queries = f[s], f[q]
    if rule == "prototype":
        centres = centres.reshape(sampler.n_way, sampler.k_shot, -1).mean(axis=1)
    # |q - c|^2 without the |q|^2 term, which is the same for every centre of a query
    d = (centres ** 2).sum(1)[None] - 2 * queries @ centres.T
    nearest = d.argmin(axis=1)
    predicted = nearest if rule == "prototype" else support_y[nearest]
    return float((predicted == query_y).mean())


def compare(methods: Mapping[str, tuple], labels, *, n_way: int, shots: Sequence[int],
            n_query: int = 15, episodes: int = 600, seed: int = 0):
    """Score each method at each shot count: a ``pandas.DataFrame`` with one row per (method,
    k_shot) and columns ``method, n_way, k_shot, accuracy, ci95, score`` (the
    :class:`FewShotScore`, whose ``accuracies`` allow paired comparisons). ``methods`` maps a
    name to ``(features, rule, metric)``; all are scored on the same episodes.

    >>> x = np.repeat(np.eye(3), 20, axis=0) + np.random.default_rng(0).normal(0, .3, (60, 3))
    >>> table = compare({"raw": (x, "prototype", "euclidean")}, np.repeat([0, 1, 2], 20),
    ...                 n_way=3, shots=[1, 5], n_query=5, episodes=30)
    >>> table[["method", "k_shot"]].values.tolist()
    [['raw', 1], ['raw', 5]]
    """
    import pandas as pd

    if not methods:
        raise ValueError("methods is empty; pass {name: (features, rule, metric), ...}")
    rows = []
    for name, spec in methods.items():
        if len(spec) != 3:
            raise ValueError(f"methods[{name!r}] must be (features, rule, metric), e.g. "
                             "(x, 'prototype', 'euclidean')")
        features, rule, metric = spec
        for k in shots:
            s = evaluate(features, labels, n_way=n_way, k_shot=k, n_query=n_query,
                         episodes=episodes, rule=rule, metric=metric, seed=seed)
            rows.append({"method": name, "n_way": n_way, "k_shot": int(k), "accuracy": s.mean,
                         "ci95": s.half_width, "score": s})
    return pd.DataFrame(rows)


# --- pictures -----------------------------------------------------------------------------------


def show_episode(episode: Episode, class_names: Sequence[str] | None = None, *,
                 max_query: int = 5, title: str | None = None):
    """One row per class: its ``k_shot`` support images, then up to ``max_query`` queries."""
    import matplotlib.pyplot as plt

    if episode.support_x.ndim not in (3, 4):
        raise ValueError(f"show_episode draws images (n, h, w[, c]); got support of shape "
                         f"{episode.support_x.shape}")
    n_q = min(_positive_int(max_query, "max_query"), episode.n_query)
    k, ncols = episode.k_shot, episode.k_shot + 1 + n_q
    fig, axes = plt.subplots(episode.n_way, ncols, figsize=(0.95 * ncols, 1.05 * episode.n_way),
                             squeeze=False)
    for j, row in enumerate(axes):
        images = ([episode.support_x[j * k + i] for i in range(k)] + [None]
                  + [episode.query_x[j * episode.n_query + i] for i in range(n_q)])
        for ax, image in zip(row, images, strict=True):
            ax.set_xticks([])
            ax.set_yticks([])
            if image is None:
                ax.axis("off")
                continue
            ax.imshow(np.squeeze(image), cmap="gray_r")
        name = (class_names[int(episode.classes[j])] if class_names is not None
                else f"class {episode.classes[j]}")
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    axes[0, 0].set_title("support", fontsize=8, loc="left")
    axes[0, k + 1].set_title("queries", fontsize=8, loc="left")
    fig.suptitle(title or f"One {episode.n_way}-way {k}-shot episode")
    fig.tight_layout()
    return fig
