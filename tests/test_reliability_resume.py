"""Crash safety: ``tfae train`` killed with SIGKILL resumes from its last finished epoch, and a write that is
killed or fails leaves the previous file loadable.

The faults are real: a ``tfae train`` process killed with SIGKILL in the middle of an epoch, a process
killed with SIGKILL while it writes a 26 MB checkpoint, and writes that the operating system refuses (a
file-size limit, ``RLIMIT_FSIZE``, makes a write fail with EFBIG once the file reaches it). A full disk is
tested in ``tests/test_reliability_disk.py``.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import tfae
from tfae.cli import main
from tfae.training.checkpoints import Checkpoint
from tfae.training.config import load_config
from tfae.training.run import Run
from timeouts import HANG_TIMEOUT_S

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and RLIMIT_FSIZE are POSIX")

TIMEOUT = HANG_TIMEOUT_S
STEPS_PER_EPOCH = 1350  # 24,000 samples, 10% held out, batches of 16
CRASH_CONFIG = """
[data]
source = "{data}"

[model]
hidden = [32]

[model.bottleneck]
name = "gaussian"
latent_dim = 2

[model.bottleneck.regularizer]
name = "kld"

# Counted in optimizer steps: beta climbs through the first three epochs, so each epoch's mean beta says
# where the schedule's step counter was.
[model.bottleneck.regularizer.beta]
name = "dasr"
attack = 3000
unit = "step"

[training]
epochs = 4
batch_size = 16
"""


def environment():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def tfae_train(*arguments, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "tfae", "train", "-q", *map(str, arguments)],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def history(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def checkpoint_epoch(folder):
    """The epoch count in ``folder/backup/checkpoint.json``, or ``None`` while there is none."""
    try:
        return json.loads((folder / "backup" / "checkpoint.json").read_text())["epoch"]
    except (OSError, ValueError):
        return None


@pytest.mark.slow
@pytest.mark.long
def test_sigkill_in_the_middle_of_an_epoch_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).random((24000, 64)).astype("float32"))
    config = tmp_path / "crash.toml"
    config.write_text(CRASH_CONFIG.format(data=data))
    whole, killed = tmp_path / "whole", tmp_path / "killed"

    victim = tfae_train(config, "--run-dir", killed, cwd=tmp_path)
    deadline = time.monotonic() + TIMEOUT
    seen = {}  # when each epoch's checkpoint appeared
    while len(seen) < 2:
        epoch = checkpoint_epoch(killed)
        if epoch is not None:
            seen.setdefault(epoch, time.monotonic())
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline, "the run never finished its second epoch"
        time.sleep(0.005)
    # A quarter of an epoch after the second checkpoint: in the third epoch, well before its end.
    time.sleep((seen[2] - seen[1]) / 4)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=TIMEOUT)
    assert victim.returncode == -signal.SIGKILL

    assert checkpoint_epoch(killed) == 2
    before = history(killed / "history.csv")
    assert [row["epoch"] for row in before] == ["0", "1"]
    assert not (killed / "model.keras").exists()

    resumed = tfae_train("--resume", killed, cwd=tmp_path)
    uninterrupted = tfae_train(config, "--run-dir", whole, cwd=tmp_path)
    out, err = resumed.communicate(timeout=TIMEOUT)
    assert resumed.returncode == 0, err
    out, err = uninterrupted.communicate(timeout=TIMEOUT)
    assert uninterrupted.returncode == 0, err

    expected, got = history(whole / "history.csv"), history(killed / "history.csv")
    assert [row["epoch"] for row in expected] == [row["epoch"] for row in got] == ["0", "1", "2", "3"]
    # The schedule is where it would have been: the same mean beta in every epoch, resumed or not.
    expected_beta = [float(row["beta"]) for row in expected]
    np.testing.assert_allclose([float(row["beta"]) for row in got], expected_beta, rtol=1e-6)
    assert expected_beta[0] < expected_beta[1] < expected_beta[2] < expected_beta[3] == 1.0
    assert got[:2] == before  # the epochs finished before the kill are kept as they were
    assert got == expected, "the resumed run is the uninterrupted one, to the last digit"
    for folder in (whole, killed):
        names = {path.name for path in folder.iterdir()}
        assert "backup" not in names and not any(".partial" in name for name in names)
        model = tfae.load_model(folder / "model.keras")
        assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4 * STEPS_PER_EPOCH
    assert_same_run(final_state(killed), final_state(whole))


# Fills every weight (and optimizer variable) of a 2.2-million-parameter model with one number per epoch,
# then writes the checkpoint: 26 MB per epoch, so a kill lands in the middle of a write.
WRITER = """
import sys
import numpy as np
from tfae.training.checkpoints import Checkpoint
from tfae.models.layouts import LayoutAutoencoder

model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, hidden=[1024, 1024])
model.build((None, 64))
model.compile(optimizer="adam", loss="mse")
model.optimizer.build(model.trainable_variables)
checkpoint = Checkpoint("backup")
checkpoint.set_model(model)
for epoch in range(10_000):
    for variable in model.trainable_variables:
        variable.assign(np.full(variable.shape, epoch, "float32"))
    checkpoint.on_epoch_end(epoch, {"loss": float(epoch)})
    print(epoch, flush=True)
"""


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_write_leaves_the_previous_checkpoint(tmp_path):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER], cwd=tmp_path, env=environment(), stdout=subprocess.PIPE, text=True
    )
    backup = tmp_path / "backup"
    deadline = time.monotonic() + TIMEOUT

    def writing():
        return (backup / "checkpoint.json").exists() and any(".partial" in path.name for path in backup.iterdir())

    while True:
        assert writer.poll() is None, "the writer stopped"
        assert time.monotonic() < deadline, "never saw a checkpoint being written"
        if writing():
            # On a busy machine the write may end between that look and the kill: stopped, the writer stays
            # where it is, so the kill lands in the middle of a write for certain, or the writer goes on.
            writer.send_signal(signal.SIGSTOP)
            if writing():
                break
            writer.send_signal(signal.SIGCONT)
        time.sleep(0.002)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=TIMEOUT)

    assert any(".partial" in path.name for path in backup.iterdir()), "the kill landed outside a write"
    state = json.loads((backup / "checkpoint.json").read_text())
    assert sorted(path.name for path in backup.iterdir() if ".partial" not in path.name) == [
        "checkpoint.json",
        state["weights"],
    ]

    from tfae.models.layouts import LayoutAutoencoder

    model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, hidden=[1024, 1024])
    model.build((None, 64))
    model.compile(optimizer="adam", loss="mse")
    checkpoint = Checkpoint(backup)
    assert checkpoint.restore(model) == state["epoch"]
    # The weights are those of the epoch that checkpoint.json names: the pair was never torn apart.
    for variable in model.trainable_variables:
        assert np.all(keras.ops.convert_to_numpy(variable) == state["epoch"] - 1), variable.path
    assert not any(".partial" in path.name for path in backup.iterdir()), "restoring removes the leftovers"


LIMITED_WRITER = """
import json, os, resource, signal
import numpy as np
from tfae import safe_files
from tfae.training import checkpoints
from tfae.models.layouts import LayoutAutoencoder

x = np.random.default_rng(0).random((256, 64)).astype("float32")
model = LayoutAutoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}, hidden=[256, 128])
model.build((None, 64))
model.compile(optimizer="adam", loss="bernoulli")
checkpoint = checkpoints.Checkpoint("backup", "history.csv")
model.fit(x, epochs=1, batch_size=64, verbose=0, callbacks=[checkpoint])
safe_files.save_model(model, "model.keras")
np.savez("expected.npz", *model.get_weights())

# From here on no file of this process may grow past half a checkpoint: writes beyond fail with EFBIG.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = os.path.getsize("backup/epoch-1.keras") // 2
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
errors = {}
try:
    model.fit(x, initial_epoch=1, epochs=2, batch_size=64, verbose=0, callbacks=[checkpoint])
except Exception as error:
    errors["checkpoint"] = f"{type(error).__name__}: {error}"
try:
    safe_files.save_model(model, "model.keras")
except Exception as error:
    errors["model"] = f"{type(error).__name__}: {error}"
# save_model claims the room first and fails before writing; here Keras writes until the limit stops it.
try:
    with safe_files.replacing("model.keras") as temporary:
        model.save(temporary)
except Exception as error:
    errors["halfway"] = f"{type(error).__name__}: {error}"
print(json.dumps(errors))
"""


@pytest.mark.slow
def test_a_write_that_fails_halfway_leaves_the_previous_checkpoint_and_model(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", LIMITED_WRITER],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    too_large = (
        "would be larger than the file-size limit (ulimit -f) or the file system allows: raise the limit or "
        "write to another disk, then try again"
    )
    assert errors == {
        "checkpoint": f"DiskFullError: backup/epoch-2.keras {too_large}",
        "model": f"DiskFullError: model.keras {too_large}",
        "halfway": f"DiskFullError: model.keras {too_large}",
    }

    names = {path.name for path in tmp_path.iterdir()} | {path.name for path in (tmp_path / "backup").iterdir()}
    assert not any(".partial" in name for name in names), "a failed write removes its temporary file"
    state = json.loads((tmp_path / "backup" / "checkpoint.json").read_text())
    assert state["epoch"] == 1 and state["weights"] == "epoch-1.keras"
    assert [row["epoch"] for row in history(tmp_path / "history.csv")] == ["0"]

    expected = np.load(tmp_path / "expected.npz")
    expected = [expected[f"arr_{index}"] for index in range(len(expected.files))]
    model = tfae.load_model(tmp_path / "model.keras")
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    from tfae.models.layouts import LayoutAutoencoder

    fresh = LayoutAutoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}, hidden=[256, 128])
    fresh.build((None, 64))
    fresh.compile(optimizer="adam", loss="bernoulli")
    assert Checkpoint(tmp_path / "backup").restore(fresh) == 1
    for got, want in zip(fresh.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_checkpoint_of_weights_h5_from_an_older_tfae_still_resumes(tmp_path):
    """Checkpoints were epoch-N.weights.h5 files before they were .keras files: such a checkpoint restores, and
    the next save replaces it."""
    from tfae.models.layouts import LayoutAutoencoder

    def built():
        model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, hidden=[16])
        model.build((None, 64))
        model.compile(optimizer="adam", loss="mse")
        model.optimizer.build(model.trainable_variables)
        return model

    older, backup = built(), tmp_path / "backup"
    backup.mkdir()
    older.save_weights(backup / "epoch-2.weights.h5")
    rows = [{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5}]
    state = {"format": 1, "epoch": 2, "weights": "epoch-2.weights.h5", "history": rows}
    (backup / "checkpoint.json").write_text(json.dumps(state))

    model, checkpoint = built(), Checkpoint(backup, tmp_path / "history.csv")
    assert checkpoint.restore(model) == 2
    for got, want in zip(model.get_weights(), older.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(2, {"loss": 0.25})
    assert sorted(path.name for path in backup.iterdir()) == ["checkpoint.json", "epoch-3.keras"]
    assert [row["epoch"] for row in history(tmp_path / "history.csv")] == ["0", "1", "2"]


class StopAt(keras.callbacks.Callback):
    """Stops training as a crash would, at the end of the given epoch or in its first batch."""

    def __init__(self, epoch, where):
        super().__init__()
        self.epoch, self.where = epoch, where

    def on_train_batch_end(self, batch, logs=None):
        if self.where == "first batch" and self._epoch == self.epoch:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.where == "epoch end" and epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.slow
@pytest.mark.parametrize(
    "epoch, where, checkpointed",
    [(0, "first batch", None), (2, "epoch end", 3)],
    ids=["before the first checkpoint", "after the last epoch, before the model"],
)
def test_resume_from_either_end_of_a_run(tmp_path, capsys, epoch, where, checkpointed):
    config_path = tmp_path / "short.toml"
    config_path.write_text("[model]\nhidden = [8]\n[training]\nepochs = 3\n")
    folder = tmp_path / "run"
    run = Run.create(load_config(config_path), folder)
    with pytest.raises(KeyboardInterrupt):
        run.train(verbose=0, callbacks=[StopAt(epoch, where)])
    assert checkpoint_epoch(folder) == checkpointed
    assert not (folder / "model.keras").exists()
    # A temporary file that a killed writer left behind is removed, never taken for the model.
    (folder / ".model.keras.123-abcd.partial.keras").write_bytes(b"half a model")

    assert main(["train", "--resume", str(folder), "-q"]) == 0, capsys.readouterr().err
    assert [row["epoch"] for row in history(folder / "history.csv")] == ["0", "1", "2"]
    names = {path.name for path in folder.iterdir()}
    assert {"model.keras", "latent.png"} <= names and "backup" not in names
    assert not any(".partial" in name for name in names)
    tfae.load_model(folder / "model.keras")


def test_an_unreadable_checkpoint_is_one_clear_line(tmp_path, capsys):
    config_path = tmp_path / "short.toml"
    config_path.write_text("[model]\nhidden = [8]\n[training]\nepochs = 2\n")
    folder = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        Run.create(load_config(config_path), folder).train(verbose=0, callbacks=[StopAt(0, "epoch end")])
    (folder / "backup" / "checkpoint.json").write_text('{"epoch": 1, "weights": "epoch-9.weights.h5", "history": []}')
    assert main(["train", "--resume", str(folder), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tfae train: error: cannot resume {folder}: the checkpoint {folder / 'backup'}")
    assert "names the weights file 'epoch-9.weights.h5', which is missing" in err and len(err.splitlines()) == 1


# Exact resume: a run stopped at any point and resumed gives the history and the weights of a run that was
# never stopped, bit for bit. The model draws noise (a Gaussian bottleneck) and its beta follows a DASR
# schedule; 324 training samples in batches of 8 are 41 steps per epoch, so that a kill after the first 16
# steps (one execution) lands in the middle of an epoch.
EXACT_EPOCHS = 6
EXACT_CONFIG = """
[data]
source = "{data}"

[model]
hidden = [16]

[model.bottleneck]
name = "gaussian"
latent_dim = 2

[model.bottleneck.regularizer]
name = "kld"

[model.bottleneck.regularizer.beta]
name = "dasr"
delay = 1
attack = 3

[training]
epochs = {epochs}
batch_size = 8
seed = 7
"""

# Trains (or resumes) the run in argv[2] and stops it as argv[3] says: "sigkill EPOCH" kills the process with
# SIGKILL after the first 16 steps of EPOCH; "sigint EPOCH" sends it SIGINT there (Ctrl-C); "record EPOCH"
# kills it with SIGKILL in the middle of writing checkpoint.json at the end of EPOCH, after that epoch's weights
# file is on disk.
STOPPER = """
import os, signal, sys
import keras
from tfae.training import checkpoints
from tfae.training.config import load_config
from tfae.training.run import Run

config, folder, how, epoch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# Ctrl-C raises KeyboardInterrupt, as in a terminal, even in a process started with SIGINT ignored (under a
# background job of a non-interactive shell, as a CI script may be run), which Python then leaves ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)


class Stop(keras.callbacks.Callback):
    def on_epoch_begin(self, current, logs=None):
        self.current = current

    def on_train_batch_end(self, batch, logs=None):
        if self.current == epoch and batch >= 15 and how != "record":
            os.kill(os.getpid(), signal.SIGKILL if how == "sigkill" else signal.SIGINT)


write_text = checkpoints.write_text


def torn_write_text(path, text):
    if how == "record" and os.path.basename(path) == "checkpoint.json" and f'"epoch": {epoch + 1},' in text:
        partial = os.path.join(os.path.dirname(path), f".checkpoint.json.{os.getpid()}-0000.partial.json")
        with open(partial, "w") as file:
            file.write(text[: len(text) // 2])
            file.flush()
            os.fsync(file.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
    write_text(path, text)


checkpoints.write_text = torn_write_text
resuming = os.path.exists(os.path.join(folder, "config.toml"))
run = Run.open(folder) if resuming else Run.create(load_config(config), folder)
try:
    run.train(verbose=0, callbacks=[Stop()])
except KeyboardInterrupt:
    sys.exit(130)
"""


def stopped_run(config, folder, how, epoch, cwd):
    """Runs ``STOPPER`` in its own process until it stops as ``how`` says; returns its exit status."""
    process = subprocess.run(
        [sys.executable, "-c", STOPPER, str(config), str(folder), how, str(epoch)],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return process.returncode, process.stderr[-3000:]


def final_state(folder):
    """``history.csv`` as text, and every weight and optimizer variable of the run's model.keras."""
    model = tfae.load_model(folder / "model.keras")
    variables = [keras.ops.convert_to_numpy(v) for v in [*model.weights, *model.optimizer.variables]]
    return (folder / "history.csv").read_text(), variables


def assert_same_run(resumed, uninterrupted):
    (resumed_history, resumed_variables), (expected_history, expected_variables) = resumed, uninterrupted
    assert resumed_history == expected_history
    assert len(resumed_variables) == len(expected_variables)
    for got, want in zip(resumed_variables, expected_variables):
        assert got.shape == want.shape and np.array_equal(got, want)


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory):
    """The config of the exact-resume tests, and the final state of its uninterrupted run."""
    folder = tmp_path_factory.mktemp("exact")
    data = folder / "data.npy"
    np.save(data, np.random.default_rng(0).random((360, 16)).astype("float32"))
    config = folder / "exact.toml"
    config.write_text(EXACT_CONFIG.format(data=data, epochs=EXACT_EPOCHS))
    assert main(["train", str(config), "--run-dir", str(folder / "uninterrupted"), "-q"]) == 0
    state = final_state(folder / "uninterrupted")
    betas = [float(row["beta"]) for row in csv.DictReader(state[0].splitlines())]
    assert len(betas) == EXACT_EPOCHS and betas[0] < betas[1] < betas[2] < betas[3], "the schedule moves beta"
    return config, state


@pytest.mark.slow
@pytest.mark.backend_neutral
def test_resume_after_sigkill_in_an_epoch_is_the_uninterrupted_run_bit_for_bit(tmp_path, capsys, exact_run):
    config, uninterrupted = exact_run
    folder = tmp_path / "run"
    returncode, err = stopped_run(config, folder, "sigkill", 3, tmp_path)
    assert returncode == -signal.SIGKILL, err
    assert checkpoint_epoch(folder) == 3

    assert main(["train", "--resume", str(folder), "-q"]) == 0, capsys.readouterr().err
    assert_same_run(final_state(folder), uninterrupted)


@pytest.mark.slow
@pytest.mark.backend_neutral
def test_resume_twice_after_a_torn_checkpoint_record_and_ctrl_c_is_the_uninterrupted_run(tmp_path, capsys, exact_run):
    config, uninterrupted = exact_run
    folder = tmp_path / "run"
    # Killed while writing the record of epoch 2 (its weights file already written): epoch 2 is trained again.
    returncode, err = stopped_run(config, folder, "record", 1, tmp_path)
    assert returncode == -signal.SIGKILL, err
    assert checkpoint_epoch(folder) == 1
    assert any(".partial" in path.name for path in (folder / "backup").iterdir()), "killed outside the write"
    # Resumed, then interrupted with SIGINT in the middle of epoch 4.
    returncode, err = stopped_run(config, folder, "sigint", 4, tmp_path)
    assert returncode == 130, err
    assert checkpoint_epoch(folder) == 4

    assert main(["train", "--resume", str(folder), "-q"]) == 0, capsys.readouterr().err
    assert_same_run(final_state(folder), uninterrupted)


def test_each_epoch_shows_every_training_sample_once_in_an_order_of_the_seed_and_epoch_alone():
    from tfae.training.run import EpochBatches

    x = np.arange(21, dtype="float32").reshape(21, 1)
    walked = EpochBatches(x, batch_size=4, seed=3)
    orders = []
    for epoch in range(4):
        walked.set_epoch(epoch)
        batches = [walked[index][0] for index in range(len(walked))]
        assert [len(batch) for batch in batches] == [4, 4, 4, 4, 4, 1]
        orders.append(np.concatenate(batches)[:, 0])
        assert sorted(orders[-1]) == list(range(21))
    assert len({tuple(order) for order in orders}) == 4, "every epoch has an order of its own"
    # A process that starts at epoch 3 (a resume) sees the order that one which went through 0, 1 and 2 saw.
    fresh = EpochBatches(x, batch_size=4, seed=3)
    fresh.set_epoch(3)
    np.testing.assert_array_equal(np.concatenate([fresh[i][0] for i in range(len(fresh))])[:, 0], orders[3])
    other_seed = EpochBatches(x, batch_size=4, seed=4)
    other_seed.set_epoch(3)
    assert not np.array_equal(np.concatenate([other_seed[i][0] for i in range(len(other_seed))])[:, 0], orders[3])
    with pytest.raises(IndexError):
        fresh[len(fresh)]
    if keras.backend.backend() == "tensorflow":
        # What fit gets on TensorFlow: the same batches, read anew for each epoch's iterator.
        dataset = fresh.tf_dataset()
        for epoch in (3, 1):
            fresh.set_epoch(epoch)
            got = [batch.numpy() for batch in dataset]
            assert len(got) == len(fresh)
            for index, batch in enumerate(got):
                np.testing.assert_array_equal(batch, fresh[index][0])


def _noisy_model():
    """A Gaussian VAE with dropout: two seed generators of Keras' and tfae's kinds."""
    from tfae.bottlenecks import GaussianBottleneck
    from tfae.models import DeepAutoencoder

    def add_hidden(x, layer_num, input_shape, latent_dim):
        return keras.layers.Dropout(0.5)(keras.layers.Dense(8, activation="relu")(x)), True

    model = DeepAutoencoder(GaussianBottleneck(2, regularizer="kld"), add_hidden=add_hidden)
    model.build((None, 6))
    model.compile(optimizer="adam", loss="bernoulli")
    model.optimizer.build(model.trainable_variables)
    return model


def test_a_checkpoint_puts_back_every_seed_generator_and_the_global_generators(tmp_path):
    import random

    from tfae.training.random_state import seed_generator_states

    x = np.random.default_rng(1).random((5, 6)).astype("float32")
    model = _noisy_model()
    assert len(seed_generator_states(model)) == 3  # the bottleneck's and a dropout layer's in each network
    for _ in range(3):  # the state after three train-time passes, and after Python and NumPy drew
        model(x, training=True)
    random.random(), np.random.random()
    checkpoint = Checkpoint(tmp_path / "backup")
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"loss": 1.0})
    expected_python, expected_numpy = random.random(), np.random.random()
    expected = keras.ops.convert_to_numpy(model(x, training=True))

    random.seed(99), np.random.seed(99)
    fresh = _noisy_model()
    assert Checkpoint(tmp_path / "backup").restore(fresh) == 1
    assert (random.random(), np.random.random()) == (expected_python, expected_numpy)
    # The same weights and the same noise: the fourth pass draws what the first model drew in its fourth.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fresh(x, training=True)), expected)


def test_an_unreadable_random_state_is_a_checkpoint_error_and_another_model_a_warning(tmp_path):
    from tfae.errors import CheckpointError

    model = _noisy_model()
    checkpoint = Checkpoint(tmp_path / "backup")
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"loss": 1.0})
    record = tmp_path / "backup" / "checkpoint.json"
    state = json.loads(record.read_text())

    state["random"]["seed_generators"].pop()
    record.write_text(json.dumps(state))
    with pytest.warns(UserWarning, match="holds the states of 2 seed generators, which do not match this model's 3"):
        assert Checkpoint(tmp_path / "backup").restore(_noisy_model()) == 1

    state["random"]["numpy"][1] = "not hexadecimal"
    record.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"checkpoint.json: its random state is unreadable \(ValueError: "):
        Checkpoint(tmp_path / "backup").restore(_noisy_model())
