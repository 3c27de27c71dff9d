"""The standard normal prior, N(0, I): a VAE's default."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from tfae.hookspecs import hookimpl
from tfae.priors.base import BasePrior

_LOG_2PI = math.log(2.0 * math.pi)


class StandardNormalPrior(BasePrior):
    """``N(0, I)``: each dimension an independent standard normal. The Gaussian bottleneck's default prior.

    Example:

    >>> bottleneck = GaussianBottleneck(latent_dim=2, prior="standard_normal")
    >>> tuple(bottleneck.sample_prior(5, seed=0).shape)
    (5, 2)
    """

    def log_prob(self, code: Any) -> Any:
        return ops.sum(self.log_prob_per_dimension(code), axis=-1)

    def log_prob_per_dimension(self, code: Any) -> Any:
        return -0.5 * (_LOG_2PI + ops.square(ops.cast(code, "float32")))

    def sample(self, n: int, seed: Any = None) -> Any:
        return keras.random.normal(self.sample_shape(n), seed=seed, dtype="float32")


@hookimpl
def register_priors(register: Callable[..., Any]) -> None:
    register(StandardNormalPrior, name="standard_normal", aliases=["normal", "gaussian"])
