"""The partially importance-weighted auto-encoder (PIWAE) of Rainforth et al. (2018)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.objectives import BaseObjective, ObjectiveTerms
from tfae_iwae.miwae import _positive_integer


class PIWAE(BaseObjective):
    """PIWAE: the decoder trained with IWAE's bound of all ``m * k`` codes, the encoder with MIWAE's.

    Rainforth et al. (2018), "Tighter Variational Bounds are Not Necessarily Better" (ICML), "New estimators":
    a tighter bound helps the generative network and hurts the inference network's gradient estimates, so
    PIWAE gives each its own. On the same ``m * k`` codes per sample, with ``log w_{j,i} = log p(x | z_{j,i}) +
    log p(z_{j,i}) - log q(z_{j,i} | x)``, the decoder (and the likelihood's and the prior's weights) takes the
    gradient of ``logsumexp_{j,i} log w_{j,i} - log(m * k)``, IWAE's bound, and the encoder (and the
    bottleneck's weights) that of ``(1 / m) sum_j (logsumexp_i log w_{j,i} - log k)``, MIWAE's
    (``splits_gradients``). The logged ``loss`` is the negative IWAE bound; the history also shows both bounds,
    ``piwae_decoder_bound`` and ``piwae_encoder_bound``. Both losses add the regularizers' weighted penalties.
    The bound holds the divergence from the prior, so the bottleneck takes no KL regularizer.

    Args:
        m: positive int, the independent IWAE bounds the encoder's MIWAE averages (the paper's ``M``).
        k: positive int, the codes in each of them (the paper's ``K``); the decoder's IWAE uses all ``m * k``.

    Call arguments:
        terms: the model's ``ObjectiveTerms`` of a batch, ``m * k`` codes per sample.

    Returns:
        ``{"loss": (batch,), "encoder_loss": (batch,), "piwae_decoder_bound": (batch,),
        "piwae_encoder_bound": (batch,)}``, float32.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
    >>> model.compile(optimizer="adam", loss="bernoulli", objective={"name": "piwae", "m": 4, "k": 4})
    >>> model.objective.importance_samples
    16
    """

    needs_likelihood = True
    needs_densities = True
    holds_divergence = True
    splits_gradients = True
    logged = ("piwae_decoder_bound", "piwae_encoder_bound")

    def __init__(self, m: int = 2, k: int = 5) -> None:
        self.m: int = _positive_integer(m, "m", "the independent IWAE bounds the encoder's MIWAE averages")
        self.k: int = _positive_integer(k, "k", "the codes drawn for each of them")
        super().__init__(importance_samples=self.m * self.k)

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        log_weights = terms.log_likelihood + terms.log_prior - terms.log_posterior
        decoder_bound = ops.logsumexp(log_weights, axis=0) - math.log(self.m * self.k)
        grouped = ops.reshape(log_weights, (self.m, self.k, -1))
        encoder_bound = ops.mean(ops.logsumexp(grouped, axis=1), axis=0) - math.log(self.k)
        return {
            "loss": -decoder_bound + terms.regularization,
            "encoder_loss": -encoder_bound + terms.regularization,
            "piwae_decoder_bound": decoder_bound,
            "piwae_encoder_bound": encoder_bound,
        }

    def get_config(self) -> dict[str, Any]:
        return {"m": self.m, "k": self.k}


@hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(PIWAE, name="piwae", aliases=["partially_importance_weighted"])
