"""The shipped example configs train with `tfae train CONFIG --epochs 1`, and their models load by name in a fresh
process: bottleneck, prior, regularizers and objective as configured, and the log-densities drawn with the codes
those the reloaded flow gives by inverting itself."""

import json
import subprocess
import sys
from importlib import resources

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tfae depends on tomli there
    import tomli as tomllib

import pytest

FOLDER = resources.files("tfae_flows") / "examples"
EXAMPLES = sorted(path.name for path in FOLDER.iterdir() if path.name.endswith(".toml"))

TRAIN = """
import json, sys
from tfae.cli import main

for command in json.loads(sys.argv[1]):
    if main(command):
        sys.exit(1)
"""

LOAD = """
import json, sys

import numpy as np
from keras import ops

import tfae
from tfae.datasets import load_digits

images = load_digits()[0][:32]
found = {}
for name, path in json.loads(sys.argv[1]).items():
    model = tfae.load_model(path)
    bottleneck = model.bottleneck
    posterior = bottleneck.posterior(model.feature_network(images), sampling="exact", importance_samples=3)
    drawn = ops.convert_to_numpy(posterior.log_density())
    inverted = ops.convert_to_numpy(posterior.log_density(posterior.code))
    reconstructions = ops.convert_to_numpy(model(images))
    samples = ops.convert_to_numpy(model.decoder(bottleneck.sample_prior(4, seed=0)))
    found[name] = {
        "bottleneck": type(bottleneck).__module__,
        "config": {key: bottleneck.get_config()[key] for key in ("latent_dim", "flows", "regularizer")},
        "prior": type(bottleneck.prior).__name__,
        "objective": type(model.objective).__name__,
        "reconstructions": [list(reconstructions.shape), bool(np.isfinite(reconstructions).all())],
        "samples": bool(np.isfinite(samples).all()),
        "densities": float(np.max(np.abs(drawn - inverted))),
    }
print(json.dumps(found))
"""


def run(code, *arguments, cwd):
    # The environment is this one's: TF_CPP_MIN_LOG_LEVEL quiets TensorFlow, and TFAE_XLA=0 (conftest.py) keeps
    # XLA's compile time out of the suite.
    result = subprocess.run(
        [sys.executable, "-c", code, *arguments], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    commands = [
        ["train", str(FOLDER / name), "--epochs", "1", "--run-dir", name, "-q"]
        for name in EXAMPLES
    ]
    run(TRAIN, json.dumps(commands), cwd=folder)
    models = {name: str(folder / name / "model.keras") for name in EXAMPLES}
    return folder, json.loads(run(LOAD, json.dumps(models), cwd=folder).strip().splitlines()[-1])


def test_every_example_trains_for_an_epoch_and_reloads_in_a_fresh_process(trained):
    folder, found = trained
    assert EXAMPLES == ["iaf_maf_iwae.toml", "planar.toml"]
    for name in EXAMPLES:
        config = tomllib.loads((FOLDER / name).read_text(encoding="utf-8"))
        section = config["model"]["bottleneck"]
        loaded = found[name]
        assert loaded["bottleneck"] == f"tfae_flows.{section['name']}"
        assert loaded["config"]["latent_dim"] == section["latent_dim"] and loaded["config"]["flows"] == section["flows"]
        assert loaded["reconstructions"] == [[32, 8, 8], True] and loaded["samples"]
        # The log-densities drawn with the codes are those the reloaded flow gives by inverting itself.
        assert loaded["densities"] < 1e-3, loaded
        history = (folder / name / "history.csv").read_text().splitlines()
        header, values = history[0].split(","), [float(value) for value in history[1].split(",")]
        assert 0 < dict(zip(header, values))["loss"] < 100
        if "objective" in config["training"]:
            assert loaded["objective"] == "IWAE" and loaded["config"]["regularizer"] == []
            assert "iwae_bound" in header
        else:
            assert loaded["objective"] == "ELBO"
            assert loaded["config"]["regularizer"] == {"name": "monte_carlo_kl", "beta": 1.0}
            assert "monte_carlo_kl_loss" in header
        expected_prior = "MAFPrior" if section.get("prior", {}).get("name") == "maf" else "StandardNormalPrior"
        assert loaded["prior"] == expected_prior
