import numpy as np
import pandas as pd
import pytest

from dlbook.data import netflows


@pytest.fixture(scope="module")
def week():
    attacks = netflows.attack_schedule(range(3, 5), hosts=11, seed=0)
    return netflows.simulate(5, n_workstations=6, attacks=attacks, seed=0)


def test_flows_have_the_documented_columns_and_types(week):
    f = week.flows
    assert list(f.columns) == ["time", "src", "dst", "dst_port", "proto", "duration",
                               "bytes_out", "bytes_in", "packets", "flags", "attack", "actor"]
    assert (f.bytes_out >= 0).all() and (f.bytes_in >= 0).all() and (f.packets >= 1).all()
    assert f.time.is_monotonic_increasing
    assert set(f["flags"].astype(str)) <= {"SF", "S0", "REJ", "RSTO"}


def test_same_seed_same_flows_and_other_seed_differs():
    a = netflows.simulate(1, n_workstations=3, seed=5).flows
    b = netflows.simulate(1, n_workstations=3, seed=5).flows
    c = netflows.simulate(1, n_workstations=3, seed=6).flows
    pd.testing.assert_frame_equal(a, b)
    assert len(a) != len(c) or not np.allclose(a.time, c.time)


def test_a_day_alone_equals_that_day_inside_a_longer_run():
    whole = netflows.simulate(3, n_workstations=3, seed=2).flows
    alone = netflows.simulate([2], n_workstations=3, seed=2).flows
    part = whole[whole.time >= 2 * 86_400].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, alone)


def test_attacks_do_not_change_benign_traffic():
    quiet = netflows.simulate(1, n_workstations=3, seed=0).flows
    loud = netflows.simulate(1, n_workstations=3, seed=0,
                             attacks=[netflows.Attack("dos", start=10, hours=0.5)]).flows
    benign = loud[loud.attack == "normal"].reset_index(drop=True)
    pd.testing.assert_frame_equal(benign, quiet, check_categorical=False)


def test_workdays_are_busier_than_nights_and_weekends():
    f = netflows.simulate(7, n_workstations=6, seed=0).flows
    ws = f[f.src < 6]
    hour, day = (ws.time % 86_400) // 3600, ws.time // 86_400
    work = ((hour >= 9) & (hour < 17) & (day < 5)).sum() / (5 * 8)
    night = ((hour < 6) & (day < 5)).sum() / (5 * 6)
    weekend = ((hour >= 9) & (hour < 17) & (day >= 5)).sum() / (2 * 8)
    assert work > 5 * night and work > 4 * weekend


def test_each_attack_has_its_shape(week):
    f, n_ws = week.flows, 6
    scan = f[f.attack == "scan"]
    assert scan.dst_port.nunique() > 200 and scan["flags"].isin(["S0", "REJ"]).all()
    brute = f[f.attack == "bruteforce"]
    assert (brute.dst_port == 22).all() and brute.src.nunique() == 1
    assert (brute.dst == n_ws + netflows.SERVERS.index("ssh")).all()
    dos = f[f.attack == "dos"]
    assert (dos.dst == n_ws + netflows.SERVERS.index("web")).all() and dos.src.nunique() > 100
    exfil = f[f.attack == "exfiltration"]
    assert exfil.dst.nunique() == 1 and exfil.dst.iloc[0] >= len(week.hosts)
    assert (exfil.actor == exfil.src).all()


def test_exfiltration_rate_sets_the_bytes_sent():
    for rate in (2_000.0, 50_000.0):
        a = netflows.Attack("exfiltration", start=10, hours=4, host=0, intensity=rate)
        f = netflows.simulate(1, n_workstations=2, attacks=[a], seed=0).flows
        sent = f[f.attack == "exfiltration"].bytes_out.sum()
        assert sent == pytest.approx(rate * 4 * 3600, rel=0.1)


def test_attacks_outside_the_simulated_days_leave_no_flows():
    a = netflows.Attack("scan", start=30, hours=1, host=0)   # day 1
    f = netflows.simulate([0], n_workstations=2, attacks=[a], seed=0).flows
    assert (f.attack == "normal").all()


def test_schedule_places_episodes_on_working_hours_of_working_days():
    attacks = netflows.attack_schedule(range(0, 7), per_kind=3, seed=1)
    assert len(attacks) == 12
    for a in attacks:
        day, hour = divmod(a.start, 24)
        assert day < 5 and 9 <= hour and hour + a.hours <= 17


@pytest.mark.parametrize("kwargs, match", [
    ({"days": 0}, "days must be a positive int"),
    ({"days": [-1]}, "days must be non-empty"),
    ({"n_admins": 9, "n_workstations": 3}, "n_admins"),
    ({"seed": -1}, "seed"),
    ({"start_weekday": 7}, "start_weekday"),
    ({"attacks": [netflows.Attack("scan", start=1, hours=1, host=99)]}, "only 8 internal hosts"),
])
def test_simulate_rejects_bad_arguments(kwargs, match):
    args = {"days": 1, "n_workstations": 3} | kwargs
    with pytest.raises(ValueError, match=match):
        netflows.simulate(**args)


def test_attack_validates_kind_and_times():
    with pytest.raises(ValueError, match="unknown attack kind"):
        netflows.Attack("ddos", start=1, hours=1)
    with pytest.raises(ValueError, match="start"):
        netflows.Attack("dos", start=-1, hours=1)
    with pytest.raises(ValueError, match="hours"):
        netflows.Attack("dos", start=1, hours=0)
    with pytest.raises(TypeError, match="Attack"):
        netflows.simulate(1, n_workstations=2, attacks=["scan"])


def test_schedule_needs_a_working_day():
    with pytest.raises(ValueError, match="no working day"):
        netflows.attack_schedule([5, 6])
