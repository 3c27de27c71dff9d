"""The "monte_carlo_kl" regularizer: its value against NumPy, its expectation against the closed-form KL, the tfae
contract, and how it sits with the objectives (the default ELBO, IWAE)."""

import numpy as np
import pytest
from keras import ops

import numpy_reference as ref
from tfae import plugins, testing
from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.models import Autoencoder
from tfae_flows import MonteCarloKLRegularizer, PlanarBottleneck


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def test_it_fulfils_the_tfae_regularizer_contract():
    testing.check_regularizer(lambda: MonteCarloKLRegularizer(beta=0.5))


def test_on_a_gaussian_it_is_log_q_minus_log_p_of_the_code_and_averages_to_the_closed_form(rng):
    mean = rng.normal(size=(3, 2)).astype("float32")
    log_variance = rng.normal(size=(3, 2)).astype("float32") * 0.5
    code = (mean + np.exp(0.5 * log_variance) * rng.normal(size=(3, 2))).astype("float32")
    posterior = Posterior((mean, log_variance), code, GaussianBottleneck(2))
    expected = ref.gaussian_log_density(code, mean, log_variance) - ref.standard_normal_log_density(code)
    regularizer = MonteCarloKLRegularizer(beta=2.0)
    np.testing.assert_allclose(to_numpy(regularizer.penalty(posterior)), expected, rtol=1e-5, atol=1e-5)
    assert float(regularizer(posterior)) == pytest.approx(2.0 * expected.mean(), rel=1e-5)

    # Over many codes its mean is KL(N(mean, var) || N(0, I)) = 0.5 * sum(mean^2 + var - log var - 1).
    draws = 200_000
    many = mean[0] + np.exp(0.5 * log_variance[0]) * rng.normal(size=(draws, 2))
    repeated = (np.repeat(mean[:1], draws, axis=0), np.repeat(log_variance[:1], draws, axis=0))
    estimate = to_numpy(regularizer.penalty(Posterior(repeated, many, GaussianBottleneck(2)))).mean()
    closed_form = 0.5 * np.sum(mean[0] ** 2 + np.exp(log_variance[0]) - log_variance[0] - 1)
    assert estimate == pytest.approx(closed_form, abs=0.02)


def test_on_a_flow_it_reads_the_log_density_drawn_with_the_code(rng):
    bottleneck = PlanarBottleneck(2, flows=2)
    posterior = bottleneck.posterior(rng.normal(size=(4, 5)).astype("float32"), sampling="reparameterized")
    given = to_numpy(posterior.log_density())
    expected = given - ref.standard_normal_log_density(to_numpy(posterior.code))
    penalty = to_numpy(MonteCarloKLRegularizer().penalty(posterior))
    np.testing.assert_allclose(penalty, expected, rtol=1e-5, atol=1e-5)


def test_the_default_regularizer_of_a_flow_makes_iwae_refuse_it_and_none_compiles_with_iwae():
    model = Autoencoder(bottleneck={"name": "planar", "latent_dim": 2, "flows": 2})
    with pytest.raises(
        ValueError,
        match=r"would count the divergence from the prior twice: build the bottleneck "
        r"'planar' \(PlanarBottleneck\) without it: regularizer=None, or a list "
        r"that leaves it out\.$",
    ) as refusal:
        model.compile(optimizer="adam", loss="bernoulli", objective={"name": "iwae", "importance_samples": 3})
    assert "monte_carlo_kl" in str(refusal.value)

    # Without it, IWAE's bound holds the KL (iaf_maf_iwae.toml trains so, in test_examples.py).
    for none in (None, []):
        model = Autoencoder(bottleneck={"name": "planar", "latent_dim": 2, "flows": 2, "regularizer": none})
        model.compile(optimizer="adam", loss="bernoulli", objective={"name": "iwae", "importance_samples": 3})
        assert model.bottleneck.regularizers == []


@pytest.mark.parametrize(
    "bottleneck, message",
    [
        (
            {"name": "vanilla", "latent_dim": 2},
            r"'monte_carlo_kl' \(MonteCarloKLRegularizer\) needs the log-density of codes under the posterior and the "
            r"prior \(log q\(z \| x\) - log p\(z\) of the drawn code\), which the bottleneck 'vanilla'",
        ),
        (
            {"name": "bernoulli", "latent_dim": 2},
            r"which the bottleneck 'bernoulli' \(BernoulliBottleneck\) relaxes while training, where its Bernoulli "
            r"density does not hold: use 'bernoulli_kld'",
        ),
    ],
)
def test_it_refuses_bottlenecks_whose_code_it_cannot_score(bottleneck, message):
    with pytest.raises(ValueError, match=message) as refusal:
        plugins.resolve("bottleneck", {**bottleneck, "regularizer": "monte_carlo_kl"})
    assert "\n" not in str(refusal.value)


def test_it_is_registered_by_tfae_flows():
    (entry,) = [entry for entry in plugins.list_components("regularizer") if entry.name == "monte_carlo_kl"]
    assert entry.component is MonteCarloKLRegularizer and entry.distribution == "tfae-flows"
    assert plugins.resolve("regularizer", {"name": "mc_kl", "beta": 0.5}).beta == 0.5
