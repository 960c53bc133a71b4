import time

import numpy as np
import pytest

from dlbook import bench

keras = bench.keras
tf = pytest.importorskip("tensorflow")


# --- Timer ----------------------------------------------------------------------------------------


def test_timer_measures_the_block():
    with bench.Timer() as t:
        time.sleep(0.02)
    assert 0.02 <= t.seconds < 0.5
    frozen = t.seconds
    time.sleep(0.01)
    assert t.seconds == frozen, "the time must stop when the block ends"


def test_timer_reads_elapsed_time_inside_the_block():
    with bench.Timer() as t:
        time.sleep(0.01)
        assert t.seconds >= 0.01


def test_timer_not_started_says_how_to_use_it():
    with pytest.raises(RuntimeError, match="with Timer"):
        _ = bench.Timer().seconds


# --- throughput -----------------------------------------------------------------------------------


def test_throughput_counts_samples_by_the_leading_dimension():
    batches = [(np.zeros((8, 3)), np.zeros(8)), (np.zeros((5, 3)), np.zeros(5))]
    result = bench.throughput(batches, epochs=3)
    assert (result.samples, result.batches) == (39, 6)
    assert result.samples_per_s == pytest.approx(39 / result.seconds)
    assert result.batches_per_s == pytest.approx(6 / result.seconds)


def test_throughput_of_dict_elements_uses_the_first_value():
    batches = [{"image": np.zeros((4, 2, 2)), "label": np.zeros(4)}] * 2
    assert bench.throughput(batches).samples == 8


def test_unbatched_elements_count_one_sample_each():
    assert bench.throughput(range(7), batched=False).samples == 7


def test_scalar_elements_need_batched_false():
    with pytest.raises(ValueError, match="batched=False"):
        bench.throughput([1.0, 2.0])


def test_tf_dataset_is_counted_inside_tensorflow():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((100, 4)), np.arange(100))).batch(32)
    result = bench.throughput(ds, epochs=2, warmup=1)
    assert (result.samples, result.batches) == (200, 8)
    unbatched = bench.throughput(ds.unbatch(), batched=False)
    assert (unbatched.samples, unbatched.batches) == (100, 100)


def test_tf_dataset_without_batch_dimension_names_the_fix():
    ds = tf.data.Dataset.range(10)
    with pytest.raises(ValueError, match="batched=False"):
        bench.throughput(ds)


def test_slower_pipeline_measures_slower():
    fast = [np.zeros((10, 2))] * 5

    class Slow:
        def __iter__(self):
            for batch in fast:
                time.sleep(0.01)
                yield batch

    assert bench.throughput(Slow()).samples_per_s < bench.throughput(fast).samples_per_s


def test_repeats_keep_the_fastest_run():
    calls = []

    class Jittery:
        def __iter__(self):
            calls.append(1)
            time.sleep(0.05 if len(calls) == 1 else 0.0)
            yield np.zeros((2, 1))

    result = bench.throughput(Jittery(), repeats=3)
    assert len(calls) == 3 and result.seconds < 0.05


def test_warmup_passes_are_not_timed():
    calls = []

    class FirstSlow:
        def __iter__(self):
            calls.append(1)
            time.sleep(0.1 if len(calls) == 1 else 0.0)
            yield np.zeros((2, 1))

    assert bench.throughput(FirstSlow(), warmup=1).seconds < 0.1
    assert len(calls) == 2


def test_one_shot_iterators_cannot_be_read_twice():
    with pytest.raises(ValueError, match="re-iterable"):
        bench.throughput(iter([np.zeros((2, 1))]), epochs=2)
    assert bench.throughput(iter([np.zeros((2, 1))])).samples == 2


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"warmup": -1}, {"repeats": 1.5}, {"epochs": True}])
def test_throughput_rejects_bad_counts(kwargs):
    with pytest.raises(ValueError, match="must be an int"):
        bench.throughput([np.zeros((1, 1))], **kwargs)


def test_throughput_rejects_non_iterables_and_empty_data():
    with pytest.raises(TypeError, match="iterable of batches"):
        bench.throughput(42)
    with pytest.raises(ValueError, match="no elements"):
        bench.throughput([])


def test_throughput_table_has_a_row_per_pipeline_and_speed_up_over_the_first():
    table = bench.throughput_table(
        {"batch 1": [np.zeros((1, 1))] * 4, "batch 4": [np.zeros((4, 1))]}
    )
    assert table.index.tolist() == ["batch 1", "batch 4"]
    assert table.loc["batch 1", "speed-up"] == 1.0
    assert table["samples/s"].gt(0).all()


def test_throughput_table_accepts_batched_per_pipeline():
    table = bench.throughput_table(
        {"elements": range(4), "batches": [np.zeros((2, 1))] * 2},
        batched={"elements": False, "batches": True},
    )
    assert len(table) == 2
    with pytest.raises(ValueError, match="no entry"):
        bench.throughput_table({"a": range(3)}, batched={"b": False})
    with pytest.raises(ValueError, match="empty"):
        bench.throughput_table({})


# --- timed_fit ------------------------------------------------------------------------------------


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def test_timed_fit_times_every_epoch_and_returns_the_history():
    x, y = np.random.default_rng(0).normal(size=(40, 3)), np.zeros(40)
    run = bench.timed_fit(tiny_model(), x, y, epochs=4, batch_size=8)
    assert len(run.epoch_seconds) == 4 == len(run.history.history["loss"])
    assert run.samples_per_epoch == 40 and run.steps_per_epoch == 5
    assert run.seconds_per_epoch == pytest.approx(np.median(run.epoch_seconds[1:]))
    assert run.fastest_epoch_seconds == min(run.epoch_seconds[1:])
    assert run.samples_per_s == pytest.approx(40 / run.seconds_per_epoch)
    assert run.fit_seconds >= sum(run.epoch_seconds)
    assert "samples/s" in str(run)


def test_timed_fit_leaves_out_the_validation_split_and_keeps_user_callbacks():
    seen = []
    marker = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))
    run = bench.timed_fit(tiny_model(), np.zeros((50, 3)), np.zeros(50), epochs=2,
                          validation_split=0.2, callbacks=[marker])
    assert run.samples_per_epoch == 40 and seen == [0, 1]


def test_timed_fit_on_a_dataset_needs_n_samples_for_a_rate():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((30, 3)), np.zeros(30))).batch(10)
    run = bench.timed_fit(tiny_model(), ds, epochs=2)
    with pytest.raises(ValueError, match="n_samples"):
        _ = run.samples_per_s
    assert bench.timed_fit(tiny_model(), ds, epochs=2, n_samples=30).samples_per_epoch == 30


def test_timed_fit_rejects_what_is_not_a_model():
    with pytest.raises(TypeError, match="compiled Keras model"):
        bench.timed_fit("model", np.zeros((2, 3)))


def test_epoch_timer_records_one_entry_per_epoch():
    timer = bench.EpochTimer()
    tiny_model().fit(np.zeros((8, 3)), np.zeros(8), epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.epoch_seconds) == 3 and all(s > 0 for s in timer.epoch_seconds)


def test_a_single_epoch_is_its_own_steady_state():
    run = bench.TimedHistory(history=None, epoch_seconds=[2.0])
    assert run.seconds_per_epoch == run.fastest_epoch_seconds == 2.0
