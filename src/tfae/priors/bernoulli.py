"""The uniform prior of binary codes, Bernoulli(0.5) in each dimension."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from tfae.hookspecs import hookimpl
from tfae.priors.base import BasePrior


class BernoulliPrior(BasePrior):
    """Bernoulli(0.5) in each dimension: every binary code equally likely. The Bernoulli bottleneck's default.

    Example:

    >>> bottleneck = BernoulliBottleneck(latent_dim=3)
    >>> sorted(set(keras.ops.convert_to_numpy(bottleneck.sample_prior(100, seed=0)).ravel()))
    [0.0, 1.0]
    """

    support = "binary"

    def log_prob(self, code: Any) -> Any:
        return ops.sum(self.log_prob_per_dimension(code), axis=-1)

    def log_prob_per_dimension(self, code: Any) -> Any:
        return ops.full_like(ops.cast(code, "float32"), -math.log(2.0))

    def sample(self, n: int, seed: Any = None) -> Any:
        uniform = keras.random.uniform(self.sample_shape(n), seed=seed, dtype="float32")
        return ops.cast(uniform < 0.5, "float32")


@hookimpl
def register_priors(register: Callable[..., Any]) -> None:
    register(BernoulliPrior, name="bernoulli", aliases=["uniform_bernoulli", "binary"])
