"""Few-shot helpers: episodes are well formed, reproducible and refuse impossible sizes with the
fix; the prototypical maths matches NumPy by hand; an episodic train step learns; the evaluator
is paired across feature maps, sits at chance on noise, and reports the textbook interval."""

import matplotlib
import numpy as np
import pytest

from dlbook import fewshot as fs

matplotlib.use("Agg")
keras = fs.keras


def _blobs(n_classes=5, per_class=30, dim=6, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_classes, dim))
    y = np.repeat(np.arange(n_classes), per_class)
    x = centres[y] + spread * rng.normal(size=(len(y), dim))
    return x.astype("float32"), y


def test_episode_is_class_major_with_episode_labels():
    x, y = _blobs()
    e = fs.EpisodeSampler(x, y, n_way=3, k_shot=2, n_query=4, seed=0).sample()
    assert e.support_x.shape == (6, 6) and e.query_x.shape == (12, 6)
    assert e.support_y.tolist() == [0, 0, 1, 1, 2, 2]
    assert e.query_y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert (e.n_way, e.k_shot, e.n_query) == (3, 2, 4)
    assert len(set(e.classes.tolist())) == 3


def test_support_and_query_never_share_an_example_and_match_their_class():
    x = np.arange(100, dtype="float32")[:, None]       # each example is its own index
    y = np.arange(100) % 4
    sampler = fs.EpisodeSampler(x, y, n_way=4, k_shot=5, n_query=10, seed=3)
    for _ in range(20):
        support, query, classes = sampler.indices()
        assert not set(support) & set(query)
        assert (y[support] == np.repeat(classes, 5)).all()
        assert (y[query] == np.repeat(classes, 10)).all()


def test_same_seed_same_episodes_other_seed_other_episodes():
    x, y = _blobs()
    draw = [fs.EpisodeSampler(x, y, n_way=3, k_shot=1, n_query=2, seed=s).indices()[1]
            for s in (7, 7, 8)]
    np.testing.assert_array_equal(draw[0], draw[1])
    assert not np.array_equal(draw[0], draw[2])


def test_classes_argument_restricts_the_draw():
    x, y = _blobs(n_classes=6)
    sampler = fs.EpisodeSampler(x, y, n_way=2, k_shot=1, n_query=1, classes=[1, 4])
    assert {int(c) for _ in range(10) for c in sampler.sample().classes} == {1, 4}
    with pytest.raises(ValueError, match=r"classes \[9\] have no examples"):
        fs.EpisodeSampler(x, y, n_way=2, k_shot=1, n_query=1, classes=[1, 9])


def test_too_few_examples_names_the_class_and_the_fix():
    x, y = _blobs(per_class=10)
    with pytest.raises(ValueError, match="class 0 has 10 examples.*lower k_shot or n_query"):
        fs.EpisodeSampler(x, y, n_way=2, k_shot=5, n_query=6)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_way": 6, "k_shot": 1}, "only 5 classes are available.*lower n_way"),
    ({"n_way": 0, "k_shot": 1}, "n_way must be a positive int"),
    ({"n_way": 2, "k_shot": 1.5}, "k_shot must be a positive int"),
])
def test_impossible_sizes_are_refused(kwargs, message):
    x, y = _blobs()
    with pytest.raises(ValueError, match=message):
        fs.EpisodeSampler(x, y, **kwargs)


def test_labels_must_be_integers_and_match_the_examples():
    x, y = _blobs()
    with pytest.raises(ValueError, match="integer class labels"):
        fs.EpisodeSampler(x, y.astype(float), n_way=2, k_shot=1)
    with pytest.raises(ValueError, match="x has 150 examples but y has 149"):
        fs.EpisodeSampler(x, y[1:], n_way=2, k_shot=1)


def test_dataset_yields_fit_ready_episodes_of_known_count():
    x, y = _blobs()
    data = fs.EpisodeSampler(x, y, n_way=3, k_shot=2, n_query=4).dataset(5)
    assert int(data.cardinality()) == 5
    batches = list(data)
    (sx, sy, qx), qy = batches[0]
    assert len(batches) == 5
    assert tuple(sx.shape) == (6, 6) and tuple(qx.shape) == (12, 6)
    assert sx.dtype.name == "float32" and sy.dtype.name == "int32" and qy.dtype.name == "int32"


def test_prototypes_are_the_class_means_of_the_support():
    rng = np.random.default_rng(0)
    z, labels = rng.normal(size=(12, 4)).astype("float32"), np.repeat([2, 0, 1], 4)
    got = keras.ops.convert_to_numpy(fs.prototypes(z, labels, 3))
    want = np.stack([z[labels == c].mean(axis=0) for c in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_squared_distances_match_numpy_and_are_never_negative():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(7, 5)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")
    got = keras.ops.convert_to_numpy(fs.squared_distances(a, b))
    want = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    same = keras.ops.convert_to_numpy(fs.squared_distances(a, a))
    assert (same >= 0).all() and np.abs(np.diag(same)).max() < 1e-5


def test_prototypical_loss_is_softmax_cross_entropy_over_minus_distances():
    rng = np.random.default_rng(2)
    support, query = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    s_y, q_y = np.repeat([0, 1, 2], 2), np.array([0, 1, 2, 1])
    centres = np.stack([support[s_y == c].mean(0) for c in range(3)])
    logits = -((query[:, None] - centres[None]) ** 2).sum(-1)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    want = -log_p[np.arange(4), q_y].mean()
    got = float(fs.prototypical_loss(support.astype("float32"), s_y,
                                     query.astype("float32"), q_y, 3))
    assert got == pytest.approx(want, rel=1e-5)


def test_episodic_training_learns_to_ignore_noisy_dimensions():
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(6), 40)
    signal = rng.normal(scale=2.0, size=(6, 2))[y] + 0.5 * rng.normal(size=(240, 2))
    x = np.concatenate([signal, 4 * rng.normal(size=(240, 6))], axis=1).astype("float32")
    keras.utils.set_random_seed(0)
    net = fs.PrototypicalNetwork(keras.Sequential([keras.layers.Dense(4)]), n_way=4)
    net.compile(optimizer=keras.optimizers.Adam(0.05), run_eagerly=True)
    sampler = fs.EpisodeSampler(x, y, n_way=4, k_shot=3, n_query=5, seed=0)
    before = net.evaluate(sampler.dataset(6), verbose=0, return_dict=True)
    net.fit(sampler.dataset(25), shuffle=False, verbose=0)
    after = net.evaluate(sampler.dataset(6), verbose=0, return_dict=True)
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] > before["accuracy"] + 0.2


def test_network_config_round_trips_with_its_encoder():
    net = fs.PrototypicalNetwork(fs.conv_encoder((8, 8), (4, 4)), n_way=5)
    clone = fs.PrototypicalNetwork.from_config(net.get_config())
    assert clone.n_way == 5
    assert clone.encoder.output_shape == net.encoder.output_shape == (None, 4 * 2 * 2)


def test_conv_encoder_halves_the_image_per_block_and_accepts_channels():
    assert fs.conv_encoder((28, 28), (8, 8, 8)).output_shape == (None, 8 * 3 * 3)
    with_bn = fs.conv_encoder((16, 16, 3), (4,), batch_norm=True)
    assert with_bn.output_shape == (None, 4 * 8 * 8)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in with_bn.layers)
    with pytest.raises(ValueError, match="at least one block"):
        fs.conv_encoder((28, 28), ())


def test_embed_equals_calling_the_encoder_in_batches():
    x = np.random.default_rng(0).random((10, 8, 8), "float32")
    encoder = fs.conv_encoder((8, 8), (3,))
    direct = keras.ops.convert_to_numpy(encoder(x, training=False))
    np.testing.assert_allclose(fs.embed(encoder, x, batch_size=3), direct, rtol=1e-5, atol=1e-6)


def test_confidence_interval_is_z_times_the_standard_error():
    a = np.random.default_rng(0).random(400)
    mean, half = fs.confidence_interval(a)
    assert mean == pytest.approx(a.mean())
    assert half == pytest.approx(1.959964 * a.std(ddof=1) / 20, rel=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        fs.confidence_interval([0.5])


def test_evaluate_scores_every_feature_map_on_the_same_episodes():
    x, y = _blobs(spread=2.0)
    a = fs.evaluate(x, y, n_way=3, k_shot=2, n_query=5, episodes=40, seed=5)
    b = fs.evaluate(3 * x + 1, y, n_way=3, k_shot=2, n_query=5, episodes=40, seed=5)
    np.testing.assert_array_equal(a.accuracies, b.accuracies)   # distances only rescaled


def test_evaluate_is_at_chance_on_features_that_carry_no_label():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 60)
    score = fs.evaluate(rng.normal(size=(300, 10)), y, n_way=5, k_shot=5, episodes=300)
    assert score.low < 0.2 < score.high + 0.01
    assert abs(score.mean - 0.2) < 0.03


def test_more_shots_help_and_one_shot_rules_agree():
    x, y = _blobs(spread=3.0)
    kw = {"n_way": 5, "n_query": 10, "episodes": 200}
    one = fs.evaluate(x, y, k_shot=1, **kw)
    five = fs.evaluate(x, y, k_shot=5, **kw)
    assert five.mean > one.mean + 0.05
    nn = fs.evaluate(x, y, k_shot=1, rule="neighbour", **kw)
    np.testing.assert_array_equal(nn.accuracies, one.accuracies)  # one example = its mean
    assert str(five).endswith(f"± {100 * five.half_width:.1f}")


def test_cosine_metric_ignores_the_length_of_each_feature_vector():
    x, y = _blobs(spread=2.0)
    lengths = np.random.default_rng(1).uniform(0.5, 3.0, size=(len(x), 1)).astype("float32")
    kw = {"n_way": 4, "k_shot": 1, "episodes": 30, "metric": "cosine"}
    np.testing.assert_array_equal(fs.evaluate(x, y, **kw).accuracies,
                                  fs.evaluate(x * lengths, y, **kw).accuracies)


@pytest.mark.parametrize("kwargs, message", [
    ({"rule": "knn"}, "rule must be one of"), ({"metric": "manhattan"}, "metric must be one of"),
])
def test_evaluate_refuses_unknown_rules_and_metrics(kwargs, message):
    x, y = _blobs()
    with pytest.raises(ValueError, match=message):
        fs.evaluate(x, y, n_way=2, k_shot=1, **kwargs)


def test_show_episode_draws_a_row_per_class():
    images = np.random.default_rng(0).random((40, 6, 6), "float32")
    episode = fs.EpisodeSampler(images, np.arange(40) % 4, n_way=3, k_shot=2,
                                n_query=3).sample()
    fig = fs.show_episode(episode, [f"c{i}" for i in range(4)], max_query=2)
    assert len(fig.axes) == 3 * (2 + 1 + 2)
    assert fig.axes[0].get_ylabel().startswith("c")
    with pytest.raises(ValueError, match="draws images"):
        fs.show_episode(fs.EpisodeSampler(images.reshape(40, -1), np.arange(40) % 4, n_way=2,
                                          k_shot=1, n_query=1).sample())


def test_compare_tabulates_methods_by_shots_on_paired_episodes():
    x, y = _blobs(spread=2.0)
    table = fs.compare({"raw": (x, "prototype", "euclidean"), "1-nn": (x, "neighbour", "cosine")},
                       y, n_way=3, shots=[1, 3], n_query=4, episodes=20)
    assert table[["method", "k_shot"]].values.tolist() == [
        ["raw", 1], ["raw", 3], ["1-nn", 1], ["1-nn", 3]]
    assert table["accuracy"].between(0, 1).all() and (table["ci95"] > 0).all()
    alone = fs.evaluate(x, y, n_way=3, k_shot=3, n_query=4, episodes=20)
    np.testing.assert_array_equal(table["score"][1].accuracies, alone.accuracies)
    with pytest.raises(ValueError, match=r"must be \(features, rule, metric\)"):
        fs.compare({"bad": (x, "prototype")}, y, n_way=3, shots=[1])
