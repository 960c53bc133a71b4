"""A seeded stream of synthetic card transactions with labelled fraud, for fraud-detection chapters.

Real card-fraud data cannot be shipped (it is personal data, and the public Kaggle set is
PCA-scrambled), so this module *simulates* the process a card issuer sees: many cardholders,
each with habits, paying merchants of different kinds, and now and then a fraudster using a
stolen card. Every transaction is labelled, and every fraud carries the name of its pattern, so
a detector can be scored per pattern.

What it models
--------------
* **Cardholders** (``n_cards``): a home country (three countries, weights 0.6/0.25/0.15), a
  spending level (log-normal, so some spend ten times more than others), a purchase rate per
  day (gamma-distributed, mean about 2), a daily rhythm (a peak hour between 9:00 and 20:00 and a
  spread of 1.5-4 h) and eight favourite merchants near home, where 80 % of purchases go.
* **Merchants** (``n_merchants``): a category (grocery, restaurant, fuel, retail, online,
  travel, electronics, entertainment) with its own typical amount, and a country (five).
* **Normal behaviour**: a Poisson number of purchases per card and day at times drawn from the
  card's rhythm; amounts log-normal around ``spending level x category amount`` (sigma 0.7);
  legitimate trips abroad (about one per card per 100 days, 3-8 days long) during which
  purchases go to merchants of the visited country, so "new country" is a clue, not a proof.
* **Fraud** (``fraud_rate``, share of all transactions, default 0.3 %), in three patterns that
  each give about a third of the fraudulent transactions; each fraud is an *episode* on one card
  (one card may suffer several), interleaved with the owner's own use:

  - ``card_testing``: a burst of 5-15 small amounts (0.5-5) a few minutes apart at one or two
    online merchants, to test whether a stolen number works, followed half of the time by one
    larger online purchase;
  - ``account_takeover``: 3-8 purchases over a few hours, usually at night, at merchants abroad
    in online, electronics and retail, for 2-6 times the owner's usual amount;
  - ``high_value``: one or two very large purchases (about 20-80 times the owner's usual
    amount) in electronics or travel, in the owner's country and at the owner's usual hours.

Known simplifications
---------------------
No declines, refunds, chargebacks or reporting delays (real labels arrive weeks late and are
noisy); no seasonality or paydays; no merchant compromise (one breached shop leaking many
cards); fraudsters do not adapt to the detector; amounts are log-normal, times independent
within a day; countries are anonymous codes. The patterns are cartoons of the ones described by
fraud teams (e.g. Dal Pozzolo et al. 2014; Bolton & Hand 2002): a detector that scores well here
has learned the simulator's rules, which is a sanity check, not evidence about real fraud.

>>> df = generate(n_cards=40, days=20, seed=0)
>>> list(df.columns)  # doctest: +NORMALIZE_WHITESPACE
['time', 'day', 'hour', 'card', 'card_country', 'merchant', 'category', 'country', 'amount',
 'is_fraud', 'pattern']
>>> bool(df["time"].is_monotonic_increasing), sorted(set(df["pattern"]))[-1]
(True, 'normal')
>>> generate(n_cards=40, days=20, seed=0).equals(df)   # seeded: the same stream every time
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CATEGORIES", "PATTERNS", "generate"]

CATEGORIES = ("grocery", "restaurant", "fuel", "retail", "online", "travel", "electronics",
              "entertainment")
"""Merchant categories, in the order of the columns a model sees."""
_CATEGORY_WEIGHT = np.array([0.26, 0.2, 0.13, 0.14, 0.13, 0.04, 0.04, 0.06])
_CATEGORY_AMOUNT = np.array([35.0, 25.0, 45.0, 40.0, 30.0, 220.0, 120.0, 30.0])
PATTERNS = ("card_testing", "account_takeover", "high_value")
"""The fraud patterns, each about a third of the fraudulent transactions."""
_EPISODE_LEN = {"card_testing": 10.5, "account_takeover": 5.5, "high_value": 1.5}
_N_COUNTRIES, _HOME_WEIGHT = 5, np.array([0.6, 0.25, 0.15])
_CAT = {c: i for i, c in enumerate(CATEGORIES)}


def _check_int(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _merchants(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    category = rng.choice(len(CATEGORIES), size=n, p=_CATEGORY_WEIGHT)
    country = rng.choice(_N_COUNTRIES, size=n, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    category[: len(CATEGORIES)] = np.arange(len(CATEGORIES))  # every category exists ...
    for c in range(_N_COUNTRIES):  # ... and every country has merchants of every category
        category[len(CATEGORIES) * (c + 1): len(CATEGORIES) * (c + 2)] = np.arange(len(CATEGORIES))
        country[len(CATEGORIES) * (c + 1): len(CATEGORIES) * (c + 2)] = c
    return category, country


def _pick(rng: np.random.Generator, pool: np.ndarray) -> int:
    return int(pool[rng.integers(len(pool))])


def generate(n_cards: int = 1000, days: int = 90, *, fraud_rate: float = 0.003,
             n_merchants: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Simulate ``days`` days of transactions on ``n_cards`` cards (see the module docstring).

    Returns one row per transaction, sorted by ``time`` (days since the start, float):
    ``day`` (int), ``hour`` (0-24), ``card``, ``card_country`` (the holder's home),
    ``merchant``, ``category``, ``country`` (the merchant's), ``amount`` (currency units),
    ``is_fraud`` (0/1) and ``pattern`` (``"normal"`` or one of :data:`PATTERNS`).

    >>> df = generate(n_cards=200, days=30, fraud_rate=0.004, seed=1)
    >>> bool(0.002 < df["is_fraud"].mean() < 0.007)
    True
    """
    n_cards = _check_int(n_cards, "n_cards", 1)
    days = _check_int(days, "days", 1)
    if isinstance(fraud_rate, bool) or not isinstance(fraud_rate, (int, float)) \
            or not 0 <= fraud_rate < 0.5:
        raise ValueError(f"fraud_rate must be a share in [0, 0.5) (0.003 is 0.3 %), got {fraud_rate!r}")
    n_merchants = max(200, n_cards // 2) if n_merchants is None else \
        _check_int(n_merchants, "n_merchants", len(CATEGORIES) * (_N_COUNTRIES + 1))
    rng = np.random.default_rng(seed)
    m_cat, m_country = _merchants(rng, n_merchants)
    by_country = [np.flatnonzero(m_country == c) for c in range(_N_COUNTRIES)]

    home = rng.choice(3, size=n_cards, p=_HOME_WEIGHT)
    level = rng.lognormal(0.0, 0.5, size=n_cards)
    rate = np.clip(rng.gamma(2.0, 1.0, size=n_cards), 0.3, 6.0)
    peak, spread = rng.uniform(9, 20, size=n_cards), rng.uniform(1.5, 4.0, size=n_cards)
    favourites = np.stack([rng.choice(by_country[h], size=8, replace=False) for h in home])

    # --- normal purchases: Poisson counts per card and day, times from the card's rhythm -------
    counts = rng.poisson(np.repeat(rate, days))
    card = np.repeat(np.repeat(np.arange(n_cards), days), counts)
    day = np.repeat(np.tile(np.arange(days), n_cards), counts)
    hour = np.mod(rng.normal(peak[card], spread[card]), 24.0)
    merchant = np.where(rng.random(card.size) < 0.8, favourites[card, rng.integers(8, size=card.size)],
                        -1)
    for h in range(3):  # the other 20 %: any merchant in the home country
        free = (merchant < 0) & (home[card] == h)
        merchant[free] = rng.choice(by_country[h], size=int(free.sum()))
    time = day + hour / 24.0
    for c in range(n_cards):  # legitimate trips abroad
        for _ in range(rng.poisson(days / 100)):
            start, length = rng.uniform(0, days), rng.uniform(3, 8)
            away = rng.choice([k for k in range(_N_COUNTRIES) if k != home[c]])
            during = np.flatnonzero((card == c) & (time >= start) & (time < start + length))
            merchant[during] = rng.choice(by_country[away], size=during.size)
    cat = m_cat[merchant]
    amount = rng.lognormal(np.log(level[card] * _CATEGORY_AMOUNT[cat]), 0.7)
    rows = [pd.DataFrame({"time": time, "card": card, "merchant": merchant, "amount": amount,
                          "pattern": "normal"})]

    # --- fraud episodes --------------------------------------------------------------------------
    lengths = np.array([_EPISODE_LEN[p] for p in PATTERNS])
    share = (1 / lengths) / (1 / lengths).sum()  # episodes so that each pattern gives a third
    n_episodes = int(round(fraud_rate * card.size / (1 - fraud_rate) / (share @ lengths)))
    online = np.flatnonzero(m_cat == _CAT["online"])
    for pattern in rng.choice(PATTERNS, size=n_episodes, p=share):
        c = int(rng.integers(n_cards))
        start = rng.uniform(0, days)
        if pattern == "card_testing":
            k = int(rng.integers(5, 16))
            t = start + np.cumsum(rng.exponential(3.0, size=k)) / 1440
            shops = rng.choice(online, size=2)
            m = shops[rng.integers(2, size=k)]
            a = np.round(rng.uniform(0.5, 5.0, size=k), 2)
            if rng.random() < 0.5:
                t = np.append(t, t[-1] + rng.exponential(20.0) / 1440)
                m, a = np.append(m, shops[0]), np.append(a, rng.uniform(100, 500))
        elif pattern == "account_takeover":
            k = int(rng.integers(3, 9))
            night = np.floor(start) + rng.uniform(0, 5) / 24 if rng.random() < 0.7 else start
            t = night + np.cumsum(rng.exponential(40.0, size=k)) / 1440
            away = [x for x in range(_N_COUNTRIES) if x != home[c]]
            pool = np.flatnonzero(np.isin(m_country, away) & np.isin(
                m_cat, [_CAT["online"], _CAT["electronics"], _CAT["retail"]]))
            m = rng.choice(pool, size=k)
            a = level[c] * _CATEGORY_AMOUNT[m_cat[m]] * rng.uniform(2, 6, size=k)
        else:  # high_value
            k = int(rng.integers(1, 3))
            t = np.floor(start) + np.mod(rng.normal(peak[c], spread[c]), 24.0) / 24 \
                + np.arange(k) * rng.uniform(0.01, 0.2)
            pool = np.flatnonzero((m_country == home[c]) & np.isin(
                m_cat, [_CAT["electronics"], _CAT["travel"]]))
            m = rng.choice(pool, size=k)
            a = level[c] * 35.0 * rng.uniform(20, 80, size=k)
        keep = t < days
        rows.append(pd.DataFrame({"time": t[keep], "card": c, "merchant": m[keep],
                                  "amount": a[keep], "pattern": pattern}))

    df = pd.concat(rows, ignore_index=True).sort_values(["time", "card"], kind="stable")
    df = df.reset_index(drop=True)
    out = pd.DataFrame({
        "time": df["time"].to_numpy(),
        "day": np.floor(df["time"]).astype("int64"),
        "hour": np.round(np.mod(df["time"].to_numpy(), 1.0) * 24, 4),
        "card": df["card"].astype("int64"),
        "card_country": home[df["card"]].astype("int64"),
        "merchant": df["merchant"].astype("int64"),
        "category": pd.Categorical(np.array(CATEGORIES)[m_cat[df["merchant"]]], CATEGORIES),
        "country": m_country[df["merchant"]].astype("int64"),
        "amount": np.round(df["amount"].to_numpy(), 2),
        "is_fraud": (df["pattern"] != "normal").astype("int64"),
        "pattern": df["pattern"].to_numpy(),
    })
    return out
