"""The shipped configs train through `tfae train` by name, and their models load in a fresh process with the
objective and bottleneck they were trained with."""

import csv
import json
import os
import subprocess
import sys
from importlib import resources

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

EXAMPLES = {
    "hvae.toml": ("gaussian", {"name": "hvae", "steps": 3, "step_size": 0.02, "beta_0": 0.5}),
    "rhvae.toml": (
        "rhvae",
        {"name": "rhvae", "steps": 2, "step_size": 0.02, "beta_0": 0.5, "fixed_point_iterations": 3},
    ),
}

# Trains each config given for one epoch, one after the other in one interpreter (TensorFlow loads once).
TRAIN = """
import sys
from tfae.cli import main

for config, run in zip(sys.argv[1::2], sys.argv[2::2]):
    if main(["train", config, "--run-dir", run, "--epochs", "1", "-q"]):
        sys.exit(1)
"""

# Loads each model given and prints what it was compiled with and what it gives: its loss on a batch of digits (with
# exact draws, as `evaluate` scores it, run eagerly: tracing the step would take longer than the rest) and the bound.
LOAD = """
import json, sys

import numpy as np
import tfae
from tfae.datasets import load_digits
from tfae.serialization import component_spec

images = load_digits()[0][:64]
found = []
for path in sys.argv[1:]:
    model = tfae.load_model(path)
    loss = float(model.compute_loss(images, training=False))
    found.append({
        "objective": component_spec("objective", model.objective),
        "bottleneck": component_spec("bottleneck", model.bottleneck)["name"],
        "module": type(model.bottleneck).__module__,
        "bound": {name: float(value) for name, value in model.get_metrics_result().items() if name.endswith("_bound")},
        "loss": loss,
        "finite": bool(np.isfinite(model(images)).all()),
    })
print(json.dumps(found))
"""


def run(code, *args, cwd):
    env = {key: value for key, value in os.environ.items() if not key.startswith("TFAE_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    # Without XLA (tfae's documented switch): compiling the Hamiltonian steps would take most of the run.
    env["TFAE_XLA"] = "0"
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout


def example(name):
    return resources.files("tfae_hamiltonian") / "examples" / name


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_names_its_objective_and_a_bottleneck_without_a_kl(name):
    config = tomllib.loads(example(name).read_text(encoding="utf-8"))
    bottleneck, objective = EXAMPLES[name]
    assert config["training"]["objective"] == objective
    assert config["training"]["loss"] == "bernoulli"
    assert config["model"]["bottleneck"]["name"] == bottleneck and "regularizer" not in config["model"]["bottleneck"]


def test_the_examples_train_by_name_and_their_models_load_in_a_fresh_process(tmp_path):
    runs = {name: tmp_path / name.removesuffix(".toml") for name in EXAMPLES}
    run(TRAIN, *[item for name in EXAMPLES for item in (example(name), runs[name])], cwd=tmp_path)

    for name, folder in runs.items():
        logged = f"{EXAMPLES[name][1]['name']}_bound"
        with open(folder / "history.csv", newline="") as file:
            rows = list(csv.DictReader(file))
        assert len(rows) == 1 and {logged, f"val_{logged}"} <= set(rows[0]), rows
        # No regularizer: the loss is the negative bound, a finite number of nats.
        assert float(rows[0]["loss"]) == pytest.approx(-float(rows[0][logged]), rel=1e-5)

    loaded = json.loads(run(LOAD, *[folder / "model.keras" for folder in runs.values()], cwd=tmp_path).splitlines()[-1])
    for name, found in zip(EXAMPLES, loaded):
        bottleneck, objective = EXAMPLES[name]
        assert found["objective"] == objective and found["bottleneck"] == bottleneck
        module = "tfae.bottlenecks.gaussian" if bottleneck == "gaussian" else "tfae_hamiltonian.metric"
        assert found["module"] == module
        logged = f"{objective['name']}_bound"
        assert found["loss"] == pytest.approx(-found["bound"][logged], rel=1e-5)
        assert 0 < found["loss"] < 100 and found["finite"]
