import shutil

import numpy as np
import pytest

from dlbook import data
from dlbook.data import speech as sd
from dlbook.data._sources import ChecksumMismatch, SourceUnavailable
from dlbook.data.registry import speech as reg

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed")


def test_missing_espeak_names_the_install_command(monkeypatch):
    monkeypatch.setattr(sd.shutil, "which", lambda name: None)
    with pytest.raises(sd.EspeakNotFound, match="apt-get install espeak-ng"):
        sd.espeak_path()


@pytest.mark.parametrize("kwargs, match", [
    ({"accent": "en-xx"}, "unknown accent"),
    ({"variant": "f3; rm"}, "variant must be"),
    ({"rate": 50}, "rate must be 80-450"),
    ({"pitch": 120}, "pitch must be 0-99"),
])
def test_voice_rejects_bad_settings(kwargs, match):
    settings = {"accent": "en-us", "variant": "f3", "rate": 160, "pitch": 50, **kwargs}
    with pytest.raises(ValueError, match=match):
        sd.Voice(**settings)


def test_sample_voices_is_seeded_and_stays_in_its_ranges():
    a = sd.sample_voices(30, seed=3, variants=("m1", "f2", "klatt"), rate=(100, 120))
    assert a == sd.sample_voices(30, seed=3, variants=("m1", "f2", "klatt"), rate=(100, 120))
    assert a != sd.sample_voices(30, seed=4, variants=("m1", "f2", "klatt"), rate=(100, 120))
    assert {v.variant for v in a} == {"m1", "f2", "klatt"}
    assert all(100 <= v.rate <= 120 and 20 <= v.pitch <= 80 for v in a)
    few = sd.sample_voices(10, seed=0)
    assert len({v.variant for v in few}) == 10  # without replacement while variants last


def test_split_variants_holds_out_whole_voices():
    train, test = sd.split_variants(0.25, seed=0)
    assert not set(train) & set(test)
    assert sorted(train + test) == sorted(sd.VARIANTS)
    with pytest.raises(ValueError, match="test_fraction"):
        sd.split_variants(1.0)


@needs_espeak
def test_synthesis_is_deterministic_and_voices_differ():
    v = sd.Voice("en-gb", "m3", rate=150, pitch=40)
    a, b = sd.synthesize("nine", v), sd.synthesize("nine", v)
    assert np.array_equal(a, b) and a.dtype == np.float32
    assert 0.2 < len(sd.trim(a)) / sd.SAMPLE_RATE < 1.2
    assert np.abs(a).max() <= 1.0 and np.abs(a).max() > 0.05
    other = sd.synthesize("nine", sd.Voice("en-us", "f4", rate=150, pitch=70))
    n = min(len(a), len(other))
    assert not np.allclose(a[:n], other[:n])
    faster = sd.synthesize("nine", sd.Voice("en-gb", "m3", rate=300, pitch=40))
    assert len(sd.trim(faster)) < len(sd.trim(a))


@needs_espeak
def test_synthesis_rejects_empty_text_and_non_voice():
    with pytest.raises(ValueError, match="non-empty"):
        sd.synthesize(" ", sd.Voice("en-us", "m1"))
    with pytest.raises(TypeError, match="Voice"):
        sd.synthesize("one", "en-us+m1")


def test_place_centres_shifts_and_cuts():
    w = np.arange(1, 5, dtype="float32")
    assert sd.place(w, 8).tolist() == [0, 0, 1, 2, 3, 4, 0, 0]
    assert sd.place(w, 8, offset=-4).tolist() == [3, 4, 0, 0, 0, 0, 0, 0]
    assert sd.place(w, 2).tolist() == [2, 3]


def test_noise_has_unit_rms_and_the_right_colour():
    rng = np.random.default_rng(0)
    spectra = {}
    for kind in ("white", "pink", "brown"):
        x = sd.noise(16_000, rng, kind)
        assert abs(np.sqrt((x ** 2).mean()) - 1) < 1e-3
        power = np.abs(np.fft.rfft(x)) ** 2
        spectra[kind] = power[10:400].mean() / power[4000:8000].mean()
    assert spectra["white"] < 2 < spectra["pink"] < spectra["brown"]
    with pytest.raises(ValueError, match="unknown noise kind"):
        sd.noise(10, rng, "blue")


def test_augment_adds_noise_at_the_requested_snr():
    rng = np.random.default_rng(1)
    word = np.sin(np.arange(4000) / 4).astype("float32")
    clean = sd.augment(word, np.random.default_rng(1), speed=(1, 1), reverb=0, telephone=0,
                       shift=0, gain_db=(0, 0), snr_db=None)
    noisy = sd.augment(word, rng, speed=(1, 1), reverb=0, telephone=0, shift=0,
                       gain_db=(0, 0), snr_db=(10, 10))
    signal = clean[clean != 0]
    residual = (noisy - clean)[clean != 0]
    snr = 10 * np.log10((signal ** 2).mean() / (residual ** 2).mean())
    assert abs(snr - 10) < 1.0
    assert noisy.shape == (sd.SAMPLE_RATE,) and np.abs(noisy).max() <= 1


def test_augment_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="1-D waveform"):
        sd.augment(np.zeros((2, 10), "float32"), rng)
    with pytest.raises(ValueError, match="probabilities"):
        sd.augment(np.ones(100, "float32"), rng, reverb=2)


@needs_espeak
def test_keyword_set_labels_every_class_and_is_seeded():
    voices = sd.sample_voices(2, seed=0)
    x, y, meta = sd.keyword_set(voices, copies=2, unknown_per_voice=1, seed=5)
    assert x.shape == (2 * (10 + 1) * 2 + 2 * 2, sd.SAMPLE_RATE)
    assert np.bincount(y).tolist() == [4] * 10 + [4, 4]
    assert set(meta.word[y == sd.UNKNOWN]) <= set(sd.UNKNOWN_WORDS)
    assert (meta.word[y == 3] == "three").all()
    x2, y2, _ = sd.keyword_set(voices, copies=2, unknown_per_voice=1, seed=5)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    with pytest.raises(ValueError, match="voices must not be empty"):
        sd.keyword_set([])


# --- the real recordings -----------------------------------------------------------------------

needs_asterisk = pytest.mark.skipif(not data.availability("asterisk-digits")[0],
                                    reason="asterisk-core-sounds-en-wav is not installed")


@needs_asterisk
def test_asterisk_digits_are_21_numbers_at_8_khz():
    d = data.load("asterisk-digits")
    assert len(d.x_test) == 21 and d.y_test.tolist() == list(range(21))
    assert d.class_names[:3] == ["zero", "one", "two"] and d.class_names[-1] == "twenty"
    assert all(w.dtype == np.float32 and 0.3 < len(w) / 8000 < 1.5 for w in d.x_test)
    assert len(d.x_train) == 0


@needs_asterisk
def test_asterisk_prompts_hold_no_number_recordings():
    p = data.load("asterisk-prompts")
    assert len(p.x_test) == len(reg.PROMPT_FILES) == 389
    assert len(set(reg.PROMPT_FILES)) == 389
    assert not any(name.startswith("digits/") for name in p.feature_names)
    assert 800 < sum(len(w) for w in p.x_test) / 8000 < 900


def test_missing_package_names_it(tmp_path):
    source = reg.AsteriskSounds(files={}, package=reg.PACKAGE, path=str(tmp_path),
                                names=("digits/0",), sha256="0" * 64)
    with pytest.raises(SourceUnavailable, match="apt-get install asterisk-core-sounds-en-wav"):
        source.fetch()


def test_changed_recordings_fail_the_checksum(tmp_path):
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "0.wav").write_bytes(b"not the recording")
    source = reg.AsteriskSounds(files={}, package=reg.PACKAGE, path=str(tmp_path),
                                names=("digits/0",), sha256="0" * 64)
    with pytest.raises(ChecksumMismatch, match="reinstall"):
        source.fetch()


@needs_espeak
def test_phrases_give_one_second_excerpts_of_running_speech_labelled_unknown():
    voices = sd.sample_voices(1, seed=2)
    x, y, meta = sd.keyword_set(voices, copies=2, unknown_per_voice=0, phrases_per_voice=2,
                                phrase_words=6, silence_per_voice=0, seed=0)
    phrases = meta.word.str.contains(" ").to_numpy()
    assert phrases.sum() == 4 and (y[phrases] == sd.UNKNOWN).all()
    assert all(set(w.split()) <= set(sd.FILLER_WORDS) for w in meta.word[phrases])
    assert not set(sd.FILLER_WORDS) & set(sd.KEYWORDS)
    busy = (np.abs(x[phrases]) > 0.01).mean(axis=1)
    assert (busy > 0.3).all()  # speech fills most of the window, not one short word
