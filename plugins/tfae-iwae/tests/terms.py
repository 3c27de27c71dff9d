"""The objectives' inputs built by hand: ``ObjectiveTerms`` from arrays, and NumPy's view of the same numbers."""

import math

import numpy as np
from keras import ops

import numpy_reference as ref
from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.objectives import ObjectiveTerms

PENALTY = 0.25  # a regularizer's weighted penalty, which every objective here adds to its loss


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def gaussian_terms(rng, codes=6, batch=5, latent=3, penalties=True):
    """A Gaussian posterior's ``codes`` codes per sample and made-up reconstruction losses.

    Returns the terms and the float64 log-weights NumPy computes from the same float32 numbers.
    """
    mean = rng.normal(size=(batch, latent)).astype("float32")
    log_variance = rng.normal(scale=0.3, size=(batch, latent)).astype("float32")
    code = (mean + np.exp(0.5 * log_variance) * rng.normal(size=(codes, batch, latent))).astype("float32")
    reconstruction = rng.uniform(10, 20, size=(codes, batch)).astype("float32")
    posterior = Posterior((mean, log_variance), code, GaussianBottleneck(latent_dim=latent))
    terms = ObjectiveTerms(
        reconstruction, posterior, {"l2_loss": np.float32(PENALTY)} if penalties else {}, in_nats=True
    )
    log_weights = ref.log_weights(
        -reconstruction, ref.gaussian_log_density(code, 0.0, 0.0), ref.gaussian_log_density(code, mean, log_variance)
    )
    return terms, log_weights


def linear_gaussian_model(rng, data_dim=3, latent=2, noise_variance=0.3):
    """A ``numpy_reference.LinearGaussian`` with orthogonal columns of different lengths."""
    basis, _ = np.linalg.qr(rng.normal(size=(data_dim, latent)))
    return ref.LinearGaussian(basis * np.linspace(1.0, 2.0, latent), rng.normal(size=data_dim), noise_variance)


def linear_gaussian_terms(model, x, rng, codes, shift=0.0, widen=0.0):
    """The terms of ``codes`` draws per sample from ``model``'s exact posterior, moved by ``shift`` and widened.

    ``shift`` is added to each posterior mean and ``widen`` to each log-variance: with both 0 the posterior
    is exact and every importance weight is ``p(x)``.
    """
    mean, log_variance = model.posterior(x)
    mean = (mean + shift).astype("float32")
    log_variance = np.broadcast_to(log_variance + widen, mean.shape).astype("float32")
    code = (mean + np.exp(0.5 * log_variance) * rng.normal(size=(codes, *mean.shape))).astype("float32")
    reconstruction = (-model.log_likelihood(x, code)).astype("float32")
    posterior = Posterior((mean, log_variance), code, GaussianBottleneck(latent_dim=mean.shape[1]))
    return ObjectiveTerms(reconstruction, posterior, {}, in_nats=True)


def sample_linear_gaussian(model, n, rng):
    """``n`` samples of ``x`` from the model, float32."""
    z = rng.normal(size=(n, model.weights.shape[1]))
    noise = math.sqrt(model.noise_variance) * rng.normal(size=(n, len(model.bias)))
    return (z @ model.weights.T + model.bias + noise).astype("float32")
