"""Surface defects on real textures: patches of three scikit-image photographs with seeded,
synthetic scratches, stains and holes, and a pixel mask of every defect.

Visual inspection in a factory looks at the same surface (woven fabric, cast metal, wood,
tiles) over and over and must flag the rare part that is damaged. Good parts are plentiful,
damaged ones are rare and every one is different, so the usual set-up is *one-class*: learn
what good surface looks like from defect-free images only, flag what does not fit, and show
where. The MVTec AD benchmark (Bergmann et al. 2019) poses exactly this task with real photos
of real defects; it is a download under a non-commercial licence, so this module builds the
same task from images that ship offline:

- **Surfaces**: the 512x512 grey textures ``brick``, ``grass`` and ``gravel`` of
  ``skimage.data`` (photographs from CC0Textures, CC0 licence, cropped and converted to grey by
  scikit-image): brick is regular and low-frequency, grass and gravel are irregular and full
  of fine, high-frequency detail. :func:`texture` returns one in [0, 1].
- **Disjoint regions**: :func:`split_patches` cuts the *top* rows of an image into
  overlapping training patches and the *bottom* rows into non-overlapping test patches, so no
  test pixel was ever seen in training (neighbouring patches of one photo are near-copies, and
  a random patch split would leak).
- **Defects** (:func:`add_defects`), drawn into a share ``fraction`` of the test patches:
  ``scratch`` a thin straight line (1-2 px wide, 8-20 px long, any angle), brighter or darker
  than the surface, with soft edges, as a tool mark or abrasion leaves; ``stain`` a soft-edged
  elliptical blob (radius 3-7 px) that darkens or tints the surface but keeps its texture,
  as oil, water or rust does; ``hole`` a small dark disk (radius 2-4 px) with almost no
  texture inside, as a pit, pore or missing piece looks under top light. The mask marks
  the pixels a defect changed by more than a small visibility threshold.

**Parameters**: ``size`` (patch side, px), ``stride`` (between training patches),
``test_rows`` (the share of rows held out at the bottom), ``fraction`` (share of test patches
with a defect), ``kinds`` (which defects), ``strength`` (scales every defect's contrast: 1 is
clearly visible to a person, 0.5 subtle), ``seed``.

**Known simplifications**: defects are drawn, not photographed: real scratches have burrs and
reflections, real stains change the gloss, and real defects come in many more shapes and
sizes (MVTec AD's range from a few pixels to a third of the image). One defect per patch;
lighting, focus and pose never change, while on a real line they drift; the three textures are
single photographs, so "good" variation is only what one photo holds.

>>> image = texture("brick")
>>> image.shape, image.dtype, float(image.min()) >= 0.0, float(image.max()) <= 1.0
((512, 512), dtype('float32'), True, True)
>>> train, test = split_patches(image, size=32, stride=16)
>>> train.shape[1:], test.shape[1:]
((32, 32), (32, 32))
>>> d = add_defects(test, fraction=0.5, seed=0)
>>> d.images.shape == d.masks.shape, int(d.labels.sum()) == len(test) // 2
(True, True)
>>> bool((d.masks[d.labels == 0] == 0).all()), bool((d.masks[d.labels == 1].sum((1, 2)) > 0).all())
(True, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dlbook.checks import positive_int, positive_number

__all__ = ["KINDS", "TEXTURES", "Defects", "add_defects", "split_patches", "texture"]

TEXTURES = ("brick", "grass", "gravel")
KINDS = ("scratch", "stain", "hole")
VISIBLE = 0.02
"""A pixel belongs to a defect's mask if the defect moved it by more than this (intensity in [0, 1])."""


def texture(name: str) -> np.ndarray:
    """One of the 512x512 grey textures of ``skimage.data`` as float32 in [0, 1].

    >>> texture("gravel").shape
    (512, 512)
    """
    if name not in TEXTURES:
        raise ValueError(f"unknown texture {name!r}; choose one of {TEXTURES}")
    # skimage.data loads lazily; its file fetcher imports tqdm, which warns in Jupyter
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import skimage.data

        image = getattr(skimage.data, name)()
    return image.astype("float32") / 255.0


def _patches(region: np.ndarray, size: int, stride: int) -> np.ndarray:
    rows = range(0, region.shape[0] - size + 1, stride)
    cols = range(0, region.shape[1] - size + 1, stride)
    return np.stack([region[r:r + size, c:c + size] for r in rows for c in cols])


def split_patches(image: np.ndarray, *, size: int = 32, stride: int = 8,
                  test_rows: float = 0.375) -> tuple[np.ndarray, np.ndarray]:
    """Training patches (overlapping, every ``stride`` px) from the top of ``image`` and test
    patches (side by side, no overlap) from its bottom ``test_rows`` share of rows.

    >>> train, test = split_patches(np.zeros((128, 128), "float32"), size=32, stride=32,
    ...                             test_rows=0.5)
    >>> train.shape, test.shape
    ((8, 32, 32), (8, 32, 32))
    """
    image = np.asarray(image, dtype="float32")
    if image.ndim != 2:
        raise ValueError(f"image must be one grey image (h, w), got shape {image.shape}; "
                         "convert colour with skimage.color.rgb2gray first")
    size, stride = positive_int(size, "size"), positive_int(stride, "stride")
    if not 0 < test_rows < 1:
        raise ValueError(f"test_rows must lie strictly between 0 and 1, got {test_rows!r}")
    cut = int(round(image.shape[0] * (1 - test_rows)))
    if cut < size or image.shape[0] - cut < size or image.shape[1] < size:
        raise ValueError(f"an image of shape {image.shape} split at row {cut} leaves no room "
                         f"for {size}x{size} patches; use smaller patches or change test_rows")
    return _patches(image[:cut], size, stride), _patches(image[cut:], size, size)


@dataclass(frozen=True)
class Defects:
    """Test patches with defects drawn into some of them.

    ``images`` (n, h, w) in [0, 1]; ``masks`` (n, h, w) 1 where a defect changed the pixel;
    ``labels`` (n,) 1 for a defective patch; ``kinds`` (n,) the defect kind or ``"good"``.
    """

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray


def _soft(distance: np.ndarray, radius: float, edge: float = 1.0) -> np.ndarray:
    """1 inside ``radius``, 0 outside, a linear ramp ``edge`` px wide between."""
    return np.clip((radius + edge / 2 - distance) / edge, 0.0, 1.0)


def _draw(patch: np.ndarray, kind: str, rng: np.random.Generator, strength: float) -> np.ndarray:
    h, w = patch.shape
    yy, xx = np.mgrid[0:h, 0:w].astype("float32")
    margin = min(h, w) // 4
    cy, cx = rng.uniform(margin, h - margin), rng.uniform(margin, w - margin)
    mean = float(patch.mean())
    if kind == "scratch":
        angle, length = rng.uniform(0, np.pi), rng.uniform(8, 20)
        width = rng.uniform(1.0, 2.0)
        dy, dx = np.sin(angle), np.cos(angle)
        along = (yy - cy) * dy + (xx - cx) * dx
        across = np.abs(-(yy - cy) * dx + (xx - cx) * dy)
        weight = _soft(across, width / 2) * _soft(np.abs(along), length / 2, edge=2.0)
        target = 1.0 if rng.random() < 0.5 or mean < 0.35 else 0.0   # bright or dark mark
        return patch + weight * strength * 0.6 * (target - patch)
    if kind == "stain":
        ry, rx = rng.uniform(3, 7, size=2)
        angle = rng.uniform(0, np.pi)
        u = (yy - cy) * np.cos(angle) + (xx - cx) * np.sin(angle)
        v = -(yy - cy) * np.sin(angle) + (xx - cx) * np.cos(angle)
        weight = _soft(np.sqrt((u / ry) ** 2 + (v / rx) ** 2) * min(ry, rx), min(ry, rx), 3.0)
        shift = -0.3 if mean > 0.3 else 0.3                              # keep the texture
        return patch + weight * strength * (shift + 0.3 * (patch - mean))
    radius = rng.uniform(2, 4)
    weight = _soft(np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2), radius)
    inside = 0.05 + 0.02 * rng.standard_normal(patch.shape)             # a dark, flat pit
    return patch + weight * strength * (inside - patch)


def add_defects(patches: np.ndarray, *, fraction: float = 0.5, kinds: Sequence[str] = KINDS,
                strength: float = 1.0, seed: int = 0) -> Defects:
    """Draw one defect (kinds taken in turn) into ``round(fraction * n)`` randomly chosen patches.

    >>> d = add_defects(np.full((4, 32, 32), 0.5, "float32"), fraction=0.5, kinds=["hole"])
    >>> d.kinds.tolist().count("hole"), float(d.images[d.labels == 1].min()) < 0.2
    (2, True)
    """
    x = np.asarray(patches, dtype="float32")
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"patches must be a non-empty stack (n, h, w), got shape {x.shape}")
    if x.min() < 0 or x.max() > 1:
        raise ValueError("patches must lie in [0, 1]; pass texture() patches or divide by 255")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}")
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        raise ValueError(f"kinds must be a non-empty list from {KINDS}, got {kinds!r}")
    strength = positive_number(strength, "strength", hint="1 is clearly visible")
    rng = np.random.default_rng(seed)
    n = len(x)
    chosen = np.sort(rng.choice(n, size=int(round(fraction * n)), replace=False))
    images, masks = x.copy(), np.zeros_like(x, dtype="uint8")
    labels, names = np.zeros(n, dtype="int64"), np.full(n, "good", dtype=object)
    for i, index in enumerate(chosen):
        kind = kinds[i % len(kinds)]
        drawn = np.clip(_draw(x[index], kind, rng, strength), 0.0, 1.0)
        masks[index] = np.abs(drawn - x[index]) > VISIBLE
        if masks[index].any():
            images[index], labels[index], names[index] = drawn, 1, kind
    return Defects(images.astype("float32"), masks, labels, names.astype(str))
