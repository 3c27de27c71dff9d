"""The KL divergence of a von Mises-Fisher posterior from the uniform distribution on the sphere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tfae
from tfae.regularizers import BaseRegularizer
from tfae_geometric.hyperspherical_uniform import HypersphericalUniformPrior
from tfae_geometric.von_mises_fisher import vmf_kl_to_uniform


class VonMisesFisherKLDRegularizer(BaseRegularizer):
    """``KL(vMF(mu, kappa) || U(S^(m-1)))`` of each sample, in nats: the hyperspherical VAE's regularizer.

    The closed form of Davidson et al. (2018), appendix B: ``kappa I_(m/2)(kappa) / I_(m/2-1)(kappa) +
    log C_m(kappa) + log |S^(m-1)|``, with ``C_m`` the vMF's normalising constant; it depends on the
    concentration alone (``vmf_kl_to_uniform``). The loss is ``beta`` times its batch mean; with a
    likelihood in nats and ``beta=1`` the model's loss is the negative ELBO. For the ``"vmf"`` bottleneck
    with its default prior, ``"hyperspherical_uniform"``.

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        direction: the mean directions, shape ``(batch, latent_dim)``.
        concentration: shape ``(batch, 1)``.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "vmf", "latent_dim": 3, "regularizer": "vmf_kld"})
    """

    divergence_from_prior = True

    def check_bottleneck(self, bottleneck: Any) -> None:
        self.require_distribution(bottleneck, "von_mises_fisher")
        self.require_prior(
            bottleneck,
            HypersphericalUniformPrior,
            "leave the vmf bottleneck's prior at its default, or train with the 'iwae' objective, which uses any "
            "prior's log_prob",
        )

    def calc(self, direction: Any, concentration: Any) -> Any:
        return vmf_kl_to_uniform(int(direction.shape[-1]), concentration[..., 0])


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(VonMisesFisherKLDRegularizer, name="vmf_kld", aliases=["vmf_kl", "von_mises_fisher_kld"])
