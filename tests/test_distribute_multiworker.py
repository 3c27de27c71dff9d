"""Two worker processes on 127.0.0.1 train one model with MultiWorkerMirroredStrategy, and survive a kill.

Each test starts the workers with a ``TF_CONFIG`` naming free loopback ports, runs a script (or ``tfae
train``) in each, and reads what they wrote: their final weights, the epochs each began and finished, and
(on the chief only) the run folder. Every process is bounded in time, and killed when its test ends,
whatever happens. The last tests check the reading of ``TF_CONFIG`` and of strategy names, without workers.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from timeouts import HANG_TIMEOUT_S

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
    # One after another: each job takes free ports that another job, started meanwhile, could take too.
    pytest.mark.xdist_group("multi-worker"),
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="MultiWorkerMirroredStrategy is TensorFlow's: needs its backend"
    ),
]

WORKERS = 2
WORKER_TIMEOUT = HANG_TIMEOUT_S
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

from tfae.distribute import cluster_config, is_chief, make_strategy
from tfae.callbacks import BackupAndRestore

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
beta = {"name": "dasr", "start_value": 0.0, "end_value": 1.0, "attack": 12, "unit": "step"}
with strategy.scope():
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": {"name": "kld", "beta": beta}})
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="bernoulli")
    model.build((None, x.shape[1]))
callbacks = [BackupAndRestore(str(folder / "backup")), Recorder()]
history = model.fit(data, batch_size=batch_size, epochs=epochs, callbacks=callbacks, verbose=0)
np.savez(folder / f"weights-{index}.npz", *model.get_weights())
if is_chief(strategy):
    run = folder / f"run-{index}"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "history.json").write_text(json.dumps(history.history))
# After the save, which holds the seed state it starts from: the test evaluates the saved model on one device.
evaluated = model.evaluate(x, batch_size=global_batch, verbose=0, return_dict=True)
(folder / f"evaluate-{index}.json").write_text(json.dumps(evaluated))
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
def workers(folder, attempt, commands, extra_environments=None):
    """Starts one process per command, worker ``i`` running ``commands[i]`` with its ``TF_CONFIG``.

    On leaving, kills any still running and waits for them; each one's output goes to a log file.
    """
    ports = free_ports(len(commands))
    processes = []
    try:
        for index, command in enumerate(commands):
            extra = (extra_environments or {}).get(index, {})
            with open(folder / f"log-{attempt}-{index}.txt", "w") as log:
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=folder,
                        env=worker_environment(ports, index, **extra),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait(timeout=HANG_TIMEOUT_S)


def job(folder, attempt, data_kind="numpy", stall=None):
    """The two workers of one attempt of the VAE job; ``stall`` maps a worker to "epoch,batch"."""
    script = folder / "worker.py"
    script.write_text(WORKER_SCRIPT)
    command = [sys.executable, str(script), str(folder), str(attempt), data_kind]
    extra = {index: {"TEST_STALL_AT": at} for index, at in (stall or {}).items()}
    return workers(folder, attempt, [command] * WORKERS, extra)


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
    return [
        record["epoch"] for record in records(folder, index) if (record["attempt"], record["event"]) == (attempt, event)
    ]


def assert_same_weights(folder):
    weights = [np.load(folder / f"weights-{index}.npz") for index in range(WORKERS)]
    assert len(weights[0].files) == len(weights[1].files) > 0
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=f"{name} differs between workers")


def assert_only_chief_wrote_run(folder):
    assert (folder / "run-0" / "model.keras").is_file()
    assert not (folder / "run-1").exists()
    history = json.loads((folder / "run-0" / "history.json").read_text())
    assert np.all(np.isfinite(history["loss"]))


def assert_evaluate_matches_one_device(folder):
    """The workers' evaluate gives the saved model's numbers on one device.

    The terms that draw no codes (the KL, beta) agree to float rounding. The reconstruction scores codes drawn
    from the posterior, and the rows that TensorFlow gives each worker need not meet the noise that one device
    gives them (measured: 1% apart on 128 rows), so it agrees within a few percent.
    """
    import tfae

    x = np.random.default_rng(0).random((SAMPLES, 8)).astype("float32")
    one_device = tfae.load_model(folder / "run-0" / "model.keras").evaluate(
        x, batch_size=GLOBAL_BATCH, verbose=0, return_dict=True
    )
    for index in range(WORKERS):
        evaluated = json.loads((folder / f"evaluate-{index}.json").read_text())
        assert set(evaluated) == set(one_device) and "kld_loss" in evaluated
        for key in ("kld_loss", "beta"):
            assert evaluated[key] == pytest.approx(one_device[key], rel=1e-5), (index, key)
        for key in ("reconstruction_loss", "loss"):
            assert evaluated[key] == pytest.approx(one_device[key], rel=0.05), (index, key)


def test_two_workers_train_one_model_and_a_killed_worker_resumes_from_the_last_epoch(tmp_path):
    """Worker 1 is killed in the middle of epoch 2; restarted, the job runs epochs 2 and 3 only, and ends with
    one model: the same weights on both workers, written by the chief alone, evaluated as on one device.

    The first attempt reads its data from a ``tf.data`` dataset, the second from NumPy arrays: one job covers
    both inputs (a job of its own per input would start TensorFlow's cluster twice more).
    """
    stalled_epoch = 2
    with job(tmp_path, attempt=1, data_kind="tf.data", stall={1: f"{stalled_epoch},0"}) as processes:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while "stalled" not in [record["event"] for record in records(tmp_path, 1)]:
            assert all(process.poll() is None for process in processes), "\n".join(
                log_tail(tmp_path, 1, index) for index in range(WORKERS)
            )
            assert time.monotonic() < deadline, "worker 1 never reached the point where it is killed"
            time.sleep(0.2)
        os.kill(processes[1].pid, signal.SIGKILL)
        processes[1].wait(timeout=HANG_TIMEOUT_S)
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
    assert not (tmp_path / "backup").exists(), "the chief removes the backup when training ends"
    assert_evaluate_matches_one_device(tmp_path)


CLI_CONFIG = """
[model]
hidden = [8]

[training]
epochs = 1
batch_size = 256
strategy = "{strategy}"
"""


def test_tfae_train_multi_worker(tmp_path):
    """``tfae train``: worker 0 reads the strategy from its config file, worker 1 from ``--strategy``."""
    (tmp_path / "multi.toml").write_text(CLI_CONFIG.format(strategy="multi-worker"))
    (tmp_path / "one.toml").write_text(CLI_CONFIG.format(strategy="default"))
    tfae_train = [sys.executable, "-m", "tfae", "train", "-q"]
    commands = [
        [*tfae_train, "multi.toml", "--run-dir", "run-0"],
        [*tfae_train, "one.toml", "--strategy", "multi-worker", "--run-dir", "run-1"],
    ]
    with workers(tmp_path, 1, commands) as processes:
        wait_all(processes, tmp_path, attempt=1)
    run = tmp_path / "run-0"
    assert {"config.toml", "model.keras", "history.csv", "latent.png"} <= {path.name for path in run.iterdir()}
    assert 'strategy = "multi-worker"' in (run / "config.toml").read_text()
    assert len((run / "history.csv").read_text().splitlines()) == 2
    assert not (tmp_path / "run-1").exists()


# ---- TF_CONFIG and the strategy names, without starting TensorFlow's runtime ----


def tf_config(task_type="worker", index=0, cluster=None):
    cluster = cluster or {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})}


def test_cluster_config_reads_the_task():
    from tfae.distribute import cluster_config, is_chief

    assert cluster_config({}) is None and is_chief(environ={})
    config = cluster_config(tf_config(index=1))
    assert (config.task_type, config.task_index, config.num_workers) == ("worker", 1, 2)
    assert is_chief(environ=tf_config(index=0)) and not is_chief(environ=tf_config(index=1))
    with_chief = {"chief": ["127.0.0.1:3"], "worker": ["127.0.0.1:1"]}
    assert is_chief(environ=tf_config("chief", 0, with_chief))
    assert not is_chief(environ=tf_config("worker", 0, with_chief))
    assert cluster_config(tf_config("chief", 0, with_chief)).num_workers == 2


def test_one_process_is_its_own_chief():
    import tensorflow as tf

    from tfae.distribute import is_chief
    from tfae.replicas import is_multi_worker

    strategy = tf.distribute.get_strategy()
    assert is_chief(strategy, environ=tf_config(index=1)) and not is_multi_worker(strategy)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', 'no "cluster"'),
        ('{"cluster": {"worker": "127.0.0.1:1"}, "task": {"type": "worker", "index": 0}}', "list of"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}}', 'no "task"'),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}', "task index 1"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}', "task type 'ps'"),
    ],
)
def test_bad_tf_config_is_explained(text, message):
    from tfae.distribute import DistributeError, cluster_config

    with pytest.raises(DistributeError, match=message):
        cluster_config({"TF_CONFIG": text})


def test_make_strategy_explains_bad_requests(monkeypatch):
    from tfae.distribute import DistributeError, make_strategy

    with pytest.raises(DistributeError, match="one of 'default', 'mirrored', 'multi-worker'"):
        make_strategy("tpu")
    with pytest.raises(DistributeError, match="applies to the 'mirrored' and 'data_parallel' strategies only"):
        make_strategy("default", devices=["/cpu:0"])
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(DistributeError, match="TF_CONFIG environment variable, which is not set"):
        make_strategy("multi-worker")
