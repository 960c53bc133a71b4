"""Contrastive self-supervised learning (SimCLR) and the linear probe that measures it.

A contrastive learner never sees a label. It takes an image, makes two random *views* of it
(shifted, rotated, zoomed, partly erased), and trains an encoder so that the two views of one
image land close together and far from the views of every other image in the batch. The loss
is NT-Xent (normalised temperature-scaled cross-entropy, also called InfoNCE): for each view, a
softmax over its cosine similarities to the other ``2N - 1`` views of the batch must pick out
its partner.

- :func:`augmenter` — a ``keras.Sequential`` of Keras preprocessing layers that draws a fresh
  random view of every image each time it is called with ``training=True``;
  :func:`two_views` calls it twice.
- :func:`nt_xent` — the NT-Xent loss in ``keras.ops``; :func:`pair_logits` gives the
  similarity logits and the index of each view's partner, :func:`pair_accuracy` how often the
  partner is the most similar view (chance is ``1 / (2N - 1)``).
- :func:`conv_encoder` — a small convolutional encoder for 28 x 28 grey images.
- :class:`SimCLR` — a ``keras.Model`` (encoder + projection head) whose ``train_step`` is one
  contrastive update; ``fit`` reports ``loss`` and ``contrastive_accuracy``.
- :func:`embed`, :func:`linear_probe`, :func:`probe_scorer` — frozen features, and a logistic
  regression trained on them that returns test accuracy; ``probe_scorer`` plugs it into
  :func:`dlbook.learning_curves.learning_curve` to sweep the number of labels.
- :func:`classifier` — an encoder with a softmax layer on top (and optionally the augmenter in
  front), for the supervised baseline or for fine-tuning a pretrained encoder.

Images are ``(n, height, width)`` or ``(n, height, width, channels)`` arrays in [0, 1].

>>> x = np.random.default_rng(0).random((16, 28, 28)).astype("float32")
>>> model = SimCLR(conv_encoder(widths=(4, 8)), projection_dim=8, seed=0)
>>> model.compile(optimizer="adam", run_eagerly=True)
>>> sorted(model.fit(x, epochs=1, batch_size=16, verbose=0).history)
['contrastive_accuracy', 'loss']
>>> embed(model.encoder, x).shape
(16, 8)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlbook.checks import positive_int as _positive_int
from dlbook.checks import unit_batch
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "SimCLR", "augmenter", "classifier", "conv_encoder", "embed", "images", "linear_probe", "nt_xent",
    "pair_accuracy", "pair_logits", "probe_scorer", "two_views",
]


# --- data ---------------------------------------------------------------------------------------


def images(x: Any, what: str = "images") -> np.ndarray:
    """Validate a batch of images in [0, 1] and return it as float32 ``(n, h, w, channels)``
    (a grey ``(n, h, w)`` batch gains a channel axis).

    >>> images(np.zeros((2, 28, 28))).shape
    (2, 28, 28, 1)
    """
    x = unit_batch(x, what, hint="divide 8-bit images by 255", example="image")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"{what} must be shaped (n, height, width) or (n, height, width, "
                         f"channels), got {x.shape}")
    return x


# --- augmentations ------------------------------------------------------------------------------


def _fraction(value: float, what: str, top: float = 1.0) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= top:
        raise ValueError(f"{what} must be a number in [0, {top:g}], got {value!r}; 0 turns "
                         "that augmentation off")
    return float(value)


def augmenter(*, translation: float = 0.1, rotation: float = 0.05, zoom: float = 0.2,
              contrast: float = 0.4, erase: float = 0.5, noise: float = 0.05,
              seed: int | None = None, name: str = "augmenter") -> keras.Sequential:
    """A random view of each image: Keras preprocessing layers in a ``keras.Sequential``.

    In order: ``RandomTranslation`` by up to ``translation`` of the height and width,
    ``RandomRotation`` by up to ``rotation`` of a full turn (0.05 is 18 degrees),
    ``RandomZoom`` in or out by up to ``zoom``, ``RandomContrast`` by a factor in
    ``[1 - contrast, 1 + contrast]``, ``RandomErasing`` of one rectangle (2-20 % of the image)
    with probability ``erase``, and additive ``GaussianNoise`` of standard deviation ``noise``.
    Any of them set to 0 is left out. The layers draw new random numbers on every call, and
    only with ``training=True``; with ``training=False`` the images pass through unchanged.
    Images are ``(n, h, w, channels)`` with values in [0, 1]; the output is clipped to [0, 1].

    >>> aug = augmenter(seed=0)
    >>> x = np.full((4, 28, 28, 1), 0.5, "float32")
    >>> bool(np.allclose(aug(x, training=False), x))
    True
    >>> view = keras.ops.convert_to_numpy(aug(x, training=True))
    >>> view.shape, bool(view.min() >= 0 and view.max() <= 1)
    ((4, 28, 28, 1), True)
    """
    translation = _fraction(translation, "translation", 0.5)
    rotation = _fraction(rotation, "rotation", 0.5)
    zoom = _fraction(zoom, "zoom", 0.9)
    contrast = _fraction(contrast, "contrast")
    erase = _fraction(erase, "erase")
    noise = _fraction(noise, "noise")
    seeds = np.random.default_rng(seed).integers(2**31, size=6).tolist() if seed is not None \
        else [None] * 6
    fill = {"fill_mode": "constant", "fill_value": 0.0}
    layers = []
    if translation:
        layers.append(keras.layers.RandomTranslation(translation, translation, seed=seeds[0],
                                                     **fill))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, seed=seeds[1], **fill))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, zoom, seed=seeds[2], **fill))
    if contrast:
        layers.append(keras.layers.RandomContrast(contrast, value_range=(0, 1), seed=seeds[3]))
    if erase:
        layers.append(keras.layers.RandomErasing(erase, scale=(0.02, 0.2), fill_value=0.0,
                                                 value_range=(0, 1), seed=seeds[4]))
    if noise:
        layers.append(keras.layers.GaussianNoise(noise, seed=seeds[5]))
    layers.append(keras.layers.Lambda(lambda v: ops.clip(v, 0.0, 1.0), name="clip"))
    return keras.Sequential(layers, name=name)


def two_views(augment: Callable, x: Any) -> tuple[Any, Any]:
    """Two independent random views of the same images: ``augment(x, training=True)`` twice.

    >>> a, b = two_views(augmenter(seed=0), np.full((2, 28, 28, 1), 0.5, "float32"))
    >>> a.shape == b.shape, bool(np.abs(np.asarray(a) - np.asarray(b)).max() > 0)
    (True, True)
    """
    return augment(x, training=True), augment(x, training=True)


# --- the NT-Xent (InfoNCE) loss -----------------------------------------------------------------


def _check_temperature(temperature: float) -> float:
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) \
            or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}; SimCLR uses "
                         "0.1-0.5")
    return float(temperature)


def pair_logits(z1, z2, temperature: float = 0.5):
    """Similarity logits of the ``2N`` views of a batch, and the index of each one's partner.

    ``z1[i]`` and ``z2[i]`` are the embeddings of two views of image ``i``. All ``2N`` are
    L2-normalised, stacked (``z1`` first) and compared by cosine similarity divided by
    ``temperature``; each view's similarity to itself is masked out (a very negative logit), so
    row ``k`` is a softmax over the other ``2N - 1`` views whose correct class is the partner:
    ``k + N`` for ``k < N``, ``k - N`` after.

    >>> logits, partner = pair_logits(np.eye(2, 3), np.eye(2, 3), temperature=1.0)
    >>> keras.ops.convert_to_numpy(partner).tolist()
    [2, 3, 0, 1]
    >>> keras.ops.convert_to_numpy(logits)[0].round(1).tolist()
    [-1000000000.0, 0.0, 1.0, 0.0]
    """
    temperature = _check_temperature(temperature)
    z1, z2 = ops.convert_to_tensor(z1, "float32"), ops.convert_to_tensor(z2, "float32")
    if len(z1.shape) != 2 or tuple(z1.shape) != tuple(z2.shape):
        raise ValueError(f"z1 and z2 must be (batch, dim) arrays of one shape, got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    n = ops.shape(z1)[0]
    z = ops.concatenate([z1, z2], axis=0)
    z = z / ops.maximum(ops.norm(z, axis=1, keepdims=True), 1e-12)
    logits = ops.matmul(z, ops.transpose(z)) / temperature
    eye = ops.eye(2 * n, dtype=logits.dtype)
    logits = logits * (1.0 - eye) - 1e9 * eye
    partner = ops.concatenate([ops.arange(n) + n, ops.arange(n)], axis=0)
    return logits, partner


def nt_xent(z1, z2, temperature: float = 0.5):
    """The NT-Xent (InfoNCE) loss of SimCLR: the mean over all ``2N`` views of
    ``-log softmax(similarities / temperature)[partner]`` (see :func:`pair_logits`).

    It is 0 when every view is far more similar to its partner than to anything else, and
    ``log(2N - 1)`` when the embeddings carry no information (all similarities equal).

    >>> same = np.ones((4, 3))
    >>> float(nt_xent(same, same)).__round__(4), float(np.log(7)).__round__(4)
    (1.9459, 1.9459)
    >>> z = np.eye(4)
    >>> bool(nt_xent(z, z, temperature=0.1) < 0.01)
    True
    """
    logits, partner = pair_logits(z1, z2, temperature)
    losses = keras.losses.sparse_categorical_crossentropy(partner, logits, from_logits=True)
    return ops.mean(losses)


def pair_accuracy(z1, z2):
    """Contrastive top-1 accuracy: the share of the ``2N`` views whose most similar other view
    is their partner (chance: ``1 / (2N - 1)``).

    >>> float(pair_accuracy(np.eye(3), np.eye(3)))
    1.0
    """
    logits, partner = pair_logits(z1, z2, 1.0)
    hits = ops.equal(ops.argmax(logits, axis=1), ops.cast(partner, "int64"))
    return ops.mean(ops.cast(hits, "float32"))


# --- encoder and model --------------------------------------------------------------------------


def conv_encoder(input_shape: tuple[int, ...] = (28, 28, 1), widths: tuple[int, ...] = (32, 64, 128),
                 *, bn_momentum: float = 0.9, seed: int | None = None,
                 name: str = "encoder") -> keras.Model:
    """A small convolutional encoder: per width, a 3 x 3 convolution, batch normalisation and
    ReLU, then 2 x 2 max pooling (none after the last); global average pooling gives a
    feature vector of ``widths[-1]`` numbers per image.

    ``bn_momentum`` is 0.9 rather than Keras' 0.99 so that the running statistics used at
    inference catch up within the few hundred steps of a CPU run (with 0.99 they still hold
    half of their initial values after 70 steps, and a briefly trained network predicts
    badly in inference mode).

    >>> conv_encoder(widths=(8, 16)).output_shape
    (None, 16)
    """
    if not widths:
        raise ValueError("widths must list at least one number of channels, e.g. (32, 64, 128)")
    if not isinstance(bn_momentum, (int, float)) or isinstance(bn_momentum, bool) \
            or not 0 <= bn_momentum < 1:
        raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum!r}; 0.9 suits short "
                         "runs, 0.99 long ones")
    widths = tuple(_positive_int(w, "each width") for w in widths)
    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    h = inputs
    for i, width in enumerate(widths):
        h = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                                kernel_initializer=init, name=f"conv{i + 1}")(h)
        h = keras.layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i + 1}")(h)
        h = keras.layers.ReLU(name=f"relu{i + 1}")(h)
        if i < len(widths) - 1:
            h = keras.layers.MaxPooling2D(name=f"pool{i + 1}")(h)
    outputs = keras.layers.GlobalAveragePooling2D(name="features")(h)
    return keras.Model(inputs, outputs, name=name)


def classifier(encoder: keras.Model, n_classes: int, *, augment: Callable | None = None,
               name: str = "classifier") -> keras.Model:
    """``encoder`` followed by a ``Dense(n_classes)`` softmax layer: a supervised model on the
    same features. With ``augment`` (e.g. :func:`augmenter`) the images get a random view
    during training only, the same prior the contrastive learner had. The encoder is shared,
    not copied: set ``encoder.trainable = False`` first to train only the new layer.

    >>> model = classifier(conv_encoder(widths=(4, 8)), 10, augment=augmenter(seed=0))
    >>> model.output_shape
    (None, 10)
    """
    if not isinstance(encoder, keras.Model):
        raise TypeError(f"encoder must be a keras.Model (e.g. conv_encoder()), got "
                        f"{type(encoder).__name__}")
    n_classes = _positive_int(n_classes, "n_classes")
    inputs = keras.Input(shape=encoder.input_shape[1:], name="image")
    h = augment(inputs) if augment is not None else inputs
    h = encoder(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="label")(h)
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="dlbook")
class SimCLR(keras.Model):
    """SimCLR (Chen et al., 2020): an encoder and a projection head trained with NT-Xent on two
    augmented views of each image; no labels.

    ``encoder`` maps images to feature vectors (the part kept afterwards). The projection head
    is a ``Dense(hidden)``–ReLU–``Dense(projection_dim)`` MLP (``hidden`` defaults to the
    encoder's output size); the loss is computed on its output, which SimCLR found leaves more
    information in the features below it. ``augment`` is the view maker (default
    :func:`augmenter`). Calling the model returns the encoder's features.

    Compile with an optimizer only (the loss is built in) and ``fit(x)`` on unlabelled images
    (labels, if given, are ignored). Each step reports ``loss`` (NT-Xent) and
    ``contrastive_accuracy`` (:func:`pair_accuracy`); ``validation_data=x_val`` reports both
    on fresh views of held-out images.
    """

    def __init__(self, encoder: keras.Model, projection_dim: int = 64, *, hidden: int | None = None,
                 augment: Callable | None = None, temperature: float = 0.5,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model):
            raise TypeError(f"encoder must be a keras.Model (e.g. conv_encoder()), got "
                            f"{type(encoder).__name__}")
        self.encoder = encoder
        self.temperature = _check_temperature(temperature)
        self.projection_dim = _positive_int(projection_dim, "projection_dim")
        features = int(encoder.output_shape[-1])
        self.hidden = features if hidden is None else _positive_int(hidden, "hidden")
        self.augment = augment if augment is not None else augmenter(seed=seed)
        if isinstance(self.augment, keras.layers.Layer) and not self.augment.built:
            self.augment.build(encoder.input_shape)
        init = keras.initializers.GlorotUniform
        self.projector = keras.Sequential([
            keras.Input(shape=(features,)),
            keras.layers.Dense(self.hidden, activation="relu", kernel_initializer=init(seed)),
            keras.layers.Dense(self.projection_dim,
                               kernel_initializer=init(None if seed is None else seed + 1)),
        ], name="projector")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="contrastive_accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def call(self, x, training: bool = False):
        return self.encoder(x, training=training)

    def project(self, x, training: bool = False):
        """The projection head's output ``z`` for images ``x`` (what the loss compares)."""
        return self.projector(self.encoder(x, training=training), training=training)

    def _views_loss(self, x, training: bool):
        v1, v2 = two_views(self.augment, x)
        z1, z2 = self.project(v1, training), self.project(v2, training)
        return nt_xent(z1, z2, self.temperature), z1, z2

    def _report(self, loss, z1, z2):
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(pair_accuracy(z1, z2))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        import tensorflow as tf  # the TensorFlow backend; the maths stays in keras.ops

        x = data[0] if isinstance(data, (tuple, list)) else data
        weights = self.encoder.trainable_weights + self.projector.trainable_weights
        with tf.GradientTape() as tape:
            loss, z1, z2 = self._views_loss(x, training=True)
        self.optimizer.apply(tape.gradient(loss, weights), weights)
        return self._report(loss, z1, z2)

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self._report(*self._views_loss(x, training=False))

    def fit(self, x=None, y=None, *, validation_data=None, **kwargs):
        """``keras.Model.fit`` on unlabelled images, checked and given a channel axis first."""
        if x is not None and not hasattr(x, "element_spec"):     # arrays, not a tf.data set
            x = images(x)
        if validation_data is not None and not hasattr(validation_data, "element_spec"):
            if isinstance(validation_data, (tuple, list)):
                validation_data = validation_data[0]
            validation_data = (images(validation_data, "validation_data"),)
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def get_config(self):
        return {**super().get_config(), "projection_dim": self.projection_dim,
                "hidden": self.hidden, "temperature": self.temperature,
                "encoder": keras.saving.serialize_keras_object(self.encoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


# --- features and the linear probe --------------------------------------------------------------


def embed(encoder: Callable, x: Any, *, batch_size: int = 512) -> np.ndarray:
    """Frozen features of images ``x``: ``encoder(x, training=False)`` batch by batch, as a
    float32 NumPy array ``(n, features)``.

    >>> embed(conv_encoder(widths=(4,)), np.zeros((3, 28, 28))).shape
    (3, 4)
    """
    x = images(x)
    batch_size = _positive_int(batch_size, "batch_size")
    parts = [keras.ops.convert_to_numpy(encoder(x[i:i + batch_size], training=False))
             for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).reshape(len(x), -1).astype("float32")


def _features(x: Any, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiub" or x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{what} must be a non-empty numeric batch (n, features) (images are "
                         f"flattened), got dtype {x.dtype} and shape {x.shape}")
    x = x.reshape(len(x), -1).astype("float64")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or inf values")
    return x


def linear_probe(train_features: Any, y_train: Any, test_features: Any, y_test: Any, *,
                 c: float = 1.0, max_iter: int = 2000) -> float:
    """Test accuracy of a logistic regression fitted on frozen features: the standard measure of
    what a self-supervised encoder has learned (features are standardised first; ``c`` is the
    inverse L2 penalty). Images or any ``(n, ...)`` arrays are flattened.

    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(200) % 2
    >>> f = rng.normal(size=(200, 5)) + y[:, None]
    >>> linear_probe(f[:100], y[:100], f[100:], y[100:]) > 0.8
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = _features(train_features, "train_features"), _features(test_features,
                                                                         "test_features")
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"train and test features differ in size ({train.shape[1]} vs "
                         f"{test.shape[1]}); embed both with the same encoder")
    if len(y_train) != len(train) or len(y_test) != len(test):
        raise ValueError("each feature row needs one label: got "
                         f"{len(train)}/{len(y_train)} (train) and {len(test)}/{len(y_test)} (test)")
    if len(np.unique(y_train)) < 2:
        raise ValueError("the probe needs at least two classes among the training labels")
    if not isinstance(c, (int, float)) or isinstance(c, bool) or not c > 0:
        raise ValueError(f"c (inverse regularisation strength) must be > 0, got {c!r}")
    from threadpoolctl import threadpool_limits

    probe = make_pipeline(StandardScaler(),
                          LogisticRegression(C=float(c), max_iter=_positive_int(max_iter,
                                                                                "max_iter")))
    with threadpool_limits(1):   # small problems: extra BLAS threads only contend with Keras
        probe.fit(train, y_train)
        return float(probe.score(test, y_test))


def probe_scorer(*, c: float = 1.0, max_iter: int = 2000) -> Callable[[Any], float]:
    """A fit-and-score function for :func:`dlbook.learning_curves.learning_curve`: a
    :func:`linear_probe` on ``part.x_train`` / ``part.x_test``. Give ``learning_curve`` a
    Dataset whose inputs are already the frozen features (``dataclasses.replace(ds,
    x_train=embed(enc, ds.x_train), x_test=embed(enc, ds.x_test))``), so the encoder runs once
    and only the probe is refitted for each label count.

    >>> from dlbook import data, learning_curves
    >>> digits = data.load("digits")
    >>> curve = learning_curves.learning_curve({"pixels": probe_scorer()}, [50, 500], digits)
    >>> bool(curve.score.iloc[1] > curve.score.iloc[0] > 0.5)
    True
    """
    def score(part: Any) -> float:
        return linear_probe(part.x_train, part.y_train, part.x_test, part.y_test, c=c,
                            max_iter=max_iter)

    return score
