import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dlbook import tracing
from dlbook.data import students


@pytest.fixture(scope="module")
def world():
    d = students.domain(n_skills=4, items_per_skill=8, seed=0)
    return d, students.simulate(d, 200, 20, seed=1)


def test_encode_lines_up_inputs_queries_and_next_answers(world):
    d, log = world
    seqs = tracing.encode(log.answers, d.n_skills)
    assert seqs.inputs.shape == (200, 20, 8)
    a = log.answers[log.answers.student == 5]
    row = seqs.inputs[5]
    assert (row.argmax(-1) == a.skill + d.n_skills * a.correct).all()
    assert (seqs.query[5, :-1] == a.skill.to_numpy()[1:]).all()
    assert (seqs.query_item[5, :-1] == a.item.to_numpy()[1:]).all()
    assert (seqs.target[5, :-1] == a.correct.to_numpy()[1:]).all() and seqs.target[5, -1] == -1


def test_encode_pads_short_histories_and_masks_them():
    log = pd.DataFrame({"student": [0, 0, 0, 1], "step": [0, 1, 2, 0], "skill": [0, 1, 1, 0],
                        "correct": [1, 1, 0, 0]})
    seqs = tracing.encode(log, 2)
    assert seqs.target.tolist() == [[1.0, 0.0, -1.0], [-1.0, -1.0, -1.0]]
    assert seqs.inputs[1, 1:].sum() == 0
    y, p = tracing.next_answers(seqs, np.full((2, 3), 0.3))
    assert y.tolist() == [1, 0] and len(p) == 2


def test_next_answers_follow_the_log_order_from_step_one(world):
    d, log = world
    seqs = tracing.encode(log.answers, d.n_skills)
    y, _ = tracing.next_answers(seqs, np.zeros(seqs.target.shape))
    later = log.answers[log.answers.step >= 1]
    assert (y == later.correct.to_numpy()).all()


def test_masked_loss_and_auc_ignore_padding():
    y = np.array([[1.0, 0.0, -1.0]])
    good = tracing.masked_bce(y, np.array([[0.9, 0.1, 0.9]]))
    padded_wrong = tracing.masked_bce(y, np.array([[0.9, 0.1, 0.0001]]))
    assert float(good) == pytest.approx(float(padded_wrong), rel=1e-6)
    m = tracing.MaskedAUC()
    m.update_state(np.array([[1.0, 0.0, -1.0, -1.0]]), np.array([[0.7, 0.2, 0.9, 0.95]]))
    assert float(m.result()) == pytest.approx(1.0)


def test_dkt_item_head_agrees_with_the_training_output(world):
    d, log = world
    seqs = tracing.encode(log.answers, d.n_skills)
    model = tracing.dkt(d.n_skills, item_skill=d.item_skill, hidden=8)
    layer = model.train.get_layer("item_easiness")
    layer.easiness.assign(np.linspace(-1, 1, d.n_items).astype("float32"))
    p = model.train.predict([seqs.inputs[:3], seqs.query_item[:3]], verbose=0)
    every = model.items.predict(seqs.inputs[:3], verbose=0)
    chosen = np.take_along_axis(every, seqs.query_item[:3, :, None], axis=-1)[..., 0]
    np.testing.assert_allclose(p, chosen, atol=1e-6)


def test_dkt_rejects_item_skills_out_of_range():
    with pytest.raises(ValueError, match="item_skill"):
        tracing.dkt(2, item_skill=np.array([0, 3]))
    with pytest.raises(ValueError, match="dropout"):
        tracing.dkt(2, dropout=1.0)


def test_incremental_predictor_equals_running_the_whole_history(world):
    d, log = world
    model = tracing.dkt(d.n_skills, item_skill=d.item_skill, hidden=8)
    predict = tracing.dkt_item_predictor(model, d.item_skill, np.full(d.n_items, 0.5))
    items = log.answers.item.to_numpy().reshape(200, 20)[:4, :6]
    right = log.answers.correct.to_numpy().reshape(200, 20)[:4, :6]
    for t in range(1, 7):
        step_by_step = predict(items[:, :t], right[:, :t])
    full = model.items.predict(tracing.one_hot_history(d.item_skill[items], right, 4), verbose=0)
    np.testing.assert_allclose(step_by_step, full[:, -1], atol=1e-5)
    with pytest.raises(ValueError, match="item offsets"):
        tracing.dkt_item_predictor(tracing.dkt(4, hidden=2), d.item_skill, np.zeros(d.n_items))


def test_irt_recovers_item_difficulty_order(world):
    d, _ = world
    log = students.simulate(d, 600, 20, seed=2)
    b = tracing.irt_fit(log.answers, d.n_items)
    assert np.corrcoef(b, d.b)[0, 1] > 0.7


def test_online_irt_ability_follows_the_answers():
    log = pd.DataFrame({"student": [0] * 4 + [1] * 4, "step": list(range(4)) * 2,
                        "item": [0] * 8, "correct": [1, 1, 1, 1, 0, 0, 0, 0]})
    p = tracing.irt_online(log, np.zeros(1))
    assert p[0] == p[4] == pytest.approx(0.5)
    assert p[3] > 0.7 and p[7] < 0.3


def test_pfa_counts_only_earlier_answers_on_the_same_skill():
    log = pd.DataFrame({"student": [0, 0, 0, 0, 1], "step": [0, 1, 2, 3, 0],
                        "skill": [0, 1, 0, 0, 0], "correct": [1, 0, 0, 1, 1],
                        "item": [0, 2, 1, 0, 0]})
    x = tracing.pfa_features(log, 2, n_items=3, overall=True).toarray()
    assert x.shape == (5, 3 * 2 + 2 + 3)
    succ, fail = x[:, 2:4], x[:, 4:6]
    assert succ[:, 0].tolist() == [0, 0, 1, 1, 0] and fail[:, 0].tolist() == [0, 0, 0, 1, 0]
    assert x[:, 6].tolist() == [0, 1, 1, 1, 0] and x[:, 7].tolist() == [0, 0, 1, 2, 0]


def test_baselines_beat_chance_on_held_out_students(world):
    from sklearn.linear_model import LogisticRegression

    d, log = world
    test = students.simulate(d, 100, 20, seed=7).answers
    fit = LogisticRegression(max_iter=2000).fit(
        tracing.pfa_features(log.answers, 4, d.n_items), log.answers.correct)
    p = fit.predict_proba(tracing.pfa_features(test, 4, d.n_items))[:, 1]
    assert roc_auc_score(test.correct, p) > 0.6
    b = tracing.irt_fit(log.answers, d.n_items)
    assert roc_auc_score(test.correct, tracing.irt_online(test, b)) > 0.6


def test_item_offsets_mark_easy_and_hard_items(world):
    d, log = world
    off = tracing.item_offsets(log.answers, d.item_skill)
    assert np.corrcoef(off, -d.b)[0, 1] > 0.5


def test_policies_never_repeat_an_item_and_record_the_run(world):
    d, _ = world
    for policy in (tracing.random_policy(d.n_items, seed=0),
                   tracing.target_policy(lambda i, c: np.full((5, d.n_items), 0.7), 0.7)):
        run = tracing.run_policy(students.Cohort(d, 5, seed=0), policy, steps=12)
        assert all(len(set(row)) == 12 for row in run.items)
        assert run.ability.shape == (13, 5, 4) and run.score.shape == (13, 5)


def test_target_policy_picks_the_item_nearest_the_target():
    p = np.array([[0.1, 0.68, 0.95, 0.72]])
    pick = tracing.target_policy(lambda i, c: p, target=0.7)
    used = np.array([[False, True, False, False]])
    assert pick(np.zeros((1, 1), int), np.zeros((1, 1), int), used).tolist() == [3]
    with pytest.raises(ValueError, match="target"):
        tracing.target_policy(lambda i, c: p, target=1.0)


def test_oracle_target_policy_teaches_more_than_random():
    d = students.domain(6, 15, seed=0)
    scores = {}
    for name in ("random", "oracle"):
        c = students.Cohort(d, 200, seed=3)
        policy = (tracing.random_policy(d.n_items) if name == "random" else
                  tracing.target_policy(lambda i, r, c=c: d.p_all(c.ability), 0.7))
        scores[name] = tracing.run_policy(c, policy, 30).score[-1].mean()
    assert scores["oracle"] > scores["random"] + 0.02


def test_fixed_order_goes_through_skills_in_order(world):
    d, _ = world
    policy = tracing.fixed_order_policy(d.item_skill, d.b, steps=8)
    run = tracing.run_policy(students.Cohort(d, 2, seed=0), policy, steps=8)
    assert (d.item_skill[run.items[0]] == [0, 0, 1, 1, 2, 2, 3, 3]).all()
    assert (run.items[0] == run.items[1]).all()


def test_run_policy_refuses_more_steps_than_items(world):
    d, _ = world
    with pytest.raises(ValueError, match="item bank"):
        tracing.run_policy(students.Cohort(d, 1), tracing.random_policy(d.n_items), 99)
    with pytest.raises(TypeError, match="Cohort"):
        tracing.run_policy("learners", tracing.random_policy(d.n_items), 3)


def test_dkt_easiness_starts_from_the_given_estimate_and_is_checked():
    item_skill = np.array([0, 0, 1])
    model = tracing.dkt(2, item_skill=item_skill, hidden=4, easiness=np.array([0.5, -0.5, 1.0]))
    weights = model.train.get_layer("item_easiness").easiness.numpy()
    np.testing.assert_allclose(weights, [0.5, -0.5, 1.0])
    with pytest.raises(ValueError, match="one finite logit per item"):
        tracing.dkt(2, item_skill=item_skill, easiness=np.zeros(2))


def test_report_rejects_misaligned_probabilities():
    with pytest.raises(ValueError, match="next_answers"):
        tracing.report(np.array([0, 1, 1]), {"m": np.array([0.2, 0.8])})
