"""Spiking networks: the spike is an exact Heaviside forwards and a surrogate backwards, LIF
neurons fire when the analysis says they must, the encoders keep the pixel intensities, the
operation counters count what they claim, and bad input is refused with the fix."""

import math

import numpy as np
import pytest
import tensorflow as tf

from dlbook import spiking as S

keras = S.keras


# --- the spike and its surrogate gradient -------------------------------------------------------


def _spike_and_grad(x, slope=25.0):
    x = tf.constant(x, dtype="float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        s = S.spike(x, slope)
    return s.numpy(), tape.gradient(s, x).numpy()


def test_spike_forward_is_an_exact_heaviside_step():
    x = np.array([-5.0, -1e-6, 0.0, 1e-6, 3.0], "float32")
    s, _ = _spike_and_grad(x)
    assert s.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert set(np.unique(_spike_and_grad(np.linspace(-2, 2, 1001))[0])) == {0.0, 1.0}


def test_surrogate_gradient_is_large_near_threshold_and_small_far_from_it():
    _, g = _spike_and_grad(np.array([0.0, 0.01, -0.01, 1.0, -1.0, 10.0]))
    assert g[0] == pytest.approx(1.0)
    assert g[1] > 0.5 and g[2] > 0.5              # non-zero near the threshold
    assert g[3] < 0.002 and g[4] < 0.002          # small far from it
    assert g[5] < 1e-4
    assert g[1] == pytest.approx(g[2])            # symmetric


def test_surrogate_slope_sets_the_width():
    _, narrow = _spike_and_grad(np.array([0.1]), slope=100.0)
    _, wide = _spike_and_grad(np.array([0.1]), slope=5.0)
    assert narrow[0] < wide[0]


def test_surrogate_gradient_chains_with_the_upstream_gradient():
    x = tf.constant([0.0, 0.05])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(3.0 * S.spike(x))
    g = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(g, 3.0 * S.surrogate_derivative(np.array([0.0, 0.05])),
                               rtol=1e-5)


# --- LIF neurons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("current,beta", [(0.3, 0.9), (0.15, 0.95), (0.25, 1.0), (1.5, 0.9)])
def test_lif_with_constant_input_fires_at_the_analytic_time_and_rate(current, beta):
    n = S.steps_to_spike(current, beta=beta)
    _, s = S.lif_simulate(np.full(10 * n, current), beta=beta, reset="zero")
    assert np.flatnonzero(s)[0] == n - 1            # first spike
    assert s.mean() == pytest.approx(1 / n)         # one spike every n steps


def test_lif_below_the_leak_bound_never_fires():
    assert S.steps_to_spike(0.1, beta=0.9) == math.inf
    _, s = S.lif_simulate(np.full(500, 0.1), beta=0.9)
    assert s.sum() == 0


def test_lif_subtract_reset_rate_approaches_input_over_threshold_without_leak():
    _, s = S.lif_simulate(np.full(1000, 0.37), beta=1.0, reset="subtract")
    assert s.mean() == pytest.approx(0.37, abs=2e-3)


def test_lif_cell_matches_the_numpy_simulation_and_the_analytic_first_spike():
    cell = S.LIFCell(1, beta=0.9, reset="zero")
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = np.ones((1, 40, 1), "float32")
    layer(x)
    cell.kernel.assign([[0.3]])
    out = keras.ops.convert_to_numpy(layer(x))[0, :, 0]
    n = S.steps_to_spike(0.3, beta=0.9)
    assert np.flatnonzero(out)[0] == n - 1
    assert out.mean() == pytest.approx(1 / n)
    _, replay = S.membrane_trace(layer, x[0])
    np.testing.assert_array_equal(replay[:, 0], out)


def test_lif_cell_passes_gradients_to_its_weights():
    keras.utils.set_random_seed(0)
    layer = keras.layers.RNN(S.LIFCell(4), return_sequences=True)
    x = tf.constant(np.random.default_rng(0).random((2, 10, 3)) < 0.5, "float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(g is not None and np.abs(g.numpy()).sum() > 0 for g in grads)


# --- encoders ------------------------------------------------------------------------------------


def test_rate_coding_mean_firing_equals_pixel_intensity():
    x = np.linspace(0, 1, 64).reshape(1, 8, 8)
    trains = S.rate_encode(x, 2000, seed=1)
    assert trains.shape == (1, 2000, 8, 8)
    assert set(np.unique(trains)) <= {0.0, 1.0}
    np.testing.assert_allclose(trains.mean(axis=1), x, atol=0.04)   # 4 sigma at p = 0.5


def test_rate_coding_is_reproducible_with_a_seed():
    x = np.full((3, 5), 0.5)
    np.testing.assert_array_equal(S.rate_encode(x, 20, seed=3), S.rate_encode(x, 20, seed=3))


def test_latency_coding_fires_once_earlier_for_brighter_pixels():
    x = np.array([[1.0, 0.75, 0.5, 0.25, 0.01]])
    trains = S.latency_encode(x, 9)[0]                     # (steps, pixels)
    assert trains.sum(axis=0).tolist() == [1, 1, 1, 1, 0]  # once; too dark: never
    assert np.argmax(trains[:, :4], axis=0).tolist() == [0, 2, 4, 6]


@pytest.mark.parametrize("bad,match", [
    (np.full((2, 4), 16.0), "x / 16"),
    (np.full((2, 4), -0.1), r"\[0, 1\]"),
    (np.full(4, 0.5), r"x\[None\]"),
    (np.array([[0.5, np.nan]]), "NaN"),
    (np.array([["a", "b"]]), "numeric"),
])
def test_encoders_refuse_bad_images_with_the_fix(bad, match):
    with pytest.raises(ValueError, match=match):
        S.rate_encode(bad, 5)
    with pytest.raises(ValueError, match=match):
        S.latency_encode(bad, 5)


# --- bad parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,match", [
    ({"beta": 1.5}, "beta"), ({"beta": -0.1}, "beta"), ({"threshold": 0}, "threshold"),
    ({"reset": "hard"}, "reset must be one of"), ({"slope": -1.0}, "slope"),
])
def test_lif_cell_refuses_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.LIFCell(4, **kwargs)


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="units must be a positive int"):
        S.LIFCell(0)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        S.RateEncoder(2.5)
    with pytest.raises(ValueError, match="encoding must be"):
        S.spiking_mlp(encoding="phase")
    with pytest.raises(ValueError, match="current must be a finite"):
        S.lif_simulate(np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="slope"):
        S.spike(np.zeros(2), slope=0)
    with pytest.raises(ValueError, match="RNN wrapping a LIFCell"):
        S.membrane_trace(keras.layers.Dense(3), np.zeros((4, 3)))


# --- models and the energy proxy -----------------------------------------------------------------


def test_spiking_and_dense_mlps_have_the_same_parameters():
    snn = S.spiking_mlp(64, (32,), 10, steps=4)
    assert snn.count_params() == S.dense_mlp(64, (32,), 10).count_params()
    assert tuple(snn(np.full((3, 64), 0.5, "float32")).shape) == (3, 10)


def test_synaptic_operations_are_spikes_times_fan_out():
    keras.utils.set_random_seed(0)
    model = S.spiking_mlp(4, (6,), 3, steps=5, encoding=None)
    trains = np.zeros((2, 5, 4), "float32")
    trains[0, 0, :2] = 1            # sample 0: 2 input spikes, sample 1: 4
    trains[1, :, 3] = [1, 0, 1, 1, 1]
    table = S.synaptic_operations(model, trains)
    row = table.loc["spike_trains"]
    assert row["spikes"] == 3.0 and row["fan-out"] == 6 and row["SynOps"] == 18.0
    hidden = table.loc["lif_1"]
    assert hidden["SynOps"] == hidden["spikes"] * 3
    assert hidden["neuron updates"] == 6 * 5
    assert table.loc["lif_out", "SynOps"] == 0


def test_silent_network_costs_only_neuron_updates():
    keras.utils.set_random_seed(0)
    model = S.spiking_mlp(4, (6,), 3, steps=5, encoding=None)
    table = S.synaptic_operations(model, np.zeros((1, 5, 4), "float32"))
    assert table["SynOps"].sum() == 0
    proxy = S.energy_proxy(table, [4, 6, 3])
    assert proxy.loc["spiking net: total", "operations"] == (6 + 3) * 5


def test_dense_macs_and_energy_use_horowitz_prices():
    assert S.dense_macs([64, 128, 10]) == 64 * 128 + 128 * 10
    assert S.ENERGY_PJ["fp32 mac"] == pytest.approx(4.6)
    assert S.energy_nj(adds=1000) == pytest.approx(0.9)
    assert S.energy_nj(macs=1000) == pytest.approx(4.6)
    with pytest.raises(ValueError, match="unknown operation"):
        S.energy_nj(adds=1, add="fp64 add")
    with pytest.raises(ValueError, match="count >= 0"):
        S.energy_nj(macs=-1)
    with pytest.raises(ValueError, match="at least an input and an output"):
        S.dense_macs([64])


def test_synaptic_operations_refuses_a_model_without_lif_layers():
    with pytest.raises(ValueError, match="no LIF layers"):
        S.synaptic_operations(S.dense_mlp(4, (3,), 2), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="synaptic_operations"):
        S.energy_proxy({"a": 1}, [4, 2])


def test_membrane_readout_never_fires_and_replays_exactly():
    keras.utils.set_random_seed(0)
    model = S.spiking_mlp(4, (6,), 3, steps=5, encoding=None)
    trains = (np.random.default_rng(0).random((2, 5, 4)) < 0.6).astype("float32")
    table = S.synaptic_operations(model, trains)
    assert table.loc["lif_out", "spikes"] == 0 and table.loc["lif_out", "neuron updates"] == 15
    hidden = keras.ops.convert_to_numpy(model.get_layer("lif_1")(trains))[0]
    _, replay_spikes = S.membrane_trace(model.get_layer("lif_1"), trains[0])
    np.testing.assert_array_equal(replay_spikes, hidden)
    v_out, s_out = S.membrane_trace(model.get_layer("lif_out"), hidden)
    assert s_out.sum() == 0
    logits = keras.ops.convert_to_numpy(model(trains))[0]
    np.testing.assert_allclose(v_out.mean(axis=0), logits, rtol=1e-4, atol=1e-5)


def test_spike_count_readout_gives_integer_logits():
    keras.utils.set_random_seed(0)
    model = S.spiking_mlp(4, (6,), 3, steps=5, readout="spikes")
    counts = keras.ops.convert_to_numpy(model(np.full((2, 4), 0.9, "float32")))
    assert ((counts >= 0) & (counts <= 5) & (counts == np.round(counts))).all()
    with pytest.raises(ValueError, match="readout must be"):
        S.spiking_mlp(readout="max")


def test_surrogate_gradients_train_a_spiking_net_on_a_separable_task():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 128)
    x = np.where(y[:, None] == 1, [0.9, 0.9, 0.1, 0.1], [0.1, 0.1, 0.9, 0.9])
    x = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1).astype("float32")
    model = S.spiking_mlp(4, (16,), 2, steps=8, seed=0, readout="spikes")  # needs the surrogate
    model.compile(keras.optimizers.Adam(1e-2), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert loss < 0.5 * before and acc >= 0.95
