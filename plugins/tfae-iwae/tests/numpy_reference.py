"""Plain-NumPy (float64) transcriptions of the bounds of Rainforth et al. (2018) and of a model whose log p(x) is exact.

Tests compare tfae-iwae's objectives against these functions. Nothing here imports tfae or Keras.

Sources:

- Burda, Grosse and Salakhutdinov (2016), "Importance Weighted Autoencoders" (ICLR), section 3: the k-sample
  bound ``L_k = E[log (1/k) sum_i w_i]`` with ``w_i = p(x, z_i) / q(z_i | x)``; ``L_1`` is the ELBO.
- Rainforth, Kosiorek, Le, Maddison, Igl, Wood and Teh (2018), "Tighter Variational Bounds are Not
  Necessarily Better" (ICML). Its background section writes the IWAE gradient estimator as an average over ``M``
  independent estimates, each of ``K`` importance samples: ``Delta_{M,K} = (1/M) sum_m grad log (1/K)
  sum_k w_{m,k}``. Its section "New estimators" makes the target of that average a bound of its own:
  MIWAE's ``ELBO_MIWAE = (1/M) sum_m E[log (1/K) sum_k w_{m,k}]`` (``M = 1`` is IWAE, ``K = 1`` the VAE's ELBO
  with ``M`` samples) and CIWAE's ``ELBO_CIWAE = beta ELBO_VAE + (1 - beta) ELBO_IWAE``, ``beta in [0, 1]``,
  both estimated from the same ``K`` samples. (Cited by section and by the papers' own names for the
  quantities: the papers' text was not at hand offline to check equation numbers against.)

Conventions: per-code arrays have shape ``(codes, batch)``; ``log_weights[i, b] = log p(x_b | z_ib) + log
p(z_ib) - log q(z_ib | x_b)``. Every function returns one bound per sample, shape ``(batch,)``.
"""

from __future__ import annotations

import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def logsumexp(a, axis):
    """Numerically stable ``log(sum(exp(a), axis))`` (no SciPy in the test environment)."""
    a = _f64(a)
    top = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def gaussian_log_density(z, mean, log_variance):
    """``log N(z; mean, diag(exp(log_variance)))`` summed over the last axis, with broadcasting."""
    z, mean, log_variance = _f64(z), _f64(mean), _f64(log_variance)
    return -0.5 * np.sum(LOG_2PI + log_variance + (z - mean) ** 2 * np.exp(-log_variance), axis=-1)


def gaussian_kl(mean_q, log_variance_q, mean_p, log_variance_p):
    """``KL(N(mean_q, diag exp(log_variance_q)) || N(mean_p, diag exp(log_variance_p)))``, summed over the last axis."""
    mean_q, log_variance_q, mean_p, log_variance_p = map(_f64, (mean_q, log_variance_q, mean_p, log_variance_p))
    ratio = np.exp(log_variance_q - log_variance_p)
    squared = (mean_q - mean_p) ** 2 * np.exp(-log_variance_p)
    return 0.5 * np.sum(ratio + squared - 1.0 - (log_variance_q - log_variance_p), axis=-1)


def log_weights(log_likelihood, log_prior, log_posterior):
    """``log w = log p(x | z) + log p(z) - log q(z | x)``, elementwise."""
    return _f64(log_likelihood) + _f64(log_prior) - _f64(log_posterior)


def elbo(log_weights):
    """The ELBO's Monte Carlo estimate from all the codes: ``(1/n) sum_i log w_i``."""
    return np.mean(_f64(log_weights), axis=0)


def iwae_bound(log_weights):
    """Burda et al. section 3, one draw: ``log (1/k) sum_i w_i`` over the ``k`` codes of axis 0."""
    log_weights = _f64(log_weights)
    return logsumexp(log_weights, axis=0) - math.log(log_weights.shape[0])


def miwae_bound(log_weights, m, k):
    """Rainforth et al., "New estimators", MIWAE, one draw: ``(1/M) sum_m log (1/K) sum_k w_{m,k}``.

    The ``m * k`` codes of axis 0 are split into ``m`` consecutive groups of ``k``; each gives an IWAE bound.
    """
    log_weights = _f64(log_weights)
    assert log_weights.shape[0] == m * k
    groups = [iwae_bound(log_weights[j * k : (j + 1) * k]) for j in range(m)]
    return np.mean(groups, axis=0)


def ciwae_bound(log_weights, beta):
    """Rainforth et al., "New estimators", CIWAE, one draw: ``beta ELBO_VAE + (1 - beta) ELBO_IWAE``.

    Both bounds come from the same codes.
    """
    return beta * elbo(log_weights) + (1.0 - beta) * iwae_bound(log_weights)


class LinearGaussian:
    """``z ~ N(0, I_d)``, ``x | z ~ N(W z + b, noise_variance I_D)``: ``log p(x)`` and ``p(z | x)`` are exact.

    ``W``'s columns are orthogonal, so the exact posterior's covariance ``(I + W^T W / noise_variance)^-1`` is
    diagonal: it is a Gaussian bottleneck's posterior for a suitable mean and log-variance.

    Args:
        weights: ``W``, shape ``(D, d)`` with orthogonal columns.
        bias: ``b``, shape ``(D,)``.
        noise_variance: positive float.
    """

    def __init__(self, weights, bias, noise_variance):
        self.weights = _f64(weights)
        self.bias = _f64(bias)
        self.noise_variance = float(noise_variance)
        gram = self.weights.T @ self.weights
        assert np.allclose(gram, np.diag(np.diag(gram))), "W's columns must be orthogonal"

    def log_evidence(self, x):
        """``log p(x) = log N(x; b, W W^T + noise_variance I)``, exact, for ``x`` of shape ``(batch, D)``."""
        x = _f64(x)
        covariance = self.weights @ self.weights.T + self.noise_variance * np.eye(len(self.bias))
        centred = x - self.bias
        _, log_determinant = np.linalg.slogdet(covariance)
        mahalanobis = np.einsum("bi,ij,bj->b", centred, np.linalg.inv(covariance), centred)
        return -0.5 * (len(self.bias) * LOG_2PI + log_determinant + mahalanobis)

    def posterior(self, x):
        """The exact ``p(z | x)``: its mean ``(batch, d)`` and log-variance ``(d,)``.

        The covariance is diagonal as ``W`` is orthogonal.
        """
        precision = 1.0 + np.diag(self.weights.T @ self.weights) / self.noise_variance
        mean = (_f64(x) - self.bias) @ self.weights / self.noise_variance / precision
        return mean, -np.log(precision)

    def log_likelihood(self, x, z):
        """``log p(x | z)`` of codes ``z`` of shape ``(codes, batch, d)`` for ``x`` of shape ``(batch, D)``."""
        means = _f64(z) @ self.weights.T + self.bias
        return gaussian_log_density(_f64(x), means, math.log(self.noise_variance))
