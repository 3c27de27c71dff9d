"""Two worker processes on 127.0.0.1 train one VAE with MultiWorkerMirroredStrategy, and survive a kill.

Each test starts the workers with a ``TF_CONFIG`` naming two free loopback ports, runs the script below in
each, and reads what they wrote: their final weights, the epochs each began and finished, and (on the chief
only) the run folder. Every process is bounded in time and killed when the test ends, whatever happens.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="MultiWorkerMirroredStrategy is TensorFlow's: needs its backend"
)

WORKERS = 2
WORKER_TIMEOUT = 120
EPOCHS = 4
SAMPLES = 128
GLOBAL_BATCH = 32
STEPS_PER_EPOCH = SAMPLES // GLOBAL_BATCH

WORKER_SCRIPT = r'''
"""One worker of a two-worker job: trains a small VAE under MultiWorkerMirroredStrategy.

Arguments: the job's folder, this attempt's number, and the input kind ("numpy" or "tf.data").
"""
import json
import os
import sys
import time
from pathlib import Path

from tfae.distribute import BackupAndRestore, cluster_config, is_chief, make_strategy

# TensorFlow wants the multi-worker strategy created before any other TensorFlow work.
strategy = make_strategy("multi-worker")

import keras
import numpy as np
import tensorflow as tf

from tfae.models import Autoencoder

folder, attempt, data_kind = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
index = cluster_config().task_index
epochs = int(os.environ["TEST_EPOCHS"])
stall = os.environ.get("TEST_STALL_AT")  # "epoch,batch": stop there, mid-training, until killed


class Recorder(keras.callbacks.Callback):
    """Appends each epoch begun and finished, and the stall, to this worker's record file."""

    def __init__(self):
        super().__init__()
        self.epoch = None

    def write(self, event, epoch):
        with open(folder / f"records-{index}.jsonl", "a") as file:
            file.write(json.dumps({"attempt": attempt, "event": event, "epoch": epoch}) + "\n")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.write("begin", epoch)

    def on_epoch_end(self, epoch, logs=None):
        self.write("end", epoch)

    def on_train_batch_end(self, batch, logs=None):
        if stall is not None and [self.epoch, batch] == [int(part) for part in stall.split(",")]:
            self.write("stalled", self.epoch)
            time.sleep(600)


keras.utils.set_random_seed(0)
samples, global_batch = int(os.environ["TEST_SAMPLES"]), int(os.environ["TEST_GLOBAL_BATCH"])
x = np.random.default_rng(0).random((samples, 8)).astype("float32")
if data_kind == "tf.data":
    # Sharded across the workers by TensorFlow (auto-sharding); each batch is the global batch.
    data = tf.data.Dataset.from_tensor_slices(x).shuffle(samples, seed=0).batch(global_batch)
    batch_size = None
else:
    data, batch_size = x, global_batch
with strategy.scope():
    model = Autoencoder(bottleneck={
        "name": "gaussian",
        "latent_dim": 2,
        "regularizer": {"name": "kld", "beta": {"name": "dasr", "start_value": 0.0, "end_value": 1.0, "attack": 12, "unit": "step"}},
    })
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="bernoulli")
    model.build((None, x.shape[1]))
callbacks = [BackupAndRestore(str(folder / "backup")), Recorder()]
history = model.fit(data, batch_size=batch_size, epochs=epochs, callbacks=callbacks, verbose=0)
np.savez(folder / f"weights-{index}.npz", *model.get_weights())
if is_chief():
    run = folder / f"run-{index}"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "history.json").write_text(json.dumps(history.history))
print(f"worker {index}: done, step counter {int(model.schedulers[0].step.numpy())}", flush=True)
'''


def free_ports(count):
    """``count`` distinct free TCP ports on 127.0.0.1, found by binding to port 0."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def worker_environment(ports, index, **extra):
    environment = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    environment.update(
        TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        TEST_EPOCHS=str(EPOCHS),
        TEST_SAMPLES=str(SAMPLES),
        TEST_GLOBAL_BATCH=str(GLOBAL_BATCH),
        **extra,
    )
    return environment


@contextlib.contextmanager
def job(folder, attempt, data_kind="numpy", stall=None):
    """Starts the workers of one attempt; on leaving, kills any still running and waits for them."""
    script = folder / "worker.py"
    script.write_text(WORKER_SCRIPT)
    ports = free_ports(WORKERS)
    processes = []
    try:
        for index in range(WORKERS):
            extra = {"TEST_STALL_AT": stall[index]} if stall and index in stall else {}
            log = open(folder / f"log-{attempt}-{index}.txt", "w")
            processes.append(subprocess.Popen(
                [sys.executable, str(script), str(folder), str(attempt), data_kind],
                env=worker_environment(ports, index, **extra), stdout=log, stderr=subprocess.STDOUT,
            ))
            log.close()
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait(timeout=30)


def wait_all(processes, folder, attempt):
    deadline = time.monotonic() + WORKER_TIMEOUT
    for index, process in enumerate(processes):
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {index} ran past {WORKER_TIMEOUT} s:\n{log_tail(folder, attempt, index)}")
        assert process.returncode == 0, f"worker {index} failed:\n{log_tail(folder, attempt, index)}"


def log_tail(folder, attempt, index):
    path = folder / f"log-{attempt}-{index}.txt"
    return path.read_text()[-4000:] if path.exists() else "(no log)"


def records(folder, index):
    path = folder / f"records-{index}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def epochs_of(folder, index, attempt, event):
    return [record["epoch"] for record in records(folder, index) if record["attempt"] == attempt and record["event"] == event]


def assert_same_weights(folder):
    weights = [np.load(folder / f"weights-{index}.npz") for index in range(WORKERS)]
    assert len(weights[0].files) == len(weights[1].files) > 0
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=f"weight {name} differs between workers")


def assert_only_chief_wrote_run(folder):
    assert (folder / "run-0" / "model.keras").is_file()
    assert not (folder / "run-1").exists()
    history = json.loads((folder / "run-0" / "history.json").read_text())
    assert np.all(np.isfinite(history["loss"]))


def test_two_workers_train_one_model(tmp_path):
    with job(tmp_path, attempt=1, data_kind="tf.data") as processes:
        wait_all(processes, tmp_path, attempt=1)
    for index in range(WORKERS):
        assert epochs_of(tmp_path, index, 1, "end") == list(range(EPOCHS))
        assert f"worker {index}: done, step counter {EPOCHS * STEPS_PER_EPOCH}" in log_tail(tmp_path, 1, index)
    assert_same_weights(tmp_path)
    assert_only_chief_wrote_run(tmp_path)
    assert not (tmp_path / "backup").exists(), "the chief removes the backup when training ends"


def test_killed_worker_resumes_from_last_epoch(tmp_path):
    """Worker 1 is killed in the middle of epoch 2; restarted, the job runs epochs 2 and 3 only."""
    stalled_epoch = 2
    with job(tmp_path, attempt=1, stall={1: f"{stalled_epoch},0"}) as processes:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while "stalled" not in [record["event"] for record in records(tmp_path, 1)]:
            assert all(process.poll() is None for process in processes), "\n".join(
                log_tail(tmp_path, 1, index) for index in range(WORKERS))
            assert time.monotonic() < deadline, "worker 1 never reached the point where it is killed"
            time.sleep(0.2)
        os.kill(processes[1].pid, signal.SIGKILL)
        processes[1].wait(timeout=30)
        # MultiWorkerMirroredStrategy needs every worker: the survivor cannot go on, and is restarted too.
    for index in range(WORKERS):
        assert epochs_of(tmp_path, index, 1, "end") == list(range(stalled_epoch))
    metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == stalled_epoch

    with job(tmp_path, attempt=2, data_kind="numpy") as processes:
        wait_all(processes, tmp_path, attempt=2)
    for index in range(WORKERS):
        assert epochs_of(tmp_path, index, 2, "begin") == list(range(stalled_epoch, EPOCHS))
        assert epochs_of(tmp_path, index, 2, "end") == list(range(stalled_epoch, EPOCHS))
        # The step-counted schedule's counter was restored from the backup too.
        assert f"worker {index}: done, step counter {EPOCHS * STEPS_PER_EPOCH}" in log_tail(tmp_path, 2, index)
    assert_same_weights(tmp_path)
    assert_only_chief_wrote_run(tmp_path)
    assert not (tmp_path / "backup").exists()
