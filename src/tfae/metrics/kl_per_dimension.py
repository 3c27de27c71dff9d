"""The KL of each latent dimension: how much of the regularization each one carries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation


class KLPerDimension(BaseMetric):
    """``kl_per_dimension``: each dimension's ``KL(q(z_d | x) || p(z_d))`` in nats, averaged over the data.

    Monte Carlo over the ``samples`` codes of the importance-weighted pass; reported as ``kl_per_dimension_<d>``.
    Only where the posterior and the prior factorise over dimensions: under a flow posterior or a mixture
    prior the KL has no per-dimension parts.
    """

    needs = ("variational", "factorizing")

    def compute(self, evaluation: Evaluation) -> dict[str, float]:
        per_dimension = evaluation.importance_weighted()["kl_per_dimension"].mean(axis=0)
        return {str(dimension): float(value) for dimension, value in enumerate(per_dimension)}


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(KLPerDimension, name="kl_per_dimension")
