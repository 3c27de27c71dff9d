"""KL and likelihood are float32 under mixed precision, and extreme parameters give finite losses and gradients."""

import contextlib

import keras
import numpy as np
import pytest

from tfae.bottlenecks import BernoulliBottleneck, GaussianBottleneck, VanillaBottleneck
from tfae.likelihoods import BernoulliLikelihood, GaussianLikelihood
from tfae.regularizers import BernoulliKLDRegularizer, GaussianKLDRegularizer, GaussianReversedKLDRegularizer

pytestmark = pytest.mark.backend_neutral


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def gradients_of(function, *inputs):
    """The gradient of the scalar ``function(*inputs)`` for each input array, on any backend."""
    inputs = [np.asarray(x, dtype="float32") for x in inputs]
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(jax.grad(lambda xs: function(*xs)))([jax.numpy.asarray(x) for x in inputs])
    import tensorflow as tf

    inputs = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = function(*inputs)
    return tape.gradient(value, inputs)


def penalty_gradients(layer, inputs, training=True):
    """The gradient of the penalty a layer adds while called on ``inputs``, for each trainable variable."""
    if keras.backend.backend() == "jax":
        import jax

        def penalty(trainable):
            non_trainable = [v.value for v in layer.non_trainable_variables]
            _, _, losses = layer.stateless_call(trainable, non_trainable, inputs, training=training, return_losses=True)
            return sum(losses)

        return jax.jit(jax.grad(penalty))([v.value for v in layer.trainable_variables])
    import tensorflow as tf

    with tf.GradientTape() as tape:
        layer(inputs, training=training)
        penalty = sum(layer.losses)
    return tape.gradient(penalty, layer.trainable_variables)


@contextlib.contextmanager
def dtype_policy(name):
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


@pytest.fixture(params=["mixed_float16", "mixed_bfloat16"])
def mixed_policy(request):
    with dtype_policy(request.param):
        yield request.param


def bottleneck_with_weights(make, weights, input_shape):
    bottleneck = make()
    bottleneck.build(input_shape)
    bottleneck.dense.set_weights(weights)
    return bottleneck


BOTTLENECKS = {
    "gaussian_kld": lambda: GaussianBottleneck(latent_dim=3, regularizer="kld", seed=0),
    "gaussian_reversed_kld": lambda: GaussianBottleneck(latent_dim=3, regularizer="reversed_kld", seed=0),
    "bernoulli_kld": lambda: BernoulliBottleneck(latent_dim=3, regularizer="bernoulli_kld", seed=0),
    "vanilla_l2": lambda: VanillaBottleneck(latent_dim=3, regularizer="l2"),
}


@pytest.mark.parametrize("name", sorted(BOTTLENECKS))
def test_penalty_is_float32_and_matches_float32_under_mixed_precision(name, mixed_policy, rng):
    make = BOTTLENECKS[name]
    inputs = rng.normal(size=(8, 5)).astype("float32")
    with dtype_policy("float32"):
        reference = make()
    reference(inputs, training=False)
    mixed = bottleneck_with_weights(make, reference.dense.get_weights(), (None, 5))

    code = mixed(inputs, training=False)

    assert keras.backend.standardize_dtype(code.dtype) == mixed.compute_dtype != "float32"
    (penalty,) = mixed.losses
    assert keras.backend.standardize_dtype(penalty.dtype) == "float32"
    rtol = 1e-2 if mixed_policy == "mixed_bfloat16" or name == "vanilla_l2" else 2e-3
    np.testing.assert_allclose(to_numpy(penalty), to_numpy(reference.losses[0]), rtol=rtol)
    if not name.startswith("vanilla"):
        for parameter in mixed.distribution_parameters(keras.ops.convert_to_tensor(inputs)):
            assert keras.backend.standardize_dtype(parameter.dtype) == "float32"


@pytest.mark.parametrize("likelihood", [BernoulliLikelihood, GaussianLikelihood], ids=["bernoulli", "gaussian"])
def test_likelihood_is_float32_under_mixed_precision(likelihood, mixed_policy, rng):
    targets = rng.uniform(size=(4, 8, 8, 1)).astype("float32")
    parameters = keras.ops.convert_to_tensor(rng.normal(0.0, 3.0, size=(4, 8, 8, 1)), dtype=mixed_policy[6:])

    nll = likelihood().negative_log_likelihood(targets, parameters)

    assert keras.backend.standardize_dtype(nll.dtype) == "float32"
    with dtype_policy("float32"):
        expected = likelihood().negative_log_likelihood(targets, keras.ops.cast(parameters, "float32"))
    np.testing.assert_allclose(to_numpy(nll), to_numpy(expected), rtol=1e-6)


def test_model_loss_is_float32_and_close_to_float32_under_mixed_precision(mixed_policy, rng):
    from tfae.models import Autoencoder

    x = rng.uniform(size=(8, 8, 8, 1)).astype("float32")

    def loss_of(model):
        model.compile(optimizer="sgd", loss="bernoulli")
        return model.compute_loss(x=x, y=x, training=False)

    # One seed for both bottlenecks: the two losses score the same drawn codes.
    with dtype_policy("float32"):
        reference = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld", "seed": 3})
        reference(x[:1])
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld", "seed": 3})
    model(x[:1])
    model.set_weights(reference.get_weights())

    loss = loss_of(model)

    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    np.testing.assert_allclose(to_numpy(loss), to_numpy(loss_of(reference)), rtol=1e-2)


EXTREME = {
    "gaussian_kld": GaussianKLDRegularizer,
    "gaussian_reversed_kld": GaussianReversedKLDRegularizer,
}


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", sorted(EXTREME))
def test_extreme_log_variance_gives_finite_penalty_and_gradients(name, policy):
    # Each sample's log-variances are +80 and -80: variances e^80 and e^-80, near float32's limits.
    bias = np.array([0.5, -1.0, 80.0, -80.0], "float32")
    with dtype_policy(policy):
        bottleneck = GaussianBottleneck(latent_dim=2, regularizer=EXTREME[name](), seed=0)
        bottleneck.build((None, 2))
        bottleneck.dense.set_weights([np.full((2, 4), 0.01, "float32"), bias])
        inputs = np.ones((3, 2), "float32")

        gradients = penalty_gradients(bottleneck, inputs)
        bottleneck(inputs, training=True)

    mean, log_variance = np.array([[0.52, -0.98]]), np.array([[80.02, -79.98]])
    closed_form = {
        "gaussian_kld": 0.5 * (mean**2 + np.exp(log_variance) - log_variance - 1.0),
        "gaussian_reversed_kld": 0.5 * ((1.0 + mean**2) * np.exp(-log_variance) + log_variance - 1.0),
    }[name].sum()
    (penalty,) = bottleneck.losses
    assert np.isfinite(to_numpy(penalty))
    np.testing.assert_allclose(to_numpy(penalty), closed_form, rtol=1e-5)
    for variable, gradient in zip(bottleneck.trainable_variables, gradients):
        gradient = to_numpy(gradient)
        assert np.all(np.isfinite(gradient)), variable.path
        assert np.any(gradient != 0.0), variable.path


@pytest.mark.parametrize("regularizer", [GaussianKLDRegularizer(), GaussianReversedKLDRegularizer()], ids=type)
def test_gaussian_kl_gradients_are_finite_at_extreme_log_variance(regularizer):
    mean = np.array([[0.0, 3.0, -3.0, 0.0]])
    log_variance = np.array([[80.0, -80.0, 80.0, -80.0]])

    value = to_numpy(regularizer(*(keras.ops.convert_to_tensor(a, "float32") for a in (mean, log_variance))))
    mean_gradient, log_variance_gradient = gradients_of(regularizer, mean, log_variance)

    assert np.isfinite(value)
    assert np.all(np.isfinite(to_numpy(mean_gradient)))
    assert np.all(np.isfinite(to_numpy(log_variance_gradient)))


def test_bernoulli_kl_and_its_gradient_are_finite_for_saturated_logits():
    logits = np.array([[50.0, -50.0, 100.0, -100.0, 0.0]])
    regularizer = BernoulliKLDRegularizer()

    value = to_numpy(regularizer(keras.ops.convert_to_tensor(logits, "float32")))
    (gradient,) = gradients_of(regularizer, logits)

    np.testing.assert_allclose(value, 4 * np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(gradient), 0.0, atol=1e-6)


def test_bernoulli_nll_gradient_is_finite_for_extreme_logits():
    logits = np.array([[1e4, -1e4, 80.0, -80.0]])
    targets = np.array([[0.0, 1.0, 0.25, 0.75]], "float32")
    likelihood = BernoulliLikelihood()

    (gradient,) = gradients_of(lambda logit: keras.ops.sum(likelihood.negative_log_likelihood(targets, logit)), logits)

    # d/dl (softplus(l) - x * l) = sigmoid(l) - x.
    np.testing.assert_allclose(to_numpy(gradient), [[1.0, -1.0, 0.75, -0.75]], rtol=1e-6)
