"""The combination importance-weighted bound (CIWAE) of Rainforth et al. (2018)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.objectives import BaseObjective, ObjectiveTerms


class CIWAE(BaseObjective):
    """The negative CIWAE bound of each sample: ``beta * ELBO + (1 - beta) * IWAE``, both from the same ``k`` codes.

    Rainforth et al. (2018), "Tighter Variational Bounds are Not Necessarily Better" (ICML), "New estimators":
    with ``k`` codes ``z_i ~ q(z | x)`` per sample and ``log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)``,

        ``beta * (1 / k) * sum_i log w_i  +  (1 - beta) * (logsumexp_i log w_i - log k)``,

    a convex combination of the ELBO's and IWAE's estimates from the same codes, so a lower bound on
    ``log p(x)`` between the two: ``beta = 1`` is the ELBO with ``k`` codes, ``beta = 0`` is IWAE. The ELBO's
    part keeps the encoder's gradient from vanishing as ``k`` grows (the paper's point). The loss adds the
    regularizers' weighted penalties (of the first code), as IWAE's does. The history logs
    ``ciwae_bound``, the bound (nats). The bound holds the divergence from the prior, so the bottleneck takes
    no KL regularizer; it needs a likelihood in nats and a bottleneck with densities, and ``compile``
    refuses the rest.

    Args:
        beta: a number in [0, 1], the ELBO's weight; IWAE's is ``1 - beta``.
        k: positive int, the codes drawn per sample.

    Call arguments:
        terms: the model's ``ObjectiveTerms`` of a batch, ``k`` codes per sample: the per-code terms have
            shape ``(k, batch)``.

    Returns:
        ``{"loss": (batch,), "ciwae_bound": (batch,)}``, float32.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
    >>> model.compile(optimizer="adam", loss="bernoulli", objective={"name": "ciwae", "beta": 0.5, "k": 8})
    """

    needs_likelihood = True
    needs_densities = True
    holds_divergence = True
    logged = ("ciwae_bound",)

    def __init__(self, beta: float = 0.5, k: int = 5) -> None:
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta <= 1:
            raise ValueError(
                "`beta`, the ELBO's weight against IWAE's bound, must be a number in [0, 1] (1 is the ELBO, 0 is "
                f"IWAE). Received: beta={beta!r}"
            )
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"`k`, the codes drawn per sample, must be a positive integer. Received: k={k!r}")
        super().__init__(importance_samples=int(k))
        self.beta: float = float(beta)
        self.k: int = self.importance_samples

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        log_weights = terms.log_likelihood + terms.log_prior - terms.log_posterior
        elbo = ops.mean(log_weights, axis=0)
        iwae = ops.logsumexp(log_weights, axis=0) - math.log(self.k)
        bound = self.beta * elbo + (1.0 - self.beta) * iwae
        return {"loss": -bound + terms.regularization, "ciwae_bound": bound}

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta, "k": self.k}


@hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(CIWAE, name="ciwae", aliases=["combination_importance_weighted"])
