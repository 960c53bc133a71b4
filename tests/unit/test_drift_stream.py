import numpy as np
import pytest

from dlbook.data import drift_stream


@pytest.fixture
def pool():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (600, 10, 10)).astype("float32")
    x[:, :2] = 0.0                                         # a black border, as in Fashion-MNIST
    return x, np.repeat(np.arange(4), 150)


def test_control_stream_has_no_onset_and_no_severity(pool):
    s = drift_stream.simulate(*pool, "none", n_batches=5, batch_size=30, seed=0)
    assert s.onset is None and not s.severity.any()
    assert s.x.shape == (5, 30, 10, 10) and s.y.shape == (5, 30)
    assert np.allclose(s.priors, 0.25)


def test_same_seed_same_stream_other_seed_other_stream(pool):
    a = drift_stream.simulate(*pool, "sudden", n_batches=4, batch_size=20, onset=2, seed=3)
    b = drift_stream.simulate(*pool, "sudden", n_batches=4, batch_size=20, onset=2, seed=3)
    c = drift_stream.simulate(*pool, "sudden", n_batches=4, batch_size=20, onset=2, seed=4)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)


def test_covariate_shifts_start_at_the_onset_and_keep_images_in_range(pool):
    x, y = pool
    for kind in ("gradual", "sudden"):
        s = drift_stream.simulate(x, y, kind, n_batches=8, batch_size=40, onset=3, ramp=4)
        assert np.isin(s.x[:3], x).all()                    # clean before the onset
        assert not np.isin(s.x[3], x).all()
        assert s.x.min() >= 0 and s.x.max() <= 1
        assert s.severity[:3].tolist() == [0, 0, 0] and s.severity[-1] == 1
    g = drift_stream.simulate(x, y, "gradual", n_batches=8, batch_size=40, onset=3, ramp=4)
    assert np.all(np.diff(g.severity) >= 0) and g.severity[3] == 0.25
    border = g.x[:, :, :2].mean((1, 2, 3))                   # the background greys with s
    assert np.all(np.diff(border[2:]) >= -1e-6) and border[-1] > 0.15


def test_label_shift_changes_class_mix_but_not_the_images(pool):
    x, y = pool
    s = drift_stream.simulate(x, y, "label", n_batches=10, batch_size=400, onset=5,
                              target_priors=[0.7, 0.1, 0.1, 0.1], seed=1)
    assert np.isin(s.x.reshape(-1, 10, 10), x).all()
    early = (s.y[:5] == 0).mean()
    late = (s.y[5:] == 0).mean()
    assert abs(early - 0.25) < 0.05 and abs(late - 0.7) < 0.05
    assert np.allclose(s.priors[5:], [0.7, 0.1, 0.1, 0.1])


def test_default_target_priors_put_the_mass_on_the_named_classes():
    p = drift_stream.default_target_priors()
    assert p.sum() == pytest.approx(1) and p[[2, 4, 6]].sum() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="mass"):
        drift_stream.default_target_priors(mass=1.2)


def test_bad_input_names_the_fix(pool):
    x, y = pool
    with pytest.raises(ValueError, match="unknown kind"):
        drift_stream.simulate(x, y, "concept")
    with pytest.raises(ValueError, match="onset"):
        drift_stream.simulate(x, y, "sudden", n_batches=5, onset=5)
    with pytest.raises(ValueError, match="sum to 1"):
        drift_stream.simulate(x, y, "label", n_batches=5, onset=2, target_priors=[0.5] * 4)
    with pytest.raises(ValueError, match="one label each"):
        drift_stream.simulate(x, y[:10], "none")
    with pytest.raises(ValueError, match="rng"):
        drift_stream.shift_images(x[:2], 1.0, "sudden")
    with pytest.raises(ValueError, match="severity"):
        drift_stream.shift_images(x[:2], 2.0, "gradual")
