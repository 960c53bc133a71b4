import numpy as np
import pandas as pd
import pytest

from dlbook import fairness as fr

# A hand-checked example: group a selects 3 of 5 (TPR 2/3, FPR 1/2), group b 2 of 5 (1, 1/4).
GROUPS = np.array(list("aaaaabbbbb"))
LABELS = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.7, 0.4, 0.6, 0.2, 0.8, 0.55, 0.3, 0.2, 0.1])
DECISIONS = (SCORES >= 0.5).astype(int)


def test_group_metrics_match_the_hand_computed_example():
    t = fr.group_metrics(LABELS, SCORES, GROUPS)
    assert t.loc["a", "selection rate"] == pytest.approx(0.6)
    assert t.loc["b", "selection rate"] == pytest.approx(0.4)
    assert t.loc["a", "TPR"] == pytest.approx(2 / 3) and t.loc["b", "TPR"] == 1.0
    assert t.loc["a", "FPR"] == 0.5 and t.loc["b", "FPR"] == 0.25
    assert t.loc["a", "precision"] == pytest.approx(2 / 3) and t.loc["b", "precision"] == 0.5
    assert t.loc["all", "n"] == 10 and t.loc["all", "base rate"] == pytest.approx(0.4)
    assert list(fr.group_metrics(LABELS, SCORES, GROUPS, overall=False).index) == ["a", "b"]


def test_gaps_match_the_hand_computed_example():
    assert fr.selection_rates(DECISIONS, GROUPS) == {"a": 0.6, "b": 0.4}
    assert fr.demographic_parity_difference(DECISIONS, GROUPS) == 0.2
    assert fr.demographic_parity_ratio(DECISIONS, GROUPS) == 0.6667
    assert fr.equal_opportunity_difference(LABELS, DECISIONS, GROUPS) == 0.3333
    assert fr.equalized_odds_difference(LABELS, DECISIONS, GROUPS) == 0.3333


def test_a_group_without_positives_is_nan_in_the_table_and_refused_by_the_gaps():
    y = np.array([1, 0, 0, 0])
    g = np.array(["a", "a", "b", "b"])
    t = fr.group_metrics(y, [0.9, 0.1, 0.8, 0.2], g)
    assert np.isnan(t.loc["b", "TPR"]) and t.loc["b", "FPR"] == 0.5
    with pytest.raises(ValueError, match="no positive example"):
        fr.equal_opportunity_difference(y, [1, 0, 1, 0], g)
    with pytest.raises(ValueError, match="no positive example"):
        fr.group_thresholds([0.9, 0.1, 0.8, 0.2], g, tpr=0.5, y_true=y)


def test_inputs_are_validated_with_the_fix_in_the_message():
    with pytest.raises(ValueError, match="one group label per example"):
        fr.selection_rates([1, 0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="only 0 and 1"):
        fr.demographic_parity_difference([0.2, 0.7], ["a", "b"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fr.group_metrics([0, 1], [-2.0, 3.0], ["a", "b"])
    with pytest.raises(ValueError, match="missing"):
        fr.selection_rates([1, 0], ["a", None])
    with pytest.raises(ValueError, match="two groups"):
        fr.demographic_parity_difference([1, 0], ["a", "a"])
    with pytest.raises(ValueError, match="no threshold for group"):
        fr.apply_thresholds([0.5, 0.5], ["a", "b"], {"a": 0.5})
    with pytest.raises(ValueError, match="no group has anyone selected"):
        fr.demographic_parity_ratio([0, 0], ["a", "b"])


def test_calibration_error_is_zero_when_scores_match_frequencies_and_grows_with_bias():
    rng = np.random.default_rng(0)
    p = rng.random(20_000)
    y = (rng.random(20_000) < p).astype(int)
    assert fr.expected_calibration_error(y, p) < 0.02
    assert fr.expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.15
    table = fr.calibration_table(y, p, np.where(p > 0.5, "hi", "lo"), n_bins=4)
    assert set(table["group"]) == {"hi", "lo"}
    assert np.allclose(table["mean score"], table["observed"], atol=0.03)
    assert table["n"].sum() == 20_000


def test_reweighing_makes_label_and_group_independent_in_the_weighted_data():
    rng = np.random.default_rng(1)
    g = rng.choice(["a", "b"], 1000, p=[0.3, 0.7])
    y = (rng.random(1000) < np.where(g == "a", 0.2, 0.6)).astype(int)
    w = fr.reweighing_weights(y, g)
    assert w.mean() == pytest.approx(1.0)
    rates = [np.average(y[g == k], weights=w[g == k]) for k in ("a", "b")]
    assert rates == pytest.approx([y.mean()] * 2)
    assert np.allclose(fr.reweighing_weights(y, g, strength=0), 1.0)
    with pytest.raises(ValueError, match="strength"):
        fr.reweighing_weights(y, g, strength=2)
    with pytest.raises(ValueError, match="every \\(group, label\\) pair"):
        fr.reweighing_weights([1, 1, 0], ["a", "a", "b"])


def test_group_thresholds_reach_the_target_rates():
    rng = np.random.default_rng(2)
    g = np.repeat(["a", "b"], 500)
    s = np.where(g == "a", rng.beta(2, 5, 1000), rng.beta(5, 2, 1000))
    y = (rng.random(1000) < s).astype(int)
    t = fr.group_thresholds(s, g, selection_rate=0.3)
    assert t["a"] < t["b"]
    assert fr.selection_rates(fr.apply_thresholds(s, g, t), g) == {"a": 0.3, "b": 0.3}
    t = fr.group_thresholds(s, g, tpr={"a": 0.8, "b": 0.8}, y_true=y)
    tpr = fr.group_metrics(y, s, g, threshold=t)["TPR"]
    assert tpr[["a", "b"]].tolist() == pytest.approx([0.8, 0.8], abs=0.01)
    assert fr.group_thresholds(s, g, selection_rate=0)["a"] == np.inf
    with pytest.raises(ValueError, match="exactly one"):
        fr.group_thresholds(s, g)
    with pytest.raises(ValueError, match="needs y_true"):
        fr.group_thresholds(s, g, tpr=0.5)
    with pytest.raises(ValueError, match="rate in"):
        fr.group_thresholds(s, g, selection_rate=1.5)


def test_tradeoff_sweep_starts_at_the_common_threshold_and_ends_at_parity():
    rng = np.random.default_rng(3)
    g = np.repeat(["a", "b"], 2000)
    y = (rng.random(4000) < np.where(g == "a", 0.2, 0.5)).astype(int)
    s = np.clip(0.35 * y + 0.65 * rng.random(4000), 0, 1)
    val, test = slice(0, None, 2), slice(1, None, 2)
    sweep = fr.tradeoff_sweep(y[test], s[test], g[test], steps=5,
                              fit=(y[val], s[val], g[val]))
    d0 = (s[test] >= 0.5).astype(int)
    assert sweep["threshold a"].iloc[0] == 0.5
    assert sweep["parity gap"].iloc[0] == fr.demographic_parity_difference(d0, g[test])
    assert sweep["parity gap"].iloc[-1] < 0.05 < sweep["parity gap"].iloc[0]
    assert sweep["parity gap"].is_monotonic_decreasing
    opp = fr.tradeoff_sweep(y, s, g, criterion="opportunity", steps=3)
    assert opp["TPR gap"].iloc[-1] < 0.03
    with pytest.raises(ValueError, match="criterion"):
        fr.tradeoff_sweep(y, s, g, criterion="calibration")
    with pytest.raises(ValueError, match="not in the fit data"):
        fr.tradeoff_sweep(y, s, g, fit=(y[:10], s[:10], np.repeat("a", 10)))


def test_logistic_baseline_learns_from_mixed_columns_and_takes_weights():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(list("pq"), 400)})
    y = ((frame["x"] + (frame["c"] == "p")) > 0.5).astype(int)
    model = fr.logistic_baseline(["x"], ["c"]).fit(frame, y)
    assert (model.predict(frame) == y).mean() > 0.9
    model.fit(frame, y, logisticregression__sample_weight=np.ones(400))
    with pytest.raises(ValueError, match="at least one"):
        fr.logistic_baseline([])
