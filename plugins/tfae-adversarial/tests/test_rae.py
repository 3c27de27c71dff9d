"""Regularised autoencoders: the decoder penalties against NumPy, a model that logs them, trains them down and
refuses bad arguments (saving and loading: test_saving.py).

``check_the_penalties_match_numpy`` runs on TensorFlow here and again on JAX (test_on_jax.py): the gradient
penalty differentiates the decoder with each backend's own gradient.
"""

import numpy as np
import numpy_reference as reference
import pytest
from keras import ops
from tfae.datasets import load_digits

from tfae_adversarial.rae import RegularizedAutoencoder, decoder_gradient_penalty, decoder_weight_penalty


def to_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor), dtype="float64")


def small_model(decoder_penalty, decoder_beta=0.5, features=6):
    """An RAE on vectors of ``features``: Dense(5, tanh) -> code of 3 -> Dense(5, tanh) -> Dense(features)."""
    bottleneck = {"name": "vanilla", "latent_dim": 3, "regularizer": {"name": "l2", "beta": 0.05}}
    model = RegularizedAutoencoder(bottleneck, decoder_penalty, decoder_beta, hidden=[5], activation="tanh")
    model.build((None, features))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=0.7, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def check_the_penalties_match_numpy():
    """RAE-GP's ||grad_z sum D(z)||^2 of each code and RAE-L2's ||theta||^2, for a tanh decoder."""
    x = np.random.default_rng(1).random((7, 6)).astype("float32")
    for penalty in ("gp", "l2"):
        model = small_model(penalty)
        weights = model.decoder_network.get_weights()
        codes = to_numpy(model.encoder(x))
        np.testing.assert_allclose(
            to_numpy(model.decoder_network(codes)), reference.tanh_decoder(weights, codes), rtol=1e-5, atol=1e-5
        )
        expected_gp = reference.rae_gradient_penalty(weights, codes)
        found = decoder_gradient_penalty(model.decoder_network, codes)
        assert str(ops.dtype(found)) == "float32" and tuple(found.shape) == (7,)
        np.testing.assert_allclose(to_numpy(found), expected_gp, rtol=1e-5, atol=1e-6)
        expected_l2 = reference.rae_weight_penalty(weights)
        np.testing.assert_allclose(float(decoder_weight_penalty(model.decoder_network)), expected_l2, rtol=1e-6)
        expected = expected_gp.mean() if penalty == "gp" else expected_l2
        np.testing.assert_allclose(float(model.penalty_of_decoder(x)), expected, rtol=1e-5)


CHECKS = [check_the_penalties_match_numpy]
ON_JAX = [check_the_penalties_match_numpy]


@pytest.mark.parametrize("check", CHECKS)
def test_the_check(check):
    check()


def test_the_logged_penalty_is_the_weighted_penalty_and_adds_to_the_loss():
    """``evaluate`` leaves the weights as they are: its decoder_penalty_loss is decoder_beta * ||theta||^2, and
    loss is reconstruction_loss + regularization_loss + decoder_penalty_loss."""
    model = small_model("l2", decoder_beta=0.25)
    model.compile(optimizer="adam", loss="bernoulli", jit_compile=False)
    x = np.random.default_rng(2).random((32, 6)).astype("float32")
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    expected = 0.25 * reference.rae_weight_penalty(model.decoder_network.get_weights())
    assert logs["decoder_penalty_loss"] == pytest.approx(expected, rel=1e-5)
    parts = logs["reconstruction_loss"] + logs["regularization_loss"] + logs["decoder_penalty_loss"]
    assert logs["loss"] == pytest.approx(parts, rel=1e-5)
    codes = to_numpy(model.encoder(x))
    assert logs["l2_loss"] == pytest.approx(0.05 * 2 * reference.rae_code_penalty(codes).mean(), rel=1e-4)


def test_the_gradient_penalty_trains_down_on_the_digits():
    """A large decoder_beta: fit lowers the decoder's gradient penalty (its second derivative reaches the
    decoder's weights) while the reconstruction improves, and loss holds the weighted penalty."""
    images = load_digits()[0][:256]
    bottleneck = {"name": "vanilla", "latent_dim": 2, "regularizer": {"name": "l2", "beta": 1e-3}}
    model = RegularizedAutoencoder(bottleneck, "gp", decoder_beta=1.0, hidden=[16])
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(images, epochs=3, batch_size=32, verbose=0).history
    assert history["decoder_penalty_loss"][-1] < 0.5 * history["decoder_penalty_loss"][0], history
    assert history["reconstruction_loss"][-1] < history["reconstruction_loss"][0]
    parts = np.add(np.add(history["reconstruction_loss"], history["regularization_loss"]), history["decoder_penalty_loss"])
    np.testing.assert_allclose(history["loss"], parts, rtol=1e-4)


@pytest.mark.parametrize("penalty", ["sn", "L2", None, 2])
def test_an_unknown_decoder_penalty_is_refused(penalty):
    with pytest.raises(ValueError, match=r"`decoder_penalty` must be 'l2' .* or 'gp' .*Received: decoder_penalty="):
        RegularizedAutoencoder("vanilla", decoder_penalty=penalty)


@pytest.mark.parametrize("beta", [-1.0, float("inf"), float("nan"), True, "1e-7"])
def test_a_bad_decoder_beta_is_refused(beta):
    with pytest.raises(ValueError, match=r"`decoder_beta` must be a finite number >= 0.*Received: decoder_beta="):
        RegularizedAutoencoder("vanilla", decoder_penalty="l2", decoder_beta=beta)
