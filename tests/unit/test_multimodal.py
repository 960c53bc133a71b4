"""Hybrid and multimodal models: the sequence composer gives the stated label and position
distributions and keeps test images out of training, the order-free ceiling is exact, the
heads see (or ignore) frame order as claimed, the questions are answered right and drawn
independently of the image, and the fusion builder takes any branch models and refuses
mismatched inputs with an error that names the fix."""

import itertools
from collections import Counter

import numpy as np
import pytest

from dlbook import multimodal as M

keras = M.keras


@pytest.fixture(scope="module")
def pool():
    """60 random 6×6 'images', six of each digit, each image unique."""
    rng = np.random.default_rng(0)
    return rng.random((60, 6, 6)).astype("float32"), np.arange(60) % 10


# --- the sequence composer ----------------------------------------------------------------------


def test_labels_are_balanced_over_the_nine_non_marker_digits(pool):
    seqs = M.compose_sequences(*pool, 905, length=5, marker=7, seed=3)
    counts = np.bincount(seqs.labels, minlength=10)
    assert counts[7] == 0
    others = np.delete(counts, 7)
    assert others.sum() == 905 and others.max() - others.min() <= 1


def test_the_first_marker_is_balanced_over_the_positions_it_can_take(pool):
    seqs = M.compose_sequences(*pool, 403, length=5, marker=2, seed=4)
    first = np.argmax(seqs.digits == 2, axis=1)
    counts = np.bincount(first, minlength=5)
    assert counts[4] == 0 and counts[:4].max() - counts[:4].min() <= 1


def test_the_label_is_the_digit_after_the_first_marker(pool):
    x, y = pool
    seqs = M.compose_sequences(x, y, 500, length=6, seed=5)
    assert (M.label_after_marker(seqs.digits, 7) == seqs.labels).all()
    np.testing.assert_array_equal(seqs.frames, x[seqs.sources])     # frames are pool images
    np.testing.assert_array_equal(seqs.digits, y[seqs.sources])     # ... of the stated digit
    first = np.argmax(seqs.digits == 7, axis=1)
    later = [(row[p + 2:] == 7).any() for row, p in zip(seqs.digits, first, strict=True)]
    assert 0.1 < np.mean(later) < 0.5, "second markers (distractors) should occur, not always"


def test_ordered_sequences_follow_the_stated_distribution(pool):
    """The ceiling's model of the composer (_sequence_probability) is the composer's."""
    seqs = M.compose_sequences(*pool, 30_000, length=3, seed=6)
    seen = Counter(map(tuple, seqs.digits.tolist()))
    total = 0.0
    for seq in itertools.product(range(10), repeat=3):
        p, label = M._sequence_probability(seq, 7)
        total += p
        if p:
            assert label == seq[seq.index(7) + 1]
        assert abs(seen[seq] / len(seqs) - p) < 4 * np.sqrt(p * (1 - p) / len(seqs)) + 1e-4
    assert abs(total - 1) < 1e-9


def test_the_composer_is_seeded(pool):
    a = M.compose_sequences(*pool, 50, seed=1)
    b = M.compose_sequences(*pool, 50, seed=1)
    c = M.compose_sequences(*pool, 50, seed=2)
    np.testing.assert_array_equal(a.sources, b.sources)
    assert not np.array_equal(a.sources, c.sources)


def test_the_split_never_shows_a_test_image_in_training(pool):
    x, y = pool
    train, test = M.compose_split(x[:40], y[:40], x[40:], y[40:], n_train=300, n_test=200)
    assert M.shared_images(test.frames, train.frames) == 0
    assert M.shared_images(test.frames, x[:40]) == 0             # nor anywhere in its pool
    assert len(np.unique(test.sources)) == 20                     # the whole test pool is used


def test_the_split_refuses_pools_that_share_an_image(pool):
    x, y = pool
    leaky_test = np.concatenate([x[40:], x[:1]])
    with pytest.raises(ValueError, match="1 test image.*training pool"):
        M.compose_split(x[:40], y[:40], leaky_test, np.append(y[40:], y[0]),
                        n_train=10, n_test=10)


def test_bad_pools_are_refused_with_the_fix(pool):
    x, y = pool
    with pytest.raises(ValueError, match=r"no image of digit\(s\) \[9\]"):
        M.compose_sequences(x[y != 9], y[y != 9], 5)
    with pytest.raises(ValueError, match="one int per image"):
        M.compose_sequences(x, y[:-1], 5)
    with pytest.raises(ValueError, match="length must be an int >= 2"):
        M.compose_sequences(x, y, 5, length=1)
    with pytest.raises(ValueError, match="marker must be a digit"):
        M.compose_sequences(x, y, 5, marker=12)


def test_order_free_ceiling_is_exact_and_ignores_order(pool):
    assert M.order_free_ceiling([[7, 3], [3, 7]], [3, 3]) == 1.0
    # {7, 3, 5}: 7-3-5 and 7-5-3 (marker first, p = 1/2 · 1/9 · 1/10 each) against 3-7-5
    # and 5-7-3 (p = 1/2 · 1/9 · 1/9 each): label 3 and label 5 tie; half a point
    assert M.order_free_ceiling([[7, 3, 5]], [3]) == pytest.approx(0.5)
    seqs = M.compose_sequences(*pool, 400, length=5, seed=7)
    ceiling = M.order_free_ceiling(seqs.digits, seqs.labels)
    shuffled = np.random.default_rng(0).permuted(seqs.digits, axis=1)
    assert ceiling == M.order_free_ceiling(shuffled, seqs.labels)
    assert 0.25 < ceiling < 0.55            # far below what reading the order gives (1.0)


# --- sequence models ----------------------------------------------------------------------------


def _frames(n=4, length=5, size=8, seed=0):
    return np.random.default_rng(seed).random((n, length, size, size)).astype("float32")


def test_the_bag_head_ignores_frame_order_and_the_others_do_not():
    encoder = M.frame_encoder((8, 8), filters=(4,), units=6)
    x = _frames()
    reordered = np.ascontiguousarray(x[:, [2, 0, 4, 1, 3]])
    for head in M.HEADS:
        keras.utils.set_random_seed(0)
        model = M.sequence_classifier(encoder, 5, head=head)
        same = np.allclose(M.predict(model, x), M.predict(model, reordered), atol=1e-6)
        assert same == (head == "bag"), head


def test_the_classifier_copies_the_encoder_and_freezes_the_copy():
    keras.utils.set_random_seed(0)
    encoder = M.frame_encoder((8, 8), filters=(4,), units=6)
    before = [w.copy() for w in encoder.get_weights()]
    model = M.sequence_classifier(encoder, 5, head="bag")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x, y = _frames(16), np.arange(16) % 10
    copy = model.get_layer("per_frame_cnn").layer
    start = [w.copy() for w in copy.get_weights()]
    head = [w.copy() for w in model.get_layer("label").get_weights()]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(head[0], model.get_layer("label").get_weights()[0])  # trained
    for a, b in zip(start, copy.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)                  # frozen
    for a, b in zip(before, encoder.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)                  # the original is untouched
    for a, b in zip(before, start, strict=True):
        np.testing.assert_array_equal(a, b)                  # ... and was copied with weights
    trainable = M.sequence_classifier(encoder, 5, head="flat", train_encoder=True)
    assert trainable.get_layer("per_frame_cnn").layer.trainable


def test_builders_refuse_bad_branches():
    with pytest.raises(ValueError, match="head must be one of"):
        M.sequence_classifier(M.frame_encoder((8, 8)), 5, head="gru")
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="flat feature vector.*Flatten"):
        M.digit_reader(conv)
    with pytest.raises(ValueError, match="must be a keras.Model"):
        M.fusion_model({"image": "cnn"})


# --- questions ----------------------------------------------------------------------------------


def test_every_template_is_answered_right_for_every_digit():
    for d in range(10):
        assert M.answer("is the digit even", d) == (d % 2 == 0)
        assert M.answer("is the digit odd", d) == (d % 2 == 1)
        for k, word in enumerate(M.NUMBER_WORDS):
            article = "an" if word == "eight" else "a"
            assert M.answer(f"is it {article} {word}", d) == (d == k)
            if 1 <= k <= 8:
                assert M.answer(f"is the digit greater than {word}", d) == (d > k)
                assert M.answer(f"is the digit less than {word}", d) == (d < k)
    for wrong in ("is the digit prime", "is it a eight", "is the digit greater than nine"):
        with pytest.raises(ValueError, match="not a question this task asks"):
            M.answer(wrong, 3)


def test_asked_questions_parse_and_tokenize():
    rng = np.random.default_rng(0)
    questions = [M.ask(rng) for _ in range(500)]
    kinds = Counter(M.question_kind(q) for q in questions)
    assert set(kinds) == set(M.QUESTION_KINDS) and min(kinds.values()) > 90
    tokens = M.tokenize(questions)
    assert tokens.shape == (500, M.MAX_WORDS) and tokens.max() < len(M.VOCAB)
    for q in questions:
        M.answer(q, 4)                                         # every asked question parses
    with pytest.raises(ValueError, match="unknown words"):
        M.tokenize(["is it a ten"])
    with pytest.raises(ValueError, match="wrap a single one"):
        M.tokenize("is it a one")


def test_questions_are_drawn_independently_of_the_image(pool):
    x, y = pool
    qa = M.compose_questions(x, y, per_image=40, seed=1)
    assert len(qa) == 2400 and (np.bincount(qa.sources) == 40).all()
    np.testing.assert_array_equal(qa.images, x[qa.sources])
    assert all(M.answer(q, d) == a for q, d, a in zip(qa.questions, qa.digits, qa.answers,
                                                      strict=True))
    kinds = qa.kinds
    for d in range(10):                   # the kind of question does not depend on the digit
        share = np.mean(kinds[qa.digits == d] == "identity")
        assert abs(share - 0.25) < 0.09
    # neither modality alone decides the answer
    assert M.best_accuracy_given(qa.digits, qa.answers) < 0.7
    assert M.best_accuracy_given(qa.questions, qa.answers) < 0.8
    assert M.best_accuracy_given(list(zip(qa.questions, qa.digits, strict=True)), qa.answers) == 1.0


def test_best_accuracy_given_is_the_majority_per_group():
    assert M.best_accuracy_given(["a", "a", "a", "b"], [1, 1, 0, 0]) == 0.75
    assert M.best_accuracy_given([1, 2, 3], [0, 1, 0]) == 1.0
    with pytest.raises(ValueError, match="equal length"):
        M.best_accuracy_given([1, 2], [0])


# --- fusion -------------------------------------------------------------------------------------


def _dense_branch(n_in, n_out, name):
    inputs = keras.Input((n_in,))
    return keras.Model(inputs, keras.layers.Dense(n_out, activation="relu")(inputs), name=name)


def test_the_fusion_builder_accepts_any_branch_models():
    branches = {"image": M.frame_encoder((8, 8), filters=(4,), units=5),
                "question": M.text_branch(),
                "record": _dense_branch(3, 7, "record_net")}
    model = M.fusion_model(branches, hidden=(16, 8), n_outputs=4)
    x = {"image": np.zeros((5, 8, 8)), "question": np.zeros((5, 6), "int32"),
         "record": np.zeros((5, 3))}
    probs = M.predict(model, x)
    assert probs.shape == (5, 4) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    gated = M.fusion_model({"a": _dense_branch(3, 4, "a_net"), "b": _dense_branch(2, 9, "b_net")},
                           mode="gated", units=6)
    assert M.predict(gated, [np.zeros((2, 3)), np.zeros((2, 2))]).shape == (2, 1)
    single = M.fusion_model({"question": M.text_branch(name="q_only")})
    assert M.predict(single, np.zeros((3, 6), "int32")).shape == (3, 1)


@pytest.fixture(scope="module")
def two_branch():
    model = M.fusion_model({"a": _dense_branch(3, 4, "a_net"), "b": _dense_branch(2, 4, "b_net")})
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def test_mismatched_batch_sizes_are_refused_before_keras_sees_them(two_branch):
    x = {"a": np.zeros((8, 3)), "b": np.zeros((7, 2))}
    for call in (lambda: two_branch.fit(x, np.zeros(8), verbose=0),
                 lambda: two_branch.predict(x, verbose=0),
                 lambda: M.predict(two_branch, x)):
        with pytest.raises(ValueError, match="different batch sizes: a 8, b 7"):
            call()
    with pytest.raises(ValueError, match="different batch sizes: a 8, b 8, y 6"):
        two_branch.evaluate({"a": np.zeros((8, 3)), "b": np.zeros((8, 2))}, np.zeros(6),
                            verbose=0)


def test_wrong_shapes_names_and_counts_are_refused_with_the_fix(two_branch):
    with pytest.raises(ValueError, match=r"input 'b' must be shaped \(batch, 2\), got \(4, 3\)"):
        M.check_inputs(two_branch, {"a": np.zeros((4, 3)), "b": np.zeros((4, 3))})
    with pytest.raises(ValueError, match=r"missing \['b'\], unknown \['c'\]"):
        M.check_inputs(two_branch, {"a": np.zeros((4, 3)), "c": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="got 1 inputs for 2 branches"):
        M.check_inputs(two_branch, [np.zeros((4, 3))])
    with pytest.raises(ValueError, match="gated fusion takes exactly two branches"):
        M.fusion_model({"a": _dense_branch(3, 4, "x1")}, mode="gated")
    with pytest.raises(ValueError, match="distinct names"):
        M.fusion_model({"a": _dense_branch(3, 4, "same"), "b": _dense_branch(2, 4, "same")})


def test_a_fused_model_learns_an_interaction_that_late_fusion_cannot():
    """label = a XOR b: each input alone (and any average of single-input models) is at
    chance; a model that fuses the two branches before its head solves it."""
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, (2, 512, 1)).astype("float32")
    y = (a != b).astype("float32")[:, 0]
    keras.utils.set_random_seed(0)
    fused = M.fusion_model({"a": _dense_branch(1, 8, "a_net"), "b": _dense_branch(1, 8, "b_net")},
                           hidden=(16,))
    fused.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    for _ in range(150):
        fused.train_on_batch({"a": a, "b": b}, y)
    accuracy = np.mean((M.predict(fused, {"a": a, "b": b})[:, 0] > 0.5) == y)
    assert accuracy == 1.0
    assert M.best_accuracy_given(a[:, 0], y) < 0.6        # what one input alone allows


def test_late_fusion_and_a_dropped_modality():
    np.testing.assert_allclose(M.late_fusion([[0.9, 0.2], [0.5, 0.6]], weights=[3, 1]),
                               [0.8, 0.3])
    with pytest.raises(ValueError, match="two or more arrays of one shape"):
        M.late_fusion([[0.1, 0.2], [0.3]])
    x = {"image": np.ones((2, 3)), "question": np.ones((2, 4), "int32")}
    dropped = M.drop_modality(x, "question")
    assert dropped["question"].dtype == np.int32 and not dropped["question"].any()
    assert x["question"].all(), "the original inputs are not changed"
    with pytest.raises(ValueError, match="no input named 'audio'"):
        M.drop_modality(x, "audio")
