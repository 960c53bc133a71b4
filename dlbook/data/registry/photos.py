"""Photographs for restoration: ``photos``, twelve freely licensed photographs that ship with
scikit-image and scikit-learn, as grey 288x288 centre crops, split by photograph."""

from __future__ import annotations

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register

CROP = 288
"""Side of the centre crop: the largest multiple of 2, 3 and 4 that fits every photograph."""

TRAIN = ("astronaut", "chelsea", "rocket", "coins", "immunohistochemistry", "brick",
         "gravel", "grass")
"""The photographs to learn from, in the order of ``x_train``."""

TEST = ("camera", "coffee", "china", "flower")
"""The photographs to evaluate on (never trained on), in the order of ``x_test``."""

LICENSES = {
    "astronaut": "public domain (NASA)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "rocket": "public domain (SpaceX)",
    "coins": "no known copyright restrictions (Brooklyn Museum)",
    "immunohistochemistry": "no known copyright restrictions (CMMI)",
    "brick": "CC0 (CC0Textures)",
    "gravel": "CC0 (CC0Textures)",
    "grass": "CC0 (linolafett, DeviantArt)",
    "camera": "CC0 (Lav Varshney)",
    "coffee": "CC0 (Rachel Michetti)",
    "china": "CC BY 2.0 (danielbuechele, Flickr)",
    "flower": "CC BY 2.0 (vultilion, Flickr)",
}


def _grey_crop(image: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray

    image = np.asarray(image)
    grey = rgb2gray(image) if image.ndim == 3 else image / 255.0
    top, left = (grey.shape[0] - CROP) // 2, (grey.shape[1] - CROP) // 2
    return grey[top:top + CROP, left:left + CROP].astype("float32")


def _photographs() -> dict[str, np.ndarray]:
    import warnings

    import skimage.data
    from sklearn.datasets import load_sample_images

    shipped = load_sample_images()
    with warnings.catch_warnings():  # skimage.data imports pooch, which imports tqdm.auto
        warnings.filterwarnings("ignore", message="IProgress not found")
        raw = {name: getattr(skimage.data, name)() for name in (*TRAIN, "camera", "coffee")}
    for path, image in zip(shipped.filenames, shipped.images, strict=True):
        raw[path.rsplit("/", 1)[-1].removesuffix(".jpg")] = image
    return raw


def _read_photos(raw: dict[str, np.ndarray]) -> Dataset:
    x_train = np.stack([_grey_crop(raw[name]) for name in TRAIN])
    x_test = np.stack([_grey_crop(raw[name]) for name in TEST])
    return Dataset("photos", x_train, x_train.copy(), x_test, x_test.copy(), [], info=None,
                   feature_names=None)


def _source():
    from dlbook.data._sources import PythonPackage

    return PythonPackage("skimage", "scikit-image", _photographs)


register(
    DatasetInfo(
        name="photos",
        title="Twelve freely licensed photographs (scikit-image and scikit-learn samples)",
        task="image restoration (super-resolution, denoising, inpainting): the target y is the "
        "clean photograph itself (y == x); a chapter degrades x",
        shape=f"{CROP}x{CROP} grey images (luminance, skimage.color.rgb2gray), float32 in "
        "[0, 1], centre crops",
        size=f"12 photographs: 8 train ({', '.join(TRAIN)}) / 4 test ({', '.join(TEST)}); "
        "split by photograph, so no test pixel is ever trained on",
        license="; ".join(f"{k}: {v}" for k, v in LICENSES.items()),
        source="scikit-image `skimage.data` (astronaut, chelsea, rocket, coins, "
        "immunohistochemistry, brick, gravel, grass, camera, coffee) and scikit-learn "
        "`load_sample_images()` (china, flower)",
        citation="S. van der Walt, J. L. Schönberger, J. Nunez-Iglesias et al. (2014). "
        "scikit-image: image processing in Python. PeerJ 2:e453. doi:10.7717/peerj.453; "
        "F. Pedregosa et al. (2011). Scikit-learn: machine learning in Python. JMLR 12:2825-2830",
        description="Portraits, animals, a launch, museum coins, stained tissue and textures to "
        "train on; the cameraman, a coffee cup, a Chinese temple and a flower to test on. All "
        "ship inside the two packages, so they load offline.",
        sources=(_source(),),
        reader=_read_photos,
    )
)
