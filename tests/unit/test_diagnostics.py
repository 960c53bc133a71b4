import matplotlib

matplotlib.use("agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from dlbook import diagnostics as dg  # noqa: E402


@pytest.fixture
def scored():
    """400 labels with noisy but informative probabilities, 30 % positives."""
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    prob = 1 / (1 + np.exp(-(2.5 * (y - 0.5) + rng.normal(0, 1, 400))))
    return y, prob


def test_roc_pr_curves_report_sklearn_auc_and_average_precision(scored):
    y, p = scored
    fig = dg.roc_pr_curves(y, {"model": p, "noise": np.full(len(y), 0.5)}, positive="cancer")
    roc_ax, pr_ax = fig.axes
    labels = [t.get_text() for t in roc_ax.get_legend().get_texts()]
    assert f"model (AUC {skm.roc_auc_score(y, p):.3f})" in labels
    pr_labels = [t.get_text() for t in pr_ax.get_legend().get_texts()]
    assert f"model (AP {skm.average_precision_score(y, p):.3f})" in pr_labels
    assert f"guessing (AP {y.mean():.3f})" in pr_labels
    assert "cancer" in pr_ax.get_xlabel() and roc_ax.get_title() and pr_ax.get_title()


def test_roc_pr_curves_accept_a_single_array(scored):
    y, p = scored
    assert len(dg.roc_pr_curves(y, p).axes) == 2


def test_roc_pr_curves_need_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        dg.roc_pr_curves([1, 1, 1], [0.2, 0.4, 0.9])


@pytest.mark.parametrize(
    "y, p, message",
    [
        ([0, 2, 1], [0.1, 0.2, 0.3], "0/1 labels"),
        ([0, 1, 1], [0.1, 1.2, 0.3], "sigmoid"),
        ([0, 1, 1], [0.1, 0.2], "one probability per label"),
        ([0, 1], [[0.9, 0.1], [0.2, 0.8]], r"prob\[:, 1\]"),
        ([], [], "non-empty"),
    ],
)
def test_inputs_are_validated_with_the_fix(y, p, message):
    with pytest.raises(ValueError, match=message):
        dg.expected_calibration_error(y, p)


def test_a_column_vector_from_keras_predict_is_accepted():
    y = np.array([0, 1, 1, 0])
    p = np.array([[0.1], [0.8], [0.7], [0.4]])
    assert dg.expected_calibration_error(y, p, bins=1) == pytest.approx(abs(0.5 - 0.5))


def test_calibration_table_matches_sklearn_calibration_curve(scored):
    from sklearn.calibration import calibration_curve

    y, p = scored
    table = dg.calibration_table(y, p, bins=10)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(table["observed"], observed)
    np.testing.assert_allclose(table["predicted"], predicted)
    assert table["count"].sum() == len(y)


def test_ece_is_zero_for_calibrated_bins_and_the_gap_for_constant_forecasts():
    y = np.array([0, 0, 0, 1] * 25)
    assert dg.expected_calibration_error(y, np.full(100, 0.25)) == pytest.approx(0.0)
    assert dg.expected_calibration_error(y, np.full(100, 0.65)) == pytest.approx(0.4)


def test_ece_by_hand_on_two_bins():
    # bin [0, .5): p .1 and .4 (one positive): |.25 - .5|; bin [.5, 1]: p .6 and .9: |.75 - .5|
    assert dg.expected_calibration_error([0, 1, 0, 1], [0.1, 0.4, 0.6, 0.9], bins=2) == pytest.approx(0.25)


def test_bins_must_be_a_positive_int():
    with pytest.raises(ValueError, match="bins"):
        dg.calibration_table([0, 1], [0.2, 0.8], bins=0)


def test_reliability_diagram_draws_a_line_per_model_with_its_ece(scored):
    y, p = scored
    fig = dg.reliability_diagram(y, {"raw": p, "flat": np.full(len(y), 0.3)}, bins=5,
                                 positive="malignant")
    ax, hist_ax = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "perfectly calibrated"
    assert f"raw (ECE {dg.expected_calibration_error(y, p, 5):.3f})" in labels
    assert "malignant" in hist_ax.get_xlabel() and hist_ax.get_ylabel() == "predictions"
    # a bin's marker grows with the number of predictions in it
    counts = dg.calibration_table(y, p, bins=5)["count"].to_numpy()
    sizes = ax.collections[0].get_sizes()
    assert np.array_equal(np.argsort(sizes, kind="stable"), np.argsort(counts, kind="stable"))


def test_temperature_scaling_softens_overconfident_probabilities():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    correct = rng.random(500) < 0.85
    predicted = np.where(correct, y, 1 - y)
    overconfident = np.where(predicted == 1, 0.999, 0.001)
    t = dg.fit_temperature(y, overconfident)
    assert t > 2
    softened = dg.apply_temperature(overconfident, t)
    assert skm.log_loss(y, softened) < skm.log_loss(y, overconfident) / 2
    # the softened probabilities match the 85 % hit rate
    assert softened.max() == pytest.approx(0.85, abs=0.02)


def test_temperature_scaling_keeps_the_ranking(scored):
    y, p = scored
    q = dg.apply_temperature(p, 3.0)
    assert skm.roc_auc_score(y, q) == pytest.approx(skm.roc_auc_score(y, p))
    np.testing.assert_allclose(dg.apply_temperature(p, 1.0), p, atol=1e-6)


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        dg.apply_temperature([0.5], 0.0)


def test_threshold_sweep_counts_match_sklearn_confusion_matrix(scored):
    y, p = scored
    sweep = dg.threshold_sweep(y, p, thresholds=[0.3, 0.5, 0.7], cost_fp=1, cost_fn=10)
    for _, row in sweep.iterrows():
        tn, fp, fn, tp = skm.confusion_matrix(y, p >= row["threshold"]).ravel()
        assert (row["tn"], row["fp"], row["fn"], row["tp"]) == (tn, fp, fn, tp)
        assert row["recall"] == pytest.approx(skm.recall_score(y, p >= row["threshold"]))
        assert row["precision"] == pytest.approx(skm.precision_score(y, p >= row["threshold"]))
        assert row["f1"] == pytest.approx(skm.f1_score(y, p >= row["threshold"]))
        assert row["cost"] == fp + 10 * fn


def test_threshold_sweep_default_grid_and_nothing_flagged():
    sweep = dg.threshold_sweep([0, 1], [0.2, 0.7])
    assert len(sweep) == 101
    top = sweep.iloc[-1]
    assert top["threshold"] == 1.0 and top["flagged"] == 0 and top["precision"] == 1.0
    assert top["recall"] == 0.0 and top["f1"] == 0.0


def test_best_threshold_for_a_recall_target_is_the_highest_that_reaches_it(scored):
    y, p = scored
    t = dg.best_threshold(y, p, min_recall=0.9)
    assert skm.recall_score(y, p >= t) >= 0.9
    higher = np.unique(p)[np.unique(p) > t][0]
    assert skm.recall_score(y, p >= higher) < 0.9


def test_best_threshold_for_a_precision_target_is_the_lowest_that_reaches_it(scored):
    y, p = scored
    t = dg.best_threshold(y, p, min_precision=0.9)
    assert skm.precision_score(y, p >= t) >= 0.9
    lower = np.unique(p)[np.unique(p) < t][-1]
    assert skm.precision_score(y, p >= lower) < 0.9


def test_best_threshold_by_cost_and_by_f1(scored):
    y, p = scored
    cheap_misses = dg.best_threshold(y, p, cost_fp=10, cost_fn=1)
    dear_misses = dg.best_threshold(y, p, cost_fp=1, cost_fn=10)
    assert dear_misses < cheap_misses
    t = dg.best_threshold(y, p)
    best_f1 = max(skm.f1_score(y, p >= c) for c in np.unique(p))
    assert skm.f1_score(y, p >= t) == pytest.approx(best_f1)


def test_best_threshold_rejects_two_goals_and_unreachable_precision():
    with pytest.raises(ValueError, match="one goal"):
        dg.best_threshold([0, 1], [0.2, 0.7], min_recall=0.9, min_precision=0.9)
    with pytest.raises(ValueError, match="no threshold reaches precision"):
        dg.best_threshold([1, 0, 1, 0], [0.9, 0.9, 0.1, 0.1], min_precision=0.9)
    with pytest.raises(ValueError, match="both cost_fp and cost_fn"):
        dg.best_threshold([0, 1], [0.2, 0.7], cost_fn=5)
    with pytest.raises(ValueError, match=r"min_recall must be in \(0, 1\]"):
        dg.best_threshold([0, 1], [0.2, 0.7], min_recall=98)


def test_plot_threshold_sweep_marks_the_chosen_threshold(scored):
    y, p = scored
    fig = dg.plot_threshold_sweep(dg.threshold_sweep(y, p), chosen=0.25, positive="malignant")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["precision", "recall", "F1", "chosen threshold 0.25"]
    assert "malignant" in ax.get_xlabel() and ax.get_title()


def test_plot_threshold_sweep_wants_a_sweep():
    with pytest.raises(ValueError, match="threshold_sweep"):
        dg.plot_threshold_sweep({"threshold": [0.5]})
