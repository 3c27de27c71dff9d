"""The DASR schedule: delay, attack, sustain, release, repeated for a number of cycles."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from keras import ops

from tfae.hookspecs import hookimpl
from tfae.schedulers.base import BaseScheduler, check_finite

SHAPES = ("linear", "cosine", "sigmoid")


def _ramp(fraction: float, shape: str) -> float:
    """Maps the fraction ``x`` of a ramp done, in (0, 1], to how far the value has moved."""
    if shape == "cosine":
        return 0.5 - 0.5 * math.cos(math.pi * fraction)
    if shape == "sigmoid":
        return 1.0 / (1.0 + math.exp(6.0 - 12.0 * fraction))
    return fraction


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


class DASRScheduler(BaseScheduler):
    """Holds ``start_value``, ramps to ``end_value``, holds it, ramps back; repeated ``cycles`` times.

    With period ``P = delay + attack + sustain + release``, ``duration = P * cycles`` and ``t = n mod P``:

    - delay (``t < delay``): ``start_value``;
    - attack (``t < delay + attack``): ``start + (end - start) * f((t - delay + 1) / attack)``;
    - sustain (``t < delay + attack + sustain``): ``end_value``;
    - release: ``end + (start - end) * f((t - delay - attack - sustain + 1) / release)``;
    - after the schedule (``n >= duration``): ``end_value`` if ``release == 0``, else ``start_value``.

    ``f`` is the ramp's shape: ``"linear"`` (``f(x) = x``), ``"cosine"`` (``0.5 - 0.5 cos(pi x)``) or
    ``"sigmoid"`` (``1 / (1 + exp(6 - 12 x))``), the shapes of the cyclical-annealing paper (Fu et al. 2019).

    The ramps' values are computed once, in float64, and rounded once to float32; ``calc`` only picks
    among them. So the value used inside a compiled train step is bit for bit the value ``calc`` gives
    eagerly, whatever rewrites the graph compiler (Grappler, XLA) makes to arithmetic.

    Args:
        start_value: finite float, the value before and after the ramps.
        end_value: finite float, the value the attack ramps to.
        delay: int >= 0, counts held at ``start_value`` at the start of each cycle.
        attack: int >= 0, counts of the ramp from start to end.
        sustain: int >= 0, counts held at ``end_value``.
        release: int >= 0, counts of the ramp back to start.
        cycles: int >= 1, how many times the period repeats.
        shape: ``"linear"``, ``"cosine"`` or ``"sigmoid"``.
        unit: ``"epoch"`` (a callback sets the value each epoch) or ``"step"`` (computed in the train step).

    Example:

    >>> scheduler = DASRScheduler(0.0, 1.0, delay=5, attack=10)
    >>> scheduler.duration
    15
    >>> [round(scheduler.value_at(n), 1) for n in (0, 4, 5, 14, 20)]
    [0.0, 0.0, 0.1, 1.0, 1.0]

    Per optimizer step, as the weight of a VAE's KL term, in four cycles:

    ```python
    scheduler = DASRScheduler(0.0, 1.0, attack=500, sustain=500, cycles=4, unit="step")
    bottleneck = GaussianBottleneck(latent_dim=2, regularizer=GaussianKLDRegularizer(beta=scheduler.value))
    ```
    """

    def __init__(
        self,
        start_value: float = 0.0,
        end_value: float = 1.0,
        delay: int = 0,
        attack: int = 0,
        sustain: int = 0,
        release: int = 0,
        cycles: int = 1,
        shape: str = "linear",
        unit: str = "epoch",
    ) -> None:
        self.start_value = check_finite("start_value", start_value)
        self.end_value = check_finite("end_value", end_value)
        self.delay = _check_count("delay", delay, 0)
        self.attack = _check_count("attack", attack, 0)
        self.sustain = _check_count("sustain", sustain, 0)
        self.release = _check_count("release", release, 0)
        self.cycles = _check_count("cycles", cycles, 1)
        if shape not in SHAPES:
            raise ValueError(f"`shape` must be one of {SHAPES}. Received: shape={shape!r}")
        self.shape = shape
        start, end = self.start_value, self.end_value
        attack_ramp = [start + (end - start) * _ramp((k + 1) / self.attack, shape) for k in range(self.attack)]
        release_ramp = [end + (start - end) * _ramp((k + 1) / self.release, shape) for k in range(self.release)]
        self._final_value = end if self.release == 0 else start
        # One value per ramp count; `[final]` only so that the lookup has something to index when there is no ramp.
        # Rounding can push an extreme ramp past its ends; the pinned values never leave [start, end].
        ramps = np.asarray(attack_ramp + release_ramp or [self._final_value], dtype="float64")
        self._ramps = np.clip(ramps, min(start, end), max(start, end)).astype("float32")
        super().__init__(unit=unit)

    @property
    def period(self) -> int:
        """``delay + attack + sustain + release``: the length of one cycle."""
        return self.delay + self.attack + self.sustain + self.release

    @property
    def duration(self) -> int:
        return self.period * self.cycles

    def calc(self, n: Any) -> Any:
        """Returns the value for counter ``n``.

        Args:
            n: an int, or an integer tensor of any shape (such as the step counter inside a train step).

        Returns:
            A float32 tensor of ``n``'s shape.
        """
        n = ops.convert_to_tensor(n, dtype="int32")
        start, end, final = (np.float32(value) for value in (self.start_value, self.end_value, self._final_value))
        if self.period == 0:
            return ops.full(ops.shape(n), final, dtype="float32")
        t = n % self.period
        attack_end = self.delay + self.attack
        sustain_end = attack_end + self.sustain
        ramp_index = ops.where(t < sustain_end, t - self.delay, t - sustain_end + self.attack)
        ramp_value = ops.take(self._ramps, ops.clip(ramp_index, 0, len(self._ramps) - 1))
        in_ramp = ops.logical_or(ops.logical_and(t >= self.delay, t < attack_end), t >= sustain_end)
        value = ops.where(in_ramp, ramp_value, ops.where(t < self.delay, start, end))
        return ops.where(n >= self.duration, final, value)

    def get_config(self) -> dict[str, Any]:
        return {
            "start_value": self.start_value,
            "end_value": self.end_value,
            "delay": self.delay,
            "attack": self.attack,
            "sustain": self.sustain,
            "release": self.release,
            "cycles": self.cycles,
            "shape": self.shape,
            **super().get_config(),
        }


@hookimpl
def register_schedulers(register: Callable[..., Any]) -> None:
    register(DASRScheduler, name="dasr", aliases=["cyclical", "annealing"])
