"""Batch sizes a batch-level regularizer cannot train on are refused before training, in fit and in `tfae train`,
naming the number and the limit; so is a capacity schedule that goes negative (issue 27, item 3).

A batch of one sample would make mmd 0 and leave factor_vae nothing to permute, and beta_tcvae's total
correlation 0: a plain autoencoder, trained without a word. beta_tcvae's batches are also drawn from its
`dataset_size` samples, so a larger batch is refused too; before, `tfae train` trained on, then failed drawing
its pictures, leaving model.keras and backup/ behind.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from tfae.cli import main
from tfae.models import Autoencoder
from tfae_disentangle.capacity import CapacityRegularizer
from tfae_disentangle.factor_vae import FactorVAERegularizer
from tfae_disentangle.mmd import MMDRegularizer

BATCH_LEVEL = {
    "mmd": {"name": "mmd", "seed": 0},
    "factor_vae": {"name": "factor_vae", "hidden": [8], "seed": 0},
    "beta_tcvae": {"name": "beta_tcvae", "dataset_size": 100},
}

CONFIG = """
[data]
source = "digits"

[model]
hidden = [16]

[model.bottleneck]
name = "gaussian"
latent_dim = 2
regularizer = {regularizer}

[training]
epochs = 1
batch_size = {batch_size}
"""


def write_config(folder, name, regularizer, batch_size):
    path = folder / f"{name}.toml"
    path.write_text(CONFIG.format(regularizer=regularizer, batch_size=batch_size), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", list(BATCH_LEVEL))
def test_fit_refuses_batches_of_one_before_training_naming_the_minimum(name):
    x = np.random.default_rng(0).random((8, 6)).astype("float32")
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": BATCH_LEVEL[name]})
    model.compile(optimizer="adam", loss="bernoulli")
    regularizer = model.bottleneck.regularizer
    assert regularizer.min_batch_size == 2
    message = (
        rf"The regularizer '{name}' \({type(regularizer).__name__}\) compares the samples of a batch with one "
        r"another, so it needs at least 2 per batch: use a batch_size of 2 or more\. Received: batch_size=1"
    )
    with pytest.raises(ValueError, match=message):
        model.fit(x, batch_size=1, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 0
    regularizer.check_batch_size(2)


def test_mmd_and_factor_vae_take_any_batch_of_two_or_more():
    for regularizer in (MMDRegularizer(), FactorVAERegularizer(hidden=[4])):
        for batch_size in (2, 3, 10_000):
            regularizer.check_batch_size(batch_size)


def test_tfae_train_refuses_a_batch_of_one_and_a_negative_capacity_schedule_writing_nothing(tmp_path, capsys):
    mmd = write_config(tmp_path, "mmd", '["kld", {name = "mmd"}]', batch_size=1)
    assert main(["train", str(mmd), "--run-dir", str(tmp_path / "mmd-run"), "-q"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1, error
    assert "[training] batch_size: The regularizer 'mmd' (MMDRegularizer)" in error
    assert "needs at least 2 per batch: use a batch_size of 2 or more. Received: batch_size=1" in error

    schedule = '{name = "capacity", capacity = {name = "dasr", start_value = 2, end_value = -1, attack = 4}}'
    capacity = write_config(tmp_path, "capacity", schedule, batch_size=32)
    assert main(["train", str(capacity), "--run-dir", str(tmp_path / "capacity-run"), "-q"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1, error
    # DASR's attack from 2 to -1 over 4 epochs: 1.25, 0.5, -0.25, -1.
    assert "[model.bottleneck.regularizer]: `capacity` is a KL in nats, never negative" in error
    assert "its schedule gives -0.25 at epoch 2 (counting from 0): give the schedule values >= 0" in error
    assert not (tmp_path / "mmd-run").exists() and not (tmp_path / "capacity-run").exists()


def test_tfae_train_refuses_beta_tcvae_batches_larger_than_its_data_set_before_training(tmp_path):
    # The failure was in the process: it trained, wrote model.keras and backup/, then stopped in the pictures.
    config = write_config(tmp_path, "beta_tcvae", '{name = "beta_tcvae", dataset_size = 50}', batch_size=64)
    run = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "tfae", "train", str(config), "--run-dir", str(run), "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert "[training] batch_size: A batch of 64 samples cannot be drawn from a data set of dataset_size=50" in lines[0]
    assert lines[0].startswith("tfae train: error: ")
    assert not run.exists()


def test_capacity_schedules_are_checked_to_their_end():
    # The first negative value of a step-counted schedule, after a delay; a long one is sampled and still caught.
    schedule = {"name": "dasr", "start_value": 0.0, "end_value": -1.0, "delay": 3, "attack": 10, "unit": "step"}
    message = r"gives -0\.1 at step 3 \(counting from 0\).*Received: capacity=\{'name': 'dasr'"
    with pytest.raises(ValueError, match=message):
        CapacityRegularizer(capacity=schedule)
    long = {"name": "dasr", "start_value": 5.0, "end_value": -5.0, "attack": 10_000_000, "unit": "step"}
    with pytest.raises(ValueError, match=r"`capacity` is a KL in nats, never negative, but its schedule gives -"):
        CapacityRegularizer(capacity=long)
    CapacityRegularizer(capacity={"name": "dasr", "start_value": 0.0, "end_value": 25.0, "attack": 100})
