"""Deep reinforcement learning on small control tasks: a replay buffer, a deep Q-network agent,
a REINFORCE policy-gradient agent, the loop that runs either against a Gymnasium environment,
and a drawing of CartPole frames from the state (no pygame needed).

- :class:`ReplayBuffer` — a NumPy ring buffer of transitions with seeded uniform sampling.
- :class:`EpsilonSchedule` — linear decay of the exploration rate, then a floor.
- :func:`mlp` — the small Keras network both agents use; :func:`numpy_forward` runs it from a
  NumPy copy of its weights, ~50× faster than a Keras call for one observation.
- :class:`DQNAgent` — deep Q-learning (Mnih et al. 2015): ε-greedy acting, replay, a target
  network synced every ``target_sync`` steps, the Huber loss on the Bellman error; training
  (and, optionally, acting) runs as ``tf.function``s with fixed input signatures.
- :class:`ReinforceAgent` — REINFORCE (Williams 1992) with normalised returns as a baseline,
  acting from NumPy weights and training once per episode.
- :func:`train`, :func:`evaluate`, :func:`run_episode`, :func:`random_policy` — the agent loop:
  seeded resets, one return per episode, periodic greedy evaluations, and the best checkpoint
  (its weights) kept, because deep Q-learning often forgets a good policy again.
- :func:`learning_curve` — returns per episode against environment steps, with the random
  policy and the "solved" thresholds drawn in.
- :func:`draw_cartpole`, :func:`frame_strip` — CartPole frames drawn with matplotlib.

Every agent speaks one protocol: ``act(obs) -> action`` while learning, ``observe(obs, action,
reward, next_obs, terminated, truncated)`` after each step, ``end_episode()``, a greedy
``policy()`` for evaluation, and ``get_weights`` / ``set_weights`` for checkpoints. A time
limit (``truncated``) is not a failure: the DQN target bootstraps through it.

>>> import gymnasium as gym
>>> agent = ReinforceAgent(4, 2, hidden=(8,), seed=0)
>>> history = train(agent, gym.make("CartPole-v1"), steps=300, seed=0)
>>> len(history.returns) == len(history.ends), int(history.ends[-1]) >= 300
(True, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from dlbook.checks import positive_int as _positive_int
from dlbook.config import import_keras

keras = import_keras()

__all__ = [
    "Batch", "DQNAgent", "EpsilonSchedule", "History", "ReinforceAgent", "ReplayBuffer",
    "discounted_returns", "draw_cartpole", "evaluate", "frame_strip", "learning_curve", "mlp",
    "numpy_forward", "random_policy", "run_episode", "running_mean", "train",
]

Policy = Callable[[np.ndarray], int]

CARTPOLE_RANDOM_RETURN = 22.0
"""About what a uniformly random policy scores on CartPole-v1 (mean episode length)."""


# --- input checks -------------------------------------------------------------------------------


def _unit_float(value: Any, what: str, *, open_low: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or math.isnan(value) or value < 0 or value > 1 or (open_low and value == 0):
        low = "(0" if open_low else "[0"
        raise ValueError(f"{what} must lie in {low}, 1], got {value!r}")
    return float(value)


def _positive_float(value: Any, what: str) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


def _hidden(hidden: Sequence[int]) -> tuple[int, ...]:
    if isinstance(hidden, (int, np.integer)):
        raise ValueError(f"hidden is a sequence of layer widths, e.g. (64, 64) or ({hidden},)")
    return tuple(_positive_int(h, "each hidden width") for h in hidden)


def _obs(obs: Any, obs_dim: int) -> np.ndarray:
    obs = np.asarray(obs, dtype="float32")
    if obs.shape != (obs_dim,):
        raise ValueError(f"an observation must have shape ({obs_dim},), got {obs.shape}; "
                         f"pass one observation at a time")
    return obs


# --- the replay buffer --------------------------------------------------------------------------


class Batch(NamedTuple):
    """A batch of transitions, each field an array with the batch on axis 0."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray


class ReplayBuffer:
    """A fixed-size ring buffer of transitions ``(s, a, r, s', terminated)`` in NumPy arrays.

    Once full, each new transition overwrites the oldest. :meth:`sample` draws a uniform batch
    with replacement from its own seeded generator, so a run replays the same batches. Replay
    breaks the correlation between consecutive steps and reuses each transition many times
    (Lin 1992; Mnih et al. 2015). Only ``terminated`` is stored: a time limit is not the end
    of the task, so the learner should still bootstrap from ``s'``.

    >>> buf = ReplayBuffer(3, obs_dim=2, seed=0)
    >>> for t in range(5):
    ...     buf.add([t, t], action=t % 2, reward=1.0, next_obs=[t + 1, t + 1], terminated=False)
    >>> len(buf), sorted(buf.obs[:, 0].tolist())   # the oldest two were overwritten
    (3, [2.0, 3.0, 4.0])
    >>> buf.sample(4).obs.shape
    (4, 2)
    """

    def __init__(self, capacity: int, obs_dim: int, *, seed: int | None = None) -> None:
        self.capacity = _positive_int(capacity, "capacity")
        self.obs_dim = _positive_int(obs_dim, "obs_dim")
        self.obs = np.zeros((self.capacity, self.obs_dim), "float32")
        self.next_obs = np.zeros((self.capacity, self.obs_dim), "float32")
        self.actions = np.zeros(self.capacity, "int32")
        self.rewards = np.zeros(self.capacity, "float32")
        self.terminated = np.zeros(self.capacity, "float32")
        self._next = 0
        self._size = 0
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self._size

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool) -> None:
        """Store one transition, overwriting the oldest when the buffer is full."""
        i = self._next
        self.obs[i] = _obs(obs, self.obs_dim)
        self.next_obs[i] = _obs(next_obs, self.obs_dim)
        self.actions[i], self.rewards[i], self.terminated[i] = action, reward, bool(terminated)
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """A uniform random batch (with replacement) of the stored transitions."""
        batch_size = _positive_int(batch_size, "batch_size")
        if self._size == 0:
            raise ValueError("the buffer is empty: add transitions before sampling")
        idx = self._rng.integers(0, self._size, size=batch_size)
        return Batch(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                     self.terminated[idx])


# --- exploration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpsilonSchedule:
    """ε for ε-greedy exploration: ``start`` at step 0, falling linearly to ``end`` at
    ``decay_steps``, and ``end`` from then on.

    >>> eps = EpsilonSchedule(start=1.0, end=0.1, decay_steps=100)
    >>> [round(eps(t), 2) for t in (0, 50, 100, 1000)]
    [1.0, 0.55, 0.1, 0.1]
    """

    start: float = 1.0
    end: float = 0.05
    decay_steps: int = 10_000

    def __post_init__(self) -> None:
        _unit_float(self.start, "start")
        _unit_float(self.end, "end")
        _positive_int(self.decay_steps, "decay_steps")
        if self.end > self.start:
            raise ValueError(f"end ({self.end}) must not exceed start ({self.start}): "
                             "exploration decays")

    def __call__(self, step: int) -> float:
        frac = min(max(step, 0) / self.decay_steps, 1.0)
        return self.start + frac * (self.end - self.start)


# --- networks -----------------------------------------------------------------------------------


def mlp(obs_dim: int, n_outputs: int, hidden: Sequence[int] = (64, 64), *,
        name: str = "mlp", output_scale: float = 1.0) -> keras.Model:
    """A ReLU multilayer perceptron from observations to ``n_outputs`` linear outputs (Q-values
    or action logits). ``output_scale`` shrinks the last layer's initial weights (a policy
    that starts near uniform).

    >>> model = mlp(4, 2, hidden=(8,))
    >>> model.output_shape, model.count_params()
    ((None, 2), 58)
    """
    obs_dim, n_outputs = _positive_int(obs_dim, "obs_dim"), _positive_int(n_outputs, "n_outputs")
    inputs = keras.Input((obs_dim,), name="observation")
    x = inputs
    for i, width in enumerate(_hidden(hidden)):
        x = keras.layers.Dense(width, activation="relu", name=f"hidden_{i + 1}")(x)
    init = keras.initializers.VarianceScaling(_positive_float(output_scale, "output_scale") ** 2)
    outputs = keras.layers.Dense(n_outputs, kernel_initializer=init, name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def numpy_forward(weights: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Run an :func:`mlp` from its weights (``model.get_weights()``) in NumPy: kernels and
    biases in turn, ReLU between layers, linear output. One observation costs microseconds
    where a Keras call costs milliseconds.

    >>> model = mlp(3, 2, hidden=(5,))
    >>> x = np.ones((1, 3), "float32")
    >>> bool(np.allclose(numpy_forward(model.get_weights(), x), model(x), atol=1e-6))
    True
    """
    if len(weights) % 2:
        raise ValueError("weights must alternate kernel, bias (as mlp(...).get_weights() does)")
    for i in range(0, len(weights), 2):
        x = x @ weights[i] + weights[i + 1]
        if i + 2 < len(weights):
            x = np.maximum(x, 0.0)
    return x


# --- deep Q-learning ----------------------------------------------------------------------------


class DQNAgent:
    """Deep Q-learning with experience replay and a target network (Mnih et al. 2015).

    The online network ``q`` estimates :math:`Q(s, a)` for every action at once. Each step the
    agent acts ε-greedily, stores the transition in a :class:`ReplayBuffer` and, every
    ``train_every`` steps after ``learning_starts``, takes ``gradient_steps`` Adam steps on
    random batches towards the Bellman target

    .. math:: y = r + \\gamma\\,(1 - \\text{terminated})\\,\\max_{a'} Q_\\text{target}(s', a'),

    with the Huber loss (quadratic for errors below 1, linear above). ``target_sync`` steps
    apart the target network is overwritten with the online weights. With ``double=True`` the
    online network picks :math:`a'` and the target network scores it (van Hasselt et al. 2016).
    Training runs as one ``tf.function`` per burst of gradient steps, with a fixed input
    signature so batch and burst sizes never retrace; ``jit_compile=True`` compiles it with XLA,
    which takes seconds up front and pays back only over long runs (measured on 2 CPU cores:
    about a third less time per burst for a 256-256 network). The greedy action is a compiled
    ``tf.function`` too; with ``numpy_act`` (the default) the agent acts from a NumPy copy of
    the online weights instead, refreshed after every burst, which is about 50 times faster
    per step than any Keras call.

    >>> agent = DQNAgent(4, 2, hidden=(8,), learning_starts=1, batch_size=2, seed=0)
    >>> a = agent.act(np.zeros(4))                  # exploring: ε starts at 1
    >>> agent.observe(np.zeros(4), a, 1.0, np.ones(4), terminated=False, truncated=False)
    >>> agent.q_values(np.zeros((3, 4))).shape, agent.updates
    ((3, 2), 1)
    """

    def __init__(self, obs_dim: int, n_actions: int, *, hidden: Sequence[int] = (64, 64),
                 learning_rate: float = 1e-3, gamma: float = 0.99, batch_size: int = 64,
                 buffer_size: int = 50_000, learning_starts: int = 1_000,
                 train_every: int = 1, gradient_steps: int = 1, target_sync: int = 500,
                 epsilon: EpsilonSchedule | None = None, double: bool = False,
                 clipnorm: float | None = 10.0, numpy_act: bool = True,
                 jit_compile: bool = False, seed: int = 0) -> None:
        import tensorflow as tf

        self.obs_dim = _positive_int(obs_dim, "obs_dim")
        self.n_actions = _positive_int(n_actions, "n_actions")
        self.gamma = _unit_float(gamma, "gamma")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.learning_starts = _positive_int(learning_starts, "learning_starts")
        self.train_every = _positive_int(train_every, "train_every")
        self.gradient_steps = _positive_int(gradient_steps, "gradient_steps")
        self.target_sync = _positive_int(target_sync, "target_sync")
        self.epsilon = epsilon if epsilon is not None else EpsilonSchedule()
        if not isinstance(self.epsilon, EpsilonSchedule):
            raise ValueError("epsilon must be an EpsilonSchedule, e.g. EpsilonSchedule(1, 0.05, "
                             "10_000)")
        self.double = bool(double)
        self.numpy_act = bool(numpy_act)
        self.buffer = ReplayBuffer(buffer_size, self.obs_dim, seed=seed)
        self._rng = np.random.default_rng(seed)
        keras.utils.set_random_seed(seed)
        self.q = mlp(self.obs_dim, self.n_actions, hidden, name="q_network")
        self.target = mlp(self.obs_dim, self.n_actions, hidden, name="target_network")
        self.sync_target()
        self._weights = self.q.get_weights()
        kwargs = {} if clipnorm is None else {"clipnorm": _positive_float(clipnorm, "clipnorm")}
        self.optimizer = keras.optimizers.Adam(_positive_float(learning_rate, "learning_rate"),
                                               **kwargs)
        self.optimizer.build(self.q.trainable_variables)
        self.loss_fn = keras.losses.Huber(delta=1.0)
        self.steps = 0          # environment steps observed
        self.updates = 0        # gradient steps taken
        self.losses: list[float] = []

        obs_spec = tf.TensorSpec((None, self.obs_dim), tf.float32)
        self._q_values = tf.function(lambda x: self.q(x, training=False),
                                     input_signature=[obs_spec])
        self._greedy = tf.function(lambda x: tf.argmax(self.q(x, training=False), axis=-1,
                                                       output_type=tf.int32),
                                   input_signature=[obs_spec])
        burst_obs = tf.TensorSpec((None, None, self.obs_dim), tf.float32)  # (steps, batch, d)
        burst = tf.TensorSpec((None, None), tf.float32)
        self._train = tf.function(
            self._train_steps, jit_compile=bool(jit_compile),
            input_signature=[burst_obs, tf.TensorSpec((None, None), tf.int32), burst,
                             burst_obs, burst])

    # the compiled steps

    def _loss(self, obs, actions, rewards, next_obs, terminated):
        import tensorflow as tf

        next_target = self.target(next_obs, training=False)
        if self.double:
            best = tf.argmax(self.q(next_obs, training=False), axis=-1, output_type=tf.int32)
            next_value = tf.gather(next_target, best, axis=1, batch_dims=1)
        else:
            next_value = tf.reduce_max(next_target, axis=-1)
        y = tf.stop_gradient(rewards + self.gamma * (1.0 - terminated) * next_value)
        q_taken = tf.gather(self.q(obs, training=True), actions, axis=1, batch_dims=1)
        return self.loss_fn(y, q_taken)

    def _train_steps(self, obs, actions, rewards, next_obs, terminated):
        import tensorflow as tf

        losses = tf.TensorArray(tf.float32, size=tf.shape(obs)[0])
        for i in tf.range(tf.shape(obs)[0]):
            with tf.GradientTape() as tape:
                loss = self._loss(obs[i], actions[i], rewards[i], next_obs[i], terminated[i])
            variables = self.q.trainable_variables
            self.optimizer.apply(tape.gradient(loss, variables), variables)
            losses = losses.write(i, loss)
        return losses.stack()

    # the agent protocol

    def act(self, obs) -> int:
        """An ε-greedy action for one observation, ε from the schedule at the current step."""
        if self._rng.random() < self.epsilon(self.steps):
            return int(self._rng.integers(self.n_actions))
        obs = _obs(obs, self.obs_dim)
        if self.numpy_act:
            return int(np.argmax(numpy_forward(self._weights, obs)))
        return int(self._greedy(obs[None])[0])

    def q_values(self, obs) -> np.ndarray:
        """Q-values ``(n, n_actions)`` of the online network for a batch of observations."""
        obs = np.asarray(obs, dtype="float32")
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must be a batch shaped (n, {self.obs_dim}), got {obs.shape}")
        return self._q_values(obs).numpy()

    def observe(self, obs, action: int, reward: float, next_obs, terminated: bool,
                truncated: bool = False) -> None:
        """Store the transition; train and sync the target network when they are due.
        ``truncated`` is accepted for the protocol but not stored: a time limit is not an end
        of the task, so the target still bootstraps from ``next_obs``."""
        self.buffer.add(obs, action, reward, next_obs, terminated)
        self.steps += 1
        if self.steps >= self.learning_starts and self.steps % self.train_every == 0:
            batches = [self.buffer.sample(self.batch_size) for _ in range(self.gradient_steps)]
            stacked = [np.stack(field) for field in zip(*batches, strict=True)]
            self.losses.extend(self._train(*stacked).numpy().tolist())
            self.updates += self.gradient_steps
            if self.numpy_act:
                self._weights = self.q.get_weights()
        if self.steps % self.target_sync == 0:
            self.sync_target()

    def end_episode(self) -> None:
        """Nothing to do at an episode's end: DQN learns from single transitions."""

    def sync_target(self) -> None:
        """Copy the online network's weights into the target network."""
        self.target.set_weights(self.q.get_weights())

    def policy(self) -> Policy:
        """The greedy policy of the current weights, as a fast NumPy function of one
        observation (a snapshot: later training does not change it)."""
        weights = self.q.get_weights()
        return lambda obs: int(np.argmax(numpy_forward(weights, np.asarray(obs, "float32"))))

    def get_weights(self) -> list[np.ndarray]:
        return self.q.get_weights()

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.q.set_weights(weights)
        self._weights = self.q.get_weights()


# --- policy gradient ----------------------------------------------------------------------------


def discounted_returns(rewards: Sequence[float], gamma: float) -> np.ndarray:
    """The return from every step of an episode, :math:`G_t = r_t + \\gamma G_{t+1}`.

    >>> discounted_returns([1.0, 1.0, 1.0], 0.5).tolist()
    [1.75, 1.5, 1.0]
    """
    gamma = _unit_float(gamma, "gamma")
    out = np.zeros(len(rewards), "float32")
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


class ReinforceAgent:
    """REINFORCE (Williams 1992): a softmax policy network, one update per episode along the
    policy gradient :math:`\\nabla J = \\mathbb{E}[\\sum_t G_t \\nabla \\log \\pi(a_t|s_t)]`.

    The returns of each episode are standardised (mean 0, standard deviation 1) before the
    update: subtracting a baseline leaves the gradient unbiased and cuts its variance a lot.
    Acting samples from the policy computed in NumPy from a copy of the weights, refreshed
    after each update; the update is a ``tf.function`` over a whole episode of any length.

    >>> agent = ReinforceAgent(4, 2, hidden=(8,), seed=0)
    >>> probs = agent.probabilities(np.zeros((1, 4)))
    >>> probs.shape, bool(np.allclose(probs.sum(), 1))
    ((1, 2), True)
    """

    def __init__(self, obs_dim: int, n_actions: int, *, hidden: Sequence[int] = (32,),
                 learning_rate: float = 1e-2, gamma: float = 0.99, normalize: bool = True,
                 seed: int = 0) -> None:
        import tensorflow as tf

        self.obs_dim = _positive_int(obs_dim, "obs_dim")
        self.n_actions = _positive_int(n_actions, "n_actions")
        self.gamma = _unit_float(gamma, "gamma")
        self.normalize = bool(normalize)
        self._rng = np.random.default_rng(seed)
        keras.utils.set_random_seed(seed)
        self.pi = mlp(self.obs_dim, self.n_actions, hidden, name="policy_network",
                      output_scale=0.1)
        self.optimizer = keras.optimizers.Adam(_positive_float(learning_rate, "learning_rate"))
        self.optimizer.build(self.pi.trainable_variables)
        self._weights = self.pi.get_weights()
        self._episode: list[tuple[np.ndarray, int, float]] = []
        self.steps = 0
        self.updates = 0
        self.losses: list[float] = []
        self._train = tf.function(self._train_step, input_signature=[
            tf.TensorSpec((None, self.obs_dim), tf.float32), tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((None,), tf.float32)])

    def _train_step(self, obs, actions, weights):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            logp = tf.nn.log_softmax(self.pi(obs, training=True))
            taken = tf.gather(logp, actions, axis=1, batch_dims=1)
            loss = -tf.reduce_sum(taken * weights) / tf.cast(tf.shape(obs)[0], tf.float32)
        variables = self.pi.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def probabilities(self, obs) -> np.ndarray:
        """Action probabilities ``(n, n_actions)`` for a batch of observations."""
        logits = numpy_forward(self._weights, np.asarray(obs, dtype="float32"))
        z = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)

    def act(self, obs) -> int:
        """Sample an action from the current policy."""
        p = self.probabilities(_obs(obs, self.obs_dim)[None])[0]
        return int(min(np.searchsorted(np.cumsum(p), self._rng.random()), self.n_actions - 1))

    def observe(self, obs, action: int, reward: float, next_obs, terminated: bool,
                truncated: bool = False) -> None:
        """Remember the step; learning waits for the end of the episode."""
        self._episode.append((np.asarray(obs, "float32"), int(action), float(reward)))
        self.steps += 1

    def end_episode(self) -> None:
        """One gradient step on the episode just finished, then refresh the acting weights."""
        if not self._episode:
            return
        obs, actions, rewards = zip(*self._episode, strict=True)
        g = discounted_returns(rewards, self.gamma)
        if self.normalize and len(g) > 1:
            g = (g - g.mean()) / (g.std() + 1e-8)
        loss = self._train(np.stack(obs), np.asarray(actions, "int32"), g.astype("float32"))
        self.losses.append(float(loss))
        self.updates += 1
        self._episode = []
        self._weights = self.pi.get_weights()

    def policy(self) -> Policy:
        """The greedy policy (the most probable action) of the current weights, in NumPy."""
        weights = [w.copy() for w in self._weights]
        return lambda obs: int(np.argmax(numpy_forward(weights, np.asarray(obs, "float32"))))

    def get_weights(self) -> list[np.ndarray]:
        return self.pi.get_weights()

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.pi.set_weights(weights)
        self._weights = self.pi.get_weights()


# --- the agent loop -----------------------------------------------------------------------------


def random_policy(n_actions: int, *, seed: int = 0) -> Policy:
    """A policy that ignores the observation and picks uniformly: the baseline to beat.

    >>> pi = random_policy(2, seed=0)
    >>> sorted({pi(None) for _ in range(20)})
    [0, 1]
    """
    n_actions = _positive_int(n_actions, "n_actions")
    rng = np.random.default_rng(seed)
    return lambda obs: int(rng.integers(n_actions))


def run_episode(env, policy: Policy, *, seed: int | None = None,
                record: bool = False) -> tuple[float, np.ndarray | None]:
    """Play one episode with ``policy``; return its total reward and, with ``record``, the
    observations ``(steps + 1, obs_dim)`` from the reset to the last state.

    >>> import gymnasium as gym
    >>> ret, states = run_episode(gym.make("CartPole-v1"), lambda obs: 0, seed=0, record=True)
    >>> ret, states.shape
    (11.0, (12, 4))
    """
    obs, _ = env.reset(seed=seed)
    total, states, done = 0.0, [obs], False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total += float(reward)
        done = terminated or truncated
        if record:
            states.append(obs)
    return total, (np.asarray(states, "float32") if record else None)


def evaluate(env, policy: Policy, *, episodes: int = 20, seed: int = 10_000) -> np.ndarray:
    """The return of each of ``episodes`` episodes with ``policy``, reset with the seeds
    ``seed, seed + 1, ...`` (keep them apart from the training seeds).

    >>> import gymnasium as gym
    >>> evaluate(gym.make("CartPole-v1"), lambda obs: int(obs[2] > 0), episodes=3).shape
    (3,)
    """
    episodes = _positive_int(episodes, "episodes")
    return np.array([run_episode(env, policy, seed=seed + i)[0] for i in range(episodes)])


def running_mean(x: Sequence[float], window: int) -> np.ndarray:
    """The mean of each value and up to ``window - 1`` before it (shorter at the start).

    >>> running_mean([0, 2, 4, 6], 2).tolist()
    [0.0, 1.0, 3.0, 5.0]
    """
    window = _positive_int(window, "window")
    x = np.asarray(x, dtype="float64")
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


@dataclass
class History:
    """What :func:`train` records: per-episode returns and the step at which each ended, the
    greedy evaluations ``(step, mean return)``, and the best evaluated checkpoint."""

    returns: np.ndarray
    ends: np.ndarray
    evals: list[tuple[int, float]] = field(default_factory=list)
    best_weights: list[np.ndarray] | None = None
    best_score: float = -math.inf
    best_step: int = 0
    seconds: float = 0.0

    @property
    def steps_per_second(self) -> float:
        return float(self.ends[-1] / self.seconds) if len(self.ends) and self.seconds else 0.0


def train(agent, env, *, steps: int, seed: int = 0, eval_every: int | None = None,
          eval_episodes: int = 5, eval_seed: int = 20_000) -> History:
    """Let ``agent`` learn for ``steps`` environment steps (finishing the last episode).

    Episode ``i`` is reset with seed ``seed + i``, so a run is reproducible. Every
    ``eval_every`` steps (checked at episode ends) the agent's greedy :meth:`policy` plays
    ``eval_episodes`` episodes from fixed seeds; the weights with the best mean so far are
    kept as ``best_weights`` (load them with ``agent.set_weights``).

    >>> import gymnasium as gym
    >>> agent = DQNAgent(4, 2, hidden=(8,), learning_starts=50, seed=0)
    >>> h = train(agent, gym.make("CartPole-v1"), steps=200, eval_every=100, eval_episodes=2)
    >>> int(h.ends[-1]) >= 200, len(h.evals), h.best_weights is not None
    (True, 2, True)
    """
    steps = _positive_int(steps, "steps")
    if eval_every is not None:
        eval_every = _positive_int(eval_every, "eval_every")
    eval_episodes = _positive_int(eval_episodes, "eval_episodes")
    history = History(returns=np.zeros(0), ends=np.zeros(0, "int64"))
    returns, ends, t, episode = [], [], 0, 0
    next_eval = eval_every
    start = time.perf_counter()
    env.action_space.seed(seed)
    while t < steps:
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(obs, action, reward, next_obs, terminated, truncated)
            total += float(reward)
            obs, t, done = next_obs, t + 1, terminated or truncated
        agent.end_episode()
        returns.append(total)
        ends.append(t)
        episode += 1
        if next_eval is not None and (t >= next_eval or t >= steps):
            score = float(evaluate(env, agent.policy(), episodes=eval_episodes,
                                   seed=eval_seed).mean())
            history.evals.append((t, score))
            if score > history.best_score:
                history.best_score, history.best_step = score, t
                history.best_weights = agent.get_weights()
            while next_eval <= t:
                next_eval += eval_every
    history.seconds = time.perf_counter() - start
    history.returns = np.asarray(returns)
    history.ends = np.asarray(ends)
    return history


def learning_curve(history: History, *, ax=None, label: str = "agent", window: int = 20,
                   random_return: float | None = None,
                   thresholds: Sequence[float] = (195.0, 475.0), color: str = "tab:blue"):
    """Plot the return of every episode (faint dots) and its running mean over ``window``
    episodes against environment steps, the greedy evaluations (if any), a dashed line at the
    random policy's return and dotted lines at ``thresholds`` (CartPole's v0 and v1 "solved"
    levels by default). Returns the axis.

    >>> import matplotlib.pyplot as plt
    >>> h = History(returns=np.array([10.0, 30.0, 60.0]), ends=np.array([10, 40, 100]))
    >>> ax = learning_curve(h, random_return=22.0)
    >>> ax.get_xlabel()
    'environment steps'
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    if len(history.returns) == 0:
        raise ValueError("the history holds no episodes: train for at least one")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    ax.plot(history.ends, history.returns, ".", ms=2, alpha=0.3, color=color)
    ax.plot(history.ends, running_mean(history.returns, window), color=color,
            label=f"{label}: mean of last {window} episodes")
    if history.evals:
        steps, scores = zip(*history.evals, strict=True)
        ax.plot(steps, scores, "o", ms=4, mfc="none", color=color,
                label=f"{label}: greedy evaluation")
    if random_return is not None:
        ax.axhline(random_return, color="0.4", ls="--", lw=1,
                   label=f"random policy ({random_return:.0f})")
    for level in thresholds:
        ax.axhline(level, color="tab:green", ls=":", lw=1)
        ax.text(history.ends[-1], level, f" {level:.0f}", va="bottom", ha="right",
                color="tab:green", fontsize=8)
    ax.set(xlabel="environment steps", ylabel="return (steps balanced)", ylim=(0, 520))
    return ax


# --- drawing CartPole ---------------------------------------------------------------------------


def draw_cartpole(ax, state, *, x_limit: float = 2.4, pole_length: float = 1.0,
                  title: str | None = None):
    """Draw CartPole in ``state = (x, ẋ, θ, θ̇)`` on a matplotlib axis: the track, the cart at
    ``x`` and the pole at angle ``θ`` from vertical (positive leans right), as Gymnasium's
    own renderer does (which needs pygame). Returns the axis.

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = draw_cartpole(ax, [0.5, 0.0, 0.1, 0.0])
    >>> len(ax.patches), len(ax.lines)
    (1, 3)
    >>> plt.close(fig)
    """
    import matplotlib.patches as mpatches

    state = np.asarray(state, dtype="float64")
    if state.shape != (4,):
        raise ValueError(f"a CartPole state is (x, x_dot, theta, theta_dot), got shape "
                         f"{state.shape}")
    x, theta = state[0], state[2]
    cart_w, cart_h = 0.5, 0.3
    ax.plot([-x_limit - 0.3, x_limit + 0.3], [0, 0], color="0.3", lw=1)
    ax.plot([-x_limit, -x_limit, None, x_limit, x_limit], [-0.1, 0.1, None, -0.1, 0.1],
            color="tab:red", lw=1)
    ax.add_patch(mpatches.Rectangle((x - cart_w / 2, 0), cart_w, cart_h, color="0.2"))
    top = cart_h
    tip = (x + pole_length * np.sin(theta), top + pole_length * np.cos(theta))
    ax.plot([x, tip[0]], [top, tip[1]], color="tab:orange", lw=4, solid_capstyle="round")
    ax.set(xlim=(-x_limit - 0.3, x_limit + 0.3), ylim=(-0.2, top + pole_length + 0.1),
           aspect="equal", xticks=[], yticks=[])
    if title:
        ax.set_title(title, fontsize=8)
    return ax


def frame_strip(states: np.ndarray, *, frames: int = 8, axes=None, label: str = ""):
    """Draw ``frames`` evenly spaced states of one episode (the last included) side by side.
    Pass a row of axes, or get a new figure. Returns the axes.

    >>> import matplotlib.pyplot as plt
    >>> axes = frame_strip(np.zeros((30, 4)), frames=3)
    >>> len(axes)
    3
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    states = np.asarray(states)
    if states.ndim != 2 or states.shape[1] != 4 or len(states) == 0:
        raise ValueError(f"states must be (steps, 4) CartPole states, got shape {states.shape}")
    frames = _positive_int(frames, "frames")
    if axes is None:
        _, axes = plt.subplots(1, frames, figsize=(1.7 * frames, 1.6), layout="constrained")
    axes = np.atleast_1d(axes)
    picks = np.unique(np.linspace(0, len(states) - 1, len(axes)).round().astype(int))
    for ax in axes:
        ax.set_axis_off()
    for ax, t in zip(axes, picks, strict=False):
        ax.set_axis_on()
        draw_cartpole(ax, states[t], title=f"{label}step {t}")
    return axes
