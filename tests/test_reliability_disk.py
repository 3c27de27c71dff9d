"""A full disk, and a run that fails before its first epoch: one line, nothing half-written, resumable.

The disks are real: a tmpfs mounted with a few hundred kilobytes (Linux, as root; skipped elsewhere), sized
from the checkpoint that the run writes so that it fills at a chosen write. Where mounting is not allowed,
the file-size limit test (``RLIMIT_FSIZE``, which makes a write fail with EFBIG) runs the same command path.
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tfae
from tfae import safe_files
from tfae.cli import main
from tfae.training.config import load_config
from tfae.training.run import Run
from timeouts import HANG_TIMEOUT_S

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="tmpfs and RLIMIT_FSIZE are POSIX"),
]

EPOCHS = 2
PAGE = 4096
ROOMY = "64m"


def file_size_cap(limit):
    """A ``preexec_fn`` that caps every file the child process writes at ``limit`` bytes (EFBIG beyond)."""

    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return cap


def tfae_train(*arguments, limit=None):
    """The real ``python -m tfae train ARGUMENTS -q``; ``limit`` caps the size of every file it writes."""
    return subprocess.run(
        [sys.executable, "-m", "tfae", "train", *map(str, arguments), "-q"],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
        preexec_fn=None if limit is None else file_size_cap(limit),
    )


def one_line(stderr):
    assert "Traceback" not in stderr and "Segmentation" not in stderr and "Exception ignored" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def leftovers(folder):
    """Temporary files under ``folder``: a write that failed must leave none."""
    return sorted(str(path) for path in folder.rglob("*") if ".partial" in path.name)


@pytest.fixture
def small_disk(tmp_path):
    """``mount(size)`` mounts a tmpfs of ``size`` bytes (rounded up to pages) at ``tmp_path/disk``;
    ``mount(size, remount=True)`` gives it a new size, keeping its files."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs Linux and root; test_a_file_size_limit_... covers the rest")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = []

    def mount(size, remount=False):
        if remount:
            command = ["mount", "-o", f"remount,size={size}", str(disk)]
        else:
            command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=HANG_TIMEOUT_S)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        if not remount:
            mounted.append(disk)
        return disk

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True, timeout=HANG_TIMEOUT_S)


def pages(size):
    return -(-int(size) // PAGE) * PAGE


@pytest.fixture(scope="module")
def checkpoint_sizes(tmp_path_factory):
    """The default run's checkpoint: the bytes tfae claims before writing it, and the bytes it takes."""
    folder = tmp_path_factory.mktemp("sizes")
    run = Run.create(load_config(None), folder / "run")
    model = run.build_model(run.load_data().x.shape[1:])
    model.optimizer.build(model.trainable_variables)
    model.save(folder / "checkpoint.keras")
    return safe_files.saved_size(model), (folder / "checkpoint.keras").stat().st_size


# The disk's size for each place to run out of room: config.toml, history.csv and checkpoint.json take a
# page each, every checkpoint and model.keras first needs its room claimed, and the pictures come last.
SCENARIOS = {
    "first checkpoint": lambda claim, size: pages(claim // 2),
    "second checkpoint": lambda claim, size: pages(claim + size // 2 + 3 * PAGE),
    "pictures": lambda claim, size: pages(claim + size + 6 * PAGE + 16 * 1024),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_full_disk_is_one_line_and_the_same_advice_finishes_the_run(small_disk, checkpoint_sizes, scenario):
    claim, size = checkpoint_sizes
    disk = small_disk(SCENARIOS[scenario](claim, size))
    folder = disk / "vae"

    result = tfae_train("--epochs", EPOCHS, "--run-dir", folder)
    assert result.returncode == 1, result.stderr
    line = one_line(result.stderr)
    found = re.fullmatch(r"tfae train: error: the disk is full writing (\S+): free some space, then (.+)", line)
    assert found, line
    written, advice = found.groups()
    assert not leftovers(disk)

    if scenario == "first checkpoint":
        assert written == str(folder / "backup" / "epoch-1.keras")
        assert advice == "run the same command again"
        assert not folder.exists(), "nothing was saved: no run folder is left"
        retry = ["--epochs", EPOCHS, "--run-dir", folder]
    else:
        saved = 1 if scenario == "second checkpoint" else EPOCHS
        assert advice == f"continue with: tfae train --resume {folder} ({saved} of {EPOCHS} epochs are saved)"
        if scenario == "second checkpoint":
            assert written == str(folder / "backup" / "epoch-2.keras")
        else:
            assert written.startswith(f"{folder}/") and written.endswith(".png"), written
        state = json.loads((folder / "backup" / "checkpoint.json").read_text())
        assert state["epoch"] == saved
        # The checkpoint loads: it is the model after its last saved epoch.
        assert sorted(path.name for path in (folder / "backup").iterdir()) == ["checkpoint.json", state["weights"]]
        model = tfae.load_model(folder / "backup" / state["weights"])
        samples = np.zeros((2, *model.encoder.input_shape[1:]), "float32")
        assert np.isfinite(model.predict(samples, verbose=0)).all()
        retry = ["--resume", folder]

    small_disk(ROOMY, remount=True)  # room is freed
    result = tfae_train(*retry)
    assert result.returncode == 0, result.stderr
    names = {path.name for path in folder.iterdir()}
    assert {"config.toml", "history.csv", "model.keras", "latent.png", "losses.png"} <= names
    assert "backup" not in names and not leftovers(disk)
    assert len((folder / "history.csv").read_text().splitlines()) == 1 + EPOCHS
    tfae.load_model(folder / "model.keras")


def test_a_file_size_limit_is_one_line_and_leaves_no_run_folder(tmp_path):
    """Runs wherever ``RLIMIT_FSIZE`` does: every file is capped far below a checkpoint, so the first fails."""
    folder = tmp_path / "vae"
    result = tfae_train("--epochs", EPOCHS, "--run-dir", folder, limit=64 * 1024)
    assert result.returncode == 1, result.stderr
    assert one_line(result.stderr) == (
        f"tfae train: error: {folder / 'backup' / 'epoch-1.keras'} would be larger than the file-size limit "
        "(ulimit -f) or the file system allows: raise the limit or write to another disk, then run the same "
        "command again"
    )
    assert not folder.exists()
    assert not leftovers(tmp_path)


def test_tfae_encode_under_a_file_size_limit_is_one_line_and_writes_nothing(tmp_path):
    run = Run.create(load_config(None), tmp_path / "run")
    safe_files.save_model(run.build_model(run.load_data().x.shape[1:]), tmp_path / "model.keras")
    output = tmp_path / "codes.npy"  # 1797 codes of 2 float32 numbers: 14 KB, past the limit
    result = subprocess.run(
        [sys.executable, "-m", "tfae", "encode", str(tmp_path / "model.keras"), "digits", "-o", str(output)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
        preexec_fn=file_size_cap(4096),
    )
    assert result.returncode == 1, result.stderr
    assert one_line(result.stderr) == (
        f"tfae encode: error: {output} would be larger than the file-size limit (ulimit -f) or the file system "
        "allows: raise the limit or write to another disk, then try again"
    )
    assert not output.exists() and not leftovers(tmp_path)


# Keras' BackupAndRestore format is an HDF5 file that Keras writes to disk itself: HDF5 must never meet the
# full disk, or the process reports errors at every later step and can crash when it exits.
BACKUP_WRITER = """
import json, sys
import numpy as np
from tfae.errors import DiskFullError
from tfae.models.layouts import LayoutAutoencoder
from tfae.callbacks import BackupAndRestore

x = np.random.default_rng(0).random((64, 64)).astype("float32")
model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, hidden=[256, 128])
model.compile(optimizer="adam", loss="mse")
try:
    model.fit(x, epochs=3, batch_size=16, verbose=0, callbacks=[BackupAndRestore(sys.argv[1], delete_checkpoint=False)])
except DiskFullError as error:
    print(json.dumps({"error": str(error), "path": error.path}))
"""


def backup_sizes(tmp_path):
    from tfae.models.layouts import LayoutAutoencoder

    model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, hidden=[256, 128])
    model.build((None, 64))
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    model.save_weights(tmp_path / "size.weights.h5")
    return safe_files.saved_size(model), (tmp_path / "size.weights.h5").stat().st_size


def test_backup_and_restore_on_a_full_disk_raises_disk_full_and_keeps_the_last_backup(small_disk, tmp_path):
    claim, size = backup_sizes(tmp_path)
    disk = small_disk(pages(claim + size // 2 + 2 * PAGE))  # room for one backup, and not for the next
    result = subprocess.run(
        [sys.executable, "-c", BACKUP_WRITER, str(disk / "backup")],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Exception ignored" not in result.stderr and "HDF5" not in result.stderr, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "error": f"the disk is full writing {disk / 'backup' / 'latest.weights.h5'}: free some space, then try again",
        "path": str(disk / "backup" / "latest.weights.h5"),
    }
    assert sorted(path.name for path in (disk / "backup").iterdir()) == ["latest.weights.h5", "training_metadata.json"]
    assert json.loads((disk / "backup" / "training_metadata.json").read_text())["epoch"] == 1

    from tfae.models.layouts import LayoutAutoencoder

    model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, hidden=[256, 128])
    model.build((None, 64))
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    model.load_weights(disk / "backup" / "latest.weights.h5")


def test_data_the_model_cannot_train_on_leaves_no_run_folder(tmp_path):
    """Samples of 8 dimensions load and build a model, then fail in the first step: nothing is left."""
    np.save(tmp_path / "eight.npy", np.random.default_rng(0).random((64, 2, 2, 2, 2, 2, 2, 2, 2)).astype("float32"))
    config = tmp_path / "eight.toml"
    config.write_text(f'[data]\nsource = "{tmp_path / "eight.npy"}"\n[training]\nepochs = 1\n')
    result = tfae_train(config, "--run-dir", tmp_path / "run")
    assert result.returncode != 0
    assert not (tmp_path / "run").exists()


def test_a_config_error_found_building_the_model_leaves_the_old_run_untouched(tmp_path, capsys):
    np.save(tmp_path / "flat.npy", np.random.default_rng(0).random((64, 10)).astype("float32"))
    config = tmp_path / "conv.toml"
    config.write_text(f'[data]\nsource = "{tmp_path / "flat.npy"}"\n[model]\nlayout = "conv"\n[training]\nepochs = 1\n')
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.toml").write_text("# an earlier run\n")
    (folder / "model.keras").write_bytes(b"an earlier model")

    assert main(["train", str(config), "--run-dir", str(folder), "--overwrite", "-q"]) == 2
    assert "The conv layout needs images" in one_line(capsys.readouterr().err)
    assert sorted(path.name for path in folder.iterdir()) == ["config.toml", "model.keras"]
    assert (folder / "model.keras").read_bytes() == b"an earlier model"

    assert main(["train", str(config), "--run-dir", str(tmp_path / "new"), "-q"]) == 2
    assert not (tmp_path / "new").exists()


# HDF5 meeting a full disk, on purpose: the error h5py raises is recognised, and the process then leaves at
# once (os._exit), before the broken file can crash it. tfae itself claims the room first (check_room).
HDF5_ON_A_FULL_DISK = """
import os, sys
from tfae.models.layouts import LayoutAutoencoder
from tfae.safe_files import writing

model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, hidden=[256, 128])
model.build((None, 64))
model.compile(optimizer="adam", loss="mse")
path = os.path.join(sys.argv[1], "model.weights.h5")
try:
    with writing(path):
        model.save_weights(path)
except Exception as error:
    print(f"{type(error).__name__}: {error}", flush=True)
os._exit(0)
"""


def test_h5py_errors_of_a_full_disk_are_disk_full_errors(small_disk):
    disk = small_disk("64k")
    result = subprocess.run(
        [sys.executable, "-c", HDF5_ON_A_FULL_DISK, str(disk)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == (
        f"DiskFullError: the disk is full writing {disk / 'model.weights.h5'}: free some space, then try again"
    )
