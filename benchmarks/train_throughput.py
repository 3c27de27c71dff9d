"""Training throughput of tfae's VAE against a hand-written Keras VAE and pythae, on the same machine.

The workload (issue 7): an MLP VAE 784-512-256, a 32-dimensional Gaussian latent, the mirrored decoder,
Bernoulli likelihood from logits, analytic KL, Adam 1e-3, 60,000 random binary 784-vectors.

    python benchmarks/train_throughput.py                      # batch sizes 128 and 1024
    python benchmarks/train_throughput.py --sweep              # also 32 .. 4096
    KERAS_BACKEND=jax python benchmarks/train_throughput.py    # the same on JAX (the GPU run)

Each contestant trains in a process of its own (so that TensorFlow's and PyTorch's thread pools never
compete), and the processes alternate (tfae, Keras, pythae, tfae, ...) so that drift of the machine
affects all of them alike. The figure is the median epoch time after each process's warm-up epoch; peak
memory is each process's resident-set high-water mark. Results print as a table and go to a JSON file.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

INPUT_DIM, HIDDEN, LATENT_DIM, LEARNING_RATE = 784, (512, 256), 32, 1e-3
TRAIN_FLOPS_PER_SAMPLE = 3 * 2 * (
    INPUT_DIM * HIDDEN[0] + HIDDEN[0] * HIDDEN[1] + HIDDEN[1] * 2 * LATENT_DIM
    + LATENT_DIM * HIDDEN[1] + HIDDEN[1] * HIDDEN[0] + HIDDEN[0] * INPUT_DIM
)  # forward and backward (about 3x forward) multiply-adds of the Dense layers, 2 FLOPs each


def make_data(samples, seed=0):
    return (np.random.default_rng(seed).random((samples, INPUT_DIM)) < 0.5).astype("float32")


class TfaeContestant:
    """tfae with its defaults: what a user gets without tuning flags."""

    name = "tfae"

    def __init__(self, batch_size):
        import keras

        from tfae.models import DeepAutoencoder

        def add_hidden(x, layer_num, input_shape, latent_dim):
            return keras.layers.Dense(HIDDEN[layer_num - 1], activation="relu")(x), layer_num == len(HIDDEN)

        self.model = DeepAutoencoder(
            bottleneck={"name": "gaussian", "latent_dim": LATENT_DIM, "regularizer": "kld"}, add_hidden=add_hidden
        )
        self.model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="bernoulli")
        self.batch_size = batch_size

    def epoch(self, data):
        start = time.perf_counter()
        self.model.fit(data, batch_size=self.batch_size, epochs=1, verbose=0)
        return time.perf_counter() - start


class KerasContestant:
    """A hand-written Keras 3 VAE in the keras.io style: the same layers, a custom compute_loss."""

    name = "keras"

    def __init__(self, batch_size):
        import keras
        from keras import ops

        class VAE(keras.Model):
            def __init__(self):
                super().__init__()
                self.encoder = keras.Sequential(
                    [keras.layers.Dense(units, activation="relu") for units in HIDDEN]
                    + [keras.layers.Dense(2 * LATENT_DIM)]
                )
                self.decoder = keras.Sequential(
                    [keras.layers.Dense(units, activation="relu") for units in reversed(HIDDEN)]
                    + [keras.layers.Dense(INPUT_DIM)]
                )
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
                return ops.mean(ops.sum(cross_entropy, axis=-1) + kl)

        self.model = VAE()
        self.model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
        self.batch_size = batch_size

    def epoch(self, data):
        start = time.perf_counter()
        self.model.fit(data, batch_size=self.batch_size, epochs=1, verbose=0)
        return time.perf_counter() - start


class PythaeContestant:
    """pythae's VAE (PyTorch) with the same architecture, through its own forward and backward."""

    name = "pythae"

    def __init__(self, batch_size):
        import torch
        from pythae.models import VAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder

        class Encoder(BaseEncoder):
            def __init__(self):
                super().__init__()
                self.body = torch.nn.Sequential(
                    torch.nn.Linear(INPUT_DIM, HIDDEN[0]), torch.nn.ReLU(),
                    torch.nn.Linear(HIDDEN[0], HIDDEN[1]), torch.nn.ReLU(),
                )
                self.mean = torch.nn.Linear(HIDDEN[1], LATENT_DIM)
                self.log_variance = torch.nn.Linear(HIDDEN[1], LATENT_DIM)

            def forward(self, x):
                h = self.body(x)
                return ModelOutput(embedding=self.mean(h), log_covariance=self.log_variance(h))

        class Decoder(BaseDecoder):
            def __init__(self):
                super().__init__()
                self.body = torch.nn.Sequential(
                    torch.nn.Linear(LATENT_DIM, HIDDEN[1]), torch.nn.ReLU(),
                    torch.nn.Linear(HIDDEN[1], HIDDEN[0]), torch.nn.ReLU(),
                    torch.nn.Linear(HIDDEN[0], INPUT_DIM), torch.nn.Sigmoid(),
                )

            def forward(self, z):
                return ModelOutput(reconstruction=self.body(z))

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        config = VAEConfig(input_dim=(INPUT_DIM,), latent_dim=LATENT_DIM, reconstruction_loss="bce")
        self.model = VAE(config, encoder=Encoder(), decoder=Decoder()).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE)
        self.batch_size = batch_size

    def epoch(self, data):
        torch = self.torch
        tensor = torch.from_numpy(data).to(self.device)
        order = torch.randperm(len(tensor), device=self.device)
        if self.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        self.model.train()
        for begin in range(0, len(tensor), self.batch_size):
            batch = tensor[order[begin : begin + self.batch_size]]
            loss = self.model({"data": batch}).loss
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        if self.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start


CONTESTANTS = {cls.name: cls for cls in (TfaeContestant, KerasContestant, PythaeContestant)}


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


def worker(name, batch_size, samples, epochs):
    """Trains one contestant alone in this process and prints its epoch times and peak memory as JSON."""
    contestant = CONTESTANTS[name](batch_size)
    data = make_data(samples)
    seconds = [contestant.epoch(data) for _ in range(epochs)]
    print(json.dumps({"epoch_seconds": seconds, "peak_memory_mb": peak_memory_mb()}))


def run_worker(name, batch_size, samples, epochs):
    command = [sys.executable, os.path.abspath(__file__), "--worker", name, str(batch_size), str(samples), str(epochs)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{name} at batch {batch_size} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_throughput(batch_sizes, names, samples, epochs, rounds):
    """Each contestant trains in a process of its own (no shared thread pools); rounds alternate them."""
    results = {}
    for batch_size in batch_sizes:
        runs = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                runs[name].append(run_worker(name, batch_size, samples, epochs))
        for name, measured in runs.items():
            # The first epoch of each process compiles; the rest are the steady state.
            steady = [seconds for run in measured for seconds in run["epoch_seconds"][1:]]
            results.setdefault(str(batch_size), {})[name] = {
                "samples_per_second": samples / statistics.median(steady),
                "epoch_seconds": [run["epoch_seconds"] for run in measured],
                "peak_memory_mb": max(run["peak_memory_mb"] or 0 for run in measured),
            }
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--sweep", action="store_true", help="also time tfae and keras at batch sizes 32..4096")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per process, the first being warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="processes per contestant, alternating")
    parser.add_argument("--contestants", nargs="+", default=list(CONTESTANTS))
    parser.add_argument("--output", default="benchmarks/results.json")
    args = parser.parse_args(argv)

    import keras

    names = [name for name in args.contestants if available(name)]
    skipped = sorted(set(args.contestants) - set(names))
    peak = matmul_peak_gflops()
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "backend": keras.backend.backend(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "matmul_peak_gflops": peak,
        "skipped": skipped,
        "throughput": measure_throughput(args.batch_sizes, names, args.samples, args.epochs, args.rounds),
    }
    if args.sweep:
        sweep_sizes = [32, 64, 128, 256, 512, 1024, 2048, 4096]
        sweep_names = [name for name in names if name != "pythae"]
        results["sweep"] = measure_throughput(sweep_sizes, sweep_names, args.samples, args.epochs, 1)

    print(f"backend {results['backend']}; {results['machine']}; fp32 matmul peak {peak:.0f} GFLOP/s")
    print(f"{'batch':>6} {'contestant':>10} {'samples/s':>11} {'vs tfae':>8} {'% of peak':>10} {'peak MB':>8}")
    for batch_size, by_name in results["throughput"].items():
        tfae_rate = by_name["tfae"]["samples_per_second"]
        for name, figures in by_name.items():
            rate = figures["samples_per_second"]
            figures["ratio_to_tfae"] = rate / tfae_rate
            figures["fraction_of_matmul_peak"] = rate * TRAIN_FLOPS_PER_SAMPLE / (peak * 1e9)
            memory = figures["peak_memory_mb"]
            memory_text = f"{memory:8.0f}" if memory else f"{'-':>8}"
            print(
                f"{batch_size:>6} {name:>10} {rate:11.0f} {figures['ratio_to_tfae']:8.2f} "
                f"{100 * figures['fraction_of_matmul_peak']:9.1f}% {memory_text}"
            )
    if skipped:
        print(f"skipped (not installed): {', '.join(skipped)}")
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w") as file:
        json.dump(results, file, indent=2)
    print(f"written to {args.output}")
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
