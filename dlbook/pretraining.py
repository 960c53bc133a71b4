"""BERT-style pretraining batches and a masked-LM head that predicts only where it must.

:func:`dlbook.models.mask_tokens` corrupts a batch (15 % of the tokens chosen; 80 % of those
become ``[MASK]``, 10 % a random token, 10 % stay). A head over *every* position wastes most of
its work: only the chosen ones count in the loss. BERT's own code therefore gathers the chosen
positions, at most ``max_predictions`` per sequence, and scores the vocabulary there alone.
This module does the same:

- :func:`masked_positions` — where the chosen tokens are, padded to ``max_predictions``.
- :func:`mlm_batch` — corrupted ids, positions, targets and weights, ready for ``fit``.
- :func:`masked_lm_at` — encoder plus the BERT head, evaluated at the given positions only.
- :func:`masked_scores` — held-out loss, accuracy and top-k over the chosen tokens.

>>> ids = np.array([[5, 6, 7, 8, 9, 10, 0, 0]])
>>> (x, pos), y, w = mlm_batch(ids, mask_id=20, vocab_size=21, max_predictions=2,
...                            rng=np.random.default_rng(0))
>>> pos.shape, y.shape, w.tolist()
((1, 2), (1, 2), [[1.0, 0.0]])
>>> bool((y[w > 0] == ids[0, pos[w > 0]]).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlbook.config import import_keras
from dlbook.models import mask_tokens

keras = import_keras()
from keras import ops  # noqa: E402

__all__ = ["masked_lm_at", "masked_positions", "masked_scores", "mlm_batch"]


def masked_positions(weights: np.ndarray, max_predictions: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions where ``weights`` is non-zero, left-aligned per row and padded with
    position 0 (weight 0) to ``max_predictions`` columns: ``(positions, position_weights)``.

    >>> masked_positions(np.array([[0, 1, 0, 1], [1, 0, 0, 0]]), 3)[0].tolist()
    [[1, 3, 0], [0, 0, 0]]
    """
    weights = np.asarray(weights)
    if weights.ndim != 2:
        raise ValueError(f"weights must be a (batch, length) matrix, got shape {weights.shape}")
    if not isinstance(max_predictions, (int, np.integer)) or max_predictions < 1:
        raise ValueError(f"max_predictions must be a positive int, got {max_predictions!r}")
    most = int((weights > 0).sum(axis=1).max(initial=0))
    if most > max_predictions:
        raise ValueError(f"a row has {most} chosen tokens but max_predictions={max_predictions}; "
                         "raise max_predictions to round(rate * max_len) or more")
    order = np.argsort(weights <= 0, axis=1, kind="stable")[:, :max_predictions]
    keep = np.take_along_axis(weights > 0, order, axis=1)
    if order.shape[1] < max_predictions:  # rows shorter than max_predictions
        extra = max_predictions - order.shape[1]
        order = np.pad(order, ((0, 0), (0, extra)))
        keep = np.pad(keep, ((0, 0), (0, extra)))
    return np.where(keep, order, 0).astype("int32"), keep.astype("float32")


def mlm_batch(ids: np.ndarray, *, mask_id: int, vocab_size: int, max_predictions: int,
              rate: float = 0.15, special_ids: Sequence[int] = (0,),
              rng: np.random.Generator | None = None
              ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """One round of BERT masking over ``ids`` (``(batch, length)``, 0 = padding), in the form
    :func:`masked_lm_at` trains on: ``((corrupted_ids, positions), targets, weights)``, where
    ``positions``, ``targets`` and ``weights`` are ``(batch, max_predictions)``. Call it again
    for every epoch to draw fresh masks ("dynamic masking", as RoBERTa does)."""
    inputs, originals, chosen = mask_tokens(ids, mask_id=mask_id, vocab_size=vocab_size,
                                            rate=rate, special_ids=special_ids, rng=rng)
    positions, weights = masked_positions(chosen, max_predictions)
    targets = np.take_along_axis(originals, positions, axis=1).astype("int32")
    return (inputs.astype("int32"), positions), targets, weights


def masked_lm_at(encoder, vocab_size: int, max_predictions: int, *, name: str = "masked_lm"):
    """The encoder with BERT's masked-LM head (dense + GELU, layer norm, a logit per vocabulary
    entry) applied only at the given positions: inputs ``[ids (batch, T), positions (batch,
    max_predictions)]``, output logits ``(batch, max_predictions, vocab_size)``. Train with
    ``SparseCategoricalCrossentropy(from_logits=True)`` on :func:`mlm_batch` output.

    >>> from dlbook.models import transformer_encoder
    >>> enc = transformer_encoder(vocab_size=30, max_len=10, dim=16, heads=2, depth=1)
    >>> mlm = masked_lm_at(enc, vocab_size=30, max_predictions=2)
    >>> tuple(mlm([np.array([[5, 6, 7, 0]]), np.array([[1, 2]])]).shape)
    (1, 2, 30)
    """
    for what, value in (("vocab_size", vocab_size), ("max_predictions", max_predictions)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{what} must be a positive int, got {value!r}")
    ids = keras.Input((None,), dtype="int32", name="ids")
    positions = keras.Input((max_predictions,), dtype="int32", name="positions")
    states = encoder(ids)
    picked = ops.take_along_axis(states, ops.expand_dims(positions, -1), axis=1)
    h = keras.layers.Dense(states.shape[-1], activation="gelu", name="mlm_transform")(picked)
    h = keras.layers.LayerNormalization(epsilon=1e-6, name="mlm_norm")(h)
    logits = keras.layers.Dense(vocab_size, name="mlm_logits")(h)
    return keras.Model([ids, positions], logits, name=name)


def masked_scores(model, batch, *, k: int = 5) -> dict[str, float]:
    """Held-out scores of a :func:`masked_lm_at` model on one :func:`mlm_batch`, averaged
    over the chosen tokens only: ``loss`` (cross-entropy, nats), ``accuracy`` (top-1) and
    ``top_k`` (the right word among the ``k`` best guesses).

    >>> from dlbook.models import transformer_encoder
    >>> enc = transformer_encoder(vocab_size=30, max_len=10, dim=16, heads=2, depth=1)
    >>> batch = mlm_batch(np.full((8, 10), 7), mask_id=29, vocab_size=30, max_predictions=2)
    >>> sorted(masked_scores(masked_lm_at(enc, 30, 2), batch))
    ['accuracy', 'loss', 'top_k']
    """
    (inputs, positions), targets, weights = batch
    logits = np.asarray(model.predict([inputs, positions], batch_size=512, verbose=0))
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    chosen = weights > 0
    truth = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0][chosen]
    rank = (log_probs[chosen] > truth[:, None]).sum(axis=-1)   # 0 = the best guess
    return {"loss": float(-truth.mean()), "accuracy": float((rank == 0).mean()),
            "top_k": float((rank < k).mean())}
