"""The Gaussian likelihood for real-valued data, with a fixed variance or one learned per feature or shared."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, cast

import keras
from keras import ops

from tfae.hookspecs import hookimpl
from tfae.likelihoods.base import BaseLikelihood, sum_over_features

# The variances trained with the model: one per feature, or one for all features.
LEARNED = ("learned", "shared")


class GaussianLikelihood(BaseLikelihood):
    """Each feature is Gaussian around the decoder's output: ``x ~ N(mean, variance)``.

    The negative log-likelihood includes its constant:
    ``0.5 * sum((x - mean)**2 / variance + log(variance) + log(2 * pi))``.

    Args:
        variance: a positive float (fixed); ``"learned"``: one variance per feature, trained with the model
            and the same for every sample; or ``"shared"``: one variance for all features and samples, trained
            with the model, as in sigma-VAE (Rybkin et al. 2021). With ``"shared"``, a linear decoder and a
            Gaussian bottleneck, the model is probabilistic PCA (Tipping and Bishop 1999).

    Call arguments:
        parameters: the mean, shape ``(batch, ...)``.

    Returns:
        The mean itself.

    Example:

    >>> likelihood = GaussianLikelihood(variance=1.0)
    >>> round(float(likelihood.negative_log_likelihood(keras.ops.zeros((1, 1)), keras.ops.zeros((1, 1)))[0]), 4)
    0.9189
    """

    def __init__(self, variance: float | str = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        learned = isinstance(variance, str) and variance in LEARNED
        if not learned and (
            isinstance(variance, bool) or not isinstance(variance, numbers.Real) or not 0 < variance < math.inf
        ):
            raise ValueError(
                f"`variance` must be a positive number, 'learned' (one per feature) or 'shared' (one for all "
                f"features). Received: variance={variance!r}"
            )
        self.variance: float | str = variance if learned else float(variance)
        self.log_variance: keras.Variable | None = None

    def build(self, input_shape: Sequence[int | None]) -> None:
        if self.variance in LEARNED:
            shape = tuple(input_shape[1:]) if self.variance == "learned" else ()
            self.log_variance = self.add_weight(shape=shape, initializer="zeros", name="log_variance", dtype="float32")

    def call(self, parameters: Any) -> Any:
        return parameters

    def negative_log_likelihood(self, targets: Any, parameters: Any) -> Any:
        mean = ops.cast(parameters, "float32")
        targets = ops.cast(targets, "float32")
        if self.log_variance is None:
            # Not learned (a learned variance is built before it is used), so the variance is a float.
            log_variance = ops.convert_to_tensor(math.log(cast(float, self.variance)), dtype="float32")
        else:
            log_variance = ops.cast(self.log_variance, "float32")
        per_feature = 0.5 * (ops.square(targets - mean) * ops.exp(-log_variance) + log_variance + math.log(2 * math.pi))
        return sum_over_features(per_feature)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "variance": self.variance}


@hookimpl
def register_likelihoods(register: Callable[..., Any]) -> None:
    register(GaussianLikelihood, name="gaussian", aliases=["normal"])
