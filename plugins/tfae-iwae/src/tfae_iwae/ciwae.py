"""The combination importance-weighted bound (CIWAE) of Rainforth et al. (2018)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.objectives import BaseObjective, ObjectiveTerms
from tfae.objectives.base import importance_samples_argument


class CIWAE(BaseObjective):
    """The negative CIWAE bound of each sample: ``beta * ELBO + (1 - beta) * IWAE``, both from the same codes.

    Rainforth et al. (2018), "Tighter Variational Bounds are Not Necessarily Better" (ICML), "New estimators":
    with ``k = importance_samples`` codes ``z_i ~ q(z | x)`` per sample and
    ``log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)``,

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
        importance_samples: positive int, the codes drawn per sample (the paper's ``K``), as IWAE's.
        k: the former name of ``importance_samples``, still accepted (configs and saved models that use it
            load) with a ``DeprecationWarning``.

    Call arguments:
        terms: the model's ``ObjectiveTerms`` of a batch, ``importance_samples`` codes per sample: the
            per-code terms have shape ``(importance_samples, batch)``.

    Returns:
        ``{"loss": (batch,), "ciwae_bound": (batch,)}``, float32.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
    >>> objective = {"name": "ciwae", "beta": 0.5, "importance_samples": 8}
    >>> model.compile(optimizer="adam", loss="bernoulli", objective=objective)
    >>> model.objective.k
    8
    """

    needs_likelihood = True
    needs_densities = True
    holds_divergence = True
    logged = ("ciwae_bound",)

    def __init__(self, beta: float = 0.5, importance_samples: int = 5, k: int | None = None) -> None:
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 <= beta <= 1:
            raise ValueError(
                "`beta`, the ELBO's weight against IWAE's bound, must be a number in [0, 1] (1 is the ELBO, 0 is "
                f"IWAE). Received: beta={beta!r}"
            )
        super().__init__(importance_samples=importance_samples_argument("ciwae", importance_samples, k))
        self.beta: float = float(beta)

    @property
    def k(self) -> int:
        """The paper's name for ``importance_samples``."""
        return self.importance_samples

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        log_weights = terms.log_likelihood + terms.log_prior - terms.log_posterior
        elbo = ops.mean(log_weights, axis=0)
        iwae = ops.logsumexp(log_weights, axis=0) - math.log(self.k)
        bound = self.beta * elbo + (1.0 - self.beta) * iwae
        return {"loss": -bound + terms.regularization, "ciwae_bound": bound}

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta, "importance_samples": self.importance_samples}


@hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(CIWAE, name="ciwae", aliases=["combination_importance_weighted"])
