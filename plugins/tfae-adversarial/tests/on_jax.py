"""Runs a test's code again on the JAX backend, in a fresh interpreter (a process has one Keras backend)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def run_on_jax(code, folder, seed=0):
    """Runs ``code`` with the argument ``folder`` in a fresh interpreter on the JAX backend, these tests importable,
    from ``keras.utils.set_random_seed(seed)``: a fixed random state, as every test here starts from (conftest.py)."""
    pytest.importorskip("jax")
    code = f"import keras\nkeras.utils.set_random_seed({int(seed)})\n{code}"
    path = os.pathsep.join([str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}
    result = subprocess.run(
        [sys.executable, "-c", code, str(folder)], env=env, cwd=folder, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result
