"""Language at work (Part VII): routing short texts to teams, with abstention and zero-shot
label matching, and extractive summarisation scored with ROUGE.

Routing:

- :func:`coverage_curve` and :func:`accuracy_at_coverage` — accuracy when only the most
  confident share of texts is routed automatically and the rest go to a person.
- :func:`cosine_similarity`, :func:`zero_shot_probs` — zero-shot classification: compare a text's
  vector with each label description's vector.
- :func:`mean_embeddings` — a Keras encoder's masked mean-pooled vectors.

Summarisation:

- :func:`split_sentences`, :func:`readme_sentences` — sentences of plain text and of a README.
- :func:`rouge_n`, :func:`rouge_l`, :func:`rouge` — ROUGE-N and ROUGE-L (Lin 2004).
- :func:`lead`, :func:`textrank` — the two classic extractive baselines.
- :func:`sentence_features`, :func:`sentence_scorer` — a small network that scores sentences.

>>> round(rouge_n("the cat sat on the mat", "the cat lay on the mat", 1).fmeasure, 3)
0.833
>>> split_sentences("It works, e.g. here. Does it? Yes!")
['It works, e.g. here.', 'Does it?', 'Yes!']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from dlbook.checks import positive_int, positive_number

__all__ = [
    "FEATURE_NAMES",
    "Score",
    "accuracy_at_coverage",
    "cosine_similarity",
    "coverage_curve",
    "lead",
    "mean_embeddings",
    "readme_sentences",
    "rouge",
    "rouge_l",
    "rouge_n",
    "rouge_tokens",
    "sentence_features",
    "sentence_scorer",
    "split_sentences",
    "textrank",
    "tfidf_router",
    "zero_shot_probs",
]


# --- routing with abstention ----------------------------------------------------------------------


def _labels_and_probs(y_true, probs) -> tuple[np.ndarray, np.ndarray]:
    y_true, probs = np.asarray(y_true), np.asarray(probs, dtype="float64")
    if probs.ndim != 2:
        raise ValueError(f"probs must be an (n, classes) matrix of scores, got shape "
                         f"{probs.shape}; pass model.predict(x) or predict_proba(x)")
    if y_true.ndim != 1 or len(y_true) != len(probs) or not len(y_true):
        raise ValueError(f"y_true must be 1-D with one label per row of probs: got "
                         f"{y_true.shape} labels for {len(probs)} rows")
    if not np.all(np.isfinite(probs)):
        raise ValueError("probs holds NaN or infinite values; check the model's outputs")
    return y_true.astype("int64"), probs


def coverage_curve(y_true, probs, *, points: int = 20):
    """Route only the most confident texts: sort by the top score (the largest entry of each
    row of ``probs``), and report for each coverage (share of texts routed automatically,
    ``points`` steps from 1/points to 1) the accuracy on those routed and the confidence
    threshold that routes them. The rest would go to a person.

    >>> curve = coverage_curve([0, 1, 1, 0], [[.9, .1], [.2, .8], [.6, .4], [.5, .5]], points=4)
    >>> curve.round(2).to_dict("list")
    {'coverage': [0.25, 0.5, 0.75, 1.0], 'accuracy': [1.0, 1.0, 0.67, 0.75], 'threshold': [0.9, 0.8, 0.6, 0.5]}
    """
    import pandas as pd

    y_true, probs = _labels_and_probs(y_true, probs)
    points = positive_int(points, "points")
    confidence = probs.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    correct = (probs.argmax(axis=1) == y_true)[order]
    running = np.cumsum(correct) / np.arange(1, len(correct) + 1)
    coverage = np.arange(1, points + 1) / points
    k = np.maximum(1, np.round(coverage * len(y_true)).astype(int))
    return pd.DataFrame({"coverage": coverage, "accuracy": running[k - 1],
                         "threshold": confidence[order][k - 1]})


def accuracy_at_coverage(y_true, probs, coverage: float) -> float:
    """Accuracy on the ``coverage`` share of texts with the highest top score.

    >>> accuracy_at_coverage([0, 1, 1, 0], [[.9, .1], [.2, .8], [.6, .4], [.5, .5]], 0.5)
    1.0
    """
    y_true, probs = _labels_and_probs(y_true, probs)
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage is a share of the texts in (0, 1], got {coverage!r}")
    order = np.argsort(-probs.max(axis=1), kind="stable")
    k = max(1, int(round(coverage * len(y_true))))
    return float((probs.argmax(axis=1)[order[:k]] == y_true[order[:k]]).mean())


def tfidf_router(C: float = 10.0, *, ngram_range: tuple[int, int] = (1, 2)):
    """The routing baseline: TF-IDF of words and word pairs (sub-linear term frequency) and one
    logistic regression per team (one-vs-rest, liblinear: fast on sparse features) with
    inverse regularisation ``C`` and balanced class weights (a team's texts count as much as
    everyone else's, however few). Fit it on raw strings; its ``predict_proba`` (the teams'
    scores normalised to sum to 1) feeds :func:`coverage_curve`.

    >>> router = tfidf_router().fit(["disk full", "court case", "disk error", "judge"],
    ...                             [0, 1, 0, 1])
    >>> router.predict(["the disk", "a judge"]).tolist()
    [0, 1]
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    C = positive_number(C, "C", hint="smaller = stronger regularisation")
    one_per_team = LogisticRegression(C=C, solver="liblinear", class_weight="balanced")
    return make_pipeline(TfidfVectorizer(ngram_range=tuple(ngram_range), sublinear_tf=True),
                         OneVsRestClassifier(one_per_team))


# --- zero-shot by label similarity ----------------------------------------------------------------


def cosine_similarity(a, b) -> np.ndarray:
    """Cosine similarity of every row of ``a`` (n, d) with every row of ``b`` (m, d): (n, m).
    Dense arrays or scipy sparse matrices (TF-IDF); an all-zero row has similarity 0.

    >>> cosine_similarity([[1, 0], [1, 1]], [[2, 0], [0, 0]]).round(3).tolist()
    [[1.0, 0.0], [0.707, 0.0]]
    """
    import scipy.sparse as sp

    def normed(x):
        if sp.issparse(x):
            x = x.toarray()
        x = np.asarray(x, dtype="float64")
        if x.ndim != 2:
            raise ValueError(f"cosine_similarity takes 2-D (rows, dims) arrays, got {x.shape}")
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    a, b = normed(a), normed(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the vectors differ in size: {a.shape[1]} vs {b.shape[1]}; embed "
                         "texts and labels with the same encoder or vectorizer")
    return a @ b.T


def zero_shot_probs(similarity, *, temperature: float = 0.05) -> np.ndarray:
    """Turn a (texts, labels) similarity matrix into routing probabilities: a softmax of
    ``similarity / temperature`` over the labels (the temperature only changes how confident
    the scores look, not which label wins; fit it on held-out labels, or leave it).

    >>> zero_shot_probs([[0.3, 0.1]], temperature=0.1).round(3).tolist()
    [[0.881, 0.119]]
    """
    s = np.asarray(similarity, dtype="float64")
    if s.ndim != 2:
        raise ValueError(f"similarity must be a (texts, labels) matrix, got shape {s.shape}")
    z = s / positive_number(temperature, "temperature")
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def mean_embeddings(encoder, ids, *, pad_id: int = 0, batch_size: int = 256) -> np.ndarray:
    """One vector per text: the mean of an encoder's output vectors over the non-padding
    positions (the pooling :func:`dlbook.models.text_classifier` uses). ``ids`` is an
    ``(n, T)`` int matrix, ``encoder`` maps it to ``(n, T, dim)``.

    >>> from dlbook.models import transformer_encoder
    >>> enc = transformer_encoder(vocab_size=20, max_len=6, dim=8, heads=2, depth=1)
    >>> mean_embeddings(enc, np.array([[4, 5, 0, 0], [6, 0, 0, 0]])).shape
    (2, 8)
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be an (n, length) integer matrix (WordEncoder.encode), got "
                         f"{ids.dtype} {ids.shape}")
    states = np.asarray(encoder.predict(ids, batch_size=batch_size, verbose=0))
    keep = (ids != pad_id)[..., None]
    return (states * keep).sum(axis=1) / np.maximum(keep.sum(axis=1), 1)


# --- sentences ------------------------------------------------------------------------------------

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "Dr.", "Mr.", "Mrs.", "Ms.",
                  "Prof.", "St.", "No.", "Fig.", "al.")
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split plain text into sentences: after ``.``, ``!`` or ``?`` (and closing quotes or
    brackets) followed by white space and a capital letter or digit, except after common
    abbreviations (e.g., i.e., Dr., ...) and single initials (J. Smith).

    >>> split_sentences("Dr. Who met J. Smith. They talked (briefly). Then? Home.")
    ['Dr. Who met J. Smith.', 'They talked (briefly).', 'Then?', 'Home.']
    """
    if not isinstance(text, str):
        raise TypeError(f"split_sentences takes a str, got {type(text).__name__}")
    text = " ".join(text.split())
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        head = text[start:match.start()]
        last = head.rsplit(" ", 1)[-1]
        if last in _ABBREVIATIONS or re.fullmatch(r"[A-Z]\.", last):
            continue
        sentences.append(text[start:match.end()].strip())
        start = match.end()
    rest = text[start:].strip()
    return sentences + ([rest] if rest else [])


_FENCE = re.compile(r"^\s*(```|~~~)")
_UNDERLINE = re.compile(r"^\s*([=\-~^*#+`'\":._])\1{2,}\s*$")
_DROP_LINE = re.compile(r"^\s*(#|\||\+[-=]|\.\. |:[\w -]+:|>>>|\$ |<|\[[^\]]+\]:)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_QUOTE = re.compile(r"^\s*(>\s*)+(\[![A-Z]+\]\s*)?")
_INLINE = [
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), " "),          # markdown images
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),       # markdown links: keep the text
    (re.compile(r"\[([^\]]*)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"\[([^\]]*)\]"), r"\1"),               # reference-style links
    (re.compile(r"`([^`<]+?)\s*<[^>]+>`_{1,2}"), r"\1"),  # rst links
    (re.compile(r"<[^>]+>"), " "),                       # html tags
    (re.compile(r"\|[\w -]+\|_?"), " "),                 # rst substitutions (badges)
    (re.compile(r"https?://\S+"), " "),
    (re.compile(r":\w+:`([^`]*)`"), r"\1"),              # rst roles
    (re.compile(r"[`*]+"), ""),
]
_BULLET = re.compile(r"^\s*([-*+•]|\d+[.)])\s+")


def readme_sentences(readme: str, *, min_words: int = 4, max_words: int = 60) -> list[str]:
    """The prose sentences of a README (Markdown or reStructuredText): code blocks, indented
    blocks, headings, tables, directives, HTML, images, badges and URLs removed, link text
    kept; list items count as paragraphs. Sentences of ``min_words`` to ``max_words`` words
    that mostly hold letters are kept, in order.

    >>> readme_sentences("# Tool\\n\\n[![ci](b.svg)](x) *Tool* is a [fast](u) parser for logs."
    ...                  "\\n\\n```\\npip install tool\\n```\\n- It reads files and streams.\\n")
    ['Tool is a fast parser for logs.', 'It reads files and streams.']
    """
    if not isinstance(readme, str):
        raise TypeError(f"readme_sentences takes the README text (str), got "
                        f"{type(readme).__name__}")
    readme = _COMMENT.sub("\n", readme)
    lines, paragraphs, current, in_code = readme.splitlines(), [], [], False
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if _FENCE.match(line):
            in_code = not in_code
            continue
        line = _QUOTE.sub("", line)
        blank = not line.strip()
        skip = (in_code or _UNDERLINE.match(line) or _UNDERLINE.match(following)
                and line.strip() or _DROP_LINE.match(line) or line.startswith(("    ", "\t")))
        if blank or skip or _BULLET.match(line):
            if current:
                paragraphs.append(" ".join(current))
            current = []
            if blank or skip:
                continue
            line = _BULLET.sub("", line)
        current.append(line.strip())
    if current:
        paragraphs.append(" ".join(current))
    kept = []
    for paragraph in paragraphs:
        for pattern, replacement in _INLINE:
            paragraph = pattern.sub(replacement, paragraph)
        for sentence in split_sentences(paragraph):
            words = sentence.split()
            letters = sum(c.isalpha() for c in sentence) / max(len(sentence), 1)
            if min_words <= len(words) <= max_words and letters > 0.6 and sentence[-1] in ".!?:":
                kept.append(sentence)
    return kept


# --- ROUGE ----------------------------------------------------------------------------------------


class Score(NamedTuple):
    """Precision, recall and F1 of one candidate against one reference."""

    precision: float
    recall: float
    fmeasure: float


def rouge_tokens(text: str) -> list[str]:
    """ROUGE's tokens: lower-cased runs of letters and digits (as the reference ``rouge-score``
    package does without stemming).

    >>> rouge_tokens("Keras 3: Deep-learning, for humans!")
    ['keras', '3', 'deep', 'learning', 'for', 'humans']
    """
    if not isinstance(text, str):
        raise TypeError(f"ROUGE scores text (str), got {type(text).__name__}; join a list of "
                        "sentences with ' '.join(...) first")
    return re.findall(r"[a-z0-9]+", text.lower())


def _score(overlap: int, n_candidate: int, n_reference: int) -> Score:
    p = overlap / n_candidate if n_candidate else 0.0
    r = overlap / n_reference if n_reference else 0.0
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0)


def rouge_n(reference: str, candidate: str, n: int = 1) -> Score:
    """ROUGE-N (Lin 2004): the n-grams candidate and reference share, each counted at most as
    often as it occurs in either; precision divides by the candidate's n-grams, recall by the
    reference's.

    >>> rouge_n("the cat sat on the mat", "the cat lay on the mat", 2)
    Score(precision=0.6, recall=0.6, fmeasure=0.6)
    """
    n = positive_int(n, "n")

    def grams(text):
        tokens = rouge_tokens(text)
        return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))

    ref, cand = grams(reference), grams(candidate)
    return _score(sum((ref & cand).values()), sum(cand.values()), sum(ref.values()))


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(reference: str, candidate: str) -> Score:
    """ROUGE-L: the longest common subsequence of tokens (in order, gaps allowed), divided by
    the candidate's length (precision) and the reference's (recall). Computed over the whole
    texts, as ``rouge-score``'s ``rougeL`` does (not the per-sentence union ``rougeLsum``).

    >>> rouge_l("police killed the gunman", "police kill the gunman")
    Score(precision=0.75, recall=0.75, fmeasure=0.75)
    """
    ref, cand = rouge_tokens(reference), rouge_tokens(candidate)
    return _score(_lcs(ref, cand), len(cand), len(ref))


def rouge(references: Sequence[str], candidates: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 over a corpus of (reference, candidate) pairs.

    >>> rouge(["a b c", "x y"], ["a b d", "x y"])
    {'rouge1': 0.8333333333333333, 'rouge2': 0.75, 'rougeL': 0.8333333333333333}
    """
    if isinstance(references, str) or isinstance(candidates, str):
        raise TypeError("rouge takes lists of texts; for one pair use rouge_n / rouge_l")
    references, candidates = list(references), list(candidates)
    if len(references) != len(candidates) or not references:
        raise ValueError(f"need one candidate per reference, got {len(candidates)} candidates "
                         f"for {len(references)} references")
    pairs = list(zip(references, candidates, strict=True))
    return {"rouge1": float(np.mean([rouge_n(r, c, 1).fmeasure for r, c in pairs])),
            "rouge2": float(np.mean([rouge_n(r, c, 2).fmeasure for r, c in pairs])),
            "rougeL": float(np.mean([rouge_l(r, c).fmeasure for r, c in pairs]))}


# --- extractive baselines and the sentence scorer -------------------------------------------------


def _sentences(sentences) -> list[str]:
    if isinstance(sentences, str):
        raise TypeError("pass the document as a list of sentences (split_sentences(text))")
    sentences = list(sentences)
    if not sentences or not all(isinstance(s, str) for s in sentences):
        raise ValueError("the document must be a non-empty list of sentence strings")
    return sentences


def lead(sentences: Sequence[str], k: int = 1) -> str:
    """The lead baseline: the document's first ``k`` sentences.

    >>> lead(["First.", "Second.", "Third."], 2)
    'First. Second.'
    """
    return " ".join(_sentences(sentences)[:positive_int(k, "k")])


def _similarity_graph(sentences: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        tfidf = TfidfVectorizer(token_pattern=r"[a-z0-9]+", stop_words="english")
        graph = cosine_similarity(*(2 * [tfidf.fit_transform(sentences)]))
    except ValueError:  # nothing but stop words
        graph = np.zeros((len(sentences), len(sentences)))
    np.fill_diagonal(graph, 0.0)
    return graph


def textrank(sentences: Sequence[str], k: int = 1, *, damping: float = 0.85,
             return_scores: bool = False):
    """TextRank (Mihalcea and Tarau 2004): PageRank on the graph of sentences linked by the
    cosine similarity of their TF-IDF vectors; the ``k`` most central sentences, in document
    order (or, with ``return_scores``, every sentence's rank score).

    >>> doc = ["Cats purr.", "Cats and dogs play.", "Dogs bark.", "Taxes are due."]
    >>> textrank(doc)
    'Cats and dogs play.'
    """
    sentences = _sentences(sentences)
    rank = _pagerank(_similarity_graph(sentences), damping)
    if return_scores:
        return rank
    best = sorted(np.argsort(-rank, kind="stable")[:positive_int(k, "k")])
    return " ".join(sentences[i] for i in best)


def _pagerank(graph: np.ndarray, damping: float) -> np.ndarray:
    n = len(graph)
    out = graph.sum(axis=1, keepdims=True)
    walk = np.where(out > 0, graph / np.maximum(out, 1e-12), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(100):
        rank = (1 - damping) / n + damping * walk.T @ rank
    return rank


FEATURE_NAMES = ("position", "is_first", "log_words", "names_package", "centrality",
                 "textrank", "share_capitalised", "share_digits")


def sentence_features(sentences: Sequence[str], name: str = "") -> np.ndarray:
    """Features of each sentence of one document, ``(n_sentences, 8)`` in the order of
    :data:`FEATURE_NAMES`: relative position, first sentence or not, log word count, whether
    it names ``name`` (the package, product or subject), mean TF-IDF similarity to the other
    sentences, TextRank score times n, and the share of capitalised and of digit tokens.

    >>> f = sentence_features(["Tool parses logs fast.", "See the docs.", "Tool reads logs."],
    ...                       "tool")
    >>> f.shape, f[:, 3].tolist()
    ((3, 8), [1.0, 0.0, 1.0])
    """
    sentences = _sentences(sentences)
    n = len(sentences)
    graph = _similarity_graph(sentences)
    names = set(rouge_tokens(name)) | {re.sub(r"[^a-z0-9]", "", name.lower())} - {""}
    rows = []
    rank = _pagerank(graph, 0.85) * n
    for i, sentence in enumerate(sentences):
        words = sentence.split()
        tokens = set(rouge_tokens(sentence))
        rows.append([i / max(n - 1, 1), float(i == 0), np.log1p(len(words)),
                     float(bool(names & tokens)), graph[i].sum() / max(n - 1, 1), rank[i],
                     np.mean([w[:1].isupper() for w in words]),
                     np.mean([any(c.isdigit() for c in w) for w in words])])
    return np.asarray(rows, dtype="float32")


def sentence_scorer(vocab_size: int, n_features: int = len(FEATURE_NAMES), *, dim: int = 16,
                    hidden: int = 32, dropout: float = 0.2, name: str = "sentence_scorer"):
    """A small network that scores one sentence: the mean of its learned word embeddings
    (inputs: ids ``(batch, T)``, 0 = padding) next to its ``n_features`` hand-made features,
    a hidden ReLU layer and one linear output. Train it to predict each sentence's ROUGE with
    the reference; summarise by picking the best-scored sentence.

    >>> model = sentence_scorer(vocab_size=30)
    >>> tuple(model([np.array([[4, 5, 0]]), np.zeros((1, 8), "float32")]).shape)
    (1, 1)
    """
    from dlbook.config import import_keras

    keras = import_keras()
    for what, value in (("vocab_size", vocab_size), ("n_features", n_features), ("dim", dim),
                        ("hidden", hidden)):
        positive_int(value, what)
    ids = keras.Input((None,), dtype="int32", name="ids")
    features = keras.Input((n_features,), name="features")
    words = keras.layers.Embedding(vocab_size, dim, mask_zero=True, name="words")(ids)
    bag = keras.layers.GlobalAveragePooling1D(name="mean_words")(words)
    h = keras.layers.Concatenate()([bag, keras.layers.Normalization(name="scale")(features)])
    h = keras.layers.Dense(hidden, activation="relu")(h)
    h = keras.layers.Dropout(dropout)(h)
    return keras.Model([ids, features], keras.layers.Dense(1, name="score")(h), name=name)
