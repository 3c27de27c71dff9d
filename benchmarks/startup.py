"""Start-up time of the ``tfae`` command against ``python -c "import keras"``, on the same machine.

    python benchmarks/startup.py                       # 5 rounds
    python benchmarks/startup.py --rounds 9 --output benchmarks/results-startup.json

``tfae --help`` must not import TensorFlow (nor Keras): the script checks that first, in a process of its
own, and stops if it does. Then each round runs the three commands one after the other, each as a fresh
process, timed from start to exit: ``tfae --help``, ``tfae plugins`` (which imports Keras, and so the
backend, to list the built-ins), and ``python -c "import keras"``, the floor for any command that needs
Keras. One untimed round first warms the file cache and Python's bytecode cache. A command's figure is
the median of its rounds; ``tfae plugins`` against ``import keras`` is the median of the ratios within
each round, so that a slow moment of the machine weighs on both sides of a ratio alike.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

import report

# tfae's commands silence TensorFlow's C++ start-up notes; the same for `import keras`, and for this process.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# What ``tfae --help`` imports, printed by a process of its own: the heavy frameworks among them.
HELP_IMPORTS = """
import contextlib, io, sys
from tfae.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["--help"])
    except SystemExit:
        pass
heavy = ("tensorflow", "keras", "jax", "torch")
print(" ".join(sorted({name.split(".")[0] for name in sys.modules if name.split(".")[0] in heavy})))
"""


def commands():
    tfae = shutil.which("tfae", path=os.path.dirname(sys.executable)) or shutil.which("tfae")
    if tfae is None:
        raise SystemExit("startup.py: no `tfae` command found: install tfae (pip install -e .) in this environment")
    return {
        "tfae --help": [tfae, "--help"],
        "tfae plugins": [tfae, "plugins"],
        "import keras": [sys.executable, "-c", "import keras"],
    }


def seconds(command):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each command")
    parser.add_argument("--output", default="benchmarks/results-startup.json")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    heavy = subprocess.run([sys.executable, "-c", HELP_IMPORTS], capture_output=True, text=True, check=True)
    if heavy.stdout.split():
        raise SystemExit(f"startup.py: `tfae --help` imports {heavy.stdout.strip()}; it must import none of them")

    timed = commands()
    for command in timed.values():
        seconds(command)
    times = {name: [] for name in timed}
    for _ in range(args.rounds):
        for name, command in timed.items():
            times[name].append(seconds(command))
    ratios = [plugins / keras for plugins, keras in zip(times["tfae plugins"], times["import keras"])]
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = statistics.median(ratios)

    print(f"{'command':<14} {'median s':>9}   all rounds")
    for name, values in times.items():
        print(f"{name:<14} {medians[name]:9.3f}   {' '.join(f'{value:.3f}' for value in values)}")
    print(f"tfae plugins / import keras: {ratio:.2f}x (median of the rounds' ratios)")
    print("tfae --help imports none of tensorflow, keras, jax, torch")

    results = {
        **report.provenance(__file__),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "seconds": times,
        "median_seconds": medians,
        "plugins_over_import_keras": ratio,
    }
    report.write(results, args.output)
    return results


if __name__ == "__main__":
    main()
