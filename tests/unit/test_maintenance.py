import numpy as np
import pandas as pd
import pytest

from dlbook import maintenance as mt
from dlbook.data import turbofan

# --- inspection ---------------------------------------------------------------------------------

def test_texture_autoencoder_keeps_the_patch_shape_and_refuses_bad_sizes():
    model = mt.texture_autoencoder(16, filters=(8, 8))
    assert model.output_shape == (None, 16, 16, 1)
    assert model.get_layer("code").output.shape[1:] == (4, 4, 8)
    with pytest.raises(ValueError, match="divisible"):
        mt.texture_autoencoder(20)


def test_error_maps_smooth_and_check_shapes():
    x = np.zeros((1, 16, 16), "float32")
    x[0, 8, 8] = 1.0
    raw = mt.error_maps(x, np.zeros_like(x), sigma=0)
    smooth = mt.error_maps(x, np.zeros_like(x), sigma=2.0)
    assert raw.max() == 1.0 and smooth.max() < 0.1 and smooth[0, 8, 8] == smooth.max()
    with pytest.raises(ValueError, match="same shape"):
        mt.error_maps(x, np.zeros((1, 8, 8)))
    with pytest.raises(ValueError, match="sigma"):
        mt.error_maps(x, x, sigma=-1)


def test_local_gaussian_flags_an_unseen_structure_where_it_is():
    rng = np.random.default_rng(0)
    good = rng.normal(0.5, 0.05, (50, 24, 24)).astype("float32")
    bad = good[:1].copy()
    bad[0, 12, 4:20] = 1.0                                   # a bright scratch
    model = mt.LocalGaussian(k=5, samples=5000).fit(good)
    m = model.maps(bad)[0]
    assert m[12, 4:20].mean() > 5 * m[:6].mean()
    with pytest.raises(ValueError, match="odd"):
        mt.LocalGaussian(k=4)
    with pytest.raises(ValueError, match="fit"):
        mt.LocalGaussian().maps(good)


def test_image_and_pixel_auc():
    assert mt.image_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0
    masks = np.zeros((2, 4, 4), int)
    masks[1, 1, 1] = 1
    maps = np.zeros((2, 4, 4))
    maps[1, 1, 1] = 1.0
    assert mt.pixel_auc(masks, maps) == 1.0
    assert mt.image_scores(maps).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="one class"):
        mt.image_auc([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="match"):
        mt.pixel_auc(masks, maps[:1])
    with pytest.raises(ValueError, match="reduce"):
        mt.image_scores(maps, reduce="median")


# --- remaining useful life ----------------------------------------------------------------------

def test_rul_targets_count_down_to_zero_and_cap():
    units, cycles = [1] * 5 + [2] * 3, [1, 2, 3, 4, 5, 1, 2, 3]
    assert mt.rul_targets(units, cycles).tolist() == [4, 3, 2, 1, 0, 2, 1, 0]
    assert mt.rul_targets(units, cycles, cap=2).tolist() == [2, 2, 2, 1, 0, 2, 1, 0]
    with pytest.raises(ValueError, match="sort"):
        mt.rul_targets([1, 2, 1], [1, 1, 2])
    with pytest.raises(ValueError, match="increase"):
        mt.rul_targets([1, 1], [2, 1])


def test_phm08_penalises_late_more_than_early():
    assert mt.phm08_score([50], [50]) == 0.0
    early, late = mt.phm08_score([50], [40]), mt.phm08_score([50], [60])
    assert late > early > 0
    assert early == pytest.approx(np.exp(10 / 13) - 1)
    assert mt.rmse([1.0, 1.0], [1.0, 3.0]) == pytest.approx(np.sqrt(2))
    with pytest.raises(ValueError, match="match"):
        mt.phm08_score([1.0], [1.0, 2.0])


def test_unit_windows_never_cross_units_and_pad_the_start():
    v = np.arange(6.0)[:, None]
    x = mt.unit_windows(v, [1, 1, 1, 2, 2, 2], 3, rows=[0, 2, 3, 5])
    assert x[:, :, 0].tolist() == [[0, 0, 0], [0, 1, 2], [3, 3, 3], [3, 4, 5]]
    assert mt.last_rows([1, 1, 2, 2, 2]).tolist() == [1, 4]
    with pytest.raises(ValueError, match="one entry per row"):
        mt.unit_windows(v, [1, 1], 2)


def test_window_features_are_mean_last_and_slope():
    x = np.stack([np.arange(5.0), np.full(5, 2.0)], axis=-1)[None]   # (1, 5, 2)
    assert mt.window_features(x).tolist() == [[2.0, 2.0, 4.0, 2.0, 1.0, 0.0]]


def test_normalize_by_condition_removes_regime_offsets():
    fleet = turbofan.simulate(5, n_conditions=6, seed=0)
    (normed,) = mt.normalize_by_condition(fleet, [fleet], list(turbofan.SENSORS))
    means = normed.groupby("condition")[list(turbofan.SENSORS)].mean()
    assert np.abs(means.to_numpy()).max() < 1e-6
    with pytest.raises(ValueError, match="never occur"):
        mt.normalize_by_condition(fleet[fleet.condition == 0], [fleet], ["T30"])


def test_health_index_baseline_beats_a_constant_on_simulated_engines():
    train = turbofan.simulate(30, seed=0)
    test, rul = turbofan.truncate(turbofan.simulate(30, seed=1), max_rul=150, seed=2)
    sensors = list(turbofan.SENSORS)
    train_n, test_n = mt.normalize_by_condition(train, [train, test], sensors)
    base = mt.HealthIndexBaseline().fit(train_n[sensors], train.unit, train.cycle)
    hi = base.indicator(train_n[sensors])
    assert hi[train.cycle.to_numpy() <= 10].mean() > 0.8 > 0.2 > base.threshold_
    pred = base.predict(test_n[sensors], test.unit)
    assert pred.shape == (30,) and (pred >= 0).all() and (pred <= 125).all()
    assert mt.rmse(rul, pred) < 0.9 * mt.rmse(rul, np.full(30, rul.mean()))


def test_health_index_baseline_validates():
    with pytest.raises(ValueError, match="kind"):
        mt.HealthIndexBaseline(kind="quadratic")
    with pytest.raises(ValueError, match="fit"):
        mt.HealthIndexBaseline().indicator(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-D"):
        mt.HealthIndexBaseline().fit(np.zeros(3), [1, 1, 1], [1, 2, 3])
    frame = pd.DataFrame({"u": [1, 1], "c": [1, 2]})
    assert mt.rul_targets(frame.u, frame.c).tolist() == [1.0, 0.0]
