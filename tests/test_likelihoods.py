"""The likelihood losses are negative log-likelihoods in nats, summed over every non-batch axis."""

import math

import keras
import numpy as np
import pytest

from tfae.likelihoods import BernoulliLikelihood, GaussianLikelihood
from tfae.plugins import resolve

pytestmark = pytest.mark.backend_neutral

IMAGE_SHAPE = (4, 8, 8, 1)


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def bernoulli_nll(targets, logits):
    """-log Bernoulli(targets | sigmoid(logits)) per sample, float64: softplus(l) - x * l, summed."""
    per_feature = np.logaddexp(0.0, logits) - targets * logits
    return per_feature.reshape(len(targets), -1).sum(axis=1)


def gaussian_nll(targets, mean, log_variance):
    """-log N(targets | mean, exp(log_variance)) per sample, float64, with its 0.5 * log(2 pi) constant."""
    variance = np.exp(log_variance)
    per_feature = 0.5 * (targets - mean) ** 2 / variance + 0.5 * log_variance + 0.5 * np.log(2.0 * np.pi)
    return np.broadcast_to(per_feature, targets.shape).reshape(len(targets), -1).sum(axis=1)


def test_bernoulli_nll_equals_binary_cross_entropy_summed_over_an_image(rng):
    targets = rng.uniform(size=IMAGE_SHAPE).astype("float32")
    targets[0] = np.round(targets[0])
    logits = rng.normal(0.0, 4.0, size=IMAGE_SHAPE).astype("float32")
    logits[1, 0, :6, 0] = [100.0, -100.0, 1e4, -1e4, 30.0, -30.0]
    targets[1, 0, :6, 0] = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    likelihood = BernoulliLikelihood()

    nll = to_numpy(likelihood.negative_log_likelihood(targets, logits))

    assert nll.shape == (4,)
    assert np.all(np.isfinite(nll))
    np.testing.assert_allclose(nll, bernoulli_nll(targets.astype("float64"), logits.astype("float64")), rtol=1e-5)


def test_bernoulli_likelihood_maps_logits_to_probabilities(rng):
    logits = rng.normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(to_numpy(BernoulliLikelihood()(logits)), 1.0 / (1.0 + np.exp(-logits)), rtol=1e-6)


def test_bernoulli_nll_of_even_odds_is_log_2_per_feature():
    nll = BernoulliLikelihood().negative_log_likelihood(keras.ops.ones((2, 3, 3)), keras.ops.zeros((2, 3, 3)))
    np.testing.assert_allclose(to_numpy(nll), [9 * math.log(2.0)] * 2, rtol=1e-6)


@pytest.mark.parametrize("variance", [1.0, 0.3, 4])
def test_gaussian_nll_with_fixed_variance_includes_its_constant(variance, rng):
    targets = rng.normal(size=IMAGE_SHAPE).astype("float32")
    mean = rng.normal(size=IMAGE_SHAPE).astype("float32")
    likelihood = GaussianLikelihood(variance=variance)

    nll = to_numpy(likelihood.negative_log_likelihood(targets, mean))

    expected = gaussian_nll(targets.astype("float64"), mean.astype("float64"), math.log(variance))
    assert nll.shape == (4,)
    np.testing.assert_allclose(nll, expected, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(likelihood(mean)), mean)


def test_gaussian_nll_of_a_perfect_unit_variance_fit_is_the_constant():
    nll = GaussianLikelihood().negative_log_likelihood(keras.ops.zeros(IMAGE_SHAPE), keras.ops.zeros(IMAGE_SHAPE))
    np.testing.assert_allclose(to_numpy(nll), [64 * 0.5 * math.log(2.0 * math.pi)] * 4, rtol=1e-6)


def test_learned_gaussian_variance_is_a_trainable_weight_per_feature(rng):
    likelihood = GaussianLikelihood(variance="learned")
    likelihood.build(IMAGE_SHAPE)
    log_variance = rng.uniform(-2.0, 2.0, size=IMAGE_SHAPE[1:]).astype("float32")
    likelihood.log_variance.assign(log_variance)
    targets = rng.normal(size=IMAGE_SHAPE).astype("float32")
    mean = rng.normal(size=IMAGE_SHAPE).astype("float32")

    nll = to_numpy(likelihood.negative_log_likelihood(targets, mean))

    assert [weight.path for weight in likelihood.trainable_weights] == [likelihood.log_variance.path]
    assert tuple(likelihood.log_variance.shape) == IMAGE_SHAPE[1:]
    expected = gaussian_nll(targets.astype("float64"), mean.astype("float64"), log_variance.astype("float64"))
    np.testing.assert_allclose(nll, expected, rtol=1e-5)


def test_shared_gaussian_variance_is_one_weight_whose_best_value_is_the_mean_squared_error(rng):
    likelihood = GaussianLikelihood(variance="shared")
    likelihood.build(IMAGE_SHAPE)
    targets = rng.normal(size=IMAGE_SHAPE).astype("float32")
    mean = rng.normal(size=IMAGE_SHAPE).astype("float32")
    assert tuple(likelihood.log_variance.shape) == ()

    # The maximum-likelihood variance shared by every feature is the mean squared error (as in PPCA's sigma^2).
    best = math.log(float(np.mean((targets.astype("float64") - mean) ** 2)))
    totals = {}
    for offset in (-0.1, 0.0, 0.1):
        likelihood.log_variance.assign(best + offset)
        nll = to_numpy(likelihood.negative_log_likelihood(targets, mean))
        expected = gaussian_nll(
            targets.astype("float64"), mean.astype("float64"), np.full(IMAGE_SHAPE[1:], best + offset)
        )
        np.testing.assert_allclose(nll, expected, rtol=1e-5)
        totals[offset] = nll.sum()
    assert totals[0.0] < totals[-0.1] and totals[0.0] < totals[0.1]


def test_learned_variance_is_trained_with_the_model():
    from tfae.models import Autoencoder

    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    model.compile(optimizer="sgd", loss={"name": "gaussian", "variance": "learned"})
    model(np.zeros((2, 8, 8, 1), dtype="float32"))

    assert any(variable is model.likelihood.log_variance for variable in model.trainable_variables)


@pytest.mark.parametrize(
    "spec, likelihood_class",
    [("bernoulli", BernoulliLikelihood), ("gaussian", GaussianLikelihood), ({"name": "normal"}, GaussianLikelihood)],
)
def test_likelihoods_resolve_by_name(spec, likelihood_class):
    assert type(resolve("likelihood", spec)) is likelihood_class


@pytest.mark.parametrize("variance", [0, -1.0, math.inf, "fixed", True])
def test_gaussian_variance_must_be_positive_or_learned(variance):
    with pytest.raises(ValueError, match=rf"`variance`.*Received: variance={variance!r}"):
        GaussianLikelihood(variance=variance)


@pytest.mark.parametrize("variance", [0.5, "learned", "shared"])
def test_gaussian_likelihood_config_round_trips(variance):
    likelihood = GaussianLikelihood(variance=variance)
    rebuilt = GaussianLikelihood.from_config(likelihood.get_config())
    assert rebuilt.variance == likelihood.variance
