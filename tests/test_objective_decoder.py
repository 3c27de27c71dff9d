"""What an objective can reach beyond the terms' tensors: the decoder, log p(x | z) of its own codes, gradients.

A linear decoder ``D(z) = W z + b`` makes every quantity a closed form in NumPy: the gradient penalty of
RAE-GP, ``||d sum(D(z)) / dz||^2 = ||W^T 1||^2``, and the gradient of a Gaussian ``-log p(x | z)`` that a
Hamiltonian VAE's leapfrog steps follow, ``-W^T (x - W z - b)``.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

import tfae
from tfae.autodiff import gradient
from tfae.models import Autoencoder
from tfae.objectives import BaseObjective
from tfae.plugins import register_plugin, unregister_plugin

pytestmark = pytest.mark.backend_neutral

FEATURES, LATENT = 5, 3


class LinearAutoencoder(Autoencoder):
    def make_decoder(self, decoder_input):
        return keras.layers.Dense(FEATURES, name="linear")(decoder_input)


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


class GradientPenalty(BaseObjective):
    """The ELBO plus ``weight * ||d sum(decoder(z)) / dz||^2`` per sample, and the decoder's squared weights
    (RAE-GP's and RAE-L2's extra terms), logged."""

    logged = ("gradient_penalty", "decoder_decay")

    def __init__(self, weight=1.0):
        super().__init__()
        self.weight = float(weight)

    def __call__(self, terms):
        code = terms.posterior.code
        slopes = gradient(lambda z: ops.sum(terms.decode(z)), code)
        penalty = ops.sum(slopes**2, axis=-1)
        decay = sum(ops.sum(w**2) for w in terms.decoder_weights)
        loss = ops.mean(terms.reconstruction_loss, axis=0) + terms.regularization + self.weight * penalty
        return {"loss": loss, "gradient_penalty": penalty, "decoder_decay": ops.broadcast_to(decay, penalty.shape)}

    def get_config(self):
        return {"weight": self.weight}


@pytest.fixture
def gradient_penalty():
    class Plugin:
        @staticmethod
        @tfae.hookimpl
        def register_objectives(register):
            register(GradientPenalty, name="test_gradient_penalty")

    register_plugin(Plugin, name="test-gradient-penalty")
    yield
    unregister_plugin("test-gradient-penalty")


def linear_model(likelihood):
    model = LinearAutoencoder(bottleneck={"name": "gaussian", "latent_dim": LATENT}, likelihood=likelihood)
    model.build((None, FEATURES))
    return model


def test_the_gradient_of_a_function_inside_a_loss_is_its_closed_form(rng):
    x = ops.convert_to_tensor(rng.normal(size=(4, 3)).astype("float32"))
    result = gradient(lambda v: ops.sum(ops.sin(v) * 3.0), x)
    assert np.allclose(to_numpy(result), 3.0 * np.cos(to_numpy(x)), atol=1e-6)
    assert np.array_equal(to_numpy(gradient(lambda v: ops.sum(ops.zeros(())), x)), np.zeros((4, 3)))


def test_the_terms_decode_codes_and_score_them_with_the_models_own_decoder(rng):
    model = linear_model({"name": "gaussian", "variance": 1.0})
    kernel, bias = (to_numpy(w) for w in model.decoder_network.get_layer("linear").weights)
    x = rng.uniform(size=(6, FEATURES)).astype("float32")
    terms = model_terms(model, x)
    codes = rng.normal(size=(2, 6, LATENT)).astype("float32")
    assert np.allclose(to_numpy(terms.decode(codes)), codes @ kernel + bias, atol=1e-5)
    expected = 0.5 * np.sum((x - (codes @ kernel + bias)) ** 2 + math.log(2 * math.pi), axis=-1)
    assert np.allclose(to_numpy(terms.negative_log_likelihood(codes)), expected, atol=1e-4)
    assert np.allclose(to_numpy(terms.negative_log_likelihood(codes[0])), expected[0], atol=1e-4)
    # Hamiltonian dynamics follow the gradient of -log p(x | z): -W^T (x - W z - b).
    slope = gradient(lambda z: ops.sum(terms.negative_log_likelihood(z)), ops.convert_to_tensor(codes[0]))
    assert np.allclose(to_numpy(slope), -(x - (codes[0] @ kernel + bias)) @ kernel.T, atol=1e-4)
    assert [w.path for w in terms.decoder_weights] == [w.path for w in model.decoder_network.trainable_weights]
    assert to_numpy(terms.outputs).shape == (1, 6, FEATURES)
    assert np.allclose(to_numpy(terms.targets), x)


def model_terms(model, x):
    """The terms the model gives its objective for ``x``: captured from a real ``compute_loss``."""
    captured = []

    class Capture(BaseObjective):
        def __call__(self, terms):
            captured.append(terms)
            return {"loss": ops.mean(terms.reconstruction_loss, axis=0)}

    model.compile(optimizer="adam", objective=Capture())
    model.compute_loss(x)
    return captured[0]


def test_an_objective_with_a_gradient_penalty_trains_and_saves(rng, tmp_path, gradient_penalty):
    x = rng.uniform(size=(64, FEATURES)).astype("float32")
    model = linear_model("bernoulli")
    model.compile(optimizer="adam", objective={"name": "test_gradient_penalty", "weight": 0.5})
    kernel = to_numpy(model.decoder_network.get_layer("linear").kernel)
    # d sum(W z + b) / dz is each row's sum of W, the same for every code.
    expected_penalty = np.sum(kernel.sum(axis=1) ** 2)
    logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert logs["gradient_penalty"] == pytest.approx(expected_penalty, rel=1e-4)
    assert logs["decoder_decay"] == pytest.approx(
        sum(np.sum(to_numpy(w) ** 2) for w in model.decoder_network.trainable_weights), rel=1e-4
    )
    history = model.fit(x, epochs=3, batch_size=16, verbose=0).history
    assert all(np.isfinite(history["loss"]))
    # The penalty's own gradient (a second derivative) reaches the decoder: it shrinks the rows' sums.
    assert history["gradient_penalty"][-1] < expected_penalty
    model.save(tmp_path / "model.keras")
    loaded = tfae.load_model(tmp_path / "model.keras")
    assert loaded.objective.weight == 0.5


def test_terms_made_by_hand_say_what_decode_needs(rng):
    from tfae.bottlenecks import GaussianBottleneck, Posterior
    from tfae.objectives import ObjectiveTerms

    posterior = Posterior(
        (np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32")),
        np.zeros((2, 3), "float32"),
        GaussianBottleneck(latent_dim=3),
    )
    terms = ObjectiveTerms(np.zeros((1, 2), "float32"), posterior, {}, in_nats=True)
    with pytest.raises(ValueError, match="These terms hold no decoder, which `decode` needs"):
        terms.decode(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="needs a tfae likelihood: compile with 'bernoulli'"):
        terms.negative_log_likelihood(np.zeros((2, 3), "float32"))
