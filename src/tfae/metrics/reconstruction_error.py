"""How far the reconstructions are from the data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation


class ReconstructionError(BaseMetric):
    """``reconstruction_error``: the mean squared error of ``model.predict(x)`` (posterior-mean codes) per value.

    Any model has one, variational or not, with any loss; it does not depend on a likelihood's scale.
    """

    def compute(self, evaluation: Evaluation) -> float:
        model = evaluation.model
        reconstructed = np.asarray(model.predict(evaluation.x, batch_size=evaluation.batch_size, verbose=0))
        return float(np.mean(np.square(reconstructed.astype("float64") - evaluation.x)))


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(ReconstructionError, name="reconstruction_error", aliases=["mse"])
