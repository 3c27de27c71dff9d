"""The KL divergence from the prior estimated from the drawn code: for posteriors without a closed form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tfae
from tfae.posterior import Posterior
from tfae.regularizers import BaseRegularizer
from tfae.serialization import describe_component


class MonteCarloKLRegularizer(BaseRegularizer):
    """``log q(z | x) - log p(z)`` of the code ``z`` the decoder received: a one-sample estimate of ``KL(q || p)``.

    Its mean over ``z ~ q(z | x)`` is ``KL(q(z | x) || p(z))``, so with a likelihood in nats and ``beta = 1`` the
    model's loss, ``-log p(x | z) + log q(z | x) - log p(z)``, is the negative ELBO of Kingma & Welling (2014),
    estimated with the drawn code; a flow posterior (Rezende & Mohamed 2015, eq. 15) has no other. The
    log-density is the one the bottleneck gives with its draw (a flow's, which never inverts itself), and the
    prior the bottleneck's own. It is the default regularizer of ``"planar"``, ``"radial"`` and ``"iaf"``, and
    works for any bottleneck with densities and real codes (on ``"gaussian"`` it is the unbiased estimate of
    ``"kld"``'s closed form). A per-sample penalty, averaged over the batch. As a KL from the prior, it is not
    combined with an objective that holds the divergence itself (``"iwae"``): build the bottleneck with
    ``regularizer=None`` for those.

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        posterior: the bottleneck's ``Posterior``; its code and that code's log-density are read.

    Example:

    >>> bottleneck = {"name": "planar", "latent_dim": 2, "regularizer": {"name": "monte_carlo_kl", "beta": 0.5}}
    >>> model = Autoencoder(bottleneck=bottleneck)
    """

    divergence_from_prior = True

    def check_bottleneck(self, bottleneck: Any) -> None:
        self.require_densities(bottleneck, "log q(z | x) - log p(z) of the drawn code")
        if getattr(bottleneck, "distribution", None) == "bernoulli":
            raise ValueError(
                f"The regularizer {describe_component('regularizer', self)} scores the code the decoder receives, "
                f"which the bottleneck {describe_component('bottleneck', bottleneck)} relaxes while training, where "
                "its Bernoulli density does not hold: use 'bernoulli_kld'."
            )

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        return posterior.log_density() - posterior.log_prior()


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(MonteCarloKLRegularizer, name="monte_carlo_kl", aliases=["mc_kl"])
