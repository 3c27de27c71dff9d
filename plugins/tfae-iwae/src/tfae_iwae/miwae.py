"""The multiply importance-weighted bound (MIWAE) of Rainforth et al. (2018)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.objectives import BaseObjective, ObjectiveTerms


def _positive_integer(value: Any, name: str, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}`, {meaning}, must be a positive integer. Received: {name}={value!r}")
    return int(value)


class MIWAE(BaseObjective):
    """The negative MIWAE bound of each sample: ``m`` independent IWAE bounds of ``k`` codes each, averaged.

    Rainforth et al. (2018), "Tighter Variational Bounds are Not Necessarily Better" (ICML), "New estimators":
    the model draws ``m * k`` codes ``z_{j,i} ~ q(z | x)`` per sample, with importance weights
    ``log w_{j,i} = log p(x | z_{j,i}) + log p(z_{j,i}) - log q(z_{j,i} | x)``, and the bound is

        ``(1 / m) * sum_j (logsumexp_i log w_{j,i} - log k)``,

    the average of ``m`` IWAE bounds of ``k`` codes. It is looser than IWAE with all ``m * k`` codes and
    tighter than the ELBO with them, but its gradient for the encoder has a higher signal-to-noise ratio
    than IWAE's (the paper's point): ``m = 1`` is IWAE with ``k`` codes, ``k = 1`` the ELBO with ``m``
    codes. The loss adds the regularizers' weighted penalties (of the first code), as IWAE's does. The
    history logs ``miwae_bound``, the bound (nats, a lower bound on ``log p(x)``). The bound holds the
    divergence from the prior, so the bottleneck takes no KL regularizer; it needs a likelihood in nats
    and a bottleneck with densities, and ``compile`` refuses the rest.

    Args:
        m: positive int, the independent IWAE bounds averaged (the paper's ``M``).
        k: positive int, the codes in each bound (the paper's ``K``).

    Call arguments:
        terms: the model's ``ObjectiveTerms`` of a batch, ``m * k`` codes per sample: the per-code terms have
            shape ``(m * k, batch)``.

    Returns:
        ``{"loss": (batch,), "miwae_bound": (batch,)}``, float32.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
    >>> model.compile(optimizer="adam", loss="bernoulli", objective={"name": "miwae", "m": 4, "k": 4})
    >>> model.objective.importance_samples
    16
    """

    needs_likelihood = True
    needs_densities = True
    holds_divergence = True
    logged = ("miwae_bound",)

    def __init__(self, m: int = 2, k: int = 5) -> None:
        self.m: int = _positive_integer(m, "m", "the independent IWAE bounds averaged")
        self.k: int = _positive_integer(k, "k", "the codes drawn for each bound")
        super().__init__(importance_samples=self.m * self.k)

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        log_weights = terms.log_likelihood + terms.log_prior - terms.log_posterior
        # The m * k codes are independent draws, so any split into m groups of k is m independent IWAE bounds.
        grouped = ops.reshape(log_weights, (self.m, self.k, -1))
        bound = ops.mean(ops.logsumexp(grouped, axis=1), axis=0) - math.log(self.k)
        return {"loss": -bound + terms.regularization, "miwae_bound": bound}

    def get_config(self) -> dict[str, Any]:
        return {"m": self.m, "k": self.k}


@hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(MIWAE, name="miwae", aliases=["multiply_importance_weighted"])
