"""PoincareBottleneck ("poincare"): draws that follow the paper's wrapped normal, their densities, its curvature and
prior checks, and the tfae bottleneck contract (whose density checks it passes: its densities are on R^d)."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from tfae.testing import check_bottleneck
from tfae_geometric.poincare import PoincareBottleneck
from tfae_geometric.poincare_ball import wrapped_normal_tangent
from tfae_geometric.wrapped_normal import WrappedNormalPrior

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


@pytest.mark.parametrize("c", [0.3, 1.0])
def test_draws_are_the_papers_wrapped_normal(c):
    n = 20000
    bottleneck = PoincareBottleneck(latent_dim=3, curvature=c, seed=4)
    mean = np.array([[0.4, -0.3, 0.2]]) / math.sqrt(c)
    log_variance = np.log([[0.5, 0.2, 1.0]])
    code = numpy(bottleneck.sample(*(np.repeat(a, n, axis=0).astype("float32") for a in (mean, log_variance))))
    assert np.all(math.sqrt(c) * np.linalg.norm(code, axis=-1) < 1.0)
    # Each draw is exp_mu(v / lambda_mu) of a Gaussian v: its tangent vector, scaled, is standard normal.
    tangent = numpy(wrapped_normal_tangent(code.astype("float32"), mean.astype("float32"), c))
    standard = tangent / np.exp(0.5 * log_variance)
    for column in standard.T:
        values = np.sort(column)
        cdf = 0.5 * (1 + np.vectorize(math.erf)(values / math.sqrt(2)))
        assert np.max(np.abs(cdf - np.arange(1, n + 1) / n)) * math.sqrt(n) < 1.95
    np.testing.assert_allclose(np.corrcoef(standard.T), np.eye(3), atol=0.04)
    # The posterior's log-density of its draws is the paper's.
    found = bottleneck.joint_log_density(*(a.astype("float32") for a in (code[:200], mean, log_variance)))
    expected = ref.wrapped_normal_log_density(code[:200], mean, log_variance, c, "lebesgue")
    np.testing.assert_allclose(numpy(found), expected, rtol=1e-4, atol=5e-4)


def test_fulfils_the_bottleneck_contract():
    # Two dimensions: the check also integrates the posterior's density on a grid and by Monte Carlo.
    check_bottleneck(lambda: PoincareBottleneck(latent_dim=2, curvature=1.0, regularizer="poincare_kld", seed=0))


def test_its_default_prior_is_the_wrapped_normal_on_its_own_ball():
    bottleneck = PoincareBottleneck(latent_dim=2, curvature=0.25)
    assert isinstance(bottleneck.prior, WrappedNormalPrior) and bottleneck.prior.curvature == 0.25
    config = bottleneck.get_config()
    assert config["curvature"] == 0.25
    prior = {key: config["prior"][key] for key in ("name", "curvature", "scale")}
    assert prior == {"name": "wrapped_normal", "curvature": 0.25, "scale": 1.0}
    rebuilt = PoincareBottleneck.from_config(config)
    assert rebuilt.curvature == 0.25 and rebuilt.prior.curvature == 0.25


@pytest.mark.parametrize("curvature", [0, -1.0, float("inf"), "1", True])
def test_a_curvature_that_is_not_positive_is_refused(curvature):
    with pytest.raises(ValueError, match=r"PoincareBottleneck's `curvature` is c > 0 .* Received: curvature="):
        PoincareBottleneck(latent_dim=2, curvature=curvature)


def test_a_wrapped_normal_prior_on_another_ball_is_refused():
    refusal = r"curvature 1.0, but the bottleneck's curvature is 0.5: give the prior curvature=0.5"
    with pytest.raises(ValueError, match=refusal):
        PoincareBottleneck(latent_dim=2, curvature=0.5, prior="wrapped_normal")
