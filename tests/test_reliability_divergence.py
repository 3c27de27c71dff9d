"""A loss that becomes NaN or inf stops ``tfae train`` with one line that names the epoch and the step and
suggests causes; the last good model and checkpoint stay on disk.

Each divergence here is real, provoked through the config or the data, never by patching tfae: a beta
schedule that jumps to 3e38 in the third epoch (the KL term overflows float32), data in the 1e30s under a
Gaussian likelihood (its squares overflow), and a learning rate of 10 (the weights blow up).
"""

import csv
import json
import math
import re

import numpy as np
import pytest

import tfae
from tfae.cli import main

ERROR_PREFIX = "tfae train: error: "
# The losses are seen once per steps_per_execution steps: the message names the step, or the steps between.
STEPS = r"(step \d+|between steps \d+ and \d+)"


def train(capsys, config_path, folder):
    """Runs ``tfae train`` in this process; returns its exit status and its stderr."""
    code = main(["train", str(config_path), "--run-dir", str(folder), "-q"])
    return code, capsys.readouterr().err


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR_PREFIX), err
    return lines[0][len(ERROR_PREFIX) :]


def history_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_a_beta_that_overflows_in_epoch_3_keeps_the_model_of_epoch_2(tmp_path, capsys):
    config = tmp_path / "overflow.toml"
    config.write_text(
        '[model]\nhidden = [16]\n[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\n'
        '[model.bottleneck.regularizer]\nname = "kld"\n'
        '[model.bottleneck.regularizer.beta]\nname = "dasr"\nend_value = 3e38\ndelay = 2\nattack = 1\n'
        "[training]\nepochs = 4\n"
    )
    folder = tmp_path / "run"
    code, err = train(capsys, config, folder)
    assert code == 2
    message = one_line(err)
    assert re.search(rf"became (NaN|inf|NaN and inf) in epoch 3 of 4, {STEPS} of 26, and training stopped", message)
    assert "learning_rate = 0.003" in message and "digits ranges from 0 to 1" in message
    assert "a beta this large" in message
    assert f"The model after epoch 2, the last with finite losses, is in {folder / 'model.keras'}" in message

    rows = history_rows(folder / "history.csv")
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert all(math.isfinite(float(value)) for row in rows for value in row.values())
    checkpoint = json.loads((folder / "backup" / "checkpoint.json").read_text())
    assert checkpoint["epoch"] == 2
    model = tfae.load_model(folder / "model.keras")
    assert all(np.isfinite(weight).all() for weight in model.get_weights())
    assert np.isfinite(model.predict(np.zeros((4, *model.encoder.input_shape[1:]), "float32"), verbose=0)).all()
    # Not finished: the run can be continued (it will diverge again unless its config.toml changes).
    assert not (folder / "reconstructions.png").exists()


def test_data_on_a_huge_scale_diverges_in_the_first_step_and_saves_nothing(tmp_path, capsys):
    data = np.random.default_rng(0).random((200, 16)).astype("float32") * 1e30
    np.save(tmp_path / "huge.npy", data)
    config = tmp_path / "huge.toml"
    config.write_text(
        f'[data]\nsource = "{tmp_path / "huge.npy"}"\n[model]\nhidden = [8]\n'
        '[training]\nloss = "gaussian"\nepochs = 3\n'
    )
    folder = tmp_path / "run"
    code, err = train(capsys, config, folder)
    assert code == 2
    message = one_line(err)
    assert re.search(rf"in epoch 1 of 3, {STEPS} of 3, and training stopped", message)
    assert re.search(r"ranges from [0-9.e+]+ to 1e\+30; scale it", message)
    assert "No epoch finished with finite losses, so no model was saved." in message
    # A run that saved no epoch leaves no run folder behind.
    assert not folder.exists()


@pytest.mark.slow  # a real training process, ~10 CPU-s; the in-process tests above check the same refusals
def test_the_real_command_with_a_huge_learning_rate(tmp_path, run_tfae):
    """The command in a fresh process: exit status 2, one line on stderr, no Keras "Invalid loss" note."""
    config = tmp_path / "fast.toml"
    config.write_text("[model]\nhidden = [16]\n[training]\nlearning_rate = 10.0\nepochs = 3\n")
    result = run_tfae("train", config, "--run-dir", tmp_path / "run", "-q", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    message = one_line(result.stderr)
    assert re.search(rf"in epoch \d of 3, {STEPS} of 26", message)
    assert "a learning rate too high ([training] learning_rate = 10; try a tenth)" in message
    assert "Traceback" not in result.stderr and "Invalid loss" not in result.stdout


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_the_checkpoint_skips_an_epoch_whose_loss_is_not_finite(tmp_path, value):
    """The checkpoint callback on its own: a non-finite epoch leaves the last good checkpoint in place."""
    import keras

    from tfae.training.checkpoints import Checkpoint

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    checkpoint = Checkpoint(tmp_path / "backup", tmp_path / "history.csv")
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"loss": 1.5, "val_loss": 1.75})
    before = (tmp_path / "backup" / "checkpoint.json").read_bytes()
    checkpoint.on_epoch_end(1, {"loss": 1.0, "val_loss": value})
    assert (tmp_path / "backup" / "checkpoint.json").read_bytes() == before
    assert [row["epoch"] for row in history_rows(tmp_path / "history.csv")] == ["0"]
