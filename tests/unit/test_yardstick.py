"""The Part IV yardstick: identical sets score ~0, shifted or narrowed sets score worse, and bad
input is refused with the fix."""

import numpy as np
import pytest

from dlbook import data
from dlbook.yardstick import Yardstick, compare, frechet_distance


@pytest.fixture(scope="module")
def digits():
    return data.load("mnist-5k")


@pytest.fixture(scope="module")
def judge(digits):
    return Yardstick.fit(digits.x_train, digits.y_train, epochs=3)


def test_frechet_distance_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3000, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shifts = [frechet_distance(a, a + s) for s in (0.5, 1.0, 2.0)]
    assert shifts == pytest.approx([8 * 0.25, 8 * 1.0, 8 * 4.0], rel=1e-3)
    # a wider spread (same mean) also counts: 8 x (1 - 2)^2
    assert frechet_distance(a, 2 * a) == pytest.approx(8.0, rel=0.05)


def test_frechet_distance_rejects_mismatched_or_broken_features():
    with pytest.raises(ValueError, match="same d"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3)))


def test_scorer_classifies_held_out_digits(judge, digits):
    assert judge.accuracy(digits.x_test, digits.y_test) > 0.93


def test_real_images_score_far_better_than_noise_blur_and_collapse(judge, digits):
    rng = np.random.default_rng(0)
    real = judge.report(digits.x_train[:500], reference=digits.x_test, train=digits.x_train)
    noise = judge.report(rng.random((500, 28, 28)), reference=digits.x_test,
                         train=digits.x_train)
    ones = digits.x_train[digits.y_train == 1][:300]
    collapsed = judge.report(ones, reference=digits.x_test, train=digits.x_train)
    assert real["frechet"] < 10 < 10 * real["frechet"] < noise["frechet"]
    assert collapsed["frechet"] > 5 * real["frechet"]
    assert real["classes_covered"] == 10 and collapsed["classes_covered"] == 1
    assert collapsed["kl_uniform"] > 2.0 > 0.05 > real["kl_uniform"]
    assert real["recognisable"] > 0.8 > 0.05 > noise["recognisable"]


def test_memorisation_flags_copies_of_training_images(judge, digits):
    copied = judge.memorisation(digits.x_train[:200], digits.x_train, reference=digits.x_test)
    unseen = judge.memorisation(digits.x_test[:200], digits.x_train[:2000],
                                reference=digits.x_test[200:])
    assert copied["copies"] == 1.0 and copied["nn_ratio"] < 1e-3
    assert 0.8 < unseen["nn_ratio"] < 1.2 and unseen["copies"] < 0.15


@pytest.mark.parametrize(("images", "message"), [
    (np.zeros((20, 28, 28, 3)), "grey images"),
    (np.zeros((20, 14, 14)), "resize them"),
    (np.zeros((3, 28, 28)), "at least 10"),
    (np.full((20, 28, 28), np.nan), "NaN"),
    (np.full((20, 28, 28), -1.0), r"\(x \+ 1\) / 2"),
    (np.full((20, 28, 28), 255.0), r"\[0, 1\]"),
    (np.array([["a"] * 28] * 28 * 20).reshape(20, 28, 28), "numeric"),
])
def test_bad_images_are_refused_with_the_fix(judge, images, message):
    with pytest.raises(ValueError, match=message):
        judge.coverage(images)


def test_fit_rejects_labels_that_do_not_match(digits):
    with pytest.raises(ValueError, match="one per image"):
        Yardstick.fit(digits.x_train[:50], digits.y_train[:40])


def test_compare_orders_the_score_columns_and_refuses_non_reports():
    table = compare({"vae": {"copies": 0.1, "frechet": 3.0, "train s": 5},
                     "gan": {"frechet": 2.0, "copies": 0.0, "train s": 9}})
    assert table.columns.tolist() == ["FID-like ↓", "copies", "train s"]
    assert table.loc["gan", "FID-like ↓"] == 2.0
    with pytest.raises(ValueError, match="Yardstick.report"):
        compare({"vae": 3.0})
    with pytest.raises(ValueError, match="at least one"):
        compare({})
