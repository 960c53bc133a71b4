"""Knowledge tracing: predict whether a student answers the next question correctly from the
answers so far, and use the prediction to choose the next question.

- :func:`encode` — a log of answers as DKT sequences: one-hot (skill, correct) inputs, the
  next question's skill as the query and its answer as the target (-1 where there is none).
- :func:`dkt` — deep knowledge tracing (Piech et al. 2015): an LSTM over the inputs with one
  sigmoid per skill; :func:`masked_bce` and :class:`MaskedAUC` score only real next answers.
- :func:`next_answers` — the model's probabilities lined up with the log's answers.
- Baselines: :func:`irt_fit` and :func:`irt_online` (a Rasch/1PL model whose item difficulties
  come from training students and whose ability for a new student is re-estimated after every
  answer), :func:`pfa_features` (Performance Factors Analysis, Pavlik et al. 2009: logistic
  regression on per-skill counts of earlier successes and failures).
- Adaptive practice: :func:`run_policy` lets a policy pick each learner's next item, one step at
  a time, on a :class:`dlbook.data.students.Cohort`; :func:`random_policy`,
  :func:`fixed_order_policy` and :func:`target_policy` (the item whose predicted success is
  nearest a target), with :func:`dkt_item_predictor` turning DKT's per-skill predictions into
  per-item ones via :func:`item_offsets`.

>>> import pandas as pd
>>> log = pd.DataFrame({"student": [0, 0, 0], "step": [0, 1, 2], "skill": [1, 0, 1],
...                     "correct": [1, 0, 1]})
>>> seqs = encode(log, n_skills=2)
>>> seqs.inputs.shape, seqs.query.tolist(), seqs.target.tolist()
((1, 3, 4), [[0, 1, 0]], [[0.0, 1.0, -1.0]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "DKT", "ItemLogits", "MaskedAUC", "PolicyRun", "Sequences", "dkt", "dkt_item_predictor", "encode",
    "fixed_order_policy", "irt_fit", "irt_online", "item_offsets", "masked_bce", "next_answers",
    "pfa_features", "random_policy", "report", "run_policy", "target_policy",
]

Predictor = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(items so far (n, t), answers so far (n, t)) -> P(correct) for every item (n, n_items)."""
Policy = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(items so far, answers so far, used (n, n_items) bool) -> the next item of each learner."""


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _answers(log: Any, needed: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(log, pd.DataFrame):
        raise TypeError(f"expected a DataFrame of answers (students.simulate(...).answers), got "
                        f"{type(log).__name__}")
    missing = [c for c in needed if c not in log.columns]
    if missing:
        raise ValueError(f"the answers need columns {list(needed)}; missing {missing}")
    if len(log) == 0:
        raise ValueError("the answers are empty")
    if not set(np.unique(log["correct"])) <= {0, 1}:
        raise ValueError("correct must hold 0/1 answers")
    return log.sort_values(["student", "step"], kind="stable")


# --- sequences for DKT --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sequences:
    """DKT's view of a log, one row per student, padded at the end to the longest history.

    ``inputs`` (n, T, 2 K): at step t the one-hot of ``skill_t + K * correct_t``;
    ``query`` (n, T): the skill of answer t + 1 (0 where there is none); ``target`` (n, T):
    answer t + 1 as 0./1., or -1 where there is none (padding, and each student's last step);
    ``students``: the student ids in row order; ``query_item`` (n, T): the item of answer
    t + 1 when the log has an ``item`` column (else None).
    """

    inputs: np.ndarray
    query: np.ndarray
    target: np.ndarray
    students: np.ndarray
    query_item: np.ndarray | None = None

    @property
    def mask(self) -> np.ndarray:
        return self.target >= 0

    def model_inputs(self, by_item: bool = False) -> list[np.ndarray]:
        """``[inputs, query]`` for :attr:`DKT.train`; ``by_item`` queries items, not skills."""
        if by_item and self.query_item is None:
            raise ValueError("these sequences have no items: encode a log with an 'item' column")
        return [self.inputs, self.query_item if by_item else self.query]


def one_hot_history(skills: np.ndarray, correct: np.ndarray, n_skills: int) -> np.ndarray:
    """One-hot (skill, correct) inputs (n, t, 2 K) from skill and 0/1 answer arrays (n, t)."""
    skills, correct = np.asarray(skills, dtype=int), np.asarray(correct, dtype=int)
    x = np.zeros((*skills.shape, 2 * n_skills), dtype="float32")
    np.put_along_axis(x, (skills + n_skills * correct)[..., None], 1.0, axis=-1)
    return x


def encode(log: pd.DataFrame, n_skills: int) -> Sequences:
    """Turn answers (columns ``student``, ``step``, ``skill``, ``correct``) into DKT sequences.

    >>> log = pd.DataFrame({"student": [3, 3], "step": [0, 1], "skill": [2, 0], "correct": [0, 1]})
    >>> encode(log, n_skills=2)
    Traceback (most recent call last):
        ...
    ValueError: skill ids must lie in 0 .. 1 (n_skills=2), got up to 2
    """
    n_skills = positive_int(n_skills, "n_skills")
    log = _answers(log, ("student", "step", "skill", "correct"))
    if log["skill"].min() < 0 or log["skill"].max() >= n_skills:
        raise ValueError(f"skill ids must lie in 0 .. {n_skills - 1} (n_skills={n_skills}), got "
                         f"up to {log['skill'].max()}")
    ids, pos = np.unique(log["student"].to_numpy(), return_inverse=True)
    step = log.groupby("student").cumcount().to_numpy()
    length = int(step.max()) + 1
    skill = np.zeros((len(ids), length), dtype=int)
    right = np.zeros((len(ids), length), dtype=int)
    valid = np.zeros((len(ids), length), dtype=bool)
    skill[pos, step], right[pos, step], valid[pos, step] = log["skill"], log["correct"], True
    inputs = one_hot_history(skill, right, n_skills) * valid[..., None]
    query = np.zeros_like(skill)
    query[:, :-1] = skill[:, 1:]
    target = np.full(skill.shape, -1.0, dtype="float32")
    nxt = valid[:, 1:]
    target[:, :-1][nxt] = right[:, 1:][nxt]
    query_item = None
    if "item" in log.columns:
        item = np.zeros_like(skill)
        item[pos, step] = log["item"]
        query_item = np.zeros_like(skill)
        query_item[:, :-1] = item[:, 1:]
    return Sequences(inputs=inputs, query=query, target=target, students=ids,
                     query_item=query_item)


def next_answers(seqs: Sequences, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The real next answers and their predicted probabilities, flattened in log order
    (student by student, step 1 onwards): ``(y, p)`` for metrics.

    >>> s = Sequences(np.zeros((1, 3, 2)), np.zeros((1, 3), int), np.array([[1.0, 0.0, -1.0]]),
    ...               np.array([0]))
    >>> next_answers(s, np.array([[0.9, 0.2, 0.5]]))
    (array([1, 0]), array([0.9, 0.2]))
    """
    prob = np.asarray(prob)
    if prob.shape != seqs.target.shape:
        raise ValueError(f"prob must have the targets' shape {seqs.target.shape} (the model's "
                         f"output for [inputs, query]), got {prob.shape}")
    mask = seqs.mask
    return seqs.target[mask].astype(int), prob[mask]


def report(y: np.ndarray, probs: dict[str, np.ndarray], *, bins: int = 10) -> pd.DataFrame:
    """Next-answer metrics per model: ROC AUC, log loss, Brier score and expected calibration
    error (ECE, ``bins`` equal-width bins), one row per entry of ``probs``.

    >>> report(np.array([0, 1, 1, 0]), {"m": np.array([0.2, 0.8, 0.6, 0.4])}).round(3)
       ROC AUC  log loss  Brier  ECE
    m      1.0     0.367    0.1  0.3
    """
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    from dlbook.diagnostics import expected_calibration_error

    y = np.asarray(y)
    rows = {}
    for name, p in probs.items():
        p = np.asarray(p, dtype=float)
        if p.shape != y.shape:
            raise ValueError(f"{name}: {p.shape[0] if p.ndim else 0} probabilities for "
                             f"{len(y)} answers; line them up with next_answers(...)")
        rows[name] = {"ROC AUC": roc_auc_score(y, p), "log loss": log_loss(y, p, labels=[0, 1]),
                      "Brier": brier_score_loss(y, p),
                      "ECE": expected_calibration_error(y, p, bins=bins)}
    return pd.DataFrame(rows).T


# --- the DKT model ------------------------------------------------------------------------------


def masked_bce(y_true: Any, y_pred: Any) -> Any:
    """Binary cross-entropy averaged over the positions whose target is not -1.

    >>> float(masked_bce(np.array([[1.0, -1.0]]), np.array([[0.5, 0.9]])))  # doctest: +ELLIPSIS
    0.693...
    """
    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    y_pred = ops.clip(ops.convert_to_tensor(y_pred, dtype="float32"), 1e-7, 1 - 1e-7)
    mask = ops.cast(y_true >= 0, "float32")
    y = ops.maximum(y_true, 0.0)
    loss = -(y * ops.log(y_pred) + (1 - y) * ops.log(1 - y_pred))
    return ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1.0)


class MaskedAUC(keras.metrics.AUC):
    """ROC AUC over the positions whose target is not -1 (Keras' AUC, masked).

    >>> m = MaskedAUC()
    >>> m.update_state(np.array([[1.0, 0.0, -1.0]]), np.array([[0.8, 0.3, 0.1]]))
    >>> round(float(m.result()), 3)
    1.0
    """

    def __init__(self, name: str = "auc", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true = ops.convert_to_tensor(y_true, dtype="float32")
        mask = ops.cast(y_true >= 0, "float32")
        if sample_weight is not None:
            mask = mask * ops.cast(sample_weight, "float32")
        super().update_state(ops.maximum(y_true, 0.0), y_pred, sample_weight=mask)


class ItemLogits(keras.layers.Layer):
    """Item logits from skill logits: an item's logit is its skill's plus a learned easiness
    (an IRT item parameter). Called with ``query`` (n, T) item ids it returns their logits
    (n, T); without, the logits of every item (n, T, n_items).

    >>> layer = ItemLogits(np.array([0, 0, 1]))
    >>> tuple(layer(np.zeros((2, 5, 2), "float32")).shape)
    (2, 5, 3)
    """

    def __init__(self, item_skill: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item_skill = [int(k) for k in np.asarray(item_skill)]

    def build(self, *args: Any) -> None:
        self.easiness = self.add_weight(shape=(len(self.item_skill),), initializer="zeros",
                                        name="easiness")

    def call(self, logits: Any, query: Any = None) -> Any:
        of_item = ops.convert_to_tensor(self.item_skill, dtype="int32")
        if query is None:
            return ops.take(logits, of_item, axis=-1) + self.easiness
        query = ops.cast(query, "int32")
        skill = ops.take(of_item, query)
        z = ops.take_along_axis(logits, ops.expand_dims(skill, -1), axis=-1)[..., 0]
        return z + ops.take(self.easiness, query)

    def compute_output_shape(self, logits_shape: Any, query_shape: Any = None) -> Any:
        if query_shape is None:
            return (*logits_shape[:-1], len(self.item_skill))
        return tuple(query_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "item_skill": self.item_skill}


@dataclass(frozen=True)
class DKT:
    """The faces of one DKT network (shared weights): ``train`` maps ``[inputs, query]`` to
    P(next answer correct) (n, T); ``skills`` maps ``inputs`` to P(correct) on every skill
    after each step (n, T, K); ``items`` (only with an item bias) to P(correct) on every item
    (n, T, n_items). ``by_item`` says whether ``query`` holds items or skills."""

    train: Any
    skills: Any
    items: Any = None
    by_item: bool = False


def dkt(n_skills: int, *, item_skill: np.ndarray | None = None, hidden: int = 64,
        dropout: float = 0.2, easiness: np.ndarray | None = None) -> DKT:
    """Deep knowledge tracing: LSTM(``hidden``) over one-hot (skill, correct) inputs, dropout,
    and a dense layer with one logit per skill (Piech et al. 2015).

    With ``item_skill`` (the skill of each item) the query is the next *item*, and a learned
    per-item bias is added to its skill's logit: DKT plus an item difficulty, as in IRT.
    ``easiness`` starts that bias from an estimate (e.g. :func:`item_offsets` of the training
    log) instead of zero, which saves epochs; it is trained either way.

    >>> model = dkt(3, hidden=4)
    >>> model.train.output.shape, model.skills.output.shape
    ((None, None), (None, None, 3))
    >>> dkt(2, item_skill=np.array([0, 0, 1]), hidden=4).items.output.shape
    (None, None, 3)
    """
    n_skills = positive_int(n_skills, "n_skills")
    hidden = positive_int(hidden, "hidden")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    inputs = keras.Input((None, 2 * n_skills), name="interactions")
    query = keras.Input((None,), dtype="int32", name="next_item" if item_skill is not None
                        else "next_skill")
    h = keras.layers.LSTM(hidden, return_sequences=True, name="lstm")(inputs)
    h = keras.layers.Dropout(dropout)(h)
    logits = keras.layers.Dense(n_skills, name="per_skill")(h)
    skills = keras.Model(inputs, ops.sigmoid(logits), name="dkt_skills")
    if item_skill is None:
        p_next = ops.sigmoid(ops.take_along_axis(logits, ops.expand_dims(query, -1), axis=-1)[..., 0])
        return DKT(train=keras.Model([inputs, query], p_next, name="dkt"), skills=skills)
    item_skill = np.asarray(item_skill)
    if item_skill.ndim != 1 or item_skill.dtype.kind not in "iu" or item_skill.min() < 0 \
            or item_skill.max() >= n_skills:
        raise ValueError(f"item_skill must be a 1-D array of skill ids in 0 .. {n_skills - 1}, "
                         "one per item (domain.item_skill)")
    per_item = ItemLogits(item_skill, name="item_easiness")
    p_next = ops.sigmoid(per_item(logits, query))
    if easiness is not None:
        easiness = np.asarray(easiness, dtype="float32")
        if easiness.shape != item_skill.shape or not np.isfinite(easiness).all():
            raise ValueError(f"easiness must hold one finite logit per item "
                             f"({item_skill.size}), got shape {easiness.shape}")
        per_item.easiness.assign(easiness)
    return DKT(train=keras.Model([inputs, query], p_next, name="dkt_items"), skills=skills,
               items=keras.Model(inputs, ops.sigmoid(per_item(logits)), name="dkt_all_items"),
               by_item=True)


# --- baselines ----------------------------------------------------------------------------------


def irt_fit(log: pd.DataFrame, n_items: int, *, C: float = 1.0) -> np.ndarray:
    """Rasch (1PL) item difficulties from a log: logistic regression of each answer on student
    and item one-hots, ``logit P = theta_student - b_item`` (Lord 1980), L2-regularised.

    Returns ``b`` (n_items,); items never answered get difficulty 0.

    >>> log = pd.DataFrame({"student": [0, 0, 1, 1], "step": [0, 1, 0, 1],
    ...                     "item": [0, 1, 0, 1], "correct": [1, 0, 1, 1]})
    >>> b = irt_fit(log, n_items=2)
    >>> bool(b[1] > b[0])
    True
    """
    from sklearn.linear_model import LogisticRegression

    n_items = positive_int(n_items, "n_items")
    log = _answers(log, ("student", "item", "correct"))
    _, student = np.unique(log["student"].to_numpy(), return_inverse=True)
    item = log["item"].to_numpy()
    if item.min() < 0 or item.max() >= n_items:
        raise ValueError(f"item ids must lie in 0 .. {n_items - 1}, got up to {item.max()}")
    n = len(log)
    rows = np.r_[np.arange(n), np.arange(n)]
    cols = np.r_[student, student.max() + 1 + item]
    x = sparse.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, student.max() + 1 + n_items))
    y = log["correct"].to_numpy()
    fit = LogisticRegression(C=positive_number(C, "C"), max_iter=2000).fit(x, y)
    easiness = fit.coef_[0, student.max() + 1:] + fit.intercept_[0]
    return -easiness


def irt_online(log: pd.DataFrame, difficulty: np.ndarray, *, prior_sd: float = 1.0,
               iters: int = 8) -> np.ndarray:
    """Rasch predictions for new students: before each answer, the student's ability is the
    MAP estimate (normal prior, sd ``prior_sd``) from its earlier answers, with item
    difficulties fixed; returns P(correct) for every row of ``log`` in its (student, step)
    order. A static-ability model: it re-estimates ability, it does not model learning.

    >>> log = pd.DataFrame({"student": [0, 0, 0], "step": [0, 1, 2], "item": [0, 0, 0],
    ...                     "correct": [1, 1, 1]})
    >>> p = irt_online(log, np.zeros(1))
    >>> float(p[0]), bool(p[2] > p[1] > p[0])
    (0.5, True)
    """
    log = _answers(log, ("student", "step", "item", "correct"))
    difficulty = np.asarray(difficulty, dtype=float)
    prior_sd = positive_number(prior_sd, "prior_sd")
    ids, pos = np.unique(log["student"].to_numpy(), return_inverse=True)
    step = log.groupby("student").cumcount().to_numpy()
    T = int(step.max()) + 1
    b = np.zeros((len(ids), T))
    y = np.zeros((len(ids), T))
    seen = np.zeros((len(ids), T), dtype=bool)
    b[pos, step], y[pos, step], seen[pos, step] = difficulty[log["item"]], log["correct"], True
    earlier = np.tril(np.ones((T, T), dtype=bool), k=-1)[None] & seen[:, None, :]  # (n, t, u<t)
    theta = np.zeros((len(ids), T))
    for _ in range(positive_int(iters, "iters")):
        p = _sigmoid(theta[:, :, None] - b[:, None, :])
        grad = ((y[:, None, :] - p) * earlier).sum(-1) - theta / prior_sd**2
        hess = -(p * (1 - p) * earlier).sum(-1) - 1 / prior_sd**2
        theta = theta - grad / hess
    return _sigmoid(theta - b)[pos, step]


def pfa_features(log: pd.DataFrame, n_skills: int, n_items: int | None = None, *,
                 overall: bool = False) -> sparse.csr_matrix:
    """Performance Factors Analysis features (Pavlik, Cen & Koedinger 2009), one row per answer
    in (student, step) order: for the answer's skill ``k`` an intercept ``beta_k`` and the
    counts of the student's earlier successes ``s_k`` and failures ``f_k`` on ``k``, so that a
    logistic regression fits ``logit P = beta_k + gamma_k s_k + rho_k f_k``. With ``n_items``,
    item one-hots add a difficulty per item; with ``overall``, the counts over all skills
    (a running estimate of general ability) are added too.

    >>> log = pd.DataFrame({"student": [0, 0, 0], "step": [0, 1, 2], "skill": [0, 0, 1],
    ...                     "correct": [1, 0, 1]})
    >>> pfa_features(log, n_skills=2).toarray().astype(int).tolist()
    [[1, 0, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0]]
    """
    n_skills = positive_int(n_skills, "n_skills")
    needed = ("student", "step", "skill", "correct") + (("item",) if n_items is not None else ())
    log = _answers(log, needed)
    k = log["skill"].to_numpy()
    if k.min() < 0 or k.max() >= n_skills:
        raise ValueError(f"skill ids must lie in 0 .. {n_skills - 1}, got up to {k.max()}")
    right = log["correct"].to_numpy()
    keys = [log["student"].to_numpy(), k]
    frame = pd.DataFrame({"s": keys[0], "k": k, "right": right, "wrong": 1 - right})
    succ = frame.groupby(["s", "k"])["right"].cumsum().to_numpy() - right
    fail = frame.groupby(["s", "k"])["wrong"].cumsum().to_numpy() - (1 - right)
    n = len(log)
    rows, cols, vals = [np.arange(n)] * 3, [k, n_skills + k, 2 * n_skills + k], [np.ones(n), succ, fail]
    width = 3 * n_skills
    if overall:
        all_succ = frame.groupby("s")["right"].cumsum().to_numpy() - right
        all_fail = frame.groupby("s")["wrong"].cumsum().to_numpy() - (1 - right)
        rows += [np.arange(n)] * 2
        cols += [np.full(n, width), np.full(n, width + 1)]
        vals += [all_succ, all_fail]
        width += 2
    if n_items is not None:
        n_items = positive_int(n_items, "n_items")
        rows.append(np.arange(n))
        cols.append(width + log["item"].to_numpy())
        vals.append(np.ones(n))
        width += n_items
    return sparse.csr_matrix((np.concatenate(vals).astype(float),
                              (np.concatenate(rows), np.concatenate(cols))), shape=(n, width))


# --- adaptive practice --------------------------------------------------------------------------


def item_offsets(log: pd.DataFrame, item_skill: np.ndarray, *, prior: float = 10.0) -> np.ndarray:
    """How much easier each item is than its skill on average, on the logit scale:
    ``logit(item success rate) - logit(skill success rate)``, the item rate shrunk towards the
    skill's with ``prior`` pseudo-answers. Adds item difficulty to a skill-level model.

    >>> log = pd.DataFrame({"student": [0, 1, 0, 1], "step": [0, 0, 1, 1],
    ...                     "item": [0, 0, 1, 1], "skill": [0, 0, 0, 0], "correct": [1, 1, 0, 0]})
    >>> off = item_offsets(log, np.array([0, 0]), prior=2.0)
    >>> bool(off[0] > 0 > off[1])
    True
    """
    log = _answers(log, ("item", "skill", "correct"))
    item_skill = np.asarray(item_skill)
    prior = positive_number(prior, "prior")
    skill_rate = log.groupby("skill")["correct"].mean().reindex(range(item_skill.max() + 1),
                                                                 fill_value=0.5).to_numpy()
    stats = log.groupby("item")["correct"].agg(["sum", "count"]).reindex(
        range(len(item_skill)), fill_value=0)
    base = skill_rate[item_skill]
    rate = (stats["sum"].to_numpy() + prior * base) / (stats["count"].to_numpy() + prior)
    return _logit(rate) - _logit(base)


def dkt_item_predictor(model: DKT, item_skill: np.ndarray, start: np.ndarray,
                       offsets: np.ndarray | None = None) -> Predictor:
    """A :data:`Predictor` from a trained DKT: P(correct) on every item after the learner's
    history. A DKT with an item bias answers directly; a skill-level DKT's per-skill
    probability is shifted by each item's ``offsets`` (:func:`item_offsets`). Before the
    first answer it returns ``start`` (n_items,), e.g. the items' success rates in the log.

    >>> m = dkt(2, hidden=3)
    >>> pred = dkt_item_predictor(m, np.array([0, 1]), np.array([0.4, 0.6]), np.zeros(2))
    >>> pred(np.zeros((4, 0), int), np.zeros((4, 0), int)).tolist()[0]
    [0.4, 0.6]
    >>> pred(np.zeros((4, 2), int), np.ones((4, 2), int)).shape
    (4, 2)
    """
    item_skill = np.asarray(item_skill)
    n_skills = int(item_skill.max()) + 1
    start = np.asarray(start, dtype=float)
    if start.shape != item_skill.shape:
        raise ValueError(f"start must hold one probability per item ({item_skill.size}), got "
                         f"shape {start.shape}")
    if model.items is None and offsets is None:
        raise ValueError("a skill-level DKT needs item offsets: pass offsets=item_offsets(log, "
                         "item_skill), or build the model with dkt(..., item_skill=...)")

    cell = model.skills.get_layer("lstm").cell
    dense = model.skills.get_layer("per_skill")
    per_item = model.items.get_layer("item_easiness") if model.items is not None else None
    memory: dict[str, Any] = {"seen": -1}

    def step(x: np.ndarray) -> None:  # feed one interaction per learner to the LSTM cell
        h, memory["state"] = cell(ops.convert_to_tensor(x), memory["state"], training=False)
        memory["h"] = h

    def predict(items: np.ndarray, correct: np.ndarray) -> np.ndarray:
        n, t = items.shape
        if t == 0:
            return np.broadcast_to(start, (n, item_skill.size)).copy()
        x = one_hot_history(item_skill[items], correct, n_skills)
        if memory["seen"] != t - 1 or memory.get("n") != n:  # not the next step: start over
            zeros = ops.zeros((n, cell.units))
            memory.update(state=[zeros, zeros], seen=0, n=n)
            for u in range(t - 1):
                step(x[:, u])
        step(x[:, t - 1])
        memory["seen"] = t
        logits = dense(memory["h"])
        if per_item is not None:
            return ops.convert_to_numpy(ops.sigmoid(per_item(logits)))
        p_skill = ops.convert_to_numpy(ops.sigmoid(logits))
        return _sigmoid(_logit(p_skill)[:, item_skill] + offsets)

    return predict


def _pick_unused(score: np.ndarray, used: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """argmin of ``score`` over unused items, ties broken at random."""
    score = np.where(used, np.inf, score + 1e-9 * rng.random(score.shape))
    if np.isinf(score).all(axis=1).any():
        raise ValueError("a learner has used every item; use fewer steps or a larger item bank")
    return score.argmin(axis=1)


def random_policy(n_items: int, *, seed: int = 0) -> Policy:
    """Each learner gets a random item it has not seen yet.

    >>> pick = random_policy(3, seed=0)
    >>> used = np.array([[True, True, False]])
    >>> pick(np.zeros((1, 2), int), np.zeros((1, 2), int), used).tolist()
    [2]
    """
    n_items = positive_int(n_items, "n_items")
    rng = np.random.default_rng(seed)

    def policy(items: np.ndarray, correct: np.ndarray, used: np.ndarray) -> np.ndarray:
        return _pick_unused(rng.random(used.shape), used, rng)

    return policy


def fixed_order_policy(item_skill: np.ndarray, difficulty: np.ndarray, steps: int) -> Policy:
    """A textbook curriculum: the skills in order (0, 1, ...: prerequisites first), the same
    number of items of each, from easy to hard, for every learner alike.

    >>> pick = fixed_order_policy(np.array([0, 0, 1, 1]), np.array([1.0, -1.0, 0.0, 0.5]), 4)
    >>> [int(pick(np.zeros((1, t), int), None, np.zeros((1, 4), bool))[0]) for t in range(4)]
    [1, 0, 2, 3]
    """
    item_skill = np.asarray(item_skill)
    difficulty = np.asarray(difficulty, dtype=float)
    steps = positive_int(steps, "steps")
    n_skills = int(item_skill.max()) + 1
    per = -(-steps // n_skills)
    plan = []
    for k in range(n_skills):
        items = np.flatnonzero(item_skill == k)
        items = items[np.argsort(difficulty[items])]
        take = np.linspace(0, len(items) - 1, min(per, len(items))).round().astype(int)
        plan.extend(items[take])
    plan = np.array(plan)

    def policy(items: np.ndarray, correct: np.ndarray, used: np.ndarray) -> np.ndarray:
        t = items.shape[1]
        return np.full(len(used), plan[t % len(plan)])

    return policy


def target_policy(predict: Predictor, target: float = 0.7, *, seed: int = 0) -> Policy:
    """Pick the unused item whose predicted probability of a correct answer is nearest
    ``target``.

    >>> pick = target_policy(lambda i, c: np.array([[0.2, 0.65, 0.9]]), target=0.7)
    >>> pick(np.zeros((1, 0), int), np.zeros((1, 0), int), np.zeros((1, 3), bool)).tolist()
    [1]
    """
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
        raise ValueError(f"target must be a probability strictly between 0 and 1 (0.7 is "
                         f"usual), got {target!r}")
    rng = np.random.default_rng(seed)

    def policy(items: np.ndarray, correct: np.ndarray, used: np.ndarray) -> np.ndarray:
        return _pick_unused(np.abs(predict(items, correct) - target), used, rng)

    return policy


@dataclass(frozen=True)
class PolicyRun:
    """What happened to a cohort under a policy: ``items`` and ``correct`` (n, steps),
    ``ability`` the true abilities (steps + 1, n, K), ``score`` the post-test (steps + 1, n)
    before the first and after every answer."""

    items: np.ndarray
    correct: np.ndarray
    ability: np.ndarray
    score: np.ndarray


def run_policy(cohort: Any, policy: Policy, steps: int) -> PolicyRun:
    """Let ``policy`` choose ``steps`` items for every learner of ``cohort`` (a
    :class:`dlbook.data.students.Cohort`), one step at a time, and record what happens.

    >>> from dlbook.data import students
    >>> d = students.domain(2, 5, seed=0)
    >>> run = run_policy(students.Cohort(d, n=3, seed=0), random_policy(d.n_items), steps=4)
    >>> run.items.shape, run.score.shape
    ((3, 4), (5, 3))
    """
    steps = positive_int(steps, "steps")
    for needed in ("answer", "ability", "expected_score", "domain"):
        if not hasattr(cohort, needed):
            raise TypeError(f"cohort must be a students.Cohort, got {type(cohort).__name__}")
    n, n_items = len(cohort.ability), cohort.domain.n_items
    if steps > n_items:
        raise ValueError(f"steps ({steps}) exceeds the item bank ({n_items}); items are not repeated")
    items = np.zeros((n, steps), dtype=int)
    correct = np.zeros((n, steps), dtype=int)
    used = np.zeros((n, n_items), dtype=bool)
    ability, score = [cohort.ability.copy()], [cohort.expected_score()]
    for t in range(steps):
        chosen = np.asarray(policy(items[:, :t], correct[:, :t], used))
        items[:, t] = chosen
        used[np.arange(n), chosen] = True
        correct[:, t] = cohort.answer(chosen)
        ability.append(cohort.ability.copy())
        score.append(cohort.expected_score())
    return PolicyRun(items=items, correct=correct, ability=np.array(ability), score=np.array(score))
