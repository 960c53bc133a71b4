import numpy as np
import pandas as pd
import pytest

from dlbook.data import turbofan


@pytest.fixture(scope="module")
def fleet():
    return turbofan.simulate(20, seed=0)


def test_columns_and_cycles_run_from_one_to_failure(fleet):
    assert list(fleet.columns) == ["unit", "cycle", "condition", *turbofan.SETTINGS,
                                   *turbofan.SENSORS]
    for _, unit in fleet.groupby("unit"):
        np.testing.assert_array_equal(unit.cycle, np.arange(1, len(unit) + 1))


def test_same_seed_same_fleet_other_seed_differs():
    a, b = turbofan.simulate(3, seed=5), turbofan.simulate(3, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert not turbofan.simulate(3, seed=6).equals(a)


def test_lives_spread_around_mean_life(fleet):
    life = fleet.groupby("unit").cycle.max()
    assert 150 < life.median() < 250 and life.std() > 15
    longer = turbofan.simulate(20, mean_life=400, seed=0).groupby("unit").cycle.max()
    assert longer.median() > 1.5 * life.median()


def test_health_reaches_zero_at_failure():
    d0, rate = 0.1, 0.02
    t_fail = np.log(1 + (1 - d0) / 0.02) / rate
    assert abs(turbofan.health(np.array([t_fail]), d0, rate)[0]) < 1e-9
    assert turbofan.health(np.array([0.0]), d0, rate)[0] == pytest.approx(0.9)


def test_sensors_move_with_wear_in_their_documented_direction(fleet):
    early = fleet[fleet.cycle <= 20][list(turbofan.SENSORS)].mean()
    rul = fleet.groupby("unit").cycle.transform("max") - fleet.cycle
    late = fleet[rul < 10][list(turbofan.SENSORS)].mean()
    assert late.T50 > early.T50 and late.htBleed > early.htBleed     # temperatures rise
    assert late.P30 < early.P30 and late.phi < early.phi             # pressures, flow fall


def test_conditions_shift_sensor_levels_far_more_than_wear():
    six = turbofan.simulate(5, n_conditions=6, seed=0)
    by_regime = six.groupby("condition").T30.mean()
    assert six.condition.nunique() == 6 and by_regime.std() > 20
    assert six.groupby("condition").altitude.mean().is_monotonic_increasing


def test_flat_sensors_do_not_respond_to_wear():
    f = turbofan.simulate(10, n_flat=1, seed=0)
    rul = f.groupby("unit").cycle.transform("max") - f.cycle
    assert abs(np.corrcoef(rul, f.flat_1)[0, 1]) < 0.1
    assert abs(np.corrcoef(rul, f.T50)[0, 1]) > 0.5


def test_truncate_keeps_a_prefix_and_returns_the_true_rul(fleet):
    obs, rul = turbofan.truncate(fleet, max_rul=60, seed=0)
    life = fleet.groupby("unit").cycle.max()
    seen = obs.groupby("unit").cycle.max()
    assert (seen + rul == life).all() and (rul >= 1).all() and (rul <= 60).all()
    assert (seen >= 31).all()
    first = fleet[fleet.unit == 1].head(len(obs[obs.unit == 1]))
    pd.testing.assert_frame_equal(obs[obs.unit == 1].reset_index(drop=True),
                                  first.reset_index(drop=True))


def test_invalid_arguments_name_the_fix(fleet):
    with pytest.raises(ValueError, match="n_conditions"):
        turbofan.simulate(2, n_conditions=7)
    with pytest.raises(ValueError, match="initial_wear"):
        turbofan.simulate(2, initial_wear=0.9)
    with pytest.raises(ValueError, match="lower min_cycles"):
        turbofan.truncate(fleet, min_cycles=1000)
    with pytest.raises(ValueError, match="columns"):
        turbofan.truncate(fleet.drop(columns="cycle"))
