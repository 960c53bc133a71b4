"""Deep RL helpers: the replay buffer overwrites and samples as documented, the DQN update
converges to the Bellman fixed point (terminal and bootstrapped), the target network moves
only when synced, a time limit is not stored as a terminal, the policy gradient raises the
probability of rewarded actions, compiled steps never retrace, runs are reproducible, REINFORCE
beats the random policy on CartPole, and bad input is refused with the fix."""

import gymnasium as gym
import matplotlib
import numpy as np
import pytest

from dlbook import rl

matplotlib.use("Agg")


@pytest.fixture()
def env():
    e = gym.make("CartPole-v1")
    yield e
    e.close()


# --- the replay buffer --------------------------------------------------------------------------


def _filled(capacity=4, n=6, seed=0):
    buf = rl.ReplayBuffer(capacity, obs_dim=2, seed=seed)
    for t in range(n):
        buf.add([t, -t], t % 2, float(t), [t + 1, -t - 1], terminated=t == n - 1)
    return buf


def test_replay_buffer_overwrites_the_oldest_transitions_when_full():
    buf = _filled(capacity=4, n=6)
    assert len(buf) == 4
    assert sorted(buf.obs[:, 0].tolist()) == [2, 3, 4, 5]
    i = int(np.flatnonzero(buf.obs[:, 0] == 5)[0])      # fields stay aligned
    assert buf.rewards[i] == 5 and buf.next_obs[i, 0] == 6 and buf.terminated[i] == 1


def test_replay_buffer_sampling_is_seeded_and_only_draws_stored_items():
    a, b = _filled(seed=3).sample(50), _filled(seed=3).sample(50)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert set(a.obs[:, 0].tolist()) <= {2, 3, 4, 5}
    assert not np.array_equal(a.obs, _filled(seed=4).sample(50).obs)
    partly = _filled(capacity=100, n=3).sample(200)
    assert set(partly.obs[:, 0].tolist()) == {0, 1, 2}       # never the empty slots


def test_replay_buffer_refuses_empty_sampling_and_wrong_shapes():
    with pytest.raises(ValueError, match="empty"):
        rl.ReplayBuffer(5, 2).sample(1)
    with pytest.raises(ValueError, match=r"shape \(2,\).*one observation at a time"):
        rl.ReplayBuffer(5, 2).add(np.zeros((3, 2)), 0, 1.0, np.zeros(2), False)
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        rl.ReplayBuffer(0, 2)


# --- exploration and networks -------------------------------------------------------------------


def test_epsilon_decays_linearly_then_holds_its_floor():
    eps = rl.EpsilonSchedule(start=0.8, end=0.2, decay_steps=10)
    assert [round(eps(t), 3) for t in (0, 5, 10, 11, 10_000)] == [0.8, 0.5, 0.2, 0.2, 0.2]
    with pytest.raises(ValueError, match="must not exceed start"):
        rl.EpsilonSchedule(start=0.1, end=0.5)
    with pytest.raises(ValueError, match=r"start must lie in \[0, 1\]"):
        rl.EpsilonSchedule(start=2.0)


def test_numpy_forward_matches_the_keras_network():
    model = rl.mlp(4, 3, hidden=(16, 8))
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    np.testing.assert_allclose(rl.numpy_forward(model.get_weights(), x), model(x), atol=1e-5)
    with pytest.raises(ValueError, match="sequence of layer widths"):
        rl.mlp(4, 2, hidden=64)


# --- deep Q-learning ----------------------------------------------------------------------------


def _dqn(**kw):
    defaults = dict(hidden=(16,), learning_rate=1e-2, batch_size=8, learning_starts=1,
                    target_sync=1, epsilon=rl.EpsilonSchedule(1.0, 1.0, 1), clipnorm=None,
                    jit_compile=False, seed=0)
    return rl.DQNAgent(2, 2, **(defaults | kw))


def test_dqn_learns_the_bellman_fixed_point_terminal_and_bootstrapped():
    """Action 0 ends the episode with reward 1 (Q = 1); action 1 loops back to the same state
    with reward 1, so Q(s, 1) = 1 + γ·max Q(s, ·) = 1 / (1 - γ) = 2 with γ = 0.5."""
    agent = _dqn(gamma=0.5, train_every=2, gradient_steps=8)
    s = np.array([0.5, -0.5], "float32")
    for t in range(200):
        a = t % 2
        agent.observe(s, a, 1.0, s, terminated=a == 0)
    q = agent.q_values(s[None])[0]
    np.testing.assert_allclose(q, [1.0, 2.0], atol=0.1)
    assert agent.updates == 800 and len(agent.losses) == 800
    assert np.mean(agent.losses[-50:]) < np.mean(agent.losses[:50])


def test_dqn_stores_a_time_limit_as_not_terminal():
    agent = _dqn(learning_starts=100)
    agent.observe(np.zeros(2), 0, 1.0, np.ones(2), terminated=False, truncated=True)
    agent.observe(np.zeros(2), 1, 1.0, np.ones(2), terminated=True, truncated=False)
    assert agent.buffer.terminated[:2].tolist() == [0.0, 1.0]


def test_dqn_target_network_changes_only_when_synced():
    agent = _dqn(target_sync=10)
    before = [w.copy() for w in agent.target.get_weights()]
    s = np.zeros(2, "float32")
    for _ in range(9):
        agent.observe(s, 0, 1.0, s, terminated=True)
    for w, v in zip(before, agent.target.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)
    assert any(not np.array_equal(w, v) for w, v in
               zip(before, agent.q.get_weights(), strict=True))      # the online net moved
    agent.observe(s, 0, 1.0, s, terminated=True)                     # step 10: sync
    for w, v in zip(agent.q.get_weights(), agent.target.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)


def test_dqn_acts_greedily_at_epsilon_zero_and_both_act_paths_agree():
    greedy = _dqn(epsilon=rl.EpsilonSchedule(0.0, 0.0, 1))
    compiled = _dqn(epsilon=rl.EpsilonSchedule(0.0, 0.0, 1), numpy_act=False)
    compiled.set_weights(greedy.get_weights())
    obs = np.random.default_rng(1).normal(size=(40, 2)).astype("float32")
    best = greedy.q_values(obs).argmax(axis=1)
    assert [greedy.act(o) for o in obs] == best.tolist() == [compiled.act(o) for o in obs]
    assert [greedy.policy()(o) for o in obs] == best.tolist()
    exploring = _dqn()                                   # ε = 1: uniform over actions
    picks = [exploring.act(o) for o in obs]
    assert 0 < sum(picks) < len(picks)


def test_dqn_compiled_steps_do_not_retrace_for_new_batch_or_burst_sizes():
    agent = _dqn(train_every=1, gradient_steps=1)
    s = np.zeros(2, "float32")
    agent.observe(s, 0, 1.0, s, terminated=True)
    agent.gradient_steps, agent.batch_size = 3, 5
    agent.observe(s, 0, 1.0, s, terminated=True)
    agent.q_values(np.zeros((1, 2)))
    agent.q_values(np.zeros((7, 2)))
    assert agent._train.experimental_get_tracing_count() == 1
    assert agent._q_values.experimental_get_tracing_count() == 1


def test_dqn_refuses_bad_settings_with_the_fix():
    with pytest.raises(ValueError, match="gamma must lie in"):
        rl.DQNAgent(4, 2, gamma=1.5)
    with pytest.raises(ValueError, match="EpsilonSchedule"):
        rl.DQNAgent(4, 2, epsilon=0.1)
    with pytest.raises(ValueError, match=r"batch shaped \(n, 4\)"):
        rl.DQNAgent(4, 2, hidden=(4,)).q_values(np.zeros(4))


# --- policy gradient ----------------------------------------------------------------------------


def test_discounted_returns_follow_the_recursion():
    g = rl.discounted_returns([1.0, 0.0, 2.0], 0.9)
    np.testing.assert_allclose(g, [1 + 0.9**2 * 2, 0.9 * 2, 2.0], rtol=1e-6)


def test_policy_gradient_raises_the_probability_of_a_rewarded_action():
    agent = rl.ReinforceAgent(3, 2, hidden=(8,), learning_rate=0.05, normalize=False, seed=0)
    s = np.array([0.2, -0.1, 0.3], "float32")
    before = agent.probabilities(s[None])[0, 1]
    for _ in range(20):
        agent.observe(s, 1, 1.0, s, terminated=True)     # action 1 is rewarded ...
        agent.end_episode()
        agent.observe(s, 0, 0.0, s, terminated=True)     # ... action 0 is not
        agent.end_episode()
    after = agent.probabilities(s[None])[0, 1]
    assert after > before + 0.2, (before, after)
    assert agent.policy()(s) == 1
    assert agent._train.experimental_get_tracing_count() == 1


def test_reinforce_update_does_not_retrace_for_episodes_of_new_lengths():
    agent = rl.ReinforceAgent(2, 2, hidden=(4,), seed=0)
    for length in (3, 7, 12):
        for _ in range(length):
            agent.observe(np.zeros(2), 0, 1.0, np.zeros(2), terminated=False)
        agent.end_episode()
    assert agent.updates == 3 and agent._train.experimental_get_tracing_count() == 1


# --- the agent loop -----------------------------------------------------------------------------


def test_random_policy_scores_about_22_on_cartpole(env):
    returns = rl.evaluate(env, rl.random_policy(2, seed=0), episodes=200)
    assert 18 < returns.mean() < 26


def test_training_is_reproducible_for_a_seed(env):
    runs = [rl.train(rl.ReinforceAgent(4, 2, hidden=(8,), seed=5), env, steps=600, seed=5)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].returns, runs[1].returns)
    assert runs[0].ends[-1] >= 600 and np.all(np.diff(runs[0].ends) > 0)


def test_reinforce_beats_the_random_policy_on_cartpole(env):
    agent = rl.ReinforceAgent(4, 2, hidden=(32,), learning_rate=1e-2, seed=0)
    history = rl.train(agent, env, steps=6_000, seed=0, eval_every=2_000, eval_episodes=3)
    assert rl.running_mean(history.returns, 20).max() > 60       # random: about 22
    agent.set_weights(history.best_weights)
    greedy = rl.evaluate(env, agent.policy(), episodes=3, seed=20_000).mean()
    assert greedy == pytest.approx(history.best_score)             # the checkpoint is kept
    assert history.best_score > 60


def test_evaluate_uses_the_given_seeds(env):
    pi = lambda obs: int(obs[2] > 0)                              # noqa: E731
    np.testing.assert_array_equal(rl.evaluate(env, pi, episodes=4, seed=7),
                                  rl.evaluate(env, pi, episodes=4, seed=7))
    assert rl.evaluate(env, pi, episodes=10).mean() > 30      # a hand-made rule beats random


def test_running_mean_averages_a_trailing_window():
    np.testing.assert_allclose(rl.running_mean([3, 1, 2, 6], 3), [3, 2, 2, 3])
    with pytest.raises(ValueError, match="window must be a positive int"):
        rl.running_mean([1.0], 0)


# --- drawing ------------------------------------------------------------------------------------


def test_cartpole_drawing_leans_the_pole_with_the_angle():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    rl.draw_cartpole(ax, [1.0, 0.0, 0.3, 0.0])
    pole = ax.lines[-1].get_xydata()
    assert pole[0, 0] == pytest.approx(1.0) and pole[1, 0] == pytest.approx(1 + np.sin(0.3))
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(x, x_dot, theta, theta_dot\)"):
        rl.draw_cartpole(None, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"\(steps, 4\)"):
        rl.frame_strip(np.zeros((3, 2)))
