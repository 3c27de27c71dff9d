"""The evidence lower bound: reconstruction plus the regularizers' weighted penalties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.objectives.base import BaseObjective, ObjectiveTerms


class ELBO(BaseObjective):
    """The negative ELBO of each sample: ``-log p(x | z) + sum of beta * penalty``; the default objective.

    With a likelihood in nats and a KL regularizer with ``beta = 1`` it is the negative evidence lower bound;
    with a Keras loss, that loss plus the penalties. One code per sample.

    Example:

    >>> model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=2, regularizer="kld"))
    >>> model.compile(optimizer="adam", loss="bernoulli", objective="elbo")
    """

    def __init__(self) -> None:
        super().__init__(importance_samples=1)

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        return {"loss": ops.mean(terms.reconstruction_loss, axis=0) + terms.regularization}

    def get_config(self) -> dict[str, Any]:
        return {}


@hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(ELBO, name="elbo", aliases=["negative_elbo", "vae"])
