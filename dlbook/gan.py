"""Generative adversarial networks (Goodfellow et al., 2014) in the DCGAN shape (Radford, Metz
and Chintala, 2016): a generator that turns noise into images, a discriminator that tells real
images from generated ones, and one ``train_step`` that updates both with their own optimisers.

The discriminator ``D`` outputs a logit ``l``; ``sigmoid(l)`` is its belief that an image is real.
Per batch, ``D`` minimises the binary cross-entropy of real images labelled 1 and generated images
labelled 0. The generator ``G`` then takes one (or ``g_steps``) steps on the **non-saturating**
loss ``-log D(G(z))`` (Goodfellow et al., 2014, section 3): the original minimax loss
``log(1 - D(G(z)))`` has almost no gradient exactly when ``G`` is bad and ``D`` is sure, at the
start of training. Images are grey, in [0, 1] outside the model and in [-1, 1] inside it (the
generator ends with ``tanh``, as in DCGAN).

>>> keras.utils.set_random_seed(0)
>>> gan = GAN(build_generator(8, image_shape=(8, 8), filters=8),
...           build_discriminator(image_shape=(8, 8), filters=(4, 8)))
>>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4),
...             g_optimizer=keras.optimizers.Adam(2e-4))
>>> x = np.random.default_rng(0).random((16, 8, 8)).astype("float32")
>>> sorted(gan.fit(x, epochs=1, batch_size=8, verbose=0).history)
['d_fake', 'd_loss', 'd_real', 'g_loss']
>>> gan.generate(3, seed=0).shape
(3, 8, 8)
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "CHECKPOINT_CODE", "CHECKPOINT_NAME", "GAN", "Snapshots", "build_discriminator",
    "build_generator", "discriminator_loss", "generator_loss", "pixel_gaussian", "pretrained",
    "train_checkpoint",
]

CHECKPOINT_NAME = "dcgan-mnist"
CHECKPOINT_CODE = ("GAN", "build_generator", "build_discriminator", "discriminator_loss",
                   "generator_loss", "_build", "train_checkpoint")
CHECKPOINT_LATENT = 100
GENERATOR_LOSSES = ("non-saturating", "minimax")


def _check_shape(image_shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or shape[0] % 4 or shape[1] % 4:
        raise ValueError(f"image_shape must be (height, width) or (height, width, channels) "
                         f"with height and width multiples of 4 (two stride-2 stages), got "
                         f"{image_shape!r}; pad the images, e.g. 30×30 -> 32×32")
    return shape


def _check_positive_int(value, what: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


def build_generator(latent_dim: int = CHECKPOINT_LATENT, *, image_shape=(28, 28),
                    filters: int = 128) -> keras.Model:
    """The DCGAN generator: a dense layer to a (height/4, width/4, ``filters``) map, a stride-2
    transposed convolution to ``filters // 2`` maps (batch normalisation and LeakyReLU after
    both), and a stride-2 transposed convolution with ``tanh`` to pixels in [-1, 1].

    >>> tuple(build_generator(16)(np.zeros((2, 16))).shape)
    (2, 28, 28, 1)
    """
    latent_dim, shape = _check_positive_int(latent_dim, "latent_dim"), _check_shape(image_shape)
    filters = _check_positive_int(filters, "filters")
    h0, w0 = shape[0] // 4, shape[1] // 4
    inputs = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(h0 * w0 * filters, use_bias=False)(inputs)
    h = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(h))
    h = keras.layers.Reshape((h0, w0, filters))(h)
    h = keras.layers.Conv2DTranspose(filters // 2 or 1, 4, strides=2, padding="same",
                                     use_bias=False)(h)
    h = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(h))
    outputs = keras.layers.Conv2DTranspose(shape[2], 4, strides=2, padding="same",
                                           activation="tanh", name="pixels")(h)
    return keras.Model(inputs, outputs, name="generator")


def build_discriminator(*, image_shape=(28, 28), filters=(64, 128),
                        dropout: float = 0.3) -> keras.Model:
    """The DCGAN discriminator: two stride-2 4×4 convolutions with LeakyReLU, dropout, and a
    dense layer to one logit per image (``sigmoid(logit)`` = probability "real"). Its input is
    an image in [-1, 1].

    >>> tuple(build_discriminator()(np.zeros((2, 28, 28, 1))).shape)
    (2, 1)
    """
    shape = _check_shape(image_shape)
    if not 0 <= float(dropout) < 1:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
    inputs = keras.Input(shape, name="image")
    h = inputs
    for f in filters:
        h = keras.layers.Conv2D(f, 4, strides=2, padding="same")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Dropout(dropout)(keras.layers.Flatten()(h))
    outputs = keras.layers.Dense(1, name="logit")(h)
    return keras.Model(inputs, outputs, name="discriminator")


def discriminator_loss(real_logits, fake_logits, *, smoothing: float = 0.0):
    """Binary cross-entropy of real images labelled ``1 - smoothing`` and generated images
    labelled 0, the two halves averaged and added: ``2 log 2 ≈ 1.386`` when the discriminator
    cannot tell them apart (every logit 0).

    >>> round(float(discriminator_loss(np.zeros((4, 1)), np.zeros((4, 1)))), 3)
    1.386
    """
    real_logits, fake_logits = ops.convert_to_tensor(real_logits), ops.convert_to_tensor(
        fake_logits)
    real = ops.binary_crossentropy((1.0 - smoothing) * ops.ones_like(real_logits), real_logits,
                                   from_logits=True)
    fake = ops.binary_crossentropy(ops.zeros_like(fake_logits), fake_logits, from_logits=True)
    return ops.mean(real) + ops.mean(fake)


def generator_loss(fake_logits, kind: str = "non-saturating"):
    """The generator's loss on the discriminator's logits ``l`` for generated images.
    ``"non-saturating"``: ``-log D(G(z)) = softplus(-l)``, steep when ``D`` rejects the fakes.
    ``"minimax"``: ``log(1 - D(G(z))) = -softplus(l)``, the original game, flat there.

    >>> l = np.array([[-5.0]])          # the discriminator is sure this fake is fake
    >>> round(float(generator_loss(l)), 3), round(float(generator_loss(l, "minimax")), 3)
    (5.007, -0.007)
    """
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"unknown generator loss {kind!r}; use one of {GENERATOR_LOSSES}")
    fake_logits = ops.convert_to_tensor(fake_logits)
    if kind == "non-saturating":
        return ops.mean(ops.softplus(-fake_logits))
    return -ops.mean(ops.softplus(fake_logits))


@keras.saving.register_keras_serializable(package="dlbook")
class GAN(keras.Model):
    """A GAN with its own ``train_step``: per batch, one discriminator step and ``g_steps``
    generator steps, each network with its own optimiser (``compile(d_optimizer=...,
    g_optimizer=...)``). The first generator step shares the discriminator step's forward pass
    (both networks move at once, as in the TensorFlow DCGAN tutorial); further ones each draw
    new noise against the updated discriminator.

    ``fit(x)`` needs only images, ``(n, h, w)`` or ``(n, h, w, 1)`` floats in [0, 1]. The
    tracked metrics are ``d_loss`` (:func:`discriminator_loss`), ``g_loss``
    (:func:`generator_loss` of ``loss``), and ``d_real`` / ``d_fake``: the discriminator's mean
    probability "real" for the real and the generated images of the batch (0.5 / 0.5 when it
    is fooled, 1 / 0 when it wins). ``smoothing`` lowers the real label (one-sided label
    smoothing, Salimans et al., 2016).

    >>> gan = GAN(build_generator(16), build_discriminator())
    >>> gan.latent_dim, gan.image_shape
    (16, (28, 28, 1))
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 loss: str = "non-saturating", g_steps: int = 1, smoothing: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(generator, keras.Model) or len(generator.inputs) != 1:
            raise ValueError("generator must be a keras.Model with one input (the noise z), "
                             "e.g. gan.build_generator(latent_dim)")
        if not isinstance(discriminator, keras.Model):
            raise ValueError("discriminator must be a keras.Model from images to one logit, "
                             "e.g. gan.build_discriminator()")
        made = tuple(generator.outputs[0].shape[1:])
        seen = tuple(discriminator.inputs[0].shape[1:])
        if made != seen:
            raise ValueError(f"the generator makes images of shape {made} but the "
                             f"discriminator reads {seen}; build both with the same "
                             f"image_shape")
        if loss not in GENERATOR_LOSSES:
            raise ValueError(f"unknown generator loss {loss!r}; use one of {GENERATOR_LOSSES}")
        if not 0 <= float(smoothing) < 1:
            raise ValueError(f"smoothing must lie in [0, 1), got {smoothing!r}")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.image_shape = made
        self.loss_kind = loss
        self.g_steps = _check_positive_int(g_steps, "g_steps")
        self.smoothing = float(smoothing)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.seeds = keras.random.SeedGenerator(0)
        self.built = True  # both networks arrive built; the GAN itself has no weights

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Give each network its own optimiser (default: Adam(2e-4, beta_1=0.5), as DCGAN)."""
        super().compile(**kwargs)

        def adam():
            return keras.optimizers.Adam(2e-4, beta_1=0.5)

        self.d_optimizer = d_optimizer or adam()
        self.g_optimizer = g_optimizer or adam()

    @property
    def metrics(self):
        return list(self.trackers.values())

    def noise(self, n: int, *, seed: int = 0) -> np.ndarray:
        """``n`` latent vectors from N(0, I), ``(n, latent_dim)`` float32, from ``seed``."""
        n = _check_positive_int(n, "n")
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, self.latent_dim)).astype("float32")

    def decode(self, z, *, batch: int = 500) -> np.ndarray:
        """Images ``(n, h, w)`` in [0, 1] for latent vectors ``z`` ``(n, latent_dim)``."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"latent vectors must have shape (n, {self.latent_dim}), got "
                             f"{z.shape}")
        parts = [ops.convert_to_numpy(self.generator(z[i:i + batch], training=False))
                 for i in range(0, len(z), batch)]
        images = (np.concatenate(parts) + 1.0) / 2.0
        return np.clip(images, 0.0, 1.0)[..., 0] if images.shape[-1] == 1 else images

    def generate(self, n: int, *, seed: int = 0) -> np.ndarray:
        """``n`` new images ``(n, h, w)`` in [0, 1], from noise drawn with ``seed``."""
        return self.decode(self.noise(n, seed=seed))

    def call(self, z, training=False):
        """Generated images in [-1, 1] for latent vectors ``z``."""
        return self.generator(z, training=training)

    def _real(self, x):
        x = ops.convert_to_tensor(x, dtype="float32")
        x = ops.expand_dims(x, -1) if len(x.shape) == 3 else x
        return 2.0 * x - 1.0

    def train_step(self, data):
        import tensorflow as tf

        real = self._real(data[0] if isinstance(data, tuple) else data)
        batch = ops.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seeds)
        # one forward pass serves the discriminator's step and the generator's first step
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = discriminator_loss(real_logits, fake_logits, smoothing=self.smoothing)
            g_loss = generator_loss(fake_logits, self.loss_kind)
        self._apply(self.d_optimizer, d_tape, d_loss, self.discriminator)
        self._apply(self.g_optimizer, g_tape, g_loss, self.generator)
        for _ in range(self.g_steps - 1):  # extra generator steps against the same D
            z = keras.random.normal((batch, self.latent_dim), seed=self.seeds)
            with tf.GradientTape() as g_tape:
                logits = self.discriminator(self.generator(z, training=True), training=True)
                g_loss = generator_loss(logits, self.loss_kind)
            self._apply(self.g_optimizer, g_tape, g_loss, self.generator)
        values = {"d_loss": d_loss, "g_loss": g_loss,
                  "d_real": ops.mean(ops.sigmoid(real_logits)),
                  "d_fake": ops.mean(ops.sigmoid(fake_logits))}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    @staticmethod
    def _apply(optimizer, tape, loss, network: keras.Model) -> None:
        weights = network.trainable_weights
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))

    def get_config(self):
        return {**super().get_config(), "loss": self.loss_kind, "g_steps": self.g_steps,
                "smoothing": self.smoothing,
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)


class Snapshots(keras.callbacks.Callback):
    """Watch a GAN learn: before training and every ``every`` epochs, decode the same fixed
    latent batch ``z`` (so the grids show the *same* samples changing) and, if ``score`` is
    given, call it on ``n_score`` fresh samples (e.g. ``judge.coverage``).

    After ``fit``: ``epochs`` (0 = before training), ``images`` (one ``(len(z), h, w)`` array
    per entry) and ``scores`` (one dict per entry, empty without ``score``).

    >>> Snapshots(np.zeros((4, 8)), every=2).every
    2
    """

    def __init__(self, z, *, every: int = 1, score: Callable[[np.ndarray], dict] | None = None,
                 n_score: int = 500, seed: int = 1):
        super().__init__()
        self.z = np.asarray(z, dtype="float32")
        if self.z.ndim != 2:
            raise ValueError(f"z must be a (n, latent_dim) batch of latent vectors, got shape "
                             f"{self.z.shape}; use gan.noise(n)")
        self.every = _check_positive_int(every, "every")
        self.n_score = _check_positive_int(n_score, "n_score")
        self.score, self.seed = score, seed
        self.epochs: list[int] = []
        self.images: list[np.ndarray] = []
        self.scores: list[dict] = []

    def _record(self, epoch: int) -> None:
        if self.epochs and self.epochs[-1] == epoch:
            return
        self.epochs.append(epoch)
        self.images.append(self.model.decode(self.z))
        if self.score is not None:
            self.scores.append(dict(self.score(self.model.generate(self.n_score,
                                                                   seed=self.seed))))

    def on_train_begin(self, logs=None):
        if not self.epochs:
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self._record(epoch + 1)


def pixel_gaussian(x, n: int, *, seed: int = 0) -> np.ndarray:
    """The baseline generator: fit one multivariate Gaussian to the pixels of the training
    images ``x`` (mean image and full covariance), draw ``n`` images from it, clip to [0, 1].
    It knows every pixel's brightness and which pixels go together, nothing more.

    >>> x = np.random.default_rng(0).random((50, 4, 4))
    >>> pixel_gaussian(x, 3).shape
    (3, 4, 4)
    """
    x = np.asarray(x, dtype="float64")
    if x.ndim not in (3, 4) or len(x) < 2:
        raise ValueError(f"x must be at least 2 images shaped (n, h, w) or (n, h, w, c), got "
                         f"shape {x.shape}")
    n = _check_positive_int(n, "n")
    flat = x.reshape(len(x), -1)
    rng = np.random.default_rng(seed)
    samples = rng.multivariate_normal(flat.mean(axis=0), np.cov(flat, rowvar=False), size=n,
                                      method="eigh")
    return np.clip(samples, 0.0, 1.0).reshape(n, *x.shape[1:]).astype("float32")


def _build(latent_dim: int = CHECKPOINT_LATENT) -> GAN:
    return GAN(build_generator(latent_dim), build_discriminator(), name="dcgan_mnist")


def train_checkpoint(*, epochs: int = 40, batch: int = 64, seed: int = 42) -> tuple[
        keras.Model, dict]:
    """Train the chapter's DCGAN on MNIST-5k at the full profile, from scratch and seeded
    (default Adam(2e-4, beta_1=0.5) for both networks); return the **generator** (all that
    sampling needs) and the recipe the checkpoint records."""
    from dlbook import data

    ds = data.load("mnist-5k")
    keras.utils.set_random_seed(seed)
    gan = _build()
    gan.compile()
    start = time.perf_counter()
    history = gan.fit(ds.x_train[..., None], epochs=epochs, batch_size=batch, verbose=0,
                      shuffle=True)
    seconds = time.perf_counter() - start
    steps = epochs * -(-len(ds.x_train) // batch)
    recipe = {
        "data": "mnist-5k x_train (4,000 images)", "model": "DCGAN generator",
        "latent_dim": CHECKPOINT_LATENT, "epochs": epochs, "batch": batch, "steps": steps,
        "optimizer": "Adam(2e-4, beta_1=0.5) for G and D", "loss": gan.loss_kind,
        "g_steps": gan.g_steps, "smoothing": gan.smoothing, "seed": seed,
        "train_seconds": round(seconds, 1),
        "final_train": {k: round(float(v[-1]), 3) for k, v in history.history.items()},
        "generator_parameters": gan.generator.count_params(),
        "discriminator_parameters": gan.discriminator.count_params(),
    }
    return gan.generator, recipe


def pretrained() -> GAN:
    """The DCGAN generator the project trained itself with :func:`train_checkpoint`, loaded
    from ``dlbook/checkpoints/dcgan-mnist`` (sha256 and code hash verified), inside a
    :class:`GAN` with a fresh, untrained discriminator: use ``generate`` / ``decode``."""
    from dlbook import checkpoints

    gan = _build()
    checkpoints.load(gan.generator, CHECKPOINT_NAME)
    return gan
