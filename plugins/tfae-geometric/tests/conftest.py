import os
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# As tfae's own suite does (tests/conftest.py): the contract checks train many tiny models, each compiled
# once, where XLA's compilation costs more than it saves. The `tfae train` test runs with XLA, as users do.
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
