"""The contract every regularizer fulfils."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import keras
from keras import ops

from tfae.schedulers.base import BaseScheduler

if TYPE_CHECKING:
    from typing_extensions import Self


class BaseRegularizer:
    """A penalty on a bottleneck's per-sample distribution parameters, weighted by ``beta``.

    The penalty regularises each sample's posterior (the bottleneck's activity), never the weights:
    ``calc(*parameters)`` returns one value per sample, and the loss is ``beta`` times its batch mean.
    Subclasses implement ``calc`` with ``keras.ops``; the parameters reach it in float32 whatever the
    dtype policy, so the penalty is computed in float32 too.

    Args:
        beta: the weight. A float; a scheduler (a ``BaseScheduler``, its registered name, or a dict such as
            ``{"name": "dasr", "attack": 10}``); or a variable such as ``scheduler.value``.

    Call arguments:
        *parameters: the bottleneck's distribution parameters, each of shape ``(batch, latent_dim)``.
        training: inside a train step a step-counted scheduler moves on by one step.

    Returns:
        A float32 scalar: ``beta * mean(calc(*parameters))``.
    """

    def __init__(self, beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0) -> None:
        self._scheduler: BaseScheduler | None = None
        self._beta_variable: keras.Variable | None = None
        self._beta_constant: float | None = None
        if isinstance(beta, (str, dict)):
            from tfae.plugins import resolve

            beta = resolve("scheduler", beta)
        if isinstance(beta, BaseScheduler):
            self._scheduler = beta
        elif isinstance(beta, keras.Variable):
            self._scheduler = getattr(beta, "_tfae_scheduler", None)
            self._beta_variable = beta
        elif isinstance(beta, numbers.Real) and not isinstance(beta, bool) and math.isfinite(beta) and float(beta) >= 0:
            self._beta_constant = float(beta)
        else:
            raise ValueError(
                "`beta` must be a finite number >= 0, a scheduler (an instance, a name or a dict), or a "
                f"variable such as `scheduler.value`. Received: beta={beta!r}"
            )

    @property
    def scheduler(self) -> BaseScheduler | None:
        """The scheduler that drives beta, or ``None`` when beta is constant."""
        return self._scheduler

    @property
    def beta(self) -> float | keras.Variable:
        """The current beta: a float, or the variable that holds it."""
        if self._scheduler is not None:
            return self._scheduler.value
        if self._beta_variable is not None:
            return self._beta_variable
        return self._beta_constant

    @property
    def variables(self) -> list[keras.Variable]:
        """Variables a layer must track for this regularizer to train, save and restore correctly."""
        if self._scheduler is not None:
            return list(self._scheduler.variables)
        if self._beta_variable is not None:
            return [self._beta_variable]
        return []

    def current_beta(self, training: bool = False) -> Any:
        """Beta for this call, as a float32 tensor; a step-counted scheduler advances when training."""
        if self._scheduler is not None and self._scheduler.unit == "step" and training:
            return self._scheduler.advance()
        return ops.cast(ops.convert_to_tensor(self.beta), "float32")

    def calc(self, *parameters: Any) -> Any:
        """Returns the penalty of each sample, shape ``(batch,)``."""
        raise NotImplementedError

    def __call__(self, *parameters: Any, training: bool = False) -> Any:
        in_float32 = [ops.cast(parameter, "float32") for parameter in parameters]
        return self.current_beta(training) * ops.mean(self.calc(*in_float32))

    def get_config(self) -> dict[str, Any]:
        if self._scheduler is not None:
            from tfae.serialization import component_spec

            return {"beta": component_spec("scheduler", self._scheduler)}
        return {"beta": float(ops.convert_to_numpy(self.beta))}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(beta={self.get_config()['beta']!r})"
