"""The shipped example configs train through `tfae train` by name, with tfae's defaults (XLA included), and their
models load in a fresh process with the regularizers they were trained with; a FactorVAE saved from Python loads
there with its discriminator's weights.

All the configs train in one interpreter and all the models load in another: TensorFlow starts twice, not
twice per config.
"""

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from tfae_disentangle.mmd import WAE_IMQ_SCALES

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_factor_vae import check_a_factor_vae_trains_saves_and_loads  # noqa: E402

EXAMPLES = ["beta_tcvae.toml", "capacity_beta_vae.toml", "info_vae.toml", "factor_vae.toml"]

# Trains each config given for one epoch, one after the other, as `tfae train CONFIG --epochs 1 -q` would.
TRAIN = """
import sys
from tfae.cli import main

for config, run in zip(sys.argv[1::2], sys.argv[2::2]):
    if main(["train", config, "--run-dir", run, "--epochs", "1", "-q"]):
        sys.exit(1)
"""

# Loads each model given and prints its regularizers as saved, their modules and what evaluate gives; the
# last argument is a npz file for the discriminator weights of the Python-saved FactorVAE, the one before it.
LOAD = """
import json, sys

import numpy as np
import tfae
from tfae.datasets import load_digits
from tfae.serialization import component_spec

*paths, factor_vae, weights = sys.argv[1:]
images = load_digits()[0][:128]
found = []
for path in paths:
    model = tfae.load_model(path)
    found.append({
        "regularizers": [component_spec("regularizer", r) for r in model.bottleneck.regularizers],
        "modules": [type(r).__module__ for r in model.bottleneck.regularizers],
        "metrics": model.evaluate(images, verbose=0, return_dict=True),
    })
model = tfae.load_model(factor_vae)
np.savez(weights, *model.bottleneck.regularizers[1].discriminator.get_weights())
print(json.dumps(found))
"""


def run(code, *args, cwd):
    # tfae's defaults, XLA included: without the TFAE_XLA=0 that conftest.py sets for this process.
    env = {**{key: value for key, value in os.environ.items() if key != "TFAE_XLA"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout


def header(run_dir):
    return (run_dir / "history.csv").read_text(encoding="utf-8").splitlines()[0].split(",")


def test_the_examples_train_by_name_and_every_model_loads_in_a_fresh_process(tmp_path):
    configs = [resources.files("tfae_disentangle") / "examples" / name for name in EXAMPLES]
    runs = [tmp_path / name.removesuffix(".toml") for name in EXAMPLES]
    run(TRAIN, *[item for pair in zip(configs, runs) for item in pair], cwd=tmp_path)
    saved_factor_vae = check_a_factor_vae_trains_saves_and_loads(tmp_path)

    loaded = run(
        LOAD, *[folder / "model.keras" for folder in runs], saved_factor_vae, tmp_path / "loaded.npz", cwd=tmp_path
    )
    beta_tcvae, capacity, info_vae, factor_vae = json.loads(loaded.strip().splitlines()[-1])
    beta_tcvae_run, capacity_run, info_vae_run, factor_vae_run = runs

    assert [r["name"] for r in beta_tcvae["regularizers"]] == ["beta_tcvae"]
    assert beta_tcvae["regularizers"][0]["beta"] == 6.0
    assert {"beta_tcvae_loss", "beta_tcvae_mss_total_correlation", "val_beta_tcvae_mss_total_correlation"} <= set(
        header(beta_tcvae_run)
    )

    assert [r["name"] for r in capacity["regularizers"]] == ["capacity"]
    assert capacity["regularizers"][0]["capacity"]["name"] == "dasr"
    assert "capacity_loss" in header(capacity_run)

    assert info_vae["modules"][1] == "tfae_disentangle.mmd"
    assert info_vae["regularizers"] == [
        {"name": "kld", "beta": 1.0},
        {"name": "mmd", "beta": 1.0, "kernel": "imq", "scales": list(WAE_IMQ_SCALES), "seed": None},
    ]
    assert {"kld_loss", "mmd_loss", "regularization_loss"} <= set(header(info_vae_run))
    assert np.isfinite(info_vae["metrics"]["mmd_loss"])

    assert [r["name"] for r in factor_vae["regularizers"]] == ["kld", "factor_vae"]
    assert factor_vae["modules"][1] == "tfae_disentangle.factor_vae"
    assert factor_vae["regularizers"][1]["beta"] == 6.0
    assert {"factor_vae_discriminator_loss", "factor_vae_loss"} <= set(header(factor_vae_run))

    with np.load(tmp_path / "discriminator.npz") as saved, np.load(tmp_path / "loaded.npz") as reloaded:
        assert len(saved.files) == len(reloaded.files) == 6
        for name in saved.files:
            np.testing.assert_array_equal(saved[name], reloaded[name])
