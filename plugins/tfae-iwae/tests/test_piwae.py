"""PIWAE: both bounds against NumPy, the contract check, and each network trained by its own bound."""

import math
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from tfae import plugins
from tfae.models import Autoencoder
from tfae.testing import check_objective
from tfae_iwae import PIWAE

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402
from terms import PENALTY, gaussian_terms, to_numpy  # noqa: E402


@pytest.mark.parametrize("m, k", [(2, 3), (3, 1), (1, 4)])
def test_the_decoders_bound_is_iwae_and_the_encoders_miwae_in_numpy(m, k, rng):
    terms, log_weights = gaussian_terms(rng, codes=m * k, batch=5)
    result = PIWAE(m=m, k=k)(terms)
    assert set(result) == {"loss", "encoder_loss", "piwae_decoder_bound", "piwae_encoder_bound"}
    np.testing.assert_allclose(to_numpy(result["piwae_decoder_bound"]), ref.iwae_bound(log_weights), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(result["piwae_encoder_bound"]), ref.miwae_bound(log_weights, m, k), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(result["loss"]), -ref.iwae_bound(log_weights) + PENALTY, rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(result["encoder_loss"]), -ref.miwae_bound(log_weights, m, k) + PENALTY, rtol=1e-5
    )


def test_it_fulfils_the_objective_contract():
    check_objective(lambda: PIWAE(m=2, k=2), single_sample=lambda: PIWAE(m=1, k=1))


def test_one_step_moves_the_decoder_by_iwaes_gradient_and_the_encoder_by_miwaes(digits):
    m, k = 2, 2
    x = digits[:16]
    keras.utils.set_random_seed(0)
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "seed": 5})
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1.0),
        loss="bernoulli",
        objective={"name": "piwae", "m": m, "k": k},
        jit_compile=False,
    )
    model.build((None, 64))
    state = model.bottleneck.seed_generator.state
    start = ops.convert_to_numpy(state.value)

    def gradients_of(bound):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            posterior, outputs = model.forward(x, sampling="reparameterized", training=True, importance_samples=m * k)
            nll = ops.reshape(
                model.likelihood.negative_log_likelihood(ops.tile(x, (m * k, 1)), ops.reshape(outputs, (-1, 64))),
                (m * k, -1),
            )
            log_weights = -nll + posterior.log_prior() - posterior.log_density()
            if bound == "iwae":
                value = ops.logsumexp(log_weights, axis=0) - math.log(m * k)
            else:
                value = ops.mean(ops.logsumexp(ops.reshape(log_weights, (m, k, -1)), axis=1), axis=0) - math.log(k)
            loss = -ops.mean(value)
        state.assign(start)
        return dict(
            zip(
                map(id, model.trainable_weights),
                map(ops.convert_to_numpy, tape.gradient(loss, model.trainable_weights)),
            )
        )

    of_iwae, of_miwae = gradients_of("iwae"), gradients_of("miwae")
    before = [ops.convert_to_numpy(w.value).copy() for w in model.trainable_weights]
    model.train_on_batch(x)
    decoder = {id(w) for w in model.decoder_network.trainable_weights}
    for weight, old in zip(model.trainable_weights, before):
        expected = of_iwae[id(weight)] if id(weight) in decoder else of_miwae[id(weight)]
        np.testing.assert_allclose(old - ops.convert_to_numpy(weight.value), expected, atol=1e-5, err_msg=weight.path)


def test_the_name_and_config_round_trip():
    assert plugins.get_component("objective", "piwae") is PIWAE
    objective = plugins.resolve("objective", {"name": "partially_importance_weighted", "m": 3, "k": 2})
    assert (objective.m, objective.k, objective.importance_samples) == (3, 2, 6)
    assert PIWAE.from_config(objective.get_config()).get_config() == {"m": 3, "k": 2}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            {"m": 0},
            "`m`, the independent IWAE bounds the encoder's MIWAE averages, must be a positive integer. Received: m=0",
        ),
        ({"k": 2.5}, "`k`, the codes drawn for each of them, must be a positive integer. Received: k=2.5"),
    ],
)
def test_bad_parameters_are_refused_in_one_line(arguments, message):
    with pytest.raises(ValueError) as raised:
        PIWAE(**arguments)
    assert str(raised.value) == message


def test_a_model_without_densities_is_refused_at_compile():
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    with pytest.raises(ValueError, match="needs the log-density of codes under the posterior and the prior"):
        model.compile(optimizer="adam", loss="bernoulli", objective="piwae")
