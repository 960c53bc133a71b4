"""Clinical datasets: gbsg2, the German Breast Cancer Study Group 2 trial (survival)."""

from __future__ import annotations

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import PythonPackage
from dlbook.data.registry import split


def _lifelines_gbsg2():
    from lifelines.datasets import load_gbsg2

    return load_gbsg2()


def _read_gbsg2(frame) -> Dataset:
    frame = frame.copy()
    for column in ("horTh", "menostat", "tgrade"):
        frame[column] = frame[column].astype(str)     # pandas' str dtype -> plain object
    y = np.column_stack([frame.pop("time"), frame.pop("cens")]).astype("float64")
    x_train, x_test, y_train, y_test = split(frame, y, 0.25, stratify=False)
    return Dataset(
        "gbsg2", x_train.reset_index(drop=True), y_train, x_test.reset_index(drop=True), y_test,
        [], info=None, feature_names=list(frame.columns),
    )


register(
    DatasetInfo(
        name="gbsg2",
        title="German Breast Cancer Study Group 2 (GBSG2) trial",
        task="survival analysis: time to recurrence or death, right-censored "
        "(y columns: time in days, event 1 / censored 0; 56 % censored)",
        shape="8 covariates (pandas DataFrame): hormonal therapy (horTh), age, menopausal "
        "status, tumour size (mm), tumour grade (I-III), positive lymph nodes, progesterone and "
        "oestrogen receptors (fmol/mg)",
        size="686 patients: 514 train / 172 test (random, fixed seed); 299 events",
        license="published with the trial; distributed in the R package TH.data (GPL-2) and "
        "in lifelines (MIT)",
        source="lifelines `lifelines.datasets.load_gbsg2()`",
        citation="M. Schumacher, G. Bastert, H. Bojar et al. (1994). Randomized 2 x 2 trial "
        "evaluating hormonal treatment and the duration of chemotherapy in node-positive breast "
        "cancer patients. Journal of Clinical Oncology 12(10):2086-2093.",
        description="Node-positive breast cancer patients followed after surgery for recurrence-"
        "free survival (median follow-up about 3 years), with tumour and patient covariates.",
        sources=(PythonPackage("lifelines", "lifelines", _lifelines_gbsg2),),
        reader=_read_gbsg2,
    )
)
