"""Both objectives on the JAX backend, in a fresh interpreter (a process has one Keras backend): the bounds against
NumPy, and a model trained with each inside JAX's compiled train step. The rest of the suite (the contract checks,
saving) runs on the default backend, TensorFlow."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

CODE = """
import numpy as np
import keras

import numpy_reference as ref
from terms import PENALTY, gaussian_terms, to_numpy
from tfae.models import Autoencoder
from tfae_iwae import CIWAE, MIWAE

assert keras.backend.backend() == "jax"
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)

terms, log_weights = gaussian_terms(rng, codes=6, batch=5)
miwae = MIWAE(m=2, k=3)(terms)
np.testing.assert_allclose(to_numpy(miwae["miwae_bound"]), ref.miwae_bound(log_weights, 2, 3), rtol=1e-5)
np.testing.assert_allclose(to_numpy(miwae["loss"]), -ref.miwae_bound(log_weights, 2, 3) + PENALTY, rtol=1e-5)
ciwae = CIWAE(beta=0.3, importance_samples=6)(terms)
np.testing.assert_allclose(to_numpy(ciwae["ciwae_bound"]), ref.ciwae_bound(log_weights, 0.3), rtol=1e-5)
np.testing.assert_allclose(to_numpy(ciwae["loss"]), -ref.ciwae_bound(log_weights, 0.3) + PENALTY, rtol=1e-5)

x = rng.random((64, 6)).astype("float32")
for objective, logged in ((MIWAE(m=2, k=2), "miwae_bound"), (CIWAE(beta=0.5, importance_samples=3), "ciwae_bound")):
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
    model.compile(optimizer="adam", loss="bernoulli", objective=objective)
    history = model.fit(x, epochs=2, batch_size=32, verbose=0).history
    assert np.all(np.isfinite(history["loss"])), history
    np.testing.assert_allclose(history["loss"], -np.asarray(history[logged]), rtol=1e-5)
print("passed on", keras.backend.backend())
"""


def test_the_bounds_and_training_work_on_jax(tmp_path):
    pytest.importorskip("jax")
    path = os.pathsep.join([str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}
    result = subprocess.run(
        [sys.executable, "-c", CODE], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "passed on jax" in result.stdout
