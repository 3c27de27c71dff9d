"""Capacity annealing (Burgess et al. 2018): the Gaussian KL held at a target capacity C that grows during
training; registered as ``"capacity"``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

import tfae
from tfae.bottlenecks import GaussianBottleneck, Posterior, VariationalBottleneck
from tfae.plugins import resolve
from tfae.regularizers import GaussianKLDRegularizer
from tfae.schedulers import BaseScheduler
from tfae.schedulers.base import check_finite
from tfae.serialization import component_spec, describe_component

#: The most counts (epochs or steps) of a capacity schedule checked one by one for a negative value; a longer
#: schedule is checked at this many counts spread evenly over it, its first and last included.
SCHEDULE_CHECK_COUNTS = 2**16


class CapacityRegularizer(GaussianKLDRegularizer):
    """``gamma * |KL - C|``: the batch's mean Gaussian KL pulled to the capacity ``C`` (Burgess et al. 2018, eq. 8).

    ``KL`` is the batch mean of each sample's ``KL(N(mean, exp(log_variance)) || N(0, I))`` in nats (what
    ``"kld"`` computes, and ``calc`` returns), so the penalty is one value for the batch, a scalar. Raising
    ``C`` from 0 during training lets the code carry information a few nats at a time, the factors that
    explain the most reconstruction first. With ``C = 0`` it is ``"kld"`` weighted by ``gamma``, a beta-VAE.

    ``C`` is a float or a scheduler, such as ``{"name": "dasr", "start_value": 0, "end_value": 25,
    "attack": 100}``. ``Autoencoder.fit`` drives an epoch-counted one as a callback; a step-counted one moves
    on in each train step. Its state (value, and step counter) is saved with the model. A KL is never
    negative, so neither is ``C``: a schedule that reaches a negative value at any count up to its
    ``duration`` is refused when the regularizer is made, naming the first such value and its epoch or step
    (checked at every count for schedules of up to ``SCHEDULE_CHECK_COUNTS`` counts, at that many spread
    evenly over a longer one).

    ``gamma`` is the paper's weight, a float. ``beta`` is the weight every tfae regularizer has, 1 by default,
    which multiplies the whole penalty: a schedule of it is driven, saved and logged as ``beta`` like any
    other. So a config reads as the paper does (``gamma = 1000``), and the word a history logs, ``beta``, is
    the word a config schedules. ``C`` is not logged, but ``capacity_loss / (beta * gamma)`` is ``|KL - C|``.

    Under ``tf.distribute`` each replica computes ``|KL - C|`` from its own part of the batch, and the model
    averages the replicas' penalties: above the penalty of the global batch's KL when the replicas' KLs fall
    on both sides of ``C``.

    Needs a Gaussian bottleneck's mean and log-variance: any other is refused when the bottleneck is made.

    Args:
        gamma: float >= 0, the weight of ``|KL - C|``: 1000 in the paper, for 64x64 images, whose reconstruction
            costs thousands of nats; a smaller one for smaller images.
        capacity: ``C`` in nats: a float >= 0, or a scheduler (an instance, its registered name, or a dict).
        beta: the weight of the whole penalty, 1 by default: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        posterior: a ``Posterior`` of a Gaussian bottleneck; or its ``mean`` and ``log_variance``.
        training: a step-counted ``capacity`` (or ``beta``) moves on by one step when ``True``.

    Example:

    ```python
    model = Autoencoder(bottleneck={
        "name": "gaussian", "latent_dim": 8,
        "regularizer": {"name": "capacity", "gamma": 1000,
                        "capacity": {"name": "dasr", "end_value": 25, "attack": 100}},
    })
    ```
    """

    def __init__(
        self,
        gamma: float = 1000.0,
        capacity: float | BaseScheduler | str | dict[str, Any] = 0.0,
        beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0,
    ) -> None:
        super().__init__(beta=beta)
        self.gamma = check_finite("gamma", gamma)
        if self.gamma < 0:
            raise ValueError(f"`gamma` must be a finite number >= 0. Received: gamma={gamma!r}")
        resolved: Any = resolve("scheduler", capacity) if isinstance(capacity, (str, dict)) else capacity
        if isinstance(resolved, BaseScheduler):
            _check_schedule(resolved, capacity)
        else:
            resolved = check_finite("capacity", resolved)
            if resolved < 0:
                raise ValueError(f"`capacity` is a KL in nats, a number >= 0. Received: capacity={capacity!r}")
        self.capacity: float | BaseScheduler = resolved

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        if isinstance(bottleneck, GaussianBottleneck):
            return
        if isinstance(bottleneck, VariationalBottleneck):
            count = bottleneck.parameters
            gives = f"{count} distribution parameter{'s' if count != 1 else ''} per code dimension"
        else:
            gives = "a deterministic code"
        raise ValueError(
            f"The regularizer {describe_component('regularizer', self)} needs a Gaussian posterior's mean and "
            f"log-variance, and the bottleneck {describe_component('bottleneck', bottleneck)} gives {gives}: "
            "use the 'gaussian' bottleneck."
        )

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        """``gamma * |KL - C|`` for the batch, a scalar."""
        kl = ops.mean(self.calc(*posterior.parameters))
        return self.gamma * ops.abs(kl - self.scheduled(self.capacity, training))

    def get_config(self) -> dict[str, Any]:
        capacity = self.capacity
        return {
            **super().get_config(),
            "gamma": self.gamma,
            "capacity": component_spec("scheduler", capacity) if isinstance(capacity, BaseScheduler) else capacity,
        }


def _check_schedule(scheduler: BaseScheduler, given: Any) -> None:
    """Refuses a capacity schedule that reaches a negative value, naming the first and its count."""
    counts = np.arange(scheduler.duration + 1, dtype="int64")
    if len(counts) > SCHEDULE_CHECK_COUNTS:
        counts = np.unique(np.linspace(0, scheduler.duration, SCHEDULE_CHECK_COUNTS).astype("int64"))
    values = np.asarray(ops.convert_to_numpy(scheduler.calc(counts)), dtype="float64")
    negative = np.flatnonzero(~(values >= 0))
    if len(negative):
        first = int(negative[0])
        raise ValueError(
            f"`capacity` is a KL in nats, never negative, but its schedule gives {values[first]:g} at "
            f"{scheduler.unit} {int(counts[first])} (counting from 0): give the schedule values >= 0 "
            f"(start_value and end_value, for 'dasr'). Received: capacity={given!r}"
        )


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(CapacityRegularizer, name="capacity", aliases=["annealed_vae"])
