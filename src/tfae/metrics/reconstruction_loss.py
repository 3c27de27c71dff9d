"""The reconstruction loss of held-out data, with sampled codes, as training logs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation


class ReconstructionLoss(BaseMetric):
    """``reconstruction_loss``: ``E_q[-log p(x | z)]`` in nats per sample, over sampled codes, as training logs it."""

    needs = ("variational", "likelihood")

    def compute(self, evaluation: Evaluation) -> float:
        return float(np.mean(evaluation.importance_weighted()["reconstruction"]))


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(ReconstructionLoss, name="reconstruction_loss")
