"""Where the time of one VAE training step goes, on TensorFlow: the step built up piece by piece.

    python benchmarks/step_anatomy.py                 # batch size 1024, into benchmarks/results-step-anatomy.json
    python benchmarks/step_anatomy.py --batch-size 128 --output /tmp/step-anatomy-128.json

The workload is train_throughput.py's. Each stage is a ``tf.function`` that runs the same number of
steps over batches already in memory, adding one piece of the training step to the stage before it:

1. the Dense layers' matrix multiplies alone (forward, weight and input gradients), the floor;
2. plus biases and ReLUs;
3. plus sampling the code, the Bernoulli log-likelihood from logits and the analytic KL;
4. plus Adam's update of every weight: a complete training step, without Keras' ``fit`` (and the same
   step compiled by XLA: the whole loop of steps as one XLA call, then one XLA call per step, which is
   how Keras' ``fit`` compiles it with ``jit_compile=True``);
5. tfae's ``fit`` with its defaults on the same data as NumPy (shuffling and batching included).

Each line prints the stage's samples per second and the milliseconds per step that it adds, against the
rate at the machine's fp32 matmul peak (measured in the same run, as train_throughput.py does); the rows go
to a JSON file with report.py's provenance.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

import report
from train_throughput import (
    HIDDEN,
    INPUT_DIM,
    LATENT_DIM,
    LEARNING_RATE,
    TRAIN_FLOPS_PER_SAMPLE,
    TfaeContestant,
    make_data,
    matmul_peak_gflops,
)

SHAPES = [
    (INPUT_DIM, HIDDEN[0]),
    (HIDDEN[0], HIDDEN[1]),
    (HIDDEN[1], 2 * LATENT_DIM),
    (LATENT_DIM, HIDDEN[1]),
    (HIDDEN[1], HIDDEN[0]),
    (HIDDEN[0], INPUT_DIM),
]


def make_weights(seed=0):
    rng = np.random.default_rng(seed)
    kernels = [tf.Variable(rng.normal(0, (2 / rows) ** 0.5, (rows, cols)).astype("float32")) for rows, cols in SHAPES]
    biases = [tf.Variable(np.zeros(cols, "float32")) for _, cols in SHAPES]
    return kernels, biases


def forward(kernels, biases, x, with_activations, with_likelihood):
    def dense(h, index, relu=True):
        h = h @ kernels[index]
        if with_activations:
            h = h + biases[index]
            h = tf.nn.relu(h) if relu else h
        return h

    parameters = dense(dense(dense(x, 0), 1), 2, relu=False)
    if with_likelihood:
        mean, log_variance = tf.split(parameters, 2, axis=-1)
        code = mean + tf.exp(0.5 * log_variance) * tf.random.normal(tf.shape(mean))
    else:
        code = parameters[:, :LATENT_DIM]
    logits = dense(dense(dense(code, 3), 4), 5, relu=False)
    if not with_likelihood:
        return tf.reduce_mean(logits)
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
    kl = 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_variance) - log_variance - 1, axis=-1)
    return tf.reduce_mean(tf.reduce_sum(cross_entropy, axis=-1) + kl)


def stage_function(kernels, biases, optimizer, with_activations, with_likelihood, with_optimizer, xla=None):
    """The stage as a function of a stack of batches; ``xla`` compiles the whole loop ("loop") or each step."""
    variables = kernels + biases if with_activations else kernels

    def step(x):
        with tf.GradientTape() as tape:
            loss = forward(kernels, biases, x, with_activations, with_likelihood)
        gradients = tape.gradient(loss, variables)
        if with_optimizer:
            optimizer.apply_gradients(zip(gradients, variables))
            return loss
        # Consume every gradient so that none of the backward pass is pruned away.
        return loss + tf.add_n([tf.reduce_sum(gradient[:1]) for gradient in gradients])

    if xla == "step":  # as Keras' fit compiles it with jit_compile=True: one XLA call per step
        step = tf.function(step, jit_compile=True)

    @tf.function(jit_compile=xla == "loop")
    def run(batches):
        total = tf.constant(0.0)
        for index in tf.range(tf.shape(batches)[0]):
            total += step(batches[index])
        return total

    return run


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def time_stage(run, batches, repeats):
    run(batches[:2]).numpy()  # traces and warms up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(batches).numpy()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--samples", type=int, default=60000, help="samples per timed call (an epoch)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per stage (epochs of fit)")
    parser.add_argument("--output", default="benchmarks/results-step-anatomy.json")
    args = parser.parse_args(argv)

    peak = matmul_peak_gflops()
    ceiling = peak * 1e9 / TRAIN_FLOPS_PER_SAMPLE
    steps = args.samples // args.batch_size
    data = make_data(steps * args.batch_size)
    batches = tf.constant(data.reshape(steps, args.batch_size, INPUT_DIM))
    kernels, biases = make_weights()
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    optimizer.build(kernels + biases)
    print(f"batch {args.batch_size}; fp32 matmul peak {peak:.0f} GFLOP/s = {ceiling:.0f} samples/s for this step")
    print(f"{'stage':<44} {'samples/s':>10} {'% of peak':>10} {'ms/step':>8} {'+ms':>7}")
    # (label, with_activations, with_likelihood, with_optimizer, xla); "added" is against the stage before.
    stages = [
        ("1 matmuls only", False, False, False, None),
        ("2 + biases, ReLUs", True, False, False, None),
        ("3 + sampling, Bernoulli NLL, KL", True, True, False, None),
        ("4 + Adam (a whole step, no fit)", True, True, True, None),
        ("4 again, all steps in one XLA call", True, True, True, "loop"),
        ("4 again, one XLA call per step", True, True, True, "step"),
    ]

    rows = []

    def record(label, step_ms, previous_ms):
        rate = 1000 * args.batch_size / step_ms
        print(f"{label:<44} {rate:10.0f} {100 * rate / ceiling:9.1f}% {step_ms:8.2f} {step_ms - previous_ms:+7.2f}")
        rows.append(
            {
                "stage": label,
                "samples_per_second": rate,
                "fraction_of_matmul_peak": rate / ceiling,
                "step_ms": step_ms,
                "added_ms": step_ms - previous_ms,
            }
        )

    previous = 0.0
    for label, *flags, xla in stages:
        run = stage_function(kernels, biases, optimizer, *flags, xla=xla)
        step_ms = 1000 * time_stage(run, batches, args.repeats) / steps
        record(label, step_ms, previous)
        if xla is None:  # the XLA rows are alternatives to stage 4, not stages of their own
            previous = step_ms

    # One fit over several epochs, as train_throughput.py times it: the median epoch after the first.
    contestant = TfaeContestant(args.batch_size)
    timer = EpochTimer()
    contestant.model.fit(data, batch_size=args.batch_size, epochs=args.repeats + 1, verbose=0, callbacks=[timer])
    record("5 tfae's fit, defaults (NumPy in)", 1000 * statistics.median(timer.seconds[1:]) / steps, previous)
    # The XLA rows and tfae's fit run stage 4's whole step in other ways: nothing is added to it.
    for row in rows[4:]:
        row["added_ms"] = None
    results = {
        **report.provenance(__file__, argv),
        "backend": "tensorflow",
        "batch_size": args.batch_size,
        "samples": steps * args.batch_size,
        "matmul_peak_gflops": peak,
        "train_flops_per_sample": TRAIN_FLOPS_PER_SAMPLE,
        "rows": rows,
    }
    report.write(results, args.output)
    return results


if __name__ == "__main__":
    main()
