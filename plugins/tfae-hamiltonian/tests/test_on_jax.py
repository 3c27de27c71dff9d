"""Both objectives on the JAX backend, in a fresh interpreter (a process has one Keras backend): both bounds against
NumPy, compiled with jax.jit, and an RHVAE trained inside JAX's compiled train step, whose loss differentiates
jax.grad's leapfrog gradients again (the "rhvae" objective is the "hvae" one with a metric: the same momentum draw,
potential gradient and tempering). The rest of the suite runs on the default backend, TensorFlow."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

CODE = """
import jax
import keras
import numpy as np
from keras import ops

import numpy_reference as ref
from linear import LATENT, linear_gaussian, linear_model, sample, terms_around, to_numpy
from tfae.models import Autoencoder
from tfae_hamiltonian import HamiltonianELBO, RiemannianHamiltonianELBO

assert keras.backend.backend() == "jax"
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)

reference = linear_gaussian(rng)
x = sample(reference, 8, rng)
mean = rng.normal(size=(8, LATENT)).astype("float32")
log_variance = rng.normal(scale=0.3, size=(8, LATENT)).astype("float32")
factor = np.tril(0.7 * rng.normal(size=(8, LATENT, LATENT))).astype("float32")
code = (mean + np.exp(0.5 * log_variance) * rng.normal(size=mean.shape)).astype("float32")
gamma = rng.normal(size=mean.shape).astype("float32")
x64, code64, gamma64 = (value.astype("float64") for value in (x, code, gamma))
log_q0 = ref.gaussian_log_density(code64, mean, log_variance)
arguments = dict(steps=2, step_size=0.1, beta_0=0.5)

model = linear_model(reference, {"name": "gaussian", "latent_dim": LATENT})
terms = terms_around(model, x, (mean, log_variance), code)
bound = jax.jit(lambda momentum: HamiltonianELBO(**arguments).bound(terms, momentum))(gamma)
expected = ref.hvae_bound(reference, x64, code64, gamma64, log_q0, **arguments)
np.testing.assert_allclose(to_numpy(bound), expected, rtol=1e-5, atol=1e-3)

model = linear_model(reference, {"name": "rhvae", "latent_dim": LATENT, "temperature": 1.2, "regularization": 0.3})
terms = terms_around(model, x, (mean, log_variance, factor), code)
bound = jax.jit(
    lambda momentum: RiemannianHamiltonianELBO(fixed_point_iterations=3, **arguments).bound(terms, momentum)
)(gamma)
metric = ref.Metric(mean, factor, temperature=1.2, regularization=0.3)
expected = ref.rhvae_bound(reference, x64, metric, code64, gamma64, log_q0, iterations=3, **arguments)
np.testing.assert_allclose(to_numpy(bound), expected, rtol=1e-5, atol=1e-3)

model = Autoencoder(bottleneck={"name": "rhvae", "latent_dim": 2, "seed": 0})
model.compile(optimizer="adam", loss="bernoulli", objective={"name": "rhvae", "steps": 1, "step_size": 0.05})
state = ops.convert_to_numpy(model.bottleneck.seed_generator.state)
metric = [ops.convert_to_numpy(weight) for weight in model.bottleneck.metric_dense.weights]
history = model.fit(rng.random((64, 6)).astype("float32"), epochs=2, batch_size=32, verbose=0).history
assert np.all(np.isfinite(history["loss"])), history
np.testing.assert_allclose(history["loss"], -np.asarray(history["rhvae_bound"]), rtol=1e-5)
# The momentum's generator moved on inside the compiled steps (an untracked one would not, on JAX), and the metric
# layer trained through the bound.
assert not np.array_equal(ops.convert_to_numpy(model.bottleneck.seed_generator.state), state)
assert all(not np.allclose(ops.convert_to_numpy(w), v) for w, v in zip(model.bottleneck.metric_dense.weights, metric))
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
