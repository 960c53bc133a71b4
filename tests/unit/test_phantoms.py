"""The CT phantom simulator: seeded and reproducible, lesions lie inside soft tissue and are
brighter than it after reconstruction, dose controls the noise, and bad input is refused."""

import numpy as np
import pytest

from dlbook.data import phantoms


def test_same_seed_same_slices_other_seed_other_slices():
    a, b = phantoms.simulate(3, size=32, seed=5), phantoms.simulate(3, size=32, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert not np.array_equal(a.masks, phantoms.simulate(3, size=32, seed=6).masks)


def test_lesions_lie_in_soft_tissue_and_raise_its_attenuation():
    ct = phantoms.simulate(6, size=64, seed=0)
    lo, hi = ct.params["contrast"]
    for clean, mask in zip(ct.clean, ct.masks.astype(bool), strict=True):
        assert mask.any()
        base = phantoms.anatomy(64)            # lesion values = tissue + contrast
        assert clean[mask].min() > phantoms.SOFT_TISSUE[0] + lo - 1e-6
        assert clean[mask].max() < phantoms.SOFT_TISSUE[1] + hi + 1e-6
        assert base.shape == clean.shape


def test_reconstructions_show_lesions_brighter_than_the_brain_around_them():
    ct = phantoms.simulate(20, size=64, seed=1)
    m = ct.masks.astype(bool)
    brain = (ct.clean > 0.15) & (ct.clean < 0.25) & ~m
    assert ct.images[m].mean() > ct.images[brain].mean() + 0.04
    assert 0.003 < m.mean() < 0.05                     # small targets


def test_lower_dose_means_noisier_images():
    def noise(photons):
        ct = phantoms.simulate(4, size=32, photons=photons, seed=2)
        return np.abs(ct.images - np.clip(ct.clean, 0, 1)).mean()

    assert noise(2e3) > noise(2e5)


def test_anatomy_without_rng_is_the_shepp_logan_phantom():
    base = phantoms.anatomy(64)
    assert base.shape == (64, 64) and base.max() == pytest.approx(1.0)
    assert np.isclose(base, 0.2, atol=0.01).mean() > 0.2        # brain is the largest tissue


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n must be a positive int"),
    (dict(n=2, size=40), "multiple of 16"),
    (dict(n=2, lesions=(3, 1)), "fewest <= most"),
    (dict(n=2, radius=(4.0, 1.0)), "low <= high"),
    (dict(n=2, contrast=0.1), "pair"),
    (dict(n=2, photons=0), "photons"),
    (dict(n=2, electronic=-1), "electronic"),
])
def test_bad_input_is_refused_with_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        phantoms.simulate(**kwargs)
