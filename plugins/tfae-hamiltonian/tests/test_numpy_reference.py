"""The NumPy reference checked against what is known without it: the tempering's ends, the leapfrog's reversibility
and energy, the Hamiltonian's gradient by finite differences, and exp(bound) as an unbiased estimate of p(x) on a
linear-Gaussian model, whose log p(x) is exact. That last one holds only if the bound's momentum densities and
Jacobians are right: a missing (d/2) log beta_0 would move the mean to beta_0^(d/2) = 0.5 here."""

import math

import numpy as np
import pytest

import numpy_reference as ref
from linear import LATENT, linear_gaussian, sample


@pytest.fixture(scope="module")
def model():
    return linear_gaussian(np.random.default_rng(7))


def test_the_tempering_cools_from_sqrt_beta_0_to_1():
    values = [ref.tempering(k, 4, 0.25) for k in range(5)]
    assert values[0] == pytest.approx(0.5) and values[-1] == pytest.approx(1.0)
    assert np.all(np.diff(values) > 0)
    assert [ref.tempering(k, 3, 1.0) for k in range(4)] == [1.0] * 4


def test_the_leapfrog_steps_are_reversible_and_nearly_keep_the_energy(model, rng):
    x = sample(model, 8, rng).astype("float64")
    z0, gamma = rng.normal(size=(8, LATENT)), rng.normal(size=(8, LATENT))

    def gradient(z):
        return model.potential_gradient(x, z)

    z, rho = ref.hvae_flow(gradient, z0, gamma, steps=20, step_size=0.01, beta_0=1.0)
    back, momentum = ref.hvae_flow(gradient, z, -rho, steps=20, step_size=0.01, beta_0=1.0)
    np.testing.assert_allclose(back, z0, atol=1e-12)
    np.testing.assert_allclose(-momentum, gamma, atol=1e-12)
    start = model.potential(x, z0) + 0.5 * np.sum(gamma**2, axis=-1)
    end = model.potential(x, z) + 0.5 * np.sum(rho**2, axis=-1)
    assert np.max(np.abs(end - start)) < 0.05 * np.max(np.abs(z - z0))


def importance_draws(model, n, rng, shift=0.2, widen=0.3):
    """One x, ``n`` codes from a posterior near the exact one (means moved, log-variances raised) and momenta."""
    x = np.repeat(sample(model, 1, rng).astype("float64"), n, axis=0)
    mean, log_variance = model.posterior(x)
    mean, log_variance = mean + shift, np.broadcast_to(log_variance + widen, mean.shape)
    z0 = mean + np.exp(0.5 * log_variance) * rng.normal(size=mean.shape)
    return x, z0, rng.normal(size=mean.shape), ref.gaussian_log_density(z0, mean, log_variance)


@pytest.mark.parametrize("beta_0", [0.5, 1.0])
def test_exp_of_the_hvae_bound_is_an_unbiased_estimate_of_p_x(model, beta_0):
    x, z0, gamma, log_q0 = importance_draws(model, 40_000, np.random.default_rng(1))
    bound = ref.hvae_bound(model, x, z0, gamma, log_q0, steps=3, step_size=0.1, beta_0=beta_0)
    ratio = np.exp(bound - model.log_evidence(x[:1])[0])
    error = ratio.std() / math.sqrt(len(ratio))
    assert ratio.mean() == pytest.approx(1.0, abs=4 * error) and error < 0.01
    assert bound.mean() < model.log_evidence(x[:1])[0]  # a lower bound, by Jensen


def metric(rng, centroids=5, temperature=1.5, regularization=0.3):
    factors = np.tril(0.7 * rng.normal(size=(centroids, LATENT, LATENT)))
    return ref.Metric(rng.normal(size=(centroids, LATENT)), factors, temperature, regularization)


def test_the_hamiltonians_gradient_is_its_finite_difference(model, rng):
    x = sample(model, 6, rng).astype("float64")
    z, rho, g = rng.normal(size=(6, LATENT)), rng.normal(size=(6, LATENT)), metric(rng)
    step = 1e-6
    difference = np.stack(
        [
            (g.hamiltonian(model, x, z + step * unit, rho) - g.hamiltonian(model, x, z - step * unit, rho)) / (2 * step)
            for unit in np.eye(LATENT)
        ],
        axis=-1,
    )
    np.testing.assert_allclose(g.hamiltonian_gradient(model, x, z, rho), difference, atol=1e-6)


def test_under_the_identity_metric_the_rhvae_is_the_hvae(model, rng):
    x = sample(model, 6, rng).astype("float64")
    z0, gamma, log_q0 = rng.normal(size=(6, LATENT)), rng.normal(size=(6, LATENT)), rng.normal(size=6)
    identity = ref.Metric(rng.normal(size=(3, LATENT)), np.zeros((3, LATENT, LATENT)), 1.5, 1.0)
    arguments = dict(steps=3, step_size=0.1, beta_0=0.4)
    riemannian = ref.rhvae_bound(model, x, identity, z0, gamma, log_q0, iterations=3, **arguments)
    np.testing.assert_allclose(riemannian, ref.hvae_bound(model, x, z0, gamma, log_q0, **arguments), rtol=1e-12)


def test_enough_fixed_point_iterations_solve_the_implicit_leapfrog_equations(model, rng):
    x = sample(model, 6, rng).astype("float64")
    z, rho, g, half = rng.normal(size=(6, LATENT)), rng.normal(size=(6, LATENT)), metric(rng), 0.05
    rho_half = rho
    for _ in range(40):
        rho_half = rho - half * g.hamiltonian_gradient(model, x, z, rho_half)
    z_next = z
    for _ in range(40):
        z_next = z + half * (g.velocity(z, rho_half) + g.velocity(z_next, rho_half))
    np.testing.assert_allclose(rho_half, rho - half * g.hamiltonian_gradient(model, x, z, rho_half), atol=1e-12)
    np.testing.assert_allclose(z_next, z + half * (g.velocity(z, rho_half) + g.velocity(z_next, rho_half)), atol=1e-12)


def test_exp_of_the_rhvae_bound_is_an_unbiased_estimate_of_p_x(model):
    rng = np.random.default_rng(2)
    x, z0, gamma, log_q0 = importance_draws(model, 5_000, rng)
    bound = ref.rhvae_bound(model, x, metric(rng), z0, gamma, log_q0, steps=2, step_size=0.1, beta_0=0.5, iterations=20)
    ratio = np.exp(bound - model.log_evidence(x[:1])[0])
    error = ratio.std() / math.sqrt(len(ratio))
    assert ratio.mean() == pytest.approx(1.0, abs=4 * error) and error < 0.05
