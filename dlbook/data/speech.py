"""Spoken keywords synthesised with espeak-ng, across accents, voices, speaking rates and
pitches, with the augmentations (noise, reverberation, gain, time shift, speed, a telephone
channel) that make a keyword spotter trained on them hear more than one clean machine voice.

No multi-speaker speech corpus can be installed offline (Google's Speech Commands is a 2.3 GB
download), so this module *makes* a training set. What it models:

- **Speakers** (:class:`Voice`): an espeak-ng accent (``en-us``, ``en-gb``, Scottish, RP,
  Lancaster, West Midlands, Caribbean, New York City: :data:`ACCENTS`) combined with one of
  espeak-ng's voice variants (:data:`VARIANTS`: male ``m1``-``m8``, female ``f1``-``f5``, the
  Klatt-synthesiser voices and a few dozen named variants that change formants, breathiness
  and pitch contour), a speaking rate in words per minute and a base pitch (espeak-ng's 0-99
  scale). :func:`sample_voices` draws them, seeded; split the *variants* to test on voices a
  model never heard (:func:`split_variants`).
- **Words**: the ten digits :data:`KEYWORDS` and, as the "unknown word" class, the twenty
  auxiliary words of the Speech Commands dataset (Warden 2018) that are not digits
  (:data:`UNKNOWN_WORDS`). :func:`synthesize` speaks one word to a float32 waveform in
  [-1, 1] at ``sample_rate`` (default 8 kHz, the telephone rate of the real test set
  :mod:`dlbook.data.registry.speech`; espeak-ng's 22,050 Hz output is resampled with a
  polyphase filter).
- **Recording conditions** (:func:`augment`): a random time shift of the word inside its
  one-second window, speed perturbation (0.9-1.1, which changes tempo and pitch together, as
  in Ko et al. 2015), a reverberant room (an exponentially decaying noise impulse response
  with a reverberation time of 0.15-0.6 s), a telephone band-pass channel (300-3,400 Hz),
  gain (-12 to +6 dB) and additive white, pink or brown noise at a signal-to-noise ratio of
  5-30 dB.
- **Running speech**: phrases of random common words (:data:`FILLER_WORDS`) from which
  one-second excerpts are cut, labelled unknown: what a streaming detector hears between
  keywords, and its main source of false accepts.
- **Silence**: background-noise-only clips for the ``_silence_`` class (:func:`noise`).

:func:`keyword_set` puts it together: for every voice, every keyword plus ``unknown_per_voice``
unknown words and ``silence_per_voice`` noise clips, each in ``copies`` augmented versions;
labels index ``[*KEYWORDS, "_unknown_", "_silence_"]``.

**Parameters**: voices (accents, variants, ``rate`` and ``pitch`` ranges), ``sample_rate``,
``length`` (samples per clip), ``copies``, and the ranges of every augmentation; ``seed``
everywhere. espeak-ng itself is deterministic, so a seed fixes the whole data set.

**Known simplifications**: a formant synthesiser is not a person. Its voices share one
pronunciation model per accent (every ``en-us`` speaker says "eight" with the same phonemes and
timing rules), they never hesitate, mumble, co-articulate with neighbouring words or speak
with emotion, their glottal source is a clean pulse train, and the "speakers" differ far less
than people do. Noise is stationary and synthetic (no babble, music, street or car noise),
rooms are a statistical impulse response, not measured ones, and there is no microphone
response beyond the telephone band. This is why a model that is near-perfect on held-out
synthetic voices does much worse on a real speaker: the sim-to-real gap the speech chapter
measures.

>>> v = Voice("en-us", "f3", rate=160, pitch=60)
>>> wave = synthesize("seven", v)
>>> wave.dtype, wave.ndim, 0.3 < len(wave) / SAMPLE_RATE < 1.5
(dtype('float32'), 1, True)
>>> x, y, meta = keyword_set(sample_voices(2, seed=0), copies=1, seed=0)
>>> x.shape, int(y.max()), sorted(meta.columns)[:3]
((26, 8000), 11, ['accent', 'copy', 'pitch'])
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number

__all__ = [
    "ACCENTS", "CLASS_NAMES", "FILLER_WORDS", "KEYWORDS", "SAMPLE_RATE", "UNKNOWN_WORDS", "VARIANTS",
    "EspeakNotFound", "Voice", "augment", "espeak_path", "keyword_set", "noise", "place",
    "sample_voices", "split_variants", "synthesize", "synthesize_many", "trim",
]

SAMPLE_RATE = 8_000
"""Samples per second of every waveform here: the telephone rate of the real test set."""
ESPEAK_RATE = 22_050
KEYWORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
UNKNOWN_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "bed",
                 "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow")
"""Speech Commands' words other than the digits (Warden 2018): the "unknown word" class."""
FILLER_WORDS = tuple("""
the a and of to in is you that it he was for are as with his they at be this have from or
by not but what all were we when your can said there use an each which she do how their if
will up other about out many then them these so some her would make like him into time has
look more write go see way could people my than first water been call who oil its now find
long down day did get come made may part over new sound take only little work know place
year live me back give most very after thing our just name good sentence man think say
great where help through much before line right too mean old any same tell boy follow came
want show also around form small set put end does another well large must big even such
because turn here why ask went men read need land different home us move try kind hand
picture again change off play spell air away animal house point page letter mother answer
found study still learn should world high every near add food between own below country
plant last school father keep tree never start city earth eye light thought head under story
saw left don't few while along might close something seem next hard open example begin life
always those both paper together got group often run important until children side feet car
mile night walk white sea began grow took river carry state once book hear stop without
second later miss idea enough eat face watch far really almost let above girl sometimes
mountain cut young talk soon list song being leave family it's
""".split())
"""Common English words (none a digit), read in random phrases: speech that is no keyword."""
CLASS_NAMES = (*KEYWORDS, "_unknown_", "_silence_")
UNKNOWN, SILENCE = len(KEYWORDS), len(KEYWORDS) + 1
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4", "adam", "Alex", "Alicia", "Andrea", "Andy",
            "Annie", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward",
            "Gene", "grandma", "grandpa", "iven", "john", "linda", "max", "Michael", "Mike",
            "norbert", "paul", "quincy", "rob", "robert", "steph", "travis", "victor", "zac")
"""espeak-ng voice variants that sound like speech (robots, whispers and croaks left out)."""
NOISE_KINDS = ("white", "pink", "brown")


class EspeakNotFound(FileNotFoundError):
    """espeak-ng is not installed."""


def espeak_path() -> str:
    """The espeak-ng executable, or :class:`EspeakNotFound` saying how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakNotFound(
            "espeak-ng is not installed; the speech chapter synthesises its training words "
            "with it: sudo apt-get install espeak-ng (Debian/Ubuntu; macOS: brew install "
            "espeak-ng)"
        )
    return path


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: espeak-ng ``accent`` + ``variant``, ``rate`` (words per minute,
    80-450) and ``pitch`` (0-99)."""

    accent: str
    variant: str
    rate: int = 160
    pitch: int = 50

    def __post_init__(self) -> None:
        if self.accent not in ACCENTS:
            raise ValueError(f"unknown accent {self.accent!r}; use one of {', '.join(ACCENTS)}")
        if not isinstance(self.variant, str) or not self.variant.isalnum():
            raise ValueError(f"variant must be an espeak-ng variant name such as 'f3', "
                             f"got {self.variant!r}")
        if not 80 <= int(self.rate) <= 450:
            raise ValueError(f"rate must be 80-450 words per minute, got {self.rate!r}")
        if not 0 <= int(self.pitch) <= 99:
            raise ValueError(f"pitch must be 0-99 (espeak-ng's scale), got {self.pitch!r}")

    @property
    def name(self) -> str:
        """The ``-v`` argument of espeak-ng, e.g. ``'en-us+f3'``."""
        return f"{self.accent}+{self.variant}"


def split_variants(test_fraction: float = 0.25, *, seed: int = 0,
                   variants: Sequence[str] = VARIANTS) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Variants for training and held-out variants for testing (no voice in both).

    >>> train, test = split_variants(0.25, seed=0)
    >>> len(train), len(test), set(train) & set(test)
    (37, 12, set())
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(variants))
    n_test = max(1, round(test_fraction * len(variants)))
    test = tuple(variants[i] for i in sorted(order[:n_test]))
    return tuple(v for v in variants if v not in test), test


def sample_voices(n: int, *, seed: int = 0, variants: Sequence[str] = VARIANTS,
                  accents: Sequence[str] = ACCENTS, rate: tuple[int, int] = (120, 240),
                  pitch: tuple[int, int] = (20, 80)) -> list[Voice]:
    """``n`` random voices: accent and variant uniformly, rate and pitch uniformly in their
    ranges (inclusive). Variants are drawn without replacement while they last, so a small
    ``n`` still spans many voices.

    >>> [v.name for v in sample_voices(2, seed=1, variants=("f3", "m2"))]
    ['en-gb-x-gbclan+f3', 'en-us+m2']
    """
    n = positive_int(n, "n")
    if not variants or not accents:
        raise ValueError("variants and accents must not be empty")
    for what, (low, high) in (("rate", rate), ("pitch", pitch)):
        if low > high:
            raise ValueError(f"{what} range must be (low, high) with low <= high, got {(low, high)}")
    rng = np.random.default_rng(seed)
    picks = np.concatenate([rng.permutation(len(variants)) for _ in range(-(-n // len(variants)))])
    return [
        Voice(str(accents[rng.integers(len(accents))]), str(variants[picks[i]]),
              int(rng.integers(rate[0], rate[1] + 1)), int(rng.integers(pitch[0], pitch[1] + 1)))
        for i in range(n)
    ]


def _resample(wave: np.ndarray, source: int, target: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    if source == target:
        return wave.astype("float32")
    g = gcd(source, target)
    return resample_poly(wave, target // g, source // g).astype("float32")


@lru_cache(maxsize=8192)
def _speak(text: str, voice: Voice) -> bytes:
    cmd = [espeak_path(), "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch),
           "--stdout", text]
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0 or len(done.stdout) <= 44:
        raise RuntimeError(f"espeak-ng failed for voice {voice.name!r}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout[44:]  # 16-bit mono PCM after the 44-byte WAV header


def synthesize(text: str, voice: Voice, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``text`` spoken by ``voice``: float32 waveform in [-1, 1] at ``sample_rate`` Hz, with
    espeak-ng's leading and trailing silence kept (use :func:`trim`)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty str, got {text!r}")
    if not isinstance(voice, Voice):
        raise TypeError(f"voice must be a Voice, got {type(voice).__name__}")
    pcm = np.frombuffer(_speak(text, voice), dtype="<i2").astype("float32") / 32768.0
    return _resample(pcm, ESPEAK_RATE, positive_int(sample_rate, "sample_rate"))


def synthesize_many(texts: Sequence[str], voices: Sequence[Voice], *,
                    sample_rate: int = SAMPLE_RATE, workers: int = 4) -> list[np.ndarray]:
    """:func:`synthesize` for pairs ``(texts[i], voices[i])``, several espeak-ng processes at
    a time."""
    if len(texts) != len(voices):
        raise ValueError(f"texts and voices must pair up, got {len(texts)} and {len(voices)}")
    with ThreadPoolExecutor(positive_int(workers, "workers")) as pool:
        return list(pool.map(lambda tv: synthesize(*tv, sample_rate=sample_rate),
                             zip(texts, voices, strict=True)))


def trim(wave: np.ndarray, *, threshold_db: float = -35.0, frame: int = 80) -> np.ndarray:
    """``wave`` without the leading and trailing frames quieter than ``threshold_db`` below
    its loudest frame (RMS per ``frame`` samples).

    >>> w = np.r_[np.zeros(800), np.ones(400), np.zeros(800)].astype("float32")
    >>> len(trim(w))
    400
    """
    wave = np.asarray(wave, dtype="float32")
    n = len(wave) // frame
    if n == 0:
        return wave
    rms = np.sqrt((wave[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    return wave[loud[0] * frame: (loud[-1] + 1) * frame]


def place(wave: np.ndarray, length: int, *, offset: int | None = None) -> np.ndarray:
    """``wave`` in a window of ``length`` samples: centred, moved by ``offset`` samples (it may
    be cut at the window's edge), zero-padded.

    >>> place(np.ones(4, "float32"), 8).tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    >>> place(np.ones(4, "float32"), 8, offset=3).tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    """
    length = positive_int(length, "length")
    out = np.zeros(length, dtype="float32")
    start = (length - len(wave)) // 2 + (offset or 0)
    lo, hi = max(start, 0), min(start + len(wave), length)
    if hi > lo:
        out[lo:hi] = wave[lo - start: hi - start]
    return out


def noise(n: int, rng: np.random.Generator, kind: str = "pink") -> np.ndarray:
    """``n`` samples of unit-RMS ``white``, ``pink`` (1/f power) or ``brown`` (1/f²) noise."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; use one of {', '.join(NOISE_KINDS)}")
    spectrum = np.fft.rfft(rng.standard_normal(positive_int(n, "n")))
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    spectrum *= {"white": 1.0, "pink": f ** -0.5, "brown": f ** -1.0}[kind]
    out = np.fft.irfft(spectrum, n)
    return (out / (np.sqrt((out ** 2).mean()) + 1e-12)).astype("float32")


def _room(rng: np.random.Generator, sample_rate: int, rt60: float) -> np.ndarray:
    t = np.arange(int(rt60 * sample_rate)) / sample_rate
    ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    ir[0] = 1.0 / 0.3  # direct path dominates
    return (ir / np.abs(ir).sum() * 3).astype("float32")


def _telephone(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(4, [300, min(3400, 0.45 * sample_rate)], btype="band", fs=sample_rate,
                 output="sos")
    return sosfilt(sos, wave).astype("float32")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt((x ** 2).mean() + 1e-12))


def augment(wave: np.ndarray, rng: np.random.Generator, *, length: int = SAMPLE_RATE,
            sample_rate: int = SAMPLE_RATE, shift: float = 0.15,
            speed: tuple[float, float] = (0.9, 1.1), reverb: float = 0.3,
            rt60: tuple[float, float] = (0.15, 0.6), telephone: float = 0.5,
            gain_db: tuple[float, float] = (-12.0, 6.0), snr_db: tuple[float, float] | None = (5.0, 30.0),
            ) -> np.ndarray:
    """One random recording of the (trimmed) word ``wave`` in a ``length``-sample window:
    speed factor uniform in ``speed``, a reverberant room with probability ``reverb`` (RT60
    uniform in ``rt60``), a telephone band-pass with probability ``telephone``, a shift of up
    to ``shift`` × length, gain uniform in ``gain_db``, then noise at an SNR uniform in
    ``snr_db`` (None: no noise). Peak-clipped to [-1, 1].

    >>> rng = np.random.default_rng(0)
    >>> out = augment(np.sin(np.arange(4000) / 3).astype("float32"), rng)
    >>> out.shape, out.dtype, bool(np.abs(out).max() <= 1)
    ((8000,), dtype('float32'), True)
    """
    wave = np.asarray(wave, dtype="float32")
    if wave.ndim != 1 or len(wave) == 0:
        raise ValueError(f"wave must be a non-empty 1-D waveform, got shape {wave.shape}")
    if not 0 <= reverb <= 1 or not 0 <= telephone <= 1:
        raise ValueError("reverb and telephone are probabilities in [0, 1]")
    factor = rng.uniform(*speed)
    if factor != 1.0:
        grid = np.arange(0, len(wave) - 1, positive_number(factor, "speed factor"))
        wave = np.interp(grid, np.arange(len(wave)), wave).astype("float32")
    if rng.random() < reverb:
        from scipy.signal import fftconvolve

        wave = fftconvolve(wave, _room(rng, sample_rate, rng.uniform(*rt60)))[: len(wave) + 800]
    if rng.random() < telephone:
        wave = _telephone(wave, sample_rate)
    limit = int(shift * length)
    out = place(wave, length, offset=int(rng.integers(-limit, limit + 1)) if limit else 0)
    out *= 0.3 / _rms(wave) * 10 ** (rng.uniform(*gain_db) / 20)
    if snr_db is not None:
        level = _rms(out[out != 0]) if (out != 0).any() else 0.01
        kind = NOISE_KINDS[rng.integers(len(NOISE_KINDS))]
        out += noise(length, rng, kind) * level * 10 ** (-rng.uniform(*snr_db) / 20)
    return np.clip(out, -1, 1).astype("float32")


def keyword_set(voices: Sequence[Voice], *, copies: int = 2, unknown_per_voice: int = 2,
                phrases_per_voice: int = 0, phrase_words: int = 5,
                silence_per_voice: int = 1, length: int = SAMPLE_RATE,
                sample_rate: int = SAMPLE_RATE, seed: int = 0, **augmentation,
                ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """A labelled set: for each voice, the ten keywords and ``unknown_per_voice`` random
    :data:`UNKNOWN_WORDS`, each in ``copies`` :func:`augment` versions (``augmentation`` passes
    its ranges on), ``phrases_per_voice`` phrases of ``phrase_words`` random
    :data:`FILLER_WORDS` of which ``copies`` random one-second excerpts are kept (running
    speech without a keyword, labelled unknown, as a streaming detector hears it), and
    ``silence_per_voice`` × ``copies`` noise-only clips.

    Returns ``x`` (float32, ``(n, length)``), ``y`` (int64 indices into :data:`CLASS_NAMES`)
    and ``meta`` (one row per clip: word, voice name, accent, variant, rate, pitch, copy).
    """
    if not voices:
        raise ValueError("voices must not be empty; draw some with sample_voices(n)")
    copies = positive_int(copies, "copies")
    rng = np.random.default_rng(seed)
    jobs = []  # (word, label, voice)
    for voice in voices:
        unknown = rng.choice(UNKNOWN_WORDS, size=unknown_per_voice, replace=False)
        jobs += [(w, i, voice) for i, w in enumerate(KEYWORDS)]
        jobs += [(str(w), UNKNOWN, voice) for w in unknown]
        jobs += [(" ".join(rng.choice(FILLER_WORDS, size=phrase_words)), UNKNOWN, voice)
                 for _ in range(phrases_per_voice)]
    clean = synthesize_many([j[0] for j in jobs], [j[2] for j in jobs], sample_rate=sample_rate)
    xs, rows = [], []
    for (word, label, voice), wave in zip(jobs, clean, strict=True):
        wave = trim(wave)
        for c in range(copies):
            piece = wave
            if " " in word and len(wave) > length:  # a phrase: one second out of it
                start = int(rng.integers(0, len(wave) - length + 1))
                piece = wave[start: start + length]
            xs.append(augment(piece, rng, length=length, sample_rate=sample_rate,
                              **augmentation))
            rows.append({"word": word, "label": label, "voice": voice.name, **asdict(voice),
                         "copy": c})
    for voice in voices:
        for c in range(silence_per_voice * copies):
            level = 0.3 * 10 ** (rng.uniform(-35, -5) / 20)
            kind = NOISE_KINDS[rng.integers(len(NOISE_KINDS))]
            xs.append(np.clip(noise(length, rng, kind) * level, -1, 1))
            rows.append({"word": "", "label": SILENCE, "voice": voice.name, **asdict(voice),
                         "copy": c})
    meta = pd.DataFrame(rows)
    return np.stack(xs).astype("float32"), meta.pop("label").to_numpy("int64"), meta
