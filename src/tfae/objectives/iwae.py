"""The importance-weighted bound of Burda et al. (2016)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.objectives.base import BaseObjective, ObjectiveTerms, importance_samples_argument


class IWAE(BaseObjective):
    """The negative importance-weighted bound of each sample (Burda et al. 2016), with ``k`` codes per sample.

    With ``log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)`` for ``k = importance_samples`` codes
    ``z_1..z_k ~ q(z | x)``, the loss is ``-(logsumexp_i log w_i - log k)``, plus the regularizers' weighted
    penalties (of the first code). ``k = 1`` is the ELBO; the bound tightens towards ``log p(x)`` as ``k``
    grows. The decoder runs once on all ``k x batch`` codes. The history logs ``iwae_bound``, the bound itself
    (nats, a lower bound on ``log p(x)``). The bound holds the divergence from the prior, so the bottleneck
    takes no KL regularizer.

    Args:
        importance_samples: positive int, the codes drawn per sample (the paper's ``k``).
        k: the former name of ``importance_samples``, still accepted (configs and saved models that use it
            load) with a ``DeprecationWarning``.

    Example:

    >>> model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=2))
    >>> model.compile(optimizer="adam", loss="bernoulli", objective={"name": "iwae", "importance_samples": 5})
    """

    needs_likelihood = True
    needs_densities = True
    holds_divergence = True
    logged = ("iwae_bound",)

    def __init__(self, importance_samples: int = 5, k: int | None = None) -> None:
        super().__init__(importance_samples=importance_samples_argument("iwae", importance_samples, k))

    @property
    def k(self) -> int:
        """The paper's name for ``importance_samples``."""
        return self.importance_samples

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        log_weights = terms.log_likelihood + terms.log_prior - terms.log_posterior
        bound = ops.logsumexp(log_weights, axis=0) - math.log(self.k)
        return {"loss": -bound + terms.regularization, "iwae_bound": bound}


@hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(IWAE, name="iwae", aliases=["importance_weighted"])
