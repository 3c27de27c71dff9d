"""Every example config in src/tfae_adversarial/examples trains on the digits with `tfae train CONFIG --epochs 1`,
by the registered names of this plugin's components, in another process; this process loads each saved model
with tfae.load_model, by those names, and finds the component with the settings the config gave.

One process trains them all, one after the other, which starts TensorFlow once.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfae
from tfae.datasets import load_digits
from tfae_adversarial.aae import AdversarialRegularizer
from tfae_adversarial.msssim import MultiScaleSSIMObjective
from tfae_adversarial.rae import RAEGP, RAEL2

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "tfae_adversarial" / "examples"

TRAIN = """
import json, sys
from tfae.cli import main

for config, run_dir in json.loads(sys.argv[1]):
    if main(["train", config, "--epochs", "1", "-q", "--run-dir", run_dir]):
        sys.exit(f"tfae train {config} failed")
"""

#: What each example's run logs besides the losses every run logs, and what its model holds.
EXPECTED = {
    "aae": ({"aae_loss", "aae_discriminator_loss", "val_aae_discriminator_loss"}, AdversarialRegularizer),
    "msssim": ({"msssim_loss", "kld_loss", "val_msssim_loss"}, MultiScaleSSIMObjective),
    "rae_gp": ({"decoder_penalty_loss", "l2_loss", "val_decoder_penalty_loss"}, RAEGP),
    "rae_l2": ({"decoder_penalty_loss", "l2_loss", "val_decoder_penalty_loss"}, RAEL2),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    configs = sorted(EXAMPLES.glob("*.toml"))
    assert [config.stem for config in configs] == sorted(EXPECTED)
    jobs = [(str(config), str(folder / config.stem)) for config in configs]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", TRAIN, json.dumps(jobs)],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return folder


def test_every_example_trains_with_tfae_train_and_loads_here_by_name(runs):
    images = load_digits()[0][:64]
    loaded = {}
    for name, (logged, kind) in EXPECTED.items():
        run = runs / name
        header = set((run / "history.csv").read_text(encoding="utf-8").splitlines()[0].split(","))
        assert logged <= header, (name, sorted(header))
        assert (run / "losses.png").exists()
        model = loaded[name] = tfae.load_model(run / "model.keras")
        component = model.bottleneck.regularizer if kind is AdversarialRegularizer else model.objective
        assert isinstance(component, kind), (name, component)
        predictions = model.predict(images, verbose=0)
        assert predictions.shape == images.shape and np.all((0 <= predictions) & (predictions <= 1)), name

    aae = loaded["aae"].bottleneck.regularizer
    assert aae.get_config() == {"beta": 1.0, "hidden": [64, 64], "prior_samples": 64, "seed": 0}
    weights = [w.shape for w in aae.discriminator.get_weights()]
    assert weights == [(2, 64), (64,), (64, 64), (64,), (64, 1), (1,)]
    objective = loaded["msssim"].objective
    assert objective.get_config() == {"weights": [0.1356, 0.8644], "window_size": 3, "sigma": 1.5, "data_range": 1.0}
    assert loaded["rae_gp"].objective.decoder_beta == 0.1 and loaded["rae_l2"].objective.decoder_beta == 0.001
