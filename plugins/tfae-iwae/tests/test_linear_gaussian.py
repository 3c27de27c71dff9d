"""The bounds on a linear-Gaussian model, whose log p(x) is exact: equal to it under the exact posterior, below it
(within Monte Carlo noise) under another, ordered as the paper says, the ELBO's gap the closed-form KL."""

import sys
from pathlib import Path

import numpy as np
import pytest

from tfae import plugins
from tfae_iwae import CIWAE, MIWAE

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402
from terms import linear_gaussian_model, linear_gaussian_terms, sample_linear_gaussian, to_numpy  # noqa: E402

SHIFT, WIDEN = 0.3, 0.5  # the approximate posterior: the exact one's means moved, log-variances raised
OBJECTIVES = {
    "miwae(2, 4)": (lambda: MIWAE(m=2, k=4), "miwae_bound"),
    "miwae(8, 1)": (lambda: MIWAE(m=8, k=1), "miwae_bound"),
    "ciwae(0.5, 8)": (lambda: CIWAE(beta=0.5, importance_samples=8), "ciwae_bound"),
    "ciwae(1, 8)": (lambda: CIWAE(beta=1.0, importance_samples=8), "ciwae_bound"),
    "iwae(8)": (lambda: plugins.resolve("objective", {"name": "iwae", "importance_samples": 8}), "iwae_bound"),
}


@pytest.fixture(scope="module")
def model():
    return linear_gaussian_model(np.random.default_rng(7))


@pytest.mark.parametrize("name", OBJECTIVES)
def test_under_the_exact_posterior_every_bound_is_log_p_x(name, model):
    rng = np.random.default_rng(1)
    x = sample_linear_gaussian(model, 32, rng)
    make, logged = OBJECTIVES[name]
    terms = linear_gaussian_terms(model, x, rng, codes=8)
    bound = to_numpy(make()(terms)[logged])
    np.testing.assert_allclose(bound, model.log_evidence(x), rtol=1e-5, atol=1e-4)


def test_under_another_posterior_each_is_below_log_p_x_and_they_are_ordered(model):
    # 4000 samples of x, each with its own 8 codes from a posterior shifted and widened away from the exact one.
    rng = np.random.default_rng(2)
    x = sample_linear_gaussian(model, 4000, rng)
    terms = linear_gaussian_terms(model, x, rng, codes=8, shift=SHIFT, widen=WIDEN)
    gaps = {}
    errors = {}
    for name, (make, logged) in OBJECTIVES.items():
        gap = to_numpy(make()(terms)[logged]) - model.log_evidence(x)
        standard_error = gap.std() / np.sqrt(len(gap))
        assert gap.mean() <= 4 * standard_error, (
            f"{name}: E[bound] - log p(x) = {gap.mean():.4f} +- {standard_error:.4f}"
        )
        gaps[name], errors[name] = gap.mean(), standard_error
    # The ELBO (miwae(8, 1), ciwae(1, 8)) is loosest, IWAE with all 8 codes tightest, the others between; the
    # ELBO's gap is many standard errors wide, so the check above is not vacuous.
    assert gaps["miwae(8, 1)"] == pytest.approx(gaps["ciwae(1, 8)"], abs=1e-4)
    assert gaps["ciwae(1, 8)"] < gaps["ciwae(0.5, 8)"] < gaps["iwae(8)"]
    assert gaps["miwae(8, 1)"] < gaps["miwae(2, 4)"] < gaps["iwae(8)"]
    # The ELBO's expected gap is -KL(q(z | x) || p(z | x)), in closed form here.
    mean, log_variance = model.posterior(x)
    kl = ref.gaussian_kl(mean + SHIFT, log_variance + WIDEN, mean, log_variance).mean()
    assert gaps["ciwae(1, 8)"] == pytest.approx(-kl, abs=4 * errors["ciwae(1, 8)"])
    assert kl > 20 * errors["ciwae(1, 8)"]
