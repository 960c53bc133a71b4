import numpy as np
import pytest
from scipy import stats

from dlbook import drift


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_psi_is_zero_on_identical_data_and_grows_with_a_shift(rng):
    ref = rng.normal(size=(2000, 2))
    assert np.allclose(drift.psi(ref, ref), 0)
    small = drift.psi(ref, rng.normal(0.2, 1, (2000, 2))).mean()
    large = drift.psi(ref, rng.normal(1.0, 1, (2000, 2))).mean()
    assert 0 < small < 0.1 < 0.25 < large


def test_psi_merges_tied_quantiles_of_a_mostly_zero_feature(rng):
    ref = np.where(rng.uniform(size=1000) < 0.7, 0.0, rng.uniform(size=1000))
    assert drift.psi(ref, ref.copy())[0] == pytest.approx(0)
    assert drift.psi(ref, np.zeros(200))[0] > 1     # all mass in the zero bin


def test_ks_matches_scipy_with_ties(rng):
    a = rng.integers(0, 5, (300, 3)).astype(float)
    b = rng.integers(0, 6, (120, 3)).astype(float)
    d, p = drift.ks_test(a, b)
    for j in range(3):
        ref = stats.ks_2samp(a[:, j], b[:, j], method="asymp")
        assert d[j] == pytest.approx(ref.statistic)
        assert p[j] == pytest.approx(ref.pvalue)


def test_bonferroni_multiplies_the_smallest_p_value_and_caps_at_one():
    assert drift.bonferroni([0.01, 0.5]) == pytest.approx(0.02)
    assert drift.bonferroni([0.9, 0.8]) == 1.0
    with pytest.raises(ValueError, match="probabilities"):
        drift.bonferroni([1.5])


def test_mmd_is_near_zero_for_one_distribution_and_its_test_rejects_a_shift(rng):
    a, b = rng.normal(size=(150, 5)), rng.normal(size=(150, 5))
    assert abs(drift.mmd2(a, b)) < 0.01
    assert drift.mmd2(a, b + 0.5) > 0.05
    _, p_same = drift.mmd_test(a, b, n_permutations=100)
    _, p_moved = drift.mmd_test(a, b + 0.5, n_permutations=100)
    assert p_same > 0.05 and p_moved == pytest.approx(1 / 101)


def test_median_bandwidth_refuses_constant_data():
    with pytest.raises(ValueError, match="median distance of 0"):
        drift.median_bandwidth(np.ones((10, 3)))


def test_detectors_are_quiet_on_clean_batches_and_fire_on_shifted_ones(rng):
    ref = rng.normal(size=(500, 8))
    clean = rng.normal(size=(20, 100, 8))
    shifted = rng.normal(0.6, 1, size=(5, 100, 8))
    for det in (drift.PSIDetector(0.25), drift.KSDetector(0.01),
                drift.MMDDetector(0.01, n_permutations=100, max_reference=300)):
        det.fit(ref)
        assert drift.run(det, clean).alarms.mean() <= 0.1, det.name
        assert drift.run(det, shifted).alarms.all(), det.name


def test_mmd_detector_keeps_at_most_max_reference_points(rng):
    det = drift.MMDDetector(0.05, n_permutations=50, max_reference=100)
    assert len(det.fit(rng.normal(size=(400, 2))).reference_) == 100


def test_detector_inputs_are_checked():
    with pytest.raises(ValueError, match="fit"):
        drift.KSDetector().score(np.zeros((5, 2)))
    det = drift.KSDetector().fit(np.random.default_rng(0).normal(size=(50, 3)))
    with pytest.raises(ValueError, match="same features"):
        det.score(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        det.score(np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="alpha"):
        drift.KSDetector(alpha=1.5)
    with pytest.raises(ValueError, match="permutations"):
        drift.MMDDetector(alpha=0.001, n_permutations=100)
    with pytest.raises(ValueError, match="threshold"):
        drift.PSIDetector(threshold=-1)
    with pytest.raises(ValueError, match="empty"):
        drift.run(det, [])


def test_alerts_need_patience_alarms_in_a_row():
    alarms = [1, 0, 1, 1, 1, 0, 0, 1, 1]
    assert drift.alerts(alarms).tolist() == [0, 2, 7]
    assert drift.alerts(alarms, patience=2).tolist() == [3, 8]
    assert drift.alerts(alarms, patience=3).tolist() == [4]


def test_detection_report_measures_delay_and_false_alerts():
    alarms = [0, 1, 1, 0, 0, 0, 0, 1, 1, 1]
    report = drift.detection_report(alarms, onset=5, patience=2)
    assert report == {"delay": 3, "false alerts": 1, "false alarm rate": 0.4}
    never = drift.detection_report([0] * 6, onset=3)
    assert never["delay"] is None and never["false alerts"] == 0
    control = drift.detection_report([0, 1, 0, 1], onset=None)
    assert control["false alerts"] == 2 and control["delay"] is None
    with pytest.raises(ValueError, match="outside"):
        drift.detection_report([0, 1], onset=5)


def test_accuracy_alarms_use_the_batch_size():
    assert drift.accuracy_alarms([0.80], 0.85, 1000).tolist() == [True]
    assert drift.accuracy_alarms([0.80], 0.85, 50).tolist() == [False]
    with pytest.raises(ValueError, match="accuracy"):
        drift.accuracy_alarms([0.8], 85, 200)


def test_bbse_recovers_shifted_priors_from_predictions_alone(rng):
    n_classes, n = 3, 40_000
    confuse = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])  # p(pred | y)

    def predict(y):
        u = rng.uniform(size=len(y))[:, None]
        return (u > np.cumsum(confuse[y], axis=1)).sum(1)

    y_val = rng.choice(n_classes, n, p=[1 / 3] * 3)
    truth = np.array([0.1, 0.2, 0.7])
    y_target = rng.choice(n_classes, n, p=truth)
    est = drift.bbse_priors(y_val, predict(y_val), predict(y_target), n_classes)
    naive = np.bincount(predict(y_target), minlength=3) / n
    assert np.abs(est - truth).sum() < 0.04 < 0.1 < np.abs(naive - truth).sum()


def test_bbse_refuses_a_singular_confusion_matrix():
    with pytest.raises(ValueError, match="singular"):
        drift.bbse_priors([0, 0, 1], [0, 0, 0], [0, 1], 2)
    with pytest.raises(ValueError, match="n_classes"):
        drift.confusion([0, 3], [0, 1], 2)


def test_reweight_moves_probabilities_toward_the_new_priors():
    probs = np.array([[0.6, 0.4], [0.3, 0.7]])
    out = drift.reweight(probs, [0.5, 0.5], [0.2, 0.8])
    assert np.allclose(out.sum(1), 1) and (out[:, 1] > probs[:, 1]).all()
    assert np.allclose(drift.reweight(probs, [0.5, 0.5], [0.5, 0.5]), probs)
    with pytest.raises(ValueError, match="positive"):
        drift.reweight(probs, [0.0, 1.0], [0.5, 0.5])


def test_plot_scores_draws_one_line_per_run():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    runs = [drift.Run("a", np.array([0.1, 2.0]), 1.0), drift.Run("b", np.ones(2), 2.0)]
    drift.plot_scores(ax, runs, onset=1, title="t")
    assert len(ax.lines) == 4 and ax.get_yscale() == "log"    # 2 runs, threshold, onset
    plt.close(fig)
