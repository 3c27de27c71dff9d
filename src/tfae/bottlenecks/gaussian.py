"""The Gaussian bottleneck of a variational autoencoder."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from keras import ops

import tfae.random
from tfae.bottlenecks.variational import VariationalBottleneck
from tfae.hookspecs import hookimpl

_LOG_2PI = math.log(2.0 * math.pi)


class GaussianBottleneck(VariationalBottleneck):
    """Encodes each sample as a diagonal Gaussian ``N(mean, exp(log_variance))``.

    While training the code is the reparameterised sample ``mean + exp(log_variance / 2) * eps`` with
    ``eps ~ N(0, I)``, so gradients reach the encoder; at inference it is the mean. The prior is ``N(0, I)``
    unless ``prior`` says otherwise. ``log_density`` is the Gaussian's log-density.

    Args:
        latent_dim: positive int, the size of the code.
        regularizer: usually ``"kld"`` (``GaussianKLDRegularizer``), which makes the model a VAE.
        seed: optional int for reproducible sampling.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: features of shape ``(batch, ...)``.
        training: sample when ``True``, return the mean otherwise.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, latent_dim)``.

    Example:

    >>> bottleneck = GaussianBottleneck(latent_dim=2, regularizer="kld")
    >>> mean, log_variance = bottleneck.distribution_parameters(keras.ops.ones((4, 8)))
    >>> tuple(mean.shape), tuple(log_variance.shape)
    ((4, 2), (4, 2))
    """

    parameters = 2
    distribution = "gaussian"
    default_prior = "standard_normal"

    def sample(self, mean: Any, log_variance: Any) -> Any:
        noise = self.random(
            lambda shape: tfae.random.normal(shape, self.seed_generator, dtype="float32"), ops.shape(mean)
        )
        return mean + ops.exp(0.5 * log_variance) * noise

    def mean(self, mean: Any, log_variance: Any) -> Any:
        return mean

    def log_density(self, code: Any, mean: Any, log_variance: Any) -> Any:
        # (code - mean) / std in two halves: a narrow posterior's exp(-log_variance) overflows float32 past
        # log-variance -88 and its square difference underflows to 0, and 0 x inf is NaN.
        fourth_root_of_precision = ops.exp(-0.25 * log_variance)
        return -0.5 * (
            _LOG_2PI + log_variance + ops.square((code - mean) * fourth_root_of_precision * fourth_root_of_precision)
        )


@hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(GaussianBottleneck, name="gaussian", aliases=["normal"])
