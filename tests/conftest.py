import os
import subprocess
import sys
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# XLA compiles each new model for a few seconds, which a long training repays and a suite of hundreds of tiny
# models does not: the suite trains without tfae's XLA default, and tests/test_xla_default.py tests the default.
os.environ.setdefault("TFAE_XLA", "0")
# What XLA does compile (JAX's every step, the tests of the XLA default) is tiny models run for a few steps:
# LLVM's optimisation of the generated code costs more than it saves there (a third of the JAX tests' CPU time).
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()

import numpy as np
import pytest

from timeouts import HANG_TIMEOUT_S


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject.toml's addopts) starts one worker more than the cores: a worker often waits for a
    subprocess of its test to start up (a TensorFlow import, about 6 CPU-seconds), and with two workers on two
    cores a quarter of the CPU time went unused; with three, the quick suite took 305 s instead of 332."""
    return len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items):
    """The tests marked ``long`` run first: spread over the cores from the start, not left to run alone at the end
    while the other workers idle (the soak, last in file order, ran a minute past every other slow test)."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def digits():
    """The 8x8 handwritten digits that scikit-learn ships, scaled to [0, 1], as float32 (1797, 64)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0).astype("float32"), data.target


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """The run folder of ``tfae train --epochs 2``: the digits VAE that tfae trains with no config.

    Trained once per test process, for the tests that only read it (``tfae evaluate``, ``encode``,
    ``generate``, ``similar``); a test that writes in a run folder trains its own.
    """
    from tfae.cli import main

    folder = tmp_path_factory.mktemp("digits_run") / "vae"
    assert main(["train", "--epochs", "2", "--run-dir", str(folder), "-q"]) == 0
    return folder


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def seeded_per_test(request):
    """Each test starts from a random state of its own, the same on every run (Python's, NumPy's, Keras' global
    generator and so the default initialisers): a test that an unlucky initialisation fails, fails everywhere,
    not once in a few CI runs."""
    import keras

    keras.utils.set_random_seed(zlib.crc32(request.node.nodeid.encode()) % 2**31)


@pytest.fixture
def run_tfae():
    """Runs the real command, ``python -m tfae ARGUMENTS``, in a fresh process; returns the completed process.

    Its ``cwd`` and ``env`` are ``subprocess.run``'s; the command is killed after ``timeout`` seconds, a hang.
    """

    def run(*arguments, cwd=None, env=None, timeout=HANG_TIMEOUT_S):
        command = [sys.executable, "-m", "tfae", *map(str, arguments)]
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    return run
