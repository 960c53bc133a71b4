"""Image restoration: patches, degradations, metrics and small CNNs for super-resolution,
denoising and inpainting (the media chapter).

Images are grey ``(height, width)`` arrays in [0, 1]; batches of them ``(n, height, width)``.
Patches carry no channel axis here; the models take and return ``(n, h, w, 1)``.

>>> import numpy as np
>>> image = np.linspace(0, 1, 64 * 64, dtype="float32").reshape(64, 64)
>>> patches = extract_patches(image, size=32, stride=16)
>>> patches.shape
(9, 32, 32)
>>> bool(np.allclose(assemble_patches(patches, (64, 64), stride=16), image))
True
>>> round(psnr(image, image + 0.01, data_range=1.0), 1)
40.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from dlbook.checks import positive_int, positive_number

__all__ = [
    "extract_patches", "assemble_patches", "predict_tiled", "dihedral",
    "crop_to_multiple", "downscale", "upscale", "add_noise", "damage_mask",
    "local_mean_fill", "psnr", "ssim", "evaluate", "error_map",
    "espcn", "dncnn", "inpainting_net", "apply", "show_crops",
]


# --- checks -------------------------------------------------------------------------------------


def _image(x, what: str = "image") -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D grey image (height, width) of numbers, got "
                         f"shape {x.shape} dtype {x.dtype}; convert colour with "
                         "skimage.color.rgb2gray")
    return x.astype("float32")


def _batch(x, what: str = "images") -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.ndim != 3:
        raise ValueError(f"{what} must be a batch of grey images (n, height, width), got "
                         f"shape {x.shape}; a single image needs x[None]")
    return x.astype("float32")


# --- patches ------------------------------------------------------------------------------------


def _starts(length: int, size: int, stride: int) -> list[int]:
    if size > length:
        raise ValueError(f"patch size {size} is larger than the image side {length}; "
                         "use a smaller size")
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)  # a last patch flush with the border covers every pixel
    return starts


def extract_patches(image: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Square ``size`` x ``size`` patches of a grey image every ``stride`` pixels, row by row
    (the last row and column of patches sit flush with the border, so every pixel is covered).

    >>> extract_patches(np.zeros((10, 12)), size=4, stride=4).shape
    (9, 4, 4)
    """
    image = _image(image)
    size, stride = positive_int(size, "size"), positive_int(stride, "stride")
    rows, cols = _starts(image.shape[0], size, stride), _starts(image.shape[1], size, stride)
    return np.stack([image[r:r + size, c:c + size] for r in rows for c in cols])


def assemble_patches(patches: np.ndarray, shape: tuple[int, int], stride: int) -> np.ndarray:
    """The image of ``shape`` rebuilt from :func:`extract_patches` output (possibly processed),
    averaging where patches overlap.

    >>> p = extract_patches(np.ones((10, 12)), size=4, stride=2)
    >>> assemble_patches(p * 2, (10, 12), stride=2).max()
    np.float32(2.0)
    """
    patches = _batch(patches, "patches")
    size, stride = patches.shape[1], positive_int(stride, "stride")
    if patches.shape[2] != size:
        raise ValueError(f"patches must be square, got {patches.shape[1:]}")
    rows, cols = _starts(shape[0], size, stride), _starts(shape[1], size, stride)
    if len(patches) != len(rows) * len(cols):
        raise ValueError(f"{len(patches)} patches do not tile an image of shape {shape} with "
                         f"size {size} and stride {stride} ({len(rows) * len(cols)} expected); "
                         "pass the shape and stride used by extract_patches")
    total = np.zeros(shape, "float64")
    count = np.zeros(shape, "float64")
    for patch, (r, c) in zip(patches, [(r, c) for r in rows for c in cols], strict=True):
        total[r:r + size, c:c + size] += patch
        count[r:r + size, c:c + size] += 1
    return (total / count).astype("float32")


def predict_tiled(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, *,
                  size: int, stride: int, scale: int = 1, margin: int = 0) -> np.ndarray:
    """Apply ``predict`` (batch ``(n, s, s)`` -> ``(n, s*scale, s*scale)``) to overlapping tiles
    of ``image`` and reassemble; each tile's outer ``margin`` output pixels (where a CNN sees
    zero padding) are dropped wherever a neighbouring tile covers them.

    >>> out = predict_tiled(lambda b: b * 2, np.ones((20, 20)), size=8, stride=4, margin=2)
    >>> out.shape, float(out.max())
    ((20, 20), 2.0)
    """
    image = _image(image)
    scale = positive_int(scale, "scale")
    if not 0 <= margin < (size - stride + 1) * scale:
        raise ValueError(f"margin must be in [0, (size - stride) * scale], got {margin}")
    out = np.asarray(predict(extract_patches(image, size, stride)), "float32")
    if out.ndim == 4 and out.shape[-1] == 1:
        out = out[..., 0]
    big, rows, cols = size * scale, _starts(image.shape[0], size, stride), _starts(
        image.shape[1], size, stride)
    shape = (image.shape[0] * scale, image.shape[1] * scale)
    total, count = np.zeros(shape), np.zeros(shape)
    weight = np.full((big, big), 1e-6)
    weight[margin:big - margin, margin:big - margin] = 1.0
    for tile, (r, c) in zip(out, [(r, c) for r in rows for c in cols], strict=True):
        window = (slice(r * scale, r * scale + big), slice(c * scale, c * scale + big))
        total[window] += tile * weight
        count[window] += weight
    return (total / count).astype("float32")


def dihedral(patches: np.ndarray) -> np.ndarray:
    """The batch and its seven rotations/reflections (8x the data; photographs have no
    preferred orientation at patch scale).

    >>> dihedral(np.zeros((5, 4, 4))).shape
    (40, 4, 4)
    """
    patches = _batch(patches, "patches")
    turns = [np.rot90(patches, k, axes=(1, 2)) for k in range(4)]
    return np.concatenate(turns + [t[:, :, ::-1] for t in turns])


# --- degradations -------------------------------------------------------------------------------


def crop_to_multiple(image: np.ndarray, factor: int) -> np.ndarray:
    """The top-left part of ``image`` whose sides are multiples of ``factor``.

    >>> crop_to_multiple(np.zeros((10, 11)), 3).shape
    (9, 9)
    """
    factor = positive_int(factor, "factor")
    x = np.asarray(image)
    return x[..., : x.shape[-2] // factor * factor, : x.shape[-1] // factor * factor]


def downscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Low-resolution version: the mean of each ``factor`` x ``factor`` block (a box filter
    then decimation, the camera-sensor model of a lower resolution). Works on an image or a
    batch; the sides must be multiples of ``factor``.

    >>> downscale(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    factor = positive_int(factor, "factor")
    x = np.asarray(images, "float32")
    if x.ndim not in (2, 3):
        raise ValueError(f"images must be (h, w) or (n, h, w), got shape {x.shape}")
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"image sides {h}x{w} are not multiples of {factor}; "
                         "use crop_to_multiple(image, factor) first")
    blocks = x.reshape(*x.shape[:-2], h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(-3, -1))


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic interpolation by ``factor`` (Keys' kernel, a = -0.5, as in
    ``keras.ops.image.resize``; the models below use the same operation), clipped to [0, 1].

    >>> upscale(np.full((4, 4), 0.5, "float32"), 3).shape
    (12, 12)
    """
    import keras

    factor = positive_int(factor, "factor")
    x = np.asarray(images, "float32")
    if x.ndim not in (2, 3):
        raise ValueError(f"images must be (h, w) or (n, h, w), got shape {x.shape}")
    batch = x.reshape(-1, *x.shape[-2:], 1)
    size = (x.shape[-2] * factor, x.shape[-1] * factor)
    big = keras.ops.image.resize(batch, size, interpolation="bicubic", antialias=False)
    big = np.clip(keras.ops.convert_to_numpy(big), 0.0, 1.0)
    return big[..., 0].reshape(*x.shape[:-2], *size)


def add_noise(images: np.ndarray, sigma: float, *, seed: int) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` (in image units: 25/255 is
    the usual "sigma 25" of 8-bit papers). Not clipped, as in the denoising literature.

    >>> noisy = add_noise(np.zeros((100, 100)), 0.1, seed=0)
    >>> round(float(noisy.std()), 2)
    0.1
    """
    sigma = positive_number(sigma, "sigma", hint="in image units; 25/255 for 8-bit sigma 25")
    x = np.asarray(images, "float32")
    return (x + np.random.default_rng(seed).normal(0.0, sigma, x.shape)).astype("float32")


def damage_mask(shape: tuple[int, int], *, scratches: int, blotches: int, seed: int,
                width: int = 2, blotch_size: int = 8) -> np.ndarray:
    """A boolean map of damaged pixels (True = missing) like those of old film: near-vertical
    ``scratches`` of ``width`` pixels running the full height, and square dust ``blotches`` up
    to ``blotch_size`` pixels across.

    >>> m = damage_mask((64, 64), scratches=2, blotches=3, seed=0)
    >>> m.dtype, bool(0 < m.mean() < 0.3)
    (dtype('bool'), True)
    """
    h, w = (positive_int(int(s), "shape") for s in shape)
    scratches, blotches = int(scratches), int(blotches)
    if scratches < 0 or blotches < 0 or scratches + blotches == 0:
        raise ValueError("scratches and blotches must be >= 0 and not both 0")
    width, blotch_size = positive_int(width, "width"), positive_int(blotch_size, "blotch_size")
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), bool)
    rows = np.arange(h)
    for _ in range(scratches):
        x0, drift = rng.uniform(0, w), rng.uniform(-0.05, 0.05)
        centre = np.round(x0 + drift * rows).astype(int)
        for dx in range(width):
            cols = np.clip(centre + dx, 0, w - 1)
            mask[rows, cols] = True
    for _ in range(blotches):
        s = int(rng.integers(max(2, blotch_size // 2), blotch_size + 1))
        r, c = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        mask[r:r + s, c:c + s] = True
    return mask


def local_mean_fill(image: np.ndarray, missing: np.ndarray, *, sigma: float = 3.0) -> np.ndarray:
    """Fill the ``missing`` pixels (True) with the Gaussian-weighted mean of the known pixels
    around them (normalised convolution, Knutsson and Westin 1993); known pixels are kept.

    >>> x = np.ones((9, 9)); hole = np.zeros((9, 9), bool); hole[4, 4] = True
    >>> float(local_mean_fill(np.where(hole, 0, x), hole)[4, 4])
    1.0
    """
    from scipy.ndimage import gaussian_filter

    image, missing = _image(image), np.asarray(missing)
    if missing.shape != image.shape or missing.dtype != bool:
        raise ValueError(f"missing must be a boolean array of the image's shape {image.shape}, "
                         f"got {missing.dtype} {missing.shape}; use damage_mask(...)")
    sigma = positive_number(sigma, "sigma", hint="the width of the averaging, in pixels")
    known = (~missing).astype("float64")
    weight = gaussian_filter(known, sigma)
    if (weight[missing] < 1e-8).any():
        raise ValueError("some holes are too large for this sigma; pass a larger sigma")
    mean = gaussian_filter(np.where(missing, 0.0, image), sigma) / np.maximum(weight, 1e-8)
    return np.where(missing, mean, image).astype("float32")


# --- metrics ------------------------------------------------------------------------------------


def _pair(reference, estimate, border: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(reference, "float64"), np.asarray(estimate, "float64")
    if a.shape != b.shape:
        raise ValueError(f"reference {a.shape} and estimate {b.shape} differ in shape")
    if border:
        if border < 0 or 2 * border >= min(a.shape[-2:]):
            raise ValueError(f"border {border} must be >= 0 and leave pixels to compare")
        a, b = a[..., border:-border, border:-border], b[..., border:-border, border:-border]
    return a, b


def _data_range(data_range) -> float:
    return positive_number(data_range, "data_range",
                           hint="the span of valid values: 1.0 for [0, 1] images, 255 for uint8")


def psnr(reference: np.ndarray, estimate: np.ndarray, *, data_range: float,
         border: int = 0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``, after shaving
    ``border`` pixels (super-resolution papers shave the scale factor). ``estimate`` is
    clipped to the data range first: a restoration is displayed that way.

    >>> round(psnr(np.zeros((8, 8)), np.full((8, 8), 0.1), data_range=1.0), 2)
    20.0
    """
    data_range = _data_range(data_range)
    a, b = _pair(reference, estimate, border)
    mse = float(np.mean((a - np.clip(b, 0, data_range)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(data_range ** 2 / mse))


def ssim(reference: np.ndarray, estimate: np.ndarray, *, data_range: float,
         border: int = 0) -> float:
    """Structural similarity (Wang et al. 2004) of two grey images via
    ``skimage.metrics.structural_similarity`` (7x7 uniform window), estimate clipped to the
    data range, ``border`` pixels shaved.

    >>> ssim(np.eye(16), np.eye(16), data_range=1.0)
    1.0
    """
    from skimage.metrics import structural_similarity

    data_range = _data_range(data_range)
    a, b = _pair(reference, estimate, border)
    if a.ndim != 2:
        raise ValueError(f"ssim compares two grey images (h, w), got shape {a.shape}")
    return float(structural_similarity(a, np.clip(b, 0, data_range), data_range=data_range))


def evaluate(references: Sequence[np.ndarray], estimates: dict[str, Sequence[np.ndarray]], *,
             names: Sequence[str], data_range: float = 1.0, border: int = 0):
    """A table (pandas DataFrame) of PSNR and SSIM per method and image, with a mean row.

    >>> t = evaluate([np.zeros((8, 8))], {"grey": [np.full((8, 8), 0.1)]}, names=["a"])
    >>> list(t.columns), t.loc["mean", ("PSNR (dB)", "grey")]
    ([('PSNR (dB)', 'grey'), ('SSIM', 'grey')], np.float64(20.0))
    """
    import pandas as pd

    if len(names) != len(references):
        raise ValueError(f"{len(names)} names for {len(references)} reference images")
    rows = {}
    for method, images in estimates.items():
        if len(images) != len(references):
            raise ValueError(f"{method!r} has {len(images)} images for {len(references)} "
                             "references")
        rows[("PSNR (dB)", method)] = [psnr(r, e, data_range=data_range, border=border)
                                       for r, e in zip(references, images, strict=True)]
        rows[("SSIM", method)] = [ssim(r, e, data_range=data_range, border=border)
                                  for r, e in zip(references, images, strict=True)]
    table = pd.DataFrame(rows, index=list(names))
    table.loc["mean"] = table.mean()
    return table.sort_index(axis=1, level=0, sort_remaining=False)


def error_map(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Absolute error per pixel, ``|estimate - reference|`` (estimate clipped to [0, 1]).

    >>> error_map(np.zeros((2, 2)), np.full((2, 2), 1.5)).max()
    np.float32(1.0)
    """
    a, b = _pair(reference, estimate, 0)
    return np.abs(np.clip(b, 0, 1) - a).astype("float32")


# --- models -------------------------------------------------------------------------------------

_LAYERS: dict = {}


def _layers() -> dict:
    """Two small Keras layers, defined on first use so that importing this module stays cheap."""
    if _LAYERS:
        return _LAYERS
    import keras
    from keras import ops

    class DepthToSpace(keras.layers.Layer):
        """Sub-pixel shuffle: ``(h, w, c * s * s)`` -> ``(h * s, w * s, c)``."""

        def __init__(self, scale: int, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, x):
            return ops.depth_to_space(x, self.scale)

        def compute_output_shape(self, shape):
            up = [None if d is None else d * self.scale for d in shape[1:3]]
            return (shape[0], *up, shape[3] // self.scale ** 2)

    class BicubicUpscale(keras.layers.Layer):
        """Bicubic interpolation by an integer factor (Keys' kernel, a = -0.5)."""

        def __init__(self, scale: int, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, x):
            size = (ops.shape(x)[1] * self.scale, ops.shape(x)[2] * self.scale)
            return ops.image.resize(x, size, interpolation="bicubic", antialias=False)

        def compute_output_shape(self, shape):
            up = [None if d is None else d * self.scale for d in shape[1:3]]
            return (shape[0], *up, shape[3])

    _LAYERS.update(DepthToSpace=DepthToSpace, BicubicUpscale=BicubicUpscale)
    return _LAYERS



def espcn(scale: int, *, filters: Sequence[int] = (64, 32), kernels: Sequence[int] = (5, 3),
          name: str = "espcn"):
    """ESPCN-style super-resolution (Shi et al. 2016) with VDSR-style residual learning
    (Kim et al. 2016): convolutions on the low-resolution image, a last convolution to
    ``scale**2`` channels rearranged by ``depth_to_space`` into a ``scale``-times larger
    residual, added to the bicubic upscale of the input. The residual layer starts at zero, so
    the untrained network is exactly bicubic interpolation.

    >>> m = espcn(2, filters=(8,), kernels=(3,))
    >>> m.output_shape
    (None, None, None, 1)
    """
    import keras
    from keras import layers

    scale = positive_int(scale, "scale")
    if len(filters) != len(kernels) or not filters:
        raise ValueError("filters and kernels need the same, non-zero length")
    low = keras.Input((None, None, 1), name="low_resolution")
    x = low
    for f, k in zip(filters, kernels, strict=True):
        x = layers.Conv2D(positive_int(f, "filters"), k, padding="same", activation="relu")(x)
    x = layers.Conv2D(scale * scale, 3, padding="same", kernel_initializer="zeros",
                      name="subpixel_residual")(x)
    residual = _layers()["DepthToSpace"](scale, name="depth_to_space")(x)
    bicubic = _layers()["BicubicUpscale"](scale, name="bicubic")(low)
    return keras.Model(low, layers.Add(name="high_resolution")([bicubic, residual]), name=name)


def dncnn(*, depth: int = 7, filters: int = 32, batch_norm: bool = True, name: str = "dncnn"):
    """DnCNN-style residual denoiser (Zhang et al. 2017): ``depth`` 3x3 convolutions (ReLU,
    batch normalisation in the middle ones) predict the noise, which is subtracted from the
    input. The original uses depth 17 and 64 filters.

    >>> dncnn(depth=3, filters=8).count_params()
    761
    """
    import keras
    from keras import layers

    depth, filters = positive_int(depth, "depth"), positive_int(filters, "filters")
    if depth < 2:
        raise ValueError(f"depth must be >= 2 (first and last layer), got {depth}")
    noisy = keras.Input((None, None, 1), name="noisy")
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(noisy)
    for _ in range(depth - 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm)(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    noise = layers.Conv2D(1, 3, padding="same", name="noise")(x)
    return keras.Model(noisy, layers.Subtract(name="clean")([noisy, noise]), name=name)


def inpainting_net(*, filters: int = 32, dilations: Sequence[int] = (1, 2, 4, 8, 1),
                   name: str = "inpainter"):
    """Mask-conditioned inpainting CNN. Input ``(h, w, 2)``: the damaged image with its holes
    holding a first guess (zeros, or a classical fill such as biharmonic inpainting), and the
    mask (1 = missing). Dilated 3x3 convolutions (Yu and Koltun 2016) widen the view across
    holes and predict a correction that is added inside the holes only; known pixels pass
    through unchanged. The correction layer starts at zero, so the untrained network returns
    its first guess.

    >>> inpainting_net(filters=8, dilations=(1, 2)).output_shape
    (None, None, None, 1)
    """
    import keras
    from keras import layers

    filters = positive_int(filters, "filters")
    if not dilations:
        raise ValueError("dilations must name at least one layer")
    both = keras.Input((None, None, 2), name="image_and_mask")
    image = layers.Lambda(lambda t: t[..., :1], output_shape=(None, None, 1), name="guess")(both)
    mask = layers.Lambda(lambda t: t[..., 1:], output_shape=(None, None, 1), name="mask")(both)
    x = both
    for rate in dilations:
        x = layers.Conv2D(filters, 3, padding="same", dilation_rate=positive_int(rate, "rate"),
                          activation="relu")(x)
    delta = layers.Conv2D(1, 3, padding="same", kernel_initializer="zeros", name="correction")(x)
    inside = layers.Multiply(name="in_holes")([delta, mask])
    return keras.Model(both, layers.Add(name="inpainted")([image, inside]), name=name)


def apply(model, inputs: np.ndarray, *, batch_size: int = 16) -> np.ndarray:
    """Run an image-to-image ``model`` on a batch ``(n, h, w)`` (or ``(n, h, w, c)``) and
    return ``(n, H, W)`` as NumPy: direct calls in batches, without ``predict``'s input
    pipeline, so any image size works.

    >>> import keras
    >>> same = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Identity()])
    >>> apply(same, np.ones((3, 5, 7))).shape
    (3, 5, 7)
    """
    import keras

    x = np.asarray(inputs, "float32")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"inputs must be (n, h, w) or (n, h, w, c), got shape {x.shape}")
    batch_size = positive_int(batch_size, "batch_size")
    parts = [keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False))
             for i in range(0, len(x), batch_size)]
    return np.concatenate(parts)[..., 0].astype("float32")


# --- pictures -----------------------------------------------------------------------------------


def show_crops(images: dict[str, np.ndarray], reference: str, *, box: tuple[int, int, int],
               title: str, error_max: float = 0.25):
    """Side-by-side crops (top row) and absolute-error maps against ``images[reference]``
    (bottom row) of the same ``box`` = (top, left, side) of each image; returns the figure.

    >>> fig = show_crops({"a": np.zeros((8, 8)), "b": np.ones((8, 8))}, "a", box=(0, 0, 4),
    ...                  title="demo")
    >>> len(fig.axes)
    5
    """
    import matplotlib.pyplot as plt

    if reference not in images:
        raise ValueError(f"reference {reference!r} is not one of {list(images)}")
    top, left, side = box
    crop = (slice(top, top + side), slice(left, left + side))
    fig, axes = plt.subplots(2, len(images), figsize=(2.3 * len(images), 5.0),
                             layout="constrained", squeeze=False)
    ref = _image(images[reference], reference)
    shown = None
    for ax, err, (name, image) in zip(axes[0], axes[1], images.items(), strict=True):
        image = _image(image, name)
        ax.imshow(np.clip(image[crop], 0, 1), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(name, fontsize=9)
        if name == reference:
            err.set_visible(False)
        else:
            shown = err.imshow(error_map(ref[crop], image[crop]), cmap="magma", vmin=0,
                               vmax=error_max, interpolation="nearest")
            err.set_title(f"|error|, {psnr(ref[crop], image[crop], data_range=1.0):.1f} dB",
                          fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if shown is not None:
        fig.colorbar(shown, ax=axes[1].tolist(), shrink=0.8,
                     label="absolute error (intensity, 0-1)")
    fig.suptitle(f"{title} (crop {side}x{side} px at row {top}, column {left})")
    return fig
