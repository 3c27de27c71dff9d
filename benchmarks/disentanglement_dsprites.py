"""Disentanglement on the procedural dSprites: VAE, beta-VAE, beta-TCVAE and FactorVAE, by MIG and the FactorVAE score.

Issue 16, item 5: do the orderings that Chen et al. 2018 (beta-TCVAE, MIG) and Kim & Mnih 2018 (FactorVAE, the
FactorVAE score) report on dSprites come out of tfae's models on ``tfae.datasets.DSprites``? Each model trains
for several seeds; the script prints MIG and the FactorVAE score as mean +- sd beside the papers' values, and
Welch's test of beta-TCVAE against the VAE on each (issue 26, item 2), and writes every seed's scores, final
losses and times, and the tests, to a JSON file.

    python benchmarks/disentanglement_dsprites.py                 # VAE and beta-TCVAE, seeds 0-4: ~90 min, 2 cores
    python benchmarks/disentanglement_dsprites.py --models vae beta_vae beta_tcvae factor_vae   # all four
    python benchmarks/disentanglement_dsprites.py --pythae        # also the digits VAE against pythae's get_nll
    python benchmarks/disentanglement_dsprites.py --digits-only   # only that, for each seed
    python benchmarks/disentanglement_dsprites.py --full          # the papers' size: days on a CPU
    python benchmarks/disentanglement_dsprites.py --smoke         # a minute: that the script runs

The models, as a user writes them with tfae and the tfae-disentangle plugin (``pip install
plugins/tfae-disentangle``): a ``LayoutAutoencoder`` with the conv layout, a 10-dimensional Gaussian code,
Bernoulli likelihood, Adam, batch 64, and the regularizer

- VAE: ``"kld"``;
- beta-VAE: ``{"name": "kld", "beta": 4}``;
- beta-TCVAE: ``[{"name": "beta_tcvae", "beta": 6, "dataset_size": N}]`` (it holds the KL terms itself);
- FactorVAE: ``["kld", {"name": "factor_vae", "beta": 35}]``, beta being the paper's gamma.

``--full`` is the papers' setting as disentanglement_lib runs it: 64x64 images, all 737,280 streamed through
``DSprites.as_dataset``, conv filters 32, 32, 64, 64 (disentanglement_lib's encoder, without its Dense(256)
layer, which ``LayoutAutoencoder`` does not have), Adam 1e-4, about 300,000 steps, the paper's FactorVAE
discriminator (five hidden layers of 1000), and the metrics at disentanglement_lib's sizes. The default cuts
all of these (``SETTINGS``), and its numbers are not the papers' experiment: 32x32 images, 50,000 of them in
memory, 3 epochs (2,346 steps), narrower filters and discriminator, and the two models of the papers' central
claim over five seeds, the fewest for Welch's test to have a chance of showing a difference of a few seed sds.

``--pythae`` adds a likelihood check on the 8x8 digits: the same MLP VAE trained by tfae and by pythae
(PyTorch) the same way, then tfae's ``importance_weighted_log_likelihood`` and pythae's ``get_nll``, both
IWAE estimates with k = 5000, on the same held-out digits. Without torch and pythae installed, only tfae's
side runs.
"""

import argparse
import logging
import math
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Each new model traces its own train step, which TensorFlow warns about after the fifth: expected here.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

import numpy as np  # noqa: E402

import report  # noqa: E402
import significance  # noqa: E402

MODELS = ("vae", "beta_vae", "beta_tcvae", "factor_vae")
LABELS = {
    "vae": "VAE",
    "beta_vae": "beta-VAE (beta=4)",
    "beta_tcvae": "beta-TCVAE (beta=6)",
    "factor_vae": "FactorVAE (gamma=35)",
}
LATENT_DIM = 10
KERNEL_SIZE = 4
BATCH_SIZE = 64
# Kim & Mnih's best-scoring dSprites FactorVAE (the caption of their latent-traversal figure); their sweep ran
# gamma from 10 to 100, and disentanglement_lib's over 10 to 100 as well.
FACTOR_VAE_GAMMA = 35
# The images MIG is computed on, drawn apart from the training images' seed; disentanglement_lib uses 10,000.
MIG_SAMPLES = 10_000
EVALUATION_SEED = 1

SEEDS = [0, 1, 2, 3, 4]
# The default protocol is the one a 2-core CPU finishes in about 90 minutes: the two models of the papers' central
# claim (penalising total correlation raises MIG above the VAE's), five seeds each, for Welch's test between them.
SETTINGS = {
    "default": {
        "image_size": 32,
        "n": 50_000,
        "epochs": 3,
        "learning_rate": 1e-3,
        "hidden": [16, 16, 32, 32],
        "discriminator": [256, 256],
        "factor_vae_votes": [800, 400],
        "mig_samples": MIG_SAMPLES,
        "models": ["vae", "beta_tcvae"],
        "seeds": SEEDS,
    },
    # 26 epochs of 11,520 steps: 299,520 steps, the papers' 300,000.
    "full": {
        "image_size": 64,
        "n": None,
        "epochs": 26,
        "learning_rate": 1e-4,
        "hidden": [32, 32, 64, 64],
        "discriminator": [1000] * 5,
        "factor_vae_votes": [10_000, 5_000],
        "mig_samples": MIG_SAMPLES,
        "models": list(MODELS),
        "seeds": SEEDS,
    },
    "smoke": {
        "image_size": 16,
        "n": 256,
        "epochs": 1,
        "learning_rate": 1e-3,
        "hidden": [8, 8],
        "discriminator": [16],
        "factor_vae_votes": [20, 10],
        "mig_samples": 256,
        "models": list(MODELS),
        "seeds": [0],
    },
}

# What the papers report on the original dSprites (64x64, 300k steps or Chen et al.'s MLP), approximately: read
# off their figures, not from tables. None: the paper has no such model.
REPORTED = {
    "mig_chen2018": {
        "source": "Chen et al. 2018, the dSprites panel of their comparison of methods by MIG against beta "
        "(several seeds per point; read off the figure, approximate)",
        "vae": "~0.1",
        "beta_vae": "~0.2-0.3",
        "beta_tcvae": "~0.35-0.45",
        "factor_vae": "~0.3-0.4",
        "ordering": "beta-TCVAE >= FactorVAE > beta-VAE > VAE",
    },
    "factor_vae_score_kim_mnih2018": {
        "source": "Kim & Mnih 2018, the disentanglement metric against reconstruction error on dSprites (means over "
        "10 seeds; read off the figure, approximate); best single models 0.814 (beta-VAE, beta=4) and 0.889 "
        "(FactorVAE, gamma=35) in the caption of their latent-traversal figure",
        "vae": "~0.65",
        "beta_vae": "~0.73",
        "beta_tcvae": None,
        "factor_vae": "~0.82",
        "ordering": "FactorVAE > beta-VAE > VAE",
    },
}

DIGITS_HIDDEN, DIGITS_LATENT_DIM, DIGITS_EPOCHS, DIGITS_LEARNING_RATE, DIGITS_HELD_OUT = 128, 8, 100, 1e-3, 180
IMPORTANCE_SAMPLES = 5000


def regularizer(model_name, dataset_size, discriminator, seed):
    """The regularizer of the Gaussian code, by the names tfae and the tfae-disentangle plugin register."""
    if model_name == "vae":
        return "kld"
    if model_name == "beta_vae":
        return {"name": "kld", "beta": 4}
    if model_name == "beta_tcvae":
        return [{"name": "beta_tcvae", "beta": 6, "dataset_size": dataset_size}]
    return ["kld", {"name": "factor_vae", "beta": FACTOR_VAE_GAMMA, "hidden": discriminator, "seed": seed}]


def training_data(settings):
    """``(data, dataset_size)``: images in memory for a subset, or a stream of all 737,280 for ``n=None``."""
    from tfae.datasets import DSprites, load_dsprites

    if settings["n"] is None:
        return None, len(DSprites(settings["image_size"]))
    images, _ = load_dsprites(n=settings["n"], seed=0, image_size=settings["image_size"])
    return images, len(images)


def train_and_score(model_name, seed, settings, images, dataset_size, evaluation_images, evaluation_factors):
    import keras

    from tfae.datasets import DSprites
    from tfae.evaluation import evaluate
    from tfae.models import LayoutAutoencoder

    keras.utils.set_random_seed(seed)
    bottleneck = {
        "name": "gaussian",
        "latent_dim": LATENT_DIM,
        "seed": seed,
        "regularizer": regularizer(model_name, dataset_size, settings["discriminator"], seed),
    }
    model = LayoutAutoencoder(bottleneck, layout="conv", hidden=settings["hidden"], kernel_size=KERNEL_SIZE)
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]), loss="bernoulli")
    data = DSprites(settings["image_size"])
    start = time.perf_counter()
    if images is None:
        stream = data.as_dataset(BATCH_SIZE, shuffle_seed=seed)
        history = model.fit(stream, epochs=settings["epochs"], verbose=0)
        steps = settings["epochs"] * len(stream)
    else:
        history = model.fit(images, batch_size=BATCH_SIZE, epochs=settings["epochs"], verbose=0)
        steps = settings["epochs"] * math.ceil(len(images) / BATCH_SIZE)
    train_seconds = time.perf_counter() - start
    num_train, num_eval = settings["factor_vae_votes"]
    start = time.perf_counter()
    scores = evaluate(
        model,
        evaluation_images,
        factors=evaluation_factors,
        ground_truth=data,
        seed=seed,
        metrics=["mig", {"name": "factor_vae_score", "num_train": num_train, "num_eval": num_eval}],
    )
    return {
        "seed": seed,
        "mig": scores["mig"],
        "factor_vae_score": scores["factor_vae_score"],
        "final_losses": {key: float(values[-1]) for key, values in history.history.items()},
        "steps": steps,
        "train_seconds": train_seconds,
        "evaluate_seconds": time.perf_counter() - start,
    }


def summarise(runs):
    summary = {}
    for metric in ("mig", "factor_vae_score"):
        values = [run[metric] for run in runs]
        summary[metric] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}
    summary["train_seconds"] = sum(run["train_seconds"] for run in runs)
    summary["evaluate_seconds"] = sum(run["evaluate_seconds"] for run in runs)
    return summary


def welch_tests(runs):
    """Welch's test of beta-TCVAE's scores against the VAE's, for MIG and for the FactorVAE score (the papers'
    central claim is that beta-TCVAE scores higher), or None when either model did not run."""
    if "vae" not in runs or "beta_tcvae" not in runs:
        return None
    return {
        metric: significance.welch_test(
            [run[metric] for run in runs["beta_tcvae"]], [run[metric] for run in runs["vae"]]
        )
        for metric in ("mig", "factor_vae_score")
    }


def print_welch(welch):
    for metric, label in (("mig", "MIG"), ("factor_vae_score", "FactorVAE score")):
        test = welch[metric]
        if test["t"] is None:
            print(f"Welch's test, beta-TCVAE against VAE, {label}: {test['undefined']}")
        else:
            print(
                f"Welch's test, beta-TCVAE against VAE, {label}: difference {test['difference']:+.3f}, "
                f"t {test['t']:.2f}, df {test['df']:.1f}, two-sided p {test['p_value']:.3g}, "
                f"Cohen's d {test['cohens_d']:.2f}"
            )


def ordering(summaries, metric):
    """The models from the highest mean to the lowest, as ``"a > b > c"``."""
    names = sorted(summaries, key=lambda name: -summaries[name][metric]["mean"])
    return " > ".join(LABELS[name] for name in names)


def print_table(summaries):
    mig, score = REPORTED["mig_chen2018"], REPORTED["factor_vae_score_kim_mnih2018"]
    print(f"{'model':22} {'MIG':>15} {'Chen et al.':>12} {'FactorVAE score':>16} {'Kim & Mnih':>11} {'train s':>8}")
    for name, summary in summaries.items():
        print(
            f"{LABELS[name]:22} {summary['mig']['mean']:7.3f} +- {summary['mig']['sd']:.3f} {mig[name] or '-':>12} "
            f"{summary['factor_vae_score']['mean']:8.3f} +- {summary['factor_vae_score']['sd']:.3f} "
            f"{score[name] or '-':>11} {summary['train_seconds']:8.0f}"
        )
    print(f"MIG ordering here: {ordering(summaries, 'mig')}; Chen et al.: {mig['ordering']}")
    print(f"FactorVAE-score ordering here: {ordering(summaries, 'factor_vae_score')}; Kim & Mnih: {score['ordering']}")


def digits_split():
    from tfae.datasets import load_digits

    images, _ = load_digits()
    x = images.reshape(len(images), -1)
    order = np.random.default_rng(0).permutation(len(x))
    return x[order[DIGITS_HELD_OUT:]], x[order[:DIGITS_HELD_OUT]]


def digits_tfae(train, held_out, seed):
    import keras

    from tfae.evaluation import importance_weighted_log_likelihood
    from tfae.models import LayoutAutoencoder

    keras.utils.set_random_seed(seed)
    model = LayoutAutoencoder(
        {"name": "gaussian", "latent_dim": DIGITS_LATENT_DIM, "regularizer": "kld", "seed": seed},
        hidden=[DIGITS_HIDDEN],
    )
    model.compile(optimizer=keras.optimizers.Adam(DIGITS_LEARNING_RATE), loss="bernoulli")
    start = time.perf_counter()
    history = model.fit(train, batch_size=BATCH_SIZE, epochs=DIGITS_EPOCHS, verbose=0)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    log_likelihood = importance_weighted_log_likelihood(model, held_out, samples=IMPORTANCE_SAMPLES, seed=seed)
    return {
        "log_likelihood": log_likelihood,
        "final_loss": float(history.history["loss"][-1]),
        "train_seconds": train_seconds,
        "estimate_seconds": time.perf_counter() - start,
    }


def digits_pythae(train, held_out, seed):
    """The same VAE in pythae (PyTorch), trained by the same loop, scored by pythae's ``get_nll``."""
    import torch
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(train.shape[1], DIGITS_HIDDEN), torch.nn.ReLU())
            self.mean = torch.nn.Linear(DIGITS_HIDDEN, DIGITS_LATENT_DIM)
            self.log_variance = torch.nn.Linear(DIGITS_HIDDEN, DIGITS_LATENT_DIM)

        def forward(self, x):
            hidden = self.body(x)
            return ModelOutput(embedding=self.mean(hidden), log_covariance=self.log_variance(hidden))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(
                torch.nn.Linear(DIGITS_LATENT_DIM, DIGITS_HIDDEN),
                torch.nn.ReLU(),
                torch.nn.Linear(DIGITS_HIDDEN, train.shape[1]),
                torch.nn.Sigmoid(),
            )

        def forward(self, z):
            return ModelOutput(reconstruction=self.body(z))

    torch.manual_seed(seed)
    config = VAEConfig(input_dim=(train.shape[1],), latent_dim=DIGITS_LATENT_DIM, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    optimizer = torch.optim.Adam(model.parameters(), lr=DIGITS_LEARNING_RATE)
    data = torch.from_numpy(train)
    start = time.perf_counter()
    model.train()
    for _ in range(DIGITS_EPOCHS):
        order = torch.randperm(len(data))
        losses, sizes = [], []
        for begin in range(0, len(data), BATCH_SIZE):
            batch = data[order[begin : begin + BATCH_SIZE]]
            loss = model({"data": batch}).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            sizes.append(len(batch))
    train_seconds = time.perf_counter() - start
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        # get_nll draws n_samples in batches of batch_size: 50 batches of 100, k = 5000 codes per digit.
        log_likelihood = float(model.get_nll(torch.from_numpy(held_out), n_samples=IMPORTANCE_SAMPLES, batch_size=100))
    return {
        "log_likelihood": log_likelihood,
        # The last epoch's mean weighted by batch size, as Keras' history gives tfae's.
        "final_loss": float(np.average(losses, weights=sizes)),
        "train_seconds": train_seconds,
        "estimate_seconds": time.perf_counter() - start,
    }


def digits_comparison(seed=0):
    train, held_out = digits_split()
    result = {
        "setting": f"MLP VAE 64-{DIGITS_HIDDEN}-{DIGITS_LATENT_DIM} (Gaussian code) -{DIGITS_HIDDEN}-64, Bernoulli "
        f"likelihood, Adam {DIGITS_LEARNING_RATE}, batch {BATCH_SIZE}, {DIGITS_EPOCHS} epochs on {len(train)} digits; "
        f"IWAE k={IMPORTANCE_SAMPLES} on {len(held_out)} held-out digits, nats per digit",
        "tfae": digits_tfae(train, held_out, seed),
    }
    try:
        import pythae  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        result["pythae"] = "not installed (pip install torch pythae)"
    else:
        result["pythae"] = digits_pythae(train, held_out, seed)
    return result


def digits_scores(digits):
    """``tfae -24.27, pythae -24.21``: one comparison's two log-likelihoods, or why pythae's is missing."""
    pythae = digits["pythae"]
    pythae_text = f"{pythae['log_likelihood']:.2f}" if isinstance(pythae, dict) else pythae
    return f"tfae {digits['tfae']['log_likelihood']:.2f}, pythae {pythae_text}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the papers' size: 64x64, all images, ~300k steps")
    size.add_argument("--smoke", action="store_true", help="a few seconds, to check that the script runs")
    parser.add_argument("--seeds", type=int, nargs="+", help="default 0 1 2 3 4 (--smoke 0)")
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, help="default vae beta_tcvae (--full and --smoke: all four)"
    )
    parser.add_argument("--epochs", type=int, help="epochs over the training images (default 3; --full 26)")
    parser.add_argument("--image-size", type=int, help="pixels per side (default 32; --full 64)")
    parser.add_argument(
        "--n",
        type=int,
        help="training images, drawn once and kept in memory (default 50,000; --full streams all 737,280)",
    )
    parser.add_argument(
        "--pythae", action="store_true", help="also the digits VAE's IWAE log-likelihood against pythae's"
    )
    parser.add_argument(
        "--digits-only", action="store_true", help="only the digits comparison of --pythae, once per seed; no dSprites"
    )
    parser.add_argument(
        "--output",
        help="the JSON file (default benchmarks/results-disentanglement.json, or "
        "benchmarks/results-digits-nll.json with --digits-only)",
    )
    args = parser.parse_args(argv)
    if args.digits_only:
        ignored = [
            f"--{name.replace('_', '-')}"
            for name in ("full", "smoke", "pythae", "epochs", "image_size", "n")
            if getattr(args, name) not in (None, False)
        ]
        if ignored or args.models is not None:
            parser.error(f"--digits-only trains no dSprites model; leave out {', '.join(ignored) or '--models'}")
        args.output = args.output or "benchmarks/results-digits-nll.json"
        args.seeds = args.seeds or [0, 1, 2]
        return digits_only(args, argv)
    args.output = args.output or "benchmarks/results-disentanglement.json"

    mode = "full" if args.full else "smoke" if args.smoke else "default"
    settings = dict(SETTINGS[mode])
    for key in ("epochs", "image_size", "n", "models", "seeds"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)

    import keras

    from tfae.datasets import load_dsprites

    started = time.perf_counter()
    images, dataset_size = training_data(settings)
    evaluation_images, evaluation_factors = load_dsprites(
        n=settings["mig_samples"], seed=EVALUATION_SEED, image_size=settings["image_size"]
    )
    runs = {}
    for name in settings["models"]:
        runs[name] = []
        for seed in settings["seeds"]:
            run = train_and_score(name, seed, settings, images, dataset_size, evaluation_images, evaluation_factors)
            runs[name].append(run)
            print(
                f"{LABELS[name]}, seed {seed}: MIG {run['mig']:.3f}, FactorVAE score {run['factor_vae_score']:.3f}, "
                f"loss {run['final_losses']['loss']:.2f}, {run['train_seconds']:.0f} s training",
                flush=True,
            )
    summaries = {name: summarise(name_runs) for name, name_runs in runs.items()}
    welch = welch_tests(runs)
    results = {
        **report.provenance(__file__, argv),
        "backend": keras.backend.backend(),
        "mode": mode,
        "settings": {
            **settings,
            "latent_dim": LATENT_DIM,
            "kernel_size": KERNEL_SIZE,
            "batch_size": BATCH_SIZE,
            "factor_vae_gamma": FACTOR_VAE_GAMMA,
            "dataset_size": dataset_size,
        },
        "reported": REPORTED,
        "runs": runs,
        "summary": summaries,
        "ordering": {metric: ordering(summaries, metric) for metric in ("mig", "factor_vae_score")},
    }
    if welch is not None:
        results["welch_beta_tcvae_vs_vae"] = welch
    if args.pythae:
        results["digits_log_likelihood"] = digits_comparison()
    results["wall_seconds"] = time.perf_counter() - started

    print_table(summaries)
    if welch is not None:
        print_welch(welch)
    if args.pythae:
        digits = results["digits_log_likelihood"]
        print(f"digits, {digits['setting']}: {digits_scores(digits)}")
    print(f"wall time {results['wall_seconds'] / 60:.1f} minutes")
    report.write(results, args.output)
    return results


def digits_only(args, argv):
    """``--digits-only``: the digits VAE's log-likelihood by tfae and by pythae for each of ``--seeds``, written
    alone to ``--output``."""
    import keras

    started = time.perf_counter()
    by_seed = {}
    for seed in args.seeds:
        digits = by_seed[str(seed)] = digits_comparison(seed)
        print(f"digits, seed {seed}: {digits_scores(digits)}", flush=True)
    results = {
        **report.provenance(__file__, argv),
        "backend": keras.backend.backend(),
        "setting": digits["setting"],
        "digits_log_likelihood": by_seed,
        "wall_seconds": time.perf_counter() - started,
    }
    print(f"setting: {digits['setting']}")
    report.write(results, args.output)
    return results


if __name__ == "__main__":
    main()
