"""Architecture search: the encoding refuses what cannot be built, every member of the space
builds with the parameter count the encoding predicts, the space's size is exact, mutation
changes exactly one thing and stays in the space, both search loops keep their trial and time
budgets and repeat under a seed, evolution exploits a signal that random search cannot, and the
Pareto front is the set of undominated points."""

import itertools
import json

import numpy as np
import pytest

from dlbook import nas

SPACE = nas.SearchSpace(input_shape=(14, 14), n_classes=10)


# --- the encoding -------------------------------------------------------------------------------


def test_blocks_validate_kind_width_kernel_and_pooling():
    with pytest.raises(ValueError, match="kind must be one of"):
        nas.Block("lstm", 8)
    with pytest.raises(ValueError, match="width of a conv block must be a positive int"):
        nas.conv(0)
    with pytest.raises(ValueError, match="kernel size"):
        nas.Block("conv", 8, kernel=0)
    with pytest.raises(ValueError, match="no kernel and no pooling"):
        nas.Block("dense", 8, kernel=3)
    assert nas.Block("conv", 8).kernel == 3


def test_architecture_keeps_convolutions_before_dense_blocks():
    with pytest.raises(ValueError, match="before dense blocks"):
        nas.Architecture([nas.dense(8), nas.conv(8)])
    with pytest.raises(ValueError, match="global average pooling needs"):
        nas.Architecture([nas.dense(8)], head="global")
    with pytest.raises(ValueError, match="head must be one of"):
        nas.Architecture([nas.conv(8)], head="max")
    with pytest.raises(TypeError, match="must be a Block"):
        nas.Architecture([("conv", 8)])


def test_architectures_are_hashable_values_that_round_trip_through_json():
    a = nas.Architecture([nas.sepconv(16, 5, pool=True), nas.dense(64)], head="global")
    b = nas.Architecture((nas.sepconv(16, 5, pool=True), nas.dense(64)), head="global")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert nas.Architecture.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    with pytest.raises(ValueError, match="not an architecture description"):
        nas.Architecture.from_dict({"layers": []})


def test_feature_shapes_follow_pooling_and_refuse_pooling_below_one_pixel():
    arch = nas.Architecture([nas.conv(8, pool=True), nas.conv(16, pool=True)])
    assert nas.feature_shapes(arch, (14, 14))[-1] == ("flatten", (3 * 3 * 16,))
    too_deep = nas.Architecture([nas.conv(8, pool=True)] * 4)
    with pytest.raises(ValueError, match="shrink below 1x1"):
        nas.feature_shapes(too_deep, (14, 14))


@pytest.mark.parametrize("seed", range(8))
def test_random_members_build_with_the_parameter_count_the_encoding_predicts(seed):
    arch = nas.random_architecture(SPACE, np.random.default_rng(seed))
    model = nas.build(arch, (14, 14), 10)
    assert model.count_params() == nas.count_params(arch, (14, 14), 10)
    assert model.output_shape == (None, 10)


def test_every_kind_of_block_and_head_counts_its_parameters_exactly():
    arch = nas.Architecture([nas.conv(8, 5, pool=True), nas.sepconv(16, 3), nas.dense(32)],
                            head="global")
    assert nas.build(arch, (12, 12, 3), 4).count_params() == nas.count_params(arch, (12, 12, 3), 4)
    assert nas.count_params(nas.Architecture([]), (14, 14), 10) == 196 * 10 + 10


def test_build_refuses_bad_input_shapes_and_learning_rates():
    with pytest.raises(ValueError, match="input_shape must be"):
        nas.build(nas.Architecture([]), (14,), 10)
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        nas.build(nas.Architecture([]), (14, 14), 10, learning_rate=0)
    with pytest.raises(TypeError, match="must be an Architecture"):
        nas.build("conv16", (14, 14), 10)


# --- the space ----------------------------------------------------------------------------------


def _enumerate(space):
    per = list(itertools.product(space.conv_kinds, space.conv_widths, space.kernels, (False, True)))
    found = set()
    for n_conv in range(space.max_conv + 1):
        for convs in itertools.product(per, repeat=n_conv):
            if sum(p for *_, p in convs) > space.max_pools:
                continue
            for n_dense in range(space.max_dense + 1):
                for denses in itertools.product(space.dense_widths, repeat=n_dense):
                    for head in (space.heads if n_conv else ("flatten",)):
                        blocks = [nas.Block(k, w, s, p) for k, w, s, p in convs]
                        found.add(nas.Architecture(blocks + [nas.dense(w) for w in denses], head))
    return found


def test_space_size_is_the_exact_number_of_distinct_members():
    tiny = nas.SearchSpace(input_shape=(4, 4), conv_widths=(4, 8), kernels=(3,),
                           dense_widths=(16,), max_conv=3, max_dense=1)
    assert tiny.max_pools == 2
    members = _enumerate(tiny)
    assert tiny.size() == len(members)
    assert all(tiny.contains(a) for a in members)


def test_space_validates_its_choices():
    with pytest.raises(ValueError, match="without repeats"):
        nas.SearchSpace(conv_widths=(8, 8))
    with pytest.raises(ValueError, match="conv_kinds must be drawn from"):
        nas.SearchSpace(conv_kinds=("conv", "lstm"))
    with pytest.raises(ValueError, match="max_dense must be an int >= 0"):
        nas.SearchSpace(max_dense=-1)


def test_random_architectures_stay_in_the_space_and_cover_it():
    rng = np.random.default_rng(0)
    archs = [nas.random_architecture(SPACE, rng) for _ in range(300)]
    assert all(SPACE.contains(a) for a in archs)
    assert {len(a.conv_blocks) for a in archs} == set(range(SPACE.max_conv + 1))
    assert {len(a.dense_blocks) for a in archs} == set(range(SPACE.max_dense + 1))
    assert {a.head for a in archs} == {"flatten", "global"}
    assert {b.kind for a in archs for b in a.conv_blocks} == {"conv", "sepconv"}


def _difference(a, b):
    """Number of block-level edits (one block changed, added or removed) plus head change."""
    x, y = list(a.blocks), list(b.blocks)
    if len(x) == len(y):
        changed = sum(p != q for p, q in zip(x, y, strict=True))
    else:
        longer, shorter = (x, y) if len(x) > len(y) else (y, x)
        changed = 1 if any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer))) \
            else 99
    return changed + (a.head != b.head)


def test_mutation_changes_one_thing_and_stays_in_the_space():
    rng = np.random.default_rng(1)
    for _ in range(300):
        parent = nas.random_architecture(SPACE, rng)
        child = nas.mutate(parent, SPACE, rng)
        assert child != parent and SPACE.contains(child)
        removed_last_conv = parent.head == "global" and not child.conv_blocks
        assert _difference(parent, child) <= (2 if removed_last_conv else 1), (parent, child)


def test_mutation_reaches_every_kind_of_change():
    rng = np.random.default_rng(2)
    parent = nas.Architecture([nas.conv(16, pool=True), nas.dense(64)])
    children = [nas.mutate(parent, SPACE, rng) for _ in range(400)]
    assert any(c.head == "global" for c in children)
    assert any(len(c.blocks) == 3 for c in children) and any(len(c.blocks) == 1 for c in children)
    assert any(c.conv_blocks and c.conv_blocks[0].kind == "sepconv" for c in children)
    assert any(c.conv_blocks and c.conv_blocks[0].kernel == 5 for c in children)
    assert any(c.conv_blocks and not c.conv_blocks[0].pool for c in children)


def test_mutation_refuses_architectures_outside_the_space():
    lenet = nas.Architecture([nas.conv(6, 5, pool=True), nas.conv(16, 5, pool=True)])
    with pytest.raises(ValueError, match="not in the search space"):
        nas.mutate(lenet, SPACE, 0)


# --- the search loops ---------------------------------------------------------------------------


def _width_score(arch):
    """A cheap stand-in for training: rewards convolutional width, punishes dense blocks."""
    return sum(b.width for b in arch.conv_blocks) / 200 - 0.1 * len(arch.dense_blocks)


class _Clock:
    """A fake clock that advances one second per trial (the evaluator ticks it)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def tick(self, arch):
        self.now += 1.0
        return _width_score(arch)


@pytest.mark.parametrize("search", [nas.random_search, nas.regularized_evolution])
def test_searches_keep_the_trial_budget_and_repeat_under_a_seed(search):
    first = search(SPACE, _width_score, trials=15, seed=3)
    again = search(SPACE, _width_score, trials=15, seed=3)
    other = search(SPACE, _width_score, trials=15, seed=4)
    assert len(first.trials) == 15 and first.stopped == "trial budget"
    assert [t.arch for t in first.trials] == [t.arch for t in again.trials]
    assert [t.arch for t in first.trials] != [t.arch for t in other.trials]
    assert [t.index for t in first.trials] == list(range(15))


@pytest.mark.parametrize("search", [nas.random_search, nas.regularized_evolution])
def test_searches_stop_when_the_time_budget_is_spent(search):
    clock = _Clock()
    result = search(SPACE, clock.tick, seconds=7.5, seed=0, clock=clock)
    assert len(result.trials) == 8 and result.stopped == "time budget"  # the 8th began at 7 s
    assert result.trials[-1].elapsed == pytest.approx(8.0)
    both = search(SPACE, _Clock().tick, trials=3, seconds=100, seed=0)
    assert len(both.trials) == 3 and both.stopped == "trial budget"


def test_searches_refuse_missing_budgets_and_bad_evaluators():
    with pytest.raises(ValueError, match="give the search a budget"):
        nas.random_search(SPACE, _width_score)
    with pytest.raises(ValueError, match="seconds must be a positive"):
        nas.random_search(SPACE, _width_score, seconds=0)
    with pytest.raises(TypeError, match="evaluate must return a finite number"):
        nas.random_search(SPACE, lambda arch: float("nan"), trials=1)
    with pytest.raises(TypeError, match="evaluate must be a function"):
        nas.random_search(SPACE, 0.5, trials=1)
    with pytest.raises(ValueError, match="cannot exceed population"):
        nas.regularized_evolution(SPACE, _width_score, trials=5, population=3, sample=4)


def test_trials_record_the_parameter_count_and_what_the_evaluator_reports():
    result = nas.random_search(SPACE, lambda a: {"score": 0.5, "params": 7, "note": "x"},
                               trials=3)
    assert all(t.params == SPACE.count_params(t.arch) for t in result.trials)
    assert all(t.info == {"params": 7, "note": "x"} for t in result.trials)
    table = result.table()
    assert list(table.index) == [0, 1, 2] and {"architecture", "score", "note"} <= set(table)


def test_evolution_mutates_tournament_winners_and_ages_out_the_oldest():
    result = nas.regularized_evolution(SPACE, _width_score, trials=30, population=6, sample=3,
                                       seed=5)
    origins = [t.origin for t in result.trials]
    assert origins[:6] == ["random"] * 6 and all(o.startswith("mutant of #") for o in origins[6:])
    for t in result.trials[6:]:
        parent = int(t.origin.split("#")[1])
        assert t.index - 6 <= parent < t.index  # the parent was alive: among the last 6


def _graded_score(arch):
    """A stand-in with many small steps uphill: wide, large-kernel, separable, pooled
    convolutions and a global head score high, dense blocks cost."""
    conv = sum(b.width / 64 + (b.kernel == 5) + (b.kind == "sepconv") + b.pool
               for b in arch.conv_blocks)
    return conv - len(arch.dense_blocks) + (arch.head == "global")


def test_evolution_beats_random_search_on_a_learnable_signal():
    """With a score that single mutations can climb, evolution ends higher on most seeds (Real
    et al. 2019's finding, in miniature)."""
    wins = 0
    for seed in range(6):
        evo = nas.regularized_evolution(SPACE, _graded_score, trials=100, population=10,
                                        sample=3, seed=seed)
        rnd = nas.random_search(SPACE, _graded_score, trials=100, seed=seed)
        wins += evo.best.score > rnd.best.score
    assert wins >= 5


def test_best_so_far_never_falls_and_ends_at_the_best():
    result = nas.random_search(SPACE, _width_score, trials=20, seed=0)
    x, best = result.best_so_far()
    assert x.tolist() == list(range(1, 21)) and (np.diff(best) >= 0).all()
    assert best[-1] == result.best.score
    seconds, _ = result.best_so_far(by="seconds")
    assert (np.diff(seconds) >= 0).all()
    summary = result.summary()
    assert summary["trials"] == 20 and summary["best architecture"] == str(result.best.arch)


def test_make_evaluator_trains_reproducibly_and_reports_keras_parameter_count():
    rng = np.random.default_rng(0)
    x = rng.random((64, 6, 6), dtype="float32")
    y = (x[:, :3].mean(axis=(1, 2)) > x[:, 3:].mean(axis=(1, 2))).astype(int)
    evaluate = nas.make_evaluator((x, y), (x, y), n_classes=2, epochs=2, batch_size=32)
    arch = nas.Architecture([nas.conv(4, pool=True)], head="flatten")
    first, second = evaluate(arch), evaluate(arch)
    assert first["score"] == second["score"] and 0 <= first["score"] <= 1
    assert first["params"] == nas.count_params(arch, (6, 6), 2)


def test_train_learns_a_separable_task_and_refuses_an_uncompiled_model():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(96, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    nas.keras.utils.set_random_seed(0)
    model = nas.build(nas.Architecture([]), (2, 1, 1), 2, learning_rate=0.1)
    before = float(np.mean(model.predict(x[..., None, None], verbose=0).argmax(1) == y))
    seconds = nas.train(model, x[..., None, None], y, epochs=30, batch_size=32)
    after = float(np.mean(model.predict(x[..., None, None], verbose=0).argmax(1) == y))
    assert seconds > 0 and after >= 0.9 and after > before
    raw = nas.keras.Sequential([nas.keras.Input((2,)), nas.keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="compile the model first"):
        nas.train(raw, x, y, epochs=1)
    with pytest.raises(ValueError, match="at least one batch"):
        nas.train(model, x[:4, :, None, None], y[:4], epochs=1, batch_size=32)


# --- Pareto front and plots ---------------------------------------------------------------------


def test_pareto_front_holds_exactly_the_undominated_points():
    rng = np.random.default_rng(0)
    params, scores = rng.integers(1, 50, 60), rng.random(60)
    front = set(nas.pareto_front(params, scores).tolist())
    for i in range(60):
        dominated = any(params[j] <= params[i] and scores[j] >= scores[i]
                        and (params[j] < params[i] or scores[j] > scores[i]) for j in range(60))
        assert (i in front) != dominated
    with pytest.raises(ValueError, match="equally long"):
        nas.pareto_front([1, 2], [0.5])


def test_plots_label_their_axes():
    result = nas.random_search(SPACE, _width_score, trials=6)
    progress = nas.plot_progress({"r": result}, references={"MLP": 0.1})
    assert progress.axes[0].get_ylabel() == "validation accuracy (%)"
    pareto = nas.plot_pareto([result], rivals={"MLP": (1000, 0.1)})
    assert pareto.axes[0].get_xlabel() == "parameters (log scale)"
    drawing = nas.draw({"best": result.best.arch}, (14, 14), 10)
    assert drawing.axes[0].get_title() == "Architectures, block by block"
