"""Survival helpers: the Cox loss equals a brute-force partial likelihood (ties included) and
its NumPy twin, a linear Cox network recovers lifelines' coefficients, Breslow's baseline
matches lifelines', the concordance wrapper is oriented as a risk score, calibration tables
and bootstrap intervals say what they claim, and bad input is refused with the fix."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from dlbook import survival

matplotlib.use("Agg")


def _brute_force_nll(time, event, risk):
    """Breslow: every patient with t_j >= t_i is in the risk set of an event at t_i."""
    total, events = 0.0, 0
    for i in range(len(time)):
        if event[i]:
            denom = sum(math.exp(risk[j]) for j in range(len(time)) if time[j] >= time[i])
            total += risk[i] - math.log(denom)
            events += 1
    return -total / events


TINY = dict(time=[5.0, 3.0, 3.0, 8.0, 1.0, 6.0], event=[1, 1, 0, 0, 1, 1],
            risk=[0.3, -1.2, 0.5, 2.0, 0.0, -0.4])


def test_numpy_cox_nll_equals_brute_force_with_ties():
    expected = _brute_force_nll(TINY["time"], TINY["event"], TINY["risk"])
    assert survival.cox_nll(TINY["time"], TINY["event"], TINY["risk"]) == pytest.approx(expected)


def test_keras_cox_loss_equals_brute_force_and_ignores_row_order():
    y = np.column_stack([TINY["time"], TINY["event"]]).astype("float32")
    r = np.array(TINY["risk"], "float32")[:, None]
    expected = _brute_force_nll(TINY["time"], TINY["event"], TINY["risk"])
    assert float(survival.CoxLoss()(y, r)) == pytest.approx(expected, rel=1e-5)
    perm = np.array([3, 0, 5, 1, 4, 2])
    assert float(survival.CoxLoss()(y[perm], r[perm])) == pytest.approx(expected, rel=1e-5)


def test_cox_loss_is_invariant_to_a_constant_shift_of_the_log_risk():
    y = np.column_stack([TINY["time"], TINY["event"]]).astype("float32")
    r = np.array(TINY["risk"], "float32")[:, None]
    assert float(survival.CoxLoss()(y, r + 7.0)) == pytest.approx(float(survival.CoxLoss()(y, r)), rel=1e-5)


def test_cox_loss_gradient_raises_the_risk_of_early_events():
    import tensorflow as tf

    y = tf.constant([[1.0, 1.0], [2.0, 0.0], [3.0, 0.0]])
    r = tf.Variable(tf.zeros((3, 1)))
    with tf.GradientTape() as tape:
        loss = survival.CoxLoss()(y, r)
    grad = tape.gradient(loss, r).numpy().ravel()
    assert grad[0] < 0 < grad[1] and grad[2] > 0       # descent raises the event's risk


def _cox_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    beta = np.array([0.8, -0.5, 0.0])
    t_event = rng.exponential(np.exp(-x @ beta))
    t_censor = rng.exponential(1.5, n)
    time = np.minimum(t_event, t_censor)
    event = (t_event <= t_censor).astype(float)
    return x, time, event


def test_linear_cox_network_recovers_lifelines_coefficients():
    from lifelines import CoxPHFitter

    x, time, event = _cox_data()
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=time, E=event)
    ref = CoxPHFitter().fit(frame, "T", "E").params_.to_numpy()
    model = survival.deepsurv(3, hidden=(), l2=0.0)
    survival.fit_full_batch(model, x, np.column_stack([time, event]), steps=600,
                            learning_rate=0.05)
    np.testing.assert_allclose(model.get_weights()[0].ravel(), ref, atol=0.02)


def test_breslow_baseline_matches_lifelines():
    from lifelines import CoxPHFitter

    x, time, event = _cox_data(n=200, seed=1)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=time, E=event)
    cph = CoxPHFitter().fit(frame, "T", "E")
    # lifelines centres covariates: its baseline belongs to x = mean(x)
    r = (x - x.mean(0)) @ cph.params_.to_numpy()
    base = survival.BreslowBaseline.fit(time, event, r)
    ref = cph.baseline_cumulative_hazard_
    at = ref.index.to_numpy()[::20]
    np.testing.assert_allclose(base.cumulative_hazard(at), ref.loc[at].to_numpy().ravel(), rtol=1e-6)


def test_survival_curves_fall_with_time_and_with_risk():
    x, time, event = _cox_data(n=100)
    base = survival.BreslowBaseline.fit(time, event, x[:, 0])
    s = base.survival([-1.0, 0.0, 1.0], [0.1, 0.5, 1.0, 2.0])
    assert s.shape == (3, 4) and np.all(np.diff(s, axis=1) <= 0) and np.all(np.diff(s, axis=0) <= 0)
    assert np.all((s > 0) & (s <= 1))


def test_concordance_treats_higher_log_risk_as_earlier_event():
    time, event = [1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1]
    assert survival.concordance(time, event, [4, 3, 2, 1]) == 1.0
    assert survival.concordance(time, event, [1, 2, 3, 4]) == 0.0
    assert survival.concordance(time, event, [0, 0, 0, 0]) == 0.5


def test_bootstrap_concordance_is_paired_and_reproducible():
    x, time, event = _cox_data(n=150)
    scores = {"good": x[:, 0] - 0.6 * x[:, 1], "x0": x[:, 0], "noise": np.random.default_rng(1).normal(size=150)}
    a = survival.bootstrap_concordance(time, event, scores, reference="noise", n_boot=40, seed=3)
    b = survival.bootstrap_concordance(time, event, scores, reference="noise", n_boot=40, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert (a["low"] <= a["C"]).all() and (a["C"] <= a["high"]).all()
    assert a.loc["noise", "diff"] == 0 and a.loc["good", "diff_low"] > 0
    assert a.loc["good", "C"] > a.loc["x0", "C"] > a.loc["noise", "C"]


def test_calibration_table_of_the_true_model_is_on_the_diagonal():
    rng = np.random.default_rng(0)
    n, horizon = 3000, 1.0
    risk = rng.normal(size=n)
    time = rng.exponential(np.exp(-risk))             # H0(t) = t
    predicted = np.exp(-horizon * np.exp(risk))
    tab = survival.calibration_table(time, np.ones(n), predicted, horizon, groups=5)
    assert tab["n"].sum() == n and list(tab.index) == [1, 2, 3, 4, 5]
    assert tab["predicted"].is_monotonic_increasing
    np.testing.assert_allclose(tab["observed"], tab["predicted"], atol=0.05)
    assert ((tab["observed_low"] <= tab["observed"]) & (tab["observed"] <= tab["observed_high"])).all()


def test_plots_label_their_axes():
    x, time, event = _cox_data(n=120)
    p = np.exp(-np.exp(x[:, 0]) * 0.5)
    tab = survival.calibration_table(time, event, p, 0.5, groups=3)
    ax = survival.calibration_plot({"model": tab}, horizon_label="0.5 years")
    assert "0.5 years" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    ax = survival.km_by_group(time, event, np.where(x[:, 0] > 0, "high", "low"), time_unit="years")
    assert "years" in ax.get_xlabel() and len(ax.get_lines()) >= 2


def test_deepsurv_has_one_bias_free_log_risk_output():
    model = survival.deepsurv(4, hidden=(8, 8))
    assert model.output_shape == (None, 1)
    assert [w.name for w in model.get_layer("log_risk").weights] == ["kernel"]


@pytest.mark.parametrize("call, match", [
    (lambda: survival.cox_nll([1, 2], [1, 2], [0, 0]), "event must be 0"),
    (lambda: survival.cox_nll([1, -2], [1, 0], [0, 0]), "time must hold"),
    (lambda: survival.cox_nll([1, 2], [0, 0], [0, 0]), "no events"),
    (lambda: survival.concordance([1, 2, 3], [1, 1, 1], np.zeros((3, 2))), "one entry per patient"),
    (lambda: survival.concordance([1, 2], [1, 1], [np.nan, 0]), "NaN"),
    (lambda: survival.deepsurv(3, hidden=16), "sequence of layer widths"),
    (lambda: survival.deepsurv(3, dropout=1.0), "dropout"),
    (lambda: survival.calibration_table([1, 2], [1, 1], [0.5, 2.0], 1.0, groups=1), "probabilities"),
    (lambda: survival.calibration_table([1, 2, 3], [1, 1, 1], [0.5] * 3, 1.0, groups=5), "too few"),
    (lambda: survival.bootstrap_concordance([1, 2], [1, 1], {"a": [0, 1]}, reference="b"), "reference"),
    (lambda: survival.fit_full_batch(survival.deepsurv(2, hidden=()), np.zeros((3, 2)), np.zeros((3,))), r"\(n, 2\)"),
])
def test_bad_input_is_refused_with_the_fix(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_km_by_group_follows_categorical_order():
    x, time, event = _cox_data(n=90)
    groups = pd.qcut(x[:, 0], 3, labels=["low", "middle", "high"])
    ax = survival.km_by_group(time, event, groups)
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [n.split()[0] for n in names] == ["low", "middle", "high"]
