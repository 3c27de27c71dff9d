"""The KL divergence of a Gaussian posterior from the standard normal prior: the VAE regularizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.posterior import Posterior
from tfae.priors.standard_normal import StandardNormalPrior
from tfae.regularizers.base import SQRT_HALF, BaseRegularizer, half_expm1


class GaussianKLDRegularizer(BaseRegularizer):
    """``KL(N(mean, exp(log_variance)) || N(0, I))`` of each sample, in nats.

    Per sample: ``sum over latent dims of 0.5 * (mean**2 + exp(log_variance) - log_variance - 1)``. Against
    another prior of the bottleneck (``"mixture"``, ``"vamp"``), which has no closed form, it is the Monte
    Carlo estimate ``log q(z | x) - log p(z)`` of the code the decoder received.
    The loss is ``beta`` times its batch mean; with a likelihood loss in nats and ``beta=1`` the model's
    loss is the negative ELBO.

    For any finite float32 parameters (the bottleneck's Dense layer clips nothing) the closed form is never
    NaN: it is finite and right wherever the divergence is below float32's largest number (3.4e38, reached
    at a log-variance of about 89.4 or a mean of about 2.6e19), and inf past it, which ``fit`` reports as a
    divergence (``DivergenceError``) naming ``kld_loss``.

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        mean: shape ``(batch, latent_dim)``.
        log_variance: shape ``(batch, latent_dim)``.

    Example:

    >>> regularizer = GaussianKLDRegularizer(beta=1.0)
    >>> float(regularizer(keras.ops.zeros((2, 3)), keras.ops.zeros((2, 3))))
    0.0
    """

    divergence_from_prior = True

    def check_bottleneck(self, bottleneck: Any) -> None:
        self.require_distribution(bottleneck, "gaussian")

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        prior = getattr(posterior.bottleneck, "prior", None)
        if prior is None or isinstance(prior, StandardNormalPrior):
            return self.calc(*posterior.parameters)
        # No closed form against a learned prior: the Monte Carlo estimate from the code the decoder got.
        return posterior.log_density() - posterior.log_prior()

    def calc(self, mean: Any, log_variance: Any) -> Any:
        # Each half is taken inside its term, so a term overflows float32 only where its value does; the
        # second term, 0.5 * (exp(v) - 1 - v), is never negative, so no sum cancels an inf.
        return ops.sum(ops.square(mean * SQRT_HALF) + (half_expm1(log_variance) - 0.5 * log_variance), axis=-1)


@hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(GaussianKLDRegularizer, name="kld", aliases=["kl", "gaussian_kld"])
