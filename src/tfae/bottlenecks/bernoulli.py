"""The Bernoulli (binary) bottleneck, trained with a relaxed or straight-through estimator."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from keras import ops

import tfae.random
from tfae.bottlenecks.base import RegularizerSpec
from tfae.bottlenecks.variational import VariationalBottleneck
from tfae.hookspecs import hookimpl


class BernoulliBottleneck(VariationalBottleneck):
    """Encodes each sample as independent Bernoulli variables with probabilities ``sigmoid(logits)``.

    A discrete draw passes no gradient, so training uses the relaxed Bernoulli (binary Concrete,
    Maddison et al. 2017): ``sigmoid((logits + logistic_noise) / temperature)``. With
    ``straight_through=True`` the forward pass uses the hard 0/1 value of that sample while the gradient is
    the relaxed one's. Either way gradients reach every encoder weight. At inference the code is the
    mean, ``sigmoid(logits)``. The prior is Bernoulli(0.5) (``tfae.priors.BernoulliPrior``).

    ``log_density`` is the Bernoulli log-probability ``code * log(p) + (1 - code) * log(1 - p)``: exact for
    hard codes (``straight_through=True``), and for relaxed codes the cross-entropy that stands in for it (the
    relaxed sample's own density, a binary Concrete's, is not what a Bernoulli model scores).

    Args:
        latent_dim: positive int, the number of binary variables.
        temperature: positive float; lower is closer to discrete and noisier in its gradients.
        straight_through: bool, use hard codes in the forward pass while training.
        regularizer: usually ``"bernoulli_kld"``, the KL divergence to Bernoulli(0.5).
        seed: optional int for reproducible sampling.
        prior: the prior of the codes; by default ``"bernoulli"``, Bernoulli(0.5) in each dimension.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: features of shape ``(batch, ...)``.
        training: sample when ``True``, return the probabilities otherwise.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, latent_dim)``, values in [0, 1].

    Example:

    >>> bottleneck = BernoulliBottleneck(latent_dim=3, temperature=0.5)
    >>> tuple(bottleneck(keras.ops.ones((2, 4))).shape)
    (2, 3)
    """

    parameters = 1
    distribution = "bernoulli"
    default_prior = "bernoulli"

    def __init__(
        self,
        latent_dim: int,
        temperature: float = 0.5,
        straight_through: bool = False,
        regularizer: RegularizerSpec | Sequence[RegularizerSpec] | None = None,
        seed: int | None = None,
        prior: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, regularizer=regularizer, seed=seed, prior=prior, **kwargs)
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not 0 < temperature < math.inf:
            raise ValueError(f"`temperature` must be a positive number. Received: temperature={temperature!r}")
        self.temperature: float = float(temperature)
        self.straight_through: bool = bool(straight_through)

    def split(self, raw: Any) -> tuple[Any, ...]:
        return (raw,)

    def sample(self, logits: Any) -> Any:
        uniform = self.random(
            lambda shape: tfae.random.uniform(shape, self.seed_generator, minval=1e-6, maxval=1.0 - 1e-6),
            ops.shape(logits),
        )
        logistic_noise = ops.log(uniform) - ops.log1p(-uniform)
        relaxed = ops.sigmoid((logits + logistic_noise) / self.temperature)
        if not self.straight_through:
            return relaxed
        hard = ops.cast(relaxed > 0.5, relaxed.dtype)
        return relaxed + ops.stop_gradient(hard - relaxed)

    def sample_exact(self, logits: Any) -> Any:
        uniform = self.random(lambda shape: tfae.random.uniform(shape, self.seed_generator), ops.shape(logits))
        return ops.cast(uniform < ops.sigmoid(logits), "float32")

    def mean(self, logits: Any) -> Any:
        return ops.sigmoid(logits)

    def log_density(self, code: Any, logits: Any) -> Any:
        # The Bernoulli log-probability, exact for codes of 0 and 1 and the cross-entropy for relaxed ones.
        return code * ops.log_sigmoid(logits) + (1.0 - code) * ops.log_sigmoid(-logits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "temperature": self.temperature, "straight_through": self.straight_through}


@hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(BernoulliBottleneck, name="bernoulli", aliases=["binary"])
