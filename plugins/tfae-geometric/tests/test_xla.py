"""The vMF bottleneck's sampling, densities and KL compile with XLA, which tfae uses by default on TensorFlow
(`tfae train`, `compile()`); the other tests run without it, for speed (conftest.py). The forward pass alone is
compiled: its gradients are of the same operations (and compiling them too would triple the time). The Poincare
bottleneck's maths are elementwise operations and sums, which XLA compiles as it does the Gaussian's; its step
compiled in development, and is left out here to keep the suite within CI's time."""

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="XLA on TensorFlow; JAX always compiles with it"
)


# Wood's rejection sampler (a fixed number of proposals, the first accepted chosen by argmax and one_hot); on S^2
# (latent_dim 3) the exact sampler uses a subset of its operations.
SPEC = {"name": "vmf", "latent_dim": 5, "regularizer": "vmf_kld"}


def test_what_the_bottleneck_adds_to_a_training_step_compiles_with_xla(rng):
    import tensorflow as tf

    from tfae import plugins

    bottleneck = plugins.resolve("bottleneck", {**SPEC, "seed": 0})
    features = tf.constant(rng.normal(size=(8, 5)).astype("float32"))
    bottleneck.build(features.shape)

    def step(features):
        posterior = bottleneck.posterior(features, sampling="reparameterized", training=True, importance_samples=2)
        penalty = sum(value for _, value, _ in bottleneck.penalties(posterior.first_code(), training=True))
        return posterior.code, posterior.log_density() - posterior.log_prior(), penalty

    code, log_ratio, penalty = tf.function(step, jit_compile=True)(features)
    assert code.shape == (2, 8, 5) and log_ratio.shape == (2, 8)
    assert all(np.all(np.isfinite(value.numpy())) for value in (code, log_ratio, penalty))
    np.testing.assert_allclose(np.linalg.norm(code.numpy(), axis=-1), 1.0, atol=1e-6)
    # The closed-form KL is the same compiled and not.
    eager = bottleneck.posterior(features, sampling="reparameterized")
    eager_penalty = sum(value for _, value, _ in bottleneck.penalties(eager, training=True))
    np.testing.assert_allclose(penalty.numpy(), eager_penalty.numpy(), rtol=1e-5)
