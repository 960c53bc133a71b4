import copy

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dlbook import data  # noqa: E402
from dlbook import experiments as ex  # noqa: E402
from dlbook.config import import_keras  # noqa: E402

keras = import_keras()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _toy(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    return x, y


def _tiny_model(units=8, dropout=0.0):
    def build():
        inputs = keras.Input((4,))
        h = keras.layers.Dense(units, activation="relu")(inputs)
        if dropout:
            h = keras.layers.Dropout(dropout)(h)
        outputs = keras.layers.Dense(2, activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    return build


# --- three_way_split ----------------------------------------------------------------------------


def test_three_way_split_parts_are_disjoint_and_sized():
    digits = data.load("digits")
    s = ex.three_way_split(digits, n_train=400, n_val=300, n_test=200)
    assert s.sizes() == {"train": 400, "val": 300, "test": 200}
    train_rows = {row.tobytes() for row in s.train[0].reshape(400, -1)}
    val_rows = {row.tobytes() for row in s.val[0].reshape(300, -1)}
    # digits has a few duplicated images; the split itself never reuses an index
    assert len(train_rows & val_rows) <= 3
    assert s.class_names == digits.class_names


def test_three_way_split_is_stratified():
    s = ex.three_way_split(data.load("digits"), n_train=500, n_val=200)
    counts = np.bincount(s.val[1], minlength=10)
    assert counts.min() >= 19 and counts.max() <= 21


def test_three_way_split_is_reproducible_and_seeded():
    digits = data.load("digits")
    a = ex.three_way_split(digits, n_train=100, n_val=50, seed=1)
    b = ex.three_way_split(digits, n_train=100, n_val=50, seed=1)
    c = ex.three_way_split(digits, n_train=100, n_val=50, seed=2)
    assert np.array_equal(a.val[0], b.val[0])
    assert not np.array_equal(a.val[0], c.val[0])


def test_three_way_split_asking_for_too_much_says_how_much_there_is():
    with pytest.raises(ValueError, match="has only 1437"):
        ex.three_way_split(data.load("digits"), n_train=1400, n_val=100)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_three_way_split_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="positive int"):
        ex.three_way_split(data.load("digits"), n_train=bad, n_val=10)


# --- run_variants -------------------------------------------------------------------------------


def test_run_variants_tabulates_every_variant():
    train, val, test = _toy(64, 0), _toy(32, 1), _toy(32, 2)
    out = ex.run_variants({"small": _tiny_model(4), "big": _tiny_model(16)}, train, val, test,
                          {"epochs": 3, "batch_size": 16}, baseline="small")
    assert list(out.table.index) == ["small", "big"]
    assert list(out.table.columns) == ["train_accuracy", "val_accuracy", "test_accuracy", "gap",
                                       "vs_baseline", "test_loss", "epochs", "seconds", "params"]
    probs = out.models["big"].predict(test[0], verbose=0)
    assert out.table.loc["big", "test_loss"] == pytest.approx(ex.cross_entropy(probs, test[1]),
                                                              rel=1e-5)
    assert out.table.loc["small", "vs_baseline"] == 0.0
    assert out.table.loc["big", "params"] > out.table.loc["small", "params"]
    row = out.table.loc["big"]
    assert row["gap"] == pytest.approx(row["train_accuracy"] - row["val_accuracy"])
    assert set(out.histories["big"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(out.histories["big"]["loss"]) == 3


def test_same_build_same_seed_gives_the_same_run():
    train, val, test = _toy(64, 0), _toy(32, 1), _toy(32, 2)
    out = ex.run_variants({"a": _tiny_model(8, 0.3), "b": _tiny_model(8, 0.3)}, train, val, test,
                          {"epochs": 3, "batch_size": 16})
    np.testing.assert_allclose(out.histories["a"]["loss"], out.histories["b"]["loss"], rtol=1e-6)


def test_accuracies_are_measured_in_inference_mode():
    # with dropout 0.9 the training-mode predictions would be mostly noise
    train, val, test = _toy(64, 0), _toy(32, 1), _toy(32, 2)
    out = ex.run_variants({"d": _tiny_model(8, 0.9)}, train, val, test, {"epochs": 1})
    model = out.models["d"]
    expected = float(np.mean(model.predict(test[0], verbose=0).argmax(1) == test[1]))
    assert out.table.loc["d", "test_accuracy"] == pytest.approx(expected)


def test_overrides_change_one_variant_only():
    train, val, test = _toy(64, 0), _toy(32, 1), _toy(32, 2)
    out = ex.run_variants({"a": _tiny_model(), "b": _tiny_model()}, train, val, test,
                          {"epochs": 4}, overrides={"b": {"epochs": 2}})
    assert out.table["epochs"].to_dict() == {"a": 4, "b": 2}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"build_fns": {}}, TypeError, "non-empty dict"),
        ({"build_fns": {"a": 3}}, TypeError, "must be callable"),
        ({"fit_kwargs": {"validation_data": None}}, ValueError, "passes the data"),
        ({"fit_kwargs": {"verbose": 1}}, ValueError, "verbose=0"),
        ({"overrides": {"zzz": {}}}, KeyError, "unknown variants"),
        ({"overrides": {"a": {"x": 1}}}, ValueError, "must not set"),
        ({"baseline": "zzz"}, KeyError, "not a variant"),
        ({"train": _toy(8)[0]}, TypeError, "an \\(x, y\\) pair"),
        ({"val": (np.zeros((3, 4)), np.zeros(2))}, ValueError, "must match"),
    ],
)
def test_run_variants_rejects_bad_input_with_the_fix(kwargs, error, match):
    args = {"build_fns": {"a": _tiny_model()}, "train": _toy(8), "val": _toy(8), "test": _toy(8),
            "fit_kwargs": {"epochs": 1}}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        ex.run_variants(**args)


def test_accuracy_needs_one_score_per_class():
    class Regressor:
        def predict(self, x, **_):
            return np.zeros(len(x))

    with pytest.raises(ValueError, match="one output unit per class"):
        ex.accuracy(Regressor(), np.zeros((3, 2)), np.zeros(3))


def test_results_frame_adds_gap_and_gain():
    t = ex.results_frame({
        "base": {"train_accuracy": 1.0, "val_accuracy": 0.7, "test_accuracy": 0.70},
        "reg": {"train_accuracy": 0.8, "val_accuracy": 0.75, "test_accuracy": 0.74},
    }, baseline="base")
    assert t["gap"].round(3).tolist() == [0.3, 0.05]
    assert t["vs_baseline"].round(3).tolist() == [0.0, 0.04]
    with pytest.raises(KeyError, match="not a variant"):
        ex.results_frame({"a": {"test_accuracy": 1.0}}, baseline="b")


def test_logits_get_no_test_loss():
    def logits():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    out = ex.run_variants({"l": logits}, _toy(16), _toy(16, 1), _toy(16, 2), {"epochs": 1})
    assert np.isnan(out.table.loc["l", "test_loss"])


def test_combine_merges_runs_and_recomputes_the_gain():
    train, val, test = _toy(64, 0), _toy(32, 1), _toy(32, 2)
    first = ex.run_variants({"base": _tiny_model(4)}, train, val, test, {"epochs": 1})
    second = ex.run_variants({"wide": _tiny_model(16)}, train, val, test, {"epochs": 1})
    both = ex.combine(first, second, baseline="base")
    assert list(both.table.index) == ["base", "wide"]
    assert set(both.histories) == set(both.models) == {"base", "wide"}
    expected = both.table.loc["wide", "test_accuracy"] - both.table.loc["base", "test_accuracy"]
    assert both.table.loc["wide", "vs_baseline"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="more than one"):
        ex.combine(first, first)
    with pytest.raises(KeyError, match="not a variant"):
        ex.combine(first, second, baseline="zzz")
    with pytest.raises(TypeError, match="VariantResults"):
        ex.combine(first.table)


def test_cross_entropy_is_the_mean_negative_log_probability():
    probs = np.array([[0.25, 0.75], [0.5, 0.5]])
    assert ex.cross_entropy(probs, np.array([1, 0])) == pytest.approx(
        -(np.log(0.75) + np.log(0.5)) / 2)
    with pytest.raises(ValueError, match="logits"):
        ex.cross_entropy(np.array([[2.0, -1.0]]), np.array([0]))
    with pytest.raises(ValueError, match="n_classes"):
        ex.cross_entropy(probs, np.array([0]))


def test_noisy_labels_replace_the_requested_share():
    y = np.arange(20_000) % 10
    noisy = ex.noisy_labels(y, 0.3, 10, seed=1)
    assert np.mean(noisy != y) == pytest.approx(0.3 * 0.9, abs=0.01)
    assert np.array_equal(noisy, ex.noisy_labels(y, 0.3, 10, seed=1))
    assert np.array_equal(ex.noisy_labels(y, 0.0, 10), y)
    assert noisy.min() >= 0 and noisy.max() <= 9
    with pytest.raises(ValueError, match="between 0 and 1"):
        ex.noisy_labels(y, 1.5, 10)
    with pytest.raises(TypeError, match="integer class"):
        ex.noisy_labels(y.astype(float), 0.1, 10)


# --- plots --------------------------------------------------------------------------------------


def _histories():
    return {name: {"accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.5, 0.7, 0.7]}
            for name in ("baseline", "dropout", "L2")}


def test_plot_curves_draws_a_panel_per_variant_with_the_reference():
    fig = ex.plot_curves(_histories(), reference="baseline", ncols=2)
    assert [ax.get_title() for ax in fig.axes] == ["baseline", "dropout", "L2"]
    assert len(fig.axes[0].get_lines()) == 2  # the reference panel has no grey copy of itself
    assert len(fig.axes[1].get_lines()) == 3
    assert fig.axes[0].get_ylabel() == "accuracy"
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes[1:])
    assert fig.legends and "validation (solid)" in [t.get_text() for t in fig.legends[0].texts]


def test_plot_curves_names_the_missing_metric():
    with pytest.raises(KeyError, match="'val_loss'"):
        ex.plot_curves(_histories(), "loss")
    with pytest.raises(KeyError, match="not a variant"):
        ex.plot_curves(_histories(), reference="nope")
    with pytest.raises(ValueError, match="empty"):
        ex.plot_curves({})


def test_plot_results_has_labelled_bars():
    t = ex.results_frame({
        "base": {"train_accuracy": 1.0, "val_accuracy": 0.7, "test_accuracy": 0.70},
        "reg": {"train_accuracy": 0.8, "val_accuracy": 0.75, "test_accuracy": 0.74},
    })
    fig = ex.plot_results(t, baseline="base")
    assert len(fig.axes) == 2 and "%" in fig.axes[0].get_xlabel()
    assert len(fig.axes[0].patches) == 2
    with pytest.raises(KeyError, match="needs columns"):
        ex.plot_results(pd.DataFrame({"x": [1]}))
    with pytest.raises(KeyError, match="not a row"):
        ex.plot_results(t, baseline="zzz")


# --- search cost --------------------------------------------------------------------------------


def test_search_cost_callback_survives_deepcopy_as_itself():
    cost = ex.SearchCost()
    callback = cost.callback()
    assert copy.deepcopy([callback])[0] is callback


def test_search_cost_counts_fits_epochs_and_best():
    cost = ex.SearchCost(monitor="val_loss", mode="min")
    model = _tiny_model()()
    x, y = _toy(32)
    for epochs in (2, 3):
        model.fit(x, y, validation_data=(x, y), epochs=epochs, verbose=0,
                  callbacks=[cost.callback()])
    summary = cost.summary()
    assert summary["models trained"] == 2 and summary["epochs"] == 5
    assert summary["best val_loss"] == pytest.approx(min(r["best"] for r in cost.records))
    epochs, best = cost.progress()
    assert epochs.tolist() == [2, 5] and best[1] <= best[0]


def test_search_cost_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="'max' or 'min'"):
        ex.SearchCost(mode="up")


def test_keras_tuner_search_is_costed_per_trial(tmp_path):
    import keras_tuner

    def build(hp):
        inputs = keras.Input((4,))
        h = keras.layers.Dense(hp.Int("units", 2, 8, step=2), activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    tuner = keras_tuner.RandomSearch(build, objective="val_accuracy", max_trials=2, seed=0,
                                     directory=tmp_path, project_name="t")
    cost = ex.SearchCost(tuner)
    x, y = _toy(32)
    tuner.search(x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=[cost.callback()])
    table = ex.trials_table(tuner, cost)
    assert len(table) == 2 and table["epochs"].tolist() == [2, 2]
    assert {"units", "score", "status", "seconds"} <= set(table.columns)
    assert cost.summary()["trials"] == 2
    fig = ex.plot_trials({"random": table}, ["units"], log_scale=(), default=0.5)
    assert fig.axes[0].get_xlabel() == "units" and fig.axes[0].get_xscale() == "linear"


def test_trials_table_needs_a_tuner():
    with pytest.raises(TypeError, match="KerasTuner"):
        ex.trials_table(object())


def test_plot_trials_names_missing_columns():
    t = pd.DataFrame({"learning_rate": [1e-3], "score": [0.5]})
    with pytest.raises(KeyError, match="no columns \\['units'\\]"):
        ex.plot_trials({"r": t}, ["units"])
    with pytest.raises(ValueError, match="at least one"):
        ex.plot_trials({"r": t}, [])
    with pytest.raises(ValueError, match="empty"):
        ex.plot_trials({}, ["learning_rate"])
