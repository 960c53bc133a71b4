import numpy as np
import pytest

from dlbook import adversarial as adv
from dlbook.config import import_keras

keras = import_keras()
XENT = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def linear(d, weights=None):
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(2)])
    if weights is not None:
        model.set_weights(weights)
    return model


@pytest.fixture(scope="module")
def robust_and_brittle():
    """Feature 0 predicts the class with a margin of 0.4 but is wrong 15 % of the time; 49
    weak features each shift by only 0.1. Together the weak ones predict almost perfectly,
    and a budget of 0.15 per feature overturns them all (Tsipras et al. 2019)."""
    rng = np.random.default_rng(0)
    n, d = 600, 50
    y = rng.integers(0, 2, n)
    s = 2 * y - 1
    x = np.empty((n, d), "float32")
    x[:, 0] = 0.5 + 0.4 * s * np.where(rng.random(n) < 0.15, -1, 1)
    x[:, 1:] = np.clip(0.5 + 0.1 * s[:, None] + rng.normal(0, 0.25, (n, d - 1)), 0, 1)
    return x, y


def test_check_budget_names_the_fix():
    assert adv.check_budget(0.1, steps=4) == (0.1, 4, 0.0625)
    assert adv.check_budget(0) == (0.0, None, None)
    with pytest.raises(ValueError, match="perturbation size in input units"):
        adv.check_budget(-0.1)
    with pytest.raises(ValueError, match="exceeds the width"):
        adv.check_budget(2.0)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        adv.check_budget(0.1, steps=0)
    with pytest.raises(ValueError, match="cannot reach eps"):
        adv.check_budget(0.1, steps=2, step_size=0.01)
    with pytest.raises(ValueError, match="step_size must be a positive"):
        adv.check_budget(0.1, steps=2, step_size=-1.0)
    with pytest.raises(ValueError, match="clip"):
        adv.check_budget(0.1, clip=(1, 0))


def test_project_and_noise_stay_in_the_ball_and_the_pixel_range():
    x = np.random.default_rng(0).uniform(size=(20, 30)).astype("float32")
    far = x + np.random.default_rng(1).normal(0, 1, x.shape)
    p = adv.project(far, x, 0.05)
    assert np.abs(p - x).max() <= 0.05 + 1e-6 and p.min() >= 0 and p.max() <= 1
    noisy = adv.random_noise(x, 0.05, seed=0)
    inside = (x > 0.05) & (x < 0.95)           # not clipped: moved by exactly eps
    assert np.allclose(np.abs(noisy - x)[inside], 0.05, atol=1e-6)
    assert noisy.min() >= 0 and noisy.max() <= 1


def test_fgsm_steps_along_the_sign_of_the_weight_difference():
    w = np.array([[1.0, -1.0], [-2.0, 3.0], [0.5, 0.0]], "float32")   # 3 inputs, 2 classes
    model = linear(3, [w, np.zeros(2, "float32")])
    x, y = np.full((1, 3), 0.5, "float32"), np.array([0])
    # raising the loss of class 0 means moving along sign(w[:, 1] - w[:, 0])
    expected = 0.5 + 0.1 * np.sign(w[:, 1] - w[:, 0])
    assert np.allclose(adv.fgsm(model, x, y, 0.1)[0], expected, atol=1e-6)
    assert np.allclose(adv.fgsm(model, x, y, 0.1, loss="margin")[0], expected, atol=1e-6)


def test_attacks_refuse_bad_inputs_and_softmax_models():
    model = linear(3)
    x, y = np.full((2, 3), 0.5, "float32"), np.array([0, 1])
    with pytest.raises(ValueError, match="valid range"):
        adv.fgsm(model, x * 255, y, 0.1)
    with pytest.raises(ValueError, match="one integer class label"):
        adv.pgd(model, x, np.eye(2), 0.1)
    with pytest.raises(ValueError, match=r"x\[None\]"):
        adv.pgd(model, np.full(3, 0.5), y, 0.1)
    with pytest.raises(ValueError, match="loss must be"):
        adv.fgsm(model, x, y, 0.1, loss="hinge")
    soft = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="softmax"):
        adv.fgsm(soft, x, y, 0.1)
    with pytest.raises(ValueError, match="attacks must be"):
        adv.robust_accuracy(model, x, y, [0.1], attacks=["cw"])


def test_pgd_breaks_a_non_robust_model_while_noise_of_the_same_size_does_not(
        robust_and_brittle):
    x, y = robust_and_brittle
    keras.utils.set_random_seed(0)
    model = linear(x.shape[1])
    model.compile(keras.optimizers.Adam(0.05), XENT)
    model.fit(x, y, epochs=20, batch_size=100, verbose=0)
    table = adv.robust_accuracy(model, x, y, [0.0, 0.15], steps=5)
    assert list(table.columns) == list(adv.ATTACKS) and table.index.name == "eps"
    assert (table.loc[0.0] == adv.accuracy(model, x, y)).all()
    clean, noise, fgsm, pgd = table.loc[0.0, "pgd"], *table.loc[0.15]
    assert clean > 0.9 and noise > clean - 0.05
    assert pgd <= fgsm < 0.3
    x_adv = adv.pgd(model, x, y, 0.15, steps=5)
    assert np.abs(x_adv - x).max() <= 0.15 + 1e-6 and 0 <= x_adv.min() and x_adv.max() <= 1


def test_adversarial_training_learns_the_robust_feature(robust_and_brittle):
    x, y = robust_and_brittle
    keras.utils.set_random_seed(0)
    net = linear(x.shape[1])
    trainer = adv.AdversarialTraining(net, eps=0.15, attack="fgsm-rs")
    trainer.compile(keras.optimizers.Adam(0.05))
    history = trainer.fit(x, y, epochs=20, batch_size=100, verbose=0).history
    assert sorted(history) == ["accuracy", "loss"]
    robust = adv.robust_accuracy(net, x, y, [0.15], attacks=["pgd"], steps=5).iloc[0, 0]
    assert robust > 0.75                       # the 85 %-reliable feature survives the attack
    assert trainer.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] < 0.95
    batch = keras.ops.convert_to_numpy(trainer.attacked(x[:50], y[:50]))
    assert np.abs(batch - x[:50]).max() <= 0.15 + 1e-6 and 0 <= batch.min() <= batch.max() <= 1


def test_adversarial_training_validates_its_settings():
    net = linear(3)
    with pytest.raises(ValueError, match="attack must be"):
        adv.AdversarialTraining(net, eps=0.1, attack="fgsm")
    with pytest.raises(ValueError, match="one step"):
        adv.AdversarialTraining(net, eps=0.1, attack="fgsm-rs", steps=3)
    with pytest.raises(ValueError, match="clean_weight"):
        adv.AdversarialTraining(net, eps=0.1, clean_weight=2)
    with pytest.raises(ValueError, match="perturbation size"):
        adv.AdversarialTraining(net, eps=-0.1)
    with pytest.raises(TypeError, match="keras.Model"):
        adv.AdversarialTraining(lambda x: x, eps=0.1)
    pgd = adv.AdversarialTraining(net, eps=0.1, steps=4)
    assert (pgd.steps, pgd.step_size) == (4, pytest.approx(0.0625))
    assert adv.AdversarialTraining(net, eps=0.1, attack="fgsm-rs").step_size == \
        pytest.approx(0.125)
