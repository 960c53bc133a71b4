import numpy as np
import pytest

from dlbook import anomaly


def test_threshold_flags_at_most_the_requested_share_of_normal_items():
    normal = np.random.default_rng(0).normal(size=1_000)
    for fpr in (0.001, 0.01, 0.05, 0.2):
        t = anomaly.threshold_at_fpr(normal, fpr)
        assert np.mean(normal > t) <= fpr
        assert np.mean(normal > t) > fpr - 2 / normal.size


def test_threshold_below_one_item_flags_nothing_normal():
    assert anomaly.threshold_at_fpr([1.0, 2.0, 3.0], 0.1) == 3.0


@pytest.mark.parametrize("fpr", [0, 1, 1.5, -0.1, True, "0.01"])
def test_threshold_rejects_rates_outside_0_1(fpr):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        anomaly.threshold_at_fpr([1.0, 2.0], fpr)


@pytest.mark.parametrize("scores", [[], [[1.0, 2.0]], [1.0, np.nan]])
def test_scores_must_be_finite_1d_and_non_empty(scores):
    with pytest.raises(ValueError, match="scores"):
        anomaly.threshold_at_fpr(scores, 0.1)


def test_detection_reports_the_reached_fpr_and_each_kind():
    rng = np.random.default_rng(1)
    scores = np.r_[rng.normal(0, 1, 500), rng.normal(5, 1, 50), rng.normal(0, 1, 50)]
    kinds = ["normal"] * 500 + ["dos"] * 50 + ["stealthy"] * 50
    r = anomaly.detection_at_fpr(scores, kinds, fpr=0.02)
    assert list(r) == ["normal", "dos", "stealthy"]
    assert r["normal"] <= 0.02
    assert r["dos"] > 0.9 and r["stealthy"] < 0.2


def test_detection_at_a_given_threshold_ignores_fpr():
    r = anomaly.detection_at_fpr([0.1, 0.5, 0.9], ["normal", "normal", "a"], threshold=0.3)
    assert r == {"normal": 0.5, "a": 1.0}


def test_detection_needs_normal_items():
    with pytest.raises(ValueError, match="normal="):
        anomaly.detection_at_fpr([0.1, 0.2], ["benign", "attack"])


def test_detection_needs_one_kind_per_score():
    with pytest.raises(ValueError, match="one label per score"):
        anomaly.detection_at_fpr([0.1, 0.2], ["normal"])


def test_budget_metrics_on_a_known_ranking():
    labels = [1, 0, 1, 0, 0, 1]
    scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1]
    assert anomaly.precision_at_budget(labels, scores, 3) == pytest.approx(2 / 3)
    assert anomaly.recall_at_budget(labels, scores, 3) == pytest.approx(2 / 3)
    assert anomaly.recall_at_budget(labels, scores, 6) == 1.0


def test_budget_ties_keep_the_original_order():
    assert anomaly.precision_at_budget([1, 0], [0.5, 0.5], 1) == 1.0
    assert anomaly.precision_at_budget([0, 1], [0.5, 0.5], 1) == 0.0


@pytest.mark.parametrize("budget", [0, 4, 1.0, True])
def test_budget_must_be_an_int_within_the_item_count(budget):
    with pytest.raises(ValueError, match="budget must be an int"):
        anomaly.precision_at_budget([0, 1, 0], [0.1, 0.2, 0.3], budget)


def test_labels_must_be_0_or_1():
    with pytest.raises(ValueError, match="0 .normal. or 1"):
        anomaly.precision_at_budget([0, 2], [0.1, 0.2], 1)


def test_recall_needs_an_anomaly():
    with pytest.raises(ValueError, match="no anomaly"):
        anomaly.recall_at_budget([0, 0], [0.1, 0.2], 1)
