import os
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Without XLA in this process: compiling each small model with XLA costs more CPU than its few steps of training,
# and the suite has to stay within its share of CI. The examples test trains through `tfae train` in a process
# whose environment leaves this out, so the examples are still compiled with XLA, tfae's default, there.
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
