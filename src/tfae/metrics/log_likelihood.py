"""The importance-weighted estimate of log p(x) (IWAE-k, Burda et al. 2016)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation
from tfae.metrics.importance import importance_weighted_pass


def importance_weighted_log_likelihood(
    model: Any, x: np.ndarray, samples: int = 1000, seed: int = 0, **kwargs: Any
) -> float:
    """The IWAE-k estimate of ``log p(x)`` (Burda et al. 2016), in nats per sample, averaged over ``x``.

    Args:
        model: a built ``Autoencoder`` with a variational bottleneck and a tfae likelihood.
        x: the samples.
        samples: ``k``; the estimate rises towards ``log p(x)`` as ``k`` grows.
        seed: the seed of the draws.
        **kwargs: ``batch_size`` and ``progress``, as ``importance_weighted_pass`` takes them.
    """
    return float(np.mean(importance_weighted_pass(model, x, samples=samples, seed=seed, **kwargs)["log_likelihood"]))


class LogLikelihood(BaseMetric):
    """``log_likelihood``: the IWAE-k estimate of ``log p(x)`` in nats per sample, with ``k = samples``."""

    needs = ("variational", "likelihood")

    def compute(self, evaluation: Evaluation) -> float:
        return float(np.mean(evaluation.importance_weighted()["log_likelihood"]))


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(LogLikelihood, name="log_likelihood", aliases=["iwae", "nll"])
