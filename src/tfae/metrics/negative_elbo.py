"""The negative ELBO of held-out data, with sampled codes: a bound on -log p(x)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation


class NegativeELBO(BaseMetric):
    """``negative_elbo``: ``E_q[log q(z | x) - log p(z) - log p(x | z)]`` in nats per sample, over ``samples`` codes.

    An upper bound on ``-log p(x)``; ``-log_likelihood`` (the IWAE estimate from the same codes) lies below it.
    Computed with Monte Carlo densities, whatever the regularizers and their beta: the bound of the model, not
    its training loss.
    """

    needs = ("variational", "likelihood")

    def compute(self, evaluation: Evaluation) -> float:
        return float(-np.mean(evaluation.importance_weighted()["elbo"]))


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(NegativeELBO, name="negative_elbo", aliases=["elbo"])
