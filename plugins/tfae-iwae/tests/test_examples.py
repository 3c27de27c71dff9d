"""The shipped configs train through `tfae train` by name, and their models load in a fresh process with the
objective they were trained with."""

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
    "miwae.toml": ("miwae", {"m": 4, "k": 4}),
    "ciwae.toml": ("ciwae", {"beta": 0.5, "importance_samples": 8}),
    "piwae.toml": ("piwae", {"m": 4, "k": 4}),
}
# The bound each logs, whose negative is its loss (PIWAE's loss is the decoder's bound, IWAE's).
BOUNDS = {"miwae": "miwae_bound", "ciwae": "ciwae_bound", "piwae": "piwae_decoder_bound"}

# Trains each config given for one epoch, one after the other in one interpreter (TensorFlow loads once).
TRAIN = """
import sys
from tfae.cli import main

for config, run in zip(sys.argv[1::2], sys.argv[2::2]):
    if main(["train", config, "--run-dir", run, "--epochs", "1", "-q"]):
        sys.exit(1)
"""

# Loads each model given and prints what it was compiled with and what it gives.
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
    metrics = model.evaluate(images, verbose=0, return_dict=True)
    found.append({
        "objective": component_spec("objective", model.objective),
        "module": type(model.objective).__module__,
        "metrics": metrics,
        "finite": bool(np.isfinite(model.predict(images, verbose=0)).all()),
    })
print(json.dumps(found))
"""


def run(code, *args, cwd):
    env = {key: value for key, value in os.environ.items() if not key.startswith("TFAE_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    # Without XLA (tfae's documented switch): a one-epoch run spends most of its time compiling otherwise.
    env["TFAE_XLA"] = "0"
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout


def example(name):
    return resources.files("tfae_iwae") / "examples" / name


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_names_its_objective_and_a_bottleneck_it_can_serve(name):
    config = tomllib.loads(example(name).read_text(encoding="utf-8"))
    objective, parameters = EXAMPLES[name]
    assert config["training"]["objective"] == {"name": objective, **parameters}
    assert config["training"]["loss"] == "bernoulli"
    assert config["model"]["bottleneck"]["name"] == "gaussian" and "regularizer" not in config["model"]["bottleneck"]


@pytest.mark.parametrize(
    "name, line, message",
    [
        ("miwae.toml", "m = 0", "`m`, the independent IWAE bounds averaged, must be a positive integer. Received: m=0"),
        ("ciwae.toml", "beta = 1.5", "`beta`, the ELBO's weight against IWAE's bound, must be a number in [0, 1]"),
    ],
)
def test_a_bad_parameter_in_a_config_is_refused_at_its_line(name, line, message, tmp_path):
    from tfae.training.config import load_config

    text = example(name).read_text(encoding="utf-8")
    key = line.split(" = ")[0]
    lines = [line if row.startswith(f"{key} = ") else row for row in text.splitlines()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    number = lines.index(line) + 1
    config = load_config(path)
    with pytest.raises(ValueError) as raised:
        config.build("objective", ("training", "objective"))
    assert str(raised.value).startswith(f"{path} line {number}: [training.objective]: {message}")
    assert "\n" not in str(raised.value)


def test_the_examples_train_by_name_and_their_models_load_in_a_fresh_process(tmp_path):
    runs = {name: tmp_path / name.removesuffix(".toml") for name in EXAMPLES}
    run(TRAIN, *[item for name in EXAMPLES for item in (example(name), runs[name])], cwd=tmp_path)

    for name, folder in runs.items():
        logged = BOUNDS[EXAMPLES[name][0]]
        with open(folder / "history.csv", newline="") as file:
            rows = list(csv.DictReader(file))
        assert len(rows) == 1 and {logged, f"val_{logged}"} <= set(rows[0]), rows
        # No regularizer: the loss is the negative bound, a finite number of nats.
        assert float(rows[0]["loss"]) == pytest.approx(-float(rows[0][logged]), rel=1e-5)

    loaded = json.loads(run(LOAD, *[folder / "model.keras" for folder in runs.values()], cwd=tmp_path).splitlines()[-1])
    for name, found in zip(EXAMPLES, loaded):
        objective, parameters = EXAMPLES[name]
        assert found["objective"] == {"name": objective, **parameters}
        assert found["module"] == f"tfae_iwae.{objective}"
        assert found["metrics"]["loss"] == pytest.approx(-found["metrics"][BOUNDS[objective]], rel=1e-5)
        assert 0 < found["metrics"]["loss"] < 100 and found["finite"]
