"""A tfae model whose decoder is linear, ``D(z) = W z + b``, under a Gaussian likelihood: the linear-Gaussian model of
``numpy_reference``, whose potential, its gradient and ``log p(x)`` are closed forms. Its terms are built by hand
around a chosen code, so that the objective and NumPy integrate the same trajectory."""

import keras
import numpy as np
from keras import ops

import numpy_reference as ref
from tfae.bottlenecks import Posterior
from tfae.models import Autoencoder
from tfae.objectives import ObjectiveTerms

FEATURES, LATENT, NOISE_VARIANCE = 3, 2, 0.3


class LinearDecoderAutoencoder(Autoencoder):
    def make_decoder(self, decoder_input):
        return keras.layers.Dense(FEATURES, name="linear")(decoder_input)


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def linear_gaussian(rng):
    """A ``numpy_reference.LinearGaussian`` with orthogonal columns of lengths 1 and 2 (a diagonal exact posterior)."""
    basis, _ = np.linalg.qr(rng.normal(size=(FEATURES, LATENT)))
    weights = (basis * np.linspace(1.0, 2.0, LATENT)).astype("float32").astype("float64")
    return ref.LinearGaussian(weights, rng.normal(size=FEATURES).astype("float32").astype("float64"), NOISE_VARIANCE)


def linear_model(reference, bottleneck):
    """The tfae model with ``reference``'s decoder weights and likelihood."""
    model = LinearDecoderAutoencoder(
        bottleneck=bottleneck, likelihood={"name": "gaussian", "variance": reference.noise_variance}
    )
    model.build((None, FEATURES))
    model.decoder_network.get_layer("linear").set_weights(
        [reference.weights.T.astype("float32"), reference.bias.astype("float32")]
    )
    return model


def terms_around(model, x, parameters, code):
    """The terms the model would give its objective for ``x``, with the posterior ``parameters`` and ``code``."""
    posterior = Posterior(parameters, code, model.bottleneck)
    return ObjectiveTerms(
        np.zeros((1, len(x)), "float32"),
        posterior,
        {},
        in_nats=True,
        targets=ops.convert_to_tensor(x),
        decoder=model.decoder_network,
        likelihood=model.likelihood,
        training=True,
    )


def sample(reference, n, rng):
    """``n`` samples of ``x`` from the model, float32."""
    z = rng.normal(size=(n, LATENT))
    noise = np.sqrt(reference.noise_variance) * rng.normal(size=(n, FEATURES))
    return (z @ reference.weights.T + reference.bias + noise).astype("float32")
