"""beta-TCVAE trained with each estimator of q(z), MWS and MSS, and a VAE beside them: MIG and the negative ELBO.

Does minibatch-stratified sampling train as well as minibatch-weighted sampling (issue 26, item 3)? Each sample
is a 32-pixel line holding one Gaussian bump, set by three independent factors of 10 levels each (position,
width, height), 4,096 to train on and 2,000 others to score. Every model is a dense LayoutAutoencoder (64, 64)
with a 6-dimensional Gaussian code, Bernoulli likelihood, Adam 1e-3, batch 64, 30 epochs; beta-TCVAE has
beta = 6. Each line printed is one run, as JSON; the last, the mean and sd of each model's MIG and negative
ELBO. Quality numbers only: the times are those of whatever machine runs it.

    python plugins/tfae-disentangle/scripts/mws_vs_mss.py                    # 5 seeds: a few minutes on 2 cores
    python plugins/tfae-disentangle/scripts/mws_vs_mss.py --seeds 0 --epochs 2   # that it runs

Needs tfae-disentangle installed. Not run by the tests.
"""

import argparse
import json
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from tfae.evaluation import evaluate
from tfae.models import LayoutAutoencoder

LEVELS, PIXELS, TRAINING_SAMPLES = 10, 32, 4096


def curves(n, seed):
    """``n`` curves and their factors (ints of shape ``(n, 3)``): a bump at a position, of a width and a height."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, LEVELS, size=(n, 3))
    position = 6 + factors[:, 0] * 20 / (LEVELS - 1)
    width = 1 + factors[:, 1] * 3 / (LEVELS - 1)
    height = 0.3 + factors[:, 2] * 0.7 / (LEVELS - 1)
    pixels = np.arange(PIXELS)
    x = height[:, None] * np.exp(-((pixels[None, :] - position[:, None]) ** 2) / (2 * width[:, None] ** 2))
    return x.astype("float32"), factors


def train_and_score(model_name, seed, epochs):
    x, _ = curves(TRAINING_SAMPLES, 0)
    x_eval, factors_eval = curves(2000, 1)
    keras.utils.set_random_seed(seed)
    if model_name == "vae":
        regularizer = "kld"
    else:
        regularizer = {"name": "beta_tcvae", "beta": 6, "dataset_size": len(x), "estimator": model_name}
    bottleneck = {"name": "gaussian", "latent_dim": 6, "seed": seed, "regularizer": regularizer}
    model = LayoutAutoencoder(bottleneck, hidden=[64, 64])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="bernoulli")
    history = model.fit(x, batch_size=64, epochs=epochs, verbose=0).history
    scores = evaluate(model, x_eval, factors=factors_eval, metrics=["mig", "negative_elbo"], samples=1, seed=0)
    return {
        "model": model_name,
        "seed": seed,
        "mig": scores["mig"],
        "negative_elbo": scores["negative_elbo"],
        "final": {name: values[-1] for name, values in history.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--models", nargs="+", default=["mws", "mss", "vae"], choices=["mws", "mss", "vae"])
    args = parser.parse_args(argv)
    runs = []
    for seed in args.seeds:
        for name in args.models:
            runs.append(train_and_score(name, seed, args.epochs))
            print(json.dumps(runs[-1]), flush=True)
    summary = {}
    for name in args.models:
        found = [run for run in runs if run["model"] == name]
        for metric in ("mig", "negative_elbo"):
            values = [run[metric] for run in found]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            summary[f"{name}_{metric}"] = f"{statistics.mean(values):.3f} +- {spread:.3f}"
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
