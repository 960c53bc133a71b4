import numpy as np
import pandas as pd
import pytest

from dlbook import security
from dlbook.data import netflows


def _flows(**cols):
    base = {"time": [10.0], "src": [0], "dst": [1], "dst_port": [443], "bytes_out": [100],
            "bytes_in": [1000], "flags": ["SF"], "attack": ["normal"], "actor": [-1]}
    return pd.DataFrame(base | cols)


def test_windows_cover_every_host_and_window_quiet_ones_included():
    w = security.host_windows(_flows(), n_hosts=3, days=[4, 5], minutes=15)
    assert len(w) == 3 * 2 * 96
    assert w.flows_out.sum() == 0 and w.flows_in.sum() == 0   # the flow is on day 0
    assert set(w.day) == {4, 5}


def test_flows_outside_the_days_are_dropped():
    w = security.host_windows(_flows(time=[86_400 * 4 + 10.0]), n_hosts=2, days=[4])
    assert w.flows_out.sum() == 1
    w = security.host_windows(_flows(), n_hosts=2, days=[4])
    assert w.flows_out.sum() == 0


def test_bytes_count_from_the_hosts_side_in_both_directions():
    w = security.host_windows(_flows(), n_hosts=2, days=[0])
    first = w[w.window == 0].set_index("host")
    assert first.loc[0, "bytes_out"] == 100 and first.loc[0, "bytes_in"] == 1000
    assert first.loc[1, "bytes_out"] == 1000 and first.loc[1, "bytes_in"] == 100


def test_distinct_counts_count_peers_and_ports_once():
    f = _flows(time=[1.0, 2.0, 3.0], src=[0, 0, 0], dst=[1, 1, 2], dst_port=[80, 80, 22],
               bytes_out=[1, 1, 1], bytes_in=[1, 1, 1], flags=["SF", "S0", "REJ"],
               attack=["normal"] * 3, actor=[-1] * 3)
    row = security.host_windows(f, n_hosts=3, days=[0]).iloc[0]
    assert (row.flows_out, row.dst_hosts_out, row.dst_ports_out, row.failed_out) == (3, 2, 2, 2)


def test_labels_mark_the_actor_and_touched_hosts():
    f = _flows(attack=["scan"], actor=[0])
    w = security.host_windows(f, n_hosts=2, days=[0])
    assert w.kind[0] == "scan" and not w.touched[0]
    target = w[(w.host == 1) & (w.window == 0)].iloc[0]
    assert target.kind == "normal" and target.touched
    assert (w.kind != "normal").sum() == 1 and w.touched.sum() == 1


def test_simulated_attacks_show_in_their_features():
    attacks = [netflows.Attack("scan", start=10, hours=0.5, host=0),
               netflows.Attack("dos", start=14, hours=0.5)]
    sim = netflows.simulate(1, n_workstations=4, attacks=attacks, seed=0)
    w = security.host_windows(sim.flows, n_hosts=sim.n_internal, days=sim.days)
    med = w.groupby("kind")[list(security.FEATURES)].median()
    assert med.loc["scan", "failed_out"] > 50 * max(1, med.loc["normal", "failed_out"])
    assert med.loc["dos", "flows_in"] > 50 * max(1, med.loc["normal", "flows_in"])


def test_windows_validate_their_input():
    with pytest.raises(TypeError, match="DataFrame"):
        security.host_windows([1, 2], n_hosts=2, days=[0])
    with pytest.raises(ValueError, match="lack the columns"):
        security.host_windows(_flows().drop(columns="flags"), n_hosts=2, days=[0])
    with pytest.raises(ValueError, match="divide a day"):
        security.host_windows(_flows(), n_hosts=2, days=[0], minutes=7)
    with pytest.raises(ValueError, match="at least one day"):
        security.host_windows(_flows(), n_hosts=2, days=[])


def test_robust_z_is_standard_for_gaussian_data():
    x = np.random.default_rng(0).normal(5.0, 2.0, size=(20_000, 2))
    z = security.RobustZ(min_scale=1e-6).fit(x).transform(x)
    assert abs(np.median(z)) < 0.05 and 0.95 < z.std() < 1.05


def test_robust_z_tail_scale_tames_heavy_tails_and_floor_handles_constants():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.zeros(1000), rng.pareto(1.2, 1000)])
    x[:5, 0] = 1.0                                  # a rare event on a constant feature
    with_tail = security.RobustZ(min_scale=0.5).fit(x)
    mad_only = security.RobustZ(min_scale=0.5, tail=None).fit(x)
    assert with_tail.transform(x)[:, 0].max() == pytest.approx(2.0)
    assert np.quantile(with_tail.transform(x)[:, 1], 0.99) < np.quantile(
        mad_only.transform(x)[:, 1], 0.99)


def test_robust_z_uses_group_statistics_and_falls_back_for_unseen_groups():
    x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    rz = security.RobustZ(min_scale=1.0, tail=None).fit(x, ["a"] * 3 + ["b"] * 3)
    z = rz.transform([[1.0], [11.0], [8.0]], ["a", "b", "c"]).ravel()
    assert z[0] == 0 and z[1] == 0
    assert z[2] == pytest.approx((8.0 - 6.0) / (1.4826 * 5))   # all rows: median 6, MAD 5
    assert rz.score([[5.0]], ["a"])[0] == pytest.approx(4.0 / 1.4826)


def test_robust_z_validates():
    with pytest.raises(ValueError, match="not fitted"):
        security.RobustZ().transform([[1.0]])
    with pytest.raises(ValueError, match="2-D"):
        security.RobustZ().fit([1.0, 2.0])
    with pytest.raises(ValueError, match="one key per row"):
        security.RobustZ().fit([[1.0], [2.0]], groups=[0])
    with pytest.raises(ValueError, match="features"):
        security.RobustZ().fit([[1.0], [2.0]]).transform([[1.0, 2.0]])
    with pytest.raises(ValueError, match="tail"):
        security.RobustZ(tail=1.5)
    with pytest.raises(ValueError, match="min_scale"):
        security.RobustZ(min_scale=0)


def test_autoencoder_learns_benign_structure_and_flags_what_breaks_it():
    import keras

    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 1))
    x = np.hstack([a, 2 * a, -a]).astype("float32")          # one factor behind 3 features
    keras.utils.set_random_seed(0)
    ae = security.dense_autoencoder(3, 0, hidden=(16,), code=1)
    ae.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    ae.fit(x, x, epochs=15, batch_size=64, verbose=0)
    odd = np.array([[1.0, -2.0, 1.0]], dtype="float32")       # breaks the correlation
    normal = security.reconstruction_error(ae, x[:200], x[:200])
    assert security.reconstruction_error(ae, odd, odd)[0] > np.quantile(normal, 0.99)


def test_reconstruction_error_reductions_and_checks():
    ae = security.dense_autoencoder(2, 1, hidden=(4,), code=1)
    x, t = np.zeros((3, 3)), np.zeros((3, 2))
    pred = ae.predict(x, verbose=0)
    np.testing.assert_allclose(security.reconstruction_error(ae, x, t, reduce="max"),
                               (t - pred).max(axis=1), rtol=1e-6)
    with pytest.raises(ValueError, match="reduce"):
        security.reconstruction_error(ae, x, t, reduce="sum")
    with pytest.raises(ValueError, match="one row each"):
        security.reconstruction_error(ae, x, t[:2])
    with pytest.raises(ValueError, match="outputs shape"):
        security.reconstruction_error(ae, x, np.zeros((3, 5)))


def test_builders_validate():
    with pytest.raises(ValueError, match="sequence of layer widths"):
        security.dense_autoencoder(3, hidden=8)
    with pytest.raises(ValueError, match="n_context"):
        security.dense_autoencoder(3, -1)
    with pytest.raises(ValueError, match="kind"):
        security.sequence_forecaster(4, 3, 3, kind="gru")


def test_host_sequences_never_cross_hosts():
    values = np.arange(12.0)[:, None]
    x, t = security.host_sequences(values, [0] * 4 + [1] * 8, steps=3)
    assert t.tolist() == [3, 7, 8, 9, 10, 11]
    np.testing.assert_array_equal(x[1, :, 0], [4.0, 5.0, 6.0])
    for window, target in zip(x, t, strict=True):
        assert window[-1, 0] == target - 1


def test_host_sequences_validate():
    with pytest.raises(ValueError, match="contiguous"):
        security.host_sequences(np.zeros((4, 1)), [0, 1, 0, 1], steps=1)
    with pytest.raises(ValueError, match="fewer steps"):
        security.host_sequences(np.zeros((4, 1)), [0, 0, 1, 1], steps=2)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        security.host_sequences(np.zeros(4), [0, 0, 1, 1], steps=1)


def test_forecaster_learns_a_persistent_signal():
    import keras

    rng = np.random.default_rng(0)
    level = np.repeat(rng.normal(size=400), 10)[:, None].astype("float32")
    x, t = security.host_sequences(level, np.zeros(len(level), int), steps=4)
    keras.utils.set_random_seed(0)
    for kind in ("lstm", "conv"):
        model = security.sequence_forecaster(4, 1, 1, units=8, kind=kind)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        h = model.fit(x, level[t], epochs=3, batch_size=64, verbose=0)
        assert h.history["loss"][-1] < 0.5 * np.var(level)


def test_alerts_per_day():
    assert security.alerts_per_day(0.001, 1000) == pytest.approx(288.0)
    assert security.alerts_per_day(0.01, 10, minutes=10) == pytest.approx(14.4)
    with pytest.raises(ValueError, match="fpr"):
        security.alerts_per_day(2, 10)


def test_features_and_context():
    w = pd.DataFrame({"hour": [0.0, 12.0], "day": [0, 6]} | {f: [0, 1] for f in security.FEATURES})
    assert security.log_features(w).shape == (2, len(security.FEATURES))
    c = security.context_features(w)
    np.testing.assert_allclose(c[:, 1], [1.0, -1.0], atol=1e-6)
    assert c[:, 2].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="lack the features"):
        security.log_features(w.drop(columns="bytes_out"))
    with pytest.raises(ValueError, match=">= 0"):
        security.log_features(w.assign(bytes_out=[-1, 0]))
