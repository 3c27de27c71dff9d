"""tfae's models side by side with pythae's: the same networks, data, optimizer and steps; held-out log p(x) and speed.

Issue 23, item 2. For each model that both libraries have, the script trains tfae's version and pythae's (PyTorch)
on the binarised 8x8 digits with the same MLP, Bernoulli likelihood, Adam, batch size and number of steps, for
several seeds, then estimates each model's held-out log-likelihood by importance sampling with k = 5000 codes per
digit: ``tfae.evaluation.importance_weighted_log_likelihood`` for tfae's, pythae's own ``get_nll`` for pythae's
(which, despite its name, returns log p(x), the mean over the digits). Training throughput is measured on the same
runs, in samples per second.

    python benchmarks/pythae_zoo.py                # 3 seeds, every model both libraries have (the docs' run)
    python benchmarks/pythae_zoo.py --smoke        # seconds: that the script runs (tests/test_benchmark_pythae_zoo.py)
    python benchmarks/pythae_zoo.py --docs-only    # docs/benchmarks.md's section again from the JSON file

What is the same in both libraries:

- data: ``tfae.datasets.load_digits()``, 1,797 digits of 8x8 grey levels 0..16, binarised deterministically
  (a pixel is 1 when its grey level is above 8 of 16, i.e. above 0.5 after load_digits' division by 16), so that
  the Bernoulli likelihood is a normalised probability of binary vectors and log p(x) is comparable between
  models; a fixed permutation (NumPy, seed 0) puts 1,536 digits (12 batches of 128) in training and the other
  261 aside, held out for the estimates;
- networks: encoder 64 -> 256 (ReLU) -> the code's parameters (a mean and a log-variance of 8 dimensions, and
  whatever else the model's posterior needs), decoder 8 -> 256 (ReLU) -> 64 Bernoulli logits (pythae: a
  sigmoid and its binary cross-entropy, the same distribution); each library's own default initialisation;
- optimisation: Adam, learning rate 1e-3, epsilon 1e-8 (PyTorch's default, set in Keras too), batch 128,
  the same number of epochs (12 steps each), reshuffled every epoch;
- the estimate: k = 5000 codes drawn from the posterior per held-out digit, the same 261 digits.

Each library trains in a process of its own (TensorFlow's and PyTorch's thread pools never compete), started once
for the whole run. The two processes take turns epoch by epoch, as ``benchmarks/train_throughput.py``'s do: each
waits at the start of an epoch until the other has done its own, so a change in the machine's load hits both alike.
tfae trains with one ``fit`` call and its defaults (XLA, 16 steps per execution); pythae's model with its own
forward and loss in a plain PyTorch loop (no ``BaseTrainer``: no data loader, no checkpoints, which would only
slow it). A contestant's throughput is the training digits divided by an epoch's time, over all timed epochs of
all seeds (the first epoch of each seed compiles and is left out): the median and the fastest are reported.
The 1-minute load average is recorded before and after each contestant's training.

Models, in order, each where both libraries have it: VAE, IWAE, VAMP, beta-VAE, and the plugins' models once
the plugin is installed (tfae-flows' planar, radial and IAF posteriors against pythae's VAE_LinNF and VAE_IAF;
tfae-iwae's MIWAE and CIWAE; tfae-adversarial's adversarial autoencoder). A model whose plugin is missing, or
whose name the installed plugin does not register, is skipped with a line naming the plugin. A plain
autoencoder with the "gmm" sampler generates but has no likelihood: it is not here.

Without torch and pythae installed, only tfae's side runs.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import report
import tables

HIDDEN, LATENT_DIM, BATCH_SIZE, LEARNING_RATE, EPSILON = 256, 8, 128, 1e-3, 1e-8
TRAIN_DIGITS, THRESHOLD, SPLIT_SEED = 1536, 0.5, 0
IMPORTANCE_SAMPLES = 5000
DOCS = "docs/benchmarks.md"
OUTPUT = "benchmarks/results-pythae-zoo.json"
# The section of docs/benchmarks.md that --docs writes: everything from BEGIN to END is generated.
BEGIN = tables.begin("pythae-zoo", [OUTPUT], "benchmarks/pythae_zoo.py")
END = tables.end("pythae-zoo")

SETTINGS = {
    "default": {"epochs": 100, "seeds": [0, 1, 2], "held_out": None, "importance_samples": IMPORTANCE_SAMPLES},
    "smoke": {"epochs": 2, "seeds": [0], "held_out": 16, "importance_samples": 50},
}
SMOKE_MODELS = ("vae", "vamp")

# Each model: its label, the plugin distribution its tfae side needs (None: tfae itself), the registered tfae
# names it uses (kind, name), tfae's bottleneck and objective (the seed filled in later), pythae's class and
# config, and what differs between the two beyond the initialisation.
MODELS = {
    "vae": {
        "label": "VAE",
        "plugin": None,
        "names": [("bottleneck", "gaussian"), ("regularizer", "kld")],
        "tfae": {"bottleneck": {"name": "gaussian", "regularizer": "kld"}},
        "pythae": {"class": "VAE", "config": {}},
        "same": True,
    },
    "iwae": {
        "label": "IWAE (k = 10)",
        "plugin": None,
        "names": [("bottleneck", "gaussian"), ("objective", "iwae")],
        "tfae": {"bottleneck": {"name": "gaussian"}, "objective": {"name": "iwae", "importance_samples": 10}},
        "pythae": {"class": "IWAE", "config": {"number_samples": 10}},
        "same": True,
    },
    "vamp": {
        "label": "VAMP (50 pseudo-inputs)",
        "plugin": None,
        "names": [("bottleneck", "gaussian"), ("regularizer", "kld"), ("prior", "vamp")],
        "tfae": {"bottleneck": {"name": "gaussian", "regularizer": "kld", "prior": {"name": "vamp", "components": 50}}},
        "pythae": {"class": "VAMP", "config": {"number_components": 50}},
        "same": True,
        "differs": "the pseudo-inputs: tfae's are 50 free 64-vectors, initialised uniform in [0, 1]; pythae's are a "
        "Linear(50, 64) layer of the identity clipped to [0, 1] by a Hardtanh (Tomczak & Welling's code)",
    },
    "beta_vae": {
        "label": "beta-VAE (beta = 4)",
        "plugin": None,
        "names": [("bottleneck", "gaussian"), ("regularizer", "kld")],
        "tfae": {"bottleneck": {"name": "gaussian", "regularizer": {"name": "kld", "beta": 4}}},
        "pythae": {"class": "BetaVAE", "config": {"beta": 4.0}},
        "same": True,
    },
    "planar": {
        "label": "planar flows (4)",
        "plugin": "tfae-flows",
        "names": [("bottleneck", "planar")],
        "tfae": {"bottleneck": {"name": "planar", "flows": 4}},
        "pythae": {"class": "VAE_LinNF", "config": {"flows": ["Planar"] * 4}},
        "same": False,
        "differs": "tfae's flows are amortised (the encoder gives each digit its own u, w, b: 4 x 17 more outputs "
        "of its last layer) and constrained to be invertible (Rezende & Mohamed's u-hat); pythae's are 4 global "
        "flows shared by every digit, without the constraint",
    },
    "radial": {
        "label": "radial flows (4)",
        "plugin": "tfae-flows",
        "names": [("bottleneck", "radial")],
        "tfae": {"bottleneck": {"name": "radial", "flows": 4}},
        "pythae": {"class": "VAE_LinNF", "config": {"flows": ["Radial"] * 4}},
        "same": False,
        "differs": "tfae's flows are amortised (each digit its own parameters, from the encoder); pythae's are 4 "
        "global flows",
    },
    "iaf": {
        "label": "IAF (2 MADE layers)",
        "plugin": "tfae-flows",
        "names": [("bottleneck", "iaf")],
        "tfae": {"bottleneck": {"name": "iaf", "flows": 2, "hidden_units": [64, 64], "context_dim": 16}},
        "pythae": {"class": "VAE_IAF", "config": {"n_made_blocks": 2, "n_hidden_in_made": 2, "hidden_size": 64}},
        "same": False,
        "differs": "both have 2 MADE layers of two hidden layers of 64; tfae's take a 16-dimensional context from "
        "the encoder and use Kingma et al.'s gated update sigma * z + (1 - sigma) * m; pythae's take the code "
        "alone and use the affine z * exp(s) + m",
    },
    "vmf": {
        "label": "hyperspherical VAE (vMF)",
        "plugin": "tfae-geometric",
        "names": [("bottleneck", "vmf"), ("regularizer", "vmf_kld"), ("prior", "hyperspherical_uniform")],
        "tfae": {"bottleneck": {"name": "vmf", "regularizer": "vmf_kld"}},
        "pythae": {"class": "SVAE", "config": {}},
        "same": True,
        "differs": "codes on the sphere S^7 in both, a von Mises-Fisher posterior of concentration softplus(.) + 1 "
        "(as in Davidson et al.'s code) and the uniform prior; pythae 0.1.2's get_nll draws its codes with "
        "concentration softplus(.), without the + 1 of its training: another proposal, whose density it uses, so "
        "still an importance-sampling estimate of the same log p(x)",
    },
    "poincare": {
        "label": "Poincare VAE (c = 1)",
        "plugin": "tfae-geometric",
        "names": [("bottleneck", "poincare"), ("regularizer", "poincare_kld"), ("prior", "wrapped_normal")],
        "tfae": {"bottleneck": {"name": "poincare", "curvature": 1.0, "regularizer": "poincare_kld"}},
        "pythae": {"class": "PoincareVAE", "config": {"curvature": 1.0}},
        "same": True,
        "differs": "a wrapped normal posterior and prior (at the origin, scale 1) on the Poincare ball of curvature "
        "-1 in both, with the Monte Carlo KL; the encoder's mean is mapped onto the ball by the exponential map at "
        "the origin, by tfae's bottleneck and, for pythae, by the encoder passed in (pythae's model expects it)",
    },
    "miwae": {
        "label": "MIWAE (m = 4, k = 4)",
        "plugin": "tfae-iwae",
        "names": [("bottleneck", "gaussian"), ("objective", "miwae")],
        "tfae": {"bottleneck": {"name": "gaussian"}, "objective": {"name": "miwae", "m": 4, "k": 4}},
        "pythae": {"class": "MIWAE", "config": {"number_gradient_estimates": 4, "number_samples": 4}},
        "same": True,
        "differs": "pythae 0.1.2's MIWAE normalises its importance weights over the M axis (dimension 1 of its "
        "(batch, M, K) log-weights) and averages over K, so that MIWAE(M, K) trains tfae's miwae with m and k "
        "swapped; m = k = 4 makes the two the same objective",
    },
    "ciwae": {
        "label": "CIWAE (beta = 0.5, k = 10)",
        "plugin": "tfae-iwae",
        "names": [("bottleneck", "gaussian"), ("objective", "ciwae")],
        "tfae": {
            "bottleneck": {"name": "gaussian"},
            "objective": {"name": "ciwae", "beta": 0.5, "importance_samples": 10},
        },
        "pythae": {"class": "CIWAE", "config": {"number_samples": 10, "beta": 0.5}},
        "same": True,
    },
    "piwae": {
        "label": "PIWAE",
        "plugin": "tfae-iwae",
        "names": [("bottleneck", "gaussian"), ("objective", "piwae")],
        "tfae": {"bottleneck": {"name": "gaussian"}, "objective": {"name": "piwae", "m": 4, "k": 4}},
        "pythae": {"class": "PIWAE", "config": {"number_gradient_estimates": 4, "number_samples": 4}},
        "same": True,
    },
    "aae": {
        "label": "adversarial AE",
        "plugin": "tfae-adversarial",
        "names": [("bottleneck", "gaussian"), ("regularizer", "aae")],
        "tfae": {
            "bottleneck": {
                "name": "gaussian",
                "regularizer": {"name": "aae", "beta": 0.5, "hidden": [256], "prior_samples": BATCH_SIZE},
            }
        },
        "pythae": {"class": "Adversarial_AE", "config": {"adversarial_loss_scale": 0.5}},
        "same": True,
        "differs": "the discriminator (one hidden layer of 256, ReLU) trains on pythae's own discriminator loss, "
        "the sum of its two cross-entropies, with an Adam of its own, as pythae's AdversarialTrainer does; tfae's "
        "on half that sum, with the model's optimizer in the same step. Neither trains a likelihood bound: the "
        "log-likelihood of a Gaussian encoder trained without a KL term is far below the VAE's",
    },
}

# pythae's own reproduction table, examples/scripts/reproducibility/README.md of clementchadebec/benchmark_VAE at
# commit 73ff5907454a28e73d64ef52d9aab850a3885f54 (the newest the search tools held; the project README links to
# it): negative log-likelihoods in nats on 28x28 MNIST, "obtained" by pythae against the paper's "reference".
PYTHAE_README = {
    "source": "github.com/clementchadebec/benchmark_VAE, examples/scripts/reproducibility/README.md at commit 73ff590",
    "rows": {
        "vae": {"data": "binary MNIST", "metric": "NLL (200 IS)", "pythae": 89.78, "paper": 89.9},
        "vamp": {"data": "binary MNIST", "metric": "NLL (5000 IS), K = 500", "pythae": 85.79, "paper": 85.57},
        "iwae": {"data": "binary MNIST", "metric": "NLL (5000 IS), n_samples = 50", "pythae": 86.82, "paper": 87.1},
        "miwae": {
            "data": "dyn. binarised MNIST",
            "metric": "NLL (5000 IS), M = K = 8",
            "pythae": 85.09,
            "paper": 84.97,
        },
        "ciwae": {
            "data": "dyn. binarised MNIST",
            "metric": "NLL (5000 IS), beta = 0.05",
            "pythae": 84.74,
            "paper": 84.57,
        },
        "piwae": {
            "data": "dyn. binarised MNIST",
            "metric": "NLL (5000 IS), M = K = 8",
            "pythae": 84.58,
            "paper": 84.46,
        },
        "vmf": {
            "label": "SVAE (von Mises-Fisher)",
            "data": "dyn. binarised MNIST",
            "metric": "NLL (500 IS)",
            "pythae": 93.13,
            "paper": 93.16,
        },
        "poincare": {
            "label": "PoincareVAE (wrapped normal)",
            "data": "MNIST",
            "metric": "NLL (500 IS)",
            "pythae": 101.66,
            "paper": 101.47,
        },
    },
    "absent": "VAE_IAF and VAE_LinNF: the table has no row for either (issue 23 expected one)",
}

NLL_TARGET_NATS, SPEED_TARGET = 0.5, 1.2


# ---------------------------------------------------------------------------------------------------------------
# Data


def digits_split(held_out=None):
    """``(train, held_out)``: the binarised digits, float32 of shape (n, 64), split by a fixed permutation."""
    from tfae.datasets import load_digits

    images, _ = load_digits()
    x = (images.reshape(len(images), -1) > THRESHOLD).astype("float32")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    train, rest = x[order[:TRAIN_DIGITS]], x[order[TRAIN_DIGITS:]]
    return train, rest if held_out is None else rest[:held_out]


# ---------------------------------------------------------------------------------------------------------------
# The workers: one process per library, taking orders as JSON lines on stdin and answering on a private stdout.


class Channel:
    """The worker's line to the orchestrator: the process's real stdout, kept apart; anything else printed (by
    TensorFlow, by pythae's ``get_nll``) goes to stderr, the worker's log."""

    def __init__(self):
        self.out = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def send(self, message):
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()


class Turns:
    """Waits for "go" before an epoch and reports its time after it."""

    def __init__(self, channel):
        self.channel = channel

    def begin(self):
        while True:
            line = sys.stdin.readline()
            if not line:
                raise SystemExit(0)
            if line.strip() == "go":
                break
        self.start = time.perf_counter()

    def end(self, loss=None):
        self.channel.send({"epoch_seconds": time.perf_counter() - self.start, "loss": loss})


class TfaeSide:
    library = "tfae"

    def __init__(self, threads=None):
        import keras

        import tfae  # noqa: F401

        if threads:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)

        self.keras = keras

    def names(self):
        from tfae.plugins import get_registry

        registry = get_registry()
        return {kind: sorted(registry.names(kind)) for kind in ("bottleneck", "regularizer", "prior", "objective")}

    def build(self, name, seed, train):
        import copy

        from tfae.models import LayoutAutoencoder

        keras = self.keras
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        spec = copy.deepcopy(MODELS[name]["tfae"])
        bottleneck = {**spec["bottleneck"], "latent_dim": LATENT_DIM, "seed": seed}
        if isinstance(bottleneck.get("prior"), dict):
            bottleneck["prior"] = {**bottleneck["prior"], "seed": seed}
        regularizer = bottleneck.get("regularizer")
        if isinstance(regularizer, dict) and regularizer.get("name") == "aae":
            bottleneck["regularizer"] = {**regularizer, "seed": seed}
        self.model = LayoutAutoencoder(bottleneck, layout="dense", hidden=[HIDDEN])
        self.model.compile(
            optimizer=keras.optimizers.Adam(LEARNING_RATE, epsilon=EPSILON),
            loss="bernoulli",
            objective=spec.get("objective"),
        )
        self.train_data, self.seed = train, seed
        return {"bottleneck": bottleneck, "objective": spec.get("objective")}

    def train(self, epochs, turns):
        keras = self.keras

        class TakeTurns(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                turns.begin()

            def on_epoch_end(self, epoch, logs=None):
                turns.end(float(logs["loss"]) if logs and "loss" in logs else None)

        history = self.model.fit(
            self.train_data, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=0, callbacks=[TakeTurns()]
        )
        return {
            "final_loss": float(history.history["loss"][-1]),
            "parameters": int(sum(np.prod(w.shape) for w in self.model.trainable_weights)),
            "settings": {
                "jit_compile": bool(self.model.jit_compile),
                "steps_per_execution": self.model.steps_per_execution,
            },
        }

    def log_likelihood(self, held_out, samples):
        from tfae.evaluation import importance_weighted_log_likelihood

        return importance_weighted_log_likelihood(self.model, held_out, samples=samples, seed=self.seed)


class PythaeSide:
    library = "pythae"

    def __init__(self, threads=None):
        import pythae.models
        import torch

        if threads:
            torch.set_num_threads(threads)
            torch.set_num_interop_threads(threads)

        self.torch, self.models = torch, pythae.models

    def names(self):
        return {"models": sorted(name for name in dir(self.models) if not name.startswith("_"))}

    def networks(self, name):
        """pythae's encoder and decoder: the same layers as tfae's ``LayoutAutoencoder(hidden=[256])``. SVAE's
        encoder gives a mean direction and a log-concentration; PoincareVAE's maps its mean onto the ball."""
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder

        nn = self.torch.nn
        model_class = MODELS[name]["pythae"]["class"]
        ball = None
        if model_class == "PoincareVAE":
            from pythae.models.pvae.pvae_utils import PoincareBall

            ball = PoincareBall(dim=LATENT_DIM, c=MODELS[name]["pythae"]["config"]["curvature"])

        class Encoder(BaseEncoder):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU())
                self.mean = nn.Linear(HIDDEN, LATENT_DIM)
                self.log_variance = nn.Linear(HIDDEN, 1 if model_class == "SVAE" else LATENT_DIM)

            def forward(self, x):
                hidden = self.body(x.reshape(x.shape[0], -1))
                mean, log_variance = self.mean(hidden), self.log_variance(hidden)
                if model_class == "SVAE":
                    return ModelOutput(embedding=mean, log_concentration=log_variance)
                if ball is not None:
                    mean = ball.expmap0(mean)
                return ModelOutput(embedding=mean, log_covariance=log_variance)

        class Decoder(BaseDecoder):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(LATENT_DIM, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 64), nn.Sigmoid())

            def forward(self, z):
                return ModelOutput(reconstruction=self.body(z))

        return Encoder(), Decoder()

    def build(self, name, seed, train):
        torch = self.torch
        spec = MODELS[name]["pythae"]
        model_class = getattr(self.models, spec["class"])
        config_class = getattr(self.models, f"{spec['class']}Config", None) or getattr(
            self.models, f"{spec['class']}_Config"
        )
        torch.manual_seed(seed)
        config = config_class(input_dim=(64,), latent_dim=LATENT_DIM, reconstruction_loss="bce", **spec["config"])
        encoder, decoder = self.networks(name)
        self.model = model_class(config, encoder=encoder, decoder=decoder)
        self.adversarial = spec["class"] == "Adversarial_AE"
        if self.adversarial:
            # As pythae's AdversarialTrainer: one Adam for the encoder and decoder, one for the discriminator.
            autoencoder = [*self.model.encoder.parameters(), *self.model.decoder.parameters()]
            self.optimizers = [
                torch.optim.Adam(autoencoder, lr=LEARNING_RATE, eps=EPSILON),
                torch.optim.Adam(self.model.discriminator.parameters(), lr=LEARNING_RATE, eps=EPSILON),
            ]
        else:
            self.optimizers = [torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE, eps=EPSILON)]
        self.data, self.seed = torch.from_numpy(train), seed
        return {"class": spec["class"], "config": spec["config"]}

    def step(self, batch, epoch):
        output = self.model({"data": batch}, epoch=epoch)
        if self.adversarial:
            autoencoder_optimizer, discriminator_optimizer = self.optimizers
            autoencoder_optimizer.zero_grad()
            output.autoencoder_loss.backward(retain_graph=True)
            discriminator_optimizer.zero_grad()
            output.discriminator_loss.backward()
            autoencoder_optimizer.step()
            discriminator_optimizer.step()
            return output.autoencoder_loss.detach()
        (optimizer,) = self.optimizers
        optimizer.zero_grad(set_to_none=True)
        output.loss.backward()
        optimizer.step()
        return output.loss.detach()

    def train(self, epochs, turns):
        torch, data = self.torch, self.data
        self.model.train()
        for epoch in range(epochs):
            order = torch.randperm(len(data))
            turns.begin()
            losses = []
            for begin in range(0, len(data), BATCH_SIZE):
                losses.append(self.step(data[order[begin : begin + BATCH_SIZE]], epoch))
            # The mean over the epoch's batches (all of one size here), as Keras' history gives tfae's.
            loss = float(torch.stack(losses).mean())
            turns.end(loss)
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        if self.adversarial:
            parameters = [
                *self.model.encoder.parameters(),
                *self.model.decoder.parameters(),
                *self.model.discriminator.parameters(),
            ]
        return {"final_loss": loss, "parameters": int(sum(p.numel() for p in parameters)), "settings": {}}

    def log_likelihood(self, held_out, samples):
        torch = self.torch
        self.model.eval()
        torch.manual_seed(self.seed)
        with torch.no_grad():
            # batch_size = samples: one chunk of k codes per digit (get_nll uses batch_size codes when
            # n_samples <= batch_size).
            return float(self.model.get_nll(torch.from_numpy(held_out), n_samples=samples, batch_size=samples))


def worker(library, threads=None):
    channel = Channel()
    try:
        side = (TfaeSide if library == "tfae" else PythaeSide)(threads)
        channel.send({"ready": True, "names": side.names()})
    except Exception as error:  # noqa: BLE001 - reported to the orchestrator, which skips the library
        channel.send({"error": f"{type(error).__name__}: {error}"})
        return
    turns = Turns(channel)
    for line in sys.stdin:
        if not line.startswith("{"):
            continue  # a "go" left over from a run that failed before it was read
        order = json.loads(line)
        try:
            if order["cmd"] == "quit":
                return
            if order["cmd"] == "run":
                with np.load(order["data"]) as data:
                    train = data["train"]
                start = time.perf_counter()
                built = side.build(order["model"], order["seed"], train)
                channel.send({"built": built})
                trained = side.train(order["epochs"], turns)
                channel.send({"trained": {**trained, "train_seconds": time.perf_counter() - start}})
            elif order["cmd"] == "nll":
                with np.load(order["data"]) as data:
                    held_out = data["held_out"]
                start = time.perf_counter()
                value = side.log_likelihood(held_out, order["samples"])
                channel.send({"log_likelihood": value, "seconds": time.perf_counter() - start})
        except Exception as error:  # noqa: BLE001 - one model's failure is reported and the run goes on
            import traceback

            traceback.print_exc()
            channel.send({"error": f"{type(error).__name__}: {error}"})


# ---------------------------------------------------------------------------------------------------------------
# The orchestrator


class Worker:
    def __init__(self, library, log_dir, threads=None):
        self.library = library
        self.log = open(os.path.join(log_dir, f"pythae-zoo-{library}.log"), "w")
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", library, str(threads or 0)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def send(self, message):
        self.process.stdin.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
        self.process.stdin.flush()

    def receive(self):
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            return {
                "error": f"the {self.library} process stopped (exit status {self.process.returncode}); "
                f"see {self.log.name}"
            }
        return json.loads(line)

    def close(self):
        if self.process.poll() is None:
            try:
                self.send({"cmd": "quit"})
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.log.close()


def pythae_installed():
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("torch", "pythae"))


def plugin_version(distribution):
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def skip_reason(name, tfae_names, pythae_names):
    """Why ``name`` cannot run on the tfae side (``None``: it can)."""
    spec = MODELS[name]
    plugin = spec["plugin"]
    if plugin is not None and plugin_version(plugin) is None:
        return (
            f"{spec['label']}: skipped, the {plugin} plugin is not installed "
            f"(pip install --no-deps -e plugins/{plugin})"
        )
    missing = [f"{kind} {n!r}" for kind, n in spec["names"] if n not in tfae_names.get(kind, [])]
    if missing:
        source = f"the installed {plugin} plugin" if plugin else "tfae"
        return f"{spec['label']}: skipped, {source} registers no {', '.join(missing)}"
    if pythae_names is not None and spec["pythae"]["class"] not in pythae_names["models"]:
        return f"{spec['label']}: skipped, pythae has no {spec['pythae']['class']}"
    return None


def summarise_throughput(runs):
    """Samples per second over every timed epoch of every seed (each seed's first epoch left out)."""
    rates = [TRAIN_DIGITS / seconds for run in runs for seconds in run["epoch_seconds"][1:]]
    if not rates:
        return {"median": None, "fastest": None, "epochs": 0}
    return {"median": statistics.median(rates), "fastest": max(rates), "epochs": len(rates)}


def summarise(runs):
    values = [run["log_likelihood"] for run in runs if run.get("log_likelihood") is not None]
    summary = {
        "log_likelihood": {
            "mean": statistics.fmean(values) if values else None,
            "sd": statistics.stdev(values) if len(values) > 1 else (0.0 if values else None),
            "seeds": len(values),
        },
        "samples_per_second": summarise_throughput([run for run in runs if "epoch_seconds" in run]),
        "final_loss": statistics.fmean(losses)
        if (losses := [run["final_loss"] for run in runs if "final_loss" in run])
        else None,
    }
    return summary


def compare(summary):
    """tfae against pythae for one model: the log-likelihood gap and the speed ratio, against the targets."""
    tfae, pythae = summary.get("tfae"), summary.get("pythae")
    if not tfae or not pythae or tfae["log_likelihood"]["mean"] is None or pythae["log_likelihood"]["mean"] is None:
        return None
    gap = tfae["log_likelihood"]["mean"] - pythae["log_likelihood"]["mean"]
    speed = None
    if tfae["samples_per_second"]["median"] and pythae["samples_per_second"]["median"]:
        speed = tfae["samples_per_second"]["median"] / pythae["samples_per_second"]["median"]
    return {
        "log_likelihood_gap": gap,  # tfae minus pythae, nats per digit: positive is tfae better
        "log_likelihood_target_met": gap >= -NLL_TARGET_NATS,
        "speed_ratio": speed,  # tfae's median samples/s over pythae's
        "speed_target_met": None if speed is None else speed >= SPEED_TARGET,
    }


def run_model(name, workers, settings, data_path, log):
    """Trains ``name`` in every library, seed by seed, the libraries taking turns epoch by epoch."""
    runs = {worker_.library: [] for worker_ in workers}
    for seed in settings["seeds"]:
        active, by_library = [], {}
        for worker_ in workers:
            worker_.send({"cmd": "run", "model": name, "seed": seed, "epochs": settings["epochs"], "data": data_path})
            answer = worker_.receive()
            if "error" in answer:
                log(f"{MODELS[name]['label']}, {worker_.library}, seed {seed}: failed to build: {answer['error']}")
                runs[worker_.library].append({"seed": seed, "error": answer["error"]})
                continue
            by_library[worker_.library] = {
                "seed": seed,
                "built": answer["built"],
                "epoch_seconds": [],
                "epoch_loss": [],
            }
            active.append(worker_)
        for epoch in range(settings["epochs"]):
            for worker_ in list(active):
                run = by_library[worker_.library]
                if epoch == 0:
                    run["load_average_1min"] = {"before": os.getloadavg()[0]}
                worker_.send("go")
                answer = worker_.receive()
                if "error" in answer:
                    log(
                        f"{MODELS[name]['label']}, {worker_.library}, seed {seed}: "
                        f"failed in training: {answer['error']}"
                    )
                    run["error"] = answer["error"]
                    active.remove(worker_)
                    continue
                run["epoch_seconds"].append(answer["epoch_seconds"])
                run["epoch_loss"].append(answer["loss"])
        for worker_ in list(active):
            run = by_library[worker_.library]
            answer = worker_.receive()
            run["load_average_1min"]["after"] = os.getloadavg()[0]
            if "error" in answer:
                run["error"] = answer["error"]
                active.remove(worker_)
                continue
            run.update(answer["trained"])
        # The estimates one library at a time, so that they never share the cores.
        for worker_ in active:
            run = by_library[worker_.library]
            worker_.send({"cmd": "nll", "data": data_path, "samples": settings["importance_samples"]})
            answer = worker_.receive()
            if "error" in answer:
                run["error"] = answer["error"]
                continue
            run["log_likelihood"], run["estimate_seconds"] = answer["log_likelihood"], answer["seconds"]
        for library, run in by_library.items():
            runs[library].append(run)
        log(
            f"{MODELS[name]['label']}, seed {seed}: "
            + "; ".join(
                f"{library} log p(x) {run['log_likelihood']:.2f}, loss {run['final_loss']:.2f}, "
                f"median epoch {statistics.median(run['epoch_seconds'][1:] or run['epoch_seconds']):.3f} s, "
                f"load {run['load_average_1min']['before']:.1f} -> "
                f"{run['load_average_1min'].get('after', float('nan')):.1f}"
                if "log_likelihood" in run
                else f"{library} failed: {run.get('error')}"
                for library, run in by_library.items()
            )
        )
    return runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--smoke", action="store_true", help=f"1 seed, 2 epochs, k = 50 on 16 digits; {', '.join(SMOKE_MODELS)}"
    )
    parser.add_argument("--models", nargs="+", choices=list(MODELS), help="default: all, in the order of MODELS")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--epochs", type=int, help="epochs of 12 steps (default 100)")
    parser.add_argument("--libraries", nargs="+", choices=["tfae", "pythae"], default=["tfae", "pythae"])
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads of each library's process (TensorFlow's intra- and inter-op pools, "
        "PyTorch's), the same for both; default: each library's own choice",
    )
    parser.add_argument("--output", help=f"the JSON file (default {OUTPUT}; --smoke writes none unless given)")
    parser.add_argument(
        "--append",
        action="store_true",
        help="run --models and add them to --output's existing results (the same "
        "settings), recording this command beside the first; for a model whose plugin arrived after the main run",
    )
    parser.add_argument("--docs", action="store_true", help=f"also write the section of {DOCS} from the results")
    parser.add_argument("--docs-only", action="store_true", help=f"only write {DOCS}'s section from --output's JSON")
    args = parser.parse_args(argv)
    if args.docs_only:
        with open(args.output or OUTPUT) as file:
            write_docs(json.load(file))
        return None
    mode = "smoke" if args.smoke else "default"
    settings = dict(SETTINGS[mode])
    if args.seeds:
        settings["seeds"] = args.seeds
    if args.epochs:
        if args.epochs < 2:
            parser.error("--epochs must be at least 2: each seed's first epoch compiles and is not timed")
        settings["epochs"] = args.epochs
    output = args.output or (None if args.smoke else OUTPUT)
    previous = None
    if args.append:
        if not args.models or not output or not os.path.exists(output):
            parser.error("--append needs --models and an existing results file (--output)")
        with open(output) as file:
            previous = json.load(file)
        kept = {key: previous["settings"].get(key) for key in settings}
        if kept != settings or previous["settings"].get("threads") != args.threads or previous["mode"] != mode:
            parser.error(
                f"--append needs the settings of {output}: {kept}, threads {previous['settings'].get('threads')}"
            )
    names = args.models or (list(SMOKE_MODELS) if args.smoke else list(MODELS))
    libraries = [library for library in args.libraries if library == "tfae" or pythae_installed()]

    lines = []

    def log(line):
        lines.append(line)
        print(line, flush=True)

    started = time.perf_counter()
    train, held_out = digits_split(settings["held_out"])
    log_dir = tempfile.mkdtemp(prefix="pythae-zoo-")
    data_path = os.path.join(log_dir, "digits.npz")
    np.savez(data_path, train=train, held_out=held_out)
    if "pythae" in args.libraries and "pythae" not in libraries:
        log("pythae: not installed (pip install torch pythae): tfae's side only")
    workers = [Worker(library, log_dir, args.threads) for library in libraries]
    results = {
        **report.provenance(__file__, argv),
        "plugins": {p: plugin_version(p) for p in sorted({m["plugin"] for m in MODELS.values() if m["plugin"]})},
        "mode": mode,
        "settings": {
            **settings,
            "threads": args.threads,
            "hidden": HIDDEN,
            "latent_dim": LATENT_DIM,
            "batch_size": BATCH_SIZE,
            "learning_rate": LEARNING_RATE,
            "adam_epsilon": EPSILON,
            "train_digits": len(train),
            "held_out_digits": len(held_out),
            "steps_per_epoch": math.ceil(len(train) / BATCH_SIZE),
            "binarisation": f"deterministic: 1 where load_digits' value (grey level / 16) > {THRESHOLD}, else 0",
            "split": f"numpy.random.default_rng({SPLIT_SEED}).permutation of the 1,797 digits: the first "
            f"{TRAIN_DIGITS} train, the rest held out",
        },
        "models": {
            name: {key: MODELS[name][key] for key in ("label", "plugin", "tfae", "pythae", "same")}
            | {"differs": MODELS[name].get("differs")}
            for name in names
        },
        "pythae_readme": PYTHAE_README,
        "skipped": [],
        "runs": {},
        "summary": {},
    }
    try:
        ready = {}
        for worker_ in list(workers):
            answer = worker_.receive()
            if "error" in answer:
                if worker_.library == "tfae":
                    raise RuntimeError(f"tfae's process could not start: {answer['error']}")
                log(f"pythae: its process could not start ({answer['error']}): tfae's side only")
                worker_.close()
                workers.remove(worker_)
                continue
            ready[worker_.library] = answer["names"]
        results["libraries"] = [worker_.library for worker_ in workers]
        for name in names:
            reason = skip_reason(name, ready["tfae"], ready.get("pythae"))
            if reason:
                results["skipped"].append(reason)
                log(reason)
                continue
            results["runs"][name] = run_model(name, workers, settings, data_path, log)
            summary = {library: summarise(runs) for library, runs in results["runs"][name].items()}
            summary["comparison"] = compare(summary)
            results["summary"][name] = summary
    finally:
        for worker_ in workers:
            worker_.close()
    results["wall_seconds"] = time.perf_counter() - started
    results["log"] = lines
    if previous is not None:
        results = merge(previous, results, names)
    print_table(results)
    if output:
        write_results(results, output)
    if args.docs:
        write_docs(results)
    return results


def write_results(results, path):
    """``report.write``'s indented JSON, with each list of numbers on one line (every epoch's time and loss of every
    run would otherwise take a line each)."""
    import re

    text = json.dumps(results, indent=2)
    number = r"-?[0-9][0-9.eE+-]*|null"
    text = re.sub(
        rf"\[\s*((?:{number})(?:,\s*(?:{number}))*)\s*\]",
        lambda match: "[" + ", ".join(item.strip() for item in match.group(1).split(",")) + "]",
        text,
    )
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as file:
        file.write(text + "\n")
    print(f"written to {path}")


def merge(previous, added, names):
    """``previous`` with the models of ``added`` put in (in the order of ``MODELS``) and ``added``'s provenance kept
    under ``additions``."""
    merged = dict(previous)
    for key in ("runs", "summary", "models"):
        combined = {**previous[key], **added[key]}
        merged[key] = {name: combined[name] for name in MODELS if name in combined}
    labels = {MODELS[name]["label"] for name in names}
    merged["skipped"] = [line for line in previous["skipped"] if line.split(":")[0] not in labels] + added["skipped"]
    provenance = (*report.PROVENANCE, "uncommitted", "plugins", "wall_seconds", "log")
    # An earlier addition of the same models is superseded: its rows are gone.
    earlier = [
        {**addition, "models": [name for name in addition["models"] if name not in names]}
        for addition in previous.get("additions", [])
    ]
    merged["additions"] = [
        *(addition for addition in earlier if addition["models"]),
        {"models": names, **{key: added[key] for key in provenance}},
    ]
    return merged


# ---------------------------------------------------------------------------------------------------------------
# The table, printed and as docs/benchmarks.md's section


def _number(value, digits=2):
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(results):
    print(f"{'model':28} {'library':7} {'log p(x) mean +- sd':>22} {'samples/s median':>17} {'fastest':>9}")
    for name, summary in results["summary"].items():
        for library in ("tfae", "pythae"):
            if library not in summary:
                continue
            ll, speed = summary[library]["log_likelihood"], summary[library]["samples_per_second"]
            print(
                f"{MODELS[name]['label']:28} {library:7} {_number(ll['mean']):>13} +- {_number(ll['sd']):>5} "
                f"{_number(speed['median'], 0):>17} {_number(speed['fastest'], 0):>9}"
            )
        comparison = summary.get("comparison")
        if comparison:
            print(
                f"{'':28} tfae - pythae {comparison['log_likelihood_gap']:+.2f} nats; speed "
                f"{_number(comparison['speed_ratio'])}x"
            )
    for line in results["skipped"]:
        print(line)


def _provenance(results, first=None):
    """One run's commit, uncommitted paths, machine, versions and wall time, as a sentence or two (the machine and
    versions left out where they are ``first``'s)."""
    # The code that ran: tfae's, the plugins' (not their tests) and this script's.
    uncommitted = [
        path
        for path in results.get("uncommitted", [])
        if path.endswith(".py") and (path.startswith("src/") or path == "benchmarks/pythae_zoo.py" or "/src/" in path)
    ]
    return (
        f"commit `{(results.get('commit') or 'unknown')[:12]}`"
        + (
            f", with uncommitted changes (`git status`) in the code it may have run: "
            f"{', '.join(f'`{p}`' for p in uncommitted)}"
            if uncommitted
            else ", no uncommitted change to the code it ran (`src/`, the plugins' `src/`, the script)"
        )
        + (
            ". The same machine and versions"
            if first is not None and (first["machine"], first["versions"]) == (results["machine"], results["versions"])
            else f". {results['machine']}; " + ", ".join(f"{k} {v}" for k, v in results["versions"].items())
        )
        + ("; " + ", ".join(f"{k} {v}" for k, v in results["plugins"].items() if v) if results.get("plugins") else "")
        + f". Wall time {results['wall_seconds'] / 60:.0f} minutes."
    )


def _mark(value):
    return {True: "met", False: "**missed**", None: "-"}[value]


def markdown(results):
    """docs/benchmarks.md's section, from a results file: everything in it comes from ``results`` and this script."""
    s = results["settings"]
    loads = [
        value
        for runs in results["runs"].values()
        for library_runs in runs.values()
        for run in library_runs
        for value in run.get("load_average_1min", {}).values()
    ]
    seeds = ", ".join(str(seed) for seed in s["seeds"])
    additions = results.get("additions", [])
    out = [
        BEGIN,
        "",
        f"## tfae's models against pythae's on the binarised digits ({results['date']})",
        "",
        "`benchmarks/pythae_zoo.py` (issue 23, item 2) trains each model that both tfae and pythae have in each "
        "library with the same networks, data, optimizer and number of steps, and estimates its held-out "
        f"log-likelihood by importance sampling with k = {s['importance_samples']:,} codes per digit: tfae's "
        "`tfae.evaluation.importance_weighted_log_likelihood`, pythae's own `get_nll` (which returns log p(x), the "
        "mean over the digits, despite its name).",
        "",
        "```console",
        "pip install torch==2.13.0 pythae",
        "pip install --no-deps -e plugins/tfae-flows -e plugins/tfae-iwae -e plugins/tfae-adversarial   # their models",
        results["command"],
        *(addition["command"] for addition in additions),
        "```",
        "",
        f"- Run at {_provenance(results)}"
        + "".join(
            f" The rows of {' and '.join(results['models'][name]['label'] for name in addition['models'])} come from "
            f"the next command, run afterwards ({addition['date']}) once their plugin was committed, with the same "
            "settings, at " + _provenance(addition, results)
            for addition in additions
        )
        + " Raw data, every epoch's time and every seed's estimate in `benchmarks/results-pythae-zoo.json`.",
        f"- Data: `tfae.datasets.load_digits()` binarised deterministically, a pixel 1 when its grey level is "
        f"above 8 of 16 (above {THRESHOLD} after the division by 16), so that the Bernoulli likelihood is a "
        "normalised probability of binary 64-vectors and the figures are log-likelihoods in nats per digit. A "
        f"fixed permutation (NumPy, seed {SPLIT_SEED}) gives {s['train_digits']:,} training digits and "
        f"{s['held_out_digits']} held out, the same in both libraries.",
        f"- Networks: encoder 64 -> {s['hidden']} (ReLU) -> the code's parameters, a code of {s['latent_dim']} "
        f"dimensions, decoder {s['latent_dim']} -> {s['hidden']} (ReLU) -> 64 Bernoulli logits "
        "(pythae: a sigmoid and its binary cross-entropy), each library's default initialisation. tfae's model is "
        f"`LayoutAutoencoder(bottleneck, hidden=[{s['hidden']}])` with the bottleneck, regularizer, prior and "
        "objective by name, as a user writes them; pythae's is its model class with these networks passed in.",
        f"- Training: Adam, learning rate {s['learning_rate']:g}, epsilon {s['adam_epsilon']:g} in both, batch "
        f"{s['batch_size']}, {s['epochs']} epochs of {s['steps_per_epoch']} steps "
        f"({s['epochs'] * s['steps_per_epoch']:,} "
        f"steps), seeds {seeds}. tfae trains with one `fit` and its defaults (XLA, 16 steps per execution); "
        "pythae's model with its own forward and loss in a plain PyTorch loop (lighter than its `BaseTrainer`).",
        "- Throughput: the two libraries train in processes of their own that take turns epoch by epoch (as in "
        "`benchmarks/train_throughput.py`); samples per second is the training digits over an epoch's time, over "
        f"every timed epoch of the {len(s['seeds'])} seed{'s' if len(s['seeds']) > 1 else ''} "
        "(each seed's first epoch, which compiles, left out): the "
        "median and the fastest. "
        + (
            f"Each library's process ran {s['threads']} CPU thread{'s' if s['threads'] > 1 else ''} (`--threads "
            f"{s['threads']}`: TensorFlow's intra- and inter-op pools, PyTorch's intra- and inter-op threads), both "
            "alike: on the shared machine PyTorch's default of one thread per core ran pythae's epochs 3 to 10 times "
            "slower in a trial run, its threads waiting on each other behind the other jobs."
            if s.get("threads")
            else "Each library chose its own number of threads."
        ),
        "",
    ]
    if loads:
        out += [
            f"**The machine was shared while this ran** (2 cores; 1-minute load average {min(loads):.1f} to "
            f"{max(loads):.1f} before and after the contestants' training, recorded per contestant in the JSON). "
            "The throughput columns measured under that load are not a claim about either library's speed: the "
            "turns share the disturbance between them, but an epoch here is 12 steps, a fraction of a second, so "
            "a busy moment falls on one contestant's epoch and not the other's. The log-likelihoods do not depend "
            "on the load and the comparison of them stands.",
            "",
        ]
    out += [
        "| model | tfae log p(x) | pythae log p(x) | tfae - pythae | tfae samples/s (median, fastest) | "
        "pythae samples/s (median, fastest) | speed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, summary in results["summary"].items():
        cells = [results["models"][name]["label"] + ("" if results["models"][name]["same"] else " *")]
        for library in ("tfae", "pythae"):
            ll = summary.get(library, {}).get("log_likelihood")
            cells.append("-" if not ll or ll["mean"] is None else f"{ll['mean']:.2f} +- {ll['sd']:.2f}")
        comparison = summary.get("comparison")
        cells.append("-" if not comparison else f"{comparison['log_likelihood_gap']:+.2f}")
        for library in ("tfae", "pythae"):
            speed = summary.get(library, {}).get("samples_per_second")
            cells.append(
                "-" if not speed or speed["median"] is None else f"{speed['median']:,.0f}, {speed['fastest']:,.0f}"
            )
        cells.append(
            "-" if not comparison or comparison["speed_ratio"] is None else f"{comparison['speed_ratio']:.2f}x"
        )
        out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        "log p(x): nats per held-out digit, mean +- sd over the seeds (higher is better). tfae - pythae: the "
        "difference of the means. speed: tfae's median samples/s over pythae's. * not the same model in the "
        "two libraries (below).",
        "",
        f"Against issue 23's targets (every tfae model within {NLL_TARGET_NATS} nats of pythae's or better; "
        f"trained at least {SPEED_TARGET}x as fast at batch {s['batch_size']}):",
        "",
        "| model | log p(x): tfae - pythae | within 0.5 nats or better | speed | >= 1.2x |",
        "| --- | ---: | --- | ---: | --- |",
    ]
    for name, summary in results["summary"].items():
        comparison = summary.get("comparison")
        if not comparison:
            continue
        out.append(
            f"| {results['models'][name]['label']}{'' if results['models'][name]['same'] else ' *'} | "
            f"{comparison['log_likelihood_gap']:+.2f} | "
            f"{_mark(comparison['log_likelihood_target_met'])} | {_number(comparison['speed_ratio'])}x | "
            f"{_mark(comparison['speed_target_met'])} (under load) |"
        )
    differs = [(name, results["models"][name]) for name in results["summary"] if results["models"][name].get("differs")]
    if differs:
        out += ["", "What differs between the two libraries' versions of a model, beyond the initialisation:", ""]
        out += [f"- {model['label']}{'' if model['same'] else ' *'}: {model['differs']}." for _, model in differs]
    out += ["", *consistency(results)]
    if results["skipped"]:
        out += ["", "Not run:", ""] + [f"- {line}" for line in results["skipped"]]
    out += ["", END]
    return "\n".join(out) + "\n"


def consistency(results):
    """Whether the gains over the VAE here go the way pythae's own reproduction table's do."""
    # The script's copy of pythae's table (the results file keeps the one of the day it ran).
    readme = PYTHAE_README
    rows = readme["rows"]
    lines = [
        "### Against pythae's own reproduction table",
        "",
        f"pythae's table ({readme['source']}) gives negative log-likelihoods on 28x28 MNIST, 784 pixels against "
        "the 64 here, from far larger networks trained for hundreds of epochs, so its numbers and these cannot be "
        "compared as numbers. What can be compared is the direction: whether a model beats the plain VAE trained "
        "the same way, in both tables. "
        f"{readme['absent']}.",
        "",
        "| model | pythae's table: NLL (data, metric) | its gain over the VAE's 89.78 "
        "| here, gain over the VAE: tfae | pythae | consistent |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    summary = results["summary"]
    vae = summary.get("vae", {})
    for name, row in rows.items():
        readme_gain = rows["vae"]["pythae"] - row["pythae"]
        cells = [
            results["models"].get(name, {}).get("label") or row.get("label") or MODELS.get(name, {}).get("label", name),
            f"{row['pythae']:.2f} ({row['data']}, {row['metric']})",
            "-"
            if name == "vae"
            else f"{readme_gain:+.2f}" + ("" if row["data"] == rows["vae"]["data"] else " (other data)"),
        ]
        gains = []
        for library in ("tfae", "pythae"):
            mine = summary.get(name, {}).get(library, {}).get("log_likelihood", {}).get("mean")
            base = vae.get(library, {}).get("log_likelihood", {}).get("mean")
            if name == "vae" or mine is None or base is None:
                cells.append("-" if name == "vae" else "not run")
                gains.append(None)
            else:
                cells.append(f"{mine - base:+.2f}")
                gains.append(mine - base)
        if name == "vae":
            verdict = "(the reference: 200 importance samples, not 5,000)"
        elif None in gains:
            verdict = "not checked (not run here)"
        else:
            table_better = readme_gain > 0
            side = "better" if table_better else "worse"
            caveat = "" if row["data"] == rows["vae"]["data"] else " (the table's VAE row is on other data)"
            if all((gain > 0) == table_better for gain in gains):
                verdict = f"yes: {side} than the VAE in both libraries, as in the table{caveat}"
            elif all((gain > 0) != table_better for gain in gains):
                verdict = f"no: {side} than the VAE in the table, not here in either library{caveat}"
            else:
                verdict = f"mixed: {side} than the VAE in the table, here in one library only{caveat}"
        cells.append(verdict)
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "gain: the VAE's NLL minus the model's (pythae's table), the model's log p(x) minus the VAE's (here); "
        "positive is better than the VAE.",
    ]
    # The rows on the VAE's data (binary MNIST) that ran here: are they in the table's order, in each library?
    same_data = [name for name, row in rows.items() if row["data"] == rows["vae"]["data"] and name in summary]
    if len(same_data) > 2:
        table_order = sorted(same_data, key=lambda name: rows[name]["pythae"])
        label = {name: results["models"][name]["label"].split(" (")[0] for name in same_data}
        orders = {}
        for library in ("tfae", "pythae"):
            means = {name: summary[name].get(library, {}).get("log_likelihood", {}).get("mean") for name in same_data}
            if None not in means.values():
                orders[library] = sorted(same_data, key=lambda name: -means[name])
        agree = [library for library, order in orders.items() if order == table_order]
        lines += [
            "",
            f"Among the models of the table's binary-MNIST rows, its order from best to worst is "
            f"{' > '.join(label[name] for name in table_order)}; here it is "
            + "; ".join(
                f"{' > '.join(label[name] for name in order)} in {library}" for library, order in orders.items()
            )
            + (f": the same order in {' and '.join(agree)}." if agree else ": not the table's order."),
        ]
    return lines


def write_docs(results, path=DOCS):
    """Replaces the generated section of ``path`` (or appends it at the end)."""
    section = markdown(results)
    with open(path) as file:
        text = file.read()
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n") if END in rest else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as file:
        file.write(text)
    print(f"written: the pythae-zoo section of {path}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]) or None)
    else:
        main()
