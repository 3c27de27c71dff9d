"""The Bernoulli likelihood for data in [0, 1], from logits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.likelihoods.base import BaseLikelihood, sum_over_features


class BernoulliLikelihood(BaseLikelihood):
    """Each feature is Bernoulli with probability ``sigmoid(logits)``.

    The negative log-likelihood is the binary cross-entropy from logits, summed over features, computed
    stably for any logit: ``max(l, 0) - l * x + log(1 + exp(-|l|))``. Targets may be any value in [0, 1].

    Call arguments:
        parameters: logits, shape ``(batch, ...)``.

    Returns:
        Probabilities, ``sigmoid(logits)``.

    Example:

    >>> likelihood = BernoulliLikelihood()
    >>> float(likelihood.negative_log_likelihood(keras.ops.ones((1, 2)), keras.ops.zeros((1, 2)))[0])
    1.3862943649291992
    """

    def call(self, parameters: Any) -> Any:
        return ops.sigmoid(parameters)

    def negative_log_likelihood(self, targets: Any, parameters: Any) -> Any:
        logits = ops.cast(parameters, "float32")
        targets = ops.cast(targets, "float32")
        per_feature = ops.relu(logits) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
        return sum_over_features(per_feature)


@hookimpl
def register_likelihoods(register: Callable[..., Any]) -> None:
    register(BernoulliLikelihood, name="bernoulli", aliases=["binary_crossentropy_sum"])
