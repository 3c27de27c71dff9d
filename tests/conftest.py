import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits():
    """The 8x8 handwritten digits that scikit-learn ships, scaled to [0, 1], as float32 (1797, 64)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0).astype("float32"), data.target


@pytest.fixture
def rng():
    return np.random.default_rng(0)
