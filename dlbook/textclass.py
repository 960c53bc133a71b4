"""Text classification helpers: words to padded id matrices, and a tuned TF-IDF + logistic
regression baseline to beat (Part III: the Transformer classifier and BERT chapters).

>>> enc = WordEncoder.fit(["A fine film.", "A dull film."], min_count=1)
>>> enc.encode(["a fine, dull film"], max_len=6).tolist()
[[5, 8, 3, 7, 6, 0]]
>>> enc.tokens("A great film", max_len=6)
['a', 'great*', 'film']

Ids follow :mod:`dlbook.seq2seq`: 0 padding, 1–2 start/end markers (unused here), 3 ``<unk>``;
``vocab_size`` is the first free id (a BERT chapter can use it as ``[MASK]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from dlbook.seq2seq import UNK, Vocabulary, pad, tokenize

__all__ = ["WordEncoder", "tfidf_logreg", "tune_tfidf"]


def _texts(texts: Iterable[str], what: str = "texts") -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{what} must be a list of strings, not one string; wrap it: [text]")
    texts = list(texts)
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{what} must hold str, found {bad[0]}; convert with str(...) first")
    return texts


class WordEncoder:
    """Lower-cased word and punctuation tokens (:func:`dlbook.seq2seq.tokenize`) mapped to ids
    by a :class:`~dlbook.seq2seq.Vocabulary` fitted on training texts; words it has not seen
    become ``<unk>`` (id 3).

    >>> enc = WordEncoder.fit(["good", "good fun", "bad"], min_count=2)
    >>> enc.vocab_size, enc.encode(["good bad"], max_len=3).tolist()
    (5, [[4, 3, 0]])
    """

    def __init__(self, vocabulary: Vocabulary) -> None:
        if not isinstance(vocabulary, Vocabulary):
            raise TypeError("WordEncoder wraps a dlbook.seq2seq.Vocabulary; build one with "
                            "WordEncoder.fit(texts)")
        self.vocabulary = vocabulary

    @classmethod
    def fit(cls, texts: Iterable[str], *, min_count: int = 2,
            max_size: int | None = None) -> WordEncoder:
        """Keep the words that occur at least ``min_count`` times in ``texts`` (at most
        ``max_size`` ids, the four reserved ones included)."""
        texts = _texts(texts)
        return cls(Vocabulary.fit((tokenize(t) for t in texts), min_count=min_count,
                                  max_size=max_size))

    @property
    def vocab_size(self) -> int:
        """Number of ids, reserved ones included: the size of an ``Embedding`` table."""
        return len(self.vocabulary)

    def encode(self, texts: Iterable[str], *, max_len: int) -> np.ndarray:
        """An ``(n, max_len)`` int32 matrix of ids, right-padded with 0, longer texts cut."""
        if not isinstance(max_len, (int, np.integer)) or max_len < 1:
            raise ValueError(f"max_len must be a positive int, got {max_len!r}")
        texts = _texts(texts)
        if not texts:
            raise ValueError("nothing to encode: pass at least one text")
        ids = [self.vocabulary.encode(tokenize(t), markers=False) for t in texts]
        return pad(ids, max_len)

    def tokens(self, text: str, *, max_len: int | None = None) -> list[str]:
        """The tokens the model sees for ``text`` (cut at ``max_len``), words outside the
        vocabulary marked with ``*`` (the model saw them as ``<unk>``): labels for plots."""
        if not isinstance(text, str):
            raise TypeError(f"tokens takes one str, got {type(text).__name__}")
        words = tokenize(text)[:max_len]
        ids = self.vocabulary.encode(words, markers=False)
        return [w + "*" if i == UNK else w for w, i in zip(words, ids, strict=True)]

    def __repr__(self) -> str:
        return f"WordEncoder({self.vocab_size} ids)"


def tfidf_logreg(C: float = 1.0, *, analyzer: str = "word",
                 ngram_range: tuple[int, int] = (1, 2), min_df: int = 2):
    """A scikit-learn pipeline: TF-IDF features (sub-linear term frequency) and an L2-regularised
    logistic regression with inverse strength ``C``; fit it on raw strings.

    >>> clf = tfidf_logreg(10, min_df=1).fit(["great fun", "dull", "fun", "so dull"], [1, 0, 1, 0])
    >>> clf.predict(["fun fun", "dull film"]).tolist()
    [1, 0]
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    if analyzer not in ("word", "char", "char_wb"):
        raise ValueError(f"analyzer must be 'word', 'char' or 'char_wb', got {analyzer!r}")
    if not C > 0:
        raise ValueError(f"C must be positive (smaller = stronger regularisation), got {C!r}")
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngram_range),
                                 min_df=min_df, sublinear_tf=True)
    return make_pipeline(vectorizer, LogisticRegression(C=C, solver="liblinear"))


def tune_tfidf(x_fit: Sequence[str], y_fit: Sequence[int], x_val: Sequence[str],
               y_val: Sequence[int], *, Cs: Sequence[float] = (0.3, 1, 3, 10, 30),
               **features) -> tuple[float, dict[float, float]]:
    """Choose ``C`` of :func:`tfidf_logreg` by accuracy on a validation split: fit on
    ``x_fit``, score on ``x_val`` (the features are computed once). Returns the best ``C`` and
    the validation accuracy of every ``C`` tried; refit on all training data afterwards.

    >>> x = ["great fun", "dull", "fun", "so dull", "great", "dull film"]
    >>> best, scores = tune_tfidf(x[:4], [1, 0, 1, 0], x[4:], [1, 0], Cs=(1, 10), min_df=1)
    >>> best, scores
    (1, {1: 1.0, 10: 1.0})
    """
    if not len(Cs):
        raise ValueError("Cs is empty: pass the values of C to try, e.g. Cs=(0.3, 1, 3, 10)")
    x_fit, x_val = _texts(x_fit, "x_fit"), _texts(x_val, "x_val")
    if len(x_fit) != len(y_fit) or len(x_val) != len(y_val):
        raise ValueError(f"texts and labels differ in length: {len(x_fit)} vs {len(y_fit)} "
                         f"(fit), {len(x_val)} vs {len(y_val)} (validation)")
    vectorizer, _ = tfidf_logreg(1.0, **features).steps
    features_fit = vectorizer[1].fit_transform(x_fit)
    features_val = vectorizer[1].transform(x_val)
    scores = {}
    for C in Cs:
        model = tfidf_logreg(C, **features).steps[1][1].fit(features_fit, y_fit)
        scores[C] = float(model.score(features_val, y_val))
    best = max(Cs, key=lambda c: (scores[c], -c))  # ties: the stronger regularisation
    return best, scores
