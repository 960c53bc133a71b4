"""CT-like head phantoms with small low-contrast lesions, for a segmentation lesson.

No labelled medical images load offline (``notes/DATA.md``), so this module simulates the
process that makes a CT slice, in the style of the Shepp-Logan phantom (Shepp & Logan 1974):

1. **Anatomy.** scikit-image's modified Shepp-Logan head phantom (skull 1.0, brain 0.2,
   ventricles 0.0, small structures 0.3 and 0.4, in arbitrary attenuation units), resized to
   ``size`` x ``size`` and given a random affine pose per slice: scale ``0.85-1.0`` along each
   axis, rotation within ``±15°`` and a shift of up to ``size / 32`` pixels.
2. **Lesions.** ``1-3`` random ellipses (``lesions``) with semi-axes drawn from ``radius``
   (pixels) and an attenuation ``contrast`` above the tissue around them, placed wholly inside
   soft tissue (never in the skull, the ventricles or outside the head). Their union is the
   ground-truth mask. The small 0.3 structures of the phantom look much like lesions: a
   segmenter must learn where lesions can be, not only how bright they are.
3. **Acquisition.** The slice is forward-projected with the Radon transform
   (``skimage.transform.radon``) at ``angles`` equally spaced angles over 180°; line integrals
   are scaled so that the longest one attenuates the beam by about ``e^-2.4``, as through a
   head. Detector counts are Poisson with mean ``photons * exp(-line integral)`` plus Gaussian
   electronic noise (``electronic`` counts, s.d.); the noisy counts are log-transformed back.
4. **Reconstruction.** Filtered back-projection with the ramp filter
   (``skimage.transform.iradon``), which turns the sinogram noise into the fine-grained,
   streaky noise of a low-dose CT. Images are clipped to ``[0, 1]`` (a fixed window).

Known simplifications: one 2-D slice, parallel-beam geometry (clinical scanners use fan or
cone beams and helical paths), a monochromatic beam (no beam hardening, so no cupping or dark
streaks between bones), no scatter, no patient motion or metal; lesions are uniform ellipses
with sharp edges, all hyperdense, where real ones are irregular, textured and often
hypodense; and the anatomy is one phantom in different poses, far less varied than patients.
What carries over is the problem's shape: small targets, low contrast, CT-like noise and
look-alike structures.

>>> ct = simulate(4, size=32, seed=0)
>>> ct.images.shape, ct.images.dtype, ct.masks.shape
((4, 32, 32), dtype('float32'), (4, 32, 32))
>>> bool(ct.masks.sum(axis=(1, 2)).min() > 0), float(ct.images.min()) >= 0.0
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from dlbook.checks import positive_int, positive_number

__all__ = ["CTPhantoms", "anatomy", "simulate"]

SOFT_TISSUE = (0.15, 0.45)
"""Attenuation range of the phantom's brain and its small structures, where lesions may be."""
PATH_SCALE = 2.4
"""The longest line integral through the unscaled 64-pixel head, after scaling (about e^-2.4)."""


@dataclass(frozen=True)
class CTPhantoms:
    """Simulated CT slices: reconstructions, lesion masks and the noise-free truth."""

    images: np.ndarray
    """``(n, size, size)`` float32 in ``[0, 1]``: filtered back-projections, the model input."""
    masks: np.ndarray
    """``(n, size, size)`` float32 in ``{0, 1}``: 1 where a lesion is."""
    clean: np.ndarray
    """``(n, size, size)`` float32: the attenuation map that was scanned (anatomy + lesions)."""
    params: dict[str, Any]

    def __len__(self) -> int:
        return len(self.images)


@lru_cache(maxsize=8)
def _base(size: int) -> np.ndarray:
    import warnings

    from skimage.transform import resize

    with warnings.catch_warnings():   # skimage.data's file fetcher imports tqdm, which
        warnings.filterwarnings("ignore", message="IProgress not found")   # warns in Jupyter
        from skimage.data import shepp_logan_phantom

        head = shepp_logan_phantom()
    return resize(head, (size, size), order=0, anti_aliasing=False)


def anatomy(size: int = 64, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """The Shepp-Logan head at ``size`` x ``size`` in a random pose (identity if ``rng`` is None).

    >>> anatomy(16).shape
    (16, 16)
    """
    from skimage.transform import AffineTransform, warp

    size = positive_int(size, "size")
    base = _base(size)
    if rng is None:
        return base.copy()
    c = (size - 1) / 2
    sx, sy = rng.uniform(0.85, 1.0, 2)
    angle = math.radians(rng.uniform(-15, 15))
    shift = rng.uniform(-size / 32, size / 32, 2)
    to_origin = AffineTransform(translation=(-c, -c))
    pose = AffineTransform(scale=(sx, sy), rotation=angle)
    back = AffineTransform(translation=(c + shift[0], c + shift[1]))
    forward = AffineTransform(matrix=back.params @ pose.params @ to_origin.params)
    return warp(base, forward.inverse, order=0, preserve_range=True)


def _lesions(tissue: np.ndarray, rng: np.random.Generator, count: int,
             radius: tuple[float, float]) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    size = tissue.shape[0]
    brain = (tissue > SOFT_TISSUE[0]) & (tissue < SOFT_TISSUE[1])
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros_like(brain)
    for _ in range(count):
        a, b = rng.uniform(*radius, 2)
        inner = binary_erosion(brain, iterations=int(math.ceil(max(a, b))))
        spots = np.argwhere(inner & ~mask)
        if len(spots) == 0:
            break
        cy, cx = spots[rng.integers(len(spots))]
        t = rng.uniform(0, math.pi)
        u = (xx - cx) * math.cos(t) + (yy - cy) * math.sin(t)
        v = -(xx - cx) * math.sin(t) + (yy - cy) * math.cos(t)
        mask |= (u / a) ** 2 + (v / b) ** 2 <= 1
    return mask


def _checked_range(value: Any, what: str) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{what} must be a (low, high) pair, got {value!r}")
    low, high = (positive_number(v, what) for v in value)
    if low > high:
        raise ValueError(f"{what} must be (low, high) with low <= high, got {value!r}")
    return low, high


def simulate(n: int, *, size: int = 64, lesions: tuple[int, int] = (1, 3),
             radius: tuple[float, float] = (1.5, 4.0),
             contrast: tuple[float, float] = (0.06, 0.15), angles: int = 60,
             photons: float = 2e4, electronic: float = 5.0, seed: int = 0) -> CTPhantoms:
    """``n`` simulated CT slices with lesions (see the module docstring for the process).

    ``photons`` is the unattenuated count per detector bin (the dose: fewer means noisier
    images); ``angles`` the number of projections (fewer means more streaks). Seeded: the same
    arguments give the same slices.

    >>> simulate(2, size=30)
    Traceback (most recent call last):
        ...
    ValueError: size must be a multiple of 16 (e.g. 32 or 64), got 30
    """
    from skimage.transform import iradon, radon

    n = positive_int(n, "n")
    size = positive_int(size, "size")
    if size % 16:
        raise ValueError(f"size must be a multiple of 16 (e.g. 32 or 64), got {size}")
    if not isinstance(lesions, (tuple, list)) or len(lesions) != 2:
        raise ValueError(f"lesions must be a (fewest, most) pair of ints, got {lesions!r}")
    lo_n, hi_n = (positive_int(v, "lesions") for v in lesions)
    if lo_n > hi_n:
        raise ValueError(f"lesions must be (fewest, most) with fewest <= most, got {lesions!r}")
    radius = _checked_range(radius, "radius")
    contrast = _checked_range(contrast, "contrast")
    angles = positive_int(angles, "angles")
    photons = positive_number(photons, "photons", hint="counts per detector bin, e.g. 2e4")
    if not isinstance(electronic, (int, float)) or isinstance(electronic, bool) or electronic < 0:
        raise ValueError(f"electronic must be a number >= 0 (noise s.d. in counts), got {electronic!r}")
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.0, 180.0, angles, endpoint=False)
    scale = PATH_SCALE / (16.27 * size / 64)   # longest path of the unscaled head, per pixel
    images = np.empty((n, size, size), np.float32)
    masks = np.empty((n, size, size), np.float32)
    clean = np.empty((n, size, size), np.float32)
    for i in range(n):
        tissue = anatomy(size, rng=rng)
        mask = _lesions(tissue, rng, int(rng.integers(lo_n, hi_n + 1)), radius)
        mu = tissue + mask * rng.uniform(*contrast)
        counts = photons * np.exp(-radon(mu, theta, circle=True) * scale)
        noisy = rng.poisson(counts) + rng.normal(0.0, electronic, counts.shape)
        sinogram = -np.log(np.maximum(noisy, 1.0) / photons) / scale
        recon = iradon(sinogram, theta, circle=True, filter_name="ramp")
        images[i], masks[i], clean[i] = np.clip(recon, 0.0, 1.0), mask, mu
    params = dict(size=size, lesions=(lo_n, hi_n), radius=radius, contrast=contrast,
                  angles=angles, photons=photons, electronic=electronic, seed=seed)
    return CTPhantoms(images, masks, clean, params)
