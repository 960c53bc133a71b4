"""dlbook.distributed: two MWMS workers on loopback match one replica; a worker killed mid-epoch
resumes from its backup with no lost progress; the launcher never leaves a process behind.

The two process tests start real worker processes (TensorFlow in each), so each takes some
15-40 s on a 2-core machine; their own timeouts keep CI from hanging.
"""

import json
import os

import numpy as np
import pytest

from dlbook import distributed as dist

# A small job: 512 digits, global batch 64 (8 steps per epoch), three epochs.
JOB = dict(n_train=512, epochs=3, global_batch=64, hidden=32, learning_rate=0.5, seed=3)
TOL = 1e-4  # float32 sums in another order: close, not bit-equal


@pytest.fixture(scope="module")
def one_replica():
    """The reference: the same job in this process, under MirroredStrategy (one CPU)."""
    import tensorflow as tf

    return dist.train(dist.JobConfig(**JOB), tf.distribute.MirroredStrategy(["/cpu:0"]))


# --- fast checks of the parts -------------------------------------------------------------------


def test_free_ports_are_distinct_and_bindable():
    import socket

    ports = dist.free_ports(4)
    assert len(set(ports)) == 4
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    with pytest.raises(ValueError, match="positive int"):
        dist.free_ports(0)


def test_tf_config_names_every_worker_and_this_task():
    config = dist.tf_config([7001, 7002, 7003], 2)
    assert config["cluster"]["worker"] == ["127.0.0.1:7001", "127.0.0.1:7002",
                                           "127.0.0.1:7003"]
    assert config["task"] == {"type": "worker", "index": 2}
    json.dumps(config)  # it travels in an environment variable
    with pytest.raises(ValueError, match="index must be in 0..2"):
        dist.tf_config([7001, 7002, 7003], 3)
    with pytest.raises(ValueError, match="ports is empty"):
        dist.tf_config([], 0)


def test_job_config_checks_its_fields_and_round_trips_json():
    config = dist.JobConfig(epochs=3, crash_at=(1, 2), backup_dir="/tmp/x")
    assert dist.JobConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="never comes"):
        dist.JobConfig(epochs=2, crash_at=(2, 0))
    with pytest.raises(ValueError, match=r"\(epoch, step\)"):
        dist.JobConfig(crash_at=(1,))
    with pytest.raises(ValueError, match="split evenly"):
        dist.JobConfig(global_batch=10).batch_per_worker(3)


def test_weight_helpers_tell_equal_from_different_models():
    a = [np.ones((2, 2)), np.zeros(2)]
    b = [np.ones((2, 2)), np.array([0.0, 1e-3])]
    assert dist.weights_checksum(a) != dist.weights_checksum(b)
    assert dist.max_weight_difference(a, b) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="same architecture"):
        dist.max_weight_difference(a, a[:1])


def test_launch_refuses_bad_arguments_before_starting_anything():
    with pytest.raises(ValueError, match="split evenly"):
        dist.launch(3, dist.JobConfig(global_batch=64))
    with pytest.raises(ValueError, match="crash_worker 2 does not exist"):
        dist.launch(2, dist.JobConfig(crash_at=(0, 0), crash_worker=2))
    with pytest.raises(TypeError, match="JobConfig"):
        dist.launch(2, {"epochs": 1})


def test_worker_entry_point_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit):
        dist.main(["worker", "--index", "0", "--config", "{}", "--out", "x.json"])


def test_launch_kills_a_job_past_its_timeout_and_leaves_no_process(tmp_path):
    with pytest.raises(dist.LaunchError, match="timeout"):
        dist.launch(2, dist.JobConfig(**JOB), timeout=0.5, workdir=tmp_path)
    pids = [int(line.split()[1]) for line in (tmp_path / "pids.txt").read_text().splitlines()]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_one_replica_learns(one_replica):
    assert one_replica.n_workers == 1
    assert len(one_replica.losses) == JOB["epochs"]
    assert one_replica.losses[-1] < 0.7 * one_replica.losses[0]


# --- the two process tests ----------------------------------------------------------------------


def test_two_workers_match_one_replica(one_replica):
    run = dist.launch(2, dist.JobConfig(**JOB), timeout=90)
    assert run.returncodes == [0, 0]
    w0, w1 = run.results
    assert w0.n_workers == w1.n_workers == 2
    assert w0.checksum == w1.checksum  # the all-reduce keeps the copies in step
    np.testing.assert_allclose(w0.losses, one_replica.losses, rtol=TOL)
    assert dist.max_weight_difference(w0.weights, one_replica.weights) < TOL
    assert w0.samples_per_s > 0 and w1.samples_per_s > 0


def test_killed_worker_resumes_from_its_backup_with_no_lost_epoch(tmp_path, one_replica):
    backup = tmp_path / "backup"
    crash = dist.JobConfig(**JOB, backup_dir=str(backup), crash_at=(1, 4), crash_worker=1)
    first = dist.launch(2, crash, timeout=90, workdir=tmp_path / "run1")
    assert first.crashed and first.returncodes[1] == dist.CRASH_EXIT_CODE
    assert first.results == [None, None]  # nobody finished
    saved = json.loads((backup / "worker-0" / "training_metadata.json").read_text())
    assert saved["epoch"] == 1  # epoch 0 was backed up; epoch 1 died at step 4

    resumed = dist.launch(2, dist.JobConfig(**JOB, backup_dir=str(backup)), timeout=90,
                          workdir=tmp_path / "run2")
    w0 = resumed.results[0]
    assert w0.initial_epoch == 1 and w0.epochs_run == JOB["epochs"] - 1
    # the resumed model is the model that never crashed
    np.testing.assert_allclose(w0.losses, one_replica.losses[1:], rtol=TOL)
    assert dist.max_weight_difference(w0.weights, one_replica.weights) < TOL
    assert not backup.exists() or not any(backup.rglob("*.h5"))  # deleted when done
