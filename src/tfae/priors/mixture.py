"""A learned mixture of Gaussians as the prior (the GMM prior of Dilokthanakul et al. 2016, diagonal)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from tfae.counts import checked_count
from tfae.hookspecs import hookimpl
from tfae.priors.base import BasePrior

_LOG_2PI = math.log(2.0 * math.pi)


class MixturePrior(BasePrior):
    """``p(z) = sum_k pi_k N(z; mu_k, diag(exp(log_variance_k)))`` with learned weights, means and variances.

    Trained with the model in the same ``fit``: a KL regularizer then estimates ``KL(q || p)`` by Monte Carlo
    (``log q(z|x) - log p(z)`` of the drawn code), since it has no closed form. The means start spread out
    (normal draws of scale 1, seeded) and the variances at 1. It does not factorise over dimensions.

    Args:
        components: positive int, the number of Gaussians.
        seed: optional int, the seed of the means' initial values.
        latent_dim: optional; ``None`` takes the bottleneck's.
        **kwargs: base layer keyword arguments.

    Example:

    >>> bottleneck = GaussianBottleneck(latent_dim=2, regularizer="kld", prior={"name": "mixture", "components": 10})
    """

    def __init__(
        self, components: int = 10, seed: int | None = None, latent_dim: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.components: int = checked_count(components, "components")
        self.seed: int | None = seed

    def build(self, latent_dim: Any) -> None:
        self.latent_dim = int(latent_dim)
        shape = (self.components, self.latent_dim)
        self.means = self.add_weight(
            shape=shape, initializer=keras.initializers.RandomNormal(seed=self.seed), dtype="float32", name="means"
        )
        self.log_variances = self.add_weight(shape=shape, initializer="zeros", dtype="float32", name="log_variances")
        self.logits = self.add_weight(shape=(self.components,), initializer="zeros", dtype="float32", name="logits")
        self.built = True

    def log_prob(self, code: Any) -> Any:
        code = ops.expand_dims(ops.cast(code, "float32"), -2)  # (..., 1, latent_dim) against (components, latent_dim)
        per_component = -0.5 * ops.sum(
            _LOG_2PI + self.log_variances + ops.square(code - self.means) * ops.exp(-self.log_variances), axis=-1
        )
        return ops.logsumexp(per_component + ops.log_softmax(self.logits), axis=-1)

    def sample(self, n: int, seed: Any = None) -> Any:
        shape = self.sample_shape(n)
        seed = keras.random.SeedGenerator(seed) if not isinstance(seed, keras.random.SeedGenerator) else seed
        chosen = keras.random.categorical(ops.expand_dims(self.logits, 0), shape[0], seed=seed)[0]
        means = ops.take(self.means, chosen, axis=0)
        scales = ops.exp(0.5 * ops.take(self.log_variances, chosen, axis=0))
        return means + scales * keras.random.normal(shape, seed=seed, dtype="float32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "components": self.components, "seed": self.seed}


@hookimpl
def register_priors(register: Callable[..., Any]) -> None:
    register(MixturePrior, name="mixture", aliases=["gmm", "mixture_of_gaussians"])
