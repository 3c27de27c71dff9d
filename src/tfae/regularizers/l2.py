"""The L2 penalty on a deterministic latent code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

from tfae.hookspecs import hookimpl
from tfae.regularizers.base import BaseRegularizer


class L2Regularizer(BaseRegularizer):
    """The squared norm of each sample's code: ``sum over latent dims of code**2``.

    The loss is ``beta`` times its batch mean. Meant for ``VanillaBottleneck``, where it keeps codes small
    and near the origin (a Gaussian bottleneck's parameters would be its mean and log-variance instead).
    For finite float32 codes it is finite wherever the squared norm is below float32's largest number
    (3.4e38), and inf past it, never NaN.

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        code: shape ``(batch, latent_dim)``.

    Example:

    >>> regularizer = L2Regularizer(beta=0.5)
    >>> float(regularizer(keras.ops.ones((2, 4))))
    2.0
    """

    def calc(self, code: Any, *other_parameters: Any) -> Any:
        return ops.sum(ops.square(code), axis=-1)


@hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(L2Regularizer, name="l2", aliases=["l2_activity"])
