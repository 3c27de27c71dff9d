"""HypersphericalUniformPrior ("hyperspherical_uniform"): its log-density is minus the log of the sphere's area,
its draws are uniform on the sphere, latent_dim < 2 and bottlenecks off the sphere are refused, and it fulfils the
tfae prior contract."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from tfae.bottlenecks import GaussianBottleneck
from tfae.models import Autoencoder
from tfae.testing import UNIT_SPHERE, check_prior
from tfae_geometric.hyperspherical_uniform import HypersphericalUniformPrior
from tfae_geometric.von_mises_fisher import VonMisesFisherBottleneck

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402


def built(latent_dim):
    return VonMisesFisherBottleneck(latent_dim=latent_dim).prior


@pytest.mark.parametrize("m", [2, 3, 5, 12])
def test_log_density_is_minus_the_log_area_of_the_sphere(m, rng):
    codes = rng.normal(size=(3, 4, m)).astype("float32")
    expected = np.full((3, 4), -math.log(ref.sphere_area(m)))
    np.testing.assert_allclose(ops.convert_to_numpy(built(m).log_prob(codes)), expected, rtol=1e-6)
    assert ref.sphere_area(2) == pytest.approx(2 * math.pi) and ref.sphere_area(3) == pytest.approx(4 * math.pi)


def test_draws_are_uniform_on_the_circle_and_the_two_sphere():
    n = 20000
    circle = np.asarray(ops.convert_to_numpy(built(2).sample(n, seed=1)), "float64")
    np.testing.assert_allclose(np.linalg.norm(circle, axis=-1), 1.0, atol=1e-6)
    angles = np.sort((np.arctan2(circle[:, 1], circle[:, 0]) + math.pi) / (2 * math.pi))
    # Archimedes: on S^2 each coordinate is uniform on [-1, 1].
    sphere = np.asarray(ops.convert_to_numpy(built(3).sample(n, seed=2)), "float64")
    heights = np.sort((sphere[:, 2] + 1) / 2)
    for values in (angles, heights):
        statistic = np.max(np.abs(values - np.arange(1, n + 1) / n)) * math.sqrt(n)
        assert statistic < 1.95, statistic  # Kolmogorov-Smirnov at 0.1%


def test_fulfils_the_prior_contract():
    # On the sphere, with the vmf bottleneck: the check integrates the density against the sphere's measure.
    check_prior(
        lambda: HypersphericalUniformPrior(latent_dim=3), bottleneck={"name": "vmf", "seed": 0}, codes=UNIT_SPHERE
    )


def test_latent_dim_below_2_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"needs latent_dim >= 2 \(S\^0 is two points\).*Received: latent_dim=1$"):
        HypersphericalUniformPrior(latent_dim=1)
    with pytest.raises(ValueError, match=r"Received: latent_dim=1$"):
        GaussianBottleneck(latent_dim=1, prior="hyperspherical_uniform")


def test_a_bottleneck_off_the_sphere_is_refused_when_it_is_made():
    refusal = r"the bottleneck GaussianBottleneck draws codes off it.*use it with the 'vmf' bottleneck"
    with pytest.raises(ValueError, match=refusal):
        Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 3, "prior": "hyperspherical_uniform"})
