"""`tfae train`: every example config trains (one epoch) into a run folder that holds what it promises."""

import csv
import os
import pty
import re
import struct
import sys
import threading

import keras
import numpy as np
import pytest

import tfae
from tfae.cli import main
from tfae.training.config import example_configs, load_config
from tfae.training.run import Run
from timeouts import HANG_TIMEOUT_S

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOSS_COLUMNS = {"epoch", "loss", "reconstruction_loss", "regularization_loss"}


def png_size(path):
    """Checks ``path`` is a PNG of a size a person can look at; returns (width, height)."""
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE, path
    width, height = struct.unpack(">II", header[16:24])
    assert 300 <= width <= 2500 and 200 <= height <= 2500, (path.name, width, height)
    return width, height


def history(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def holds(resolved, given):
    """Whether the resolved config holds every value given, with more keys (the defaults) allowed."""
    if isinstance(given, dict):
        return isinstance(resolved, dict) and all(
            key in resolved and holds(resolved[key], value) for key, value in given.items()
        )
    return resolved == given


def check_run(folder, variational=True, scheduled=False, labelled=True):
    """The run folder's files: model, resolved config, history, pictures."""
    names = {path.name for path in folder.iterdir()}
    expected = {"model.keras", "config.toml", "history.csv", "reconstructions.png", "latent.png", "losses.png"}
    assert expected <= names
    assert ("samples.png" in names) == variational
    assert ("traversal.png" in names) == variational
    assert ("beta.png" in names) == scheduled
    assert "backup" not in names
    for name in names:
        if name.endswith(".png"):
            png_size(folder / name)
    rows = history(folder / "history.csv")
    assert LOSS_COLUMNS <= set(rows[0])
    assert all(np.isfinite(float(row["loss"])) for row in rows)
    config = load_config(folder / "config.toml")
    model = tfae.load_model(folder / "model.keras")
    x = np.zeros((3, *model.encoder.input_shape[1:]), "float32")
    assert model.predict(x, verbose=0).shape == x.shape
    assert model.encoder.predict(x, verbose=0).shape == (3, model.latent_dim)
    return config, rows


# Slow: the README's first command in a fresh interpreter (~17 CPU-s); the digits_run fixture trains the same run
# in this process for the quick suite. .ci/run runs it.
@pytest.mark.slow
def test_tfae_train_with_no_arguments_trains_the_digits_vae(tmp_path, run_tfae):
    """The real command, in a fresh process, from an empty folder (two epochs instead of the default's 40).

    Its output goes to a pipe, as to a log file: one plain line per epoch, no progress bar."""
    result = run_tfae("train", "--epochs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert not re.search(r"[\x1b\x08\r]", result.stdout), repr(result.stdout)  # no colours, backspaces, returns
    epochs = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2, result.stdout
    for number, line in enumerate(epochs, start=1):
        # 1617 training samples in batches of 64; every loss logged, the validation ones too.
        assert re.fullmatch(rf"epoch {number}/2: 26 steps in \d+\.\d s - loss: \d+\.\d{{4}} - .*", line), line
        assert " - kld_loss: " in line and " - val_loss: " in line, line
    assert "tfae: wrote runs/vae" in result.stdout
    config, rows = check_run(tmp_path / "runs" / "vae")
    assert len(rows) == 2
    assert config.values["model"]["bottleneck"]["name"] == "gaussian"
    assert config.values["training"]["epochs"] == 2
    assert {"val_loss", "val_reconstruction_loss"} <= set(rows[0])


def test_on_a_terminal_the_progress_bar_counts_the_steps_that_exist(tmp_path, monkeypatch):
    """26 steps an epoch, run 16 at a time: the bar goes to 26/26 and never past it, and the time left it
    shows is never negative."""
    controller, terminal = pty.openpty()
    shown = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end closed
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with open(terminal, "w") as stream:
            monkeypatch.setattr(sys, "stdout", stream)
            code = main(["train", "--epochs", "2", "--run-dir", str(tmp_path / "run")])
            monkeypatch.undo()
        reader.join(timeout=HANG_TIMEOUT_S)
    finally:
        os.close(controller)
    assert code == 0
    text = shown.decode()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    counts = [int(count) for count in re.findall(r"(\d+)/26\b", text)]
    assert max(counts) == 26 and counts.count(26) >= 2, counts
    assert not re.search(r"\x1b\[1m-\d", text), text  # the time left, in bold
    assert f"tfae: wrote {tmp_path / 'run'}" in text


def test_quiet_leaves_out_the_epochs_and_keeps_what_was_written(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text("[model]\nhidden = [8]\n[training]\nepochs = 2\n")
    folder = tmp_path / "run"
    assert main(["train", str(config), "--run-dir", str(folder), "-q"]) == 0
    out = capsys.readouterr().out
    assert "epoch " not in out and "Epoch " not in out, out
    assert f"tfae: wrote {folder}: " in out


EXAMPLES = {
    "vae": {},
    "ae": {"variational": False},
    "beta_vae_cyclical": {"scheduled": True},
    "conv_vae": {},
    "bernoulli_vae": {},
}


def test_the_examples_are_the_ones_tested():
    assert set(example_configs()) == set(EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_config_trains(name, tmp_path, capsys):
    folder = tmp_path / name
    assert main(["train", name, "--epochs", "1", "--run-dir", str(folder), "-q"]) == 0, capsys.readouterr().err
    config, rows = check_run(folder, **EXAMPLES[name])
    example = load_config(example_configs()[name]).values
    assert holds(config.values["model"], example["model"])
    assert holds(config.values["data"], example["data"])
    if EXAMPLES[name].get("scheduled"):
        assert float(rows[0]["beta"]) == 0.0  # the schedule starts with a delay at beta = 0


class InterruptAfter(keras.callbacks.Callback):
    """Stops training as a Ctrl-C would, after the given epoch's end-of-epoch work (backup included)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_resume_continues_from_the_last_finished_epoch_with_the_schedule_in_place(tmp_path, capsys):
    config_path = tmp_path / "cyclical.toml"
    config_path.write_text(
        '[model]\nhidden = [16]\n[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\n'
        '[model.bottleneck.regularizer]\nname = "kld"\n'
        '[model.bottleneck.regularizer.beta]\nname = "dasr"\nattack = 4\n'
        "[training]\nepochs = 4\n"
    )
    folder = tmp_path / "run"
    run = Run.create(load_config(config_path), folder)
    with pytest.raises(KeyboardInterrupt):
        run.train(verbose=0, callbacks=[InterruptAfter(1)])
    assert (folder / "backup").is_dir()
    assert not (folder / "model.keras").exists()
    assert [row["epoch"] for row in history(folder / "history.csv")] == ["0", "1"]

    assert main(["train", "--resume", str(folder), "-q"]) == 0, capsys.readouterr().err
    config, rows = check_run(folder, scheduled=True)
    assert [row["epoch"] for row in rows] == ["0", "1", "2", "3"]
    assert [round(float(row["beta"]), 4) for row in rows] == [0.25, 0.5, 0.75, 1.0]
    assert main(["train", "--resume", str(folder)]) == 2
    assert "finished already" in capsys.readouterr().err


def test_tensorboard_logs_when_asked(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    config = tmp_path / "tensorboard.toml"
    config.write_text("[model]\nhidden = [8]\n[training]\nepochs = 1\n[output]\ntensorboard = true\n")
    assert main(["train", str(config), "--run-dir", str(tmp_path / "run"), "-q"]) == 0, capsys.readouterr().err
    assert any((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))


def test_ctrl_c_says_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupted(self, verbose=1, callbacks=(), strategy=None, progress=True):
        raise KeyboardInterrupt

    monkeypatch.setattr(Run, "train", interrupted)
    folder = tmp_path / "run"
    assert main(["train", "--run-dir", str(folder), "-q"]) == 130
    assert capsys.readouterr().err.strip() == f"tfae train: interrupted; continue with: tfae train --resume {folder}"


@pytest.mark.slow
def test_a_npz_file_and_a_folder_of_images(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.random((40, 12)).astype("float32"), y=np.arange(40) % 3)
    config = tmp_path / "npz.toml"
    config.write_text(f'[data]\nsource = "{tmp_path / "data.npz"}"\n[training]\nloss = "gaussian"\nepochs = 1\n')
    assert main(["train", str(config), "--run-dir", str(tmp_path / "npz"), "-q"]) == 0, capsys.readouterr().err
    check_run(tmp_path / "npz")

    for label in ("cats", "dogs"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for index in range(6):
            pixels = (rng.random((10, 12, 3)) * 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{index}.png")
    config = tmp_path / "images.toml"
    config.write_text(
        f'[data]\nsource = "{tmp_path / "images"}"\ncolor = "rgb"\nimage_size = [8, 8]\n'
        '[model]\nlayout = "conv"\nhidden = [4]\n[training]\nepochs = 1\nvalidation_split = 0.25\n'
    )
    assert main(["train", str(config), "--run-dir", str(tmp_path / "images_run"), "-q"]) == 0
    check_run(tmp_path / "images_run")
    model = tfae.load_model(tmp_path / "images_run" / "model.keras")
    assert model.encoder.input_shape[1:] == (8, 8, 3)
