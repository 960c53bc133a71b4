"""dlbook's own checkpoints: provenance written on save, and any change to the weights file or
to the code behind them refused on load with the way to remake them."""

import json
import sys
import types

import numpy as np
import pytest

from dlbook import checkpoints
from dlbook.checkpoints import CheckpointError
from dlbook.config import import_keras

keras = import_keras()


def build_tiny():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def train_checkpoint():
    return build_tiny(), {"steps": 0, "data": "none"}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    module = types.ModuleType("dlbook_fake_checkpoint")
    module.CHECKPOINT_CODE = ("build_tiny",)
    module.build_tiny = build_tiny
    module.train_checkpoint = train_checkpoint
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(checkpoints, "REGISTRY", {"tiny": module.__name__})
    monkeypatch.setattr(checkpoints, "DIRECTORY", tmp_path)
    return module


def test_save_then_load_restores_the_weights_and_returns_the_provenance(fake, tmp_path):
    model = build_tiny()
    checkpoints.save(model, "tiny", recipe={"steps": np.int64(7)})
    fresh = build_tiny()
    info = checkpoints.load(fresh, "tiny")
    assert info["recipe"] == {"steps": 7}
    assert info["command"] == "python -m dlbook.checkpoints train tiny"
    assert info["parameters"] == 8
    for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_altered_weights_file_is_refused(fake, tmp_path):
    checkpoints.save(build_tiny(), "tiny", recipe={})
    path = tmp_path / "tiny.weights.h5"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="sha256.*python -m dlbook.checkpoints train tiny"):
        checkpoints.load(build_tiny(), "tiny")


def test_changed_code_makes_the_checkpoint_stale(fake, tmp_path):
    checkpoints.save(build_tiny(), "tiny", recipe={})
    fake.CHECKPOINT_CODE = ("build_tiny", "train_checkpoint")
    with pytest.raises(CheckpointError, match="changed after the checkpoint was made"):
        checkpoints.verify("tiny")


def test_missing_and_unknown_checkpoints_say_what_to_do(fake):
    with pytest.raises(CheckpointError, match="not been made yet.*train tiny"):
        checkpoints.load(build_tiny(), "tiny")
    with pytest.raises(CheckpointError, match="unknown checkpoint 'tinny'; known: \\['tiny'\\]"):
        checkpoints.provenance("tinny")


def test_train_command_makes_a_verifiable_checkpoint(fake, capsys):
    assert checkpoints.main(["train", "tiny"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert checkpoints.main(["verify"]) == 0
    assert "wall_seconds" in checkpoints.provenance("tiny")["recipe"]


@pytest.mark.parametrize("name", sorted(checkpoints.REGISTRY))
def test_committed_checkpoint_matches_its_file_and_the_current_code(name):
    """Re-derives the sha256 and the code hash recorded when the checkpoint was made: edit the
    model's code and this fails until the checkpoint is remade."""
    info = checkpoints.verify(name)
    assert info["name"] == name and info["recipe"]
    assert json.loads((checkpoints.DIRECTORY / f"{name}.json").read_text())["bytes"] < 5e6
