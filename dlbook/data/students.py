"""A seeded simulator of students practising skills in an intelligent tutor: item response
theory for the answers, learning and forgetting for how the abilities move, and a step-by-step
learner for trying out question-selection policies.

No real tutor log ships with this book offline (ASSISTments, the KDD Cup 2010 Cognitive Tutor
data and EdNet must be downloaded under their own terms), so this module *models* one.
What it models:

- **A domain** (:func:`domain`): ``n_skills`` skills, each with ``items_per_skill`` questions
  tagged with exactly one skill. Skill ``k > 0`` has one *prerequisite*, an earlier skill, so
  the skills form a tree rooted at skill 0 (as fractions need division). Later skills are
  harder on average (``skill_difficulty``). Each item has a **2PL** response curve (Lord 1980)
  with discrimination ``a`` (log-normal around 1) and difficulty ``b`` (its skill's difficulty
  plus normal noise), and, as in Bayesian knowledge tracing (Corbett & Anderson 1994), a
  *guess* and a *slip* probability:

  ``P(correct) = guess + (1 - guess - slip) * sigmoid(a * (theta - b))``

  where ``theta`` is the student's current ability on the item's skill.
- **Students** (:class:`Cohort`): a student's starting ability on skill ``k`` is a general
  ability (normal, sd ``general_sd``) plus a skill-specific part (normal, sd ``skill_sd``)
  minus the skill's difficulty offset; students in ``group`` 1 (a share ``group_share``) start
  ``group_gap`` lower on every skill (less prior schooling, not less talent: they learn at
  the same rate). Each student has a learning rate (log-normal around ``learn_rate``).
- **Learning**: answering an item of skill ``k`` (and seeing the correct answer, right or
  wrong) raises ``theta_k`` by ``rate * zone * ready``. ``zone = exp(-(theta - b - zone_shift)^2
  / (2 zone_width^2))`` puts the most learning on items a little *below* the student's
  ability: too easy teaches nothing new, too hard teaches nothing yet (a "zone of proximal
  development"; with the defaults, items answered correctly about 70 % of the time teach most).
  ``ready = sigmoid(2 * (theta_prerequisite - ready_at))`` slows learning of a skill whose
  prerequisite is not yet mastered.
- **Forgetting**: after every answer, every skill's ability decays by a share ``forget`` of
  its gain over the starting ability.
- **The logged tutor** (:func:`simulate`): each student works through blocks of 3-7 items of
  one skill (as in problem sets), the block's skill chosen at random among those whose
  prerequisite has been practised at least once (or skill 0), items drawn at random within it.

:func:`simulate` returns one row per answer: ``student``, ``step`` (0, 1, ...), ``item``,
``skill``, ``correct`` (0/1), ``p_correct`` (the true probability the answer was drawn with)
and ``ability`` (the true ``theta`` on that skill just before answering), and a ``students``
table (``group``, ``learn_rate``, ``general``).

**Parameters** of :func:`domain`: ``n_skills``, ``items_per_skill``, ``seed`` and the keyword
parameters above (``guess``, ``slip`` are the means of per-item values). Of :func:`simulate`:
the domain, ``n_students``, ``n_steps`` (answers per student) and ``seed``; a :class:`Cohort`
takes ``n`` and ``seed``. Every student is drawn from its own random stream (``seed``,
student), so student 7 is the same student in a run of 100 or of 1,000.

**Known simplifications**: one skill per item (real items often need several); ability is one
number per skill, and learning is a smooth deterministic gain (no insight, no misconceptions,
no motivation, fatigue or careless days); guessing and slipping are independent of the
student; forgetting is per answer, not per day, so there is no spacing effect; the log's
tutor picks skills and items at random, not adaptively (a real log's order is decided by the
tutor and the teacher, which confounds what a model learns from it); no hints, attempts,
response times or dropout. A model that does well here has learned *this* process, not
students.

>>> d = domain(n_skills=4, items_per_skill=5, seed=0)
>>> d.n_items, int(d.prerequisite[0])
(20, -1)
>>> log = simulate(d, n_students=3, n_steps=10, seed=1)
>>> log.answers.shape, sorted(log.answers.correct.unique()) in ([0, 1], [0], [1])
((30, 7), True)
>>> c = Cohort(d, n=2, seed=0)
>>> c.answer([0, 5]).shape, c.ability.shape
((2,), (2, 4))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number

__all__ = ["Cohort", "Domain", "StudentLog", "domain", "simulate"]

COLUMNS = ("student", "step", "item", "skill", "correct", "p_correct", "ability")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _unit(value: float, what: str, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{what} must be a number in [0, 1) ({hint}), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Domain:
    """Skills, items and the learning process: everything a student is simulated against.

    Item arrays (``item_skill``, ``a``, ``b``, ``guess``, ``slip``) have one entry per item;
    ``prerequisite[k]`` is skill ``k``'s prerequisite (-1 for skill 0), ``skill_offset[k]``
    how much harder skill ``k`` is than skill 0. The rest are the learning parameters
    described in the module docstring.
    """

    item_skill: np.ndarray
    a: np.ndarray
    b: np.ndarray
    guess: np.ndarray
    slip: np.ndarray
    prerequisite: np.ndarray
    skill_offset: np.ndarray
    learn_rate: float = 0.3
    zone_shift: float = 0.9
    zone_width: float = 1.0
    ready_at: float = -0.5
    forget: float = 0.01
    general_sd: float = 0.8
    skill_sd: float = 0.5
    group_share: float = 0.3
    group_gap: float = 0.7

    @property
    def n_items(self) -> int:
        return int(self.item_skill.size)

    @property
    def n_skills(self) -> int:
        return int(self.prerequisite.size)

    def items(self) -> pd.DataFrame:
        """The item bank as a table: ``skill``, ``a``, ``b``, ``guess``, ``slip``."""
        return pd.DataFrame({"skill": self.item_skill, "a": self.a, "b": self.b,
                             "guess": self.guess, "slip": self.slip})

    def p_correct(self, ability: np.ndarray, items: np.ndarray) -> np.ndarray:
        """True probability of a correct answer to ``items`` (n,) by students of ``ability``
        (n, n_skills)."""
        items = np.asarray(items)
        theta = np.take_along_axis(ability, self.item_skill[items][:, None], axis=1)[:, 0]
        g, s = self.guess[items], self.slip[items]
        return g + (1 - g - s) * _sigmoid(self.a[items] * (theta - self.b[items]))

    def p_all(self, ability: np.ndarray) -> np.ndarray:
        """True probabilities (n, n_items) of answering every item correctly."""
        theta = ability[:, self.item_skill]
        return self.guess + (1 - self.guess - self.slip) * _sigmoid(self.a * (theta - self.b))


def domain(n_skills: int = 8, items_per_skill: int = 20, *, seed: int = 0, guess: float = 0.15,
           slip: float = 0.08, skill_difficulty: float = 0.15, **learning: float) -> Domain:
    """Draw a domain: the prerequisite tree, the items' 2PL parameters, guess and slip.

    ``skill_difficulty`` is how much harder (in ability units) each skill is than the one
    before it; ``learning`` overrides the learning parameters of :class:`Domain`
    (``learn_rate``, ``zone_shift``, ``zone_width``, ``ready_at``, ``forget``, ``general_sd``,
    ``skill_sd``, ``group_share``, ``group_gap``).

    >>> domain(3, 2, seed=0).item_skill.tolist()
    [0, 0, 1, 1, 2, 2]
    >>> domain(3, 2, speed=1.0)
    Traceback (most recent call last):
        ...
    ValueError: unknown learning parameter(s) ['speed']; known: learn_rate, zone_shift, zone_width, ready_at, forget, general_sd, skill_sd, group_share, group_gap
    """
    n_skills = positive_int(n_skills, "n_skills")
    items_per_skill = positive_int(items_per_skill, "items_per_skill")
    guess = _unit(guess, "guess", "the chance of a lucky right answer; 0.25 for four options")
    slip = _unit(slip, "slip", "the chance of a careless wrong answer")
    if guess + slip >= 0.9:
        raise ValueError(f"guess + slip must be below 0.9 for answers to depend on ability, "
                         f"got {guess + slip:.2f}")
    known = ("learn_rate", "zone_shift", "zone_width", "ready_at", "forget", "general_sd",
             "skill_sd", "group_share", "group_gap")
    unknown = sorted(set(learning) - set(known))
    if unknown:
        raise ValueError(f"unknown learning parameter(s) {unknown}; known: {', '.join(known)}")
    for name in ("learn_rate", "zone_width", "general_sd", "skill_sd"):
        if name in learning:
            positive_number(learning[name], name)
    for name in ("forget", "group_share"):
        if name in learning:
            _unit(learning[name], name, "a share")
    rng = np.random.default_rng([seed, 10_007])
    prerequisite = np.array([-1] + [int(rng.integers(max(0, k - 3), k)) for k in range(1, n_skills)])
    offset = skill_difficulty * np.arange(n_skills) + rng.normal(0, 0.15, n_skills)
    offset -= offset[0]
    item_skill = np.repeat(np.arange(n_skills), items_per_skill)
    n = item_skill.size
    return Domain(
        item_skill=item_skill,
        a=rng.lognormal(0.0, 0.25, n),
        b=offset[item_skill] + rng.normal(0.0, 0.9, n),
        guess=np.clip(rng.normal(guess, 0.04, n), 0.0, 0.4) if guess > 0 else np.zeros(n),
        slip=np.clip(rng.normal(slip, 0.03, n), 0.0, 0.3) if slip > 0 else np.zeros(n),
        prerequisite=prerequisite,
        skill_offset=offset,
        **{k: float(v) for k, v in learning.items()},
    )


class Cohort:
    """``n`` simulated students who answer one item each per call, and learn from it.

    ``answer(items)`` draws each student's answer to its item (one per student), applies
    learning and forgetting, and returns the 0/1 answers; ``ability`` is the true current
    ability (n, n_skills), never visible to a tutor in real life. ``expected_score()`` is a
    post-test: each student's expected share of the whole item bank answered correctly.

    >>> d = domain(2, 3, seed=0)
    >>> c = Cohort(d, n=1, seed=0)
    >>> before = c.ability.copy()
    >>> _ = c.answer([1])
    >>> bool(c.ability[0, 0] > before[0, 0]), bool(c.ability[0, 1] == before[0, 1])
    (True, True)
    """

    def __init__(self, domain: Domain, n: int, *, seed: int = 0, first: int = 0) -> None:
        if not isinstance(domain, Domain):
            raise TypeError(f"domain must be a students.Domain (from students.domain(...)), "
                            f"got {type(domain).__name__}")
        self.domain = domain
        n = positive_int(n, "n")
        if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < 0:
            raise ValueError(f"first (the id of the first student) must be an int >= 0, got {first!r}")
        d = domain
        rows = []
        for s in range(first, first + n):  # one stream per student: student s is always the same
            r = np.random.default_rng([seed, s])
            general = r.normal(0.0, d.general_sd)
            group = int(r.random() < d.group_share)
            theta = general + r.normal(0.0, d.skill_sd, d.n_skills) - d.skill_offset - group * d.group_gap
            rate = d.learn_rate * r.lognormal(0.0, 0.3)
            rows.append((theta, group, rate, general, int(r.integers(2**31))))
        self.start = np.array([row[0] for row in rows])
        self.ability = self.start.copy()
        self.group = np.array([row[1] for row in rows])
        self.learn_rate = np.array([row[2] for row in rows])
        self.general = np.array([row[3] for row in rows])
        self._rngs = [np.random.default_rng(row[4]) for row in rows]
        self.steps = 0

    @property
    def n(self) -> int:
        return len(self.ability)

    def p_correct(self, items: Sequence[int] | np.ndarray) -> np.ndarray:
        """True probability that each student answers its item correctly (no side effects)."""
        return self.domain.p_correct(self.ability, self._check(items))

    def _check(self, items: Sequence[int] | np.ndarray) -> np.ndarray:
        items = np.asarray(items)
        if items.shape != (self.n,) or items.dtype.kind not in "iu":
            raise ValueError(f"items must be {self.n} integer item ids, one per student, got "
                             f"shape {items.shape} and dtype {items.dtype}")
        if items.min() < 0 or items.max() >= self.domain.n_items:
            raise ValueError(f"item ids must lie in 0 .. {self.domain.n_items - 1}, got "
                             f"{items.min()} .. {items.max()}")
        return items

    def answer(self, items: Sequence[int] | np.ndarray) -> np.ndarray:
        """Each student answers its item; returns the answers (n,) as 0/1 ints."""
        d = self.domain
        items = self._check(items)
        p = d.p_correct(self.ability, items)
        u = np.array([r.random() for r in self._rngs])
        correct = (u < p).astype(int)
        k = d.item_skill[items]
        rows = np.arange(self.n)
        theta = self.ability[rows, k]
        zone = np.exp(-((theta - d.b[items] - d.zone_shift) ** 2) / (2 * d.zone_width**2))
        pre = d.prerequisite[k]
        ready = np.where(pre < 0, 1.0,
                         _sigmoid(2 * (self.ability[rows, np.maximum(pre, 0)] - d.ready_at)))
        self.ability -= d.forget * (self.ability - self.start)
        self.ability[rows, k] += self.learn_rate * zone * ready
        self.steps += 1
        return correct

    def expected_score(self) -> np.ndarray:
        """Post-test: each student's expected share of all items answered correctly."""
        return self.domain.p_all(self.ability).mean(axis=1)


@dataclass(frozen=True)
class StudentLog:
    """A simulated tutor log: ``answers`` (one row per answer, columns ``COLUMNS``),
    ``students`` (one row per student: ``group``, ``learn_rate``, ``general``) and the domain."""

    answers: pd.DataFrame
    students: pd.DataFrame
    domain: Domain


def _choose(u: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """For each row, the allowed column at position ``floor(u * count)`` among the allowed."""
    count = allowed.sum(axis=1)
    rank = np.minimum((u * count).astype(int), count - 1)
    return (np.cumsum(allowed, axis=1) > rank[:, None]).argmax(axis=1)


def simulate(domain: Domain, n_students: int = 1000, n_steps: int = 50, *, seed: int = 0) -> StudentLog:
    """Simulate a tutor log: ``n_students`` students answer ``n_steps`` items each.

    >>> d = domain(3, 4, seed=0)
    >>> log = simulate(d, n_students=2, n_steps=5, seed=0)
    >>> log.answers.groupby("student").size().tolist()
    [5, 5]
    >>> simulate(d, n_students=0)
    Traceback (most recent call last):
        ...
    ValueError: n_students must be a positive int, got 0
    """
    n_students = positive_int(n_students, "n_students")
    n_steps = positive_int(n_steps, "n_steps")
    d = domain
    cohort = Cohort(d, n_students, seed=seed)
    # the logged tutor's own random numbers, one stream per student: (student, step, 3)
    u = np.stack([np.random.default_rng([seed, s, 1]).random((n_steps, 3)) for s in range(n_students)])
    everyone = np.arange(n_students)
    practised = np.zeros((n_students, d.n_skills), dtype=bool)
    practised_pre = np.zeros((n_students, d.n_skills), dtype=bool)
    skill = np.zeros(n_students, dtype=int)
    left = np.zeros(n_students, dtype=int)
    of_skill = d.item_skill[None, :] == np.arange(d.n_skills)[:, None]  # (K, n_items)
    out = {c: np.zeros((n_steps, n_students)) for c in COLUMNS}
    for t in range(n_steps):
        new = left == 0  # start a block: 3-7 items of one unlocked skill
        unlocked = (d.prerequisite < 0) | practised_pre
        skill[new] = _choose(u[new, t, 0], unlocked[new])
        left[new] = 3 + (u[new, t, 1] * 5).astype(int)
        items = _choose(u[:, t, 2], of_skill[skill])
        out["ability"][t] = cohort.ability[everyone, skill]
        out["p_correct"][t] = cohort.p_correct(items)
        out["correct"][t] = cohort.answer(items)
        out["item"][t], out["skill"][t] = items, skill
        out["student"][t], out["step"][t] = everyone, t
        left -= 1
        practised[everyone, skill] = True
        practised_pre = practised[:, np.maximum(d.prerequisite, 0)]
    answers = pd.DataFrame({c: out[c].T.ravel() for c in COLUMNS})
    for c in ("student", "step", "item", "skill", "correct"):
        answers[c] = answers[c].astype(int)
    students = pd.DataFrame({"group": cohort.group, "learn_rate": cohort.learn_rate,
                             "general": cohort.general})
    return StudentLog(answers=answers, students=students, domain=domain)
