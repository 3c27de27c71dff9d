"""The reversed KL divergence: of the standard normal prior from a Gaussian posterior."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.priors.standard_normal import StandardNormalPrior
from tfae.regularizers.base import EXP_ARGUMENT_LIMIT, SQRT_HALF, BaseRegularizer, half_expm1


class GaussianReversedKLDRegularizer(BaseRegularizer):
    """``KL(N(0, I) || N(mean, exp(log_variance)))`` of each sample, in nats.

    Per sample: ``sum over latent dims of 0.5 * ((1 + mean**2) * exp(-log_variance) + log_variance - 1)``.
    The loss is ``beta`` times its batch mean. Compared with the forward KL it punishes posteriors that are
    narrower than the prior far more, and so favours wide, overlapping codes.

    For any finite float32 parameters (the bottleneck's Dense layer clips nothing) it is never NaN: it is
    finite and right wherever the divergence is below float32's largest number (3.4e38, reached at a
    log-variance of about -89.4 with a mean of 0), and inf past it, which ``fit`` reports as a divergence
    (``DivergenceError``) naming ``reversed_kld_loss``.

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
        # 0.5 * (exp(-v) - 1 + v), never negative, is the divergence at mean 0; expm1 keeps it accurate near
        # v = 0, where the posterior nears the prior.
        at_zero_mean = half_expm1(-log_variance) + 0.5 * log_variance
        # 0.5 * mean**2 * exp(-v), as the square of mean * sqrt(0.5) * exp(-v / 4) * exp(-v / 4), so that it
        # overflows only where its value does, and no factor falls below float32's smallest normal number
        # (CPUs flush those to 0) while the product is still of a size that counts. exp(-v / 4) is capped:
        # past the cap the first term is inf already, and the cap keeps a mean of 0 from meeting an inf
        # (0 * inf is NaN: the divergence at log-variance -89 and mean 0 was NaN).
        quarter = ops.exp(ops.minimum(-0.25 * log_variance, 0.5 * EXP_ARGUMENT_LIMIT))
        scaled = mean * SQRT_HALF * quarter * quarter
        return ops.sum(at_zero_mean + ops.square(scaled), axis=-1)


@hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(GaussianReversedKLDRegularizer, name="reversed_kld", aliases=["reverse_kld", "reversed_kl"])
