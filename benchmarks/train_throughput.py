"""Training throughput of tfae's VAE against a hand-written Keras VAE and pythae, on the same machine.

Two workloads, both with a Gaussian code, Bernoulli likelihood from logits, analytic KL and Adam 1e-3:

- ``--model mlp`` (issue 7, the default): an MLP VAE 784-512-256, a 32-dimensional code, the mirrored
  decoder, 60,000 random binary 784-vectors.
- ``--model conv`` (issue 17): 28x28x1 random binary images; Conv2D 32 and 64, kernel 3, stride 2, a
  16-dimensional code, the mirrored decoder (Dense to 7x7x64, Conv2DTranspose 64 and 32, stride 2, and a
  Conv2D to one channel of logits). tfae's model is ``LayoutAutoencoder(layout="conv", hidden=[32, 64])``.

    python benchmarks/train_throughput.py                      # batch sizes 128 and 1024
    python benchmarks/train_throughput.py --model conv         # the convolutional VAE
    python benchmarks/train_throughput.py --sweep              # also tfae and keras at 32 .. 4096
    python benchmarks/train_throughput.py --variants           # also tfae with other compile options
    KERAS_BACKEND=jax python benchmarks/train_throughput.py    # the same on JAX (the GPU run)
    python benchmarks/plot_throughput.py benchmarks/results.json docs/images/throughput.png

``tfae`` is tfae with its defaults (on TensorFlow: XLA, 16 steps per execution); ``keras`` is the
hand-written VAE with Keras' defaults (on TensorFlow without a GPU: no XLA, one step per execution), as a
user writes it; ``tfae-noxla`` is tfae with ``jit_compile=False``.

Each contestant trains in a process of its own (TensorFlow's and PyTorch's thread pools never compete),
with one ``fit`` call over all its epochs, as a user would train. The processes take turns epoch by
epoch (tfae, keras, pythae, tfae, ...): each waits at the start of an epoch until the others have done
theirs, so that drift of the machine affects all of them alike. A contestant's figure is the median of
its epoch times after its first (warm-up) epoch; peak memory is each process's resident-set high-water
mark. Results print as a table and go to a JSON file.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import report

LEARNING_RATE = 1e-3
INPUT_DIM, HIDDEN, LATENT_DIM = 784, (512, 256), 32  # the MLP
IMAGE_SIZE, FILTERS, KERNEL_SIZE, CONV_LATENT_DIM = 28, (32, 64), 3, 16  # the conv VAE: 28 -> 14 -> 7
LAYER_MACS = [
    INPUT_DIM * HIDDEN[0],
    HIDDEN[0] * HIDDEN[1],
    HIDDEN[1] * 2 * LATENT_DIM,
    LATENT_DIM * HIDDEN[1],
    HIDDEN[1] * HIDDEN[0],
    HIDDEN[0] * INPUT_DIM,
]
# Each output pixel of a convolution takes kernel x kernel x input channels multiply-adds per output
# channel; each input pixel of a stride-2 transposed convolution gives as many to the output. Padding taps
# count as whole ones, which overstates the work by a few percent, so the fraction of the peak is an upper
# bound.
_TAPS = KERNEL_SIZE**2
CONV_LAYER_MACS = [
    14 * 14 * _TAPS * 1 * FILTERS[0],  # Conv2D 32, stride 2: 28x28x1 -> 14x14x32
    7 * 7 * _TAPS * FILTERS[0] * FILTERS[1],  # Conv2D 64, stride 2: -> 7x7x64
    7 * 7 * FILTERS[1] * 2 * CONV_LATENT_DIM,  # the bottleneck's Dense: mean and log-variance
    CONV_LATENT_DIM * 7 * 7 * FILTERS[1],  # the decoder's Dense, reshaped to 7x7x64
    7 * 7 * _TAPS * FILTERS[1] * FILTERS[1],  # Conv2DTranspose 64, stride 2: -> 14x14x64
    14 * 14 * _TAPS * FILTERS[1] * FILTERS[0],  # Conv2DTranspose 32, stride 2: -> 28x28x32
    28 * 28 * _TAPS * FILTERS[0] * 1,  # Conv2D 1: the logits
]


def train_flops(layer_macs):
    """2 FLOPs per multiply-add: the forward pass, the weight gradients, and the input gradients of every
    layer but the first (nothing needs the gradient of the data)."""
    return 2 * (3 * sum(layer_macs) - layer_macs[0])


TRAIN_FLOPS_PER_SAMPLE = train_flops(LAYER_MACS)
FLOPS_PER_SAMPLE = {"mlp": TRAIN_FLOPS_PER_SAMPLE, "conv": train_flops(CONV_LAYER_MACS)}
SWEEP_BATCH_SIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096]


def make_data(samples, model="mlp", seed=0):
    shape = (samples, INPUT_DIM) if model == "mlp" else (samples, IMAGE_SIZE, IMAGE_SIZE, 1)
    return (np.random.default_rng(seed).random(shape) < 0.5).astype("float32")


class Turns:
    """The worker's side of turn-taking: wait for "go" on stdin before an epoch, report its time after."""

    def begin(self):
        if sys.stdin.readline().strip() != "go":
            raise SystemExit(0)
        self.start = time.perf_counter()

    def end(self):
        print(json.dumps({"epoch_seconds": time.perf_counter() - self.start}), flush=True)


class FitContestant:
    """A contestant that is a Keras model (``self.model``, ``self.batch_size``), trained with one ``fit``."""

    def train(self, data, epochs, turns):
        import keras

        class TakeTurns(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                turns.begin()

            def on_epoch_end(self, epoch, logs=None):
                turns.end()

        self.model.fit(data, batch_size=self.batch_size, epochs=epochs, verbose=0, callbacks=[TakeTurns()])

    def settings(self):
        """The compile options in effect after training (tfae turns XLA off if it cannot compile the model)."""
        return {"jit_compile": bool(self.model.jit_compile), "steps_per_execution": self.model.steps_per_execution}


class TfaeContestant(FitContestant):
    """tfae with its defaults: what a user gets without tuning flags (compile options only for the variants)."""

    def __init__(self, batch_size, model="mlp", **compile_options):
        import keras

        from tfae.models import DeepAutoencoder, LayoutAutoencoder

        if model == "mlp":

            def add_hidden(x, layer_num, input_shape, latent_dim):
                return keras.layers.Dense(HIDDEN[layer_num - 1], activation="relu")(x), layer_num == len(HIDDEN)

            bottleneck = {"name": "gaussian", "latent_dim": LATENT_DIM, "regularizer": "kld"}
            self.model = DeepAutoencoder(bottleneck=bottleneck, add_hidden=add_hidden)
        else:
            bottleneck = {"name": "gaussian", "latent_dim": CONV_LATENT_DIM, "regularizer": "kld"}
            self.model = LayoutAutoencoder(bottleneck, layout="conv", hidden=list(FILTERS), kernel_size=KERNEL_SIZE)
        self.model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="bernoulli", **compile_options)
        self.batch_size = batch_size


def keras_networks(model):
    """The hand-written VAE's encoder (to the mean and log-variance, side by side) and decoder (to logits)."""
    import keras

    if model == "mlp":
        encoder = keras.Sequential(
            [keras.layers.Dense(units, activation="relu") for units in HIDDEN] + [keras.layers.Dense(2 * LATENT_DIM)]
        )
        decoder = keras.Sequential(
            [keras.layers.Dense(units, activation="relu") for units in reversed(HIDDEN)]
            + [keras.layers.Dense(INPUT_DIM)]
        )
        return encoder, decoder
    encoder = keras.Sequential(
        [
            keras.layers.Conv2D(FILTERS[0], KERNEL_SIZE, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(FILTERS[1], KERNEL_SIZE, strides=2, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(2 * CONV_LATENT_DIM),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.layers.Dense(7 * 7 * FILTERS[1], activation="relu"),
            keras.layers.Reshape((7, 7, FILTERS[1])),
            keras.layers.Conv2DTranspose(FILTERS[1], KERNEL_SIZE, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(FILTERS[0], KERNEL_SIZE, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(1, KERNEL_SIZE, padding="same"),
        ]
    )
    return encoder, decoder


class KerasContestant(FitContestant):
    """A hand-written Keras 3 VAE in the keras.io style: the same layers, a custom compute_loss, Keras' defaults."""

    def __init__(self, batch_size, model="mlp"):
        import keras
        from keras import ops

        class VAE(keras.Model):
            def __init__(self):
                super().__init__()
                self.encoder, self.decoder = keras_networks(model)
                self.seed_generator = keras.random.SeedGenerator(0)

            def call(self, x, training=False):
                mean, log_variance = ops.split(self.encoder(x), 2, axis=-1)
                noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
                z = mean + ops.exp(0.5 * log_variance) * noise
                return self.decoder(z), mean, log_variance

            def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
                logits, mean, log_variance = y_pred
                cross_entropy = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
                kl = 0.5 * ops.sum(ops.square(mean) + ops.exp(log_variance) - log_variance - 1, axis=-1)
                reconstruction = ops.sum(ops.reshape(cross_entropy, (ops.shape(x)[0], -1)), axis=-1)
                return ops.mean(reconstruction + kl)

        self.model = VAE()
        self.model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
        self.batch_size = batch_size


def torch_networks(model):
    """The same networks in PyTorch, as pythae's encoder and decoder (images in NCHW)."""
    import torch
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    nn = torch.nn
    if model == "mlp":
        body = [nn.Linear(INPUT_DIM, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU()]
        features, latent_dim = HIDDEN[1], LATENT_DIM
        head = [
            nn.Linear(LATENT_DIM, HIDDEN[1]),
            nn.ReLU(),
            nn.Linear(HIDDEN[1], HIDDEN[0]),
            nn.ReLU(),
            nn.Linear(HIDDEN[0], INPUT_DIM),
        ]
    else:
        # padding=1 with stride 2 gives Keras' "same" sizes (28 -> 14 -> 7); output_padding=1 doubles them back.
        body = [
            nn.Conv2d(1, FILTERS[0], KERNEL_SIZE, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(FILTERS[0], FILTERS[1], KERNEL_SIZE, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        ]
        features, latent_dim = 7 * 7 * FILTERS[1], CONV_LATENT_DIM
        head = [
            nn.Linear(CONV_LATENT_DIM, 7 * 7 * FILTERS[1]),
            nn.ReLU(),
            nn.Unflatten(1, (FILTERS[1], 7, 7)),
            nn.ConvTranspose2d(FILTERS[1], FILTERS[1], KERNEL_SIZE, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(FILTERS[1], FILTERS[0], KERNEL_SIZE, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.Conv2d(FILTERS[0], 1, KERNEL_SIZE, padding=1),
        ]

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(*body)
            self.mean = nn.Linear(features, latent_dim)
            self.log_variance = nn.Linear(features, latent_dim)

        def forward(self, x):
            h = self.body(x)
            return ModelOutput(embedding=self.mean(h), log_covariance=self.log_variance(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            # pythae's "bce" loss takes probabilities.
            self.body = nn.Sequential(*head, nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.body(z))

    return Encoder(), Decoder()


class PythaeContestant:
    """pythae's VAE (PyTorch) with the same architecture, through its own forward and backward."""

    def __init__(self, batch_size, model="mlp"):
        import torch
        from pythae.models import VAE, VAEConfig

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        input_dim = (INPUT_DIM,) if model == "mlp" else (1, IMAGE_SIZE, IMAGE_SIZE)
        latent_dim = LATENT_DIM if model == "mlp" else CONV_LATENT_DIM
        config = VAEConfig(input_dim=input_dim, latent_dim=latent_dim, reconstruction_loss="bce")
        encoder, decoder = torch_networks(model)
        self.model = VAE(config, encoder=encoder, decoder=decoder).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE)
        self.batch_size = batch_size

    def train(self, data, epochs, turns):
        torch = self.torch
        if data.ndim == 4:
            data = np.ascontiguousarray(data.transpose(0, 3, 1, 2))  # NHWC -> PyTorch's NCHW
        tensor = torch.from_numpy(data).to(self.device)
        self.model.train()
        for _ in range(epochs):
            order = torch.randperm(len(tensor), device=self.device)
            turns.begin()
            for begin in range(0, len(tensor), self.batch_size):
                batch = tensor[order[begin : begin + self.batch_size]]
                loss = self.model({"data": batch}).loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
            if self.device == "cuda":
                torch.cuda.synchronize()
            turns.end()

    def settings(self):
        return {}


CONTESTANTS = {"tfae": TfaeContestant, "keras": KerasContestant, "pythae": PythaeContestant}
# tfae with compile options other than its defaults, to check that the defaults are the fast choice.
VARIANTS = {
    "tfae-noxla": {"jit_compile": False},
    "tfae-spe1": {"steps_per_execution": 1},
    "tfae-spe64": {"steps_per_execution": 64},
}
# On JAX Keras always compiles with XLA, and jit_compile=False runs each step uncompiled: not a choice to time.
TENSORFLOW_ONLY = {"tfae-noxla"}


def make_contestant(name, batch_size, model):
    if name in VARIANTS:
        return TfaeContestant(batch_size, model, **VARIANTS[name])
    return CONTESTANTS[name](batch_size, model)


def available(name):
    if name != "pythae":
        return True
    try:
        import pythae  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def matmul_peak_gflops(size=2048, repeats=20):
    """The best fp32 matrix-multiply rate on the Keras backend in use, in GFLOP/s (the best of its kernels)."""
    import keras
    from keras import ops

    a = keras.random.normal((size, size), seed=1)
    b = keras.random.normal((size, size), seed=2)
    if keras.backend.backend() == "jax":
        import jax

        products = [jax.jit(lambda a, b: a @ b)]
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        products = [tf.function(lambda a, b: tf.matmul(a, b), jit_compile=jit) for jit in (False, True)]
    else:
        products = [ops.matmul]
    best = float("inf")
    for product in products:
        ops.convert_to_numpy(product(a, b))
        for _ in range(repeats):
            start = time.perf_counter()
            ops.convert_to_numpy(product(a, b)[0, 0])
            best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def peak_memory_mb():
    """This process's resident-set high-water mark (VmHWM: unlike ru_maxrss it is not inherited over exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def worker(name, batch_size, samples, epochs, model):
    """Trains one contestant in this process, taking turns with the others through stdin and stdout."""
    contestant = make_contestant(name, batch_size, model)
    data = make_data(samples, model)
    print(json.dumps({"ready": True}), flush=True)
    contestant.train(data, epochs, Turns())
    print(json.dumps({"peak_memory_mb": peak_memory_mb(), "settings": contestant.settings()}), flush=True)


class Worker:
    """The orchestrator's handle on one contestant's process."""

    def __init__(self, name, batch_size, samples, epochs, model):
        self.name, self.batch_size = name, batch_size
        arguments = [name, str(batch_size), str(samples), str(epochs), model]
        command = [sys.executable, os.path.abspath(__file__), "--worker", *arguments]
        log = os.path.join(tempfile.gettempdir(), f"tfae-benchmark-{model}-{name}-{batch_size}.log")
        self.stderr = open(log, "w")
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )

    def receive(self):
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)
        self.process.wait()
        raise RuntimeError(
            f"{self.name} at batch {self.batch_size} stopped with exit status {self.process.returncode}; "
            f"its messages are in {self.stderr.name}"
        )

    def epoch(self):
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        return self.receive()["epoch_seconds"]

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.stderr.close()


def race(batch_size, names, samples, epochs, model):
    """Trains every contestant at one batch size, epoch by epoch in turn; returns their figures by name."""
    workers = [Worker(name, batch_size, samples, epochs, model) for name in names]
    try:
        for worker_ in workers:
            worker_.receive()  # built and holding its data: only training is timed from here
        seconds = {worker_.name: [] for worker_ in workers}
        for _ in range(epochs):
            for worker_ in workers:
                seconds[worker_.name].append(worker_.epoch())
        last = {worker_.name: worker_.receive() for worker_ in workers}
    finally:
        for worker_ in workers:
            worker_.close()
    return {
        name: {
            # The first epoch compiles; the rest are the steady state.
            "samples_per_second": samples / statistics.median(seconds[name][1:]),
            "epoch_seconds": seconds[name],
            "peak_memory_mb": last[name]["peak_memory_mb"],
            "settings": last[name]["settings"],
        }
        for name in names
    }


def add_ratios(by_batch, peak_gflops, flops_per_sample):
    for by_name in by_batch.values():
        tfae_rate = by_name["tfae"]["samples_per_second"]
        for figures in by_name.values():
            rate = figures["samples_per_second"]
            figures["ratio_to_tfae"] = rate / tfae_rate
            figures["fraction_of_matmul_peak"] = rate * flops_per_sample / (peak_gflops * 1e9)


def print_table(by_batch, peak_gflops):
    print(
        f"{'batch':>6} {'contestant':>11} {'samples/s':>10} {'vs tfae':>8} {'% of peak':>10} {'peak MB':>8}"
        f" {'XLA':>4} {'steps/call':>10}"
    )
    for batch_size, by_name in by_batch.items():
        for name, figures in by_name.items():
            memory = figures["peak_memory_mb"]
            memory_text = f"{memory:8.0f}" if memory else f"{'-':>8}"
            settings = figures["settings"]
            xla = {True: "yes", False: "no"}.get(settings.get("jit_compile"), "-")
            print(
                f"{batch_size:>6} {name:>11} {figures['samples_per_second']:10.0f} {figures['ratio_to_tfae']:8.2f} "
                f"{100 * figures['fraction_of_matmul_peak']:9.1f}% {memory_text} {xla:>4} "
                f"{settings.get('steps_per_execution', '-'):>10}"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["mlp", "conv"], default="mlp", help="the MLP VAE or the conv VAE")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--sweep", action="store_true", help="also time tfae and keras at batch sizes 32..4096")
    parser.add_argument(
        "--variants", action="store_true", help=f"also time tfae with other options: {', '.join(VARIANTS)}"
    )
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=6, help="epochs per contestant, the first being warm-up")
    parser.add_argument("--contestants", nargs="+", default=list(CONTESTANTS), choices=[*CONTESTANTS, *VARIANTS])
    parser.add_argument("--output", default="benchmarks/results.json")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch of each contestant is its warm-up")

    import keras

    backend = keras.backend.backend()
    names = [name for name in args.contestants if available(name)]
    if "tfae" not in names:
        names.insert(0, "tfae")  # the figures are ratios to tfae
    if args.variants:
        names += [name for name in VARIANTS if name not in names]
    if backend != "tensorflow":
        names = [name for name in names if name not in TENSORFLOW_ONLY]
    skipped = sorted(set(args.contestants) - set(names))
    flops_per_sample = FLOPS_PER_SAMPLE[args.model]
    # The peak is the best of a measurement before the races and one after: a busy moment of the machine
    # lowers one of them, and a fraction of a too-low peak would flatter the contestants.
    peaks = [matmul_peak_gflops()]
    load = [os.getloadavg()[0]]
    throughput = {str(size): race(size, names, args.samples, args.epochs, args.model) for size in args.batch_sizes}
    sweep = None
    if args.sweep:
        sweep_names = [name for name in ("tfae", "keras") if name in names]
        sweep = {
            str(size): race(size, sweep_names, args.samples, args.epochs, args.model) for size in SWEEP_BATCH_SIZES
        }
    peaks.append(matmul_peak_gflops())
    load.append(os.getloadavg()[0])
    peak = max(peaks)
    results = {
        **report.provenance(__file__, argv),
        "backend": backend,
        "model": args.model,
        "load_average_1min": {"before": load[0], "after": load[1]},
        "samples": args.samples,
        "matmul_peak_gflops": peak,
        "matmul_peak_measurements_gflops": peaks,
        "train_flops_per_sample": flops_per_sample,
        "skipped": skipped,
        "throughput": throughput,
    }
    add_ratios(results["throughput"], peak, flops_per_sample)
    if sweep is not None:
        results["sweep"] = sweep
        add_ratios(results["sweep"], peak, flops_per_sample)

    print(
        f"{args.model} VAE; backend {backend}; {results['machine']}; fp32 matmul peak {peak:.0f} GFLOP/s "
        f"(the best of {peaks[0]:.0f} before and {peaks[1]:.0f} after); 1-minute load average {load[0]:.1f} before, "
        f"{load[1]:.1f} after"
    )
    print_table(results["throughput"], peak)
    if args.sweep:
        print("sweep:")
        print_table(results["sweep"], peak)
    if skipped:
        print(f"skipped (not installed): {', '.join(skipped)}")
    report.write(results, args.output)
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        main()
