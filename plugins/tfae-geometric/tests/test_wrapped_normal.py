"""WrappedNormalPrior ("wrapped_normal"): the paper's density at the origin, a normalised density over the ball, its
sampler, its refusals, and the tfae prior contract."""

import math
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from tfae.models import Autoencoder
from tfae.testing import ball, check_prior
from tfae_geometric.poincare import PoincareBottleneck
from tfae_geometric.wrapped_normal import WrappedNormalPrior

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def built(latent_dim, curvature=1.0, scale=1.0):
    prior = {"name": "wrapped_normal", "curvature": curvature, "scale": scale}
    return PoincareBottleneck(latent_dim, curvature=curvature, prior=prior).prior


@pytest.mark.parametrize("c, scale", [(1.0, 1.0), (0.2, 0.5)])
def test_log_density_is_the_papers_at_the_origin(c, scale, rng):
    direction = rng.normal(size=(2, 50, 3))
    codes = direction / np.linalg.norm(direction, axis=-1, keepdims=True) * rng.random((2, 50, 1)) * 0.99 / math.sqrt(c)
    value = numpy(built(3, c, scale).log_prob(codes.astype("float32")))
    zero, log_variance = np.zeros((1, 3)), np.full((1, 3), 2 * math.log(scale))
    expected = ref.wrapped_normal_log_density(codes, zero, log_variance, c, "lebesgue")
    np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("latent_dim", [1, 2])
def test_density_integrates_to_one_over_the_unit_ball(latent_dim):
    prior = built(latent_dim, 1.0, 0.8)
    axis = np.linspace(-1, 1, 200001 if latent_dim == 1 else 801)
    grid = np.stack(np.meshgrid(*[axis] * latent_dim, indexing="ij"), axis=-1).reshape(-1, latent_dim)
    mass = np.exp(numpy(prior.log_prob(grid.astype("float32")))).sum() * (axis[1] - axis[0]) ** latent_dim
    assert abs(mass - 1.0) < 2e-3


def test_draws_are_the_papers_sampler_of_the_seeded_normals():
    prior = built(2, 0.5, 0.7)
    normals = np.asarray(keras.random.normal((64, 2), seed=3, dtype="float32"), "float64")
    expected = ref.wrapped_normal_sample(np.zeros((1, 2)), np.full((1, 2), 2 * math.log(0.7)), normals, 0.5)
    np.testing.assert_allclose(numpy(prior.sample(64, seed=3)), expected, rtol=1e-5, atol=1e-6)


def test_fulfils_the_prior_contract():
    # On the unit ball, where the density lives: the check integrates it against the ball's uniform distribution
    # and scores codes inside it (standard normal codes may lie outside, where the density is 0).
    bottleneck = {"name": "poincare", "curvature": 1.0, "seed": 0}
    check_prior(lambda: WrappedNormalPrior(curvature=1.0, scale=0.8), bottleneck=bottleneck, codes=ball(1.0))


def test_log_density_outside_the_ball_is_minus_infinity():
    assert numpy(built(2).log_prob(np.array([[1.5, 0.0]], "float32")))[0] == -np.inf


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), "1"])
def test_a_scale_that_is_not_positive_is_refused(scale):
    with pytest.raises(ValueError, match=r"`scale` must be a positive number\. Received: scale="):
        WrappedNormalPrior(scale=scale)


def test_a_bottleneck_off_the_ball_is_refused_when_it_is_made():
    refusal = r"GaussianBottleneck draws codes that may lie outside it.*use it with the 'poincare' bottleneck"
    with pytest.raises(ValueError, match=refusal):
        Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "prior": "wrapped_normal"})
