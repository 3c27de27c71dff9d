"""FactorVAE: the TC estimate and the discriminator's loss against NumPy, where the gradients go, the permutation,
the discriminator learning, a model that trains, saves and loads, and the example config.

The checks that touch the maths or a model run on TensorFlow here and again on JAX in a fresh process
(``test_on_jax.py``): the suite runs on the default backend.
"""

import doctest
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

import numpy_reference as reference
import tfae
import tfae_disentangle.factor_vae
from tfae import testing
from tfae.bottlenecks import GaussianBottleneck, Posterior, VanillaBottleneck
from tfae.models import Autoencoder
from tfae.plugins import get_component, resolve
from tfae_disentangle.factor_vae import FactorVAERegularizer

TESTS = Path(__file__).resolve().parent
EXAMPLE = TESTS.parent / "src" / "tfae_disentangle" / "examples" / "factor_vae.toml"


def to_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor), dtype="float64")


def built(latent_dim, hidden=(16, 8), seed=0, beta=1.0, weight_seed=0):
    """A built regularizer whose discriminator has random weights of scale 0.5 (biases too), so logits vary."""
    regularizer = FactorVAERegularizer(beta=beta, hidden=hidden, seed=seed)
    regularizer.build(latent_dim)
    rng = np.random.default_rng(weight_seed)
    shapes = [weight.shape for weight in regularizer.discriminator.get_weights()]
    regularizer.discriminator.set_weights([rng.normal(scale=0.5, size=shape).astype("float32") for shape in shapes])
    return regularizer


def numpy_logits(regularizer, codes):
    """The discriminator's logits computed in NumPy (float64) from its weights: Dense, leaky ReLU 0.2, ..., Dense."""
    weights = regularizer.discriminator.get_weights()
    outputs = np.asarray(codes, dtype="float64")
    for index in range(0, len(weights), 2):
        outputs = outputs @ weights[index].astype("float64") + weights[index + 1].astype("float64")
        if index + 2 < len(weights):
            outputs = np.where(outputs > 0, outputs, 0.2 * outputs)
    return outputs[:, 0]


def correlated_codes(seed, batch, dim):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(batch, dim)) @ rng.normal(size=(dim, dim))).astype("float32")


def one_logit_as_two(logits):
    """The 2-output layout of ``numpy_reference`` for a single logit l: [l, 0], whose softmax is [D, 1 - D]."""
    return np.stack([logits, np.zeros_like(logits)], axis=1)


def check_the_estimates_match_numpy():
    """The penalty is beta * factor_vae_tc of the NumPy logits; the objective is factor_vae_discriminator_loss."""
    cases = [(64, 5, (16, 8), 1.0), (7, 3, (4,), 6.0), (2, 1, (3, 5, 2), 0.5)]
    for seed, (batch, dim, hidden, beta) in enumerate(cases):
        regularizer = built(dim, hidden=hidden, seed=seed, beta=beta, weight_seed=seed)
        codes = correlated_codes(seed, batch, dim)
        expected_logits = numpy_logits(regularizer, codes)
        np.testing.assert_allclose(to_numpy(regularizer.logits(codes)), expected_logits, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(to_numpy(regularizer.frozen_logits(codes)), expected_logits, rtol=1e-5, atol=1e-5)

        posterior = Posterior(parameters=(codes, np.zeros_like(codes)), code=codes)
        found = regularizer(posterior)
        assert str(ops.dtype(found)) == "float32" and tuple(found.shape) == ()
        expected = beta * reference.factor_vae_tc(expected_logits)
        np.testing.assert_allclose(float(found), expected, rtol=1e-5, atol=1e-5)
        assert math.isclose(reference.factor_vae_tc(one_logit_as_two(expected_logits)), expected / beta, rel_tol=1e-12)

        # A twin with the same seed and weights draws the permutation the objective draws first.
        twin = FactorVAERegularizer(beta=beta, hidden=hidden, seed=seed)
        twin.build(dim)
        twin.discriminator.set_weights(regularizer.discriminator.get_weights())
        permuted = to_numpy(twin.permute_dims(codes))
        expected_loss = reference.factor_vae_discriminator_loss(
            one_logit_as_two(expected_logits), one_logit_as_two(numpy_logits(regularizer, permuted))
        )
        loss = regularizer.objective(posterior.stop_gradient())
        assert str(ops.dtype(loss)) == "float32" and tuple(loss.shape) == ()
        np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5, atol=1e-5)


def check_where_the_gradients_go():
    """The penalty's gradient reaches the code and not the discriminator; the objective's, the reverse."""
    regularizer = FactorVAERegularizer(beta=2.0, hidden=(8, 8), seed=0)
    bottleneck = GaussianBottleneck(latent_dim=3, regularizer=regularizer, seed=0)
    inputs = keras.Input(shape=(6,))
    model = keras.Model(inputs, bottleneck(inputs))
    code_weights = bottleneck.dense.trainable_variables
    discriminator_weights = regularizer.discriminator.trainable_variables
    assert len(code_weights) == 2 and len(discriminator_weights) == 6
    assert all(any(weight is found for found in model.trainable_variables) for weight in discriminator_weights)
    batch = np.random.default_rng(1).normal(size=(16, 6)).astype("float32")

    def gradients(loss_index):
        def loss(outputs, losses):
            penalty, objective = losses
            return (penalty, objective)[loss_index]

        found = testing.gradients(model, batch, loss, [*code_weights, *discriminator_weights])
        return found[: len(code_weights)], found[len(code_weights) :]

    def reached(gradient):
        return gradient is not None and np.all(np.isfinite(gradient)) and np.any(gradient != 0)

    def untouched(gradient):
        return gradient is None or not np.any(gradient)

    to_code, to_discriminator = gradients(0)
    assert all(reached(g) for g in to_code), "the penalty's gradient does not reach the code"
    assert all(untouched(g) for g in to_discriminator), "the penalty's gradient reaches the discriminator"
    to_code, to_discriminator = gradients(1)
    assert all(untouched(g) for g in to_code), "the objective's gradient reaches the code"
    assert all(reached(g) for g in to_discriminator), "the objective's gradient does not reach the discriminator"


def check_the_permutation():
    """Each column is permuted on its own, seeded: the same seed the same permutations, each call new ones."""
    batch, dim = 64, 4
    codes = np.tile(np.arange(batch, dtype="float32")[:, None], (1, dim)) + 1000 * np.arange(dim, dtype="float32")
    regularizer = FactorVAERegularizer(seed=7)
    first, second = to_numpy(regularizer.permute_dims(codes)), to_numpy(regularizer.permute_dims(codes))
    for permuted in (first, second):
        assert permuted.shape == (batch, dim)
        np.testing.assert_array_equal(np.sort(permuted, axis=0), codes)
        orders = permuted - 1000 * np.arange(dim)
        assert len({tuple(column) for column in orders.T}) == dim, "two columns got the same permutation"
        assert not np.array_equal(permuted, codes)
    assert not np.array_equal(first, second), "a second call drew the same permutations"
    again = FactorVAERegularizer(seed=7)
    np.testing.assert_array_equal(to_numpy(again.permute_dims(codes)), first)
    np.testing.assert_array_equal(to_numpy(again.permute_dims(codes)), second)
    other = FactorVAERegularizer(seed=8)
    assert not np.array_equal(to_numpy(other.permute_dims(codes)), first)


def check_the_discriminator_learns():
    """On codes whose two dimensions are tied, its loss falls well below chance (log 2) within 80 steps."""
    rng = np.random.default_rng(0)
    factor = rng.normal(size=(1024, 1)).astype("float32")
    codes = np.concatenate([factor, factor + 0.05 * rng.normal(size=factor.shape).astype("float32")], axis=1)
    regularizer = FactorVAERegularizer(beta=0.0, seed=0)
    # The codes themselves: a bottleneck whose Dense layer is the identity, frozen.
    bottleneck = VanillaBottleneck(2, regularizer=regularizer)
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, bottleneck(inputs))
    bottleneck.dense.set_weights([np.eye(2, dtype="float32"), np.zeros(2, dtype="float32")])
    bottleneck.dense.trainable = False
    posterior = Posterior(parameters=(codes,), code=codes)
    before = float(regularizer.objective(posterior))
    assert abs(before - math.log(2)) < 0.05
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(codes, epochs=5, batch_size=64, verbose=0)
    after = float(regularizer.objective(posterior))
    assert after < 0.5 * math.log(2), f"the discriminator's loss is {after} after training, from {before}"


def correlated_images(samples=256, seed=0):
    """Images made from two correlated factors (correlation 0.9): a bump's horizontal position and its width."""
    rng = np.random.default_rng(seed)
    first = rng.normal(size=samples)
    second = 0.9 * first + math.sqrt(1 - 0.81) * rng.normal(size=samples)
    grid = np.linspace(-1.0, 1.0, 16)
    centres, widths = 0.5 * np.tanh(first)[:, None], (0.3 + 0.1 * np.tanh(second))[:, None]
    return np.exp(-0.5 * ((grid[None, :] - centres) / widths) ** 2).astype("float32")


def factor_vae_model():
    return Autoencoder(
        bottleneck={
            "name": "gaussian",
            "latent_dim": 2,
            "regularizer": ["kld", {"name": "factor_vae", "beta": 6, "hidden": [32, 32], "seed": 0}],
        }
    )


def check_a_factor_vae_trains_saves_and_loads(folder):
    """Logs the discriminator's loss, trains its weights, keeps its value out of ``loss``; saves to ``folder``."""
    data = correlated_images()
    model = factor_vae_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="bernoulli")
    model.build((None, *data.shape[1:]))
    regularizer = model.bottleneck.regularizers[1]
    assert isinstance(regularizer, FactorVAERegularizer)
    before = [np.array(weight) for weight in regularizer.discriminator.get_weights()]
    history = model.fit(data, epochs=3, batch_size=32, verbose=0).history
    expected = {
        "loss",
        "reconstruction_loss",
        "regularization_loss",
        "kld_loss",
        "factor_vae_loss",
        "factor_vae_discriminator_loss",
    }
    assert expected <= set(history), sorted(history)
    for name, values in history.items():
        assert len(values) == 3 and np.all(np.isfinite(values)), (name, values)
    assert all(0 < value < 2 for value in history["factor_vae_discriminator_loss"])
    np.testing.assert_allclose(
        history["loss"], np.add(history["reconstruction_loss"], history["regularization_loss"]), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        history["regularization_loss"], np.add(history["kld_loss"], history["factor_vae_loss"]), rtol=1e-5, atol=1e-5
    )
    after = regularizer.discriminator.get_weights()
    assert all(not np.array_equal(old, new) for old, new in zip(before, after)), "a discriminator weight did not train"

    path = Path(folder) / "factor_vae.keras"
    model.save(path)
    np.savez(Path(folder) / "discriminator.npz", *after)
    loaded = tfae.load_model(path)
    assert loaded.bottleneck.regularizer_names == ["kld", "factor_vae"]
    restored = loaded.bottleneck.regularizers[1]
    assert restored.get_config() == {"beta": 6.0, "hidden": [32, 32], "seed": 0}
    for saved, reloaded in zip(after, restored.discriminator.get_weights()):
        np.testing.assert_array_equal(saved, reloaded)
    loaded.fit(data, epochs=1, batch_size=32, verbose=0)
    return path


CHECKS = [
    check_the_estimates_match_numpy,
    check_where_the_gradients_go,
    check_the_permutation,
    check_the_discriminator_learns,
]


@pytest.mark.parametrize("check", CHECKS)
def test_the_check(check):
    check()


def test_registered_by_name_and_rebuilt_from_config():
    assert get_component("regularizer", "factor_vae") is FactorVAERegularizer
    assert get_component("regularizer", "factorvae") is FactorVAERegularizer
    regularizer = resolve("regularizer", "factor_vae")
    assert regularizer.get_config() == {"beta": 1.0, "hidden": [256, 256], "seed": None}
    schedule = {"name": "dasr", "attack": 2}
    custom = resolve("regularizer", {"name": "factor_vae", "beta": schedule, "hidden": [4], "seed": 3})
    config = json.loads(json.dumps(custom.get_config()))
    rebuilt = FactorVAERegularizer.from_config(config)
    assert rebuilt.get_config() == config
    assert (rebuilt.hidden, rebuilt.seed) == ((4,), 3) and rebuilt.scheduler is not None
    assert repr(rebuilt).startswith("FactorVAERegularizer(beta={'name': 'dasr'")
    assert FactorVAERegularizer.objective_name == "discriminator_loss" and rebuilt.has_objective


@pytest.mark.parametrize("hidden", [[], [0], [16, -1], [2.5], "256", 256, [True], None])
def test_hidden_layers_must_be_positive_integers(hidden):
    with pytest.raises(ValueError, match=r"`hidden` must be a non-empty list of positive integers.*Received: hidden="):
        FactorVAERegularizer(hidden=hidden)


@pytest.mark.parametrize("seed", ["0", 1.5, True])
def test_the_seed_must_be_an_integer(seed):
    with pytest.raises(ValueError, match=r"`seed` must be an integer or None. Received: seed="):
        FactorVAERegularizer(seed=seed)


def test_a_negative_beta_is_refused():
    with pytest.raises(ValueError, match="Received: beta=-1"):
        FactorVAERegularizer(beta=-1)


def test_a_posterior_without_a_code_is_refused():
    regularizer = FactorVAERegularizer(hidden=[4])
    with pytest.raises(ValueError, match="scores the code the decoder received, but this Posterior holds none"):
        regularizer(np.zeros((3, 2), dtype="float32"), np.zeros((3, 2), dtype="float32"))


def test_one_regularizer_cannot_serve_codes_of_two_sizes():
    regularizer = FactorVAERegularizer(hidden=[4])
    GaussianBottleneck(latent_dim=3, regularizer=regularizer)
    message = "built for codes of 3 dimensions, so it cannot regularise a bottleneck with latent_dim=4"
    with pytest.raises(ValueError, match=message):
        GaussianBottleneck(latent_dim=4, regularizer=regularizer)


def test_any_bottleneck_with_a_code_takes_it():
    for name in ("vanilla", "gaussian", "bernoulli"):
        regularizer = {"name": "factor_vae", "hidden": [4]}
        model = Autoencoder(bottleneck={"name": name, "latent_dim": 2, "regularizer": regularizer})
        assert model.bottleneck.regularizer_names == ["factor_vae"]


def test_the_docstring_examples_run():
    found = doctest.testmod(tfae_disentangle.factor_vae, extraglobs={"keras": keras}, optionflags=doctest.ELLIPSIS)
    assert found.attempted > 0 and found.failed == 0
