"""The KL divergence of a Gaussian posterior from the standard normal prior: the VAE regularizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.posterior import Posterior
from tfae.priors.standard_normal import StandardNormalPrior
from tfae.regularizers.base import BaseRegularizer


class GaussianKLDRegularizer(BaseRegularizer):
    """``KL(N(mean, exp(log_variance)) || N(0, I))`` of each sample, in nats.

    Per sample: ``sum over latent dims of 0.5 * (mean**2 + exp(log_variance) - log_variance - 1)``. Against
    another prior of the bottleneck (``"mixture"``, ``"vamp"``), which has no closed form, it is the Monte
    Carlo estimate ``log q(z | x) - log p(z)`` of the code the decoder received.
    The loss is ``beta`` times its batch mean; with a likelihood loss in nats and ``beta=1`` the model's
    loss is the negative ELBO.

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
        # expm1 keeps exp(v) - 1 - v accurate for a log-variance near 0, where the posterior nears the prior.
        return 0.5 * ops.sum(ops.square(mean) + ops.expm1(log_variance) - log_variance, axis=-1)


@hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(GaussianKLDRegularizer, name="kld", aliases=["kl", "gaussian_kld"])
