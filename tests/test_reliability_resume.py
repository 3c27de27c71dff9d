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
from timeouts import HANG_TIMEOUT_S

import tfae
from tfae.cli import main
from tfae.training.checkpoints import Checkpoint
from tfae.training.config import load_config
from tfae.training.run import Run

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
    for folder in (whole, killed):
        names = {path.name for path in folder.iterdir()}
        assert "backup" not in names and not any(".partial" in name for name in names)
        model = tfae.load_model(folder / "model.keras")
        assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4 * STEPS_PER_EPOCH


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
from tfae.training import checkpoints
from tfae.models.layouts import LayoutAutoencoder

x = np.random.default_rng(0).random((256, 64)).astype("float32")
model = LayoutAutoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}, hidden=[256, 128])
model.build((None, 64))
model.compile(optimizer="adam", loss="bernoulli")
checkpoint = checkpoints.Checkpoint("backup", "history.csv")
model.fit(x, epochs=1, batch_size=64, verbose=0, callbacks=[checkpoint])
checkpoints.save_model(model, "model.keras")
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
    checkpoints.save_model(model, "model.keras")
except Exception as error:
    errors["model"] = f"{type(error).__name__}: {error}"
# save_model claims the room first and fails before writing; here Keras writes until the limit stops it.
try:
    with checkpoints.replacing("model.keras") as temporary:
        model.save(temporary)
except Exception as error:
    errors["halfway"] = f"{type(error).__name__}: {error}"
print(json.dumps(errors))
"""


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
