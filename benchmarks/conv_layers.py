"""Each convolution of the convolutional VAE alone, forward and backward, on TensorFlow with and without XLA.

Issue 17 asks for tfae's convolutional VAE at 1.2x the hand-written Keras one on a CPU; both run the same
TensorFlow convolution kernels, so this script times those kernels one by one (batch 128, the layers of
``train_throughput.py --model conv``): the forward pass, then forward and backward (the gradients of the
kernel and, but for the first layer, of the input), as ``tf.function``s with and without ``jit_compile``, and
the rate each reaches in GFLOP/s (multiply-adds over the whole kernel, padding taps included). Each timing
also holds a reduction to a scalar and the call itself, so the times are upper bounds on the kernels'. Then,
first, in the same process and so at the same hour of the machine, the whole training step of tfae's model
and of the hand-written Keras one in ``fit`` (the median epoch of 4,096 samples after a warm-up epoch; each
model twice, taking turns, keeping the faster), so that the kernels' share of the step, and the speed tfae
could reach were everything else free, come from one run.

    python benchmarks/conv_layers.py --output benchmarks/results-conv-layers.json
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import report

BATCH_SIZE = 128
KERNEL = 3


def layers(tf):
    """(name, the operation, input shape, kernel shape, multiply-adds per sample) for each convolution."""

    def conv(strides):
        return lambda x, w: tf.nn.conv2d(x, w, strides, "SAME")

    def transposed(size, filters):
        return lambda x, w: tf.nn.conv2d_transpose(x, w, (BATCH_SIZE, size, size, filters), 2, "SAME")

    taps = KERNEL * KERNEL
    return [
        ("Conv2D 28x28x1 -> 14x14x32", conv(2), (28, 28, 1), (3, 3, 1, 32), 14 * 14 * taps * 1 * 32),
        ("Conv2D 14x14x32 -> 7x7x64", conv(2), (14, 14, 32), (3, 3, 32, 64), 7 * 7 * taps * 32 * 64),
        ("Conv2DTranspose 7x7x64 -> 14x14x64", transposed(14, 64), (7, 7, 64), (3, 3, 64, 64), 7 * 7 * taps * 64 * 64),
        (
            "Conv2DTranspose 14x14x64 -> 28x28x32",
            transposed(28, 32),
            (14, 14, 64),
            (3, 3, 32, 64),
            14 * 14 * taps * 64 * 32,
        ),
        ("Conv2D 28x28x32 -> 28x28x1", conv(1), (28, 28, 32), (3, 3, 32, 1), 28 * 28 * taps * 32 * 1),
    ]


def median_seconds(function, arguments, repeats):
    for _ in range(3):
        [value.numpy() for value in function(*arguments)]
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        [value.numpy() for value in function(*arguments)]
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def fit_step_ms(name, epochs=6, samples=4096):
    """The median time of one training step of ``train_throughput``'s conv contestant ``name`` in ``fit``."""
    import keras

    from train_throughput import make_contestant, make_data

    contestant = make_contestant(name, BATCH_SIZE, "conv")
    seconds = []

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    contestant.model.fit(
        make_data(samples, "conv"), batch_size=BATCH_SIZE, epochs=epochs, verbose=0, callbacks=[EpochTimes()]
    )
    return 1000 * statistics.median(seconds[1:]) / (samples / BATCH_SIZE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--output", default="benchmarks/results-conv-layers.json")
    args = parser.parse_args(argv)
    import tensorflow as tf

    load_before = os.getloadavg()[0]
    # Before any XLA kernel has run in this process: a first fit timed after them was once 1.4x slower.
    steps_ms = {"tfae": [], "keras": []}
    for name in ("keras", "tfae", "keras", "tfae"):
        steps_ms[name].append(fit_step_ms(name))
    steps_ms = {name: min(times) for name, times in steps_ms.items()}

    rng = np.random.default_rng(0)
    rows = []
    print(f"{'layer':>37} {'XLA':>4} {'forward ms':>11} {'GFLOP/s':>8} {'fwd+bwd ms':>11} {'GFLOP/s':>8}")
    for name, operation, input_shape, kernel_shape, macs in layers(tf):
        x = tf.constant(rng.normal(size=(BATCH_SIZE, *input_shape)).astype("float32"))
        w = tf.constant(rng.normal(size=kernel_shape).astype("float32"))
        first = input_shape[-1] == 1
        for jit in (False, True):

            def forward(x, w, operation=operation):
                return [tf.reduce_sum(operation(x, w))]

            def both(x, w, operation=operation, first=first):
                with tf.GradientTape() as tape:
                    tape.watch([x, w])
                    y = operation(x, w)
                    loss = tf.reduce_sum(y * y)
                gradients = tape.gradient(loss, [w] if first else [x, w])
                return [tf.reduce_sum(g) for g in gradients]

            forward_s = median_seconds(tf.function(forward, jit_compile=jit), (x, w), args.repeats)
            both_s = median_seconds(tf.function(both, jit_compile=jit), (x, w), args.repeats)
            flops = 2 * macs * BATCH_SIZE
            row = {
                "layer": name,
                "xla": jit,
                "forward_ms": 1000 * forward_s,
                "forward_gflops": flops / forward_s / 1e9,
                "train_ms": 1000 * both_s,
                "train_gflops": (2 if first else 3) * flops / both_s / 1e9,
            }
            rows.append(row)
            print(
                f"{name:>37} {'yes' if jit else 'no':>4} {row['forward_ms']:11.2f} {row['forward_gflops']:8.1f} "
                f"{row['train_ms']:11.2f} {row['train_gflops']:8.1f}",
                flush=True,
            )
    kernels_ms = sum(row["train_ms"] for row in rows if not row["xla"])
    ceiling = steps_ms["keras"] / kernels_ms
    print(
        f"the five kernels without XLA: {kernels_ms:.1f} ms; a training step in fit: tfae {steps_ms['tfae']:.1f} ms, "
        f"keras {steps_ms['keras']:.1f} ms; the kernels are {100 * kernels_ms / steps_ms['tfae']:.0f}% of tfae's "
        f"step; with all else free tfae would train {ceiling:.2f}x as fast as the hand-written VAE"
    )
    results = {
        **report.provenance(__file__, argv),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "batch_size": BATCH_SIZE,
        "rows": rows,
        "kernels_ms": kernels_ms,
        "fit_step_ms": steps_ms,
        "ceiling_vs_keras": ceiling,
    }
    report.write(results, args.output)
    return results


if __name__ == "__main__":
    main()
