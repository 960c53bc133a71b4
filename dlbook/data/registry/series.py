"""Real time series: Mauna Loa CO2 (weekly), sunspots (yearly) and a labelled ECG excerpt.

A series is one long sequence, not a bag of examples, so its :class:`~dlbook.data.Dataset` is
cut **chronologically**: the test part is the series' last stretch, never shuffled, so that a
forecaster is always judged on a future it has not seen. Put the two parts back together with
``np.concatenate([ds.y_train, ds.y_test])``.

- Forecasting series (``co2``, ``sunspots``): ``x_*`` holds *when* (dates as ``datetime64[ns]``
  for CO2, years as ``int64`` for sunspots) and ``y_*`` the measured values (``float64``, in
  their units); ``class_names`` is empty (a regression target).
- The labelled anomaly series (``mitdb-ecg``): ``x_*`` holds the signal (``float64``, mV), one
  sample per point at 360 Hz, and ``y_*`` the per-point label (``int64``: 0 normal,
  1 anomalous), because the label is what a detector predicts.

>>> from dlbook import data
>>> co2 = data.load("co2")
>>> co2.x_train.dtype, co2.y_train.dtype, bool(co2.x_train[-1] < co2.x_test[0])
(dtype('<M8[ns]'), dtype('float64'), True)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import PythonPackage, SetupArchive

# --- Mauna Loa CO2 ------------------------------------------------------------------------------

CO2_TEST_FROM = "1990-01-01"
"""First week of the held-out period: 1990-2001 (626 weeks) is the test part."""


def _statsmodels_co2():
    from statsmodels.datasets import co2

    return co2.load_pandas().data["co2"]


def fill_gaps(series):
    """A weekly pandas Series with its missing values filled by linear interpolation in time
    (the straight line between the nearest measured weeks on either side); a gap at either end
    takes the nearest measured value.

    >>> import pandas as pd
    >>> s = pd.Series([1.0, None, 3.0, None],
    ...               index=pd.date_range("2000-01-01", periods=4, freq="W"))
    >>> fill_gaps(s).tolist()
    [1.0, 2.0, 3.0, 3.0]
    """
    if series.index.dtype.kind != "M":
        raise TypeError("fill_gaps needs a Series indexed by dates (a pandas DatetimeIndex)")
    return series.interpolate(method="time").bfill().ffill()


def _read_co2(series) -> Dataset:
    filled = fill_gaps(series)
    dates = filled.index.to_numpy(dtype="datetime64[ns]")
    values = filled.to_numpy(dtype="float64")
    test = dates >= np.datetime64(CO2_TEST_FROM)
    return Dataset(
        "co2", dates[~test], values[~test], dates[test], values[test], [], info=None,
        feature_names=["date"],
    )


register(
    DatasetInfo(
        name="co2",
        title="Mauna Loa atmospheric CO2, weekly (1958-2001)",
        task="forecasting: CO2 concentration in the weeks ahead",
        shape="x: week (datetime64[ns], each a Saturday), y: CO2 mole fraction in ppm (float64)",
        size="2,284 weeks, 1958-03-29 to 2001-12-29: 1,658 train (to 1989) / 626 test "
        "(1990-2001, chronological)",
        license="public domain (US Government data, NOAA / Scripps; shipped by statsmodels)",
        source="statsmodels `datasets.co2`",
        citation="C. D. Keeling and T. P. Whorf (2004). Atmospheric CO2 concentrations derived "
        "from flask air samples at sites in the SIO network. In Trends: A Compendium of Data on "
        "Global Change. Carbon Dioxide Information Analysis Center, Oak Ridge National "
        "Laboratory, U.S. Department of Energy.",
        description="Weekly means of atmospheric CO2 at Mauna Loa Observatory, Hawaii: a rising "
        "trend (about 1.5 ppm a year) with a yearly cycle of about 6 ppm from vegetation. 59 "
        "weeks (2.6 %) have no measurement in the source; dlbook fills them by linear "
        "interpolation in time between the nearest measured weeks (`fill_gaps`), so the series "
        "is regular. Fixed chronological split: the test part is 1990 onwards.",
        sources=(PythonPackage("statsmodels", "statsmodels", _statsmodels_co2),),
        reader=_read_co2,
    )
)


# --- sunspots -----------------------------------------------------------------------------------

SUNSPOTS_TEST_FROM = 1950
"""First year of the held-out period: 1950-2008 (59 years, about five solar cycles)."""


def _statsmodels_sunspots():
    from statsmodels.datasets import sunspots

    return sunspots.load_pandas().data


def _read_sunspots(frame) -> Dataset:
    years = frame["YEAR"].to_numpy().astype("int64")
    values = frame["SUNACTIVITY"].to_numpy(dtype="float64")
    test = years >= SUNSPOTS_TEST_FROM
    return Dataset(
        "sunspots", years[~test], values[~test], years[test], values[test], [], info=None,
        feature_names=["year"],
    )


register(
    DatasetInfo(
        name="sunspots",
        title="Yearly sunspot numbers (1700-2008)",
        task="forecasting: sunspot activity in the years ahead",
        shape="x: year (int64), y: yearly mean sunspot number (float64, a count-based index)",
        size="309 years: 250 train (1700-1949) / 59 test (1950-2008, chronological)",
        license="public domain (NOAA National Geophysical Data Center; shipped by statsmodels)",
        source="statsmodels `datasets.sunspots`",
        citation="SIDC / WDC-SILSO, Royal Observatory of Belgium, Brussels: sunspot number "
        "series, as distributed by NOAA NGDC (yearly values, 1700-2008), packaged in statsmodels.",
        description="The yearly mean (Wolf / Zurich) sunspot number, with the roughly 11-year "
        "solar cycle of varying height and length. No missing values. Fixed chronological "
        "split: the test part is 1950 onwards.",
        sources=(PythonPackage("statsmodels", "statsmodels", _statsmodels_sunspots),),
        reader=_read_sunspots,
    )
)


# --- MIT-BIH ECG excerpt with anomaly labels ----------------------------------------------------

SKTIME_WHEEL = "sktime-1.2.0-py3-none-any.whl"
SKTIME_WHEEL_SHA256 = "dbffc6731d2d683b668dceb5e2bbc5804bebc8446b4c580803a281684d90e4ae"
MITDB_MEMBER = "sktime/datasets/data/mitdb/mitdb.csv"
MITDB_TEST_FROM = 5000
"""First sample of the held-out part: samples 5,000-7,499 (the anomaly lies in there)."""
MITDB_HZ = 360
"""Sampling rate of the MIT-BIH Arrhythmia Database (samples per second)."""


def read_mitdb_csv(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The (signal, label) columns of sktime's ``mitdb.csv`` (header ``data,label``).

    >>> x, y = read_mitdb_csv(b"data,label\\n-0.195,0\\n0.9,1\\n")
    >>> x.tolist(), y.tolist()
    ([-0.195, 0.9], [0, 1])
    """
    lines = raw.decode("ascii").split()
    if not lines or lines[0].strip() != "data,label":
        raise ValueError("not sktime's mitdb.csv: the first line must be 'data,label'")
    table = np.array([line.split(",") for line in lines[1:]], dtype="float64")
    return table[:, 0], table[:, 1].astype("int64")


def _read_mitdb(paths: dict[str, Path]) -> Dataset:
    with zipfile.ZipFile(paths["archive"]) as wheel:
        raw = wheel.read(MITDB_MEMBER)
    signal, label = read_mitdb_csv(raw)
    cut = MITDB_TEST_FROM
    return Dataset(
        "mitdb-ecg", signal[:cut], label[:cut], signal[cut:], label[cut:],
        ["normal", "anomaly"], info=None, feature_names=["ecg_mV"],
    )


register(
    DatasetInfo(
        name="mitdb-ecg",
        title="ECG excerpt from the MIT-BIH Arrhythmia Database, with anomaly labels",
        task="anomaly detection in a stream: flag the abnormal stretch of heartbeats",
        shape="x: ECG signal in mV (float64), one sample per point at 360 Hz; y: per-sample "
        "label (int64, 0 normal / 1 anomaly)",
        size="7,500 samples (20.8 s, about 25 beats): 5,000 train (all normal) / 2,500 test "
        "(chronological) holding the one labelled anomaly, samples 6,936-7,287 (352 samples)",
        license="Open Data Commons Attribution License v1.0 (MIT-BIH Arrhythmia Database, "
        "PhysioNet); packaged in sktime (BSD-3-Clause)",
        source="`sktime/datasets/data/mitdb/mitdb.csv` inside the sktime 1.2.0 wheel on PyPI, "
        "fetched by `make setup` and read in place (sktime is never imported)",
        citation="G. B. Moody and R. G. Mark (2001). The impact of the MIT-BIH Arrhythmia "
        "Database. IEEE Engineering in Medicine and Biology 20(3):45-50; A. L. Goldberger et al. "
        "(2000). PhysioBank, PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220; "
        "excerpt and labels as packaged in sktime 1.2.0 (M. Löning et al. 2019, sktime: a "
        "unified interface for machine learning with time series, arXiv:1909.07872).",
        description="One ECG lead from a record of the MIT-BIH Arrhythmia Database as shipped "
        "by sktime for its anomaly-detection examples: regular sinus beats, then one labelled "
        "anomalous stretch around an early (premature) beat and the pause after it. sktime does "
        "not say which record it is; the sampling rate is the database's 360 Hz. Fixed "
        "chronological split: the first 5,000 samples (normal only) train, the rest test.",
        sources=(
            SetupArchive(files={"archive": (SKTIME_WHEEL, SKTIME_WHEEL_SHA256)},
                         requirement="sktime==1.2.0"),
        ),
        reader=_read_mitdb,
    )
)
