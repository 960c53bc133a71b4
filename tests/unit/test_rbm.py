"""RBMs and DBNs: the free energy, partition function and conditionals agree with brute force on
tiny models, contrastive divergence improves what it should, Gibbs chains reach the model's
distribution, the DBN classifier starts from the RBM weights, and bad input is refused with the
fix."""

import numpy as np
import pytest

from dlbook import rbm as R

keras = R.keras
tf = R.tf


def _random_rbm(n_visible=5, n_hidden=4, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    rbm = R.RBM(n_visible, n_hidden, seed=seed)
    rbm.W.assign(scale * rng.normal(size=(n_visible, n_hidden)).astype("float32"))
    rbm.b.assign(scale * rng.normal(size=n_visible).astype("float32"))
    rbm.c.assign(scale * rng.normal(size=n_hidden).astype("float32"))
    return rbm


@pytest.fixture(scope="module")
def bars():
    """400 binary 4×4 images, each one full row or one full column lit, plus 5 % flipped pixels:
    data with structure a few hidden units capture."""
    rng = np.random.default_rng(0)
    images = np.zeros((400, 4, 4), "float32")
    for img, kind, where in zip(images, rng.integers(0, 2, 400), rng.integers(0, 4, 400),
                                strict=True):
        if kind:
            img[where, :] = 1
        else:
            img[:, where] = 1
    flips = rng.random(images.shape) < 0.05
    return np.abs(images - flips).reshape(400, 16).astype("float32")


def test_free_energy_matches_a_brute_force_sum_over_hidden_states():
    rbm = _random_rbm()
    v = R.RBM.all_states(5)                     # every visible vector
    h = R.RBM.all_states(4)                     # every hidden vector
    brute = -np.log(np.exp(-rbm.energy(v, h)).sum(axis=1))
    np.testing.assert_allclose(rbm.free_energy(v), brute, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("shape", [(5, 3), (3, 6)], ids=["sum-over-hidden", "sum-over-visible"])
def test_exact_log_partition_matches_the_sum_over_all_joint_states(shape):
    rbm = _random_rbm(*shape)
    joint = -rbm.energy(R.RBM.all_states(shape[0]), R.RBM.all_states(shape[1]))
    brute = np.log(np.exp(joint).sum())
    assert rbm.exact_log_partition() == pytest.approx(brute, rel=1e-6)
    total = np.exp(rbm.log_likelihood(R.RBM.all_states(shape[0]))).sum()
    assert total == pytest.approx(1.0, abs=1e-5)     # a proper distribution over v


def test_sampled_hidden_units_have_the_right_probabilities():
    rbm = _random_rbm(seed=1)
    v = np.array([[1, 0, 1, 1, 0]], "float32")
    expected = 1 / (1 + np.exp(-(rbm.parameters()[2] + v @ rbm.parameters()[0])))
    p, h = rbm.sample_hidden(tf.constant(np.repeat(v, 20_000, axis=0)))
    np.testing.assert_allclose(p.numpy()[0], expected[0], rtol=1e-5)
    assert set(np.unique(h.numpy())) <= {0.0, 1.0}
    share = h.numpy().mean(axis=0)
    sigma = np.sqrt(expected[0] * (1 - expected[0]) / 20_000)
    assert np.all(np.abs(share - expected[0]) < 5 * sigma + 1e-4)


def test_gibbs_chains_reach_the_model_marginals():
    rbm = _random_rbm(4, 3, scale=0.8, seed=2)
    states = R.RBM.all_states(4)
    p_v = np.exp(rbm.log_likelihood(states))
    exact = p_v @ states                               # p(v_i = 1) under the model
    probs = rbm.sample(4000, steps=30, seed=0)         # p(v | h) at the chains' last state
    np.testing.assert_allclose(probs.mean(axis=0), exact, atol=0.03)


def test_sampling_is_seeded_and_keeps_snapshots():
    rbm = _random_rbm(6, 3)
    a = rbm.sample(5, steps=20, seed=3)
    np.testing.assert_array_equal(a, rbm.sample(5, steps=20, seed=3))
    assert not np.array_equal(a, rbm.sample(5, steps=20, seed=4))
    shots = rbm.sample(5, steps=20, snapshots=[1, 5, 20], seed=3)
    assert shots.shape == (3, 5, 6)
    np.testing.assert_allclose(shots[-1], a)          # same chain, watched on the way
    start = np.zeros((2, 6), "float32")
    assert rbm.sample(steps=2, start=start).shape == (2, 6)


def test_cd_gradient_is_the_gradient_of_the_free_energy_gap():
    """CD's update equals ∂/∂θ [mean F(data) - mean F(negative samples)], the samples held
    fixed: the identity that lets CD be written as a loss for autodiff."""
    rbm = _random_rbm(6, 4, scale=0.5)
    v0 = tf.constant(R.binarize(np.random.default_rng(0).random((32, 6))))
    grads, vk = rbm.cd_gradients(v0)
    with tf.GradientTape() as tape:
        gap = tf.reduce_mean(rbm._free_energy(v0)) - tf.reduce_mean(rbm._free_energy(vk))
    auto = tape.gradient(gap, [rbm.W, rbm.b, rbm.c])
    for mine, theirs in zip(grads, auto, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-5)


@pytest.mark.parametrize("options", [{"k": 1}, {"k": 3}, {"k": 1, "persistent": True}],
                         ids=["CD-1", "CD-3", "PCD"])
def test_contrastive_divergence_lowers_the_reconstruction_error_and_raises_the_likelihood(
        options, bars):
    keras.utils.set_random_seed(0)
    rbm = R.RBM(16, 8, seed=0, n_chains=50, init_scale=0.1, **options)
    rbm.init_visible_bias(bars)                 # the pixel-means model: the start
    before, ll_before = rbm.reconstruction_error(bars), rbm.log_likelihood(bars).mean()
    rbm.compile(optimizer=keras.optimizers.SGD(0.3, momentum=0.5))
    history = rbm.fit(bars, epochs=20, batch_size=50, verbose=0).history
    assert rbm.reconstruction_error(bars) < 0.5 * before
    assert history["reconstruction_error"][-1] < history["reconstruction_error"][0]
    assert rbm.log_likelihood(bars).mean() > ll_before + 1.0     # nats per image, exact


def test_persistent_chains_carry_over_between_updates(bars):
    rbm = R.RBM(16, 4, persistent=True, n_chains=20, seed=0)
    rbm.compile(optimizer=keras.optimizers.SGD(0.1))
    start = rbm.chains.numpy().copy()
    rbm.fit(bars[:40], epochs=1, batch_size=40, verbose=0)
    after = rbm.chains.numpy()
    assert after.shape == (20, 16) and not np.array_equal(after, start)
    assert set(np.unique(after)) <= {0.0, 1.0}          # the chains hold binary samples


def test_validation_data_are_scored_each_epoch(bars):
    rbm = R.train_rbm(bars[:300], 6, epochs=3, batch_size=50, validation_data=bars[300:])
    history = rbm.history.history
    assert len(history["val_reconstruction_error"]) == 3
    assert history["val_free_energy"][-1] == pytest.approx(
        rbm.free_energy(bars[300:]).mean(), rel=1e-4)


def test_the_rbm_survives_a_save_and_load(bars, tmp_path):
    rbm = _random_rbm(16, 5)
    rbm.k = 2
    rbm.save(tmp_path / "rbm.keras")
    again = keras.saving.load_model(tmp_path / "rbm.keras")
    assert isinstance(again, R.RBM) and again.k == 2
    np.testing.assert_allclose(again.transform(bars), rbm.transform(bars), atol=1e-6)


def test_from_sklearn_reproduces_its_features():
    from sklearn.neural_network import BernoulliRBM

    x = R.binarize(np.random.default_rng(0).random((60, 10)))
    sk = BernoulliRBM(n_components=4, n_iter=3, random_state=0).fit(x)
    mine = R.RBM.from_sklearn(sk)
    np.testing.assert_allclose(mine.transform(x), sk.transform(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="fitted"):
        R.RBM.from_sklearn(BernoulliRBM())


@pytest.fixture(scope="module")
def stack(bars):
    return R.greedy_pretrain(bars, [8, 5], epochs=[3, 2], batch_size=50)


def test_greedy_pretraining_stacks_rbms_on_hidden_probabilities(bars, stack):
    rbms = stack
    assert [(r.n_visible, r.n_hidden) for r in rbms] == [(16, 8), (8, 5)]
    assert rbms[0].binary and not rbms[1].binary       # upper layers see probabilities
    assert [len(r.history.history["free_energy"]) for r in rbms] == [3, 2]
    again = R.greedy_pretrain(bars, [8, 5, 3], epochs=1, batch_size=50, bottom=rbms)
    assert again[:2] == rbms and (again[2].n_visible, again[2].n_hidden) == (5, 3)
    with pytest.raises(ValueError, match="do not match"):
        R.greedy_pretrain(bars, [6], bottom=rbms[:1])


def test_the_dbn_classifier_starts_from_the_rbm_weights(bars, stack):
    rbms = stack
    model = R.dbn_classifier(rbms, 3, input_shape=(4, 4))
    second = keras.Model(model.inputs, model.get_layer("hidden_2").output)
    expected = rbms[1].transform(rbms[0].transform(bars))
    np.testing.assert_allclose(second.predict(bars.reshape(-1, 4, 4), verbose=0), expected,
                               atol=1e-5)
    same = R.mlp_classifier(16, [8, 5], 3, input_shape=(4, 4))
    assert [w.shape for w in same.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.allclose(same.get_weights()[0], model.get_weights()[0])


def test_binarize_thresholds_or_samples():
    grey = np.array([[0.0, 0.2, 0.5, 0.51, 1.0]])
    assert R.binarize(grey).tolist() == [[0, 0, 0, 1, 1]]
    assert R.binarize(grey, 0.1).tolist() == [[0, 1, 1, 1, 1]]
    drawn = R.binarize(np.full((200, 50), 0.7), sample=True, seed=1)
    assert set(np.unique(drawn)) == {0.0, 1.0} and abs(drawn.mean() - 0.7) < 0.02
    with pytest.raises(ValueError, match="255"):
        R.binarize(grey * 255)


def test_bad_inputs_are_refused_with_the_fix(bars):
    rbm = R.RBM(16, 4)
    rbm.compile(optimizer="sgd")
    with pytest.raises(ValueError, match=r"binarize\(x\)"):
        rbm.fit(np.full((4, 16), 0.5, "float32"), verbose=0)          # not binary
    with pytest.raises(ValueError, match="divide 8-bit images by 255"):
        rbm.fit(bars * 255, verbose=0)                                 # out of [0, 1]
    with pytest.raises(ValueError, match="divide 8-bit"):
        rbm.transform(-bars)
    with pytest.raises(ValueError, match="16 visible units"):
        rbm.fit(bars[:, :9], verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        rbm.free_energy(np.full((2, 16), np.nan))
    with pytest.raises(ValueError, match="validation_data"):
        rbm.fit(bars, validation_data=np.full((4, 16), 0.5), verbose=0)
    with pytest.raises(ValueError, match=r"x\[None\]"):
        rbm.transform(bars[0])
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k .* must be an int >= 1"):
            R.RBM(16, 4, k=k)
    with pytest.raises(ValueError, match="annealed importance sampling"):
        R.RBM(784, 256).exact_log_partition()
    with pytest.raises(ValueError, match="stack them"):
        R.dbn_classifier([R.RBM(16, 8), R.RBM(6, 4)], 3)
    with pytest.raises(ValueError, match="snapshots"):
        rbm.sample(2, steps=5, snapshots=[6])


def test_fractional_data_are_accepted_when_asked_for(bars):
    rbm = R.RBM(16, 4, binary=False)
    rbm.compile(optimizer="sgd")
    rbm.fit(np.full((8, 16), 0.5, "float32"), epochs=1, verbose=0)


def test_fine_tune_restarts_from_the_given_weights_with_a_fresh_optimizer(bars):
    keras.utils.set_random_seed(0)
    labels = (bars[:, :4].sum(axis=1) > 2).astype("int64")   # top row lit
    model = R.mlp_classifier(16, [8], 2)
    start = model.get_weights()
    first = R.fine_tune(model, bars, labels, weights=start, steps=60, learning_rate=1e-2)
    after_first = [w.copy() for w in first.get_weights()]
    again = R.fine_tune(model, bars, labels, weights=start, steps=60, learning_rate=1e-2)
    for a, b in zip(after_first, again.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)       # no momentum carried over
    assert model.evaluate(bars, labels, verbose=0)[1] > 0.9
    with pytest.raises(ValueError, match="integer class labels"):
        R.fine_tune(model, bars, labels.astype("float32"))
    with pytest.raises(ValueError, match="same number"):
        R.fine_tune(model, bars, labels[:10])
