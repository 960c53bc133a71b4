"""Top-k recommendation from implicit feedback: a time-based split, ranking metrics that leave
out what a user has already seen, the two classical baselines (popularity and matrix
factorisation) and a Keras two-tower retrieval model trained with an in-batch softmax.

- :func:`time_split` — each user's latest interactions are the test part (a per-user cut-off);
  :func:`global_time_split` — one date for everybody, which makes most test users new.
- :class:`Index` and :func:`interaction_matrix` — ids to rows/columns, and the 0/1 user × item
  matrix of the training interactions.
- :func:`top_k` ranks items per user with the seen ones masked out; :func:`recall_at_k` and
  :func:`ndcg_at_k` score one ranking per user against the held-out items; :func:`evaluate`
  does both for a whole score matrix.
- :func:`popularity_scores`, :func:`pure_svd_scores` (truncated SVD, Cremonesi et al. 2010)
  and :func:`implicit_als` (weighted ALS, Hu, Koren & Volinsky 2008): the baselines.
- :func:`two_tower` — user and item embedding towers (the item tower can read item features
  such as genres) whose dot product is trained with the in-batch sampled softmax and the
  log-Q correction of Yi et al. (2019).

>>> ranked = top_k(np.array([[0.9, 0.8, 0.1, 0.5]]), seen=np.array([[1, 0, 0, 0]]), k=2)
>>> ranked.tolist()                      # item 0 was seen, so it is never recommended
[[1, 3]]
>>> float(recall_at_k(ranked, [{3, 2}], k=2)[0]), round(float(ndcg_at_k(ranked, [{3}], 2)[0]), 3)
(0.5, 0.631)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras

_ONE_THREAD = {"limits": 1, "user_api": "blas"}
"""The matrices here are small: extra BLAS threads only contend (10x slower on a busy CPU)."""

__all__ = [
    "Index", "evaluate", "global_time_split", "implicit_als", "interaction_matrix", "item_basis",
    "ndcg_at_k", "popularity_scores", "pure_svd_scores", "recall_at_k", "held_out_sets",
    "time_split", "top_k", "two_tower",
]


# --- splits -------------------------------------------------------------------------------------


def _check_columns(frame: Any, columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"pass a pandas DataFrame of interactions, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the interactions lack the columns {missing}; name them with user=, item=, time= "
            f"(the frame has {list(frame.columns)})"
        )


def time_split(
    frame: pd.DataFrame, *, test_fraction: float = 0.2, user: str = "userId",
    item: str = "movieId", time: str = "timestamp",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each user's interactions at a per-user cut-off in time: the latest
    ``test_fraction`` of them (rounded, at least one) are the test part, the rest train. Ties in
    time are broken by the item id, so the split is deterministic. A user with a single
    interaction keeps it in train (there is nothing to learn from otherwise).

    >>> f = pd.DataFrame({"userId": [1, 1, 1, 1, 2, 2], "movieId": [5, 6, 7, 8, 5, 9],
    ...                   "timestamp": [4, 1, 2, 3, 9, 8]})
    >>> train, test = time_split(f, test_fraction=0.25)
    >>> test[["userId", "movieId"]].values.tolist()     # each user's latest
    [[1, 5], [2, 5]]
    """
    _check_columns(frame, (user, item, time))
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    ordered = frame.sort_values([user, time, item], kind="stable")
    size = ordered.groupby(user)[item].transform("size").to_numpy()
    rank = ordered.groupby(user).cumcount().to_numpy()            # 0 = oldest
    n_test = np.where(size > 1, np.maximum(1, np.round(test_fraction * size)), 0)
    is_test = rank >= size - n_test
    return ordered[~is_test].reset_index(drop=True), ordered[is_test].reset_index(drop=True)


def global_time_split(
    frame: pd.DataFrame, *, test_fraction: float = 0.2, time: str = "timestamp",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split at one date for everybody: the latest ``test_fraction`` of all interactions test.
    Realistic for a live system, but on a long log most test users then arrive after the cut-off
    and have no training history (cold-start users).

    >>> f = pd.DataFrame({"timestamp": [3, 1, 4, 2, 5]})
    >>> [len(part) for part in global_time_split(f, test_fraction=0.4)]
    [3, 2]
    """
    _check_columns(frame, (time,))
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    ordered = frame.sort_values(time, kind="stable")
    n_train = len(ordered) - int(round(test_fraction * len(ordered)))
    return ordered.iloc[:n_train].reset_index(drop=True), ordered.iloc[n_train:].reset_index(drop=True)


# --- ids and matrices ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    """Maps user and item ids to contiguous rows and columns (and back).

    >>> ix = Index.build(users=[7, 3, 7], items=[10, 20, 10])
    >>> ix.n_users, ix.n_items, ix.rows([3, 7]).tolist(), int(ix.items[1])
    (2, 2, [0, 1], 20)
    """

    users: np.ndarray
    items: np.ndarray

    @classmethod
    def build(cls, users: Any, items: Any) -> Index:
        return cls(np.unique(np.asarray(users)), np.unique(np.asarray(items)))

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @staticmethod
    def _lookup(known: np.ndarray, ids: Any, what: str) -> np.ndarray:
        ids = np.asarray(ids)
        pos = np.searchsorted(known, ids)
        pos = np.clip(pos, 0, len(known) - 1)
        bad = known[pos] != ids
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} {what} ids are not in the index (e.g. {ids[bad][0]!r}); build "
                "the Index from every id you will look up (all users, the whole catalogue)"
            )
        return pos

    def rows(self, user_ids: Any) -> np.ndarray:
        return self._lookup(self.users, user_ids, "user")

    def cols(self, item_ids: Any) -> np.ndarray:
        return self._lookup(self.items, item_ids, "item")


def interaction_matrix(index: Index, user_ids: Any, item_ids: Any) -> np.ndarray:
    """The dense 0/1 ``(n_users, n_items)`` float32 matrix of who interacted with what
    (repeats count once).

    >>> ix = Index.build([1, 2], [5, 6, 7])
    >>> interaction_matrix(ix, [1, 1, 2], [7, 7, 5]).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    matrix = np.zeros((index.n_users, index.n_items), dtype="float32")
    matrix[index.rows(user_ids), index.cols(item_ids)] = 1.0
    return matrix


def held_out_sets(index: Index, test: pd.DataFrame, *, user: str = "userId",
              item: str = "movieId") -> list[set[int]]:
    """For every user row of ``index``, the set of item columns in the test part (empty for a
    user with no test interactions)."""
    _check_columns(test, (user, item))
    sets: list[set[int]] = [set() for _ in range(index.n_users)]
    for r, c in zip(index.rows(test[user]), index.cols(test[item]), strict=True):
        sets[r].add(int(c))
    return sets


# --- ranking and metrics ------------------------------------------------------------------------


def top_k(scores: Any, seen: Any, k: int) -> np.ndarray:
    """The ``k`` best-scored item columns per user, best first, never an item marked in
    ``seen`` (a 0/1 or boolean matrix of the same shape, e.g. the training interactions).

    >>> top_k([[0.1, 0.3, 0.2]], [[0, 1, 0]], k=2).tolist()
    [[2, 0]]
    """
    k = positive_int(k, "k")
    s = np.array(scores, dtype="float64")
    mask = np.asarray(seen).astype(bool)
    if s.ndim != 2 or mask.shape != s.shape:
        raise ValueError(f"scores {s.shape} and seen {mask.shape} must be matching (users, items) "
                         "matrices")
    if k > s.shape[1]:
        raise ValueError(f"k={k} is more than the {s.shape[1]} items there are")
    if np.isnan(s).any():
        raise ValueError("scores hold NaN values: check the model that made them")
    s[mask] = -np.inf
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _hits(ranked: Any, relevant: Sequence[set[int]], k: int) -> tuple[np.ndarray, np.ndarray]:
    k = positive_int(k, "k")
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or ranked.shape[1] < k:
        raise ValueError(f"ranked must be (users, >= k={k}) item columns, got {ranked.shape}")
    if len(relevant) != len(ranked):
        raise ValueError(f"{len(ranked)} rankings but {len(relevant)} relevant sets; pass one per user")
    users = np.repeat(np.arange(len(ranked)), [len(rel) for rel in relevant])
    items = np.fromiter((c for rel in relevant for c in rel), dtype="int64", count=len(users))
    width = int(max(ranked.max(initial=0), items.max(initial=0))) + 1
    member = np.zeros((len(ranked), width), dtype=bool)
    member[users, items] = True
    hits = np.take_along_axis(member, ranked[:, :k], axis=1).astype("float64")
    n_rel = np.array([len(rel) for rel in relevant], dtype="float64")
    return hits, n_rel


def recall_at_k(ranked: Any, relevant: Sequence[set[int]], k: int) -> np.ndarray:
    """Per user: held-out items among the top ``k``, divided by ``min(k, |relevant|)`` so that
    a perfect ranking scores 1 (Liang et al. 2018); NaN for a user with nothing held out.

    >>> recall_at_k([[4, 2, 9]], [{2, 7}], k=3).tolist()
    [0.5]
    """
    hits, n_rel = _hits(ranked, relevant, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, hits.sum(1) / np.minimum(k, n_rel), np.nan)


def ndcg_at_k(ranked: Any, relevant: Sequence[set[int]], k: int) -> np.ndarray:
    """Per user: normalised discounted cumulative gain with binary relevance, a hit at rank
    ``i`` (1-based) worth ``1 / log2(i + 1)``, divided by the best achievable; NaN for a user
    with nothing held out.

    >>> round(float(ndcg_at_k([[4, 2, 9]], [{2}], k=3)[0]), 4)    # 1/log2(3)
    0.6309
    """
    hits, n_rel = _hits(ranked, relevant, k)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discount
    ideal = np.array([discount[: int(min(k, n))].sum() for n in n_rel])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, dcg / ideal, np.nan)


def evaluate(scores: Any, seen: Any, relevant: Sequence[set[int]], k: int = 10) -> dict[str, float]:
    """Mean recall@k and NDCG@k over the users with held-out items, ranking with ``seen``
    masked out.

    >>> evaluate([[0.9, 0.5, 0.1]], [[1, 0, 0]], [{1}], k=1)
    {'recall@1': 1.0, 'ndcg@1': 1.0, 'users': 1}
    """
    ranked = top_k(scores, seen, k)
    recall, ndcg = recall_at_k(ranked, relevant, k), ndcg_at_k(ranked, relevant, k)
    users = ~np.isnan(recall)
    if not users.any():
        raise ValueError("no user has held-out items; check the test split")
    return {f"recall@{k}": float(recall[users].mean()), f"ndcg@{k}": float(ndcg[users].mean()),
            "users": int(users.sum())}


# --- baselines ----------------------------------------------------------------------------------


def _matrix(train: Any) -> np.ndarray:
    r = np.asarray(train, dtype="float32")
    if r.ndim != 2 or not np.isin(r, (0.0, 1.0)).all():
        raise ValueError("train must be a 0/1 (users, items) matrix; build it with interaction_matrix")
    return r


def popularity_scores(train: Any) -> np.ndarray:
    """Every user gets the same scores: how many users interacted with each item in training.

    >>> popularity_scores([[1, 0, 1], [0, 0, 1]]).tolist()
    [[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]]
    """
    r = _matrix(train)
    return np.broadcast_to(r.sum(0), r.shape).copy()


def item_basis(train: Any) -> np.ndarray:
    """The right singular vectors of the interaction matrix, strongest first, as rows
    ``(min(users, items), items)``, from the eigenvectors of the smaller Gram matrix (fast for
    few users and many items; a zero singular value gives a zero row): compute them once and pass them to
    :func:`pure_svd_scores` to try several ranks.

    >>> item_basis([[1, 0], [1, 1], [0, 1]]).shape
    (2, 2)
    """
    from scipy import sparse

    r = sparse.csr_matrix(_matrix(train).astype("float64"))
    small = r.shape[0] <= r.shape[1]
    gram = (r @ r.T if small else r.T @ r).toarray()        # eigenvectors: U (or V)
    with threadpool_limits(**_ONE_THREAD):
        eigval, eigvec = np.linalg.eigh(gram)
    keep = np.argsort(-eigval)[: min(r.shape)]
    sing = np.sqrt(np.clip(eigval[keep], 0, None))
    if not small:
        return eigvec[:, keep].T
    vt = (r.T @ eigvec[:, keep]).T / np.where(sing > 1e-9, sing, np.inf)[:, None]
    return np.asarray(vt)


def pure_svd_scores(train: Any, rank: int, *, basis: np.ndarray | None = None) -> np.ndarray:
    """PureSVD (Cremonesi et al. 2010): project each user's 0/1 row onto the top ``rank`` right
    singular vectors ``V_r`` of the interaction matrix, scores ``R V_r V_r^T``; unobserved
    entries count as zeros. ``basis`` is :func:`item_basis` of the same matrix, if at hand.

    >>> s = pure_svd_scores([[1, 1, 0], [1, 1, 0], [0, 0, 1]], rank=1)
    >>> bool(s[0, 1] > s[0, 2])
    True
    """
    r = _matrix(train)
    rank = positive_int(rank, "rank")
    if rank > min(r.shape):
        raise ValueError(f"rank={rank} exceeds min(users, items) = {min(r.shape)}")
    vt = item_basis(r) if basis is None else np.asarray(basis)
    if vt.ndim != 2 or vt.shape[1] != r.shape[1] or len(vt) < rank:
        raise ValueError(f"basis must be item_basis(train), shape (>= {rank}, {r.shape[1]}), "
                         f"got {vt.shape}")
    v = vt[:rank].T.astype("float32")
    with threadpool_limits(**_ONE_THREAD):
        return (r @ v) @ v.T


def implicit_als(
    train: Any, factors: int = 64, *, reg: float = 1.0, alpha: float = 10.0,
    iterations: int = 10, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008): fit
    ``p_ui ≈ x_u · y_i`` to the preference ``p = R`` with confidence ``1 + alpha R`` and an L2
    penalty ``reg``, by alternating exact least squares. Vectorised for a dense matrix (all
    users' or items' normal equations are built at once), which suits a few thousand users.
    Returns the user factors ``X`` and item factors ``Y``; scores are ``X @ Y.T``.

    >>> x, y = implicit_als([[1, 1, 0], [1, 1, 0], [0, 0, 1]], factors=2, iterations=5)
    >>> s = x @ y.T
    >>> bool(s[0, 1] > s[0, 2]) and bool(s[2, 2] > s[2, 0])
    True
    """
    r = _matrix(train).astype("float64")
    factors = positive_int(factors, "factors")
    iterations = positive_int(iterations, "iterations")
    reg = positive_number(reg, "reg", hint="the L2 penalty on the factors")
    alpha = positive_number(alpha, "alpha", hint="extra confidence in an observed interaction")
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.01, (r.shape[0], factors))
    y = rng.normal(0, 0.01, (r.shape[1], factors))
    eye = reg * np.eye(factors)

    from scipy import sparse

    r_sparse = sparse.csr_matrix(r)
    rt_sparse = sparse.csr_matrix(r.T)

    def solve(fixed: np.ndarray, pref: Any) -> np.ndarray:
        # rows of pref (sparse 0/1): entities to solve for; cols: the fixed side. c - 1 = alpha p.
        gram = fixed.T @ fixed + eye                                  # (f, f), shared
        outer = np.einsum("jf,jg->jfg", fixed, fixed).reshape(len(fixed), -1)
        a = gram + alpha * np.asarray(pref @ outer).reshape(-1, factors, factors)
        b = (1 + alpha) * np.asarray(pref @ fixed)                               # C p, p in {0, 1}
        return np.linalg.solve(a, b[..., None])[..., 0]

    for _ in range(iterations):
        x = solve(y, r_sparse)
        y = solve(x, rt_sparse)
    return x.astype("float32"), y.astype("float32")


# --- the two-tower model ------------------------------------------------------------------------


@functools.cache
def _in_batch_softmax() -> type:
    """The loss layer, defined on first use so that importing this module (as the dataset
    registry does) does not import Keras."""
    keras = import_keras()

    class InBatchSoftmax(keras.layers.Layer):
        """Scores every user of a batch against every item of the batch, ``u · v / T``, minus
        ``log q(item)`` (the log-Q correction for the item's sampling probability), and adds the
        softmax cross-entropy of each user's own item as the loss. Outputs the logits."""

        def __init__(self, log_q: np.ndarray, temperature: float = 0.1, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.temperature = positive_number(temperature, "temperature")
            self.log_q = keras.ops.convert_to_tensor(np.asarray(log_q, dtype="float32"))

        def call(self, user_vec, item_vec, item_id):
            ops = keras.ops
            logits = ops.matmul(user_vec, ops.transpose(item_vec)) / self.temperature
            logits = logits - ops.take(self.log_q, item_id)[None, :]
            labels = ops.arange(ops.shape(logits)[0])
            loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            self.add_loss(ops.mean(loss))
            return logits

    return InBatchSoftmax


def two_tower(
    n_users: int, n_items: int, *, item_features: np.ndarray | None = None, dim: int = 32,
    item_counts: np.ndarray | None = None, temperature: float = 0.1, l2: float = 0.0,
) -> tuple[Any, Any, Any]:
    """A two-tower retrieval model: returns ``(user_tower, item_tower, trainer)``.

    - ``user_tower``: user row -> L2-normalised ``dim`` vector (an id embedding).
    - ``item_tower``: item column -> L2-normalised ``dim`` vector: an id embedding plus, when
      ``item_features`` (``(n_items, f)``, e.g. multi-hot genres) is given, a linear map of the
      item's features, so an item never seen in training still gets a vector from its features.
    - ``trainer``: takes ``{"user", "item"}`` batches of observed pairs; the other items of the
      batch are each user's negatives (in-batch sampled softmax). ``item_counts`` (training
      interactions per item) turn on the log-Q correction, without which popular items, being
      sampled as negatives more often, are pushed down. Compile it with an optimiser only.

    >>> user, item, trainer = two_tower(5, 7, dim=4)
    >>> tuple(user(np.array([0, 1])).shape), tuple(item(np.array([3])).shape)
    ((2, 4), (1, 4))
    """
    keras = import_keras()
    n_users, n_items = positive_int(n_users, "n_users"), positive_int(n_items, "n_items")
    dim = positive_int(dim, "dim")
    reg = keras.regularizers.L2(l2) if l2 else None
    init = keras.initializers.RandomNormal(stddev=0.05)
    u_in = keras.Input((), dtype="int32", name="user")
    u = keras.layers.Embedding(n_users, dim, embeddings_initializer=init,
                               embeddings_regularizer=reg, name="user_id")(u_in)
    u = keras.layers.UnitNormalization(name="user_vec")(u)
    user_tower = keras.Model(u_in, u, name="user_tower")

    i_in = keras.Input((), dtype="int32", name="item")
    v = keras.layers.Embedding(n_items, dim, embeddings_initializer=init,
                               embeddings_regularizer=reg, name="item_id")(i_in)
    if item_features is not None:
        feats = np.asarray(item_features, dtype="float32")
        if feats.ndim != 2 or len(feats) != n_items:
            raise ValueError(f"item_features must be (n_items={n_items}, f), got {feats.shape}")
        table = keras.layers.Embedding(n_items, feats.shape[1], trainable=False,
                                       embeddings_initializer=keras.initializers.Constant(feats),
                                       name="item_features")(i_in)
        v = keras.layers.Add()([v, keras.layers.Dense(dim, use_bias=False, name="features_map")(table)])
    v = keras.layers.UnitNormalization(name="item_vec")(v)
    item_tower = keras.Model(i_in, v, name="item_tower")

    if item_counts is None:
        log_q = np.zeros(n_items, dtype="float32")
    else:
        counts = np.asarray(item_counts, dtype="float64")
        if counts.shape != (n_items,) or (counts < 0).any():
            raise ValueError(f"item_counts must be {n_items} non-negative counts, got {counts.shape}")
        log_q = np.log((counts + 1) / (counts + 1).sum())
    logits = _in_batch_softmax()(log_q, temperature, name="in_batch_softmax")(
        user_tower(u_in), item_tower(i_in), i_in)
    trainer = keras.Model({"user": u_in, "item": i_in}, logits, name="two_tower")
    return user_tower, item_tower, trainer
