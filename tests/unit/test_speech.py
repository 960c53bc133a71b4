import numpy as np
import pytest

from dlbook import speech

RATE = 8000


def tone(freq, seconds=1.0, amp=0.3):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype("float32")


def test_log_mel_shape_and_a_tone_lands_in_its_band():
    low, high = speech.log_mel(np.stack([tone(300), tone(2500)]))
    assert low.shape == (98, 40)
    assert low.mean(axis=0).argmax() < high.mean(axis=0).argmax()
    fewer = speech.log_mel(tone(300), n_mels=20, hop_ms=20)
    assert fewer.shape == (1, 49, 20)


@pytest.mark.parametrize("waves, kwargs, match", [
    (np.zeros((2, 2, 10)), {}, "waves must be"),
    (np.full(8000, np.nan), {}, "NaN"),
    (np.zeros(100), {}, "at least one frame"),
    (np.zeros(8000), {"fmin": 5000.0}, "fmin < fmax"),
])
def test_log_mel_rejects_bad_input(waves, kwargs, match):
    with pytest.raises(ValueError, match=match):
        speech.log_mel(waves, **kwargs)


def test_per_utterance_normalisation_removes_gain_and_a_fixed_channel():
    rng = np.random.default_rng(0)
    voice = (tone(400) + tone(1200) * np.linspace(0, 1, RATE) + 0.01 * rng.normal(size=RATE))
    loud = speech.log_mel((voice * 3).astype("float32"), per_utterance=True)
    quiet = speech.log_mel((voice * 0.2).astype("float32"), per_utterance=True)
    plain = speech.log_mel((voice * 0.2).astype("float32"))
    assert np.abs(plain - speech.log_mel((voice * 3).astype("float32"))).mean() > 5
    assert np.abs(loud - quiet).mean() < 0.01  # only the log's 1e-6 floor differs
    tilted = np.convolve(voice, [1.0, -0.9])[:RATE].astype("float32")  # a fixed channel
    raw_gap = np.abs(speech.log_mel(tilted) - speech.log_mel(voice.astype("float32")))
    normed_gap = np.abs(speech.log_mel(tilted, per_utterance=True)
                        - speech.log_mel(voice.astype("float32"), per_utterance=True))
    assert normed_gap.mean() < raw_gap.mean() / 3


def test_mfcc_stats_summarise_each_clip():
    feats = speech.log_mel(np.stack([tone(300), tone(2000)]))
    stats = speech.mfcc_stats(feats, n_mfcc=10)
    assert stats.shape == (2, 30) and not np.allclose(stats[0], stats[1])
    with pytest.raises(ValueError, match="n_mfcc"):
        speech.mfcc_stats(feats, n_mfcc=41)


@pytest.mark.parametrize("build", [speech.tc_resnet, speech.ds_cnn])
def test_models_output_class_posteriors(build):
    m = build((98, 40), 12)
    p = m.predict(np.zeros((3, 98, 40), "float32"), verbose=0)
    assert p.shape == (3, 12) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="n_classes"):
        build((98, 40), 1)
    with pytest.raises(ValueError, match="input_shape"):
        build((98,), 12)
    with pytest.raises(ValueError, match="dropout"):
        build((98, 40), 12, dropout=1.0)


def test_tc_resnet_learns_to_tell_two_tones_apart():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    waves = np.stack([tone(f) * rng.uniform(0.3, 1) for f in rng.choice([400, 1500], 64)])
    y = (speech.log_mel(waves).mean(axis=(1,)).argmax(axis=1) > 15).astype(int)
    feats = speech.log_mel(waves, per_utterance=True)
    m = speech.tc_resnet(feats.shape[1:], 2, widths=(16,))
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(feats, y, epochs=8, batch_size=16, verbose=0)
    assert m.evaluate(feats, y, verbose=0)[1] > 0.9


def test_wilson_interval_known_values():
    lo, hi = speech.wilson_interval(0, 10)
    assert lo == 0 and abs(hi - 0.2775) < 1e-3
    lo, hi = speech.wilson_interval(10, 10)
    assert abs(lo - 0.7225) < 1e-3 and abs(hi - 1) < 1e-12
    a, b = speech.wilson_interval(3, 10)
    c, d = speech.wilson_interval(7, 10)
    assert abs(a - (1 - d)) < 1e-12 and abs(b - (1 - c)) < 1e-12
    assert speech.wilson_interval(50, 100, confidence=0.99)[0] < speech.wilson_interval(50, 100)[0]
    with pytest.raises(ValueError, match="successes"):
        speech.wilson_interval(11, 10)
    with pytest.raises(ValueError, match="trials"):
        speech.wilson_interval(0, 0)


def test_smooth_is_a_causal_moving_average():
    p = np.eye(4)
    assert np.allclose(speech.smooth(p, 1), p)
    s = speech.smooth(p, 2)
    assert np.allclose(s[:, 0], [1, 0.5, 0, 0]) and np.allclose(s[0], [1, 0, 0, 0])
    with pytest.raises(ValueError, match="width"):
        speech.smooth(p, 0)


def test_detect_fires_once_per_refractory_period_and_only_for_keywords():
    t = np.arange(20) * 0.1
    p = np.zeros((20, 3))
    p[:, 2] = 1.0                   # the non-keyword class is always certain: ignored
    p[3:8, 1] = 0.9                 # one word, five windows above the threshold
    p[15, 0] = 0.95
    found = speech.detect(t, p, [0, 1], threshold=0.8, refractory=1.0)
    assert [(d.label, round(d.time, 1)) for d in found] == [(1, 0.3), (0, 1.5)]
    assert len(speech.detect(t, p, [0, 1], threshold=0.8, refractory=0.2)) == 4
    assert speech.detect(t, p, [0, 1], threshold=0.99) == []
    with pytest.raises(ValueError, match="keywords"):
        speech.detect(t, p, [3])
    with pytest.raises(ValueError, match="threshold"):
        speech.detect(t, p, [0], threshold=0)


def test_match_detections_counts_wrong_labels_as_false_accepts_and_misses():
    truth = [(1.0, 1.5, 4), (3.0, 3.4, 7)]
    found = [speech.Detection(1.3, 4, 0.9), speech.Detection(3.2, 1, 0.9),
             speech.Detection(1.4, 4, 0.8)]
    assert speech.match_detections(found, truth) == {"hits": 1, "misses": 1, "false_accepts": 2}


class FakeModel:
    """Posterior of class 1 = mean of the window's features (so it tracks loudness)."""

    def predict(self, windows, batch_size=None, verbose=0):
        assert windows.shape[1:] == (98, 40)
        score = 1 / (1 + np.exp(-windows.mean(axis=(1, 2))))
        return np.stack([1 - score, score], axis=1)


def test_stream_posteriors_slides_a_window_over_the_stream():
    wave = np.zeros(3 * RATE, "float32")
    times, post = speech.stream_posteriors(FakeModel(), wave, hop_frames=10,
                                           per_utterance=False)
    frames = 298
    assert len(times) == len(post) == (frames - 98) // 10 + 1
    assert np.allclose(np.diff(times), 0.1) and abs(times[0] - 0.995) < 1e-9
    with pytest.raises(ValueError, match="shorter than one window"):
        speech.stream_posteriors(FakeModel(), np.zeros(RATE // 2, "float32"))


def test_concatenate_records_where_each_keyword_is():
    wave, truth = speech.concatenate([np.ones(800, "float32"), np.ones(400, "float32")],
                                     [3, None], gap=(0.25, 0.25))
    assert len(wave) == 800 + 400 + 3 * 2000
    assert truth == [(0.25, 0.35, 3)]
    with pytest.raises(ValueError, match="as many labels"):
        speech.concatenate([np.ones(3)], [1, 2])


def test_operating_points_trade_misses_for_false_accepts():
    t = np.arange(100) * 0.1
    kw = np.zeros((100, 2))
    kw[20:25, 0] = 0.7
    kw[60:65, 0] = 0.95
    neg = np.zeros((100, 2))
    neg[10:12, 0], neg[50:52, 0] = 0.6, 0.9
    curve = speech.operating_points([(t, kw, [(1.5, 2.0, 0), (5.5, 6.0, 0)])],
                                    [(t, neg, 36.0)], [0], thresholds=[0.5, 0.8, 0.99])
    assert curve.false_reject_rate.tolist() == [0.0, 0.5, 1.0]
    assert curve.false_accepts_per_hour.tolist() == [200.0, 100.0, 0.0]
    assert speech.false_accepts_per_hour(2, 36.0) == 200.0
    with pytest.raises(ValueError, match="seconds"):
        speech.false_accepts_per_hour(1, 0)
