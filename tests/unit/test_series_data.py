import socket

import numpy as np
import pandas as pd
import pytest

from dlbook import data
from dlbook.data.registry.series import fill_gaps, read_mitdb_csv


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("name", ["co2", "sunspots", "mitdb-ecg"])
def test_series_load_offline_and_carry_license_and_citation(name, no_network):
    ds = data.load(name)
    assert ds.info.license and ds.info.citation
    assert len(ds.x_train) == len(ds.y_train) and len(ds.x_test) == len(ds.y_test)


def test_co2_split_is_chronological_at_1990_with_no_gaps_left():
    ds = data.load("co2")
    assert (len(ds.x_train), len(ds.x_test)) == (1658, 626)
    dates = np.concatenate([ds.x_train, ds.x_test])
    assert np.all(np.diff(dates) == np.timedelta64(7, "D")), "weeks must be regular and ordered"
    assert ds.x_train[-1] < np.datetime64("1990-01-01") <= ds.x_test[0]
    values = np.concatenate([ds.y_train, ds.y_test])
    assert not np.isnan(values).any()
    assert 310 < values.min() and values.max() < 380 and ds.is_regression


def test_co2_gaps_are_filled_between_their_measured_neighbours():
    from statsmodels.datasets import co2

    raw = co2.load_pandas().data["co2"]
    assert raw.isna().sum() == 59
    filled = np.concatenate([data.load("co2").y_train, data.load("co2").y_test])
    measured = raw.notna().to_numpy()
    assert np.array_equal(filled[measured], raw.to_numpy()[measured])
    gap = np.flatnonzero(~measured)[0]
    low, high = sorted(raw.iloc[[gap - 1, gap + 1]])
    assert low <= filled[gap] <= high


def test_fill_gaps_interpolates_linearly_in_time_and_rejects_plain_indexes():
    s = pd.Series([0.0, np.nan, np.nan, 3.0], index=pd.date_range("2001-01-06", periods=4, freq="7D"))
    assert fill_gaps(s).tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="DatetimeIndex"):
        fill_gaps(pd.Series([1.0, np.nan]))


def test_sunspots_split_is_chronological_at_1950():
    ds = data.load("sunspots")
    assert ds.x_train.dtype == np.int64 and ds.x_train[0] == 1700 and ds.x_test[-1] == 2008
    assert ds.x_train[-1] == 1949 and ds.x_test[0] == 1950
    assert np.all(np.diff(np.concatenate([ds.x_train, ds.x_test])) == 1)
    assert ds.y_train.min() >= 0 and ds.y_train.max() > 100


def test_mitdb_has_normal_training_and_the_one_anomaly_in_test():
    ds = data.load("mitdb-ecg")
    assert (len(ds.x_train), len(ds.x_test)) == (5000, 2500)
    assert ds.class_names == ["normal", "anomaly"] and ds.y_train.dtype == np.int64
    assert ds.y_train.sum() == 0, "the training stretch must be normal only"
    flagged = np.flatnonzero(np.concatenate([ds.y_train, ds.y_test]))
    assert (flagged[0], flagged[-1], len(flagged)) == (6936, 7287, 352)
    assert -1 < ds.x_train.min() and ds.x_train.max() < 1.5  # millivolts


def test_mitdb_refuses_a_corrupted_archive(tmp_path, monkeypatch):
    import dlbook.data._sources as sources

    fake = tmp_path / "sktime-1.2.0-py3-none-any.whl"
    fake.write_bytes(b"not the wheel")
    monkeypatch.setattr(sources, "archive_root", lambda: tmp_path)
    with pytest.raises(data.ChecksumError, match="make setup"):
        data.load("mitdb-ecg")


def test_mitdb_says_how_to_get_a_missing_archive(tmp_path, monkeypatch):
    import dlbook.data._sources as sources

    monkeypatch.setattr(sources, "archive_root", lambda: tmp_path)
    with pytest.raises(data.DataUnavailableError, match="make setup"):
        data.load("mitdb-ecg")


def test_read_mitdb_csv_rejects_another_file():
    with pytest.raises(ValueError, match="data,label"):
        read_mitdb_csv(b"a,b\n1,2\n")
