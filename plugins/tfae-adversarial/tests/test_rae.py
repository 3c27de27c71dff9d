"""Regularised autoencoders: the decoder penalties and the objectives' losses against NumPy, tfae's objective
check, the gradient penalty trained down on the digits, and the refusals. (Their example configs run through
`tfae train`: test_examples.py.)

``check_the_objectives_match_numpy`` runs on TensorFlow here and again on JAX (test_on_jax.py): the gradient
penalty differentiates the decoder with each backend's own gradient.
"""

import json

import numpy as np
import pytest
from keras import ops

import numpy_reference as reference
from tfae.bottlenecks import Posterior
from tfae.datasets import load_digits
from tfae.models import Autoencoder, LayoutAutoencoder
from tfae.objectives import ObjectiveTerms
from tfae.plugins import get_component, resolve
from tfae.testing import check_objective
from tfae_adversarial.rae import RAEGP, RAEL2, decoder_gradient_penalty, decoder_weight_penalty

RAE_BOTTLENECK = {"name": "vanilla", "regularizer": {"name": "l2", "beta": 0.01}}


def to_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor), dtype="float64")


def tanh_decoder():
    """A decoder Dense(5, tanh) -> Dense(6) from codes of 3, with random weights of scale 0.7."""
    model = LayoutAutoencoder({"name": "vanilla", "latent_dim": 3}, hidden=[5], activation="tanh")
    model.build((None, 6))
    rng = np.random.default_rng(0)
    decoder = model.decoder_network
    decoder.set_weights([rng.normal(scale=0.7, size=w.shape).astype("float32") for w in decoder.get_weights()])
    return decoder


def check_the_objectives_match_numpy():
    """RAE-GP's ||grad_z sum D(z)||^2 of each code and RAE-L2's ||theta||^2, for a tanh decoder, and each
    objective's loss: reconstruction + penalties + decoder_beta * L_REG, the GP weighted by sample weights."""
    decoder = tanh_decoder()
    weights = decoder.get_weights()
    codes = np.random.default_rng(1).normal(size=(7, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(decoder(codes)), reference.tanh_decoder(weights, codes), rtol=1e-5, atol=1e-5)
    expected_gp = reference.rae_gradient_penalty(weights, codes)
    found = decoder_gradient_penalty(decoder, codes)
    assert str(ops.dtype(found)) == "float32" and tuple(found.shape) == (7,)
    np.testing.assert_allclose(to_numpy(found), expected_gp, rtol=1e-5, atol=1e-6)
    expected_l2 = reference.rae_weight_penalty(weights)
    np.testing.assert_allclose(float(decoder_weight_penalty(decoder.trainable_weights)), expected_l2, rtol=1e-6)

    reconstruction = np.random.default_rng(2).random((1, 7)).astype("float32")
    sample_weight = np.linspace(0.0, 2.0, 7).astype("float32")
    for objective, penalty, weighted in ((RAEGP(0.5), expected_gp, True), (RAEL2(0.25), expected_l2, False)):
        for sample_weights in (None, sample_weight):
            terms = ObjectiveTerms(
                reconstruction,
                Posterior(parameters=(codes,), code=codes),
                {"l2_loss": ops.convert_to_tensor(0.2)},
                in_nats=True,
                decoder=decoder,
                sample_weight=sample_weights,
            )
            results = objective(terms)
            assert set(results) == {"loss", "decoder_penalty_loss"}
            expected = objective.decoder_beta * np.broadcast_to(penalty, (7,))
            if weighted and sample_weights is not None:
                expected = expected * sample_weights
            np.testing.assert_allclose(to_numpy(results["decoder_penalty_loss"]), expected, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(to_numpy(results["loss"]), reconstruction[0] + 0.2 + expected, rtol=1e-5)


CHECKS = [check_the_objectives_match_numpy]
ON_JAX = [check_the_objectives_match_numpy]


@pytest.mark.parametrize("check", CHECKS)
def test_the_check(check):
    check()


def test_rae_gp_fulfils_the_tfae_objective_contract():
    check_objective(lambda: RAEGP(decoder_beta=0.5), bottleneck=RAE_BOTTLENECK)


def test_rae_l2_fulfils_the_tfae_objective_contract():
    check_objective(lambda: RAEL2(decoder_beta=0.01), bottleneck=RAE_BOTTLENECK)


def test_the_gradient_penalty_trains_down_on_the_digits():
    """A large decoder_beta: fit lowers the decoder's gradient penalty (its second derivative reaches the
    decoder's weights, under XLA) while the reconstruction improves; loss holds the weighted penalty."""
    images = load_digits()[0][:256]
    model = Autoencoder({"name": "vanilla", "latent_dim": 2, "regularizer": {"name": "l2", "beta": 1e-3}})
    objective = {"name": "rae_gp", "decoder_beta": 1.0}
    model.compile(optimizer="adam", loss="bernoulli", objective=objective, jit_compile=True)
    history = model.fit(images, epochs=3, batch_size=32, verbose=0).history
    assert history["decoder_penalty_loss"][-1] < 0.5 * history["decoder_penalty_loss"][0], history
    assert history["reconstruction_loss"][-1] < history["reconstruction_loss"][0]
    parts = np.add(history["reconstruction_loss"], history["regularization_loss"])
    np.testing.assert_allclose(history["loss"], parts + history["decoder_penalty_loss"], rtol=1e-4)


def test_registered_by_name_and_rebuilt_from_config():
    assert get_component("objective", "rae_gp") is RAEGP and get_component("objective", "rae_l2") is RAEL2
    for name, kind in (("rae_gp", RAEGP), ("rae_l2", RAEL2)):
        objective = resolve("objective", {"name": name, "decoder_beta": 0.5})
        config = json.loads(json.dumps(objective.get_config()))
        assert config == {"decoder_beta": 0.5} and kind.from_config(config).decoder_beta == 0.5
        assert resolve("objective", name).decoder_beta == 1e-7 and objective.importance_samples == 1


@pytest.mark.parametrize("kind", [RAEGP, RAEL2])
@pytest.mark.parametrize("beta", [-1.0, float("inf"), float("nan"), True, "1e-7"])
def test_a_bad_decoder_beta_is_refused(kind, beta):
    message = rf"`decoder_beta` must be a finite number >= 0, the weight of {kind.__name__}'s .*Received: decoder_beta="
    with pytest.raises(ValueError, match=message):
        kind(decoder_beta=beta)
