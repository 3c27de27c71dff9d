"""The reversed KL divergence: of the standard normal prior from a Gaussian posterior."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.priors.standard_normal import StandardNormalPrior
from tfae.regularizers.base import BaseRegularizer


class GaussianReversedKLDRegularizer(BaseRegularizer):
    """``KL(N(0, I) || N(mean, exp(log_variance)))`` of each sample, in nats.

    Per sample: ``sum over latent dims of 0.5 * ((1 + mean**2) * exp(-log_variance) + log_variance - 1)``.
    The loss is ``beta`` times its batch mean. Compared with the forward KL it punishes posteriors that are
    narrower than the prior far more, and so favours wide, overlapping codes.

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        mean: shape ``(batch, latent_dim)``.
        log_variance: shape ``(batch, latent_dim)``.

    Example:

    >>> regularizer = GaussianReversedKLDRegularizer()
    >>> float(regularizer(keras.ops.zeros((2, 3)), keras.ops.zeros((2, 3))))
    0.0
    """

    divergence_from_prior = True

    def check_bottleneck(self, bottleneck: Any) -> None:
        self.require_distribution(bottleneck, "gaussian")
        self.require_prior(bottleneck, StandardNormalPrior, "use 'kld', which estimates the divergence from any prior")

    def calc(self, mean: Any, log_variance: Any) -> Any:
        # expm1 keeps exp(-v) - 1 + v accurate for a log-variance near 0, where the posterior nears the prior.
        inverse_variance = ops.exp(-log_variance)
        return 0.5 * ops.sum(ops.expm1(-log_variance) + log_variance + ops.square(mean) * inverse_variance, axis=-1)


@hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(GaussianReversedKLDRegularizer, name="reversed_kld", aliases=["reverse_kld", "reversed_kl"])
