import os
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Without tfae's XLA default: compiling each small model with XLA costs more than it trains here, and the suite
# must fit CI's time (`tfae train` in test_examples.py inherits it). The tests that need XLA ask for it.
os.environ.setdefault("TFAE_XLA", "0")

import numpy as np
import pytest


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
