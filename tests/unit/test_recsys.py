"""Recommendation helpers: the time split holds out each user's latest interactions, rankings
never contain seen items, recall@k and NDCG@k match hand-computed values, the baselines rank
co-watched items first, the two-tower model learns a planted preference, and bad input is
refused with the fix."""

import math

import numpy as np
import pandas as pd
import pytest

from dlbook import recsys


def _log():
    return pd.DataFrame({
        "userId": [1, 1, 1, 1, 1, 2, 2, 2, 3],
        "movieId": [10, 11, 12, 13, 14, 10, 12, 15, 10],
        "timestamp": [5, 1, 2, 3, 4, 30, 10, 20, 7],
    })


# --- splits -------------------------------------------------------------------------------------


def test_time_split_holds_out_each_users_latest_interactions():
    train, test = recsys.time_split(_log(), test_fraction=0.4)
    assert sorted(map(tuple, test[["userId", "movieId"]].values)) == [(1, 10), (1, 14), (2, 10)]
    for user, part in test.groupby("userId"):         # nothing in train is later than test
        assert train[train.userId == user].timestamp.max() < part.timestamp.min()
    assert (train.userId == 3).sum() == 1 and 3 not in set(test.userId)   # a lone rating trains
    assert len(train) + len(test) == len(_log())


def test_time_split_breaks_time_ties_by_item_deterministically():
    log = pd.DataFrame({"userId": [1, 1, 1], "movieId": [9, 8, 7], "timestamp": [1, 1, 1]})
    _, test = recsys.time_split(log, test_fraction=0.3)
    assert test.movieId.tolist() == [9]


def test_global_split_puts_the_latest_interactions_in_test():
    train, test = recsys.global_time_split(_log(), test_fraction=1 / 3)
    assert len(test) == 3 and train.timestamp.max() < test.timestamp.min()


def test_splits_refuse_bad_fractions_and_missing_columns():
    with pytest.raises(ValueError, match=r"test_fraction must lie in \(0, 1\)"):
        recsys.time_split(_log(), test_fraction=1.0)
    with pytest.raises(ValueError, match="lack the columns.*user="):
        recsys.time_split(_log().rename(columns={"userId": "u"}))
    with pytest.raises(TypeError, match="DataFrame"):
        recsys.global_time_split([1, 2, 3])


# --- index and matrix ---------------------------------------------------------------------------


def test_index_round_trips_and_names_unknown_ids():
    ix = recsys.Index.build([5, 3, 5], [30, 10, 20])
    assert ix.rows([5, 3]).tolist() == [1, 0] and ix.items[ix.cols([20])].tolist() == [20]
    with pytest.raises(ValueError, match="not in the index.*whole catalogue"):
        ix.cols([99])


def test_interaction_matrix_and_held_out_sets():
    ix = recsys.Index.build([1, 2], [10, 11, 12])
    m = recsys.interaction_matrix(ix, [1, 2, 2, 2], [12, 10, 10, 11])
    assert m.tolist() == [[0, 0, 1], [1, 1, 0]] and m.dtype == np.float32
    sets = recsys.held_out_sets(ix, pd.DataFrame({"userId": [2], "movieId": [12]}))
    assert sets == [set(), {2}]


# --- ranking and metrics ------------------------------------------------------------------------


def test_top_k_never_returns_seen_items_and_orders_best_first():
    rng = np.random.default_rng(0)
    scores, seen = rng.normal(size=(20, 30)), rng.random((20, 30)) < 0.5
    ranked = recsys.top_k(scores, seen, k=5)
    assert not seen[np.arange(20)[:, None], ranked].any()
    picked = np.take_along_axis(scores, ranked, 1)
    assert (np.diff(picked, axis=1) <= 0).all()
    masked = np.where(seen, -np.inf, scores)
    assert np.allclose(picked[:, 0], masked.max(1))


def test_recall_and_ndcg_match_hand_computed_values():
    ranked = [[3, 1, 4, 0], [2, 5, 6, 7], [0, 1, 2, 3]]
    relevant = [{1, 0}, {9}, set()]
    # user 0: hits at ranks 2 and 4; 2 relevant -> recall 2/2
    #   DCG = 1/log2(3) + 1/log2(5), IDCG = 1 + 1/log2(3)
    recall = recsys.recall_at_k(ranked, relevant, k=4)
    ndcg = recsys.ndcg_at_k(ranked, relevant, k=4)
    dcg, idcg = 1 / math.log2(3) + 1 / math.log2(5), 1 + 1 / math.log2(3)
    assert recall[0] == 1.0 and recall[1] == 0.0 and np.isnan(recall[2])
    assert ndcg[0] == pytest.approx(dcg / idcg) and ndcg[1] == 0.0 and np.isnan(ndcg[2])
    # at k=2 only rank 2 is a hit: recall 1/min(2, 2), NDCG (1/log2 3) / (1 + 1/log2 3)
    assert recsys.recall_at_k(ranked, relevant, 2)[0] == 0.5
    assert recsys.ndcg_at_k(ranked, relevant, 2)[0] == pytest.approx((1 / math.log2(3)) / idcg)


def test_recall_divides_by_k_when_more_items_are_held_out_than_fit_the_list():
    assert recsys.recall_at_k([[0, 1]], [{0, 1, 2, 3}], k=2).tolist() == [1.0]


def test_evaluate_averages_over_users_with_held_out_items():
    scores = [[0.9, 0.1, 0.5], [0.2, 0.3, 0.1], [0.0, 0.0, 1.0]]
    seen = [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    out = recsys.evaluate(scores, seen, [{2}, {0}, set()], k=1)
    assert out == {"recall@1": 0.5, "ndcg@1": 0.5, "users": 2}


def test_ranking_input_is_validated():
    with pytest.raises(ValueError, match="matching"):
        recsys.top_k(np.zeros((2, 3)), np.zeros((2, 4)), k=1)
    with pytest.raises(ValueError, match="more than the 3 items"):
        recsys.top_k(np.zeros((1, 3)), np.zeros((1, 3)), k=4)
    with pytest.raises(ValueError, match="NaN"):
        recsys.top_k([[np.nan, 1.0]], [[0, 0]], k=1)
    with pytest.raises(ValueError, match="one per user"):
        recsys.recall_at_k([[0]], [{0}, {1}], k=1)
    with pytest.raises(ValueError, match="positive int"):
        recsys.ndcg_at_k([[0]], [{0}], k=0)


# --- baselines ----------------------------------------------------------------------------------


def _blocks(seed=0):
    """Two taste groups: users 0-9 watch items 0-19, users 10-19 items 20-39, each ~50 %."""
    rng = np.random.default_rng(seed)
    r = np.zeros((20, 40), dtype="float32")
    r[:10, :20] = rng.random((10, 20)) < 0.5
    r[10:, 20:] = rng.random((10, 20)) < 0.5
    return r


def test_popularity_counts_users_per_item():
    assert recsys.popularity_scores([[1, 0], [1, 1]]).tolist() == [[2, 1], [2, 1]]


@pytest.mark.parametrize("method", ["svd", "als"])
def test_matrix_factorisation_recommends_within_the_taste_group(method):
    r = _blocks()
    if method == "svd":
        scores = recsys.pure_svd_scores(r, rank=2)
    else:
        x, y = recsys.implicit_als(r, factors=4, iterations=10, seed=0)
        scores = x @ y.T
    top = recsys.top_k(scores, r, k=3)
    group = np.arange(20)[:, None] // 10
    assert (top // 20 == group).mean() == 1.0


def test_item_basis_matches_numpy_svd_up_to_sign():
    r = _blocks(1)
    vt = recsys.item_basis(r)
    ref = np.linalg.svd(r.astype("float64"))[2][:4]
    assert np.allclose(np.abs(vt[:4] @ ref.T), np.eye(4), atol=1e-6)
    assert np.allclose(recsys.pure_svd_scores(r, 3, basis=vt), recsys.pure_svd_scores(r, 3),
                       atol=1e-5)


def test_baselines_refuse_non_binary_matrices_and_bad_ranks():
    with pytest.raises(ValueError, match="0/1"):
        recsys.popularity_scores([[0.5, 1.0]])
    with pytest.raises(ValueError, match="exceeds"):
        recsys.pure_svd_scores(np.eye(3), rank=4)
    with pytest.raises(ValueError, match="basis must be"):
        recsys.pure_svd_scores(np.eye(3), rank=2, basis=np.eye(2))
    with pytest.raises(ValueError, match="alpha must be a positive"):
        recsys.implicit_als(np.eye(3), alpha=0)


# --- two towers ---------------------------------------------------------------------------------


def test_two_tower_learns_a_planted_taste_split():
    import keras

    keras.utils.set_random_seed(0)
    r = _blocks(2)
    users, items = np.nonzero(r)
    user_tower, item_tower, trainer = recsys.two_tower(20, 40, dim=8, item_counts=r.sum(0),
                                                       temperature=0.2)
    trainer.compile(optimizer=keras.optimizers.Adam(0.02))
    hist = trainer.fit({"user": users.astype("int32"), "item": items.astype("int32")},
                       batch_size=32, epochs=30, shuffle=True, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    u = np.asarray(user_tower(np.arange(20)))
    v = np.asarray(item_tower(np.arange(40)))
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    top = recsys.top_k(u @ v.T, r, k=3)
    assert (top // 20 == np.arange(20)[:, None] // 10).mean() >= 0.9


def test_two_tower_item_features_give_unseen_items_a_vector():
    feats = np.eye(4, dtype="float32")[[0, 0, 1, 1]]
    _, item_tower, _ = recsys.two_tower(3, 4, item_features=feats, dim=4)
    assert item_tower.get_layer("item_features").trainable is False
    assert tuple(item_tower(np.arange(4)).shape) == (4, 4)


def test_two_tower_refuses_mismatched_features_and_counts():
    with pytest.raises(ValueError, match="item_features must be"):
        recsys.two_tower(3, 4, item_features=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="item_counts must be 4"):
        recsys.two_tower(3, 4, item_counts=np.ones(3))
    with pytest.raises(ValueError, match="dim must be a positive int"):
        recsys.two_tower(3, 4, dim=0)
