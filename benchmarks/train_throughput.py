"""Training throughput of tfae's VAE against a hand-written Keras VAE and pythae, on the same machine.

The workload (issue 7): an MLP VAE 784-512-256, a 32-dimensional Gaussian latent, the mirrored decoder,
Bernoulli likelihood from logits, analytic KL, Adam 1e-3, 60,000 random binary 784-vectors.

    python benchmarks/train_throughput.py                      # batch sizes 128 and 1024
    python benchmarks/train_throughput.py --sweep              # also tfae and keras at 32 .. 4096
    python benchmarks/train_throughput.py --variants           # also tfae with other compile options
    KERAS_BACKEND=jax python benchmarks/train_throughput.py    # the same on JAX (the GPU run)
    python benchmarks/plot_throughput.py benchmarks/results.json docs/images/throughput.png

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
import platform
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

INPUT_DIM, HIDDEN, LATENT_DIM, LEARNING_RATE = 784, (512, 256), 32, 1e-3
LAYER_MACS = [
    INPUT_DIM * HIDDEN[0], HIDDEN[0] * HIDDEN[1], HIDDEN[1] * 2 * LATENT_DIM,
    LATENT_DIM * HIDDEN[1], HIDDEN[1] * HIDDEN[0], HIDDEN[0] * INPUT_DIM,
]
# Multiply-adds of the Dense layers per sample, 2 FLOPs each: the forward pass, the weight gradients,
# and the input gradients of every layer but the first (nothing needs the gradient of the data).
TRAIN_FLOPS_PER_SAMPLE = 2 * (3 * sum(LAYER_MACS) - LAYER_MACS[0])
SWEEP_BATCH_SIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096]


def make_data(samples, seed=0):
    return (np.random.default_rng(seed).random((samples, INPUT_DIM)) < 0.5).astype("float32")


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


class TfaeContestant(FitContestant):
    """tfae with its defaults: what a user gets without tuning flags (compile options only for --variants)."""

    def __init__(self, batch_size, **compile_options):
        import keras

        from tfae.models import DeepAutoencoder

        def add_hidden(x, layer_num, input_shape, latent_dim):
            return keras.layers.Dense(HIDDEN[layer_num - 1], activation="relu")(x), layer_num == len(HIDDEN)

        self.model = DeepAutoencoder(
            bottleneck={"name": "gaussian", "latent_dim": LATENT_DIM, "regularizer": "kld"}, add_hidden=add_hidden
        )
        self.model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="bernoulli", **compile_options)
        self.batch_size = batch_size


class KerasContestant(FitContestant):
    """A hand-written Keras 3 VAE in the keras.io style: the same layers, a custom compute_loss."""

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


class PythaeContestant:
    """pythae's VAE (PyTorch) with the same architecture, through its own forward and backward."""

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

    def train(self, data, epochs, turns):
        torch = self.torch
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


CONTESTANTS = {"tfae": TfaeContestant, "keras": KerasContestant, "pythae": PythaeContestant}
# tfae with compile options other than its defaults, to check that the defaults are the fast choice.
VARIANTS = {
    "tfae-spe1": {"steps_per_execution": 1},
    "tfae-spe64": {"steps_per_execution": 64},
    "tfae-xla": {"jit_compile": True},
}


def make_contestant(name, batch_size):
    if name in VARIANTS:
        return TfaeContestant(batch_size, **VARIANTS[name])
    return CONTESTANTS[name](batch_size)


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


def versions():
    found = {"python": platform.python_version()}
    for module in ("tfae", "keras", "tensorflow", "jax", "torch", "pythae"):
        try:
            found[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            pass
    return found


def worker(name, batch_size, samples, epochs):
    """Trains one contestant in this process, taking turns with the others through stdin and stdout."""
    contestant = make_contestant(name, batch_size)
    data = make_data(samples)
    print(json.dumps({"ready": True}), flush=True)
    contestant.train(data, epochs, Turns())
    print(json.dumps({"peak_memory_mb": peak_memory_mb()}), flush=True)


class Worker:
    """The orchestrator's handle on one contestant's process."""

    def __init__(self, name, batch_size, samples, epochs):
        self.name, self.batch_size = name, batch_size
        arguments = [name, str(batch_size), str(samples), str(epochs)]
        command = [sys.executable, os.path.abspath(__file__), "--worker", *arguments]
        self.stderr = open(os.path.join(tempfile.gettempdir(), f"tfae-benchmark-{name}-{batch_size}.log"), "w")
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


def race(batch_size, names, samples, epochs):
    """Trains every contestant at one batch size, epoch by epoch in turn; returns their figures by name."""
    workers = [Worker(name, batch_size, samples, epochs) for name in names]
    try:
        for worker_ in workers:
            worker_.receive()  # built and holding its data: only training is timed from here
        seconds = {worker_.name: [] for worker_ in workers}
        for _ in range(epochs):
            for worker_ in workers:
                seconds[worker_.name].append(worker_.epoch())
        memory = {worker_.name: worker_.receive()["peak_memory_mb"] for worker_ in workers}
    finally:
        for worker_ in workers:
            worker_.close()
    return {
        name: {
            # The first epoch compiles; the rest are the steady state.
            "samples_per_second": samples / statistics.median(seconds[name][1:]),
            "epoch_seconds": seconds[name],
            "peak_memory_mb": memory[name],
        }
        for name in names
    }


def add_ratios(by_batch, peak_gflops):
    for by_name in by_batch.values():
        tfae_rate = by_name["tfae"]["samples_per_second"]
        for figures in by_name.values():
            rate = figures["samples_per_second"]
            figures["ratio_to_tfae"] = rate / tfae_rate
            figures["fraction_of_matmul_peak"] = rate * TRAIN_FLOPS_PER_SAMPLE / (peak_gflops * 1e9)


def print_table(by_batch, peak_gflops):
    print(f"{'batch':>6} {'contestant':>11} {'samples/s':>10} {'vs tfae':>8} {'% of peak':>10} {'peak MB':>8}")
    for batch_size, by_name in by_batch.items():
        for name, figures in by_name.items():
            memory = figures["peak_memory_mb"]
            memory_text = f"{memory:8.0f}" if memory else f"{'-':>8}"
            print(
                f"{batch_size:>6} {name:>11} {figures['samples_per_second']:10.0f} {figures['ratio_to_tfae']:8.2f} "
                f"{100 * figures['fraction_of_matmul_peak']:9.1f}% {memory_text}"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--sweep", action="store_true", help="also time tfae and keras at batch sizes 32..4096")
    parser.add_argument("--variants", action="store_true", help=f"also time tfae with {', '.join(VARIANTS)}")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=6, help="epochs per contestant, the first being warm-up")
    parser.add_argument("--contestants", nargs="+", default=list(CONTESTANTS), choices=[*CONTESTANTS, *VARIANTS])
    parser.add_argument("--output", default="benchmarks/results.json")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch of each contestant is its warm-up")

    import keras

    names = [name for name in args.contestants if available(name)]
    if "tfae" not in names:
        names.insert(0, "tfae")  # the figures are ratios to tfae
    if args.variants:
        names += [name for name in VARIANTS if name not in names]
    skipped = sorted(set(args.contestants) - set(names))
    peak = matmul_peak_gflops()
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["python", *sys.argv]),
        "backend": keras.backend.backend(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "versions": versions(),
        "samples": args.samples,
        "matmul_peak_gflops": peak,
        "train_flops_per_sample": TRAIN_FLOPS_PER_SAMPLE,
        "skipped": skipped,
        "throughput": {str(size): race(size, names, args.samples, args.epochs) for size in args.batch_sizes},
    }
    add_ratios(results["throughput"], peak)
    if args.sweep:
        sweep_names = [name for name in ("tfae", "keras") if name in names]
        results["sweep"] = {str(size): race(size, sweep_names, args.samples, args.epochs) for size in SWEEP_BATCH_SIZES}
        add_ratios(results["sweep"], peak)

    print(f"backend {results['backend']}; {results['machine']}; fp32 matmul peak {peak:.0f} GFLOP/s")
    print_table(results["throughput"], peak)
    if args.sweep:
        print("sweep:")
        print_table(results["sweep"], peak)
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
