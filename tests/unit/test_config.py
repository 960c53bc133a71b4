import pytest

import dlbook
from dlbook.config import ProfileError, active_profile, pick


@pytest.mark.parametrize("profile, expected", [("test", 1), ("book", 2), ("full", 3)])
def test_pick_returns_the_value_of_the_active_profile(monkeypatch, profile, expected):
    monkeypatch.setenv("DLBOOK_PROFILE", profile)
    assert pick(test=1, book=2, full=3) == expected


def test_pick_full_defaults_to_book(monkeypatch):
    monkeypatch.setenv("DLBOOK_PROFILE", "full")
    assert pick(test=1, book=2) == 2


def test_profile_defaults_to_book(monkeypatch):
    monkeypatch.delenv("DLBOOK_PROFILE", raising=False)
    assert active_profile() == "book"


def test_profile_name_is_case_and_space_tolerant(monkeypatch):
    monkeypatch.setenv("DLBOOK_PROFILE", " Test ")
    assert active_profile() == "test"


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DLBOOK_PROFILE", "quick")
    with pytest.raises(ProfileError, match=r"unknown profile 'quick'.*test, book, full"):
        pick(test=1, book=2)


def test_pick_requires_named_values():
    with pytest.raises(TypeError):
        pick(1, 2)  # type: ignore[misc]


def test_setup_reports_versions_backend_device_profile_and_seed(monkeypatch, capsys):
    monkeypatch.setenv("DLBOOK_PROFILE", "test")
    dlbook.setup(seed=3)
    line = capsys.readouterr().out.strip()
    for part in ("Python", "Keras", "backend", "CPU", "profile test", "seed 3"):
        assert part in line


def test_setup_makes_keras_initialisation_repeatable():
    import keras

    def initial_weights():
        dlbook.setup(seed=7, quiet=True)
        layer = keras.layers.Dense(4)
        layer.build((None, 3))
        return keras.ops.convert_to_numpy(layer.kernel)

    assert (initial_weights() == initial_weights()).all()


def test_setup_seeds_numpy_and_python():
    import random

    import numpy as np

    dlbook.setup(seed=11, quiet=True)
    a = (np.random.rand(), random.random())
    dlbook.setup(seed=11, quiet=True)
    assert (np.random.rand(), random.random()) == a


@pytest.mark.parametrize("seed", [-1, 1.5, "42", True])
def test_setup_rejects_a_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        dlbook.setup(seed=seed, quiet=True)


def test_setup_fails_fast_on_a_bad_profile(monkeypatch):
    monkeypatch.setenv("DLBOOK_PROFILE", "huge")
    with pytest.raises(ProfileError):
        dlbook.setup(seed=0, quiet=True)


def test_importing_dlbook_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, dlbook; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_attribute_of_dlbook_is_an_attribute_error():
    with pytest.raises(AttributeError):
        dlbook.nonexistent  # noqa: B018
