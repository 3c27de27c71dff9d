"""The bottlenecks' sampling, densities and KLs, and their gradients, compile with XLA, which tfae uses by default
on TensorFlow (`tfae train`, `compile()`); the other tests run without it, for speed (conftest.py)."""

import keras
import numpy as np
import pytest

from tfae_geometric.poincare import PoincareBottleneck
from tfae_geometric.von_mises_fisher import VonMisesFisherBottleneck

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="XLA on TensorFlow; JAX always compiles with it")


@pytest.mark.parametrize(
    "spec",
    [
        # Wood's rejection sampler; on S^2 (latent_dim 3) the exact sampler uses a subset of its operations.
        {"name": "vmf", "latent_dim": 5, "regularizer": "vmf_kld"},
        {"name": "poincare", "latent_dim": 2, "curvature": 0.7, "regularizer": "poincare_kld"},
    ],
)
def test_a_training_step_of_the_bottleneck_compiles_with_xla(spec, rng):
    import tensorflow as tf

    from tfae import plugins

    bottleneck = plugins.resolve("bottleneck", {**spec, "seed": 0})
    features = tf.constant(rng.normal(size=(8, 5)).astype("float32"))
    bottleneck.build(features.shape)
    weights = bottleneck.trainable_weights

    def step(features, sampling):
        with tf.GradientTape() as tape:
            posterior = bottleneck.posterior(features, sampling=sampling, training=True, importance_samples=2)
            first = posterior.first_code()
            penalty = sum(value for _, value, _ in bottleneck.penalties(first, training=True))
            loss = tf.reduce_sum(posterior.code) + tf.reduce_sum(posterior.log_density() - posterior.log_prior()) + penalty
        return loss, penalty, tape.gradient(loss, weights)

    compiled = tf.function(step, jit_compile=True)
    loss, penalty, gradients = compiled(features, "reparameterized")
    assert np.isfinite(loss.numpy()) and all(np.all(np.isfinite(g.numpy())) and np.any(g.numpy() != 0) for g in gradients)
    # The closed-form KL (vMF) is the same compiled and not; a Monte Carlo one is finite.
    eager_penalty = sum(value for _, value, _ in bottleneck.penalties(bottleneck.posterior(features, sampling="reparameterized"), training=True))
    if spec["name"] == "vmf":
        np.testing.assert_allclose(penalty.numpy(), eager_penalty.numpy(), rtol=1e-5)
    assert np.isfinite(eager_penalty.numpy())
