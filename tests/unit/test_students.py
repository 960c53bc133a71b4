import dataclasses

import numpy as np
import pandas as pd
import pytest

from dlbook.data import students


@pytest.fixture(scope="module")
def dom():
    return students.domain(n_skills=5, items_per_skill=6, seed=0)


def test_domain_has_a_prerequisite_tree_and_2pl_items(dom):
    assert dom.n_items == 30 and dom.n_skills == 5
    assert dom.prerequisite[0] == -1
    assert all(0 <= dom.prerequisite[k] < k for k in range(1, 5))
    assert (dom.a > 0).all() and ((dom.guess >= 0) & (dom.guess < 0.5)).all()
    assert list(dom.items().columns) == ["skill", "a", "b", "guess", "slip"]


def test_probabilities_stay_between_guess_and_one_minus_slip(dom):
    low = dom.p_all(np.full((1, 5), -50.0))[0]
    high = dom.p_all(np.full((1, 5), 50.0))[0]
    np.testing.assert_allclose(low, dom.guess, atol=1e-9)
    np.testing.assert_allclose(high, 1 - dom.slip, atol=1e-9)


def test_same_seed_same_log_and_other_seed_differs(dom):
    a = students.simulate(dom, 20, 15, seed=3).answers
    b = students.simulate(dom, 20, 15, seed=3).answers
    c = students.simulate(dom, 20, 15, seed=4).answers
    pd.testing.assert_frame_equal(a, b)
    assert not a.correct.equals(c.correct)


def test_a_student_is_the_same_in_a_small_and_a_large_cohort(dom):
    small = students.Cohort(dom, 3, seed=1)
    large = students.Cohort(dom, 10, seed=1)
    np.testing.assert_array_equal(small.ability, large.ability[:3])
    shifted = students.Cohort(dom, 2, seed=1, first=1)
    np.testing.assert_array_equal(shifted.ability, large.ability[1:3])


def test_practice_raises_only_the_practised_skill_and_forgetting_pulls_back():
    d = students.domain(2, 4, seed=0, forget=0.2)
    c = students.Cohort(d, 1, seed=0)
    start = c.ability.copy()
    c.answer([0])
    gained = c.ability[0, 0] - start[0, 0]
    assert gained > 0 and c.ability[0, 1] == start[0, 1]
    c.answer([1])  # same skill again: forgetting then new learning
    c.answer([5])  # other skill: skill 0 only forgets
    assert c.ability[0, 0] < start[0, 0] + 2 * gained


def test_items_near_the_zone_teach_more_than_far_ones():
    base = students.domain(1, 2, seed=0, forget=0.0)
    theta = students.Cohort(base, 1, seed=0).ability[0, 0]
    d = dataclasses.replace(base, b=np.array([theta - base.zone_shift, theta + 4.0]))
    c = students.Cohort(d, 1, seed=0)
    before = c.ability.copy()
    c.answer([0])
    near = c.ability[0, 0] - before[0, 0]
    c.ability[:] = before
    c.answer([1])
    far = c.ability[0, 0] - before[0, 0]
    assert near > 5 * far > 0


def test_an_unmastered_prerequisite_slows_learning():
    d = students.domain(2, 3, seed=0, forget=0.0)
    gains = []
    for pre in (-3.0, 3.0):
        c = students.Cohort(d, 1, seed=0)
        c.ability[0, 0] = pre
        before = c.ability[0, 1]
        c.answer([3])  # an item of skill 1, whose prerequisite is skill 0
        gains.append(c.ability[0, 1] - before)
    assert gains[0] < 0.1 * gains[1]


def test_group_one_starts_lower_by_the_gap():
    d = students.domain(4, 3, seed=0, group_share=0.5, group_gap=1.0)
    c = students.Cohort(d, 2000, seed=0)
    assert 0.4 < c.group.mean() < 0.6
    gap = c.ability[c.group == 0].mean() - c.ability[c.group == 1].mean()
    assert 0.8 < gap < 1.2


def test_log_has_documented_columns_blocks_and_unlocked_skills(dom):
    log = students.simulate(dom, 30, 25, seed=0)
    a = log.answers
    assert tuple(a.columns) == students.COLUMNS
    assert len(a) == 30 * 25 and len(log.students) == 30
    assert (a.skill == dom.item_skill[a.item]).all()
    first = a[a.step == 0]
    assert (dom.prerequisite[first.skill] == -1).all()  # only skill 0 is open at first
    runs = (a.skill != a.skill.shift()).cumsum()
    assert a.groupby(runs).size().median() >= 3          # practice comes in blocks
    assert a.p_correct.between(0, 1).all()


def test_bad_arguments_name_the_fix(dom):
    with pytest.raises(ValueError, match="guess"):
        students.domain(3, 3, guess=1.5)
    with pytest.raises(ValueError, match="unknown learning parameter"):
        students.domain(3, 3, learnrate=0.1)
    with pytest.raises(TypeError, match="students.domain"):
        students.Cohort("domain", 3)
    with pytest.raises(ValueError, match="one per student"):
        students.Cohort(dom, 2).answer([0])
    with pytest.raises(ValueError, match="item ids"):
        students.Cohort(dom, 1).answer([99])
