"""PoincareKLDRegularizer ("poincare_kld"): the Monte Carlo KL, log q(z|x) - log p(z) of the code drawn, against the
paper's densities, its refusal of other bottlenecks, and the tfae regularizer contract."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from tfae.bottlenecks import GaussianBottleneck
from tfae.testing import check_regularizer
from tfae_geometric.poincare import PoincareBottleneck
from tfae_geometric.poincare_kld import PoincareKLDRegularizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402


def test_penalty_is_the_papers_log_density_ratio_of_the_code_drawn(rng):
    c = 0.7
    prior = {"name": "wrapped_normal", "curvature": c, "scale": 0.6}
    bottleneck = PoincareBottleneck(latent_dim=3, curvature=c, prior=prior)
    features = rng.normal(size=(6, 5)).astype("float32")
    posterior = bottleneck.posterior(features, sampling="reparameterized")
    mean, log_variance = (np.asarray(ops.convert_to_numpy(p), "float64") for p in posterior.parameters)
    code = np.asarray(ops.convert_to_numpy(posterior.code), "float64")
    zero, prior_log_variance = np.zeros((1, 3)), np.full((1, 3), 2 * math.log(0.6))
    expected = ref.wrapped_normal_log_density(code, mean, log_variance, c, "lebesgue") - ref.wrapped_normal_log_density(
        code, zero, prior_log_variance, c, "lebesgue"
    )
    regularizer = PoincareKLDRegularizer(beta=2.0)
    np.testing.assert_allclose(ops.convert_to_numpy(regularizer.penalty(posterior)), expected, rtol=1e-4, atol=5e-4)
    # The volume element d log lambda_z cancels: the Riemannian densities give the same estimate.
    riemannian = ref.wrapped_normal_log_density(code, mean, log_variance, c) - ref.wrapped_normal_log_density(
        code, zero, prior_log_variance, c
    )
    np.testing.assert_allclose(expected, riemannian, rtol=1e-9, atol=1e-9)
    assert float(regularizer(posterior)) == pytest.approx(2.0 * expected.mean(), rel=1e-4, abs=1e-3)


def test_fulfils_the_regularizer_contract():
    check_regularizer(lambda: PoincareKLDRegularizer(beta=0.5), bottleneck={"name": "poincare", "seed": 0})


def test_a_gaussian_bottleneck_is_refused_naming_both():
    refusal = (
        r"'poincare_kld' \(PoincareKLDRegularizer\) is computed from a wrapped_normal posterior's parameters, but "
        r"the bottleneck 'gaussian' \(GaussianBottleneck\) has a gaussian posterior"
    )
    with pytest.raises(ValueError, match=refusal):
        GaussianBottleneck(latent_dim=3, regularizer="poincare_kld")
