"""Variational autoencoders (Kingma and Welling, 2014): an encoder that maps an image to a
Gaussian over codes, the reparameterisation trick, and the ELBO trained in a custom
``train_step``.

The encoder gives a mean ``mu`` and a log-variance ``log_var`` for every image; a code is drawn
as ``z = mu + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)``, so the randomness sits in ``eps``
and gradients flow through ``mu`` and ``log_var``. The decoder gives Bernoulli logits for every
pixel. The loss, per image in nats, is the negative ELBO

    -ELBO = reconstruction + beta * KL(q(z | x) || N(0, I))

with ``reconstruction`` the summed binary cross-entropy of the pixels and the KL term in closed
form. ``beta=1`` is the VAE; ``beta=0, sample=False`` switches off both of its ingredients and
leaves a plain autoencoder with the same networks (the chapter's baseline).

>>> keras.utils.set_random_seed(0)
>>> model = VAE(build_encoder(2), build_decoder(2))
>>> model.compile(optimizer="adam")
>>> x = np.random.default_rng(0).random((8, 28, 28)).astype("float32")
>>> history = model.fit(x, epochs=1, batch_size=8, verbose=0)
>>> sorted(history.history)
['kl', 'loss', 'reconstruction']
>>> model.generate(3, seed=0).shape
(3, 28, 28)
"""

from __future__ import annotations

import time

import numpy as np

from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "CHECKPOINT_CODE", "CHECKPOINT_NAME", "VAE", "build_decoder", "build_encoder",
    "diagram", "gaussian_kl", "interpolate", "latent_grid", "pretrained", "train_checkpoint",
]

CHECKPOINT_NAME = "vae-mnist"
CHECKPOINT_CODE = ("VAE", "gaussian_kl", "build_encoder", "build_decoder", "_build",
                   "train_checkpoint")
CHECKPOINT_LATENT = 16


def _check_shape(image_shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or shape[0] % 4 or shape[1] % 4:
        raise ValueError(f"image_shape must be (height, width) or (height, width, channels) "
                         f"with height and width multiples of 4 (two stride-2 stages), got "
                         f"{image_shape!r}; pad the images, e.g. 30×30 -> 32×32")
    return shape


def _check_latent(latent_dim) -> int:
    if not isinstance(latent_dim, (int, np.integer)) or isinstance(latent_dim, bool) \
            or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
    return int(latent_dim)


def build_encoder(latent_dim: int, *, image_shape=(28, 28), filters=(32, 64),
                  hidden: int = 128) -> keras.Model:
    """Two stride-2 convolutions, a dense layer, then two heads: ``mu`` and ``log_var``, each
    ``(batch, latent_dim)``.

    >>> [tuple(t.shape) for t in build_encoder(4)(np.zeros((2, 28, 28, 1)))]
    [(2, 4), (2, 4)]
    """
    latent_dim, shape = _check_latent(latent_dim), _check_shape(image_shape)
    inputs = keras.Input(shape, name="image")
    h = inputs
    for f in filters:
        h = keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Dense(hidden, activation="relu")(keras.layers.Flatten()(h))
    mu = keras.layers.Dense(latent_dim, name="mu")(h)
    log_var = keras.layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(inputs, [mu, log_var], name="encoder")


def build_decoder(latent_dim: int, *, image_shape=(28, 28), filters=(64, 32)) -> keras.Model:
    """A dense layer to a (height/4, width/4) map, two stride-2 transposed convolutions, and a
    convolution to one logit per pixel (apply a sigmoid for pixel probabilities).

    >>> tuple(build_decoder(4)(np.zeros((2, 4))).shape)
    (2, 28, 28, 1)
    """
    latent_dim, shape = _check_latent(latent_dim), _check_shape(image_shape)
    h0, w0 = shape[0] // 4, shape[1] // 4
    inputs = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(h0 * w0 * filters[0], activation="relu")(inputs)
    h = keras.layers.Reshape((h0, w0, filters[0]))(h)
    for f in filters:
        h = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same",
                                         activation="relu")(h)
    logits = keras.layers.Conv2D(shape[2], 3, padding="same", name="logits")(h)
    return keras.Model(inputs, logits, name="decoder")


def gaussian_kl(mu, log_var):
    """KL(N(mu, diag(exp(log_var))) || N(0, I)) per row, in nats, in closed form:
    ``0.5 * sum(mu^2 + exp(log_var) - log_var - 1)``.

    >>> float(gaussian_kl(np.zeros((1, 3)), np.zeros((1, 3)))[0])   # q equal to the prior
    0.0
    """
    mu, log_var = ops.convert_to_tensor(mu), ops.convert_to_tensor(log_var)
    return 0.5 * ops.sum(ops.square(mu) + ops.exp(log_var) - log_var - 1.0, axis=-1)


@keras.saving.register_keras_serializable(package="dlbook")
class VAE(keras.Model):
    """A variational autoencoder with its own ``train_step`` and ``test_step``.

    ``fit(x)`` needs only images, ``(n, h, w)`` or ``(n, h, w, 1)`` floats in [0, 1]. The
    tracked metrics are ``loss`` (the negative ELBO, nats per image, when ``beta=1``),
    ``reconstruction`` and ``kl``; ``evaluate`` gives the same on held-out images (one sample
    of ``z`` per image). ``beta`` weighs the KL term; ``sample=False`` uses ``z = mu`` (no
    noise), so ``VAE(enc, dec, beta=0, sample=False)`` is a plain autoencoder.

    >>> model = VAE(build_encoder(2), build_decoder(2))
    >>> model.encode(np.zeros((5, 28, 28)))[0].shape
    (5, 2)
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *, beta: float = 1.0,
                 sample: bool = True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model) or len(encoder.outputs) != 2:
            raise ValueError("encoder must be a keras.Model with two outputs (mu, log_var), "
                             "e.g. vae.build_encoder(latent_dim)")
        latent = encoder.outputs[0].shape[-1]
        if tuple(decoder.inputs[0].shape[1:]) != (latent,):
            raise ValueError(f"the encoder makes {latent}-D codes but the decoder expects "
                             f"inputs of shape {tuple(decoder.inputs[0].shape[1:])}; build both "
                             f"with the same latent_dim")
        if not float(beta) >= 0:
            raise ValueError(f"beta must be a non-negative number, got {beta!r}")
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim = int(latent)
        self.image_shape = tuple(encoder.inputs[0].shape[1:])
        self.beta, self.sample = float(beta), bool(sample)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "reconstruction", "kl")}
        self.seeds = keras.random.SeedGenerator(0)
        self.built = True  # the encoder and decoder arrive built; nothing else has weights

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _images(self, x):
        x = ops.convert_to_tensor(x, dtype="float32")
        return ops.expand_dims(x, -1) if len(x.shape) == 3 else x

    def encode(self, x) -> tuple[np.ndarray, np.ndarray]:
        """The Gaussian of every image's code: ``(mu, log_var)`` as NumPy arrays."""
        mu, log_var = self.encoder(self._images(_check_images(x)), training=False)
        return ops.convert_to_numpy(mu), ops.convert_to_numpy(log_var)

    def decode(self, z) -> np.ndarray:
        """Pixel probabilities ``(n, h, w)`` in [0, 1] for codes ``z`` ``(n, latent_dim)``."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"codes must have shape (n, {self.latent_dim}), got {z.shape}")
        probs = ops.sigmoid(self.decoder(z, training=False))
        return ops.convert_to_numpy(probs)[..., 0]

    def generate(self, n: int, *, seed: int = 0) -> np.ndarray:
        """``n`` new images: codes drawn from the prior N(0, I), decoded to probabilities."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        return self.decode(z)

    def call(self, x, training=False):
        """Reconstruction probabilities, decoded from ``mu`` (no noise)."""
        mu, _ = self.encoder(self._images(x), training=training)
        return ops.sigmoid(self.decoder(mu, training=training))

    def elbo_terms(self, x, training=False):
        """Per-image ``(reconstruction, kl)`` in nats, with one reparameterised sample."""
        x = self._images(x)
        mu, log_var = self.encoder(x, training=training)
        z = mu
        if self.sample:  # the reparameterisation trick: the noise is an input, not a weight
            eps = keras.random.normal(ops.shape(mu), seed=self.seeds)
            z = mu + ops.exp(0.5 * log_var) * eps
        logits = self.decoder(z, training=training)
        pixels = ops.binary_crossentropy(x, logits, from_logits=True)
        reconstruction = ops.sum(ops.reshape(pixels, (ops.shape(x)[0], -1)), axis=1)
        return reconstruction, gaussian_kl(mu, log_var)

    def _update(self, reconstruction, kl, loss):
        for name, value in (("loss", loss), ("reconstruction", reconstruction), ("kl", kl)):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def train_step(self, data):
        import tensorflow as tf

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            reconstruction, kl = self.elbo_terms(x, training=True)
            loss = ops.mean(reconstruction + self.beta * kl)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self._update(ops.mean(reconstruction), ops.mean(kl), loss)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        reconstruction, kl = self.elbo_terms(x, training=False)
        loss = ops.mean(reconstruction + self.beta * kl)
        return self._update(ops.mean(reconstruction), ops.mean(kl), loss)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "sample": self.sample,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def _check_images(x) -> np.ndarray:
    x = np.asarray(x, dtype="float32")
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 1):
        raise ValueError(f"images must have shape (n, h, w) or (n, h, w, 1), got {x.shape}")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"pixel values must lie in [0, 1], got {x.min():.3g} to "
                         f"{x.max():.3g}; divide 8-bit images by 255")
    return x


def interpolate(model: VAE, a, b, steps: int = 8) -> np.ndarray:
    """Decode ``steps`` codes on the straight line from image ``a``'s code ``mu`` to ``b``'s:
    ``(steps, h, w)``, the first and last being the two reconstructions."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the two ends), got {steps!r}")
    mu, _ = model.encode(np.stack([a, b]))
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return model.decode((1 - t) * mu[0] + t * mu[1])


def latent_grid(model: VAE, n: int = 15, *, quantile: float = 0.05) -> np.ndarray:
    """The decoded manifold of a 2-D VAE: an ``n``×``n`` grid of codes at the prior's quantiles
    from ``quantile`` to ``1 - quantile`` (equal prior mass between neighbours), decoded and
    tiled into one ``(n*h, n*w)`` image; the first code axis runs left to right, the second
    bottom to top."""
    from scipy.stats import norm

    if model.latent_dim != 2:
        raise ValueError(f"latent_grid needs a 2-D latent space, this VAE has "
                         f"{model.latent_dim}; use interpolate() or generate() instead")
    values = norm.ppf(np.linspace(quantile, 1 - quantile, n))
    z1, z2 = np.meshgrid(values, values[::-1])
    images = model.decode(np.stack([z1.ravel(), z2.ravel()], axis=1))
    h, w = images.shape[1:]
    return images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)


def diagram():
    """A picture of the VAE: encoder -> (mu, log_var) -> z = mu + sigma * eps -> decoder, and
    the two terms of the loss. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 3.4))
    ax.set(xlim=(0, 11), ylim=(0, 3.2), xticks=[], yticks=[])
    ax.axis("off")
    boxes = {"x": (0.6, 2.2, "image $x$\n28×28"), "enc": (2.3, 2.2, "encoder\n$q(z\\mid x)$"),
             "mu": (4.0, 2.7, "mean $\\mu$"), "lv": (4.0, 1.7, "log-variance\n$\\log\\sigma^2$"),
             "z": (6.0, 2.2, "$z = \\mu + \\sigma \\odot \\varepsilon$"),
             "eps": (6.0, 1.0, "noise $\\varepsilon \\sim \\mathcal{N}(0, I)$"),
             "dec": (8.0, 2.2, "decoder\n$p(x\\mid z)$"), "out": (9.9, 2.2, "pixel\nprobabilities")}
    for key, (x, y, text) in boxes.items():
        colour = {"eps": "#fde8c8", "z": "#d8ecd8"}.get(key, "#dde6f3")
        ax.text(x, y, text, ha="center", va="center", fontsize=10,
                bbox={"boxstyle": "round,pad=0.45", "fc": colour, "ec": "0.4"})
    for a, b in [("x", "enc"), ("enc", "mu"), ("enc", "lv"), ("mu", "z"), ("lv", "z"),
                 ("eps", "z"), ("z", "dec"), ("dec", "out")]:
        (x0, y0, _), (x1, y1, _) = boxes[a], boxes[b]
        ax.annotate("", (x1, y1), (x0, y0),
                    arrowprops={"arrowstyle": "->", "color": "0.3", "shrinkA": 32,
                                "shrinkB": 32})
    ax.text(5.5, 0.05, "loss per image = reconstruction $-\\log p(x\\mid z)$  +  "
            "$\\mathrm{KL}\\left(q(z\\mid x)\\,\\|\\,\\mathcal{N}(0, I)\\right)$  =  "
            "$-$ELBO", ha="center", fontsize=11)
    ax.set_title("A variational autoencoder: every image becomes a Gaussian over codes")
    return fig


def _build(latent_dim: int = CHECKPOINT_LATENT) -> VAE:
    return VAE(build_encoder(latent_dim), build_decoder(latent_dim), name="vae_mnist")


def train_checkpoint(*, epochs: int = 60, batch: int = 64, seed: int = 42,
                     learning_rate: float = 1e-3) -> tuple[VAE, dict]:
    """Train the chapter's 16-D VAE on MNIST-5k at the full profile, from scratch and seeded
    (about 5 min on a 2-core CPU); return the model and the recipe the checkpoint records."""
    from dlbook import data

    ds = data.load("mnist-5k")
    keras.utils.set_random_seed(seed)
    model = _build()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    start = time.perf_counter()
    history = model.fit(ds.x_train[..., None], epochs=epochs, batch_size=batch, verbose=0)
    seconds = time.perf_counter() - start
    held = model.evaluate(ds.x_test[..., None], batch_size=500, verbose=0,
                          return_dict=True)
    steps = epochs * -(-len(ds.x_train) // batch)
    recipe = {
        "data": "mnist-5k x_train (4,000 images)", "model": "VAE, 16-D latent",
        "latent_dim": CHECKPOINT_LATENT, "epochs": epochs, "batch": batch, "steps": steps,
        "optimizer": f"Adam({learning_rate})", "seed": seed, "beta": 1.0,
        "train_seconds": round(seconds, 1),
        "final_train": {k: round(float(v[-1]), 2) for k, v in history.history.items()},
        "held_out_x_test": {k: round(float(v), 2) for k, v in held.items()},
        "parameters": model.count_params(),
    }
    weights_only = _build()  # not compiled: the checkpoint holds no optimizer state
    weights_only.set_weights(model.get_weights())
    return weights_only, recipe


def pretrained() -> VAE:
    """The 16-D VAE the project trained itself with :func:`train_checkpoint`, loaded from
    ``dlbook/checkpoints/vae-mnist`` (its sha256 and code hash are verified)."""
    from dlbook import checkpoints

    model = _build()
    model(np.zeros((1, *model.image_shape), dtype="float32"))  # create the weights
    checkpoints.load(model, CHECKPOINT_NAME)
    return model
