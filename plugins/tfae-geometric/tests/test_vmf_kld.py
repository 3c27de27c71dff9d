"""VonMisesFisherKLDRegularizer ("vmf_kld"): the paper's KL of each sample, weighted by beta, its refusals, and the
tfae regularizer contract."""

import sys
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.priors import BasePrior
from tfae.testing import check_regularizer
from tfae_geometric.vmf_kld import VonMisesFisherKLDRegularizer
from tfae_geometric.von_mises_fisher import VonMisesFisherBottleneck

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402


def test_penalty_is_beta_times_the_batch_mean_of_the_papers_kl(rng):
    bottleneck = VonMisesFisherBottleneck(latent_dim=4)
    direction = rng.normal(size=(5, 4))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    concentration = np.array([[1e-3], [0.7], [12.0], [60.0], [4e3]])
    posterior = Posterior((direction, concentration), direction, bottleneck)
    regularizer = VonMisesFisherKLDRegularizer(beta=0.5)
    expected = ref.vmf_kl_to_uniform(4, concentration[:, 0])
    np.testing.assert_allclose(ops.convert_to_numpy(regularizer.penalty(posterior)), expected, rtol=1e-5)
    assert float(regularizer(posterior)) == pytest.approx(0.5 * expected.mean(), rel=1e-5)


def test_fulfils_the_regularizer_contract():
    check_regularizer(lambda: VonMisesFisherKLDRegularizer(beta=0.5), bottleneck={"name": "vmf", "seed": 0})


def test_a_gaussian_bottleneck_is_refused_naming_both():
    refusal = (
        r"'vmf_kld' \(VonMisesFisherKLDRegularizer\) is computed from a von_mises_fisher posterior's parameters, "
        r"but the bottleneck 'gaussian' \(GaussianBottleneck\) has a gaussian posterior"
    )
    with pytest.raises(ValueError, match=refusal):
        GaussianBottleneck(latent_dim=3, regularizer="vmf_kld")


class CapPrior(BasePrior):
    """Another distribution on the sphere (uniform on the upper half): the closed form does not hold against it."""

    manifold = "sphere"

    def log_prob(self, code):
        return ops.where(code[..., 0] >= 0, -np.log(2 * np.pi), -np.inf)


def test_a_prior_other_than_the_uniform_one_is_refused_saying_what_to_do():
    refusal = (
        r"'vmf_kld' \(VonMisesFisherKLDRegularizer\) is the closed form against the 'hyperspherical_uniform' prior, "
        r"but the bottleneck's prior is CapPrior: leave the vmf bottleneck's prior at its default, or train with the "
        r"'iwae' objective"
    )
    with pytest.raises(ValueError, match=refusal):
        VonMisesFisherBottleneck(latent_dim=2, prior=CapPrior(), regularizer="vmf_kld")
