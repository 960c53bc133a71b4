"""Autoencoders: an encoder squeezes an image into a short code, a decoder rebuilds the image
from it, and both are trained together to make the rebuilt image match the original.

- :func:`dense_encoder`, :func:`dense_decoder`, :func:`conv_encoder`, :func:`conv_decoder` —
  the two halves, as small functional Keras models (images in, codes out, and back).
- :class:`Autoencoder` — a ``keras.Model`` with its own ``train_step``: reconstruction loss
  against the clean image, optionally after corrupting the input with fresh noise every step
  (a *denoising* autoencoder, Vincent et al. 2008).
- :func:`dense_autoencoder`, :func:`conv_autoencoder` — the two put together.
- :func:`reconstruction_errors`, :class:`PCABaseline`, :func:`add_noise`, :func:`psnr` —
  per-image errors (anomaly scores), the PCA baseline, noise injection and its yardstick.
- :func:`fit_code_gaussian`, :func:`gaussian_samples` — the naive way to *generate* with a
  plain autoencoder: fit a Gaussian to the codes of the training images and decode draws from it.
- :func:`train_checkpoint`, :func:`pretrained` — the committed ``ae-mnist`` checkpoint (the
  conv autoencoder of the Part IV comparison).

Images are ``(n, height, width)`` float arrays in [0, 1] (a trailing channel of 1 is accepted).

>>> keras.utils.set_random_seed(0)
>>> model = dense_autoencoder(4, hidden=(32,))
>>> model.compile(optimizer="adam")
>>> x = np.random.default_rng(0).random((16, 28, 28)).astype("float32")
>>> sorted(model.fit(x, epochs=1, batch_size=8, verbose=0).history)
['loss']
>>> model.encode(x).shape, model.decode(model.encode(x)).shape
((16, 4), (16, 28, 28))
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "CHECKPOINT_CODE", "CHECKPOINT_CODE_SIZE", "CHECKPOINT_NAME", "Autoencoder", "PCABaseline",
    "add_noise",
    "conv_autoencoder", "conv_decoder", "conv_encoder", "dense_autoencoder", "dense_decoder",
    "dense_encoder", "fit_code_gaussian", "gaussian_samples", "pca_reconstruct", "pretrained",
    "psnr", "reconstruction_errors", "train_checkpoint",
]

CHECKPOINT_NAME = "ae-mnist"
CHECKPOINT_CODE = ("Autoencoder", "conv_encoder", "conv_decoder", "conv_autoencoder",
                   "_checkpoint_model", "train_checkpoint")
CHECKPOINT_CODE_SIZE = 16
LOSSES = ("mse", "bce")


# --- input checks -------------------------------------------------------------------------------


def _check_code_size(code_size) -> int:
    if not isinstance(code_size, (int, np.integer)) or isinstance(code_size, bool) \
            or code_size < 1:
        raise ValueError(f"code_size must be a positive int, got {code_size!r}")
    return int(code_size)


def _check_shape(image_shape, *, multiple: int = 1) -> tuple[int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 3 and shape[-1] == 1:
        shape = shape[:2]
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"image_shape must be (height, width) of grey images, got "
                         f"{image_shape!r}")
    if shape[0] % multiple or shape[1] % multiple:
        raise ValueError(f"image_shape {shape} must have height and width divisible by "
                         f"{multiple} (one halving per convolution stage); pad the images, "
                         f"e.g. 30×30 -> 32×32, or use fewer filters stages")
    return shape


def _images(x, what: str = "images") -> np.ndarray:
    """Validate grey images in [0, 1]; return them as (n, height, width) float32."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise ValueError(f"{what} must be numeric, got dtype {x.dtype}")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"{what} must be a non-empty batch of grey images shaped (n, height, "
                         f"width) or (n, height, width, 1), got shape {x.shape}; a single "
                         f"image needs x[None]")
    x = x.astype("float32")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or inf values")
    if x.min() < -1e-3 or x.max() > 1 + 1e-3:
        raise ValueError(f"{what} must lie in [0, 1], got values from {x.min():.3g} to "
                         f"{x.max():.3g}; divide 8-bit images by 255")
    return np.clip(x, 0.0, 1.0)


# --- the two halves -----------------------------------------------------------------------------


def dense_encoder(code_size: int, *, image_shape: Sequence[int] = (28, 28),
                  hidden: Sequence[int] = (256,), name: str = "encoder") -> keras.Model:
    """Flatten the image, ``hidden`` ReLU layers, then a linear code of ``code_size`` numbers.
    ``hidden=()`` gives a linear encoder (with a linear decoder: PCA's subspace).

    >>> tuple(dense_encoder(3)(np.zeros((2, 28, 28))).shape)
    (2, 3)
    """
    code_size, shape = _check_code_size(code_size), _check_shape(image_shape)
    inputs = keras.Input(shape, name="image")
    h = keras.layers.Flatten()(inputs)
    for units in hidden:
        h = keras.layers.Dense(int(units), activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(code_size, name="code")(h), name=name)


def dense_decoder(code_size: int, *, image_shape: Sequence[int] = (28, 28),
                  hidden: Sequence[int] = (256,), output: str = "sigmoid",
                  name: str = "decoder") -> keras.Model:
    """The mirror of :func:`dense_encoder`: code -> ``hidden`` ReLU layers -> one unit per
    pixel (``output`` activation: ``"sigmoid"`` keeps pixels in [0, 1], ``"linear"`` for
    the linear autoencoder) -> image.

    >>> tuple(dense_decoder(3)(np.zeros((2, 3))).shape)
    (2, 28, 28)
    """
    code_size, shape = _check_code_size(code_size), _check_shape(image_shape)
    inputs = keras.Input((code_size,), name="code")
    h = inputs
    for units in hidden:
        h = keras.layers.Dense(int(units), activation="relu")(h)
    h = keras.layers.Dense(shape[0] * shape[1], activation=output)(h)
    return keras.Model(inputs, keras.layers.Reshape(shape)(h), name=name)


def conv_encoder(code_size: int, *, image_shape: Sequence[int] = (28, 28),
                 filters: Sequence[int] = (32, 64), name: str = "encoder") -> keras.Model:
    """One stride-2 3×3 convolution per entry of ``filters`` (each halves height and width),
    then a linear code.

    >>> tuple(conv_encoder(8)(np.zeros((2, 28, 28))).shape)
    (2, 8)
    """
    code_size = _check_code_size(code_size)
    shape = _check_shape(image_shape, multiple=2 ** len(filters))
    inputs = keras.Input(shape, name="image")
    h = keras.layers.Reshape((*shape, 1))(inputs)
    for f in filters:
        h = keras.layers.Conv2D(int(f), 3, strides=2, padding="same", activation="relu")(h)
    code = keras.layers.Dense(code_size, name="code")(keras.layers.Flatten()(h))
    return keras.Model(inputs, code, name=name)


def conv_decoder(code_size: int, *, image_shape: Sequence[int] = (28, 28),
                 filters: Sequence[int] = (64, 32), name: str = "decoder") -> keras.Model:
    """The mirror of :func:`conv_encoder`: a dense ReLU layer to a small map with
    ``filters[0]`` channels, a stride-2 3×3 transposed convolution (doubling height and width)
    to each further entry of ``filters``, and a last one to a single sigmoid channel: pixels
    in [0, 1]. ``len(filters)`` doublings in all.

    >>> tuple(conv_decoder(8)(np.zeros((2, 8))).shape)
    (2, 28, 28)
    """
    code_size = _check_code_size(code_size)
    filters = tuple(int(f) for f in filters)
    shape = _check_shape(image_shape, multiple=2 ** len(filters))
    small = (shape[0] // 2 ** len(filters), shape[1] // 2 ** len(filters))
    inputs = keras.Input((code_size,), name="code")
    h = keras.layers.Dense(small[0] * small[1] * filters[0], activation="relu")(inputs)
    h = keras.layers.Reshape((*small, filters[0]))(h)
    for f in filters[1:]:
        h = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same",
                                         activation="relu")(h)
    h = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same",
                                     activation="sigmoid")(h)
    return keras.Model(inputs, keras.layers.Reshape(shape)(h), name=name)


# --- the model ----------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="dlbook")
class Autoencoder(keras.Model):
    """An encoder and a decoder trained to reconstruct their input.

    ``loss`` is the per-image reconstruction error: ``"mse"`` (mean squared pixel error, what
    PCA minimises too) or ``"bce"`` (pixel-wise binary cross-entropy). With ``noise > 0`` every
    training step corrupts the inputs with fresh Gaussian noise of that standard deviation
    (clipped to [0, 1]) and scores the output against the *clean* images: a denoising
    autoencoder. ``fit(x)`` needs no targets; ``fit(noisy, clean)`` trains on fixed pairs.

    >>> keras.utils.set_random_seed(0)
    >>> ae = Autoencoder(dense_encoder(2, hidden=()), dense_decoder(2, hidden=()), noise=0.3)
    >>> ae.compile(optimizer="adam")
    >>> x = np.zeros((4, 28, 28), "float32")
    >>> round(float(ae.evaluate(x, verbose=0)), 2)   # a sigmoid decoder starts at 0.5
    0.25
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *, noise: float = 0.0,
                 loss: str = "mse", seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model) or not isinstance(decoder, keras.Model):
            raise ValueError("encoder and decoder must be keras.Model instances, e.g. "
                             "dense_encoder(8) and dense_decoder(8)")
        code_in = decoder.inputs[0].shape[-1] if decoder.inputs else None
        code_out = encoder.outputs[0].shape[-1] if encoder.outputs else None
        if code_in is not None and code_out is not None and code_in != code_out:
            raise ValueError(f"the encoder makes {code_out}-number codes but the decoder "
                             f"reads {code_in}; build both with the same code_size")
        if not isinstance(noise, (int, float)) or isinstance(noise, bool) or noise < 0:
            raise ValueError(f"noise must be a standard deviation >= 0, got {noise!r}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.encoder, self.decoder = encoder, decoder
        self.noise, self.loss_kind, self.seed = float(noise), loss, seed
        self.code_size = int(code_out) if code_out is not None else None
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def corrupt(self, x):
        """``x`` plus Gaussian noise of standard deviation ``noise``, clipped to [0, 1]."""
        if self.noise == 0:
            return x
        eps = keras.random.normal(ops.shape(x), seed=self.noise_seed)
        return ops.clip(x + self.noise * eps, 0.0, 1.0)

    def reconstruction_loss(self, target, output):
        """The mean over the batch of each image's reconstruction error (a scalar)."""
        target = ops.reshape(ops.cast(target, output.dtype), ops.shape(output))
        if self.loss_kind == "mse":
            per_pixel = ops.square(target - output)
        else:
            per_pixel = keras.losses.binary_crossentropy(target[..., None], output[..., None])
        return ops.mean(per_pixel)

    def train_step(self, data):
        import tensorflow as tf

        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        target = x if y is None else y
        with tf.GradientTape() as tape:
            output = self(self.corrupt(x), training=True)
            loss = self.reconstruction_loss(target, output)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        target = x if y is None else y
        self.loss_tracker.update_state(
            self.reconstruction_loss(target, self(self.corrupt(x), training=False)))
        return {"loss": self.loss_tracker.result()}

    def encode(self, x, *, batch_size: int = 500) -> np.ndarray:
        """Codes of images, ``(n, code_size)``, as NumPy."""
        x = _images(x)
        return np.concatenate([keras.ops.convert_to_numpy(self.encoder(x[i:i + batch_size]))
                               for i in range(0, len(x), batch_size)])

    def decode(self, codes, *, batch_size: int = 500) -> np.ndarray:
        """Images decoded from codes ``(n, code_size)``, as NumPy ``(n, height, width)``."""
        z = np.asarray(codes, dtype="float32")
        if z.ndim != 2 or (self.code_size is not None and z.shape[1] != self.code_size):
            raise ValueError(f"codes must be shaped (n, {self.code_size}), got {z.shape}")
        return np.concatenate([keras.ops.convert_to_numpy(self.decoder(z[i:i + batch_size]))
                               for i in range(0, len(z), batch_size)])

    def reconstruct(self, x, *, batch_size: int = 500) -> np.ndarray:
        """Decode the codes of ``x``: the autoencoder's copy of each image."""
        return self.decode(self.encode(x, batch_size=batch_size), batch_size=batch_size)

    def get_config(self):
        config = super().get_config()
        config.update({"encoder": keras.saving.serialize_keras_object(self.encoder),
                       "decoder": keras.saving.serialize_keras_object(self.decoder),
                       "noise": self.noise, "loss": self.loss_kind, "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def dense_autoencoder(code_size: int, *, image_shape: Sequence[int] = (28, 28),
                      hidden: Sequence[int] = (256,), noise: float = 0.0, loss: str = "mse",
                      linear: bool = False, name: str = "dense_autoencoder") -> Autoencoder:
    """A dense :class:`Autoencoder`; ``linear=True`` drops the hidden layers and every
    non-linearity (the autoencoder that learns what PCA learns).

    >>> dense_autoencoder(8).count_params() > dense_autoencoder(8, linear=True).count_params()
    True
    """
    hidden = () if linear else tuple(hidden)
    encoder = dense_encoder(code_size, image_shape=image_shape, hidden=hidden)
    decoder = dense_decoder(code_size, image_shape=image_shape, hidden=hidden[::-1],
                            output="linear" if linear else "sigmoid")
    model = Autoencoder(encoder, decoder, noise=noise, loss=loss, name=name)
    model(np.zeros((1, *_check_shape(image_shape)), "float32"))  # build the weights
    return model


def conv_autoencoder(code_size: int, *, image_shape: Sequence[int] = (28, 28),
                     filters: Sequence[int] = (32, 64), noise: float = 0.0, loss: str = "mse",
                     name: str = "conv_autoencoder") -> Autoencoder:
    """A convolutional :class:`Autoencoder` (:func:`conv_encoder` and its mirror).

    >>> conv_autoencoder(16).count_params()
    141073
    """
    filters = tuple(int(f) for f in filters)
    encoder = conv_encoder(code_size, image_shape=image_shape, filters=filters)
    decoder = conv_decoder(code_size, image_shape=image_shape, filters=filters[::-1])
    model = Autoencoder(encoder, decoder, noise=noise, loss=loss, name=name)
    model(np.zeros((1, *_check_shape(image_shape)), "float32"))
    return model


# --- errors, baselines, noise -------------------------------------------------------------------


def reconstruction_errors(x, reconstruction) -> np.ndarray:
    """Mean squared pixel error of each image, ``(n,)``: the anomaly score of an autoencoder
    (an image unlike the training data is rebuilt badly).

    >>> reconstruction_errors(np.zeros((2, 2, 2)), np.full((2, 2, 2), 0.5)).tolist()
    [0.25, 0.25]
    """
    a, b = np.asarray(x, dtype="float64"), np.asarray(reconstruction, dtype="float64")
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if b.ndim == 4 and b.shape[-1] == 1:
        b = b[..., 0]
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"x and reconstruction must be batches of the same shape, got "
                         f"{a.shape} and {b.shape}")
    return np.mean((a - b) ** 2, axis=tuple(range(1, a.ndim)))


class PCABaseline:
    """PCA fitted once on training images, then used at any code size: the best *linear*
    autoencoder of each size. The principal components come from one eigendecomposition of
    the pixel covariance, so the components for code size k are the first k of them and
    every code size costs no refit.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((50, 4, 4))
    >>> pca = PCABaseline(x)
    >>> float(np.abs(pca.reconstruct(x, 16) - x).max()) < 1e-9   # all components: exact
    True
    >>> pca.encode(x, 3).shape, pca.decode(pca.encode(x, 3)).shape
    ((50, 3), (50, 4, 4))
    """

    def __init__(self, x_train):
        train = np.asarray(x_train, dtype="float64")
        if train.ndim == 4 and train.shape[-1] == 1:
            train = train[..., 0]
        if train.ndim != 3 or len(train) < 2:
            raise ValueError(f"x_train must be at least 2 images shaped (n, height, width), "
                             f"got shape {train.shape}")
        self.image_shape = train.shape[1:]
        flat = train.reshape(len(train), -1)
        self.mean = flat.mean(axis=0)
        values, vectors = np.linalg.eigh(np.cov(flat, rowvar=False))
        order = np.argsort(values)[::-1][:min(flat.shape)]
        self.variances = np.maximum(values[order], 0.0)
        self.components = vectors[:, order].T          # (max code size, pixels)

    def _flat(self, x) -> np.ndarray:
        data = np.asarray(x, dtype="float64")
        if data.ndim == 4 and data.shape[-1] == 1:
            data = data[..., 0]
        if data.shape[1:] != self.image_shape:
            raise ValueError(f"images must have the same shape as x_train "
                             f"{self.image_shape}, got {data.shape[1:]}")
        return data.reshape(len(data), -1)

    def _k(self, code_size) -> int:
        k = _check_code_size(code_size)
        if k > len(self.components):
            raise ValueError(f"code_size {k} exceeds min(n_train, pixels) = "
                             f"{len(self.components)}")
        return k

    def encode(self, x, code_size: int) -> np.ndarray:
        """The first ``code_size`` principal-component scores of each image."""
        return (self._flat(x) - self.mean) @ self.components[:self._k(code_size)].T

    def decode(self, codes) -> np.ndarray:
        """Images from principal-component scores ``(n, k)`` (not clipped to [0, 1])."""
        z = np.asarray(codes, dtype="float64")
        if z.ndim != 2:
            raise ValueError(f"codes must be shaped (n, code_size), got {z.shape}")
        flat = self.mean + z @ self.components[:self._k(z.shape[1])]
        return flat.reshape(len(z), *self.image_shape)

    def reconstruct(self, x, code_size: int) -> np.ndarray:
        """Project images onto the first ``code_size`` components and back."""
        return self.decode(self.encode(x, code_size))


def pca_reconstruct(x_train, x, code_size: int) -> np.ndarray:
    """Fit PCA on ``x_train`` and return the images ``x`` projected onto ``code_size``
    components and back (one-off use of :class:`PCABaseline`).

    >>> x = np.random.default_rng(0).random((50, 4, 4))
    >>> pca_reconstruct(x, x[:2], 3).shape
    (2, 4, 4)
    """
    return PCABaseline(x_train).reconstruct(x, code_size)


def add_noise(x, *, kind: str = "gaussian", amount: float = 0.5, seed: int = 0) -> np.ndarray:
    """Corrupt images in [0, 1] and clip back to [0, 1]. ``kind="gaussian"``: add noise of
    standard deviation ``amount``; ``kind="salt-pepper"``: set a share ``amount`` of the pixels
    to 0 or 1 at random.

    >>> noisy = add_noise(np.full((1, 100, 100), 0.5), kind="salt-pepper", amount=0.2)
    >>> round(float(np.mean((noisy == 0) | (noisy == 1))), 2)
    0.2
    """
    x = _images(x)
    if kind not in ("gaussian", "salt-pepper"):
        raise ValueError(f"kind must be 'gaussian' or 'salt-pepper', got {kind!r}")
    if not isinstance(amount, (int, float)) or amount < 0 or (kind == "salt-pepper"
                                                             and amount > 1):
        raise ValueError(f"amount must be >= 0 (and <= 1 for salt-pepper), got {amount!r}")
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return np.clip(x + amount * rng.standard_normal(x.shape), 0, 1).astype("float32")
    noisy = x.copy()
    hit = rng.random(x.shape) < amount
    noisy[hit] = rng.integers(0, 2, size=int(hit.sum())).astype("float32")
    return noisy


def psnr(clean, restored) -> np.ndarray:
    """Peak signal-to-noise ratio of each image in dB, ``10 log10(1 / MSE)`` for pixels in
    [0, 1] (higher is better; +3 dB is half the squared error).

    >>> psnr(np.zeros((1, 4, 4)), np.full((1, 4, 4), 0.1)).round(1).tolist()
    [20.0]
    """
    mse = reconstruction_errors(clean, restored)
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


# --- generating with a plain autoencoder -------------------------------------------------------


def fit_code_gaussian(codes) -> tuple[np.ndarray, np.ndarray]:
    """Mean and full covariance of a set of codes ``(n, code_size)``.

    >>> mean, cov = fit_code_gaussian(np.random.default_rng(0).normal(size=(5000, 2)))
    >>> bool(np.abs(mean).max() < 0.05), bool(np.abs(cov - np.eye(2)).max() < 0.05)
    (True, True)
    """
    z = np.asarray(codes, dtype="float64")
    if z.ndim != 2 or len(z) <= z.shape[1]:
        raise ValueError(f"codes must be (n, code_size) with more rows than columns, got "
                         f"{z.shape}")
    return z.mean(axis=0), np.cov(z, rowvar=False)


def gaussian_samples(model: Autoencoder, x_train, n: int, *, seed: int = 0) -> np.ndarray:
    """Generate ``n`` images with a plain autoencoder: fit one Gaussian to the codes of
    ``x_train`` (:func:`fit_code_gaussian`), draw ``n`` codes from it and decode them.
    The draws land between the clusters of real codes as often as in them, which is why a
    plain autoencoder is a poor generator (the VAE chapter fixes this)."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    mean, cov = fit_code_gaussian(model.encode(x_train))
    codes = np.random.default_rng(seed).multivariate_normal(mean, cov, size=int(n))
    return model.decode(codes.astype("float32"))


# --- the committed checkpoint -------------------------------------------------------------------


def _checkpoint_model() -> Autoencoder:
    return conv_autoencoder(CHECKPOINT_CODE_SIZE, name="ae_mnist")


def train_checkpoint() -> tuple[keras.Model, dict]:
    """Train the ``full``-profile conv autoencoder (16-number codes, MSE) on the 4,000
    training images of ``mnist-5k``, seeded; return it and its recipe. The saved model is the
    whole autoencoder (the encoder is needed to fit the code Gaussian), ~0.6 MB."""
    from dlbook import data

    epochs, batch, lr, seed = 60, 64, 1e-3, 42
    ds = data.load("mnist-5k")
    keras.utils.set_random_seed(seed)
    model = _checkpoint_model()
    model.compile(optimizer=keras.optimizers.Adam(lr))
    start = time.perf_counter()
    history = model.fit(ds.x_train, epochs=epochs, batch_size=batch, shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    test_mse = float(model.evaluate(ds.x_test, batch_size=500, verbose=0))
    recipe = {
        "data": "mnist-5k x_train (4,000 images, 28x28, [0, 1])",
        "model": f"conv_autoencoder({CHECKPOINT_CODE_SIZE}), filters (32, 64), MSE loss",
        "parameters": int(model.count_params()), "epochs": epochs, "batch": batch,
        "steps": int(epochs * -(-len(ds.x_train) // batch)), "optimizer": f"Adam({lr})",
        "seed": seed, "train_seconds": round(seconds, 1),
        "final_train_mse": round(float(history.history["loss"][-1]), 5),
        "test_mse": round(test_mse, 5),
        "sampling": "fit_code_gaussian on the codes of x_train, decode draws (gaussian_samples)",
    }
    return model, recipe


def pretrained() -> Autoencoder:
    """The committed ``ae-mnist`` checkpoint: :func:`train_checkpoint`'s conv autoencoder,
    loaded with its sha256 and code hash verified (``dlbook.checkpoints``)."""
    from dlbook import checkpoints

    model = _checkpoint_model()
    checkpoints.load(model, CHECKPOINT_NAME)
    return model
