"""The KL divergence of a Bernoulli posterior from the Bernoulli(0.5) prior."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.priors.bernoulli import BernoulliPrior
from tfae.regularizers.base import BaseRegularizer


class BernoulliKLDRegularizer(BaseRegularizer):
    """``KL(Bernoulli(sigmoid(logits)) || Bernoulli(0.5))`` of each sample, in nats.

    Per sample: ``sum over latent dims of q*log(q) + (1-q)*log(1-q) + log(2)`` with ``q = sigmoid(logits)``,
    computed from the logits so that it stays finite for saturated probabilities: for any finite float32
    logits it lies between 0 and ``latent_dim * log(2)``.

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        logits: shape ``(batch, latent_dim)``.

    Example:

    >>> regularizer = BernoulliKLDRegularizer()
    >>> float(regularizer(keras.ops.zeros((2, 3))))
    0.0
    """

    divergence_from_prior = True

    def check_bottleneck(self, bottleneck: Any) -> None:
        self.require_distribution(bottleneck, "bernoulli")
        self.require_prior(bottleneck, BernoulliPrior, "keep the bottleneck's 'bernoulli' prior")

    def calc(self, logits: Any) -> Any:
        # sigmoid(-logits), not 1 - sigmoid(logits), which rounds to 0 for logits above about 17.
        probability, complement = ops.sigmoid(logits), ops.sigmoid(-logits)
        negative_entropy = probability * ops.log_sigmoid(logits) + complement * ops.log_sigmoid(-logits)
        return ops.sum(negative_entropy + math.log(2.0), axis=-1)


@hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(BernoulliKLDRegularizer, name="bernoulli_kld", aliases=["binary_kld"])
