import numpy as np
import pytest

from dlbook import edge

keras = edge.keras


@pytest.fixture(scope="module")
def cnn():
    """A tiny trained-looking CNN: random weights are enough to compare runtimes."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(8, activation="relu", name="dense"),
        keras.layers.Dense(3, name="logits"),
    ])


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 1, (64, 8, 8, 1)).astype("float32")


@pytest.fixture(scope="module")
def int8_model(cnn, images):
    return edge.LiteModel(edge.convert(cnn, "int8", representative=images[:32]))


# --- the arithmetic ------------------------------------------------------------------------------

def test_affine_params_cover_the_range_and_keep_zero_exact():
    scale, zero = edge.affine_params(-0.5, 1.5)
    assert scale == pytest.approx(2.0 / 255)
    assert edge.dequantize(edge.quantize([0.0], scale, zero), scale, zero)[0] == 0.0
    lo, hi = edge.dequantize([-128, 127], scale, zero)
    assert lo == pytest.approx(-0.5, abs=scale) and hi == pytest.approx(1.5, abs=scale)
    assert edge.affine_params(0.5, 2.0)[1] == -128           # range widened down to 0
    assert edge.affine_params(0.0, 0.0) == (1.0, 0)


def test_affine_params_refuse_bad_ranges_and_types():
    with pytest.raises(ValueError, match="lo <= hi"):
        edge.affine_params(1.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        edge.affine_params(0.0, np.inf)
    with pytest.raises(ValueError, match="int8 or uint8"):
        edge.affine_params(0.0, 1.0, dtype="int16")


def test_quantize_rounds_within_half_a_step_and_clips_outside():
    x = np.linspace(-1, 1, 1001)
    scale, zero = edge.affine_params(-1, 1)
    err = np.abs(edge.dequantize(edge.quantize(x, scale, zero), scale, zero) - x)
    assert err.max() <= scale / 2 + 1e-7
    assert edge.quantize([5.0, -5.0], scale, zero).tolist() == [127, -128]
    assert edge.quantize([5.0], 1 / 255, 0, dtype="uint8").dtype == np.uint8
    with pytest.raises(ValueError, match="scale must be > 0"):
        edge.quantize([1.0], 0.0, 0)


# --- conversion ----------------------------------------------------------------------------------

def test_every_mode_converts_and_quantised_files_are_smaller(cnn, images):
    sizes = {mode: len(edge.convert(cnn, mode, representative=images[:16]
                                    if mode == "int8" else None))
             for mode in edge.MODES}
    assert sizes["float16"] < sizes["float32"]
    assert sizes["dynamic-int8"] < sizes["float16"]
    assert sizes["int8"] < sizes["float16"]


def test_convert_explains_wrong_modes_and_calibration_data(cnn, images):
    with pytest.raises(ValueError, match="mode must be one of"):
        edge.convert(cnn, "int4")
    with pytest.raises(ValueError, match="representative"):
        edge.convert(cnn, "int8")
    with pytest.raises(ValueError, match="only by mode 'int8'"):
        edge.convert(cnn, "float16", representative=images)
    with pytest.raises(ValueError, match=r"shaped \(n, 8, 8, 1\)"):
        edge.convert(cnn, "int8", representative=images[..., 0])
    with pytest.raises(TypeError, match="keras.Model"):
        edge.convert("model.keras")


def test_convert_prints_nothing(cnn, images, capsys):
    edge.convert(cnn, "int8", representative=images[:8])
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


# --- running -------------------------------------------------------------------------------------

def test_float_lite_model_matches_keras_with_and_without_xnnpack(cnn, images):
    flat = edge.convert(cnn)
    expected = cnn.predict(images, verbose=0)
    for lite in (edge.LiteModel(flat), edge.LiteModel(flat, xnnpack=False)):
        assert lite.input_dtype == "float32"
        assert np.abs(lite.predict(images, batch_size=10) - expected).max() < 1e-5


def test_int8_model_is_integer_throughout_and_close_to_float(cnn, images, int8_model):
    assert int8_model.input_dtype == int8_model.output_dtype == "int8"
    scale, zero = int8_model.input_quantization
    assert zero == -128 and scale == pytest.approx(1 / 255, rel=0.02)
    ops = int8_model.ops()
    assert {"CONV_2D", "FULLY_CONNECTED"} <= set(ops.op)
    assert not ops.inputs.str.contains("float").any()
    out = int8_model.predict(images)
    assert out.dtype == np.float32
    assert np.abs(out - cnn.predict(images, verbose=0)).max() < 0.1 * np.abs(out).max()


def test_calibration_range_decides_the_input_scale(cnn, images):
    raw = edge.LiteModel(edge.convert(cnn, "int8", representative=255 * images[:16]))
    assert raw.input_quantization[0] == pytest.approx(1.0, rel=0.02)


def test_constant_returns_int8_codes_with_a_scale_per_channel(cnn, int8_model):
    codes, scales, zeros = int8_model.constant("dense")
    assert codes.dtype == np.int8 and codes.shape == (8, 144)    # (out, in)
    assert len(scales) == 8 and not np.any(zeros)
    restored = (codes * scales[:, None]).T
    kernel = cnn.get_layer("dense").kernel.numpy()
    assert np.all(np.abs(restored - kernel) <= scales / 2 + 1e-6)
    with pytest.raises(ValueError, match="match 'nothing'"):
        int8_model.constant("nothing")


def test_lite_model_refuses_bad_bytes_and_bad_shapes(int8_model):
    with pytest.raises(ValueError, match="tflite"):
        edge.LiteModel(b"not a model")
    with pytest.raises(ValueError, match="single example needs x"):
        int8_model.predict(np.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match="batch_size"):
        int8_model.predict(np.zeros((1, 8, 8, 1)), batch_size=0)


def test_latency_is_positive_and_batch_size_survives(int8_model, images):
    assert int8_model.latency_ms(images[:1], repeats=3) > 0
    assert int8_model.predict(images).shape == (64, 3)          # resized back from 1


def test_compare_reports_one_row_per_model_and_agreement(cnn, images, int8_model):
    y = cnn.predict(images, verbose=0).argmax(axis=1)
    table = edge.compare(cnn, {"int8": int8_model}, images, y, rounds=1, repeats=2)
    assert table.index.tolist() == ["Keras", "int8"]
    assert table.columns.tolist() == ["size (KB)", "accuracy", "agreement", "latency (ms)"]
    assert table.loc["Keras", "accuracy"] == 1.0            # labels are its own predictions
    assert table.loc["int8", "agreement"] == table.loc["int8", "accuracy"]
    assert table.loc["int8", "size (KB)"] < table.loc["Keras", "size (KB)"]
    with pytest.raises(ValueError, match="equal length"):
        edge.compare(cnn, {"int8": int8_model}, images, y[:3])
    with pytest.raises(ValueError, match="lite is empty"):
        edge.compare(cnn, {}, images, y)
