"""Denoising diffusion (Ho et al., 2020): a noise schedule, a small U-Net that predicts the noise,
a :class:`DDPM` model with its own ``train_step``, and two samplers (ancestral and DDIM).

The forward process destroys an image step by step,
``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` with ``eps ~ N(0, I)``; the network learns to
predict ``eps`` from ``x_t`` and ``t``; sampling runs the process backwards from pure noise.

- :func:`noise_schedule` — ``abar_t`` for the linear (Ho et al.) or cosine (Nichol & Dhariwal,
  2021) schedule.
- :func:`build_unet` — a 16-32-64 U-Net with a sinusoidal time embedding (~300k parameters).
- :class:`DDPM` — wraps the U-Net: ``train_step`` (noise prediction with min-SNR-γ loss
  weighting, Hang et al., 2023), :meth:`DDPM.add_noise` and :meth:`DDPM.sample`.
- :func:`sample` — ancestral sampling (``eta=1``) or DDIM (``eta=0``, Song et al., 2021) over
  any number of steps, optionally keeping the path ``x_t`` for a strip.
- :func:`train_checkpoint` / :func:`pretrained` — the committed ``ddpm-mnist`` checkpoint.

>>> model = DDPM(build_unet((8, 8, 1), widths=(8, 16), time_dim=16), timesteps=50)
>>> images = sample(model, 2, steps=5, seed=0)
>>> images.shape, bool(images.min() >= 0.0 and images.max() <= 1.0)
((2, 8, 8), True)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from dlbook.config import import_keras

keras = import_keras()
from keras import ops  # noqa: E402

__all__ = [
    "CHECKPOINT_CODE",
    "CHECKPOINT_NAME",
    "DDPM",
    "SinusoidalEmbedding",
    "build_unet",
    "noise_schedule",
    "pretrained",
    "sample",
    "train_checkpoint",
]

CHECKPOINT_NAME = "ddpm-mnist"
CHECKPOINT_CODE = ("noise_schedule", "SinusoidalEmbedding", "_res_block", "build_unet", "DDPM",
                   "_TimeBudget", "train_checkpoint")
SCHEDULES = ("cosine", "linear")


def noise_schedule(timesteps: int = 1000, kind: str = "cosine") -> np.ndarray:
    """``abar_t`` (the share of the signal's variance left after ``t + 1`` noising steps) for
    ``t = 0 … timesteps - 1``, as float64.

    ``"linear"``: betas from 1e-4 to 0.02 (Ho et al., 2020), scaled for other step counts.
    ``"cosine"``: ``abar`` follows a squared cosine (Nichol & Dhariwal, 2021), which destroys
    the image more evenly over time; each beta is capped at 0.999.

    >>> abar = noise_schedule(1000, "cosine")
    >>> abar.shape, bool(np.all(np.diff(abar) < 0)), round(float(abar[0]), 4)
    ((1000,), True, 1.0)
    """
    if not isinstance(timesteps, (int, np.integer)) or timesteps < 2:
        raise ValueError(f"timesteps must be an int >= 2, got {timesteps!r}")
    if kind == "linear":
        scale = 1000 / timesteps
        betas = np.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype="float64")
    elif kind == "cosine":
        s = 0.008
        f = np.cos((np.arange(timesteps + 1) / timesteps + s) / (1 + s) * np.pi / 2) ** 2
        betas = np.clip(1 - f[1:] / f[:-1], 0.0, 0.999)
    else:
        raise ValueError(f"unknown schedule {kind!r}; use one of {SCHEDULES}")
    return np.cumprod(1.0 - betas)


@keras.saving.register_keras_serializable(package="dlbook")
class SinusoidalEmbedding(keras.layers.Layer):
    """Timestep ``t`` (a float per example) to ``dim`` sines and cosines of geometrically spaced
    frequencies, as positions are embedded in the Transformer (Vaswani et al., 2017).

    >>> emb = SinusoidalEmbedding(8)
    >>> tuple(emb(np.array([[0.0], [10.0]])).shape)
    (2, 8)
    """

    def __init__(self, dim: int, *, max_period: float = 10_000.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dim, (int, np.integer)) or dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even int >= 2, got {dim!r}")
        self.dim, self.max_period = int(dim), float(max_period)

    def call(self, t):
        half = self.dim // 2
        freqs = ops.exp(-np.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        angles = ops.reshape(ops.cast(t, "float32"), (-1, 1)) * freqs[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


def _res_block(x, time_vector, width: int, groups: int, name: str):
    """Norm, swish, 3×3 conv; add the projected time embedding; norm, swish, 3×3 conv; plus a
    (1×1-projected) shortcut."""
    layers = keras.layers
    shortcut = x if x.shape[-1] == width else layers.Conv2D(width, 1, name=f"{name}_skip")(x)
    h = layers.GroupNormalization(min(groups, x.shape[-1]), name=f"{name}_norm1")(x)
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv1")(
        layers.Activation("swish")(h))
    step = layers.Dense(width, name=f"{name}_time")(time_vector)
    h = h + layers.Reshape((1, 1, width))(step)
    h = layers.GroupNormalization(groups, name=f"{name}_norm2")(h)
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(
        layers.Activation("swish")(h))
    return shortcut + h


def build_unet(image_shape: tuple[int, int, int] = (28, 28, 1), *,
               widths: Sequence[int] = (16, 32, 64), time_dim: int = 64, groups: int = 8,
               name: str = "unet") -> keras.Model:
    """A small U-Net that predicts the noise in ``x_t``: inputs ``[x_t (batch, H, W, C),
    t (batch, 1)]``, output the same shape as ``x_t``.

    One residual block per resolution on the way down (stride-2 convolutions halve the size),
    two at the bottom, one per resolution on the way up (nearest upsampling, concatenated skip
    connections). The timestep enters every block through a sinusoidal embedding and an MLP.
    Height and width must be divisible by ``2 ** (len(widths) - 1)``.

    >>> unet = build_unet((8, 8, 1), widths=(8, 16), time_dim=16)
    >>> tuple(unet([np.zeros((2, 8, 8, 1)), np.zeros((2, 1))]).shape)
    (2, 8, 8, 1)
    """
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape!r}; "
                         "grey images need a channel axis, e.g. (28, 28, 1)")
    widths = tuple(int(w) for w in widths)
    if not widths or any(w < 1 or w % groups for w in widths):
        raise ValueError(f"widths must be positive multiples of groups={groups}, got {widths}")
    factor = 2 ** (len(widths) - 1)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(f"{len(widths)} resolutions halve the image {len(widths) - 1} times, so "
                         f"height and width must be multiples of {factor}, got {image_shape[:2]}"
                         "; pad the images or use fewer widths")
    layers = keras.layers
    noisy = keras.Input(image_shape, name="noisy_image")
    t = keras.Input((1,), name="timestep")
    emb = SinusoidalEmbedding(time_dim, name="time_embedding")(t)
    emb = layers.Dense(2 * time_dim, activation="swish", name="time_mlp1")(emb)
    emb = layers.Dense(2 * time_dim, activation="swish", name="time_mlp2")(emb)
    h = layers.Conv2D(widths[0], 3, padding="same", name="stem")(noisy)
    skips = []
    for level, width in enumerate(widths):
        h = _res_block(h, emb, width, groups, name=f"down{level}")
        if level < len(widths) - 1:
            skips.append(h)
            h = layers.Conv2D(widths[level + 1], 3, strides=2, padding="same",
                              name=f"downsample{level}")(h)
    h = _res_block(h, emb, widths[-1], groups, name="middle")
    for level in reversed(range(len(widths) - 1)):
        h = layers.UpSampling2D(2, name=f"upsample{level}")(h)
        h = layers.Conv2D(widths[level], 3, padding="same", name=f"up{level}_in")(h)
        h = layers.Concatenate(name=f"up{level}_concat")([h, skips[level]])
        h = _res_block(h, emb, widths[level], groups, name=f"up{level}")
    h = layers.Activation("swish")(layers.GroupNormalization(groups, name="out_norm")(h))
    out = layers.Conv2D(image_shape[-1], 3, padding="same", kernel_initializer="zeros",
                        name="predicted_noise")(h)
    return keras.Model([noisy, t], out, name=name)


@keras.saving.register_keras_serializable(package="dlbook")
class DDPM(keras.Model):
    """A denoising diffusion model around a noise-predicting ``network`` (e.g.
    :func:`build_unet`). Train it with ``fit`` on images in ``[0, 1]`` (shape ``(n, H, W, C)``);
    each step draws a timestep and a noise per image, noises the image and regresses the noise.

    ``min_snr`` (γ) weights each example's squared error by ``min(SNR_t, γ) / SNR_t`` (Hang et
    al., 2023): the nearly clean timesteps, whose noise is hard to see and matters little, no
    longer dominate the loss. ``min_snr=None`` is the plain loss of Ho et al. (2020).

    >>> model = DDPM(build_unet((8, 8, 1), widths=(8, 16), time_dim=16), timesteps=50)
    >>> model.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    >>> sorted(model.fit(x, batch_size=8, epochs=1, verbose=0).history)
    ['loss', 'mse']
    """

    def __init__(self, network: keras.Model, *, timesteps: int = 1000,
                 schedule: str = "cosine", min_snr: float | None = 5.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(network, keras.Model) or len(network.inputs) != 2:
            raise ValueError("network must be a keras.Model with inputs [x_t, t], e.g. "
                             "build_unet((28, 28, 1))")
        if min_snr is not None and min_snr <= 0:
            raise ValueError(f"min_snr must be positive or None, got {min_snr!r}")
        self.network = network
        self.timesteps, self.schedule, self.min_snr = int(timesteps), schedule, min_snr
        self.alpha_bar = noise_schedule(self.timesteps, schedule)
        self.image_shape = tuple(network.inputs[0].shape[1:])
        snr = self.alpha_bar / (1.0 - self.alpha_bar)
        weight = np.ones_like(snr) if min_snr is None else np.minimum(snr, min_snr) / snr
        self._abar = ops.convert_to_tensor(self.alpha_bar.astype("float32"))
        self._weight = ops.convert_to_tensor(weight.astype("float32"))
        self.seed_generator = keras.random.SeedGenerator(0)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")

    @property
    def metrics(self):
        return [self.loss_tracker, self.mse_tracker]

    def call(self, inputs, training=False):
        """Predicted noise for ``[x_t, t]`` (``x_t`` scaled to ``[-1, 1]``-ish, ``t`` integers)."""
        x_t, t = inputs
        t = ops.reshape(ops.cast(t, "float32"), (-1, 1))
        return self.network([x_t, t], training=training)

    def add_noise(self, x0, t, noise):
        """The forward process in one jump: ``x_t`` from clean images ``x0`` in ``[-1, 1]``,
        integer timesteps ``t`` (batch,) and standard normal ``noise``."""
        abar = ops.reshape(ops.take(self._abar, t), (-1, 1, 1, 1))
        return ops.sqrt(abar) * x0 + ops.sqrt(1.0 - abar) * noise

    def diffusion_loss(self, images, training=False):
        """(weighted loss, plain MSE) of noise prediction on a batch of images in ``[0, 1]``."""
        x0 = 2.0 * ops.cast(images, "float32") - 1.0
        n = ops.shape(x0)[0]
        t = keras.random.randint((n,), 0, self.timesteps, seed=self.seed_generator)
        noise = keras.random.normal(ops.shape(x0), seed=self.seed_generator)
        predicted = self([self.add_noise(x0, t, noise), t], training=training)
        per_example = ops.mean(ops.square(noise - predicted), axis=(1, 2, 3))
        weighted = ops.mean(per_example * ops.take(self._weight, t))
        return weighted, ops.mean(per_example)

    def _check(self, images):
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"images must be shaped (batch, {', '.join(map(str, self.image_shape))})"
                             f" to match the network, got {tuple(images.shape)}; add a channel "
                             "axis with x[..., None]")

    def train_step(self, data):
        import tensorflow as tf  # the TensorFlow backend; the maths stays in keras.ops

        images = data[0] if isinstance(data, (tuple, list)) else data
        self._check(images)
        with tf.GradientTape() as tape:
            loss, mse = self.diffusion_loss(images, training=True)
        grads = tape.gradient(loss, self.network.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_variables, strict=True))
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        return {"loss": self.loss_tracker.result(), "mse": self.mse_tracker.result()}

    def test_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        self._check(images)
        loss, mse = self.diffusion_loss(images)
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        return {"loss": self.loss_tracker.result(), "mse": self.mse_tracker.result()}

    def sample(self, n: int, **kwargs) -> np.ndarray:
        """Shorthand for :func:`sample` ``(self, n, **kwargs)``."""
        return sample(self, n, **kwargs)

    def get_config(self):
        return {**super().get_config(),
                "network": keras.saving.serialize_keras_object(self.network),
                "timesteps": self.timesteps, "schedule": self.schedule, "min_snr": self.min_snr}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def _step_function(model: DDPM):
    """One reverse step, compiled once per model: predict the noise, estimate ``x_0`` (clipped
    to the data range), and move to ``x_prev`` = sqrt(abar_prev) x0 + sqrt(1 - abar_prev -
    sigma^2) eps + sigma z."""
    cached = getattr(model, "_reverse_step", None)
    if cached is not None:
        return cached

    def step(x, t, abar, abar_prev, sigma, z):
        eps = model.network([x, ops.ones((ops.shape(x)[0], 1)) * t], training=False)
        x0 = ops.clip((x - ops.sqrt(1.0 - abar) * eps) / ops.sqrt(abar), -1.0, 1.0)
        eps = (x - ops.sqrt(abar) * x0) / ops.sqrt(ops.maximum(1.0 - abar, 1e-12))
        direction = ops.sqrt(ops.maximum(1.0 - abar_prev - sigma ** 2, 0.0)) * eps
        return ops.sqrt(abar_prev) * x0 + direction + sigma * z, x0

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        step = tf.function(step, reduce_retracing=True)
    model._reverse_step = step
    return step


def sample(model: DDPM, n: int, *, steps: int | None = None, eta: float = 1.0,
           seed: int = 0, batch_size: int = 500, keep: Sequence[int] = ()):
    """Generate ``n`` images in ``[0, 1]``, shaped ``(n, H, W)`` for one channel.

    Runs the reverse process from pure noise over ``steps`` timesteps, evenly spaced over the
    model's ``timesteps`` (default: all of them). ``eta=1`` is ancestral sampling (Ho et al.,
    2020): each step draws fresh noise with the variance of the true posterior
    ``q(x_prev | x_t, x_0)``; with all timesteps this is the DDPM sampler. ``eta=0`` is
    deterministic DDIM (Song et al., 2021), which stays good with far fewer steps.

    ``keep``: how many steps have been taken at the states to return as a path (0 = pure
    noise, ``steps`` = the final image), in increasing order; then returns ``(images, path, path_t)`` with ``path`` shaped
    ``(len(keep), n, H, W)`` and ``path_t`` the timestep of each kept state (-1 = final).

    >>> model = DDPM(build_unet((8, 8, 1), widths=(8, 16), time_dim=16), timesteps=20)
    >>> images, path, when = sample(model, 3, steps=4, keep=[0, 2, 4])
    >>> path.shape, when.tolist()
    ((3, 3, 8, 8), [19, 6, -1])
    """
    if not isinstance(model, DDPM):
        raise ValueError(f"model must be a DDPM, got {type(model).__name__}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    steps = model.timesteps if steps is None else steps
    if not isinstance(steps, (int, np.integer)) or not 1 <= steps <= model.timesteps:
        raise ValueError(f"steps must be an int from 1 to {model.timesteps}, got {steps!r}")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must lie in [0, 1] (0: DDIM, 1: ancestral), got {eta!r}")
    keep = sorted({int(k) for k in keep})
    if any(not 0 <= k <= steps for k in keep):
        raise ValueError(f"keep holds step indices from 0 (noise) to steps={steps}, got {keep}")
    times = np.unique(np.linspace(0, model.timesteps - 1, steps).round().astype(int))[::-1]
    abar = model.alpha_bar
    step = _step_function(model)
    rng = keras.random.SeedGenerator(seed)
    shape = model.image_shape
    images, path = [], []
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        x = keras.random.normal((size, *shape), seed=rng)
        kept = [x] if 0 in keep else []
        for i, t in enumerate(times):
            a = float(abar[t])
            a_prev = float(abar[times[i + 1]]) if i + 1 < len(times) else 1.0
            sigma = eta * np.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
            z = keras.random.normal((size, *shape), seed=rng)
            x, _ = step(x, np.float32(t), np.float32(a), np.float32(a_prev),
                        np.float32(sigma), z)
            if i + 1 in keep:
                kept.append(x)
        images.append(ops.convert_to_numpy(x))
        if keep:
            path.append(np.stack([ops.convert_to_numpy(k) for k in kept]))
    out = _to_unit(np.concatenate(images))
    if not keep:
        return out
    path_t = np.append(times, -1)[keep]
    return out, _to_unit(np.concatenate(path, axis=1)), path_t


def _to_unit(x: np.ndarray) -> np.ndarray:
    """[-1, 1] with a channel axis -> [0, 1], channel axis dropped for grey images."""
    x = np.clip((np.asarray(x) + 1.0) / 2.0, 0.0, 1.0)
    return x[..., 0] if x.shape[-1] == 1 else x


class _TimeBudget(keras.callbacks.Callback):
    """Stop ``fit`` after ``seconds`` of training or ``steps`` steps, whichever comes first."""

    def __init__(self, seconds: float, steps: int):
        super().__init__()
        self.seconds, self.steps, self.done = seconds, steps, 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done >= self.steps or time.perf_counter() - self.start >= self.seconds:
            self.model.stop_training = True


def train_checkpoint(*, steps: int | None = None, seconds: float = 27 * 60) -> tuple[keras.Model,
                                                                                      dict]:
    """Train the ``ddpm-mnist`` checkpoint from scratch: the 16-32-64 U-Net on the 4,000
    MNIST-5k training images, cosine schedule with 1,000 steps, min-SNR-5 weighting, Adam
    (learning rate 1e-3, EMA of the weights 0.998), batch 64, seeded.

    It trains for a budget of ``seconds`` of wall time (27 min: the machine is a shared 2-core
    CPU whose speed varies with the load), or for exactly ``steps`` steps when given; the recipe
    records the steps taken, so ``train_checkpoint(steps=N, seconds=float("inf"))`` repeats a
    run. Returns the U-Net (the only part sampling needs, its weights replaced by their moving
    average) and the recipe."""
    import tensorflow as tf

    from dlbook import data

    keras.utils.set_random_seed(0)
    train = data.load("mnist-5k").x_train[..., None]
    batch, max_steps, log_every = 64, 100_000 if steps is None else int(steps), 100
    model = DDPM(build_unet(), timesteps=1000, schedule="cosine", min_snr=5.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.998))
    batches = (tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=0)
               .repeat().batch(batch, drop_remainder=True))
    budget = _TimeBudget(seconds, max_steps)
    start = time.perf_counter()
    history = model.fit(batches, epochs=-(-max_steps // log_every), steps_per_epoch=log_every,
                        verbose=0, callbacks=[budget]).history
    elapsed = time.perf_counter() - start
    recipe = {
        "data": "mnist-5k x_train (4,000 images, 28x28, scaled to [-1, 1])",
        "steps": budget.done, "batch": batch,
        "epochs_of_data": round(budget.done * batch / len(train), 1),
        "budget": (f"{seconds / 60:.0f} min of training on a shared 2-core CPU"
                   if steps is None else f"{steps} steps"),
        "train_seconds": round(elapsed, 1),
        "model": "build_unet((28, 28, 1), widths=(16, 32, 64), time_dim=64), "
                 f"{model.network.count_params():,} parameters",
        "diffusion": "1,000 timesteps, cosine schedule, noise prediction, min-SNR-5 weighting",
        "optimizer": "Adam 1e-3, EMA 0.998 of the weights (the EMA weights are saved)",
        "seed": 0,
        "loss_first_100_steps": round(float(history["loss"][0]), 4),
        "loss_last_100_steps": round(float(history["loss"][-1]), 4),
        "mse_last_100_steps": round(float(history["mse"][-1]), 4),
        "loss_per_100_steps": [round(float(v), 4) for v in history["loss"]],
    }
    return model.network, recipe


def pretrained() -> DDPM:
    """The committed ``ddpm-mnist`` model: builds the U-Net, loads and verifies its weights
    (:func:`dlbook.checkpoints.load`) and wraps it in a :class:`DDPM` with the training
    settings. The checkpoint's provenance is kept as ``model.provenance``."""
    from dlbook import checkpoints

    network = build_unet()
    info = checkpoints.load(network, CHECKPOINT_NAME)
    model = DDPM(network, timesteps=1000, schedule="cosine", min_snr=5.0)
    model.provenance = info
    return model
