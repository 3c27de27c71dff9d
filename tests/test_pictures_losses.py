"""losses.png: a panel for every logged loss, training and validation, a discriminator's chance level marked."""

import math

import numpy as np

from tfae.training import pictures
from tfae.training.run import read_history


def history(names, epochs=4):
    rng = np.random.default_rng(0)
    columns = {"epoch": list(range(epochs)), "beta": [1.0] * epochs}
    for name in names:
        columns[name] = list(rng.random(epochs))
        columns[f"val_{name}"] = list(rng.random(epochs))
    return columns


def panels(figure):
    return [axis for axis in figure.axes if axis.get_title()]


def test_every_logged_loss_has_a_panel_the_totals_first():
    logged = ["kld_loss", "tc_loss", "factor_vae_discriminator_loss", "loss", "reconstruction_loss"]
    logged.append("regularization_loss")
    figure = pictures.loss_figure(history(logged))
    titles = [axis.get_title() for axis in panels(figure)]
    assert titles == [
        "loss",
        "reconstruction loss",
        "regularization loss",
        "kld loss",
        "tc loss",
        "factor vae discriminator loss",
    ]
    for axis in panels(figure):
        labels = [line.get_label() for line in axis.get_lines()]
        chance = axis.get_title() == "factor vae discriminator loss"
        assert labels == ["training", "validation", *(["chance, log 2"] if chance else [])], labels
        if chance:
            np.testing.assert_allclose(axis.get_lines()[-1].get_ydata(), [math.log(2.0)] * 2)


def test_a_runs_losses_show_each_regularizers_term(digits_run, tmp_path):
    logged = read_history(digits_run / "history.csv")
    titles = [axis.get_title() for axis in panels(pictures.loss_figure(logged))]
    assert titles == ["loss", "reconstruction loss", "regularization loss", "kld loss"]
    path = pictures.loss_curves(logged, tmp_path / "losses.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
