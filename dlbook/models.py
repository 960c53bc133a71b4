"""Whole Transformer models built from :mod:`dlbook.layers`, and what they need around them:
attention read-out, masking for BERT-style pretraining, and sampling from a language model.

- :func:`transformer_encoder` — token ids to contextual vectors (the shared backbone).
- :func:`text_classifier` — encoder, masked mean pooling, softmax (Part III, classification).
- :func:`masked_lm` and :func:`mask_tokens` — BERT-style pretraining (Devlin et al. 2019).
- :func:`causal_lm`, :func:`sample_logits`, :func:`generate` — GPT-style decoding.
- :func:`vision_transformer` — ViT (Dosovitskiy et al. 2021).
- :func:`attention_weights` — every block's attention maps for a batch of inputs.
- ``VAE``, ``GAN``, ``DDPM`` — the Part IV generators, each a ``keras.Model`` with its own
  ``train_step``; defined in :mod:`dlbook.vae`, :mod:`dlbook.gan` and :mod:`dlbook.diffusion`
  and importable from here.

>>> enc = transformer_encoder(vocab_size=50, max_len=12, dim=16, heads=2, depth=2)
>>> tuple(enc(np.array([[4, 5, 6, 0]])).shape)
(1, 4, 16)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlbook.config import import_keras
from dlbook.layers import PatchEmbedding, TokenAndPositionEmbedding, TransformerBlock, padding_mask

keras = import_keras()
from keras import ops  # noqa: E402

__all__ = [
    "attention_weights",
    "causal_lm",
    "generate",
    "mask_tokens",
    "masked_lm",
    "sample_logits",
    "text_classifier",
    "transformer_encoder",
    "vision_transformer",
]

#: models that live in their own modules (with the chapter's other helpers) but belong to the zoo
_ELSEWHERE = {"VAE": "dlbook.vae", "GAN": "dlbook.gan", "DDPM": "dlbook.diffusion",
              "NodeClassifier": "dlbook.graphs",
              "GraphRegressor": "dlbook.graphs", "RBM": "dlbook.rbm"}


def __getattr__(name: str):
    if name in _ELSEWHERE:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module 'dlbook.models' has no attribute {name!r}")


def _positive(**values) -> None:
    for what, value in values.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{what} must be a positive int, got {value!r}")


def transformer_encoder(vocab_size: int, max_len: int, *, dim: int = 64, heads: int = 4,
                        ff_dim: int | None = None, depth: int = 2, dropout: float = 0.1,
                        causal: bool = False, pad_id: int | None = 0,
                        positions: str = "learned", name: str = "encoder"):
    """A stack of :class:`~dlbook.layers.TransformerBlock` over token and position embeddings,
    with a final layer normalisation: ids ``(batch, T)`` to vectors ``(batch, T, dim)``.

    Tokens equal to ``pad_id`` are hidden from attention (``None``: every id is a real token, as
    in a language model over fixed windows). ``causal=True`` lets each position see only the
    ones before it. Its layers are named ``embedding``, ``block_0`` … so that
    :func:`attention_weights` can read them.
    """
    _positive(vocab_size=vocab_size, max_len=max_len, dim=dim, heads=heads, depth=depth)
    ff_dim = ff_dim or 4 * dim
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = TokenAndPositionEmbedding(vocab_size, max_len, dim, positions=positions,
                                  name="embedding")(ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    mask = padding_mask(ids, pad_id) if pad_id is not None else None
    for i in range(depth):
        x = TransformerBlock(dim, heads, ff_dim, dropout=dropout, causal=causal,
                             name=f"block_{i}")(x, mask=mask)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    return keras.Model(ids, x, name=name)


def _masked_mean(x, ids, pad_id):
    keep = ops.cast(ops.not_equal(ids, pad_id), x.dtype)[..., None]
    return ops.sum(x * keep, axis=1) / ops.maximum(ops.sum(keep, axis=1), 1.0)


def text_classifier(encoder, n_classes: int, *, pad_id: int = 0, dropout: float = 0.1,
                    name: str = "text_classifier"):
    """An encoder (from :func:`transformer_encoder`) with a classification head: the mean of the
    non-padding positions' vectors, dropout, and a softmax over ``n_classes``.

    >>> enc = transformer_encoder(vocab_size=50, max_len=12, dim=16, heads=2, depth=1)
    >>> clf = text_classifier(enc, n_classes=3)
    >>> np.asarray(clf(np.array([[4, 5, 0, 0]]))).sum().round(4)
    np.float32(1.0)
    """
    _positive(n_classes=n_classes)
    ids = keras.Input((None,), dtype="int32", name="ids")
    pooled = _masked_mean(encoder(ids), ids, pad_id)
    pooled = keras.layers.Dropout(dropout, name="head_dropout")(pooled)
    probs = keras.layers.Dense(n_classes, activation="softmax", name="classes")(pooled)
    return keras.Model(ids, probs, name=name)


def masked_lm(encoder, vocab_size: int, *, name: str = "masked_lm"):
    """BERT's pretraining head on an encoder: a logit for every vocabulary entry at every
    position. Train it on :func:`mask_tokens` output with
    ``SparseCategoricalCrossentropy(from_logits=True)`` and the returned sample weights, so only
    the masked positions count.
    """
    _positive(vocab_size=vocab_size)
    ids = keras.Input((None,), dtype="int32", name="ids")
    h = keras.layers.Dense(encoder.output.shape[-1], activation="gelu", name="mlm_transform")(
        encoder(ids))
    h = keras.layers.LayerNormalization(epsilon=1e-6, name="mlm_norm")(h)
    return keras.Model(ids, keras.layers.Dense(vocab_size, name="mlm_logits")(h), name=name)


def mask_tokens(ids: np.ndarray, *, mask_id: int, vocab_size: int, rate: float = 0.15,
                special_ids: Sequence[int] = (0,), rng: np.random.Generator | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BERT's masking (Devlin et al. 2019): choose ``rate`` of the real tokens; of those, 80 %
    become ``mask_id``, 10 % a random token, 10 % stay. Returns ``(inputs, targets, weights)``:
    the corrupted ids, the original ids, and 1.0 where a token was chosen (the only positions
    the loss should count), else 0.0. Tokens in ``special_ids`` (padding) are never chosen.

    >>> ids = np.arange(4, 104).reshape(1, 100)
    >>> x, y, w = mask_tokens(ids, mask_id=1, vocab_size=200, rng=np.random.default_rng(0))
    >>> int(w.sum()), bool((y == ids).all()), int((x == 1).sum()) <= int(w.sum())
    (15, True, True)
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be a (batch, length) integer matrix, got {ids.dtype} "
                         f"{ids.shape}")
    if not 0 < rate < 1:
        raise ValueError(f"rate must lie in (0, 1), got {rate!r}")
    rng = rng or np.random.default_rng(0)
    real = ~np.isin(ids, list(special_ids))
    # exactly round(rate * n) chosen per row (at least one), so short rows are masked too
    noise = np.where(real, rng.random(ids.shape), np.inf)
    n_real = real.sum(axis=1, keepdims=True)
    n_pick = np.where(n_real > 0, np.maximum(1, np.round(rate * n_real)), 0)
    ranks = noise.argsort(axis=1).argsort(axis=1)
    chosen = (ranks < n_pick) & real
    action = rng.random(ids.shape)
    inputs = ids.copy()
    inputs[chosen & (action < 0.8)] = mask_id
    swap = chosen & (action >= 0.8) & (action < 0.9)
    inputs[swap] = rng.integers(0, vocab_size, size=int(swap.sum()))
    return inputs, ids.copy(), chosen.astype("float32")


def causal_lm(vocab_size: int, max_len: int, *, dim: int = 64, heads: int = 4,
              ff_dim: int | None = None, depth: int = 2, dropout: float = 0.1,
              name: str = "causal_lm"):
    """A GPT-style decoder-only language model: a causal encoder stack and a linear layer to
    next-token logits ``(batch, T, vocab_size)``. Every id is a real token (no padding).

    >>> lm = causal_lm(vocab_size=30, max_len=16, dim=16, heads=2, depth=1)
    >>> tuple(lm(np.zeros((2, 16), dtype="int32")).shape)
    (2, 16, 30)
    """
    backbone = transformer_encoder(vocab_size, max_len, dim=dim, heads=heads, ff_dim=ff_dim,
                                   depth=depth, dropout=dropout, causal=True, pad_id=None,
                                   name="decoder")
    ids = keras.Input((None,), dtype="int32", name="ids")
    logits = keras.layers.Dense(vocab_size, name="next_token_logits")(backbone(ids))
    return keras.Model(ids, logits, name=name)


def sample_logits(logits: np.ndarray, *, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, rng: np.random.Generator | None = None
                  ) -> np.ndarray:
    """Draw one token per row of ``logits`` ``(batch, vocab)``.

    ``temperature`` divides the logits (below 1 sharper, above 1 flatter; 0 means greedy
    argmax); ``top_k`` keeps only the k most probable tokens; ``top_p`` keeps the smallest set
    whose probabilities sum to at least p ("nucleus" sampling, Holtzman et al. 2020).

    >>> logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    >>> int(sample_logits(logits, temperature=0)[0])
    0
    >>> draws = [int(sample_logits(logits, top_k=2, rng=np.random.default_rng(s))[0])
    ...          for s in range(200)]
    >>> sorted(set(draws))
    [0, 1]
    """
    logits = np.asarray(logits, dtype="float64")
    if logits.ndim != 2:
        raise ValueError(f"logits must be (batch, vocab), got shape {logits.shape}")
    if not np.isfinite(logits).all():
        raise ValueError("logits contain NaN or infinity; check the model's output")
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must lie in (0, 1] or be None, got {top_p!r}")
    if temperature == 0:
        return logits.argmax(axis=-1)
    rng = rng or np.random.default_rng()
    z = logits / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.sort(z, axis=-1)[:, -top_k][:, None]
        z = np.where(z >= kth, z, -np.inf)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    if top_p is not None:
        order = np.argsort(-p, axis=-1)
        sorted_p = np.take_along_axis(p, order, axis=-1)
        keep_sorted = np.cumsum(sorted_p, axis=-1) - sorted_p < top_p  # the first always stays
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        p = np.where(keep, p, 0.0)
        p /= p.sum(axis=-1, keepdims=True)
    cumulative = p.cumsum(axis=-1)
    u = rng.random((len(p), 1)) * cumulative[:, -1:]
    return (cumulative < u).sum(axis=-1).clip(max=p.shape[-1] - 1)


def generate(model, prompt_ids: Sequence[int] | np.ndarray, n_new: int, *, max_len: int,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             seed: int = 0) -> np.ndarray:
    """Continue ``prompt_ids`` by ``n_new`` tokens, one at a time, feeding the model the last
    ``max_len`` tokens (its context window) and sampling with :func:`sample_logits`. A batch of
    prompts of equal length may be given as a 2-D array. Returns the prompt plus the new ids.

    >>> lm = causal_lm(vocab_size=10, max_len=8, dim=8, heads=2, depth=1)
    >>> generate(lm, [1, 2, 3], 5, max_len=8, temperature=0).shape
    (8,)
    """
    ids = np.asarray(prompt_ids, dtype="int32")
    single = ids.ndim == 1
    ids = ids[None] if single else ids
    if ids.ndim != 2 or ids.shape[1] < 1:
        raise ValueError(f"prompt_ids must be a non-empty sequence (or a 2-D batch) of ids, "
                         f"got shape {np.shape(prompt_ids)}")
    _positive(max_len=max_len)
    if not isinstance(n_new, (int, np.integer)) or n_new < 0:
        raise ValueError(f"n_new must be an int ≥ 0, got {n_new!r}")
    rng = np.random.default_rng(seed)
    for _ in range(n_new):
        context = ids[:, -max_len:]
        logits = np.asarray(model(context, training=False))[:, -1]
        nxt = sample_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p, rng=rng)
        ids = np.concatenate([ids, nxt[:, None].astype("int32")], axis=1)
    return ids[0] if single else ids


def vision_transformer(image_shape: Sequence[int], n_classes: int, *, patch_size: int = 7,
                       dim: int = 64, heads: int = 4, ff_dim: int | None = None, depth: int = 4,
                       dropout: float = 0.1, name: str = "vit"):
    """A Vision Transformer: :class:`~dlbook.layers.PatchEmbedding` (patches, class token,
    positions), a stack of Transformer blocks, and a softmax on the class token's final vector.

    >>> vit = vision_transformer((28, 28, 1), 10, patch_size=7, dim=16, heads=2, depth=1)
    >>> tuple(vit(np.zeros((3, 28, 28, 1), dtype="float32")).shape)
    (3, 10)
    """
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or image_shape[0] != image_shape[1]:
        raise ValueError(f"image_shape must be (size, size, channels), got {image_shape}; "
                         "add a channel axis to grey images")
    _positive(n_classes=n_classes, depth=depth)
    ff_dim = ff_dim or 2 * dim
    images = keras.Input(image_shape, name="images")
    x = PatchEmbedding(image_shape[0], patch_size, dim, name="embedding")(images)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(depth):
        x = TransformerBlock(dim, heads, ff_dim, dropout=dropout, name=f"block_{i}")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x[:, 0])
    probs = keras.layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(images, probs, name=name)


def _blocks_model(model):
    """The (sub)model that holds the ``embedding`` and ``block_i`` layers."""
    names = {layer.name for layer in model.layers}
    if "embedding" in names and "block_0" in names:
        return model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            return _blocks_model(layer)
    raise ValueError("attention_weights needs a model built by dlbook.models (layers named "
                     "'embedding', 'block_0', ...)")


def attention_weights(model, inputs, *, pad_id: int | None = 0) -> list[np.ndarray]:
    """Every block's attention weights for a batch, ``[(batch, heads, T, T), ...]``, first block
    first, for any model built here (encoder, classifier, language model, ViT). The layers are
    run again on ``inputs`` in inference mode; ``pad_id`` hides padding as in training (use
    ``None`` for a language model or a ViT).

    >>> enc = transformer_encoder(vocab_size=20, max_len=8, dim=8, heads=2, depth=2)
    >>> [w.shape for w in attention_weights(enc, np.array([[3, 4, 5, 0]]))]
    [(1, 2, 4, 4), (1, 2, 4, 4)]
    """
    net = _blocks_model(model)
    x = net.get_layer("embedding")(ops.convert_to_tensor(inputs))
    is_text = not isinstance(net.get_layer("embedding"), PatchEmbedding)
    mask = padding_mask(ops.convert_to_tensor(inputs), pad_id) if is_text and pad_id is not None \
        else None
    maps = []
    i = 0
    while f"block_{i}" in {layer.name for layer in net.layers}:
        x, w = net.get_layer(f"block_{i}")(x, mask=mask, training=False,
                                           return_attention_scores=True)
        maps.append(np.asarray(w))
        i += 1
    return maps
