"""Restricted Boltzmann machines trained with contrastive divergence, and deep belief networks
built from them by greedy layer-wise pretraining.

An RBM has a layer of binary *visible* units ``v`` (the pixels) and a layer of binary *hidden*
units ``h``, every visible unit connected to every hidden unit and no connections inside a
layer. It gives each joint state an energy ``E(v, h) = -b·v - c·h - vᵀWh`` and the probability
``p(v, h) = exp(-E(v, h)) / Z``. With no connections inside a layer, each layer is independent
given the other: ``p(h_j = 1 | v) = σ(c_j + vᵀW_{:j})`` and ``p(v_i = 1 | h) = σ(b_i + W_{i:}h)``,
so a Gibbs sampler alternates between the two layers in two matrix products.

- :class:`RBM` — a ``keras.Model`` whose ``train_step`` is CD-k (Hinton, 2002) or persistent
  CD (Tieleman, 2008), written with TensorFlow ops; ``fit`` reports the reconstruction error
  and the mean free energy. It also computes free energies, exact log-likelihoods of tiny
  RBMs (:meth:`RBM.exact_log_partition`), features, reconstructions and Gibbs samples.
- :func:`train_rbm` — build, initialise from the data, compile and fit in one call.
- :func:`binarize` — turn grey images into the 0/1 data a Bernoulli RBM models.
- :func:`greedy_pretrain`, :func:`dbn_classifier`, :func:`mlp_classifier` — a deep belief
  network (Hinton, Osindero and Teh, 2006): a stack of RBMs, each trained on the hidden
  activities of the one below, turned into a Keras classifier initialised from their weights,
  and the same network with random weights for comparison.

Data are ``(n, n_visible)`` arrays in [0, 1] (images ``(n, height, width)`` are flattened);
by default they must be binary.

>>> x = binarize(np.random.default_rng(0).random((64, 12)))
>>> rbm = RBM(12, 4, k=1, seed=0)
>>> rbm.compile(optimizer=keras.optimizers.SGD(0.1))
>>> sorted(rbm.fit(x, epochs=2, batch_size=16, verbose=0).history)
['free_energy', 'reconstruction_error']
>>> rbm.transform(x).shape, rbm.reconstruct(x).shape
((64, 4), (64, 12))
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from dlbook.checks import positive_int as _positive_int
from dlbook.checks import unit_batch
from dlbook.config import import_keras

keras = import_keras()
import tensorflow as tf  # noqa: E402  (after import_keras: no C-level start-up noise)

__all__ = [
    "RBM", "binarize", "dbn_classifier", "fine_tune", "greedy_pretrain", "mlp_classifier",
    "train_rbm",
]

MAX_EXACT_UNITS = 22
"""The largest layer :meth:`RBM.exact_log_partition` enumerates (2**22 ≈ 4 million states)."""


# --- input checks -------------------------------------------------------------------------------


def _data(x, *, binary: bool = True, n_visible: int | None = None,
          what: str = "data") -> np.ndarray:
    """Validate RBM data; return it as ``(n, n_visible)`` float32."""
    x = unit_batch(x, what, hint="divide 8-bit images by 255, then binarize(x)")
    x = x.reshape(len(x), -1)                           # images: one row of pixels each
    if n_visible is not None and x.shape[1] != n_visible:
        raise ValueError(f"{what} has {x.shape[1]} values per example but the RBM has "
                         f"{n_visible} visible units")
    if binary and not np.isin(x, (0.0, 1.0)).all():
        raise ValueError(f"{what} must be binary (0 or 1) for Bernoulli visible units; "
                         "binarise it with rbm.binarize(x), or pass binary=False to treat "
                         "values in [0, 1] as probabilities")
    return x


def binarize(x, threshold: float = 0.5, *, sample: bool = False, seed: int = 0) -> np.ndarray:
    """Grey values in [0, 1] to 0/1 (float32, same shape): ``x > threshold``, or with
    ``sample=True`` each value becomes 1 with probability equal to itself.

    >>> binarize(np.array([[0.1, 0.5, 0.9]])).tolist()
    [[0.0, 0.0, 1.0]]
    >>> float(binarize(np.full((1, 10_000), 0.3), sample=True).mean()).__round__(2)
    0.3
    """
    grey = np.asarray(x, dtype="float32")
    if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 1:
        raise ValueError("binarize expects finite values in [0, 1]; divide 8-bit images by 255")
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold!r}")
    if sample:
        return (np.random.default_rng(seed).random(grey.shape) < grey).astype("float32")
    return (grey > threshold).astype("float32")


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _logsumexp(a: np.ndarray) -> float:
    top = float(np.max(a))
    return top + float(np.log(np.sum(np.exp(a - top))))


# --- the RBM ------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="dlbook")
class RBM(keras.Model):
    """A Bernoulli–Bernoulli restricted Boltzmann machine trained by contrastive divergence.

    ``k`` is the number of Gibbs steps in the negative phase (CD-k). With ``persistent=True``
    the negative phase continues ``n_chains`` Markov chains kept from one step to the next
    instead of restarting them at the data (PCD, what scikit-learn's ``BernoulliRBM`` uses).
    ``binary=False`` lets :meth:`fit` accept data in [0, 1] as probabilities (the upper layers
    of a deep belief network). Weights start small and random (std ``init_scale``), biases at 0;
    :meth:`init_visible_bias` sets ``b`` to the data's log-odds (Hinton, 2010, §8).

    Compile with an optimizer (plain SGD with momentum is the classical choice) and ``fit(x)``:
    each step computes the CD estimate of the log-likelihood gradient and hands its negative to
    the optimizer. ``call(v)`` returns the hidden probabilities ``p(h = 1 | v)``: the features.

    >>> rbm = RBM(6, 3, seed=0)
    >>> v = np.array([[1, 0, 1, 0, 1, 1]], "float32")
    >>> bool(np.allclose(rbm.free_energy(v), -np.log(np.exp(-rbm.energy(v, rbm.all_states(3)))
    ...                                                     .sum())))
    True
    """

    def __init__(self, n_visible: int, n_hidden: int, *, k: int = 1, persistent: bool = False,
                 n_chains: int = 100, binary: bool = True, init_scale: float = 0.01,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.n_visible = _positive_int(n_visible, "n_visible")
        self.n_hidden = _positive_int(n_hidden, "n_hidden")
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k (Gibbs steps per update) must be an int >= 1, got {k!r}; CD-1 "
                             "(k=1) is the usual choice")
        self.k = int(k)
        self.persistent = bool(persistent)
        self.n_chains = _positive_int(n_chains, "n_chains")
        self.binary = bool(binary)
        if not isinstance(init_scale, (int, float)) or init_scale < 0:
            raise ValueError(f"init_scale must be a standard deviation >= 0, got {init_scale!r}")
        self.init_scale, self.seed = float(init_scale), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.W = self.add_weight(
            shape=(self.n_visible, self.n_hidden), name="W",
            initializer=keras.initializers.RandomNormal(stddev=self.init_scale, seed=seed))
        self.b = self.add_weight(shape=(self.n_visible,), initializer="zeros", name="b")
        self.c = self.add_weight(shape=(self.n_hidden,), initializer="zeros", name="c")
        self.chains = self.add_weight(
            shape=(self.n_chains if self.persistent else 1, self.n_visible), trainable=False,
            initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=seed), name="chains")
        self.recon_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.energy_tracker = keras.metrics.Mean(name="free_energy")
        self.built = True                      # every weight exists already

    # --- the conditionals, in TensorFlow ops ---

    def hidden_given(self, v):
        """``p(h_j = 1 | v) = σ(c_j + Σ_i v_i W_ij)`` for a batch ``v``, as a tensor."""
        return tf.sigmoid(tf.matmul(v, self.W) + self.c)

    def visible_given(self, h):
        """``p(v_i = 1 | h) = σ(b_i + Σ_j W_ij h_j)`` for a batch ``h``, as a tensor."""
        return tf.sigmoid(tf.matmul(h, self.W, transpose_b=True) + self.b)

    def _bernoulli(self, p):
        return tf.cast(keras.random.uniform(tf.shape(p), seed=self.seed_generator) < p, p.dtype)

    def sample_hidden(self, v):
        """``(p(h = 1 | v), h)``: the probabilities and one binary draw from them (tensors),
        using the model's seed generator."""
        p = self.hidden_given(v)
        return p, self._bernoulli(p)

    def sample_visible(self, h):
        """``(p(v = 1 | h), v)``: the probabilities and one binary draw from them."""
        p = self.visible_given(h)
        return p, self._bernoulli(p)

    def _free_energy(self, v):
        """``F(v) = -b·v - Σ_j softplus(c_j + vᵀW_{:j})``, so that ``p(v) = exp(-F(v)) / Z``."""
        return (-tf.linalg.matvec(v, self.b)
                - tf.reduce_sum(tf.nn.softplus(tf.matmul(v, self.W) + self.c), axis=1))

    def call(self, v, training=False):
        return self.hidden_given(tf.cast(v, self.W.dtype))

    @property
    def metrics(self):
        return [self.recon_tracker, self.energy_tracker]

    # --- contrastive divergence ---

    def cd_gradients(self, v0):
        """The CD-k (or PCD) estimate of ``-∂ log p(v) / ∂θ`` for the batch ``v0``, as a list
        of tensors matching ``[W, b, c]``, and the end state of the negative chains.

        Positive phase: the data and ``p(h | data)``. Negative phase: ``k`` alternating Gibbs
        steps from the data (CD) or from the persistent chains (PCD), ending with visible
        samples ``v_k`` and their hidden probabilities. The gradient is the difference of the
        pairwise statistics ``⟨v hᵀ⟩`` under the two phases.
        """
        ph0, h = self.sample_hidden(v0)
        if self.persistent:                    # continue the chains instead of the data
            _, h = self.sample_hidden(tf.convert_to_tensor(self.chains))
        for _ in range(self.k):
            _, vk = self.sample_visible(h)
            phk, h = self.sample_hidden(vk)
        n0 = tf.cast(tf.shape(v0)[0], v0.dtype)
        nk = tf.cast(tf.shape(vk)[0], v0.dtype)
        positive = tf.matmul(v0, ph0, transpose_a=True) / n0
        negative = tf.matmul(vk, phk, transpose_a=True) / nk
        grads = [negative - positive,
                 tf.reduce_mean(vk, 0) - tf.reduce_mean(v0, 0),
                 tf.reduce_mean(phk, 0) - tf.reduce_mean(ph0, 0)]
        return grads, vk

    def _track(self, v):
        recon = self.visible_given(self.hidden_given(v))
        self.recon_tracker.update_state(tf.reduce_mean(tf.square(v - recon)))
        self.energy_tracker.update_state(tf.reduce_mean(self._free_energy(v)))
        return {"reconstruction_error": self.recon_tracker.result(),
                "free_energy": self.energy_tracker.result()}

    def train_step(self, data):
        v0, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v0 = tf.cast(v0, self.W.dtype)
        grads, vk = self.cd_gradients(v0)
        self.optimizer.apply(grads, [self.W, self.b, self.c])
        if self.persistent:
            self.chains.assign(vk)
        return self._track(v0)

    def test_step(self, data):
        v, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._track(tf.cast(v, self.W.dtype))

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        """``keras.Model.fit`` after checking that ``x`` (and ``validation_data``) are data
        this RBM models: ``n_visible`` values per example in [0, 1], binary unless
        ``binary=False``. Images are flattened."""
        if x is not None and not isinstance(x, tf.data.Dataset):
            x = _data(x, binary=self.binary, n_visible=self.n_visible, what="x")
        if validation_data is not None and not isinstance(validation_data, tf.data.Dataset):
            held = validation_data[0] if isinstance(validation_data, tuple) else validation_data
            validation_data = (_data(held, binary=self.binary, n_visible=self.n_visible,
                                     what="validation_data"),)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    # --- NumPy-facing helpers ---

    def _checked(self, v, what="v") -> np.ndarray:
        return _data(v, binary=False, n_visible=self.n_visible, what=what)

    def init_visible_bias(self, x, *, eps: float = 1e-3) -> RBM:
        """Set the visible biases to ``log(p_i / (1 - p_i))``, ``p_i`` the share of examples
        with pixel ``i`` on: a model with no weights then reproduces each pixel's mean."""
        p = np.clip(self._checked(x, "x").mean(axis=0), eps, 1 - eps)
        self.b.assign(np.log(p / (1 - p)).astype("float32"))
        return self

    def transform(self, v, *, batch_size: int = 1000) -> np.ndarray:
        """Hidden probabilities ``p(h = 1 | v)``, ``(n, n_hidden)``: the learned features."""
        v = self._checked(v)
        return np.concatenate([keras.ops.convert_to_numpy(self.hidden_given(v[i:i + batch_size]))
                               for i in range(0, len(v), batch_size)])

    def reconstruct(self, v) -> np.ndarray:
        """The mean-field reconstruction ``p(v' = 1 | h = p(h | v))``, ``(n, n_visible)``."""
        h = self.transform(v)
        return keras.ops.convert_to_numpy(self.visible_given(h))

    def reconstruction_error(self, v) -> float:
        """Mean squared difference between ``v`` and :meth:`reconstruct` (what ``fit``
        reports as ``reconstruction_error``)."""
        v = self._checked(v)
        return float(np.mean((v - self.reconstruct(v)) ** 2))

    def free_energy(self, v) -> np.ndarray:
        """``F(v)`` of each example, ``(n,)``; lower means more probable under the model."""
        return keras.ops.convert_to_numpy(self._free_energy(self._checked(v)))

    def energy(self, v, h) -> np.ndarray:
        """``E(v, h) = -b·v - c·h - vᵀWh`` for every pair of a row of ``v`` and a row of
        ``h``: shape ``(len(v), len(h))``."""
        v, h = np.asarray(v, "float64"), np.asarray(h, "float64")
        W, b, c = self.parameters()
        return -(v @ b)[:, None] - (h @ c)[None, :] - v @ W @ h.T

    def parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(W, b, c)`` as float64 NumPy arrays: ``(n_visible, n_hidden)``, ``(n_visible,)``,
        ``(n_hidden,)``."""
        return tuple(np.array(p.numpy(), dtype="float64") for p in (self.W, self.b, self.c))

    @staticmethod
    def all_states(n: int) -> np.ndarray:
        """Every binary vector of length ``n``, ``(2**n, n)``, for brute-force checks."""
        n = _positive_int(n, "n")
        if n > MAX_EXACT_UNITS:
            raise ValueError(f"2**{n} states are too many to list; at most {MAX_EXACT_UNITS} units")
        return np.array(list(itertools.product((0.0, 1.0), repeat=n)))

    def exact_log_partition(self, *, chunk: int = 4096) -> float:
        """``log Z`` by summing over every state of the smaller layer (the other layer sums
        out in closed form). Feasible for tiny RBMs only: at most 2**22 states.

        >>> rbm = RBM(3, 2, init_scale=0.0)
        >>> round(float(rbm.exact_log_partition() / np.log(2)), 6)   # zero weights: Z = 2**(3+2)
        5.0
        """
        W, b, c = self.parameters()
        if min(self.n_visible, self.n_hidden) > MAX_EXACT_UNITS:
            raise ValueError(
                f"exact log Z needs 2**{min(self.n_visible, self.n_hidden)} states; use an RBM "
                f"with at most {MAX_EXACT_UNITS} hidden (or visible) units, or an estimate "
                "such as annealed importance sampling (Salakhutdinov and Murray, 2008)")
        if self.n_hidden > self.n_visible:     # sum over v instead: swap the roles
            W, b, c = W.T, c, b
        n = W.shape[1]
        W, b, c = (tf.constant(p) for p in (W, b, c))
        terms = []
        for start in range(0, 2 ** n, chunk):
            idx = np.arange(start, min(start + chunk, 2 ** n))
            h = tf.constant(((idx[:, None] >> np.arange(n)[::-1]) & 1).astype("float64"))
            terms.append((tf.linalg.matvec(h, c) + tf.reduce_sum(
                tf.nn.softplus(tf.matmul(h, W, transpose_b=True) + b), axis=1)).numpy())
        return _logsumexp(np.concatenate(terms))

    def log_likelihood(self, v, *, log_z: float | None = None) -> np.ndarray:
        """``log p(v) = -F(v) - log Z`` of each example, in nats, exact (tiny RBMs only;
        pass ``log_z`` to reuse one :meth:`exact_log_partition`)."""
        log_z = self.exact_log_partition() if log_z is None else float(log_z)
        v = self._checked(v)
        W, b, c = self.parameters()
        v = v.astype("float64")
        return v @ b + _softplus(v @ W + c).sum(axis=1) - log_z

    def sample(self, n: int | None = None, *, steps: int = 1000, start=None,
               snapshots: Sequence[int] | None = None, seed: int = 0) -> np.ndarray:
        """Run ``n`` Gibbs chains for ``steps`` alternating updates and return the visible
        probabilities ``p(v | h)`` of their last state, ``(n, n_visible)``. Chains start from
        ``start`` (e.g. test images) or from uniform random pixels. With ``snapshots`` (a list
        of step numbers, each <= ``steps``) return the states at those steps,
        ``(len(snapshots), n, n_visible)``. Seeded and repeatable.
        """
        steps = _positive_int(steps, "steps")
        rng = np.random.default_rng(seed)
        if start is None:
            v = (rng.random((_positive_int(n, "n"), self.n_visible)) < 0.5).astype("float32")
        else:
            v = self._checked(start, "start")
        marks = sorted({int(s) for s in (snapshots or [steps])})
        if marks[0] < 1 or marks[-1] > steps:
            raise ValueError(f"snapshots must be step numbers from 1 to steps={steps}, got "
                             f"{list(snapshots)}")
        state, done, shots = tf.constant(v), 0, []
        key = tf.constant([int(seed), 0], tf.int64)
        for mark in marks:
            state, probs = self._gibbs(state, tf.constant(mark - done), key + [0, 2 * done])
            done = mark
            shots.append(keras.ops.convert_to_numpy(probs))
        return shots[-1] if snapshots is None else np.stack(shots)

    def _gibbs(self, v, steps, key):
        return _gibbs_chain(v, tf.convert_to_tensor(self.W), tf.convert_to_tensor(self.b),
                            tf.convert_to_tensor(self.c), steps, key)

    @classmethod
    def from_sklearn(cls, model) -> RBM:
        """An :class:`RBM` holding a fitted scikit-learn ``BernoulliRBM``'s weights, so both can
        be scored the same way (``components_`` is ``Wᵀ``)."""
        if not hasattr(model, "components_"):
            raise ValueError("model must be a fitted sklearn.neural_network.BernoulliRBM "
                             "(call .fit first)")
        n_hidden, n_visible = model.components_.shape
        rbm = cls(n_visible, n_hidden)
        rbm.W.assign(model.components_.T.astype("float32"))
        rbm.b.assign(model.intercept_visible_.astype("float32"))
        rbm.c.assign(model.intercept_hidden_.astype("float32"))
        return rbm

    def get_config(self):
        config = super().get_config()
        config.update({"n_visible": self.n_visible, "n_hidden": self.n_hidden, "k": self.k,
                       "persistent": self.persistent, "n_chains": self.n_chains,
                       "binary": self.binary, "init_scale": self.init_scale, "seed": self.seed})
        return config


@tf.function(reduce_retracing=True)
def _gibbs_chain(v, W, b, c, steps, key):
    """``steps`` Gibbs updates v -> h -> v with stateless, seeded randomness; returns the last
    binary visible state and its probabilities. One compiled function for every RBM."""
    def body(i, v, p):
        h_p = tf.sigmoid(tf.matmul(v, W) + c)
        seed_h = key + tf.stack([tf.constant(0, tf.int64), 2 * tf.cast(i, tf.int64)])
        h = tf.cast(tf.random.stateless_uniform(tf.shape(h_p), seed_h) < h_p, v.dtype)
        p = tf.sigmoid(tf.matmul(h, W, transpose_b=True) + b)
        v = tf.cast(tf.random.stateless_uniform(tf.shape(p), seed_h + [0, 1]) < p, v.dtype)
        return i + 1, v, p

    _, v, p = tf.while_loop(lambda i, v, p: i < steps, body, (tf.constant(0), v, v))
    return v, p


def train_rbm(x, n_hidden: int, *, k: int = 1, persistent: bool = False, epochs: int = 10,
              batch_size: int = 64, learning_rate: float = 0.05, momentum: float = 0.5,
              binary: bool = True, validation_data=None, seed: int = 0,
              verbose: int = 0) -> RBM:
    """Build an :class:`RBM` for ``x``, set its visible biases from the data, train it with
    SGD + momentum for ``epochs`` and return it (its ``history`` attribute holds the curves).

    >>> x = binarize(np.random.default_rng(0).random((40, 10)))
    >>> rbm = train_rbm(x, 3, epochs=2, batch_size=20)
    >>> len(rbm.history.history["reconstruction_error"])
    2
    """
    x = _data(x, binary=binary, what="x")
    rbm = RBM(x.shape[1], n_hidden, k=k, persistent=persistent, n_chains=batch_size,
              binary=binary, seed=seed)
    rbm.init_visible_bias(x)
    rbm.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=momentum))
    rbm.fit(x, epochs=_positive_int(epochs, "epochs"), batch_size=batch_size, shuffle=True,
            validation_data=validation_data, verbose=verbose)
    return rbm


# --- deep belief networks -----------------------------------------------------------------------


def greedy_pretrain(x, hidden_sizes: Sequence[int], *, epochs: int | Sequence[int] = 10,
                    k: int = 1, batch_size: int = 64, learning_rate: float = 0.05,
                    momentum: float = 0.5, bottom: Sequence[RBM] = (), seed: int = 0,
                    verbose: int = 0) -> list[RBM]:
    """Greedy layer-wise pretraining (Hinton, Osindero and Teh, 2006): train an RBM on the
    binary data ``x``, then an RBM on its hidden probabilities, and so on, one per entry of
    ``hidden_sizes``. No labels are used. Returns the RBMs, bottom first.

    ``bottom`` holds RBMs already trained for the lowest layers (on ``x``, and sized like the
    first entries of ``hidden_sizes``): they are kept as they are and only the layers above
    them are trained.

    >>> x = binarize(np.random.default_rng(0).random((40, 10)))
    >>> [tuple(r.W.shape) for r in greedy_pretrain(x, [6, 4], epochs=1, batch_size=20)]
    [(10, 6), (6, 4)]
    """
    sizes = [_positive_int(s, "each hidden size") for s in hidden_sizes]
    if not sizes:
        raise ValueError("hidden_sizes must list at least one layer, e.g. [256, 256]")
    per_layer = [epochs] * len(sizes) if isinstance(epochs, (int, np.integer)) else list(epochs)
    if len(per_layer) != len(sizes):
        raise ValueError(f"epochs lists {len(per_layer)} values for {len(sizes)} layers")
    layer_input, rbms = _data(x, what="x"), list(bottom)
    if len(rbms) > len(sizes) or [r.n_hidden for r in rbms] != sizes[:len(rbms)]:
        raise ValueError(f"bottom RBMs with {[r.n_hidden for r in rbms]} hidden units do not "
                         f"match the first hidden_sizes {sizes}")
    for rbm in rbms:
        layer_input = rbm.transform(layer_input)
    for i in range(len(rbms), len(sizes)):
        rbm = train_rbm(layer_input, sizes[i], k=k, epochs=per_layer[i], batch_size=batch_size,
                        learning_rate=learning_rate, momentum=momentum, binary=i == 0,
                        seed=seed + i, verbose=verbose)
        rbms.append(rbm)
        layer_input = rbm.transform(layer_input)
    return rbms


def mlp_classifier(n_inputs: int, hidden_sizes: Sequence[int], n_classes: int, *,
                   activation: str = "sigmoid", initializer: str = "glorot_uniform",
                   dropout: float = 0.0, input_shape: Sequence[int] | None = None,
                   name: str = "mlp") -> keras.Model:
    """A fully connected classifier ``n_inputs -> hidden_sizes -> n_classes`` (softmax), with
    random initial weights: the network a DBN initialises, or its random-start rival.
    ``input_shape`` (e.g. ``(28, 28)``) adds a Flatten in front.

    >>> mlp_classifier(784, [64], 10, input_shape=(28, 28)).count_params()
    50890
    """
    n_inputs, n_classes = _positive_int(n_inputs, "n_inputs"), _positive_int(n_classes,
                                                                              "n_classes")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    shape = tuple(input_shape) if input_shape is not None else (n_inputs,)
    if int(np.prod(shape)) != n_inputs:
        raise ValueError(f"input_shape {shape} holds {int(np.prod(shape))} values, not "
                         f"n_inputs={n_inputs}")
    inputs = keras.Input(shape, name="pixels")
    h = keras.layers.Flatten()(inputs) if len(shape) > 1 else inputs
    for i, units in enumerate(hidden_sizes):
        h = keras.layers.Dense(_positive_int(units, "each hidden size"), activation=activation,
                               kernel_initializer=initializer, name=f"hidden_{i + 1}")(h)
        if dropout:
            h = keras.layers.Dropout(dropout)(h)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="classes")(h)
    return keras.Model(inputs, outputs, name=name)


def dbn_classifier(rbms: Sequence[RBM], n_classes: int, *,
                   input_shape: Sequence[int] | None = None,
                   name: str = "dbn_classifier") -> keras.Model:
    """The deep belief network as a classifier: a sigmoid :func:`mlp_classifier` whose hidden
    layers start from the pretrained RBMs' weights ``W`` and hidden biases ``c`` (a DBN's
    bottom-up recognition pass), with a fresh softmax layer on top; fine-tune it with ``fit``.

    >>> x = binarize(np.random.default_rng(0).random((40, 10)))
    >>> model = dbn_classifier(greedy_pretrain(x, [6], epochs=1, batch_size=20), 3)
    >>> [layer.name for layer in model.layers]
    ['pixels', 'hidden_1', 'classes']
    """
    rbms = list(rbms)
    if not rbms or not all(isinstance(r, RBM) for r in rbms):
        raise ValueError("rbms must be a non-empty list of RBMs, e.g. greedy_pretrain(x, [256])")
    for lower, upper in itertools.pairwise(rbms):
        if lower.n_hidden != upper.n_visible:
            raise ValueError(f"an RBM with {lower.n_hidden} hidden units cannot feed one with "
                             f"{upper.n_visible} visible units; stack them as greedy_pretrain does")
    model = mlp_classifier(rbms[0].n_visible, [r.n_hidden for r in rbms], n_classes,
                           input_shape=input_shape, name=name)
    for i, rbm in enumerate(rbms):
        model.get_layer(f"hidden_{i + 1}").set_weights(
            [rbm.W.numpy(), rbm.c.numpy()])
    return model


def fine_tune(model: keras.Model, x, y, *, weights: Sequence[np.ndarray] | None = None,
              steps: int = 400, batch_size: int = 32, learning_rate: float = 1e-3,
              seed: int = 0) -> keras.Model:
    """Train a classifier for exactly ``steps`` Adam updates on ``(x, y)`` (integer labels),
    starting from ``weights`` (``model.get_weights()`` of a DBN or of a random network) when
    given. A fixed step count treats every training-set size and every start alike; the
    batches cycle through seeded shuffles of the examples.

    The model is compiled on its first call only: later calls restore the optimizer's fresh
    state and reuse the compiled step, so a label-count curve costs one trace per
    architecture, not one per run.

    >>> keras.utils.set_random_seed(0)
    >>> model = mlp_classifier(4, [8], 2)
    >>> x = np.random.default_rng(0).random((40, 4)).astype("float32")
    >>> y = (x[:, 0] > 0.5).astype("int64")
    >>> model = fine_tune(model, x, y, steps=300, batch_size=20, learning_rate=1e-2)
    >>> float(model.evaluate(x, y, verbose=0)[1]) > 0.9
    True
    """
    steps, batch_size = _positive_int(steps, "steps"), _positive_int(batch_size, "batch_size")
    x, y = np.asarray(x, "float32"), np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must hold the same number (> 0) of examples, got {len(x)} "
                         f"and {len(y)}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    if weights is not None:
        model.set_weights(list(weights))
    fresh = getattr(model, "_dlbook_fresh_optimizer", None)
    if fresh is None:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      steps_per_execution=25)   # fewer Python round trips: ~2x faster
        model.optimizer.build(model.trainable_variables)
        model._dlbook_fresh_optimizer = [v.numpy() for v in model.optimizer.variables]
    else:
        for variable, value in zip(model.optimizer.variables, fresh, strict=True):
            variable.assign(value)
    model.optimizer.learning_rate.assign(learning_rate)
    rng = np.random.default_rng(seed)
    rounds = -(-steps * batch_size // len(x))
    order = np.concatenate([rng.permutation(len(x)) for _ in range(rounds)])
    order = order[:steps * batch_size]
    model.fit(x[order], y[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return model
