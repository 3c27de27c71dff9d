"""The shipped example configs train on the digits through `tfae train`, by their registered names; the saved
models load in a fresh interpreter, encode onto their manifolds, sample from their priors and estimate log p(x) by
importance sampling from the log-densities."""

import json
import subprocess
import sys
from importlib import resources

EXAMPLES = ["vmf.toml", "poincare.toml"]
HANG_TIMEOUT_S = 900  # a hang, not a speed limit

# Both examples in one interpreter (one TensorFlow start-up), through the `tfae` command's own entry point.
TRAIN = """
import sys
from tfae.cli import main

folder, configs = sys.argv[1], sys.argv[2:]
if main(["plugins"]):
    sys.exit(1)
for config in configs:
    name = config.rsplit("/", 1)[-1].removesuffix(".toml")
    if main(["train", config, "--run-dir", f"{folder}/{name}", "--epochs", "1", "-q"]):
        sys.exit(1)
"""

RELOAD = """
import json, sys
import numpy as np
import tfae
from tfae.datasets import load_digits
from tfae.evaluation import evaluate
from tfae.serialization import component_spec

images = load_digits()[0][:64]
found = {}
for path in sys.argv[1:]:
    model = tfae.load_model(path)
    bottleneck = model.bottleneck
    codes = np.asarray(model.encoder.predict(images, verbose=0))
    reconstructions = np.asarray(model.predict(images, verbose=0))
    samples = np.asarray(model.bottleneck.sample_prior(256, seed=0))
    results = evaluate(model, images, metrics=["negative_elbo", "log_likelihood"], samples=8)
    found[path] = {
        "class": f"{type(bottleneck).__module__}.{type(bottleneck).__name__}",
        "prior": component_spec("prior", bottleneck.prior)["name"],
        "regularizers": [component_spec("regularizer", r)["name"] for r in bottleneck.regularizers],
        "curvature": getattr(bottleneck, "curvature", None),
        "code_norms": [float(np.linalg.norm(codes, axis=-1).min()), float(np.linalg.norm(codes, axis=-1).max())],
        "sample_norms": [float(np.linalg.norm(samples, axis=-1).min()), float(np.linalg.norm(samples, axis=-1).max())],
        "reconstructions": [list(reconstructions.shape), bool(np.isfinite(reconstructions).all())],
        "generated": list(model.sample(4, seed=1).shape),
        "negative_elbo": results["negative_elbo"],
        "log_likelihood": results["log_likelihood"],
    }
print(json.dumps(found))
"""


def run(code, *args):
    command = [sys.executable, "-c", code, *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=HANG_TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout


def test_examples_train_by_name_and_their_models_reload_in_a_fresh_interpreter(tmp_path):
    configs = [str(resources.files("tfae_geometric") / "examples" / name) for name in EXAMPLES]
    # Without XLA (TFAE_XLA=0, conftest.py), whose compilation would take most of the time: test_xla.py compiles
    # what the bottlenecks add to a training step with it.
    listing = run(TRAIN, tmp_path, *configs)
    rows = [line.split() for line in listing.splitlines()]
    for name in ("vmf", "poincare", "hyperspherical_uniform", "wrapped_normal", "vmf_kld", "poincare_kld"):
        assert any(row[:1] == [name] and "tfae-geometric" in row for row in rows), (name, listing)

    for name, loss in (("vmf", "vmf_kld_loss"), ("poincare", "poincare_kld_loss")):
        header = (tmp_path / name / "history.csv").read_text().splitlines()[0].split(",")
        assert loss in header and f"val_{loss}" in header, header

    models = [tmp_path / name / "model.keras" for name in ("vmf", "poincare")]
    found = json.loads(run(RELOAD, *models).strip().splitlines()[-1])
    vmf, poincare = (found[str(path)] for path in models)
    assert vmf["class"] == "tfae_geometric.von_mises_fisher.VonMisesFisherBottleneck"
    assert (vmf["prior"], vmf["regularizers"]) == ("hyperspherical_uniform", ["vmf_kld"])
    assert poincare["class"] == "tfae_geometric.poincare.PoincareBottleneck"
    assert (poincare["prior"], poincare["regularizers"]) == ("wrapped_normal", ["poincare_kld"])
    assert poincare["curvature"] == 1.0
    # Codes and prior samples on the sphere, and inside the unit disc.
    for key in ("code_norms", "sample_norms"):
        assert abs(vmf[key][0] - 1) < 1e-5 and abs(vmf[key][1] - 1) < 1e-5, vmf[key]
        assert poincare[key][1] < 1.0, poincare[key]
    for result in (vmf, poincare):
        assert result["reconstructions"] == [[64, 8, 8], True] and result["generated"] == [4, 8, 8]
        # IWAE-8's estimate of log p(x) is a tighter bound than the ELBO's (up to Monte Carlo noise).
        assert 0 < -result["log_likelihood"] <= result["negative_elbo"] + 0.5, result
