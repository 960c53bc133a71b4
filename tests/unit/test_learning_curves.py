import matplotlib

matplotlib.use("agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dlbook import data  # noqa: E402
from dlbook import learning_curves as lc  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def n_seen(part):
    """A 'model' whose score is the number of training examples it was given."""
    return float(len(part.y_train))


def test_one_row_per_model_size_and_repeat_in_a_tidy_table(digits):
    curve = lc.learning_curve({"a": n_seen, "b": lambda part: 0.5}, [20, 40], digits, repeats=2)
    assert list(curve.columns) == lc.COLUMNS
    assert len(curve) == 2 * 2 * 2
    a = curve[curve["model"] == "a"]
    assert (a["score"] == a["n_train"]).all()
    assert set(curve["repeat"]) == {0, 1}
    assert (curve["seconds"] >= 0).all()


def test_every_model_sees_the_same_subset_and_the_full_test_set(digits):
    seen = {}

    def record(name):
        def fit_and_score(part):
            seen.setdefault(name, []).append((part.y_train.tobytes(), len(part.y_test)))
            return 0.0

        return fit_and_score

    lc.learning_curve({"a": record("a"), "b": record("b")}, [30, 60], digits, seed=3)
    assert seen["a"] == seen["b"]
    assert all(n_test == len(digits.y_test) for _, n_test in seen["a"])


def test_repeats_draw_different_subsets_and_the_seed_reproduces_them(digits):
    def first_label_block(part):
        return float(int.from_bytes(part.y_train[:8].tobytes()[:4], "little"))

    one = lc.learning_curve({"m": first_label_block}, [50], digits, seed=0, repeats=3)
    two = lc.learning_curve({"m": first_label_block}, [50], digits, seed=0, repeats=3)
    assert one["score"].tolist() == two["score"].tolist()


def test_a_real_model_improves_with_more_data(digits):
    from sklearn.linear_model import LogisticRegression

    def linear(part):
        x = part.x_train.reshape(len(part.x_train), -1)
        model = LogisticRegression(max_iter=300).fit(x, part.y_train)
        return model.score(part.x_test.reshape(len(part.x_test), -1), part.y_test)

    curve = lc.learning_curve({"linear": linear}, [30, 1000], digits)
    small, large = curve["score"]
    assert large > small + 0.1


@pytest.mark.parametrize(
    "sizes, message",
    [
        ([], "non-empty"),
        ([100, 0], "positive ints"),
        ([100, 50], "increasing"),
        ([100, 100], "increasing"),
        ([10**6], "exceed"),
        ([1.5], "positive ints"),
    ],
)
def test_sizes_are_validated(digits, sizes, message):
    with pytest.raises(ValueError, match=message):
        lc.learning_curve({"a": n_seen}, sizes, digits)


def test_models_must_be_a_dict_of_functions(digits):
    with pytest.raises(ValueError, match="non-empty dict"):
        lc.learning_curve({}, [10], digits)
    with pytest.raises(TypeError, match="functions of a Dataset"):
        lc.learning_curve({"a": 0.9}, [10], digits)


def test_data_must_be_a_dataset():
    with pytest.raises(TypeError, match="dlbook Dataset"):
        lc.learning_curve({"a": n_seen}, [10], (np.zeros((20, 2)), np.zeros(20)))


def test_a_model_that_returns_no_number_is_named(digits):
    with pytest.raises(TypeError, match="'bad' returned None"):
        lc.learning_curve({"bad": lambda part: None}, [10], digits)
    with pytest.raises(TypeError, match="finite"):
        lc.learning_curve({"nan": lambda part: float("nan")}, [10], digits)


def test_plot_uses_a_log_axis_labelled_with_the_sizes():
    curve = pd.DataFrame({
        "model": ["cnn"] * 3 + ["svm"] * 3, "n_train": [250, 1000, 4000] * 2,
        "repeat": [0] * 6, "score": [0.7, 0.8, 0.9, 0.75, 0.8, 0.85], "seconds": [1.0] * 6,
    })
    fig = lc.plot(curve, metric="accuracy", baseline=0.1, baseline_label="guessing",
                  title="Accuracy against data")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["250", "1,000", "4,000"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cnn", "svm", "guessing"]
    assert ax.get_ylabel() == "accuracy" and ax.get_title() == "Accuracy against data"


def test_plot_draws_a_band_when_there_are_repeats():
    curve = pd.DataFrame({
        "model": ["m"] * 4, "n_train": [10, 10, 100, 100], "repeat": [0, 1, 0, 1],
        "score": [0.5, 0.7, 0.8, 0.9], "seconds": [0.1] * 4,
    })
    ax = lc.plot(curve).axes[0]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.6, 0.85])
    assert len(ax.collections) == 1


def test_plot_wants_a_learning_curve_table():
    with pytest.raises(ValueError, match="learning_curve"):
        lc.plot(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="empty"):
        lc.plot(pd.DataFrame(columns=lc.COLUMNS))


def test_a_model_may_return_extra_measurements_as_columns(digits):
    def measured(part):
        return {"score": 0.5, "train_s": 1.5, "predict_ms": float(len(part.y_test))}

    curve = lc.learning_curve({"m": measured, "plain": lambda part: 0.7}, [20], digits)
    assert list(curve.columns) == lc.COLUMNS + ["train_s", "predict_ms"]
    row = curve[curve["model"] == "m"].iloc[0]
    assert row["train_s"] == 1.5 and row["predict_ms"] == len(digits.y_test)
    assert np.isnan(curve[curve["model"] == "plain"].iloc[0]["train_s"])


@pytest.mark.parametrize(
    "result", [{"train_s": 1.0}, {"score": "high"}, {"score": 0.5, "seconds": 2.0}, True]
)
def test_a_dict_result_needs_a_score_and_numbers_only(digits, result):
    with pytest.raises(TypeError, match="'score'"):
        lc.learning_curve({"m": lambda part: result}, [20], digits)


def test_timed_returns_the_result_and_the_seconds():
    import time

    result, seconds = lc.timed(lambda x: time.sleep(0.01) or x * 2, 21)
    assert result == 42 and 0.005 < seconds < 5
