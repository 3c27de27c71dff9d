"""Bottlenecks: gradients reach the encoder, sampling is right, and arguments are checked."""

import warnings

import keras
import numpy as np
import pytest

from tfae.bottlenecks import BaseBottleneck, BernoulliBottleneck, GaussianBottleneck, VanillaBottleneck
from tfae.models import DeepAutoencoder
from tfae.regularizers import GaussianKLDRegularizer, L2Regularizer

pytestmark = pytest.mark.backend_neutral


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def training_loss_gradients(model, x):
    """The gradient of the model's training loss on ``x`` for each of its trainable variables, on any backend."""
    if keras.backend.backend() == "jax":
        import jax

        def loss(trainable):
            return model.compute_loss_and_updates(
                trainable,
                [v.value for v in model.non_trainable_variables],
                [v.value for v in model.metrics_variables],
                x,
                x,
                None,
                training=True,
                optimizer_variables=[v.value for v in model.optimizer.variables],
            )

        gradients, _ = jax.jit(jax.grad(loss, has_aux=True))([v.value for v in model.trainable_variables])
        return gradients
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=x, training=True)
    return tape.gradient(loss, model.trainable_variables)


def add_hidden(x, layer_num, input_shape, latent_dim):
    return keras.layers.Dense(5, activation="tanh")(x), True


@pytest.mark.parametrize(
    "bottleneck",
    [
        {"name": "vanilla", "latent_dim": 3},
        {"name": "gaussian", "latent_dim": 3, "seed": 1},
        {"name": "bernoulli", "latent_dim": 3, "seed": 1},
        {"name": "bernoulli", "latent_dim": 3, "straight_through": True, "seed": 1},
    ],
    ids=["vanilla", "gaussian", "bernoulli_relaxed", "bernoulli_straight_through"],
)
def test_gradients_reach_every_encoder_weight(bottleneck, rng):
    # No regularizer: the gradient reaches the encoder through the code alone.
    x = rng.uniform(size=(16, 6)).astype("float32")
    model = DeepAutoencoder(bottleneck=bottleneck, add_hidden=add_hidden)
    model.compile(optimizer="sgd", loss="bernoulli")
    model(x[:1])

    gradients = training_loss_gradients(model, x)

    encoder_weights = model.encoder.trainable_variables
    assert len(encoder_weights) == 4, "a hidden Dense layer and the bottleneck's Dense layer, kernel and bias"
    checked = 0
    for variable, gradient in zip(model.trainable_variables, gradients):
        if any(variable is weight for weight in encoder_weights):
            gradient = to_numpy(gradient)
            assert np.all(np.isfinite(gradient)), variable.path
            assert np.all(gradient != 0.0), f"{variable.path} has zero gradient entries"
            checked += 1
    assert checked == 4


def test_gaussian_code_is_the_mean_at_inference_and_a_sample_while_training(rng):
    bottleneck = GaussianBottleneck(latent_dim=4, seed=3)
    x = rng.normal(size=(5, 6)).astype("float32")
    mean, _ = bottleneck.distribution_parameters(keras.ops.convert_to_tensor(x))

    first, second = to_numpy(bottleneck(x, training=False)), to_numpy(bottleneck(x, training=False))
    np.testing.assert_array_equal(first, to_numpy(mean))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(to_numpy(bottleneck(x)), first)

    sample_one, sample_two = to_numpy(bottleneck(x, training=True)), to_numpy(bottleneck(x, training=True))
    assert not np.allclose(sample_one, sample_two)
    assert not np.allclose(sample_one, first)


def test_gaussian_samples_are_reparameterised_with_the_standard_deviation():
    bottleneck = GaussianBottleneck(latent_dim=2, seed=0)
    bottleneck.build((None, 1))
    # mean (1, -2), log-variance (log 4, log 0.25): standard deviations 2 and 0.5.
    bias = np.array([1.0, -2.0, np.log(4.0), np.log(0.25)], "float32")
    bottleneck.dense.set_weights([np.zeros((1, 4), "float32"), bias])

    codes = to_numpy(bottleneck(np.zeros((4000, 1), "float32"), training=True))

    np.testing.assert_allclose(codes.mean(axis=0), [1.0, -2.0], atol=0.1)
    np.testing.assert_allclose(codes.std(axis=0), [2.0, 0.5], rtol=0.05)


def test_bernoulli_code_is_the_probability_at_inference(rng):
    bottleneck = BernoulliBottleneck(latent_dim=3, straight_through=True)
    x = rng.normal(size=(4, 5)).astype("float32")
    (logits,) = bottleneck.distribution_parameters(keras.ops.convert_to_tensor(x))

    probabilities = 1.0 / (1.0 + np.exp(-to_numpy(logits)))
    np.testing.assert_allclose(to_numpy(bottleneck(x, training=False)), probabilities, rtol=1e-6)


@pytest.mark.parametrize("straight_through", [False, True])
def test_bernoulli_samples_are_on_with_probability_sigmoid_logits(straight_through):
    bottleneck = BernoulliBottleneck(latent_dim=3, temperature=0.5, straight_through=straight_through, seed=0)
    bottleneck.build((None, 1))
    bottleneck.dense.bias.assign(np.array([-1.0, 0.0, 2.0], "float32"))

    codes = to_numpy(bottleneck(np.zeros((4000, 1), "float32"), training=True))

    if straight_through:
        assert set(np.unique(codes)) <= {0.0, 1.0}
    else:
        assert np.all((codes >= 0.0) & (codes <= 1.0))
        assert np.mean((codes > 0.0) & (codes < 1.0)) > 0.9
    # P(relaxed sample > 0.5) = sigmoid(logits) whatever the temperature.
    np.testing.assert_allclose((codes > 0.5).mean(axis=0), 1.0 / (1.0 + np.exp([1.0, 0.0, -2.0])), atol=0.03)


def test_gaussian_prior_samples():
    bottleneck = GaussianBottleneck(latent_dim=3)
    samples = to_numpy(bottleneck.sample_prior(2000, seed=4))

    assert samples.shape == (2000, 3)
    np.testing.assert_allclose(samples.mean(axis=0), 0.0, atol=0.1)
    np.testing.assert_allclose(samples.std(axis=0), 1.0, atol=0.1)
    same_seed = [to_numpy(bottleneck.sample_prior(5, seed=4)) for _ in range(2)]
    np.testing.assert_array_equal(same_seed[0], same_seed[1])
    assert bottleneck.sample_prior(2).shape == (2, 3)


def test_bernoulli_prior_samples():
    samples = to_numpy(BernoulliBottleneck(latent_dim=4).sample_prior(2000, seed=2))

    assert samples.shape == (2000, 4)
    assert set(np.unique(samples)) == {0.0, 1.0}
    np.testing.assert_allclose(samples.mean(axis=0), 0.5, atol=0.05)


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_prior_sample_count_must_be_positive(n):
    with pytest.raises(ValueError, match=rf"Received: n={n!r}"):
        GaussianBottleneck(latent_dim=2).sample_prior(n)


def test_vanilla_bottleneck_has_no_prior():
    with pytest.raises(NotImplementedError, match="VanillaBottleneck has no prior to sample from"):
        VanillaBottleneck(latent_dim=2).sample_prior(3)


def test_vanilla_code_is_deterministic(rng):
    bottleneck = VanillaBottleneck(latent_dim=2, activation="tanh")
    x = rng.normal(size=(3, 2, 2)).astype("float32")

    code = to_numpy(bottleneck(x, training=True))

    assert code.shape == (3, 2)
    np.testing.assert_array_equal(code, to_numpy(bottleneck(x, training=False)))
    kernel, bias = bottleneck.dense.get_weights()
    np.testing.assert_allclose(code, np.tanh(x.reshape(3, 4) @ kernel + bias), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bottleneck_class", [VanillaBottleneck, GaussianBottleneck, BernoulliBottleneck])
def test_kernel_regularizer_means_regularizer(bottleneck_class):
    regularizer = L2Regularizer(beta=0.3)
    bottleneck = bottleneck_class(latent_dim=2, kernel_regularizer=regularizer)
    assert bottleneck.regularizer is regularizer
    by_name = bottleneck_class(latent_dim=2, kernel_regularizer={"name": "l2", "beta": 0.3})
    assert (
        by_name.get_config()["regularizer"]
        == bottleneck_class(latent_dim=2, regularizer=regularizer).get_config()["regularizer"]
    )


def test_regularizer_is_given_once():
    with pytest.raises(ValueError, match=r"Pass the regularizer once.*Received: regularizer="):
        GaussianBottleneck(latent_dim=2, regularizer="kld", kernel_regularizer="kld")


def test_the_seed_readmes_misspelling_warns_and_works():
    with pytest.warns(DeprecationWarning, match="kernel_regulirizer") as record:
        bottleneck = GaussianBottleneck(latent_dim=2, kernel_regulirizer=GaussianKLDRegularizer())
    assert isinstance(bottleneck.regularizer, GaussianKLDRegularizer)
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: VanillaBottleneck(latent_dim=0), r"`latent_dim`.*Received: latent_dim=0"),
        (lambda: GaussianBottleneck(latent_dim=-2), r"`latent_dim`.*Received: latent_dim=-2"),
        (lambda: GaussianBottleneck(latent_dim=2.5), r"`latent_dim`.*Received: latent_dim=2.5"),
        (lambda: BernoulliBottleneck(latent_dim=2, temperature=-1), r"`temperature`.*Received: temperature=-1"),
        (lambda: BernoulliBottleneck(latent_dim=2, temperature=0), r"`temperature`.*Received: temperature=0"),
        (lambda: GaussianBottleneck(latent_dim=2, regularizer={"name": "kld", "beta": -1}), r"Received: beta=-1"),
        (
            lambda: GaussianBottleneck(latent_dim=2, regularizer=keras.regularizers.L2(0.1)),
            r"`regularizer` must be a tfae regularizer.*weights.*Received: regularizer=<keras",
        ),
        (
            lambda: VanillaBottleneck(latent_dim=2, kernel_regularizer=keras.regularizers.L1(0.1)),
            r"`kernel_regularizer` must be a tfae regularizer.*Received: kernel_regularizer=<keras",
        ),
    ],
)
def test_bad_arguments_are_named_in_the_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_gaussian_bottleneck_flattens_image_features(rng):
    bottleneck = GaussianBottleneck(latent_dim=2, regularizer="kld")
    code = bottleneck(rng.normal(size=(3, 4, 4, 1)).astype("float32"))
    assert tuple(code.shape) == (3, 2)
    assert tuple(bottleneck.dense.kernel.shape) == (16, 4)


@pytest.mark.parametrize(
    "bottleneck",
    [
        VanillaBottleneck(latent_dim=2, activation="relu", regularizer={"name": "l2", "beta": 0.5}),
        GaussianBottleneck(latent_dim=3, regularizer={"name": "reversed_kld", "beta": 0.2}, seed=7),
        BernoulliBottleneck(latent_dim=4, temperature=0.3, straight_through=True, regularizer="bernoulli_kld"),
    ],
    ids=type,
)
def test_bottleneck_config_round_trips(bottleneck):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rebuilt = type(bottleneck).from_config(bottleneck.get_config())
    assert rebuilt.get_config() == bottleneck.get_config()
    assert isinstance(rebuilt, BaseBottleneck)
    assert type(rebuilt.regularizer) is type(bottleneck.regularizer)
    assert rebuilt.regularizer.beta == bottleneck.regularizer.beta


@pytest.mark.backend_neutral
@pytest.mark.parametrize("log_variance", [-300.0, -100.0, -60.0, 0.0, 50.0])
@pytest.mark.parametrize("offset", [0.0, 1e-30, 1e-20, 0.5])
def test_gaussian_log_density_is_the_closed_form_for_narrow_and_wide_posteriors(log_variance, offset):
    """0 x inf gave NaN once a posterior narrowed past log-variance -88 (exp(-log_variance) overflows float32)."""
    mean = np.array([[0.25]], "float32")
    code = mean + np.float32(offset)
    found = keras.ops.convert_to_numpy(GaussianBottleneck(1).log_density(code, mean, np.full_like(mean, log_variance)))
    difference = code.astype("float64") - mean.astype("float64")
    expected = -0.5 * (np.log(2 * np.pi) + log_variance + difference**2 * np.exp(-log_variance))
    if np.abs(expected).max() < np.finfo("float32").max:
        np.testing.assert_allclose(found, expected, rtol=1e-5)
    else:  # past float32's range: the density is 0, never NaN
        assert np.isneginf(found).all()


class _ShiftedGaussianBottleneck(GaussianBottleneck):
    """A Gaussian whose inference code is the mean shifted by 1, given with the Gaussian's log-density there."""

    def mean(self, mean, log_variance):
        code = mean + 1.0
        return code, keras.ops.sum(self.log_density(code, mean, log_variance), axis=-1)


def test_a_mean_may_return_its_log_density_with_the_code(rng):
    bottleneck = _ShiftedGaussianBottleneck(latent_dim=3)
    features = rng.normal(size=(4, 5)).astype("float32")
    posterior = bottleneck.posterior(features, sampling="mean")
    mean, log_variance = (to_numpy(p) for p in posterior.parameters)
    np.testing.assert_allclose(to_numpy(posterior.code), mean + 1.0, rtol=1e-6)
    # The density given with the code, which Posterior.log_density() returns without computing it again.
    expected = np.sum(-0.5 * (np.log(2 * np.pi) + log_variance + np.exp(-log_variance)), axis=-1)
    np.testing.assert_allclose(to_numpy(posterior.log_density()), expected, rtol=1e-5)
    assert posterior.code.shape == (4, 3)


def test_noise_is_the_former_name_of_random_and_warns():
    import tfae.random

    bottleneck = GaussianBottleneck(latent_dim=2, seed=4)
    draw = lambda shape: tfae.random.normal(shape, bottleneck.seed_generator)  # noqa: E731
    state = keras.ops.convert_to_numpy(bottleneck.seed_generator.state)
    drawn = keras.ops.convert_to_numpy(bottleneck.random(draw, (3, 2)))
    bottleneck.seed_generator.state.assign(state)
    with pytest.warns(DeprecationWarning, match=r"GaussianBottleneck.noise\(draw, shape\) is now called random"):
        again = keras.ops.convert_to_numpy(bottleneck.noise(draw, (3, 2)))
    np.testing.assert_array_equal(drawn, again)
