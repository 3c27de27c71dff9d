"""Self-checks of the NumPy reference (no tfae, no Keras): identities, hand cases, and the linear-Gaussian model."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402


def test_the_bounds_of_hand_made_weights():
    # Two samples, four codes each: weights 1, 2, 3, 6 (so the mean weight is 3) and four equal weights e.
    log_weights = np.log(np.array([[1.0, math.e], [2.0, math.e], [3.0, math.e], [6.0, math.e]]))
    np.testing.assert_allclose(ref.iwae_bound(log_weights), [math.log(3.0), 1.0], rtol=1e-15)
    np.testing.assert_allclose(ref.elbo(log_weights), [math.log(36.0) / 4, 1.0], rtol=1e-15)
    # Two groups {1, 2} and {3, 6}: the mean of log 1.5 and log 4.5.
    np.testing.assert_allclose(
        ref.miwae_bound(log_weights, 2, 2), [(math.log(1.5) + math.log(4.5)) / 2, 1.0], rtol=1e-15
    )
    np.testing.assert_allclose(
        ref.ciwae_bound(log_weights, 0.25), [0.25 * math.log(36.0) / 4 + 0.75 * math.log(3.0), 1.0], rtol=1e-15
    )


def test_the_special_cases_of_miwae_and_ciwae(rng):
    log_weights = rng.normal(scale=3.0, size=(6, 4))
    np.testing.assert_allclose(ref.miwae_bound(log_weights, 1, 6), ref.iwae_bound(log_weights), rtol=1e-15)
    np.testing.assert_allclose(ref.miwae_bound(log_weights, 6, 1), ref.elbo(log_weights), rtol=1e-15)
    np.testing.assert_allclose(ref.ciwae_bound(log_weights, 1.0), ref.elbo(log_weights), rtol=1e-15)
    np.testing.assert_allclose(ref.ciwae_bound(log_weights, 0.0), ref.iwae_bound(log_weights), rtol=1e-15)


def test_logsumexp_is_stable_far_from_zero():
    np.testing.assert_allclose(ref.logsumexp(np.array([[-1000.0], [-1000.0]]), axis=0), [-1000.0 + math.log(2.0)])
    np.testing.assert_allclose(ref.logsumexp(np.array([[800.0], [0.0]]), axis=0), [800.0])


def test_gaussian_log_density_is_the_normal_density():
    z, mean, variance = np.array([0.5, -1.0]), np.array([0.0, 1.0]), np.array([2.0, 0.5])
    expected = np.sum(-0.5 * np.log(2 * np.pi * variance) - (z - mean) ** 2 / (2 * variance))
    assert ref.gaussian_log_density(z, mean, np.log(variance)) == pytest.approx(expected, rel=1e-14)


def linear_gaussian(rng):
    basis, _ = np.linalg.qr(rng.normal(size=(3, 2)))
    return ref.LinearGaussian(basis * np.array([1.0, 2.0]), rng.normal(size=3), 0.3)


def test_the_linear_gaussian_evidence_is_bayes_rule_at_every_code(rng):
    # log p(x) = log p(x | z) + log p(z) - log p(z | x) for every z: the exact posterior's weights are all p(x).
    model = linear_gaussian(rng)
    x = rng.normal(size=(4, 3))
    mean, log_variance = model.posterior(x)
    z = rng.normal(scale=2.0, size=(5, 4, 2))
    log_weights = ref.log_weights(
        model.log_likelihood(x, z),
        ref.gaussian_log_density(z, 0.0, 0.0),
        ref.gaussian_log_density(z, mean, log_variance),
    )
    np.testing.assert_allclose(log_weights, np.broadcast_to(model.log_evidence(x), (5, 4)), rtol=1e-12)


def test_the_linear_gaussian_evidence_integrates_to_one_in_one_dimension():
    model = ref.LinearGaussian(np.array([[1.5]]), np.array([0.3]), 0.4)
    grid, step = np.linspace(-15.0, 15.0, 30001, retstep=True)
    assert np.sum(np.exp(model.log_evidence(grid[:, None]))) * step == pytest.approx(1.0, abs=1e-9)


def test_gaussian_kl_is_the_monte_carlo_mean_of_the_log_ratio(rng):
    mean_q, log_variance_q = np.array([0.3, -1.0]), np.array([0.2, -0.5])
    mean_p, log_variance_p = np.array([0.0, 0.5]), np.array([0.0, 0.4])
    z = mean_q + np.exp(0.5 * log_variance_q) * rng.normal(size=(400000, 2))
    log_q = ref.gaussian_log_density(z, mean_q, log_variance_q)
    log_ratio = log_q - ref.gaussian_log_density(z, mean_p, log_variance_p)
    kl = ref.gaussian_kl(mean_q, log_variance_q, mean_p, log_variance_p)
    assert kl == pytest.approx(log_ratio.mean(), abs=4 * log_ratio.std() / np.sqrt(len(z)))
    assert ref.gaussian_kl(mean_q, log_variance_q, mean_q, log_variance_q) == 0.0
