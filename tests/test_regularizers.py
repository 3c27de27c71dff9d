"""The regularizers equal their closed forms, computed independently in NumPy, and act on activity."""

import keras
import numpy as np
import pytest

from tfae.bottlenecks import BernoulliBottleneck, GaussianBottleneck, VanillaBottleneck
from tfae.plugins import resolve
from tfae.regularizers import (
    BernoulliKLDRegularizer,
    GaussianKLDRegularizer,
    GaussianReversedKLDRegularizer,
    L2Regularizer,
)

pytestmark = pytest.mark.backend_neutral


def gaussian_kl(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per sample, float64."""
    variance = np.exp(log_variance)
    return np.sum(0.5 * (mean**2 + variance - log_variance - 1.0), axis=-1)


def reversed_gaussian_kl(mean, log_variance):
    """KL(N(0, I) || N(mean, exp(log_variance))) per sample, from the general formula for two Gaussians."""
    prior_variance, posterior_variance = 1.0, np.exp(log_variance)
    per_dim = (
        0.5 * np.log(posterior_variance / prior_variance)
        + (prior_variance + (0.0 - mean) ** 2) / (2.0 * posterior_variance)
        - 0.5
    )
    return np.sum(per_dim, axis=-1)


def bernoulli_kl(logits):
    """KL(Bernoulli(sigmoid(logits)) || Bernoulli(0.5)) per sample, float64, stable for large |logits|."""
    log_q = -np.logaddexp(0.0, -logits)
    log_complement = -np.logaddexp(0.0, logits)
    return np.sum(np.exp(log_q) * (log_q - np.log(0.5)) + np.exp(log_complement) * (log_complement - np.log(0.5)), -1)


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def as_float32(*arrays):
    return [keras.ops.convert_to_tensor(a.astype("float32")) for a in arrays]


@pytest.fixture
def gaussian_parameters(rng):
    mean = rng.normal(0.0, 1.5, size=(7, 5)).astype("float32")
    log_variance = rng.uniform(-4.0, 3.0, size=(7, 5)).astype("float32")
    return mean, log_variance


@pytest.mark.parametrize(
    "regularizer_class, closed_form",
    [(GaussianKLDRegularizer, gaussian_kl), (GaussianReversedKLDRegularizer, reversed_gaussian_kl)],
)
def test_gaussian_regularizers_equal_the_closed_form(regularizer_class, closed_form, gaussian_parameters):
    mean, log_variance = gaussian_parameters
    expected = closed_form(mean.astype("float64"), log_variance.astype("float64"))
    regularizer = regularizer_class(beta=0.7)

    per_sample = to_numpy(regularizer.calc(*as_float32(mean, log_variance)))
    loss = to_numpy(regularizer(*as_float32(mean, log_variance)))

    assert per_sample.shape == (7,)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    assert loss.shape == ()
    np.testing.assert_allclose(loss, 0.7 * expected.mean(), rtol=1e-5)


def test_gaussian_kl_is_zero_at_the_prior_and_accurate_near_it():
    zeros = keras.ops.zeros((3, 4))
    assert float(GaussianKLDRegularizer()(zeros, zeros)) == 0.0
    assert float(GaussianReversedKLDRegularizer()(zeros, zeros)) == 0.0
    # Here exp(v) - 1 - v is about 5e-7; computed naively in float32 it is off by about 5%.
    log_variance = np.full((1, 4), 1e-3, dtype="float32").astype("float64")
    for regularizer_class, closed_form in [
        (GaussianKLDRegularizer, gaussian_kl),
        (GaussianReversedKLDRegularizer, reversed_gaussian_kl),
    ]:
        value = to_numpy(regularizer_class().calc(*as_float32(np.zeros((1, 4)), log_variance)))
        np.testing.assert_allclose(value, closed_form(np.zeros((1, 4)), log_variance), rtol=1e-3)


def test_l2_regularizer_equals_the_squared_norm(rng):
    code = rng.normal(size=(6, 3)).astype("float32")
    expected = np.sum(code.astype("float64") ** 2, axis=-1)
    regularizer = L2Regularizer(beta=0.25)

    np.testing.assert_allclose(to_numpy(regularizer.calc(*as_float32(code))), expected, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(regularizer(*as_float32(code))), 0.25 * expected.mean(), rtol=1e-6)


def test_bernoulli_kl_equals_the_closed_form_including_saturated_logits(rng):
    logits = rng.normal(0.0, 3.0, size=(5, 6))
    logits[0, :4] = [50.0, -50.0, 20.0, -20.0]
    logits[1, :] = [50.0, -50.0, 50.0, -50.0, 100.0, -100.0]
    expected = bernoulli_kl(logits)
    regularizer = BernoulliKLDRegularizer(beta=2.0)

    per_sample = to_numpy(regularizer.calc(*as_float32(logits)))
    loss = to_numpy(regularizer(*as_float32(logits)))

    assert np.all(np.isfinite(per_sample))
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    np.testing.assert_allclose(per_sample[1], 6 * np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(loss, 2.0 * expected.mean(), rtol=1e-5)
    assert float(regularizer(keras.ops.zeros((2, 3)))) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    "name, regularizer_class",
    [
        ("kld", GaussianKLDRegularizer),
        ("reversed_kld", GaussianReversedKLDRegularizer),
        ("l2", L2Regularizer),
        ("bernoulli_kld", BernoulliKLDRegularizer),
    ],
)
def test_regularizers_resolve_by_name_with_beta(name, regularizer_class):
    regularizer = resolve("regularizer", {"name": name, "beta": 0.5})
    assert type(regularizer) is regularizer_class
    assert regularizer.beta == 0.5


def test_beta_must_not_be_negative():
    with pytest.raises(ValueError, match=r"`beta`.*Received: beta=-1"):
        GaussianKLDRegularizer(beta=-1)


def gaussian_bottleneck(kernel, bias, regularizer="kld"):
    bottleneck = GaussianBottleneck(latent_dim=kernel.shape[1] // 2, regularizer=regularizer)
    bottleneck.build((None, kernel.shape[0]))
    bottleneck.dense.set_weights([kernel, bias])
    return bottleneck


@pytest.mark.parametrize("name, closed_form", [("kld", gaussian_kl), ("reversed_kld", reversed_gaussian_kl)])
def test_gaussian_penalty_is_the_kl_of_each_samples_posterior(name, closed_form, rng):
    kernel = rng.normal(0.0, 0.3, size=(6, 4)).astype("float32")
    bias = rng.normal(0.0, 0.3, size=(4,)).astype("float32")
    inputs = rng.normal(size=(9, 6)).astype("float32")
    bottleneck = gaussian_bottleneck(kernel, bias, regularizer=name)

    mean, log_variance = (to_numpy(p) for p in bottleneck.distribution_parameters(keras.ops.convert_to_tensor(inputs)))
    bottleneck(inputs, training=True)

    assert len(bottleneck.losses) == 1
    np.testing.assert_allclose(to_numpy(bottleneck.losses[0]), closed_form(mean, log_variance).mean(), rtol=1e-5)
    raw = inputs.astype("float64") @ kernel + bias
    np.testing.assert_allclose(mean, raw[:, :2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_variance, raw[:, 2:], rtol=1e-5, atol=1e-6)


def test_penalty_depends_on_the_posterior_not_on_the_kernel(rng):
    kernel = rng.normal(0.0, 0.3, size=(6, 4)).astype("float32")
    bias = rng.normal(0.0, 0.3, size=(4,)).astype("float32")
    inputs = rng.normal(size=(8, 6)).astype("float32")
    small = gaussian_bottleneck(kernel, bias)
    large = gaussian_bottleneck(10.0 * kernel, bias)

    small(inputs, training=False)
    large(inputs / 10.0, training=False)

    small_parameters = [to_numpy(p) for p in small.distribution_parameters(keras.ops.convert_to_tensor(inputs))]
    large_parameters = [to_numpy(p) for p in large.distribution_parameters(keras.ops.convert_to_tensor(inputs / 10.0))]
    np.testing.assert_allclose(large_parameters, small_parameters, rtol=1e-4, atol=1e-6)
    # A penalty on the kernel would grow 100-fold; the KL of the same posteriors stays the same.
    np.testing.assert_allclose(to_numpy(large.losses[0]), to_numpy(small.losses[0]), rtol=1e-4)
    np.testing.assert_allclose(to_numpy(small.losses[0]), gaussian_kl(*small_parameters).mean(), rtol=1e-5)


def test_bernoulli_penalty_is_the_kl_of_each_samples_logits(rng):
    bottleneck = BernoulliBottleneck(latent_dim=3, regularizer="bernoulli_kld")
    inputs = rng.normal(size=(5, 4)).astype("float32")
    bottleneck(inputs, training=True)
    (logits,) = bottleneck.distribution_parameters(keras.ops.convert_to_tensor(inputs))

    np.testing.assert_allclose(to_numpy(bottleneck.losses[0]), bernoulli_kl(to_numpy(logits)).mean(), rtol=1e-5)


def test_l2_penalty_is_the_squared_norm_of_the_code(rng):
    bottleneck = VanillaBottleneck(latent_dim=3, regularizer={"name": "l2", "beta": 0.1})
    inputs = rng.normal(size=(5, 4)).astype("float32")
    code = to_numpy(bottleneck(inputs))

    np.testing.assert_allclose(to_numpy(bottleneck.losses[0]), 0.1 * np.sum(code**2, axis=-1).mean(), rtol=1e-5)
