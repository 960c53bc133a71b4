import numpy as np
import pytest

from dlbook.metrics import EvaluationReport, compare, report


def test_perfect_probabilities_score_one_everywhere():
    y = np.array([0, 1, 2, 2, 1, 0])
    probs = np.eye(3)[y]
    r = report(y, probs)
    assert r.as_dict() == {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "roc_auc": 1.0}


def test_hard_labels_give_no_roc_auc():
    r = report([0, 1, 1, 0], [0, 1, 0, 0])
    assert r.accuracy == 0.75 and r.roc_auc is None


def test_binary_probability_of_class_one_is_thresholded_at_a_half():
    r = report([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    assert r.accuracy == 0.5 and r.roc_auc == 0.75


def test_macro_averages_weigh_classes_equally():
    y_true = [0] * 9 + [1]
    y_pred = [0] * 10
    r = report(y_true, y_pred)
    assert r.accuracy == 0.9
    assert r.recall == pytest.approx(0.5)


def test_matches_scikit_learn():
    from sklearn.metrics import f1_score, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    probs = rng.dirichlet(np.ones(4), 200)
    r = report(y, probs)
    assert r.f1 == pytest.approx(f1_score(y, probs.argmax(1), average="macro"))
    assert r.roc_auc == pytest.approx(roc_auc_score(y, probs, multi_class="ovr"))


def test_per_class_scores_are_named():
    r = report([0, 1], [[0.9, 0.1], [0.2, 0.8]], class_names=["cat", "dog"])
    assert r.per_class["dog"]["recall"] == 1.0


@pytest.mark.parametrize(
    "y_true, y_score, message",
    [
        ([0, 1, 1], [0, 1], "3 samples but y_score has 2"),
        ([], [], "non-empty 1-D"),
        ([[0, 1]], [[0.5, 0.5]], "non-empty 1-D"),
        ([0.5, 1.0], [0, 1], "integer class indices"),
        ([0, 1], [0.2, np.nan], "NaN"),
        ([0, 1], [[0.5, np.nan], [0.1, 0.9]], "NaN"),
        ([0, 1], [-0.5, 1.5], "probabilities of class 1"),
        ([0, 1], np.zeros((2, 2, 2)), "1-D .* or 2-D"),
    ],
)
def test_bad_input_is_rejected_with_the_fix(y_true, y_score, message):
    with pytest.raises(ValueError, match=message):
        report(y_true, y_score)


def test_too_few_class_names_is_an_error():
    with pytest.raises(ValueError, match="1 class names given for 2 classes"):
        report([0, 1], [0, 1], class_names=["only"])


def test_compare_builds_one_row_per_model():
    table = compare({"a": report([0, 1], [0, 1]), "b": report([0, 1], [1, 1])})
    assert list(table.index) == ["a", "b"]
    assert "roc_auc" not in table.columns  # hard labels: no AUC column
    assert table.loc["b", "accuracy"] == 0.5


def test_compare_rejects_empty_and_foreign_values():
    with pytest.raises(ValueError, match="at least one report"):
        compare({})
    with pytest.raises(TypeError, match="EvaluationReport"):
        compare({"x": 0.9})


def test_report_prints_and_renders_html():
    r = report([0, 1], [[0.8, 0.2], [0.3, 0.7]])
    assert isinstance(r, EvaluationReport)
    assert "accuracy 1.000" in str(r)
    assert "<table" in r._repr_html_()


def test_evaluate_uses_probabilities_of_a_scikit_learn_classifier():
    from sklearn.linear_model import LogisticRegression

    from dlbook.metrics import evaluate

    x = np.array([[0.0], [0.2], [0.8], [1.0]])
    r = evaluate(LogisticRegression().fit(x, [0, 0, 1, 1]), x, [0, 0, 1, 1])
    assert r.accuracy == 1.0 and r.roc_auc == 1.0


def test_evaluate_scores_a_keras_model_quietly(capsys):
    import keras

    from dlbook.metrics import evaluate

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    r = evaluate(model, np.zeros((4, 2), "float32"), [0, 1, 2, 0])
    assert r.n_samples == 4 and r.roc_auc is not None
    assert capsys.readouterr().out == ""


def test_evaluate_rejects_something_that_cannot_predict():
    from dlbook.metrics import evaluate

    with pytest.raises(TypeError, match="Keras model or a scikit-learn classifier"):
        evaluate(object(), [[0]], [0])
