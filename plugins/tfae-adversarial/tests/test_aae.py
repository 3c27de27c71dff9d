"""The adversarial autoencoder's regularizer: its losses against NumPy, the prior it samples, where the gradients
go, the discriminator learning, tfae's contract check, and the refusals. (Its example config runs through
`tfae train`: test_examples.py.)

The checks of the maths and of the gradients run on TensorFlow here and again on JAX in a fresh process
(test_on_jax.py): the suite runs on the default backend.
"""

import doctest
import json
import math

import keras
import numpy as np
import pytest
from keras import ops

import numpy_reference as reference
import tfae_adversarial.aae
from tfae import testing
from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.models import Autoencoder
from tfae.plugins import get_component, resolve
from tfae_adversarial.aae import AdversarialRegularizer


def to_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor), dtype="float64")


def built(latent_dim, hidden=(16, 8), seed=0, beta=1.0, prior_samples=32, weight_seed=0):
    """A built regularizer whose discriminator has random weights of scale 0.5 (biases too), so that logits vary."""
    regularizer = AdversarialRegularizer(beta=beta, hidden=hidden, prior_samples=prior_samples, seed=seed)
    regularizer.build(latent_dim)
    rng = np.random.default_rng(weight_seed)
    shapes = [weight.shape for weight in regularizer.discriminator.get_weights()]
    regularizer.discriminator.set_weights([rng.normal(scale=0.5, size=shape).astype("float32") for shape in shapes])
    return regularizer


def check_the_losses_match_numpy():
    """The penalty is -log D(z) per code, the call beta times its mean, the objective the discriminator's
    cross-entropy against the prior samples that a twin with the same seed draws."""
    cases = [(64, 2, (16, 8), 1.0, 32), (7, 3, (3, 5, 2), 6.0, 1)]
    for seed, (batch, dim, hidden, beta, prior_samples) in enumerate(cases):
        regularizer = built(dim, hidden, seed, beta, prior_samples, weight_seed=seed)
        weights = regularizer.discriminator.get_weights()
        codes = np.random.default_rng(seed).normal(loc=1.0, size=(batch, dim)).astype("float32")
        bottleneck = GaussianBottleneck(latent_dim=dim)
        posterior = Posterior(parameters=(codes, np.zeros_like(codes)), code=codes, bottleneck=bottleneck)
        code_logits = reference.mlp_logits(weights, codes)
        np.testing.assert_allclose(to_numpy(regularizer.logits(codes)), code_logits, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(to_numpy(regularizer.frozen_logits(codes)), code_logits, rtol=1e-5, atol=1e-5)

        penalty = regularizer.penalty(posterior)
        assert str(ops.dtype(penalty)) == "float32" and tuple(penalty.shape) == (batch,)
        expected = reference.aae_generator_loss(code_logits)
        np.testing.assert_allclose(to_numpy(penalty), expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(float(regularizer(posterior)), beta * expected.mean(), rtol=1e-5, atol=1e-5)

        twin = built(dim, hidden, seed, beta, prior_samples, weight_seed=seed)
        prior_codes = to_numpy(twin.draw_prior(bottleneck))
        assert prior_codes.shape == (prior_samples, dim)
        loss = regularizer.objective(posterior.stop_gradient())
        assert str(ops.dtype(loss)) == "float32" and tuple(loss.shape) == ()
        expected_loss = reference.aae_discriminator_loss(reference.mlp_logits(weights, prior_codes), code_logits)
        np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5, atol=1e-5)


def check_chance_is_log_2():
    """A discriminator whose logit is 0 everywhere: every penalty and the objective are log 2."""
    regularizer = built(3, hidden=(4,))
    regularizer.discriminator.set_weights([np.zeros_like(w) for w in regularizer.discriminator.get_weights()])
    codes = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    posterior = Posterior(parameters=(codes, codes), code=codes, bottleneck=GaussianBottleneck(latent_dim=3))
    np.testing.assert_allclose(to_numpy(regularizer.penalty(posterior)), [math.log(2)] * 5, rtol=1e-6)
    np.testing.assert_allclose(float(regularizer.objective(posterior)), math.log(2), rtol=1e-6)


def check_the_prior_samples_are_the_bottlenecks():
    """The discriminator's prior samples are the bottleneck's ``sample_prior``, seeded by the regularizer: a
    mixture prior's when the bottleneck has one, new in each call."""
    bottleneck = GaussianBottleneck(latent_dim=2, prior={"name": "mixture", "components": 3})
    regularizer = AdversarialRegularizer(hidden=[4], prior_samples=256, seed=5)
    regularizer.build(2)
    first, second = to_numpy(regularizer.draw_prior(bottleneck)), to_numpy(regularizer.draw_prior(bottleneck))
    generator = keras.random.SeedGenerator(5)
    np.testing.assert_allclose(first, to_numpy(bottleneck.sample_prior(256, seed=generator)), rtol=1e-6)
    np.testing.assert_allclose(second, to_numpy(bottleneck.sample_prior(256, seed=generator)), rtol=1e-6)
    assert not np.allclose(first, second)


def check_where_the_gradients_go():
    """The penalty's gradient reaches the code's weights and not the discriminator; the objective's reaches the
    discriminator alone, not the encoder and not a learned prior's weights."""
    regularizer = AdversarialRegularizer(beta=2.0, hidden=(8, 8), prior_samples=16, seed=0)
    prior = {"name": "mixture", "components": 2}
    bottleneck = GaussianBottleneck(latent_dim=2, regularizer=regularizer, prior=prior, seed=0)
    inputs = keras.Input(shape=(6,))
    model = keras.Model(inputs, bottleneck(inputs))
    code_weights = bottleneck.dense.trainable_variables
    prior_weights = bottleneck.prior.trainable_variables
    discriminator_weights = regularizer.discriminator.trainable_variables
    assert len(code_weights) == 2 and len(discriminator_weights) == 6 and prior_weights
    batch = np.random.default_rng(1).normal(size=(16, 6)).astype("float32")
    variables = [*code_weights, *prior_weights, *discriminator_weights]

    def reached(gradient):
        return gradient is not None and np.all(np.isfinite(gradient)) and np.any(gradient != 0)

    def untouched(gradient):
        return gradient is None or not np.any(gradient)

    for index, trains in ((0, code_weights), (1, discriminator_weights)):
        found = testing.gradients(model, batch, lambda outputs, losses, i=index: losses[i], variables)
        for variable, gradient in zip(variables, found):
            if any(variable is weight for weight in trains):
                assert reached(gradient), f"loss {index} does not train {variable.path}"
            else:
                assert untouched(gradient), f"loss {index} reaches {variable.path}"


def check_the_discriminator_learns():
    """On codes far from the prior (the prior N(0, I), the codes N(3, I)), its loss falls well below chance."""
    regularizer = AdversarialRegularizer(beta=0.0, hidden=[32, 32], prior_samples=64, seed=0)
    bottleneck = GaussianBottleneck(latent_dim=2, regularizer=regularizer, seed=0)
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, bottleneck(inputs))
    # The codes are the inputs: the Gaussian's mean is the input and its variance about 0, frozen.
    kernel = np.concatenate([np.eye(2), np.zeros((2, 2))], axis=1).astype("float32")
    bottleneck.dense.set_weights([kernel, np.array([0.0, 0.0, -30.0, -30.0], dtype="float32")])
    bottleneck.dense.trainable = False
    codes = np.random.default_rng(0).normal(loc=3.0, size=(512, 2)).astype("float32")
    posterior = Posterior(parameters=(codes, codes), code=codes, bottleneck=bottleneck)
    before = float(regularizer.objective(posterior))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(codes, epochs=4, batch_size=64, verbose=0)
    after = float(regularizer.objective(posterior))
    assert after < 0.3 * math.log(2), f"the discriminator's loss is {after} after training, from {before}"


CHECKS = [
    check_the_losses_match_numpy,
    check_chance_is_log_2,
    check_the_prior_samples_are_the_bottlenecks,
    check_where_the_gradients_go,
    check_the_discriminator_learns,
]
#: Those that test_on_jax.py runs again on JAX: the maths and the gradients (JAX compiles each new shape, so the
#: suite's time allows these few).
ON_JAX = [check_the_losses_match_numpy, check_where_the_gradients_go]


@pytest.mark.parametrize("check", CHECKS)
def test_the_check(check):
    check()


def test_it_fulfils_the_tfae_regularizer_contract():
    testing.check_regularizer(lambda: AdversarialRegularizer(beta=0.5, hidden=[8], prior_samples=16, seed=3))


def test_by_default_it_draws_one_prior_code_per_code_of_the_batch():
    """pythae's Adversarial_AE: as many prior codes as the batch holds, also in a traced step of open batch size."""
    bottleneck = GaussianBottleneck(latent_dim=3, regularizer={"name": "aae", "hidden": [4], "seed": 0})
    regularizer = bottleneck.regularizer
    assert regularizer.prior_samples is None
    assert tuple(regularizer.draw_prior(bottleneck, 5).shape) == (5, 3)
    model = Autoencoder(bottleneck)
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(np.random.default_rng(0).random((10, 6)).astype("float32"), batch_size=4, verbose=0).history
    assert np.isfinite(history["aae_discriminator_loss"][0]) and np.isfinite(history["aae_loss"][0])


def test_registered_by_name_and_rebuilt_from_config():
    assert get_component("regularizer", "aae") is AdversarialRegularizer
    assert get_component("regularizer", "adversarial_autoencoder") is AdversarialRegularizer
    regularizer = resolve("regularizer", "aae")
    assert regularizer.get_config() == {"beta": 1.0, "hidden": [256, 256], "prior_samples": None, "seed": None}
    custom = resolve("regularizer", {"name": "aae", "beta": {"name": "dasr", "attack": 2}, "hidden": [4], "seed": 3})
    config = json.loads(json.dumps(custom.get_config()))
    rebuilt = AdversarialRegularizer.from_config(config)
    assert rebuilt.get_config() == config and rebuilt.scheduler is not None
    assert AdversarialRegularizer.objective_name == "discriminator_loss" and rebuilt.has_objective


@pytest.mark.parametrize("hidden", [[], [0], [16, -1], [2.5], "256", 256, [True], None])
def test_hidden_layers_must_be_positive_integers(hidden):
    with pytest.raises(ValueError, match=r"`hidden` must be a non-empty list of positive integers.*Received: hidden="):
        AdversarialRegularizer(hidden=hidden)


@pytest.mark.parametrize("prior_samples", [0, -3, 2.5, "64", True])
def test_prior_samples_must_be_a_positive_integer(prior_samples):
    with pytest.raises(ValueError, match=r"`prior_samples` must be a positive integer.*Received: prior_samples="):
        AdversarialRegularizer(prior_samples=prior_samples)


@pytest.mark.parametrize("seed", ["0", 1.5, True])
def test_the_seed_must_be_an_integer(seed):
    with pytest.raises(ValueError, match=r"`seed` must be an integer or None. Received: seed="):
        AdversarialRegularizer(seed=seed)


def test_a_negative_beta_is_refused():
    with pytest.raises(ValueError, match="Received: beta=-1"):
        AdversarialRegularizer(beta=-1)


def test_a_bottleneck_without_a_prior_is_refused():
    message = (
        r"The regularizer 'aae' .* but the bottleneck 'vanilla' .*has no prior to sample: use a bottleneck with "
        r"one, such as 'gaussian'"
    )
    with pytest.raises(ValueError, match=message):
        Autoencoder({"name": "vanilla", "latent_dim": 2, "regularizer": {"name": "aae", "hidden": [4]}})


def test_a_posterior_without_a_code_or_a_bottleneck_is_refused():
    regularizer = AdversarialRegularizer(hidden=[4])
    with pytest.raises(ValueError, match="scores the code the decoder received, but this Posterior holds none"):
        regularizer(np.zeros((3, 2), dtype="float32"), np.zeros((3, 2), dtype="float32"))
    codes = np.zeros((3, 2), dtype="float32")
    with pytest.raises(
        ValueError, match="compares the codes with samples of the bottleneck's prior, but this Posterior"
    ):
        regularizer.objective(Posterior(parameters=(codes,), code=codes))


def test_one_regularizer_cannot_serve_codes_of_two_sizes():
    regularizer = AdversarialRegularizer(hidden=[4])
    GaussianBottleneck(latent_dim=3, regularizer=regularizer)
    message = "built for codes of 3 dimensions, so it cannot regularise a bottleneck with latent_dim=4"
    with pytest.raises(ValueError, match=message):
        GaussianBottleneck(latent_dim=4, regularizer=regularizer)


def test_the_docstring_examples_run():
    globs = {"keras": keras, "Posterior": Posterior}
    found = doctest.testmod(tfae_adversarial.aae, extraglobs=globs, optionflags=doctest.ELLIPSIS)
    assert found.attempted > 0 and found.failed == 0
