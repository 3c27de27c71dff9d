"""How many latent dimensions the model uses: the active units of Burda et al. (2016)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation
from tfae.metrics.discretize import check_threshold

ACTIVITY_THRESHOLD = 0.01


def active_units(codes: np.ndarray, threshold: float = ACTIVITY_THRESHOLD) -> int:
    """The number of active units (Burda et al. 2016): dimensions ``u`` with ``Cov_x(E_q[u | x]) > threshold``.

    Burda, Grosse and Salakhutdinov's convention ("Importance Weighted Autoencoders", 2016): the variance
    over the data of each dimension's posterior mean, against their threshold of 0.01.

    Args:
        codes: each sample's posterior mean, shape ``(n, latent_dim)``, finite.
        threshold: the variance over the data above which a dimension counts as active (Burda's 0.01), a
            finite number >= 0.

    Raises:
        ValueError: codes of another shape, codes that hold NaN or inf (whose variance is no count of
            anything), or a threshold that is negative, NaN or inf.

    Example:

    >>> active_units(np.array([[0.0, 1.0], [0.0, -1.0]]))
    1
    """
    codes = np.asarray(codes, dtype="float64")
    if codes.ndim != 2 or len(codes) < 2:
        raise ValueError(
            f"`codes` must be posterior means of at least 2 samples, shape (n, latent_dim). Received: {codes.shape}"
        )
    check_threshold(threshold)
    finite = np.isfinite(codes)
    if not np.all(finite):
        raise ValueError(
            f"`codes` must be finite: {np.sum(~finite)} of its {codes.size} values are NaN or inf, in dimensions "
            f"{np.flatnonzero(~finite.all(axis=0)).tolist()}, and a variance of them counts nothing. The model "
            "that gave them has diverged or its input holds NaN or inf: check both with numpy.isfinite."
        )
    return int(np.sum(np.var(codes, axis=0) > threshold))


class ActiveUnits(BaseMetric):
    """``active_units``: dimensions whose posterior mean varies over the data by more than ``threshold``."""

    needs = ("variational",)

    def __init__(self, threshold: float = ACTIVITY_THRESHOLD) -> None:
        self.threshold = check_threshold(threshold)

    def compute(self, evaluation: Evaluation) -> float:
        return float(active_units(evaluation.codes, self.threshold))

    def get_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold}


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(ActiveUnits, name="active_units")
