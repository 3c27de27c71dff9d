"""The prior contract: each built-in prior's density against NumPy, the KL against it, sampling, saving, bad input."""

import keras
import numpy as np
import pytest
from keras import ops

import tfae
from tfae.bottlenecks import BernoulliBottleneck, GaussianBottleneck
from tfae.models import Autoencoder
from tfae.priors import MixturePrior, StandardNormalPrior

pytestmark = pytest.mark.backend_neutral


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def numpy_gaussian_log_density(z, mean, log_variance):
    return -0.5 * np.sum(np.log(2 * np.pi) + log_variance + (z - mean) ** 2 / np.exp(log_variance), axis=-1)


def numpy_logsumexp(values, axis):
    top = values.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.exp(values - top).sum(axis=axis))


def test_standard_normal_is_the_gaussian_bottlenecks_default_and_keeps_its_numbers(rng):
    bottleneck = GaussianBottleneck(latent_dim=3)
    assert isinstance(bottleneck.prior, StandardNormalPrior)
    z = rng.normal(size=(5, 3)).astype("float32")
    expected = numpy_gaussian_log_density(z, 0.0, 0.0)
    np.testing.assert_allclose(to_numpy(bottleneck.joint_log_prior(z)), expected, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(bottleneck.log_prior(z)).sum(-1), expected, rtol=1e-6)
    # The same draws as keras.random.normal with the seed: samples of models saved before priors stay the same.
    np.testing.assert_array_equal(
        to_numpy(bottleneck.sample_prior(4, seed=2)), to_numpy(keras.random.normal((4, 3), seed=2))
    )


def test_mixture_log_prob_is_the_log_of_the_weighted_sum_of_gaussians(rng):
    prior = MixturePrior(components=4, seed=1)
    prior.build(3)
    means = rng.normal(size=(4, 3)).astype("float32")
    log_variances = rng.normal(scale=0.5, size=(4, 3)).astype("float32")
    logits = rng.normal(size=4).astype("float32")
    prior.means.assign(means)
    prior.log_variances.assign(log_variances)
    prior.logits.assign(logits)
    z = rng.normal(size=(7, 3)).astype("float32")
    weights = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    per_component = np.stack([numpy_gaussian_log_density(z, means[k], log_variances[k]) for k in range(4)], axis=-1)
    expected = numpy_logsumexp(per_component + np.log(weights), axis=-1)
    np.testing.assert_allclose(to_numpy(prior.log_prob(z)), expected, rtol=1e-5)
    assert not prior.factorizes
    # k codes per sample: shape (k, batch).
    assert tuple(prior.log_prob(np.stack([z, z])).shape) == (2, 7)


def test_mixture_samples_follow_its_density(rng):
    prior = MixturePrior(components=2, seed=0)
    prior.build(1)
    prior.means.assign(np.array([[-3.0], [2.0]], "float32"))
    prior.log_variances.assign(np.log(np.array([[0.25], [1.0]], "float32")))
    prior.logits.assign(np.log(np.array([0.3, 0.7], "float32")))
    samples = to_numpy(prior.sample(20000, seed=4)).ravel()
    assert np.mean(samples < -0.5) == pytest.approx(0.3, abs=0.015)
    assert samples.mean() == pytest.approx(0.3 * -3 + 0.7 * 2, abs=0.05)
    np.testing.assert_array_equal(to_numpy(prior.sample(5, seed=1)), to_numpy(prior.sample(5, seed=1)))
    assert not np.array_equal(to_numpy(prior.sample(5, seed=1)), to_numpy(prior.sample(5, seed=2)))


def test_kld_against_a_mixture_prior_is_the_monte_carlo_estimate_of_the_drawn_code(rng):
    bottleneck = GaussianBottleneck(
        latent_dim=2, regularizer="kld", prior={"name": "mixture", "components": 3, "seed": 0}
    )
    mean = rng.normal(size=(6, 2)).astype("float32")
    log_variance = rng.normal(scale=0.2, size=(6, 2)).astype("float32")
    code = rng.normal(size=(6, 2)).astype("float32")
    posterior = tfae.bottlenecks.Posterior((mean, log_variance), code, bottleneck)
    prior = bottleneck.prior
    means, log_variances, logits = (to_numpy(v) for v in (prior.means, prior.log_variances, prior.logits))
    weights = np.exp(logits) / np.exp(logits).sum()
    log_p = numpy_logsumexp(
        np.stack([numpy_gaussian_log_density(code, means[k], log_variances[k]) for k in range(3)], -1)
        + np.log(weights),
        -1,
    )
    expected = np.mean(numpy_gaussian_log_density(code, mean, log_variance) - log_p)
    np.testing.assert_allclose(float(to_numpy(bottleneck.regularizer(posterior))), expected, rtol=1e-5)


def test_vamp_is_the_mean_of_the_pseudo_inputs_posteriors(digits):
    x = digits[0][:128]
    model = Autoencoder(
        bottleneck={
            "name": "gaussian",
            "latent_dim": 2,
            "regularizer": "kld",
            "prior": {"name": "vamp", "components": 5, "seed": 0},
        }
    )
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=1, verbose=0)
    prior = model.bottleneck.prior
    assert tuple(prior.pseudo_inputs.shape) == (5, 64)
    assert any(weight is prior.pseudo_inputs for weight in model.trainable_weights)
    mean, log_variance = (
        to_numpy(p)
        for p in model.bottleneck.distribution_parameters(
            model.feature_network(ops.convert_to_tensor(prior.pseudo_inputs))
        )
    )
    z = np.random.default_rng(1).normal(size=(9, 2)).astype("float32")
    per_component = np.stack([numpy_gaussian_log_density(z, mean[k], log_variance[k]) for k in range(5)], -1)
    expected = numpy_logsumexp(per_component, -1) - np.log(5)
    np.testing.assert_allclose(to_numpy(prior.log_prob(z)), expected, rtol=1e-5)


@pytest.mark.parametrize("prior", [{"name": "mixture", "components": 3}, {"name": "vamp", "components": 4}])
def test_a_learned_prior_trains_saves_and_loads_with_the_model(tmp_path, digits, prior):
    x = digits[0][:128]
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld", "prior": prior})
    model.compile(optimizer="adam", loss="bernoulli")
    before = [to_numpy(w) for w in model.bottleneck.prior.weights] if model.bottleneck.prior.weights else None
    model.fit(x, epochs=2, verbose=0)
    after = [to_numpy(w) for w in model.bottleneck.prior.weights]
    if before is not None:
        assert any(not np.allclose(a, b) for a, b in zip(before, after)), "the prior's weights trained"
    model.save(tmp_path / "model.keras")
    loaded = tfae.load_model(tmp_path / "model.keras")
    assert type(loaded.bottleneck.prior) is type(model.bottleneck.prior)
    z = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(loaded.bottleneck.prior.log_prob(z)), to_numpy(model.bottleneck.prior.log_prob(z)), rtol=1e-6
    )
    assert loaded.sample(3, seed=0).shape == (3, 64)


def test_a_bernoulli_bottleneck_has_the_uniform_binary_prior():
    bottleneck = BernoulliBottleneck(latent_dim=3)
    codes = np.array([[0, 1, 1], [1, 1, 1]], "float32")
    np.testing.assert_allclose(to_numpy(bottleneck.joint_log_prior(codes)), [3 * np.log(0.5)] * 2, rtol=1e-6)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: GaussianBottleneck(latent_dim=3, prior={"name": "mixture", "latent_dim": 4}),
            "The prior MixturePrior is for codes of 4 dimensions, but the bottleneck's latent_dim is 3",
        ),
        (
            lambda: GaussianBottleneck(latent_dim=3, prior="bernoulli"),
            "gives density to binary codes, but GaussianBottleneck draws real ones",
        ),
        (
            lambda: BernoulliBottleneck(latent_dim=3, prior="standard_normal"),
            "gives density to real codes, but BernoulliBottleneck draws binary ones",
        ),
        (
            lambda: GaussianBottleneck(latent_dim=3, prior={"name": "mixture", "components": 0}),
            "`components` must be a positive integer. Received: components=0",
        ),
        (lambda: GaussianBottleneck(latent_dim=3, prior="laplace"), "laplace"),
    ],
    ids=["dimension", "binary_on_gaussian", "real_on_bernoulli", "no_components", "unknown"],
)
def test_a_prior_that_does_not_fit_its_bottleneck_is_refused_with_the_numbers(make, message):
    with pytest.raises(ValueError) as raised:
        make()
    assert message in str(raised.value)


class PositivePrior(StandardNormalPrior):
    """A prior that can describe only a bottleneck that says its codes are positive."""

    def check_bottleneck(self, bottleneck):
        super().check_bottleneck(bottleneck)
        if not getattr(bottleneck, "positive", False):
            raise ValueError(f"PositivePrior needs positive codes, which {type(bottleneck).__name__} does not draw.")


class PositiveBottleneck(GaussianBottleneck):
    positive = True


def test_a_prior_refuses_a_bottleneck_it_cannot_describe_when_the_bottleneck_is_made():
    with pytest.raises(
        ValueError, match="^PositivePrior needs positive codes, which GaussianBottleneck does not draw.$"
    ):
        GaussianBottleneck(latent_dim=3, prior=PositivePrior())
    # Checked after the prior is built for the bottleneck's codes, and before the bottleneck's own weights.
    accepted = PositiveBottleneck(latent_dim=3, prior=PositivePrior(), regularizer="kld")
    assert accepted.prior.latent_dim == 3 and not accepted.dense.built
    # The default check, which a subclass's keeps, refuses codes of the other support.
    with pytest.raises(ValueError, match="gives density to real codes, but BernoulliBottleneck draws binary ones"):
        BernoulliBottleneck(latent_dim=3, prior=PositivePrior())


def test_vamp_on_an_encoder_with_open_sizes_is_refused_with_its_shape():
    class OpenLength(Autoencoder):
        def build(self, input_shape):
            super().build((None, None, 3))

        def make_encoder(self, encoder_input):
            return self.bottleneck(keras.layers.GlobalAveragePooling1D()(encoder_input))

        def make_decoder(self, decoder_input):
            return keras.layers.Reshape((1, 3))(keras.layers.Dense(3)(decoder_input))

    model = OpenLength(bottleneck={"name": "gaussian", "latent_dim": 2, "prior": {"name": "vamp", "components": 7}})
    with pytest.raises(
        ValueError,
        match=r"makes 7 pseudo-inputs of the data's shape, but this model's encoder takes "
        r"samples of shape \(None, 3\)",
    ):
        model.build((None, None, 3))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="only TensorFlow traces a batch of open size")
@pytest.mark.parametrize(
    "prior", [StandardNormalPrior(), MixturePrior(components=3, seed=0)], ids=["normal", "mixture"]
)
def test_a_prior_draws_as_many_codes_as_a_traced_batch_holds(prior):
    import tensorflow as tf

    prior.build(2)
    generator = keras.random.SeedGenerator(0)
    for jit_compile in (False, True):
        draw = tf.function(
            lambda codes: prior.sample(ops.shape(codes)[0], seed=generator),
            input_signature=[tf.TensorSpec((None, 2))],
            jit_compile=jit_compile,
        )
        assert tuple(draw(tf.zeros((5, 2))).shape) == (5, 2)
        assert tuple(draw(tf.zeros((7, 2))).shape) == (7, 2)


@pytest.mark.parametrize("n", [0, 2.0, True, np.zeros((2,), "int32"), ops.convert_to_tensor(1.5)])
def test_a_number_of_samples_that_is_not_a_positive_integer_is_refused(n):
    prior = StandardNormalPrior(latent_dim=2)
    with pytest.raises(
        ValueError, match=r"The number of samples must be a positive integer, or a scalar integer tensor"
    ):
        prior.sample(n)
