"""Float64 NumPy transcriptions of the HVAE's and the RHVAE's formulas, and a linear-Gaussian model in closed form.

HVAE: Caterini, Doucet & Sejdinovic (2018), "Hamiltonian Variational Auto-Encoder", Algorithm 1 (the
Hamiltonian ELBO with fixed tempering): the leapfrog steps, the quadratic tempering scheme
``sqrt(beta_k) = ((1 - 1/sqrt(beta_0)) k^2/K^2 + 1/sqrt(beta_0))^-1`` and the bound
``log p(x, z_K) + log N(rho_K; 0, I) - log q(z_0 | x) - log N(rho_0; 0, I / beta_0) + (d/2) log beta_0``,
written here with the densities in full (the objective's closed form cancels them).

RHVAE: Chadebec, Mantoux & Allassonnière (2020), "Geometry-Aware Hamiltonian Variational Auto-Encoder",
its Riemannian Hamiltonian VAE: the metric ``G^{-1}(z) = sum_i L_i L_i^T exp(-|z - c_i|^2 / T^2) + lambda I``,
the Hamiltonian ``H(z, rho) = U(z) + 1/2 log((2 pi)^d det G(z)) + 1/2 rho^T G^{-1}(z) rho`` and the generalised leapfrog
integrator, its implicit equations solved by fixed-point iterations (as pythae's RHVAE does), with the HVAE's
tempering and the bound with ``N(rho; 0, G(z))`` in place of ``N(rho; 0, I)``.

Every array is float64; a batch of codes is ``(n, d)``, one row per sample.
"""

import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


def tempering(step, steps, beta_0):
    """``sqrt(beta_k)`` of the quadratic tempering scheme: ``sqrt(beta_0)`` at step 0, 1 at step ``K``."""
    return 1.0 / ((1.0 - 1.0 / math.sqrt(beta_0)) * (step / steps) ** 2 + 1.0 / math.sqrt(beta_0))


def gaussian_log_density(z, mean, log_variance):
    """``log N(z; mean, diag(exp(log_variance)))``, summed over the last axis."""
    return -0.5 * np.sum(LOG_2PI + log_variance + (z - mean) ** 2 * np.exp(-log_variance), axis=-1)


def full_gaussian_log_density(z, covariance):
    """``log N(z; 0, covariance)`` of each row of ``z`` ``(n, d)`` under its own ``covariance`` ``(n, d, d)``."""
    d = z.shape[-1]
    _, log_det = np.linalg.slogdet(covariance)
    solved = np.linalg.solve(covariance, z[..., None])[..., 0]
    return -0.5 * (d * LOG_2PI + log_det + np.sum(z * solved, axis=-1))


class LinearGaussian:
    """``p(z) = N(0, I)``, ``p(x | z) = N(W z + b, s I)``: ``log p(x)``, the posterior and ``U`` in closed form."""

    def __init__(self, weights, bias, noise_variance):
        self.weights = np.asarray(weights, dtype="float64")  # (D, d)
        self.bias = np.asarray(bias, dtype="float64")
        self.noise_variance = float(noise_variance)

    def negative_log_likelihood(self, x, z):
        """``-log p(x | z)``; ``x`` ``(n, D)``, ``z`` ``(..., n, d)``."""
        residual = x - (z @ self.weights.T + self.bias)
        variance = self.noise_variance
        return 0.5 * np.sum(residual**2 / variance + math.log(variance) + LOG_2PI, axis=-1)

    def potential(self, x, z):
        """``U(z) = -log p(x, z) = -log p(x | z) - log N(z; 0, I)``."""
        return self.negative_log_likelihood(x, z) + 0.5 * np.sum(z**2 + LOG_2PI, axis=-1)

    def potential_gradient(self, x, z):
        """``grad U(z) = -W^T (x - W z - b) / s + z``."""
        residual = x - (z @ self.weights.T + self.bias)
        return -(residual @ self.weights) / self.noise_variance + z

    def log_evidence(self, x):
        """``log p(x)``, with ``x ~ N(b, W W^T + s I)``."""
        covariance = self.weights @ self.weights.T + self.noise_variance * np.eye(len(self.bias))
        return full_gaussian_log_density(x - self.bias, np.broadcast_to(covariance, (len(x), *covariance.shape)))

    def posterior(self, x):
        """The exact posterior's mean ``(n, d)`` and log-variance ``(d,)``: diagonal for orthogonal columns of ``W``."""
        precision = np.eye(self.weights.shape[1]) + self.weights.T @ self.weights / self.noise_variance
        covariance = np.linalg.inv(precision)
        assert np.allclose(covariance, np.diag(np.diag(covariance))), "W's columns must be orthogonal"
        mean = (x - self.bias) @ self.weights @ covariance.T / self.noise_variance
        return mean, np.log(np.diag(covariance))


def hvae_flow(gradient, z0, gamma, steps, step_size, beta_0):
    """Algorithm 1's loop: ``(z_K, rho_K)`` from ``z_0`` and ``rho_0 = gamma / sqrt(beta_0)``."""
    z, rho = z0, gamma / math.sqrt(beta_0)
    for step in range(1, steps + 1):
        rho_half = rho - 0.5 * step_size * gradient(z)
        z = z + step_size * rho_half
        rho_full = rho_half - 0.5 * step_size * gradient(z)
        rho = tempering(step - 1, steps, beta_0) / tempering(step, steps, beta_0) * rho_full
    return z, rho


def hvae_bound(model, x, z0, gamma, log_q0, steps, step_size, beta_0):
    """``log p(x, z_K) + log N(rho_K; 0, I) - log q(z_0 | x) - log N(rho_0; 0, I / beta_0) + (d/2) log beta_0``."""
    d = z0.shape[-1]
    z, rho = hvae_flow(lambda v: model.potential_gradient(x, v), z0, gamma, steps, step_size, beta_0)
    rho_0 = gamma / math.sqrt(beta_0)
    log_target = -model.potential(x, z) - 0.5 * np.sum(rho**2 + LOG_2PI, axis=-1)
    log_start = -0.5 * np.sum(LOG_2PI - math.log(beta_0) + beta_0 * rho_0**2, axis=-1)
    return log_target - log_q0 - log_start + 0.5 * d * math.log(beta_0)


class Metric:
    """``G^{-1}(z) = sum_i L_i L_i^T exp(-|z - c_i|^2 / T^2) + lambda I`` for centroids ``c`` and factors ``L``."""

    def __init__(self, centroids, factors, temperature, regularization):
        self.centroids = np.asarray(centroids, dtype="float64")  # (m, d)
        self.factors = np.asarray(factors, dtype="float64")  # (m, d, d)
        self.temperature = float(temperature)
        self.regularization = float(regularization)

    def weights(self, z):
        """``w_i(z) = exp(-|z - c_i|^2 / T^2)``, shape ``(n, m)``."""
        return np.exp(-np.sum((z[:, None, :] - self.centroids[None]) ** 2, axis=-1) / self.temperature**2)

    def inverse(self, z):
        """``G^{-1}(z)``, shape ``(n, d, d)``."""
        local = self.factors @ np.swapaxes(self.factors, 1, 2)
        d = z.shape[-1]
        return np.einsum("nm,mij->nij", self.weights(z), local) + self.regularization * np.eye(d)

    def hamiltonian(self, model, x, z, rho):
        """``H(z, rho) = U(z) + 1/2 log((2 pi)^d det G(z)) + 1/2 rho^T G^{-1}(z) rho``."""
        inverse = self.inverse(z)
        _, log_det_inverse = np.linalg.slogdet(inverse)
        d = z.shape[-1]
        kinetic = 0.5 * np.einsum("ni,nij,nj->n", rho, inverse, rho)
        return model.potential(x, z) + 0.5 * (d * LOG_2PI - log_det_inverse) + kinetic

    def hamiltonian_gradient(self, model, x, z, rho):
        """``grad_z H = grad U + sum_i grad w_i (rho^T M_i rho - tr(G M_i)) / 2``,
        ``grad w_i = -2 (z - c_i) w_i / T^2``.

        ``d log det G^{-1} = tr(G dG^{-1})``: the metric's terms in closed form, checked by finite differences.
        """
        local = self.factors @ np.swapaxes(self.factors, 1, 2)
        metric = np.linalg.inv(self.inverse(z))
        slopes = -2.0 / self.temperature**2 * (z[:, None, :] - self.centroids[None]) * self.weights(z)[..., None]
        coefficient = 0.5 * (np.einsum("ni,mij,nj->nm", rho, local, rho) - np.einsum("nij,mji->nm", metric, local))
        return model.potential_gradient(x, z) + np.einsum("nmd,nm->nd", slopes, coefficient)

    def velocity(self, z, rho):
        """``grad_rho H = G^{-1}(z) rho``."""
        return np.einsum("nij,nj->ni", self.inverse(z), rho)


def initial_momentum(metric, z0, gamma, beta_0):
    """``rho_0 = C^{-T} gamma / sqrt(beta_0)`` with ``C C^T = G^{-1}(z_0)``: a draw from ``N(0, G(z_0) / beta_0)``."""
    factor = np.linalg.cholesky(metric.inverse(z0))
    return np.linalg.solve(np.swapaxes(factor, 1, 2), gamma[..., None])[..., 0] / math.sqrt(beta_0)


def rhvae_flow(model, x, metric, z0, gamma, steps, step_size, beta_0, iterations):
    """``(z_K, rho_K)`` after K tempered generalised leapfrog steps, each implicit equation iterated ``iterations``
    times."""
    half = 0.5 * step_size
    z, rho = z0, initial_momentum(metric, z0, gamma, beta_0)
    for step in range(1, steps + 1):
        rho_half = rho
        for _ in range(iterations):
            rho_half = rho - half * metric.hamiltonian_gradient(model, x, z, rho_half)
        z_next = z
        for _ in range(iterations):
            z_next = z + half * (metric.velocity(z, rho_half) + metric.velocity(z_next, rho_half))
        z = z_next
        rho_full = rho_half - half * metric.hamiltonian_gradient(model, x, z, rho_half)
        rho = tempering(step - 1, steps, beta_0) / tempering(step, steps, beta_0) * rho_full
    return z, rho


def rhvae_bound(model, x, metric, z0, gamma, log_q0, steps, step_size, beta_0, iterations):
    """The RHVAE's bound: ``log p(x, z_K) + log N(rho_K; 0, G(z_K)) - log q(z_0 | x) - log N(rho_0; 0, G(z_0) / beta_0)
    + (d/2) log beta_0``."""
    d = z0.shape[-1]
    z, rho = rhvae_flow(model, x, metric, z0, gamma, steps, step_size, beta_0, iterations)
    rho_0 = initial_momentum(metric, z0, gamma, beta_0)
    log_target = -model.potential(x, z) + full_gaussian_log_density(rho, np.linalg.inv(metric.inverse(z)))
    log_start = full_gaussian_log_density(rho_0, np.linalg.inv(metric.inverse(z0)) / beta_0)
    return log_target - log_q0 - log_start + 0.5 * d * math.log(beta_0)
