"""Saved models load by name in a fresh process, and the shipped example configs train with `tfae train CONFIG
--epochs 1`.

One subprocess does both, to spend one TensorFlow start-up: first it loads models this process saved (before
anything in it has touched tfae-flows) and gives back what they compute, which must be what they computed here;
then it trains every example, whose models this process loads back and checks.
"""

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from model_outputs import deterministic_outputs
from tfae import load_model
from tfae.datasets import load_digits
from tfae.models import Autoencoder

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tfae depends on tomli there
    import tomli as tomllib

TESTS = Path(__file__).resolve().parent
FOLDER = resources.files("tfae_flows") / "examples"
EXAMPLES = sorted(path.name for path in FOLDER.iterdir() if path.name.endswith(".toml"))

#: Models saved here and loaded in the fresh process: (bottleneck, objective).
SAVED = {
    "planar": ({"name": "planar", "latent_dim": 2, "flows": 3}, None),
    "radial": ({"name": "radial", "latent_dim": 2, "flows": 3, "prior": {"name": "mixture", "components": 3}}, None),
    "iaf_maf": (
        {
            "name": "iaf",
            "latent_dim": 3,
            "flows": 2,
            "hidden_units": [8],
            "context_dim": 4,
            "regularizer": None,
            "prior": {"name": "maf", "flows": 2, "hidden_units": [8]},
        },
        {"name": "iwae", "importance_samples": 3},
    ),
}

SUBPROCESS = """
import json, sys

import tfae
from tfae.cli import main
from tfae.datasets import load_digits

saved, commands, tests = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
sys.path.insert(0, tests)
from model_outputs import deterministic_outputs

images = load_digits()[0][:16]
loaded = {}
for name, path in saved.items():
    model = tfae.load_model(path)
    loaded[name] = {
        "bottleneck": type(model.bottleneck).__module__,
        "prior": type(model.bottleneck.prior).__module__,
        "objective": type(model.objective).__name__,
        **deterministic_outputs(model, images),
    }
for command in commands:
    if main(command):
        sys.exit(1)
print(json.dumps(loaded))
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    images = load_digits()[0][:16]
    saved, expected = {}, {}
    for name, (bottleneck, objective) in SAVED.items():
        model = Autoencoder(bottleneck=bottleneck)
        model.compile(optimizer="adam", loss="bernoulli", objective=objective)
        model(images)
        for network in getattr(model.bottleneck.prior, "networks", []):  # the MAF starts as N(0, I): make it move
            network.output_kernel.assign(np.full(network.output_kernel.shape, 0.2, dtype="float32"))
        expected[name] = deterministic_outputs(model, images)
        saved[name] = str(folder / f"{name}.keras")
        model.save(saved[name])
    commands = [["train", str(FOLDER / name), "--epochs", "1", "--run-dir", name, "-q"] for name in EXAMPLES]
    # The environment is this one's: TF_CPP_MIN_LOG_LEVEL quiets TensorFlow, and TFAE_XLA=0 (conftest.py) keeps
    # XLA's compile time out of the suite.
    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, json.dumps(saved), json.dumps(commands), str(TESTS)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return folder, expected, json.loads(result.stdout.strip().splitlines()[-1])


def test_a_saved_model_loads_by_name_in_a_fresh_process_and_computes_the_same(ran):
    _, expected, loaded = ran
    assert set(loaded) == set(SAVED)
    for name, (spec, _) in SAVED.items():
        found = loaded[name]
        assert found["bottleneck"] == f"tfae_flows.{spec['name']}", name
        assert found["objective"] == ("IWAE" if name == "iaf_maf" else "ELBO")
        assert found["prior"] == {"iaf_maf": "tfae_flows.maf", "radial": "tfae.priors.mixture"}.get(
            name, "tfae.priors.standard_normal"
        )
        for key, value in expected[name].items():
            np.testing.assert_allclose(found[key], value, rtol=1e-5, atol=1e-5, err_msg=f"{name}: {key}")
        # The mean code's log-density, given with it, is the one the reloaded flow gives by inverting itself.
        np.testing.assert_allclose(found["inverted"], found["log_density"], rtol=1e-4, atol=1e-4)


def test_every_example_trains_for_an_epoch_with_tfae_train(ran):
    folder, _, _ = ran
    assert EXAMPLES == ["iaf_maf_iwae.toml", "planar.toml"]
    images = load_digits()[0][:16]
    for name in EXAMPLES:
        config = tomllib.loads((FOLDER / name).read_text(encoding="utf-8"))
        section = config["model"]["bottleneck"]
        model = load_model(folder / name / "model.keras")
        bottleneck = model.bottleneck
        assert type(bottleneck).__module__ == f"tfae_flows.{section['name']}"
        assert (bottleneck.latent_dim, bottleneck.flows) == (section["latent_dim"], section["flows"])
        history = (folder / name / "history.csv").read_text().splitlines()
        logged = dict(zip(history[0].split(","), map(float, history[1].split(","))))
        assert 0 < logged["loss"] < 100
        if "objective" in config["training"]:
            assert type(model.objective).__name__ == "IWAE" and bottleneck.regularizers == []
            assert logged["loss"] == pytest.approx(-logged["iwae_bound"], rel=1e-5)
            assert type(bottleneck.prior).__name__ == "MAFPrior"
        else:
            assert [type(r).__name__ for r in bottleneck.regularizers] == ["MonteCarloKLRegularizer"]
            parts = logged["reconstruction_loss"] + logged["monte_carlo_kl_loss"]
            assert logged["loss"] == pytest.approx(parts, rel=1e-4)
        posterior = bottleneck.posterior(model.feature_network(images), sampling="exact", importance_samples=3)
        drawn = ops.convert_to_numpy(posterior.log_density())
        np.testing.assert_allclose(drawn, ops.convert_to_numpy(posterior.log_density(posterior.code)), atol=1e-3)
