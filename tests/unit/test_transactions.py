"""The synthetic card-transaction stream: seeded, sorted, labelled, with the documented rates."""

import numpy as np
import pytest

from dlbook.data import transactions


@pytest.fixture(scope="module")
def stream():
    return transactions.generate(n_cards=300, days=40, seed=3)


def test_generate_is_seeded_and_seeds_differ(stream):
    assert transactions.generate(n_cards=300, days=40, seed=3).equals(stream)
    assert not transactions.generate(n_cards=300, days=40, seed=4).equals(stream)


def test_stream_is_sorted_in_time_within_the_period(stream):
    assert stream["time"].is_monotonic_increasing
    assert stream["time"].min() >= 0 and stream["time"].max() < 40
    assert (stream["day"] == np.floor(stream["time"])).all()
    assert stream["hour"].between(0, 24).all()


def test_fraud_rate_is_near_the_requested_share():
    df = transactions.generate(n_cards=600, days=60, fraud_rate=0.004, seed=0)
    assert 0.002 < df["is_fraud"].mean() < 0.007


def test_labels_agree_with_patterns_and_every_pattern_occurs(stream):
    assert ((stream["pattern"] != "normal") == (stream["is_fraud"] == 1)).all()
    assert set(stream["pattern"]) == {"normal", *transactions.PATTERNS}


def test_patterns_look_like_their_descriptions(stream):
    by = stream.groupby("pattern")["amount"].median()
    assert by["card_testing"] < 10 < by["normal"] < by["account_takeover"] < by["high_value"]
    ato = stream[stream["pattern"] == "account_takeover"]
    assert (ato["country"] != ato["card_country"]).all()
    testing = stream[stream["pattern"] == "card_testing"]
    assert (testing["category"] == "online").all()


def test_normal_spending_happens_mostly_at_home(stream):
    normal = stream[stream["pattern"] == "normal"]
    assert (normal["country"] == normal["card_country"]).mean() > 0.85
    assert set(normal["category"].cat.categories) == set(transactions.CATEGORIES)


def test_zero_fraud_rate_gives_a_clean_stream():
    df = transactions.generate(n_cards=50, days=10, fraud_rate=0.0, seed=0)
    assert df["is_fraud"].sum() == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"n_cards": 0}, "n_cards"),
    ({"days": 2.5}, "days"),
    ({"fraud_rate": 0.7}, "fraud_rate"),
    ({"n_merchants": 5}, "n_merchants"),
])
def test_generate_rejects_bad_arguments_with_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        transactions.generate(**kwargs)
