"""Adversarial examples and adversarial training for image classifiers.

- :func:`fgsm` — the fast gradient sign method (Goodfellow, Shlens & Szegedy 2015): one step
  of size ``eps`` along the sign of the loss gradient.
- :func:`pgd` — projected gradient descent in the L-inf ball (Madry et al. 2018): a random
  start in the ball, then ``steps`` signed steps, each projected back into the ball and the
  pixel range. The yardstick attack for an L-inf budget.
- :func:`random_noise` — the control: a random perturbation of the same L-inf size (every
  pixel moved by ``±eps``, the largest random noise the ball allows).
- :func:`predictions`, :func:`accuracy`, :func:`robust_accuracy` — predicted classes and
  accuracy on clean inputs, and accuracy under each attack over a grid of budgets.
- :class:`AdversarialTraining` — a ``keras.Model`` whose ``fit`` trains the wrapped classifier
  on attacked inputs: PGD (Madry et al.) or FGSM with a random start, the cheap recipe of Wong,
  Rice & Kolter (2020).

Every perturbed input ``x_adv`` satisfies ``|x_adv - x| <= eps`` pixel by pixel and lies in
the valid range ``clip`` (``(0, 1)`` by default): the threat model is the budget, enforced by
projection, not a hope. Classifiers must output *logits* (no final softmax): a softmax output
saturates, its gradients vanish and the attacks look weaker than they are.

>>> x = np.array([[0.0, 0.5, 1.0]], "float32")
>>> project(x + 0.3, x, 0.1).astype(float).round(3).tolist()   # into the ball, then [0, 1]
[[0.1, 0.6, 1.0]]
>>> float(np.abs(random_noise(x, 0.1, seed=0) - x).max()) <= 0.1 + 1e-6
True
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras

keras = import_keras()
ops = keras.ops

__all__ = [
    "ATTACKS", "AdversarialTraining", "accuracy", "check_budget", "fgsm", "pgd", "predictions",
    "project", "random_noise", "robust_accuracy",
]

ATTACKS = ("noise", "fgsm", "pgd")
LOSSES = ("ce", "margin")
TRAIN_ATTACKS = ("pgd", "fgsm-rs")


# --- checks -------------------------------------------------------------------------------------


def _clip(clip: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(f"clip must be the pair (low, high) of valid input values, got "
                         f"{clip!r}; (0, 1) for pixels scaled by 1/255") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"clip must be finite with low < high, got {clip!r}")
    return lo, hi


def check_budget(eps: Any, *, steps: Any = None, step_size: Any = None,
                 clip: Any = (0.0, 1.0)) -> tuple[float, int | None, float | None]:
    """Validate an L-inf attack budget: ``eps`` (>= 0, at most the width of the pixel range),
    and for an iterative attack the number of ``steps`` and the ``step_size`` (``None``: the
    usual ``2.5 * eps / steps`` of Madry et al.). Returns ``(eps, steps, step_size)``.

    >>> check_budget(0.1, steps=10)
    (0.1, 10, 0.025)
    >>> check_budget(-1)
    Traceback (most recent call last):
        ...
    ValueError: eps must be a number >= 0, got -1; pass a perturbation size in input units, e.g. 0.1 for pixels in [0, 1]
    >>> check_budget(0.1, steps=10, step_size=0.001)
    Traceback (most recent call last):
        ...
    ValueError: steps * step_size = 0.01 cannot reach eps = 0.1; use step_size >= eps / steps (2.5 * eps / steps is the usual choice)
    """
    lo, hi = _clip(clip)
    number = isinstance(eps, (int, float, np.integer, np.floating)) and not isinstance(eps, bool)
    if not number or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a number >= 0, got {eps!r}; pass a perturbation size in "
                         f"input units, e.g. 0.1 for pixels in [{lo:g}, {hi:g}]")
    eps = float(eps)
    if eps > hi - lo:
        raise ValueError(f"eps = {eps:g} exceeds the width of the input range [{lo:g}, {hi:g}]; "
                         "inputs scaled to [0, 1] need eps <= 1 (8/255 ~ 0.031 is a common "
                         "budget for photos)")
    if steps is None:
        return eps, None, None
    steps = positive_int(steps, "steps")
    if step_size is None:
        return eps, steps, 2.5 * eps / steps
    step_size = positive_number(step_size, "step_size", hint="the size of one signed step, "
                                "in input units")
    if steps * step_size < eps * (1 - 1e-9):
        raise ValueError(f"steps * step_size = {steps * step_size:g} cannot reach eps = {eps:g}; "
                         "use step_size >= eps / steps (2.5 * eps / steps is the usual choice)")
    return eps, steps, step_size


def _inputs(x: Any, y: Any, clip: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty numeric batch (n, ...), got dtype {x.dtype}, "
                         f"shape {x.shape}; a single image needs x[None]")
    x = x.astype("float32")
    lo, hi = clip
    if not np.isfinite(x).all() or x.min() < lo or x.max() > hi:
        raise ValueError(f"x must lie in the valid range [{lo:g}, {hi:g}], got values from "
                         f"{x.min():.3g} to {x.max():.3g}; scale the inputs (e.g. / 255) or pass "
                         "clip=(low, high)")
    y = np.asarray(y)
    if y.shape != (len(x),) or y.dtype.kind not in "iu":
        raise ValueError(f"y must hold one integer class label per input, shape ({len(x)},), "
                         f"got dtype {y.dtype}, shape {y.shape}; for one-hot labels pass "
                         "y.argmax(axis=1)")
    return x, y.astype("int32")


def _loss_name(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


# --- the perturbation, in TensorFlow ops ---------------------------------------------------------


def project(x_adv: Any, x: Any, eps: float, clip: Any = (0.0, 1.0)) -> np.ndarray:
    """``x_adv`` moved into the L-inf ball of radius ``eps`` around ``x``, then into ``clip``.

    >>> project(np.array([[0.9, 0.1]]), np.array([[0.5, 0.5]]), 0.2).astype(float).round(3)
    array([[0.7, 0.3]])
    """
    eps, _, _ = check_budget(eps, clip=clip)
    lo, hi = _clip(clip)
    x = np.asarray(x, "float32")
    inside = np.clip(np.asarray(x_adv, "float32"), x - np.float32(eps), x + np.float32(eps))
    return np.clip(inside, lo, hi)


def _attack_loss(logits, y, loss: str):
    if loss == "ce":
        return keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    true = ops.take_along_axis(logits, ops.expand_dims(y, 1), axis=1)[:, 0]
    others = ops.where(ops.one_hot(y, ops.shape(logits)[1]) > 0, -1e9, logits)
    return ops.max(others, axis=1) - true            # > 0: misclassified (Carlini & Wagner)


def _perturb(model, x, y, start, eps, step_size, steps, lo, hi, loss: str):
    """``steps`` signed gradient steps from ``x + start``, each projected into the eps ball
    and [lo, hi]; the graph of the attack (TensorFlow backend)."""
    import tensorflow as tf

    low, high = tf.maximum(x - eps, lo), tf.minimum(x + eps, hi)
    x_adv = tf.clip_by_value(x + start, low, high)

    def step(i, x_adv):
        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            value = ops.sum(_attack_loss(model(x_adv, training=False), y, loss))
        x_adv = x_adv + step_size * tf.sign(tape.gradient(value, x_adv))
        return i + 1, tf.clip_by_value(x_adv, low, high)

    _, x_adv = tf.while_loop(lambda i, _: i < steps, step, (tf.constant(0), x_adv))
    return tf.stop_gradient(x_adv)


def _ends_in_softmax(model) -> bool:
    last = model.layers[-1] if getattr(model, "layers", None) else None
    return isinstance(last, keras.layers.Softmax) or (
        getattr(last, "activation", None) is keras.activations.softmax)


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled(model, shape: tuple[int, ...], loss: str):
    """One traced function per (model, input shape, loss): attack a batch and return the
    adversarial batch with its logits. Budgets and step counts are tensors, so no retracing."""
    import tensorflow as tf

    if _ends_in_softmax(model):
        raise ValueError(f"model {model.name!r} ends in a softmax; attacks need logits (a "
                         "saturated softmax hides the gradient): build it without the softmax")
    cache = _COMPILED.setdefault(model, {})
    key = (shape, loss)
    if key not in cache:
        scalar = tf.TensorSpec([], tf.float32)
        spec = [tf.TensorSpec([None, *shape], tf.float32), tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None, *shape], tf.float32), scalar, scalar,
                tf.TensorSpec([], tf.int32), scalar, scalar]

        @tf.function(input_signature=spec)
        def run(x, y, start, eps, step_size, steps, lo, hi):
            x_adv = _perturb(model, x, y, start, eps, step_size, steps, lo, hi, loss)
            return x_adv, model(x_adv, training=False)

        cache[key] = run
    return cache[key]


def _run(model, x, y, *, eps, step_size, steps, start: str, seed: int, clip, batch_size: int,
         loss: str = "ce") -> tuple[np.ndarray, np.ndarray]:
    """Attack ``x`` batch by batch; returns (adversarial inputs, predicted classes)."""
    lo, hi = clip
    batch_size = positive_int(batch_size, "batch_size")
    fn = _compiled(model, tuple(x.shape[1:]), _loss_name(loss))
    rng = np.random.default_rng(seed)
    out, pred = np.empty_like(x), np.empty(len(x), "int64")
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        noise = (rng.uniform(-eps, eps, xb.shape).astype("float32") if start == "uniform"
                 else np.zeros_like(xb))
        adv, logits = fn(xb, y[i:i + batch_size], noise, np.float32(eps),
                         np.float32(step_size), np.int32(steps), np.float32(lo), np.float32(hi))
        out[i:i + batch_size] = keras.ops.convert_to_numpy(adv)
        pred[i:i + batch_size] = keras.ops.convert_to_numpy(logits).argmax(1)
    return out, pred


# --- attacks -------------------------------------------------------------------------------------


def random_noise(x: Any, eps: float, *, seed: int = 0, clip: Any = (0.0, 1.0)) -> np.ndarray:
    """``x`` with every value moved by ``+eps`` or ``-eps`` at random, then clipped to
    ``clip``: random noise as large as the L-inf budget allows.

    >>> x = np.full((1, 4), 0.5, "float32")
    >>> sorted(set((random_noise(x, 0.1, seed=1) - x).astype(float).round(3).ravel().tolist()))
    [-0.1, 0.1]
    """
    clip = _clip(clip)
    eps, _, _ = check_budget(eps, clip=clip)
    x = np.asarray(x, "float32")
    signs = np.random.default_rng(seed).choice(np.array([-1.0, 1.0], "float32"), x.shape)
    return project(x + np.float32(eps) * signs, x, eps, clip)


def fgsm(model: Any, x: Any, y: Any, eps: float, *, clip: Any = (0.0, 1.0),
         batch_size: int = 500, loss: str = "ce") -> np.ndarray:
    """The fast gradient sign method: ``x + eps * sign(grad_x loss(model(x), y))``, clipped to
    ``clip``. One gradient per input; ``loss`` is the cross-entropy (``"ce"``) or the logit
    margin of Carlini & Wagner (``"margin"``).

    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> x, y = np.full((2, 4), 0.5, "float32"), np.array([0, 1])
    >>> np.abs(fgsm(model, x, y, 0.1) - x).max().round(6)
    np.float32(0.1)
    """
    clip = _clip(clip)
    eps, _, _ = check_budget(eps, clip=clip)
    x, y = _inputs(x, y, clip)
    return _run(model, x, y, eps=eps, step_size=eps, steps=1, start="none", seed=0, clip=clip,
                batch_size=batch_size, loss=loss)[0]


def pgd(model: Any, x: Any, y: Any, eps: float, *, steps: int = 10,
        step_size: float | None = None, random_start: bool = True, seed: int = 0,
        clip: Any = (0.0, 1.0), batch_size: int = 500, loss: str = "ce") -> np.ndarray:
    """L-inf projected gradient descent: from a uniform random point of the eps ball
    (``random_start``), ``steps`` steps of ``step_size`` (default ``2.5 * eps / steps``) along
    the gradient's sign, each projected back into the ball and ``clip``.

    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> x, y = np.full((2, 4), 0.5, "float32"), np.array([0, 1])
    >>> bool(np.abs(pgd(model, x, y, 0.1, steps=3) - x).max() <= 0.1 + 1e-6)
    True
    """
    clip = _clip(clip)
    eps, steps, step_size = check_budget(eps, steps=steps, step_size=step_size, clip=clip)
    x, y = _inputs(x, y, clip)
    return _run(model, x, y, eps=eps, step_size=step_size, steps=steps,
                start="uniform" if random_start else "none", seed=seed, clip=clip,
                batch_size=batch_size, loss=loss)[0]


def predictions(model: Any, x: Any, *, batch_size: int = 500) -> np.ndarray:
    """The class a logits model predicts for each input (through the same compiled function
    as the attacks, so no extra tracing and no ``tf.data`` pipeline).

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, use_bias=False)])
    >>> model.set_weights([np.eye(2, dtype="float32")])
    >>> predictions(model, np.array([[1.0, 0.0], [0.0, 1.0]])).tolist()
    [0, 1]
    """
    x, y = _inputs(x, np.zeros(len(np.asarray(x)), "int32"), (-np.inf, np.inf))
    return _run(model, x, y, eps=0.0, step_size=0.0, steps=0, start="none", seed=0,
                clip=(-np.inf, np.inf), batch_size=batch_size)[1]


def accuracy(model: Any, x: Any, y: Any, *, batch_size: int = 500) -> float:
    """Share of ``x`` the logits model classifies as ``y``.

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, use_bias=False)])
    >>> model.set_weights([np.eye(2, dtype="float32")])
    >>> accuracy(model, np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 0]))
    0.5
    """
    x, y = _inputs(x, y, (-np.inf, np.inf))
    return float((predictions(model, x, batch_size=batch_size) == y).mean())


def robust_accuracy(model: Any, x: Any, y: Any, eps_grid: Any, *,
                    attacks: Any = ATTACKS, steps: int = 10, restarts: int = 1,
                    seed: int = 0, clip: Any = (0.0, 1.0), batch_size: int = 500,
                    loss: str = "ce") -> pd.DataFrame:
    """Accuracy under each attack in ``attacks`` (``"noise"``, ``"fgsm"``, ``"pgd"``) at every
    budget of ``eps_grid``: a frame indexed by ``eps``, one column per attack. PGD counts an
    input as robust only if it survives all ``restarts`` random starts (each with ``steps``
    steps of ``2.5 * eps / steps``); at ``eps = 0`` every column is the clean accuracy.

    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> x = np.random.default_rng(0).uniform(size=(6, 4)).astype("float32")
    >>> y = np.argmax(model.predict(x, verbose=0), axis=1)    # all correct when clean
    >>> robust_accuracy(model, x, y, [0.0, 0.5], steps=3).loc[0.0].tolist()
    [1.0, 1.0, 1.0]
    """
    clip = _clip(clip)
    x, y = _inputs(x, y, clip)
    attacks = list(attacks)
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        raise ValueError(f"attacks must be a non-empty list drawn from {ATTACKS}, got {attacks}")
    restarts = positive_int(restarts, "restarts")
    grid = [check_budget(e, steps=steps, clip=clip)[0] for e in np.atleast_1d(eps_grid)]
    if not grid:
        raise ValueError("eps_grid is empty; pass budgets such as [0, 0.05, 0.1]")
    rows = {}
    for eps in grid:
        row = {}
        for name in attacks:
            if eps == 0:
                row[name] = rows[0.0][name] if 0.0 in rows else accuracy(
                    model, x, y, batch_size=batch_size)
                continue
            if name == "noise":
                kw = dict(step_size=0.0, steps=0, start="none")
                xs = random_noise(x, eps, seed=seed, clip=clip)
            else:
                xs = x
                kw = (dict(step_size=eps, steps=1, start="none") if name == "fgsm" else
                      dict(step_size=2.5 * eps / steps, steps=steps, start="uniform"))
            alive = np.ones(len(x), bool)
            for r in range(restarts if name == "pgd" else 1):
                _, pred = _run(model, xs, y, eps=eps, seed=seed + r, clip=clip,
                               batch_size=batch_size, loss=loss, **kw)
                alive &= pred == y
            row[name] = float(alive.mean())
        rows[eps] = row
    frame = pd.DataFrame(rows).T[attacks]
    frame.index.name = "eps"
    return frame


# --- adversarial training ------------------------------------------------------------------------


class AdversarialTraining(keras.Model):
    """Train ``model`` (a logits classifier) on attacked copies of each batch: Madry et al.'s
    min-max, ``min_w E[max_{|d| <= eps} loss(x + d, y)]``, with the inner max approximated by
    ``attack``:

    - ``"pgd"``: ``steps`` PGD steps (default 7) of ``step_size`` (default ``2.5 eps / steps``)
      from a random start; costs about ``steps + 1`` forward-backward passes per batch;
    - ``"fgsm-rs"``: one FGSM step of ``step_size`` (default ``1.25 eps``) from a uniform
      random start in the ball (Wong, Rice & Kolter 2020); about two passes per batch.

    ``clean_weight`` mixes in the clean loss: ``(1 - w) * adversarial + w * clean``
    (0: adversarial only, as Madry et al.). ``fit`` reports ``loss`` and ``accuracy`` on the
    attacked batches; ``evaluate`` on the clean inputs. Calling this model calls ``model``,
    which is the one to keep.

    >>> keras.utils.set_random_seed(0)
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> trainer = AdversarialTraining(net, eps=0.1, attack="fgsm-rs")
    >>> trainer.compile(optimizer="adam")
    >>> x, y = np.full((8, 4), 0.5, "float32"), np.zeros(8, "int32")
    >>> sorted(trainer.fit(x, y, epochs=1, verbose=0).history)
    ['accuracy', 'loss']
    """

    def __init__(self, model: Any, *, eps: float, attack: str = "pgd", steps: int | None = None,
                 step_size: float | None = None, clean_weight: float = 0.0,
                 clip: Any = (0.0, 1.0), seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model that outputs logits, got "
                            f"{type(model).__name__}")
        if attack not in TRAIN_ATTACKS:
            raise ValueError(f"attack must be one of {TRAIN_ATTACKS}, got {attack!r}")
        self.clip = _clip(clip)
        if attack == "pgd":
            self.eps, self.steps, self.step_size = check_budget(
                eps, steps=7 if steps is None else steps, step_size=step_size, clip=self.clip)
        else:
            if steps not in (None, 1):
                raise ValueError(f"fgsm-rs takes one step, got steps={steps!r}; "
                                 "use attack='pgd' for several")
            eps, _, _ = check_budget(eps, clip=self.clip)
            self.eps, self.steps = eps, 1
            self.step_size = 1.25 * eps if step_size is None else check_budget(
                eps, steps=1, step_size=step_size, clip=self.clip)[2]
        number = isinstance(clean_weight, (int, float)) and not isinstance(clean_weight, bool)
        if not number or not 0 <= clean_weight <= 1:
            raise ValueError(f"clean_weight must be in [0, 1], got {clean_weight!r}; "
                             "0 trains on attacked inputs only")
        self.classifier, self.attack = model, attack
        self.clean_weight = float(clean_weight)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_metric]

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def _xent(self, y, logits):
        return ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits,
                                                                     from_logits=True))

    def attacked(self, x, y):
        """The training attack's version of the batch ``x`` (a tensor)."""
        start = keras.random.uniform(ops.shape(x), -self.eps, self.eps,
                                     seed=self.seed_generator)
        return _perturb(self.classifier, x, ops.cast(y, "int32"), start, self.eps,
                        self.step_size, self.steps, self.clip[0], self.clip[1], "ce")

    def train_step(self, data):
        import tensorflow as tf  # the TensorFlow backend; the maths stays in keras.ops

        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = ops.cast(x, "float32")
        x_adv = self.attacked(x, y)
        with tf.GradientTape() as tape:
            logits = self.classifier(x_adv, training=True)
            loss = self._xent(y, logits)
            if self.clean_weight:
                clean = self._xent(y, self.classifier(x, training=True))
                loss = (1 - self.clean_weight) * loss + self.clean_weight * clean
        weights = self.classifier.trainable_weights
        self.optimizer.apply(tape.gradient(loss, weights), weights)
        self.loss_tracker.update_state(loss)
        self.accuracy_metric.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        logits = self.classifier(x, training=False)
        self.loss_tracker.update_state(self._xent(y, logits))
        self.accuracy_metric.update_state(y, logits)
        return {m.name: m.result() for m in self.metrics}
