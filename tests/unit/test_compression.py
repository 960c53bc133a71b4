"""Unit tests for dlbook.compression: distillation, pruning, quantisation, measurements."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook import compression as C
from dlbook.config import import_keras

keras = import_keras()


def _mlp(inputs=6, hidden=8, classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(hidden, activation="relu"),
                             keras.layers.Dense(classes)])


def _data(n=32, inputs=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, inputs)).astype("float32"), rng.integers(0, classes, n)


# --- distillation -------------------------------------------------------------------------------


def test_soften_at_temperature_one_is_the_softmax_and_high_t_flattens_it():
    logits = np.array([[2.0, 0.5, -1.0]])
    e = np.exp(logits)
    np.testing.assert_allclose(C.soften(logits), e / e.sum(), rtol=1e-6)
    hot = C.soften(logits, temperature=1000)
    np.testing.assert_allclose(hot, np.full((1, 3), 1 / 3), atol=1e-3)
    assert C.soften(logits, 4)[0, 1] > C.soften(logits, 1)[0, 1]   # wrong classes gain


def test_distillation_loss_equals_t_squared_times_kl():
    rng = np.random.default_rng(1)
    t, s = rng.normal(size=(5, 4)).astype("float32"), rng.normal(size=(5, 4)).astype("float32")
    for temp in (1.0, 3.0):
        p, q = C.soften(t, temp), C.soften(s, temp)
        expected = temp ** 2 * np.mean(np.sum(p * np.log(p / q), axis=1))
        got = float(C.distillation_loss(t, s, temperature=temp))
        assert got == pytest.approx(expected, rel=1e-5)


def test_distillation_loss_is_zero_only_when_student_matches_teacher():
    t = np.array([[1.0, 2.0, 3.0]], "float32")
    assert float(C.distillation_loss(t, t - 2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(C.distillation_loss(t, t[:, ::-1].copy())) > 0.1


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True])
def test_bad_temperature_is_refused_with_the_fix(bad):
    with pytest.raises(ValueError, match="temperature must be a positive"):
        C.soften([[1.0, 2.0]], temperature=bad)


def test_distiller_trains_the_student_and_leaves_the_teacher_frozen():
    teacher, student = _mlp(seed=1), _mlp(hidden=4, seed=2)
    before_t = [w.copy() for w in teacher.get_weights()]
    before_s = [w.copy() for w in student.get_weights()]
    d = C.Distiller(student, teacher, temperature=2.0, alpha=0.3)
    d.compile(optimizer=keras.optimizers.Adam(0.05), run_eagerly=True)
    x, y = _data()
    history = d.fit(x, y, epochs=3, batch_size=16, verbose=0).history
    assert set(history) == {"loss", "hard_loss", "soft_loss", "accuracy"}
    assert all(np.array_equal(a, b) for a, b in zip(before_t, teacher.get_weights(), strict=True))
    assert not all(np.array_equal(a, b)
                   for a, b in zip(before_s, student.get_weights(), strict=True))
    assert history["soft_loss"][-1] < history["soft_loss"][0]


def test_distiller_loss_is_the_alpha_weighted_sum_of_its_parts():
    teacher, student = _mlp(seed=1), _mlp(hidden=4, seed=2)
    x, y = _data()
    for alpha in (0.0, 0.25, 1.0):
        d = C.Distiller(student, teacher, temperature=3.0, alpha=alpha)
        d.compile(optimizer="adam", run_eagerly=True)
        r = d.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
        assert r["loss"] == pytest.approx(alpha * r["hard_loss"] + (1 - alpha) * r["soft_loss"],
                                          rel=1e-5)
        soft = float(C.distillation_loss(teacher(x), student(x), 3.0))
        assert r["soft_loss"] == pytest.approx(soft, rel=1e-5)


def test_distiller_calls_the_student():
    teacher, student = _mlp(seed=1), _mlp(hidden=4, seed=2)
    x, _ = _data(n=4)
    d = C.Distiller(student, teacher)
    np.testing.assert_allclose(d(x), student(x), rtol=1e-6)


def test_distiller_refuses_models_with_different_classes_and_bad_alpha():
    with pytest.raises(ValueError, match="same classes"):
        C.Distiller(_mlp(classes=3), _mlp(classes=4))
    with pytest.raises(ValueError, match="alpha must be a fraction"):
        C.Distiller(_mlp(), _mlp(seed=1), alpha=1.5)
    with pytest.raises(TypeError, match="keras.Model"):
        C.Distiller(np.zeros(3), _mlp())


# --- pruning ------------------------------------------------------------------------------------


def test_prunable_weights_are_the_kernels_not_the_biases():
    model = _mlp()
    assert [tuple(v.shape) for v in C.prunable_weights(model)] == [(6, 8), (8, 3)]


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("target", [0.0, 0.5, 0.8, 0.95])
def test_masks_zero_exactly_the_target_fraction_even_with_ties(scope, target):
    weights = [np.ones((10, 10)), np.zeros((5, 4))]            # every weight ties
    masks = C.magnitude_masks(weights, target, scope=scope)
    zeros = sum((m == 0).sum() for m in masks)
    expected = (round(target * 120) if scope == "global"
                else round(target * 100) + round(target * 20))
    assert zeros == expected


def test_prune_removes_the_smallest_magnitudes_globally():
    model = _mlp(inputs=20, hidden=30)
    original = np.concatenate([np.abs(v.numpy()).ravel() for v in C.prunable_weights(model)])
    C.prune(model, 0.8)
    after = np.concatenate([v.numpy().ravel() for v in C.prunable_weights(model)])
    kept, pruned = original[after != 0], original[after == 0]
    assert kept.min() >= pruned.max()
    assert C.sparsity(model) == pytest.approx(0.8, abs=1 / after.size)


def test_global_scope_prunes_unevenly_and_layer_scope_evenly():
    model = _mlp(inputs=20, hidden=30)
    model.layers[1].kernel.assign(model.layers[1].kernel * 10.0)   # a layer of large weights
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    C.prune(model, 0.5, scope="global")
    C.prune(clone, 0.5, scope="layer")
    by_global = list(C.layer_sparsity(model).values())
    assert by_global[1] < 0.1 < 0.5 < by_global[0]      # the small weights go first
    assert list(C.layer_sparsity(clone).values()) == pytest.approx([0.5, 0.5], abs=0.02)


def test_prune_leaves_biases_untouched():
    model = _mlp()
    model.layers[0].bias.assign(np.full(8, 1e-9, "float32"))
    C.prune(model, 0.9)
    assert (model.layers[0].bias.numpy() != 0).all()


@pytest.mark.parametrize("bad", [1.0, -0.1, 2, float("nan"), "half"])
def test_sparsity_target_must_be_a_fraction_below_one(bad):
    with pytest.raises(ValueError, match="fraction in"):
        C.magnitude_masks([np.ones(4)], bad)


def test_apply_masks_refuses_masks_that_do_not_fit():
    model = _mlp()
    with pytest.raises(ValueError, match="2 weights but 1 masks"):
        C.apply_masks(C.prunable_weights(model), [np.ones((6, 8))])


def test_polynomial_schedule_rises_monotonically_to_the_final_sparsity():
    steps = range(-5, 130)
    s = [C.polynomial_sparsity(t, final=0.9, begin=10, end=110) for t in steps]
    assert s[0] == 0.0 and s[-1] == 0.9
    assert all(b >= a for a, b in zip(s[:-1], s[1:], strict=True))
    early, late = s[25] - s[15], s[115] - s[105]    # steps 20-10 and 110-100 past begin
    assert early > late                              # fast first, slow at the end


def test_gradual_pruning_reaches_the_target_and_keeps_pruned_weights_zero():
    model = _mlp(inputs=10, hidden=20)
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse", run_eagerly=True)
    x, _ = _data(n=64, inputs=10)
    y = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    cb = C.GradualPruning(0.9, begin=0, end=8, frequency=2)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])   # 16 steps
    assert C.sparsity(model) == pytest.approx(0.9, abs=1e-9)
    assert cb.history[-1] == 0.9 and cb.history == sorted(cb.history)
    zeros = [v.numpy() == 0 for v in C.prunable_weights(model)]
    fine_tune = C.GradualPruning(0.9, begin=0, end=0)   # prune at once, then hold the mask
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[fine_tune])
    now = [v.numpy() == 0 for v in C.prunable_weights(model)]
    assert all(np.array_equal(a, b) for a, b in zip(zeros, now, strict=True))


# --- quantisation -------------------------------------------------------------------------------


def test_quantiser_uses_one_scale_per_output_channel_and_errs_at_most_half_a_step():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 4, 6)).astype("float32") * np.arange(1, 7)
    q, scale = C.quantize_int8(w)
    assert q.dtype == np.int8 and scale.shape == (1, 1, 1, 6)
    np.testing.assert_allclose(scale.ravel(), np.abs(w).max(axis=(0, 1, 2)) / 127, rtol=1e-6)
    assert np.abs(q).max() == 127
    err = np.abs(C.dequantize(q, scale) - w)
    assert (err <= scale / 2 + 1e-7).all()


def test_quantiser_keeps_zeros_and_survives_an_all_zero_channel():
    w = np.array([[0.0, 0.5], [0.0, -0.25]], "float32")
    q, scale = C.quantize_int8(w)
    assert q[:, 0].tolist() == [0, 0] and np.isfinite(scale).all()
    assert C.dequantize(q, scale)[1, 1] == pytest.approx(-0.25, abs=0.5 / 127 / 2)


def test_quantiser_refuses_non_finite_weights():
    with pytest.raises(ValueError, match="NaN or inf"):
        C.quantize_int8(np.array([[1.0, np.nan]]))


def test_int8_weights_copies_the_model_and_stays_close_to_it():
    model = _mlp()
    original = [w.copy() for w in model.get_weights()]
    q = C.int8_weights(model)
    assert all(np.array_equal(a, b) for a, b in zip(original, model.get_weights(), strict=True))
    x, _ = _data()
    out, out8 = keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(q(x))
    assert 0 < np.abs(out - out8).max() < 0.05 * np.abs(out).max()


def test_keras_int8_stores_int8_kernels_and_agrees_with_float():
    model = _mlp(inputs=16, hidden=32)
    q = C.keras_int8(model)
    dtypes = {v.path.rsplit("/", 1)[-1]: v.dtype for v in q.weights}
    assert dtypes["kernel"] == "int8" and "kernel_scale" in dtypes
    x, _ = _data(inputs=16)
    out, out8 = keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(q(x))
    assert np.abs(out - out8).max() < 0.05 * np.abs(out).max()
    assert model.layers[0].kernel.dtype == "float32"           # the original is untouched


# --- measurements -------------------------------------------------------------------------------


def test_weight_bytes_counts_each_encoding():
    model = _mlp(inputs=100, hidden=10, classes=2)   # kernels 1,000 + 20; biases 12
    C.prune(model, 0.9)
    nnz = sum(int((v.numpy() != 0).sum()) for v in C.prunable_weights(model))
    assert nnz == 102
    assert C.weight_bytes(model) == 4 * (1020 + 12)
    assert C.weight_bytes(model, "sparse") == 125 + 3 + 4 * nnz + 4 * 12
    assert C.weight_bytes(model, "int8") == 1020 + 4 * 12 + 4 * 12
    assert C.weight_bytes(model, "sparse-int8") == 125 + 3 + nnz + 4 * 12 + 4 * 12
    with pytest.raises(ValueError, match="encoding must be one of"):
        C.weight_bytes(model, "zip")


def test_weight_bytes_of_a_keras_int8_model_counts_its_scales_once():
    model = _mlp(inputs=100, hidden=10, classes=2)
    assert C.weight_bytes(C.keras_int8(model), "int8") == C.weight_bytes(model, "int8")


def test_keras_file_does_not_shrink_when_pruned_but_does_when_int8():
    model = _mlp(inputs=200, hidden=64)
    dense = C.keras_file_bytes(model)
    int8 = C.keras_file_bytes(C.keras_int8(model))
    C.prune(model, 0.9)
    assert C.keras_file_bytes(model) >= dense - 64          # zeros are stored like any weight
    assert int8 < 0.6 * dense


def test_count_params_counts_non_zero_weights_after_pruning():
    model = _mlp()                                       # 6*8+8 + 8*3+3 = 83
    assert C.count_params(model) == 83 == model.count_params()
    model.layers[0].bias.assign(np.ones(8, "float32"))
    model.layers[1].bias.assign(np.ones(3, "float32"))
    C.prune(model, 0.5)
    assert C.count_params(model, nonzero=True) == 83 - 36


def test_latency_is_a_positive_median_and_checks_its_arguments():
    model = _mlp()
    assert C.latency_ms(model, np.zeros((4, 6)), repeats=5, warmup=1) > 0
    with pytest.raises(ValueError, match="repeats must be a positive int"):
        C.latency_ms(model, np.zeros((4, 6)), repeats=0)
    with pytest.raises(ValueError, match="not built"):
        C.latency_ms(keras.Sequential([keras.layers.Dense(2)]), np.zeros((4, 6)))


def test_compare_latency_times_every_model_and_checks_its_arguments():
    models = {"small": _mlp(hidden=2), "large": _mlp(hidden=256)}
    ms = C.compare_latency(models, np.zeros((64, 6)), rounds=2, repeats=3, warmup=1)
    assert set(ms) == {"small", "large"} and all(v > 0 for v in ms.values())
    with pytest.raises(ValueError, match="non-empty dict"):
        C.compare_latency({}, np.zeros((4, 6)))
    with pytest.raises(ValueError, match="rounds must be a positive int"):
        C.compare_latency(models, np.zeros((4, 6)), rounds=0)
