"""Keyword spotting: log-mel features with ``tf.signal``, a depthwise-separable CNN (DS-CNN,
Zhang et al. 2017, "Hello Edge"), an MFCC baseline, and streaming detection over long audio
(sliding windows, posterior smoothing as in Chen et al. 2014, a threshold and a refractory
time), with the metrics of the trade: accuracy with a Wilson interval, hits and false accepts
per hour.

>>> import numpy as np
>>> waves = np.random.default_rng(0).normal(0, 0.1, (2, 8000)).astype("float32")
>>> log_mel(waves).shape          # 98 frames of 10 ms, 40 mel bands
(2, 98, 40)
>>> lo, hi = wilson_interval(9, 10)
>>> round(lo, 3), round(hi, 3)
(0.596, 0.982)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dlbook.checks import positive_int, positive_number

__all__ = [
    "Detection", "concatenate", "detect", "ds_cnn", "false_accepts_per_hour", "log_mel",
    "match_detections", "mfcc_stats", "normalize", "operating_points", "plot_stream", "smooth",
    "stream_posteriors", "tc_resnet", "wilson_interval",
]

SAMPLE_RATE = 8_000


def _waves(waves) -> np.ndarray:
    x = np.asarray(waves, dtype="float32")
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"waves must be (n, samples) or (samples,), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("waves hold NaN or inf; check the audio reader")
    return x


def log_mel(waves, *, sample_rate: int = SAMPLE_RATE, frame_ms: float = 25.0,
            hop_ms: float = 10.0, n_mels: int = 40, fmin: float = 20.0,
            fmax: float | None = None, per_utterance: bool = False) -> np.ndarray:
    """Log-mel spectrograms ``(n, frames, n_mels)`` of waveforms ``(n, samples)``.

    Short-time Fourier transform (``tf.signal.stft``, Hann window of ``frame_ms``, hop
    ``hop_ms``, FFT size the next power of two), power spectrum, ``n_mels`` triangular mel
    filters from ``fmin`` to ``fmax`` (default: Nyquist) via
    ``tf.signal.linear_to_mel_weight_matrix``, then ``log(mel + 1e-6)``. ``per_utterance``
    applies :func:`normalize` to each spectrogram.
    """
    import tensorflow as tf

    x = _waves(waves)
    sample_rate = positive_int(sample_rate, "sample_rate")
    frame = int(round(positive_number(frame_ms, "frame_ms") * sample_rate / 1000))
    hop = int(round(positive_number(hop_ms, "hop_ms") * sample_rate / 1000))
    if x.shape[1] < frame:
        raise ValueError(f"waves need at least one frame ({frame} samples), got {x.shape[1]}")
    fft = 1 << (frame - 1).bit_length()
    top = sample_rate / 2 if fmax is None else float(fmax)
    if not 0 <= fmin < top <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= {sample_rate / 2} Hz, got {fmin}, {top}")
    stft = tf.signal.stft(x, frame_length=frame, frame_step=hop, fft_length=fft)
    power = tf.math.square(tf.abs(stft))
    weights = tf.signal.linear_to_mel_weight_matrix(
        positive_int(n_mels, "n_mels"), fft // 2 + 1, sample_rate, fmin, top)
    out = tf.math.log(tf.tensordot(power, weights, 1) + 1e-6).numpy()
    return normalize(out) if per_utterance else out


def normalize(features: np.ndarray) -> np.ndarray:
    """Per-utterance normalisation of ``(n, frames, bins)`` log spectra: subtract each band's
    mean over time (cepstral mean normalisation: it removes a fixed channel response, a
    microphone or a telephone line, which is a constant in the log domain), then divide by the
    utterance's standard deviation (it removes the overall loudness scale).

    >>> f = np.random.default_rng(0).normal(3, 2, (1, 50, 4))
    >>> g = normalize(f)
    >>> bool(abs(g.mean(axis=1)).max() < 1e-6), round(float(g.std()), 3)
    (True, 1.0)
    """
    f = np.asarray(features, dtype="float32")
    if f.ndim != 3:
        raise ValueError(f"features must be (n, frames, bins), got shape {f.shape}")
    f = f - f.mean(axis=1, keepdims=True)
    return f / (f.std(axis=(1, 2), keepdims=True) + 1e-6)


def mfcc_stats(log_mels: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    """The classic fixed-length summary: ``n_mfcc`` MFCCs per frame
    (``tf.signal.mfccs_from_log_mel_spectrograms``), their mean and standard deviation over
    time and the mean of their frame-to-frame differences' magnitude: ``(n, 3 * n_mfcc)``.

    >>> mfcc_stats(np.zeros((2, 98, 40), "float32")).shape
    (2, 39)
    """
    import tensorflow as tf

    f = np.asarray(log_mels, dtype="float32")
    if f.ndim != 3 or not 1 <= n_mfcc <= f.shape[2]:
        raise ValueError(f"need (n, frames, bins) log-mels and 1 <= n_mfcc <= bins, got "
                         f"shape {f.shape} and n_mfcc={n_mfcc}")
    c = tf.signal.mfccs_from_log_mel_spectrograms(f).numpy()[..., :n_mfcc]
    delta = np.abs(np.diff(c, axis=1)).mean(axis=1)
    return np.concatenate([c.mean(axis=1), c.std(axis=1), delta], axis=1)


def _bn():
    from keras import layers

    return layers.BatchNormalization(momentum=0.9)  # short runs: let the statistics catch up


def ds_cnn(input_shape: tuple[int, int], n_classes: int, *, filters: int = 64,
           blocks: int = 4, dropout: float = 0.2, name: str = "ds_cnn"):
    """The DS-CNN keyword spotter of Zhang et al. (2017): a 10x4 convolution with stride 2 over
    (time, frequency), then ``blocks`` depthwise-separable blocks (3x3 depthwise, batch norm,
    ReLU, 1x1 pointwise, batch norm, ReLU), global average pooling and a softmax. Accurate
    and small, but slow to *train* on a CPU (depthwise convolutions' gradients).

    >>> m = ds_cnn((98, 40), 12)
    >>> m.output_shape, m.count_params() < 30_000
    ((None, 12), True)
    """
    import keras
    from keras import layers

    frames, bins, n_classes = _shape_checks(input_shape, n_classes, dropout)
    inputs = keras.Input((frames, bins), name="log_mel")
    x = layers.Reshape((frames, bins, 1))(inputs)
    x = layers.Conv2D(positive_int(filters, "filters"), (10, 4), strides=2, padding="same",
                      use_bias=False)(x)
    x = layers.ReLU()(_bn()(x))
    for _ in range(positive_int(blocks, "blocks")):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(_bn()(x))
        x = layers.Conv2D(filters, 1, use_bias=False)(x)
        x = layers.ReLU()(_bn()(x))
    x = layers.Dropout(dropout)(layers.GlobalAveragePooling2D()(x))
    outputs = layers.Dense(n_classes, activation="softmax", name="posterior")(x)
    return keras.Model(inputs, outputs, name=name)


def tc_resnet(input_shape: tuple[int, int], n_classes: int, *,
              widths: Sequence[int] = (32, 48, 64), kernel: int = 9, dropout: float = 0.2,
              name: str = "tc_resnet"):
    """A temporal-convolution ResNet keyword spotter after TC-ResNet (Choi et al. 2019): the
    mel bands are the *channels* of 1-D convolutions over time, so every filter sees the whole
    spectrum of a few frames. A 3-tap stem, then one residual block per entry of ``widths``
    (two ``kernel``-tap convolutions, the first with stride 2, batch norm, a 1x1 projection
    shortcut), global average pooling over time and a softmax. Cheap on a CPU.

    >>> m = tc_resnet((98, 40), 12)
    >>> m.output_shape, m.count_params()
    ((None, 12), 129484)
    """
    import keras
    from keras import layers

    frames, bins, n_classes = _shape_checks(input_shape, n_classes, dropout)
    if not widths:
        raise ValueError("widths must name at least one block width, e.g. (32, 48, 64)")
    kernel = positive_int(kernel, "kernel")
    inputs = keras.Input((frames, bins), name="log_mel")
    x = layers.Conv1D(positive_int(widths[0], "widths"), 3, padding="same", use_bias=False)(inputs)
    for width in widths:
        width = positive_int(width, "widths")
        y = layers.Conv1D(width, kernel, strides=2, padding="same", use_bias=False)(x)
        y = layers.ReLU()(_bn()(y))
        y = _bn()(layers.Conv1D(width, kernel, padding="same", use_bias=False)(y))
        shortcut = _bn()(layers.Conv1D(width, 1, strides=2, use_bias=False)(x))
        x = layers.ReLU()(layers.Add()([y, shortcut]))
    x = layers.Dropout(dropout)(layers.GlobalAveragePooling1D()(x))
    outputs = layers.Dense(n_classes, activation="softmax", name="posterior")(x)
    return keras.Model(inputs, outputs, name=name)


def _shape_checks(input_shape, n_classes, dropout) -> tuple[int, int, int]:
    if len(tuple(input_shape)) != 2:
        raise ValueError(f"input_shape must be (frames, mel bands), got {input_shape!r}")
    frames, bins = (positive_int(v, "input_shape entries") for v in input_shape)
    if positive_int(n_classes, "n_classes") < 2:
        raise ValueError("n_classes must be at least 2")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return frames, bins, int(n_classes)


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (Wilson 1927): unlike the normal
    approximation it stays inside [0, 1] and is honest for small ``trials``.

    >>> wilson_interval(0, 10)[1] > 0.2   # no success in ten still allows a lot
    True
    """
    from scipy.stats import norm

    trials = positive_int(trials, "trials")
    if not isinstance(successes, (int, np.integer)) or not 0 <= successes <= trials:
        raise ValueError(f"successes must be an int in [0, {trials}], got {successes!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


# --- streaming ----------------------------------------------------------------------------------


def stream_posteriors(model, wave, *, window_frames: int = 98, hop_frames: int = 5,
                      sample_rate: int = SAMPLE_RATE, per_utterance: bool = True,
                      batch_size: int = 256, **mel) -> tuple[np.ndarray, np.ndarray]:
    """Run a window classifier over a long waveform: log-mel of the whole stream once, then
    every ``hop_frames`` frames (10 ms each) the last ``window_frames`` frames, normalised per
    window like the training clips, through ``model``.

    Returns ``times`` (s, the end of each window: when a streaming device would decide) and
    ``posteriors`` ``(windows, classes)``.
    """
    feats = log_mel(_waves(wave)[:1], sample_rate=sample_rate, **mel)[0]
    window_frames = positive_int(window_frames, "window_frames")
    hop_frames = positive_int(hop_frames, "hop_frames")
    if len(feats) < window_frames:
        raise ValueError(f"the stream is shorter than one window ({len(feats)} < "
                         f"{window_frames} frames); pad it")
    starts = np.arange(0, len(feats) - window_frames + 1, hop_frames)
    windows = np.stack([feats[s: s + window_frames] for s in starts])
    if per_utterance:
        windows = normalize(windows)
    post = np.asarray(model.predict(windows, batch_size=batch_size, verbose=0))
    hop_s = mel.get("hop_ms", 10.0) / 1000
    frame_s = mel.get("frame_ms", 25.0) / 1000
    return (starts + window_frames - 1) * hop_s + frame_s, post


def smooth(posteriors: np.ndarray, width: int) -> np.ndarray:
    """Causal moving average over the last ``width`` windows (Chen et al. 2014): a keyword
    must win several consecutive windows, not one.

    >>> smooth(np.array([[0.0], [1.0], [1.0], [0.0]]), 2)[:, 0].tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    p = np.asarray(posteriors, dtype="float64")
    if p.ndim != 2:
        raise ValueError(f"posteriors must be (windows, classes), got shape {p.shape}")
    width = positive_int(width, "width")
    c = np.cumsum(np.vstack([np.zeros((1, p.shape[1])), p]), axis=0)
    idx = np.arange(1, len(p) + 1)
    lo = np.maximum(idx - width, 0)
    return (c[idx] - c[lo]) / (idx - lo)[:, None]


@dataclass(frozen=True)
class Detection:
    """A keyword the detector fired on: ``time`` (s), ``label`` (class index), ``score``."""

    time: float
    label: int
    score: float


def detect(times: np.ndarray, posteriors: np.ndarray, keywords: Sequence[int], *,
           threshold: float = 0.5, refractory: float = 1.0) -> list[Detection]:
    """Fire when the best keyword's (smoothed) posterior reaches ``threshold``; then stay
    silent for ``refractory`` seconds, so that one spoken word gives one detection.

    >>> t = np.arange(6) * 0.1
    >>> p = np.array([[.1, .9], [.8, .2], [.9, .1], [.9, .1], [.2, .8], [.1, .9]])
    >>> [(d.label, round(d.time, 1)) for d in detect(t, p, [0], threshold=.7, refractory=.3)]
    [(0, 0.1)]
    """
    times = np.asarray(times, dtype="float64")
    p = np.asarray(posteriors, dtype="float64")
    if p.ndim != 2 or len(times) != len(p):
        raise ValueError(f"need times (windows,) and posteriors (windows, classes), got "
                         f"{times.shape} and {p.shape}")
    keywords = np.asarray(list(keywords), dtype=int)
    if keywords.size == 0 or keywords.min() < 0 or keywords.max() >= p.shape[1]:
        raise ValueError(f"keywords must be class indices in [0, {p.shape[1]})")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    best = keywords[np.argmax(p[:, keywords], axis=1)]
    score = p[np.arange(len(p)), best]
    found, quiet_until = [], -np.inf
    for t, label, s in zip(times, best, score, strict=True):
        if s >= threshold and t >= quiet_until:
            found.append(Detection(float(t), int(label), float(s)))
            quiet_until = t + refractory
    return found


def match_detections(detections: Sequence[Detection], truth: Sequence[tuple[float, float, int]],
                     *, tolerance: float = 0.5) -> dict[str, int]:
    """Score detections against spoken keywords ``(start, end, label)`` (s): a detection
    inside ``[start, end + tolerance]`` with the right label is a hit (one per keyword); every
    other detection is a false accept (a wrong label counts as one).

    >>> match_detections([Detection(1.2, 3, .9), Detection(5.0, 1, .8)], [(0.8, 1.3, 3)])
    {'hits': 1, 'misses': 0, 'false_accepts': 1}
    """
    used = [False] * len(truth)
    false = 0
    for d in detections:
        for i, (start, end, label) in enumerate(truth):
            if not used[i] and label == d.label and start <= d.time <= end + tolerance:
                used[i] = True
                break
        else:
            false += 1
    hits = sum(used)
    return {"hits": hits, "misses": len(truth) - hits, "false_accepts": false}


def false_accepts_per_hour(false_accepts: int, seconds: float) -> float:
    """False accepts per hour of audio, the operating metric of a wake-word detector.

    >>> false_accepts_per_hour(3, 900)
    12.0
    """
    if false_accepts < 0:
        raise ValueError(f"false_accepts must be >= 0, got {false_accepts!r}")
    return false_accepts * 3600.0 / positive_number(seconds, "seconds")


def plot_stream(wave, times, posteriors, detections: Sequence[Detection],
                truth: Sequence[tuple[float, float, int]], class_names: Sequence[str], *,
                sample_rate: int = SAMPLE_RATE, threshold: float | None = None,
                title: str = "Streaming keyword spotting"):
    """Waveform with the spoken keywords (shaded, named), log-mel spectrogram, and the
    keyword posteriors over time with the detections; returns the figure."""
    import matplotlib.pyplot as plt

    wave = _waves(wave)[0]
    t = np.arange(len(wave)) / sample_rate
    fig, axes = plt.subplots(3, 1, figsize=(11, 6.4), sharex=True, layout="constrained")
    axes[0].plot(t, wave, lw=0.4, color="0.3")
    for start, end, label in truth:
        axes[0].axvspan(start, end, color="tab:green", alpha=0.15)
        axes[0].text((start + end) / 2, 0.92, class_names[label], ha="center", va="top",
                     transform=axes[0].get_xaxis_transform(), fontsize=8)
    axes[0].set(ylabel="amplitude", title=title)
    spec = log_mel(wave[None], sample_rate=sample_rate)[0]
    axes[1].imshow(spec.T, origin="lower", aspect="auto", cmap="magma",
                   extent=(0, len(wave) / sample_rate, 0, spec.shape[1]))
    axes[1].set(ylabel="mel band")
    n_kw = sum(1 for c in class_names if not c.startswith("_"))
    keywords = posteriors[:, :n_kw]
    axes[2].plot(times, keywords.max(axis=1), color="0.6", lw=0.8, label="best keyword")
    if threshold is not None:
        axes[2].axhline(threshold, color="k", ls="--", lw=0.8, label="threshold")
    for d in detections:
        axes[2].axvline(d.time, color="tab:red", lw=0.8)
        axes[2].text(d.time, 1.02, class_names[d.label], color="tab:red", ha="center",
                     fontsize=8, transform=axes[2].get_xaxis_transform())
    axes[2].set(xlabel="time (s)", ylabel="smoothed posterior", ylim=(0, 1.0))
    axes[2].legend(loc="lower right", fontsize=8)
    return fig


def concatenate(clips: Sequence[np.ndarray], labels: Sequence[int | None], *,
                gap: tuple[float, float] = (0.4, 1.0), sample_rate: int = SAMPLE_RATE,
                seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """One long recording from ``clips`` with random pauses (uniform in ``gap`` seconds)
    before each and after the last; returns the waveform and the keywords in it as
    ``(start, end, label)`` seconds (clips whose label is None are speech without a keyword).

    >>> wave, truth = concatenate([np.ones(800, "float32")], [4], gap=(0.5, 0.5))
    >>> len(wave), truth
    (8800, [(0.5, 0.6, 4)])
    """
    if len(clips) != len(labels) or not clips:
        raise ValueError(f"need as many labels as clips (and at least one), got "
                         f"{len(clips)} clips and {len(labels)} labels")
    rng = np.random.default_rng(seed)
    pieces, truth, at = [], [], 0
    for clip, label in zip(clips, labels, strict=True):
        pause = np.zeros(int(rng.uniform(*gap) * sample_rate), dtype="float32")
        pieces += [pause, np.asarray(clip, dtype="float32")]
        at += len(pause)
        if label is not None:
            truth.append((at / sample_rate, (at + len(clip)) / sample_rate, int(label)))
        at += len(clip)
    pieces.append(np.zeros(int(rng.uniform(*gap) * sample_rate), dtype="float32"))
    return np.concatenate(pieces), truth


def operating_points(keyword_runs, negative_runs, keywords: Sequence[int],
                     thresholds: Sequence[float], *, refractory: float = 1.0,
                     tolerance: float = 0.5):
    """The detector's trade-off, threshold by threshold: the share of spoken keywords it
    misses (false-reject rate) on ``keyword_runs`` and its false accepts per hour on
    keyword-free ``negative_runs``.

    ``keyword_runs``: ``(times, smoothed posteriors, truth)`` per recording; ``negative_runs``:
    ``(times, smoothed posteriors, seconds)``. Returns a DataFrame indexed by threshold.
    """
    import pandas as pd

    rows = []
    for thr in thresholds:
        hits = spoken = wrong = 0
        for times, post, truth in keyword_runs:
            score = match_detections(detect(times, post, keywords, threshold=thr,
                                            refractory=refractory), truth, tolerance=tolerance)
            hits, spoken = hits + score["hits"], spoken + len(truth)
            wrong += score["false_accepts"]
        false = sum(len(detect(t, p, keywords, threshold=thr, refractory=refractory))
                    for t, p, _ in negative_runs)
        seconds = sum(s for _, _, s in negative_runs)
        rows.append({"threshold": thr, "false_reject_rate": 1 - hits / max(spoken, 1),
                     "false_accepts_per_hour": false_accepts_per_hour(false, seconds),
                     "wrong_keyword": wrong})
    return pd.DataFrame(rows).set_index("threshold")
