"""Finance helpers: cost-weighted decisions, bootstrap AUC, tabular encoding and models,
transaction features, daily alert budgets, and the forecasting tools."""

import numpy as np
import pandas as pd
import pytest

from dlbook import finance
from dlbook.data import transactions

# --- credit decisions ------------------------------------------------------------------------

def test_bayes_threshold_balances_the_two_costs():
    assert finance.bayes_threshold(cost_fn=5, cost_fp=1) == pytest.approx(1 / 6, abs=1e-4)
    assert finance.bayes_threshold(cost_fn=1, cost_fp=3) == 0.75


def test_best_threshold_on_calibrated_scores_lands_near_the_bayes_threshold():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    y = (rng.uniform(size=p.size) < p).astype(int)       # calibrated by construction
    t, _ = finance.best_threshold(y, p, cost_fn=5, cost_fp=1)
    assert abs(t - 1 / 6) < 0.04


def test_expected_cost_counts_each_mistake_once():
    y = np.array([1, 1, 0, 0])
    assert finance.expected_cost(y, [0.0, 0.0, 0.0, 0.0], 0.5) == 2.5    # accept all: 2 misses
    assert finance.expected_cost(y, [1.0, 1.0, 1.0, 1.0], 0.5) == 0.5    # refuse all: 2 refusals
    assert finance.expected_cost(y, [0.9, 0.8, 0.1, 0.2], 0.5) == 0.0


def test_cost_functions_reject_bad_inputs():
    with pytest.raises(ValueError, match="0 .* or 1"):
        finance.expected_cost([0, 2], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="one entry per label"):
        finance.cost_curve([0, 1], [0.1])
    with pytest.raises(ValueError, match="cost_fn"):
        finance.bayes_threshold(cost_fn=0)


def test_bootstrap_auc_is_paired_and_seeded():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    good, noisy = y + rng.normal(0, 0.5, 400), y + rng.normal(0, 2.0, 400)
    a = finance.bootstrap_auc(y, {"good": good, "noisy": noisy}, n_boot=100, seed=2)
    b = finance.bootstrap_auc(y, {"good": good, "noisy": noisy}, n_boot=100, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert (a["good"] > a["noisy"]).mean() > 0.95
    from sklearn.metrics import roc_auc_score
    assert a["good"].median() == pytest.approx(roc_auc_score(y, good), abs=0.02)


def test_bootstrap_auc_needs_scores():
    with pytest.raises(ValueError, match="at least one model"):
        finance.bootstrap_auc([0, 1], {})


# --- tabular encoder and models --------------------------------------------------------------

@pytest.fixture
def frame():
    return pd.DataFrame({"income": [10.0, 100.0, np.nan, 1000.0],
                         "age": [20, 30, 40, 50],
                         "home": ["rent", "own", "rent", None]})


def test_encoder_standardises_with_training_statistics(frame):
    enc = finance.TabularEncoder(["income", "age"], ["home"], log=["income"]).fit(frame)
    x = enc.transform(frame)
    assert x["numeric"].shape == (4, 2) and x["numeric"].dtype == np.float32
    assert np.allclose(x["numeric"][:, 1].mean(), 0, atol=1e-6)
    assert x["numeric"][2, 0] == 0.0                         # missing -> the mean
    assert x["home"].tolist() == [2, 1, 2, 0]                # levels sorted, 0 = missing


def test_encoder_errors_name_the_fix(frame):
    with pytest.raises(ValueError, match="not fitted"):
        finance.TabularEncoder(["age"]).transform(frame)
    with pytest.raises(ValueError, match="missing"):
        finance.TabularEncoder(["salary"]).fit(frame)
    with pytest.raises(ValueError, match="not numeric"):
        finance.TabularEncoder(["age"], log=["income"]).fit(frame)


def test_tabular_mlp_takes_the_encoder_output_and_learns(frame):
    import keras

    rng = np.random.default_rng(0)
    big = pd.DataFrame({"a": rng.normal(size=400), "c": rng.choice(["x", "y"], 400)})
    y = ((big["a"] > 0) ^ (big["c"] == "x")).to_numpy(int)   # needs the category
    enc = finance.TabularEncoder(["a"], ["c"]).fit(big)
    model = finance.tabular_mlp(enc, hidden=(16,), dropout=0.0)
    assert {i.name for i in model.inputs} == {"numeric", "c"}
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    model.fit(enc.transform(big), y, epochs=40, batch_size=64, verbose=0)
    p = finance.predict(model, enc.transform(big))[:, 0]
    assert np.mean((p > 0.5) == y) > 0.85


def test_model_builders_validate():
    enc = finance.TabularEncoder(["a"])
    with pytest.raises(ValueError, match="fit the encoder"):
        finance.tabular_mlp(enc)
    with pytest.raises(ValueError, match="smaller than n_features"):
        finance.tabular_autoencoder(4, code=4)


def test_predict_handles_dicts_and_chunks():
    ae = finance.tabular_autoencoder(3, hidden=4, code=2)
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    assert np.allclose(finance.predict(ae, x, batch_size=3), finance.predict(ae, x), atol=1e-6)
    assert finance.reconstruction_error(ae, x).shape == (10,)
    with pytest.raises(ValueError, match="same number of rows"):
        finance.predict(ae, {"a": np.zeros((2, 3)), "b": np.zeros((3, 3))})


# --- transaction features and alerts ---------------------------------------------------------

def _tiny():
    return pd.DataFrame({
        "time": [0.0, 0.01, 0.02, 2.0, 0.5],
        "hour": [0.0, 0.24, 0.48, 0.0, 12.0],
        "card": [1, 1, 1, 1, 2],
        "merchant": [7, 7, 8, 7, 7],
        "category": pd.Categorical(["grocery", "grocery", "online", "grocery", "grocery"]),
        "country": [0, 0, 3, 0, 0],
        "card_country": [0, 0, 0, 0, 0],
        "amount": [40.0, 40.0, 400.0, 40.0, 10.0],
    })


def test_transaction_features_use_only_the_past():
    f = finance.transaction_features(_tiny())
    assert f["n_1h"].tolist() == [0, 1, 2, 0, 0]        # earlier payments of the card in 1 h
    assert f["n_24h"].tolist() == [0, 1, 2, 0, 0]       # the 4th is two days later
    assert f["new_merchant"].tolist() == [1, 0, 1, 0, 1]
    assert f["new_country"].tolist() == [1, 0, 1, 0, 1]
    assert f["foreign"].tolist() == [0, 0, 1, 0, 0]
    assert f["amount_vs_max"].iloc[2] == pytest.approx(np.log(10))
    assert f["log_gap_h"].iloc[1] == pytest.approx(np.log1p(0.24))


def test_transaction_features_keep_the_input_row_order():
    df = _tiny().sample(frac=1.0, random_state=0)
    f = finance.transaction_features(df)
    assert f.index.equals(df.index)
    pd.testing.assert_frame_equal(f.sort_index(), finance.transaction_features(_tiny()))


def test_transaction_features_separate_fraud_from_normal():
    df = transactions.generate(n_cards=300, days=30, seed=0)
    f = finance.transaction_features(df)
    means = f.groupby(df["pattern"]).mean()
    assert means.loc["card_testing", "n_1h"] > 3 * means.loc["normal", "n_1h"]
    assert means.loc["high_value", "amount_vs_usual"] > 2
    assert means.loc["account_takeover", "new_merchant"] > 0.8


def test_transaction_features_reject_bad_frames():
    with pytest.raises(ValueError, match="lacks columns"):
        finance.transaction_features(_tiny().drop(columns="merchant"))
    bad = _tiny()
    bad.loc[0, "amount"] = 0.0
    with pytest.raises(ValueError, match="positive"):
        finance.transaction_features(bad)


def test_daily_alerts_respect_the_budget_per_day():
    rng = np.random.default_rng(0)
    days = np.repeat(np.arange(5), [100, 200, 300, 50, 1])
    mask = finance.daily_alerts(rng.uniform(size=days.size), days, share=0.02)
    assert [int(mask[days == d].sum()) for d in range(5)] == [2, 4, 6, 1, 1]


def test_daily_alerts_take_the_highest_scores():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.2, 0.3])
    mask = finance.daily_alerts(scores, np.zeros(6, int), share=0.3)
    assert np.flatnonzero(mask).tolist() == [1, 3]
    with pytest.raises(ValueError, match="share"):
        finance.daily_alerts(scores, np.zeros(6), share=5)


# --- forecasting -----------------------------------------------------------------------------

def test_future_realised_variance_looks_ahead_only():
    r = np.array([0.0, 1.0, 2.0, 3.0])
    rv = finance.future_realised_variance(r, horizon=1)
    assert rv[:3].tolist() == [1.0, 4.0, 9.0] and np.isnan(rv[3])


def test_ewma_variance_tracks_a_volatility_jump():
    rng = np.random.default_rng(0)
    r = np.concatenate([rng.normal(0, 1, 500), rng.normal(0, 3, 500)])
    s = finance.ewma_variance(r, 0.94)
    assert 0.5 < s[450:500].mean() < 1.6 and 6 < s[950:].mean() < 12
    with pytest.raises(ValueError, match="lam"):
        finance.ewma_variance(r, 1.0)


def test_log_returns_and_har_features():
    assert finance.log_returns([1.0, np.e]).tolist() == [1.0]
    with pytest.raises(ValueError, match="positive"):
        finance.log_returns([1.0, -1.0])
    har = finance.har_features(np.arange(30.0))
    assert np.isnan(har[20, 2]) and har[29, 0] == 29.0**2


def test_qlike_is_minimised_by_the_true_variance():
    rv = np.array([1.0, 4.0])
    assert finance.qlike(rv, rv).tolist() == [0.0, 0.0]
    assert (finance.qlike(rv, rv * 1.5) > 0).all() and (finance.qlike(rv, rv / 1.5) > 0).all()
    with pytest.raises(ValueError, match="positive"):
        finance.qlike([0.0], [1.0])


def test_qlike_loss_matches_qlike_up_to_a_constant():
    import keras

    rv = np.array([[0.5], [2.0], [1.0]], dtype="float32")
    a, b = np.log(np.array([[1.0], [1.0], [1.0]], "float32")), np.log(rv)
    la = float(finance.qlike_loss(keras.ops.array(rv), keras.ops.array(a)))
    lb = float(finance.qlike_loss(keras.ops.array(rv), keras.ops.array(b)))
    gap = finance.qlike(rv[:, 0], np.ones(3)).mean() - finance.qlike(rv[:, 0], rv[:, 0]).mean()
    assert la - lb == pytest.approx(gap, rel=1e-5)


def test_diebold_mariano_detects_a_better_forecast_and_not_an_equal_one():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(2, 2000))
    stat, p = finance.diebold_mariano(e[0] ** 2, e[1] ** 2)
    assert p > 0.01
    stat, p = finance.diebold_mariano(e[0] ** 2, (1.3 * e[1]) ** 2, horizon=5)
    assert stat < 0 and p < 0.01
    with pytest.raises(ValueError, match="identical"):
        finance.diebold_mariano(e[0], e[0])
    with pytest.raises(ValueError, match="align"):
        finance.diebold_mariano(e[0], e[1][:10])


def test_window_lstm_shape():
    assert finance.window_lstm(10, units=3).output_shape == (None, 1)


@pytest.mark.parametrize("threshold", [1.5, -0.1, float("nan"), "0.5", True])
def test_expected_cost_rejects_a_threshold_that_is_not_a_probability(threshold):
    with pytest.raises(ValueError, match="threshold must be a probability from 0 to 1"):
        finance.expected_cost([0, 1], [0.2, 0.8], threshold)
