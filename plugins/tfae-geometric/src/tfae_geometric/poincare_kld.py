"""The Monte Carlo KL divergence of a Poincare bottleneck's wrapped normal posterior from its prior."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tfae
from tfae.posterior import Posterior
from tfae.regularizers import BaseRegularizer


class PoincareKLDRegularizer(BaseRegularizer):
    """``log q(z | x) - log p(z)`` of the code ``z`` each sample drew: the KL's one-sample Monte Carlo estimate.

    The wrapped normal's KL to the prior has no closed form; Mathieu et al. (2019) and pythae's
    ``PoincareVAE`` estimate it from the code drawn, as tfae's ``"kld"`` does against a prior with no closed
    form. Unbiased while training (the code is a reparameterised draw); at inference, when the code is
    the posterior's mean, it is the log-ratio of the two densities there. The loss is ``beta`` times its
    batch mean; with a likelihood in nats and ``beta=1`` the model's loss is the negative ELBO. For the
    ``"poincare"`` bottleneck, with any prior (by default its wrapped normal at the origin).

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        posterior: the bottleneck's ``Posterior``, holding the code drawn.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "poincare", "latent_dim": 2, "regularizer": "poincare_kld"})
    """

    divergence_from_prior = True

    def check_bottleneck(self, bottleneck: Any) -> None:
        self.require_distribution(bottleneck, "wrapped_normal")

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        return posterior.log_density() - posterior.log_prior()


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(PoincareKLDRegularizer, name="poincare_kld", aliases=["poincare_kl", "wrapped_normal_kld"])
