import os
import sys
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Without XLA (tfae's documented switch): compiling a Hamiltonian step, which holds the decoder's gradient at
# every leapfrog step, takes XLA 10 to 40 seconds on a CPU, several times the tests' own work. test_examples.py
# trains the hvae example with XLA.
os.environ.setdefault("TFAE_XLA", "0")
# numpy_reference and linear, the tests' own modules, import by name in every test process.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pytest  # noqa: E402


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
