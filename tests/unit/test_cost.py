import math

import numpy as np
import pytest

from dlbook import compression, cost, layers, models
from dlbook.config import import_keras

keras = import_keras()


def seq(input_shape, *stack):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(input_shape), *stack])


# --- analytic FLOPs -------------------------------------------------------------------------------


def test_dense_and_conv_match_hand_derived_counts():
    dense = seq((784,), keras.layers.Dense(128, activation="relu"))
    assert cost.count_flops(dense).forward == 2 * 784 * 128 + 128
    conv = seq((28, 28, 3), keras.layers.Conv2D(16, 5, strides=2, padding="same"))
    assert cost.count_flops(conv).forward == 14 * 14 * 16 * (2 * 5 * 5 * 3 + 1)
    no_bias = seq((10, 4), keras.layers.Conv1D(6, 3, use_bias=False))
    assert cost.count_flops(no_bias).forward == 8 * 6 * 2 * 3 * 4


def test_depthwise_separable_transpose_and_pooling_rules():
    x = (16, 16, 8)
    depthwise = seq(x, keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False))
    assert cost.count_flops(depthwise).forward == 16 * 16 * 8 * 2 * 9
    separable = seq(x, keras.layers.SeparableConv2D(32, 3, padding="same", use_bias=False))
    assert cost.count_flops(separable).forward == 16 * 16 * (2 * 9 * 8 + 2 * 8 * 32)
    transpose = seq((4, 4, 2), keras.layers.Conv2DTranspose(3, 2, strides=2, use_bias=False))
    assert cost.count_flops(transpose).forward == 4 * 4 * 2 * (2 * 2 * 2 * 3)
    pool = seq(x, keras.layers.MaxPooling2D(2), keras.layers.GlobalAveragePooling2D())
    assert cost.count_flops(pool).rows.flops.tolist() == [16 * 16 * 8, 8 * 8 * 8]


def test_recurrent_rules_scale_with_steps_and_gates():
    t, d, u = 12, 5, 7
    simple = cost.count_flops(seq((t, d), keras.layers.SimpleRNN(u))).forward
    lstm = cost.count_flops(seq((t, d), keras.layers.LSTM(u))).forward
    gru = cost.count_flops(seq((t, d), keras.layers.GRU(u))).forward
    assert simple == t * (2 * u * (d + u) + u)
    assert lstm == t * (8 * u * (d + u) + 8 * u)
    assert 3 * simple < gru < lstm
    longer = cost.count_flops(seq((2 * t, d), keras.layers.LSTM(u))).forward
    assert longer == 2 * lstm


def test_attention_counts_projections_scores_and_softmax():
    t, dim, heads = 10, 16, 4
    inputs = keras.Input((t, dim))
    out = keras.layers.MultiHeadAttention(heads, dim // heads)(inputs, inputs)
    report = cost.count_flops(keras.Model(inputs, out))
    k = dim // heads
    projections = 4 * (2 * t * dim * dim + t * dim)       # q, k, v, output, with biases
    own = t * dim + 2 * 2 * heads * t * t * k              # scaling, scores, weighted sum
    assert report.forward == projections + own + 5 * heads * t * t
    assert not report.unknown
    block = layers.TransformerBlock(dim, heads, 2 * dim)   # the unfused path, same count
    block_report = cost.count_flops(keras.Model(inputs, block(inputs)))
    attention = block_report.rows.set_index("type").loc["MultiHeadAttention", "flops"]
    assert attention == report.forward


def test_unknown_layers_are_reported_not_counted_as_zero():
    class Mystery(keras.layers.Layer):
        def call(self, x):
            return x * 3.0

    model = seq((4,), keras.layers.Dense(2), Mystery(name="mystery"))
    report = cost.count_flops(model)
    assert report.unknown == ["mystery"]
    assert math.isnan(report.rows.set_index("layer").loc["mystery", "flops"])
    assert report.forward == 2 * 4 * 2 + 2
    assert "mystery" in str(report)
    with pytest.raises(ValueError, match="register"):
        cost.count_flops(model, strict=True)


def test_nested_layers_and_raw_ops_are_counted_inside_containers():
    enc = models.transformer_encoder(vocab_size=30, max_len=8, dim=16, heads=2, depth=1)
    clf = models.text_classifier(enc, n_classes=3)
    report = cost.count_flops(clf, np.ones((1, 8), "int32"))
    assert not report.unknown
    statuses = report.rows.set_index("layer").status
    assert statuses["encoder"] == "container" and statuses["encoder/block_0/ff_in"] == "counted"
    assert statuses["encoder/embedding/tokens"] == "free"
    assert report.rows.type.eq("Sum").any()        # the masked mean of the classifier head


def test_count_flops_restores_the_layers_and_needs_a_length_for_variable_inputs():
    model = layers.fashion_cnn()
    cost.count_flops(model)
    assert "call" not in vars(model.get_layer("conv1"))
    ids = keras.Input((None,), dtype="int32")
    lm = keras.Model(ids, keras.layers.Dense(4)(keras.layers.Embedding(9, 4)(ids)))
    with pytest.raises(ValueError, match="example="):
        cost.count_flops(lm)
    with pytest.raises(TypeError, match="keras.Model"):
        cost.count_flops(keras.layers.Dense(3))


def test_quantised_dense_layers_are_still_counted():
    model = compression.keras_int8(seq((32,), keras.layers.Dense(8)))
    assert cost.count_flops(model).forward == 2 * 32 * 8 + 8


def test_training_estimate_skips_the_data_gradient_of_the_first_layer():
    model = seq((10,), keras.layers.Dense(20), keras.layers.Dense(5))
    first, second = 2 * 10 * 20 + 20, 2 * 20 * 5 + 5
    report = cost.count_flops(model)
    assert report.training == (first + second) + first + 2 * second


def test_register_adds_a_rule_for_a_custom_layer():
    class Square(keras.layers.Layer):
        def call(self, x):
            return x * x

    cost.register(Square)(lambda layer, inputs, output: float(np.prod(output)))
    assert cost.count_flops(seq((6,), Square())).forward == 6
    with pytest.raises(TypeError, match="Layer subclass"):
        cost.register(int)


# --- TensorFlow's profiler --------------------------------------------------------------------


def test_analytic_counts_agree_with_tensorflows_profiler_on_a_cnn():
    model = layers.fashion_cnn()
    x = np.zeros((2, 28, 28, 1), "float32")
    ours = cost.count_flops(model, x[:1])
    assert cost.tf_profiler_flops(model, x) == ours.forward
    assert cost.tf_profiler_flops(model, x, training=True) == pytest.approx(ours.training,
                                                                           rel=0.05)


# --- time, energy, carbon ---------------------------------------------------------------------


def test_step_seconds_needs_a_compiled_model_and_sane_counts():
    model = seq((3,), keras.layers.Dense(1))
    x, y = np.zeros((4, 3)), np.zeros(4)
    with pytest.raises(ValueError, match="compile"):
        cost.step_seconds(model, x, y)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="steps"):
        cost.step_seconds(model, x, y, steps=0)
    with pytest.raises(ValueError, match="warmup"):
        cost.step_seconds(model, x, y, warmup=0)


def test_power_model_energy_follows_its_stated_assumptions():
    power = cost.PowerModel(cores=2, watts_per_core=10.0, memory_gb=4, pue=1.5)
    assert power.watts == pytest.approx(20 + 4 * cost.WATTS_PER_GB_MEMORY)
    assert power.kwh(3600) == pytest.approx(power.watts * 1.5 / 1000)
    half = cost.PowerModel(cores=2, watts_per_core=10.0, usage=0.5, pue=1.0)
    assert half.kwh(7200) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="pue"):
        cost.PowerModel(cores=2, watts_per_core=10.0, pue=0.9)
    with pytest.raises(ValueError, match="watts_per_core"):
        cost.PowerModel(cores=2, watts_per_core=0)
    with pytest.raises(ValueError, match="usage"):
        cost.PowerModel(cores=2, watts_per_core=5, usage=1.5)
    with pytest.raises(ValueError, match="seconds"):
        power.kwh(-1)


def test_carbon_is_energy_times_grid_intensity():
    assert cost.carbon_g(1.0) == pytest.approx(0.954 * 453.59237)
    assert cost.carbon_g(10.0, cost.GRID_FRANCE_G_PER_KWH) == pytest.approx(570)
    with pytest.raises(ValueError, match="kwh"):
        cost.carbon_g(-1.0)
    with pytest.raises(ValueError, match="grid_g_per_kwh"):
        cost.carbon_g(1.0, 0)


def test_rapl_meter_reads_counters_and_handles_wraparound(tmp_path):
    domain = tmp_path / "intel-rapl:0"
    domain.mkdir()
    (tmp_path / "intel-rapl:0:0").mkdir()          # a sub-domain: not counted twice
    (domain / "max_energy_range_uj").write_text("1000000\n")
    (domain / "energy_uj").write_text("900000\n")
    with cost.RaplMeter(root=str(tmp_path)) as meter:
        (domain / "energy_uj").write_text("100000\n")   # wrapped past the maximum
    assert meter.joules == pytest.approx(0.2)
    with cost.RaplMeter(root=str(tmp_path / "missing")) as absent:
        pass
    assert absent.joules is None and "not exposed" in absent.why


def test_published_runs_carry_sources_and_orders_of_magnitude():
    runs = cost.published_runs()
    assert runs.source.str.len().min() > 20
    assert runs.loc["GPT-3 (175B)", "energy_kwh"] > 100 * runs.loc[
        "BERT base (110M), 64 V100 GPUs, 79 h", "energy_kwh"]
    assert runs.co2e_kg.gt(0).all()
