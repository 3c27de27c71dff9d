"""Where XLA's memory goes: resident memory of a training process with and without XLA, split into file-backed
pages (the code of the libraries, TensorFlow's compiler among them) and anonymous ones (the heap).

Issue 17 asks for tfae's peak memory within 1.1x of the hand-written Keras VAE's; with XLA on by default it is
about 1.25x (docs/benchmarks.md). This script shows what the difference is made of. Each case trains in a
fresh process for two epochs, then reads /proc/self/smaps_rollup (Linux only):

- ``tiny``: a Keras model of two Dense layers of 8 units, without and with ``jit_compile=True``: what XLA costs
  whatever the model;
- ``keras``, ``tfae-noxla``, ``tfae``: the MLP VAE of ``train_throughput.py`` (hand-written Keras, tfae without
  XLA, tfae with its defaults) on 30,000 samples, at each ``--batch-sizes``.

Besides the resident memory at the end it records the peak (VmHWM), the figure ``train_throughput.py``
reports. XLA is TensorFlow's choice here, so every process runs on the TensorFlow backend.

    python benchmarks/xla_memory.py --output benchmarks/results-xla-memory.json
"""

import argparse
import json
import os
import subprocess
import sys

import report

HERE = os.path.dirname(os.path.abspath(__file__))
FIELDS = {"Rss": "resident", "Anonymous": "anonymous"}


def resident_memory_mb():
    """The process's resident memory, its anonymous part and the rest (file-backed pages), in MB."""
    found = {}
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            key = line.split(":")[0]
            if key in FIELDS:
                found[FIELDS[key]] = int(line.split()[1]) / 1024
    found["file_backed"] = found["resident"] - found["anonymous"]
    return found


def worker(case, batch_size):
    import numpy as np

    sys.path.insert(0, HERE)
    import train_throughput

    if case.startswith("tiny"):
        import keras

        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8), keras.layers.Dense(8)])
        model.compile(optimizer="adam", loss="mse", jit_compile=case == "tiny-xla")
        x = np.random.default_rng(0).random((256, 8)).astype("float32")
        model.fit(x, x, batch_size=batch_size, epochs=2, verbose=0)
    else:
        contestant = train_throughput.make_contestant(case, batch_size, "mlp")
        data = train_throughput.make_data(30000, "mlp")
        contestant.model.fit(data, batch_size=batch_size, epochs=2, verbose=0)
    print(json.dumps({**resident_memory_mb(), "peak": train_throughput.peak_memory_mb()}))


def measure(case, batch_size):
    command = [sys.executable, os.path.abspath(__file__), "--worker", case, str(batch_size)]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--output", default="benchmarks/results-xla-memory.json")
    args = parser.parse_args(argv)
    rows = [("tiny", 32), ("tiny-xla", 32)]
    rows += [(case, size) for size in args.batch_sizes for case in ("keras", "tfae-noxla", "tfae")]
    results = {
        **report.provenance(__file__, argv),
        "backend": "tensorflow",
        "load_average_1min": {"before": os.getloadavg()[0]},
        "rows": [],
    }
    print(f"{'case':>11} {'batch':>6} {'peak MB':>8} {'resident MB':>12} {'anonymous':>10} {'file-backed':>12}")
    for case, size in rows:
        memory = measure(case, size)
        results["rows"].append({"case": case, "batch_size": size, **memory})
        print(
            f"{case:>11} {size:>6} {memory['peak']:8.0f} {memory['resident']:12.0f} {memory['anonymous']:10.0f} "
            f"{memory['file_backed']:12.0f}",
            flush=True,
        )
    results["load_average_1min"]["after"] = os.getloadavg()[0]
    report.write(results, args.output)
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]))
    else:
        main()
