"""The DASR schedule: delay, attack, sustain, release, repeated for a number of cycles."""

import math

from keras import ops

import tfae
from tfae.schedulers import BaseScheduler
from tfae.schedulers.base import check_finite

SHAPES = ("linear", "cosine", "sigmoid")


def _ramp(fraction, shape):
    """Maps the fraction ``x`` of a ramp done, in (0, 1], to how far the value has moved."""
    if shape == "cosine":
        return 0.5 - 0.5 * ops.cos(math.pi * fraction)
    if shape == "sigmoid":
        return ops.sigmoid(12.0 * fraction - 6.0)
    return fraction


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
    """

    def __init__(
        self,
        start_value=0.0,
        end_value=1.0,
        delay=0,
        attack=0,
        sustain=0,
        release=0,
        cycles=1,
        shape="linear",
        unit="epoch",
    ):
        self.start_value = check_finite("start_value", start_value)
        self.end_value = check_finite("end_value", end_value)
        for name, count in (("delay", delay), ("attack", attack), ("sustain", sustain), ("release", release)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={count!r}")
        if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
            raise ValueError(f"`cycles` must be an integer >= 1. Received: cycles={cycles!r}")
        if shape not in SHAPES:
            raise ValueError(f"`shape` must be one of {SHAPES}. Received: shape={shape!r}")
        self.delay, self.attack, self.sustain, self.release = delay, attack, sustain, release
        self.cycles = cycles
        self.shape = shape
        super().__init__(unit=unit)

    @property
    def period(self):
        return self.delay + self.attack + self.sustain + self.release

    @property
    def duration(self):
        return self.period * self.cycles

    def calc(self, n):
        start, end = self.start_value, self.end_value
        after = end if self.release == 0 else start
        n = ops.convert_to_tensor(n, dtype="int32")
        if self.period == 0:
            return ops.full((), after, dtype="float32")
        t = ops.cast(n % self.period, "float32")
        attack_end = self.delay + self.attack
        sustain_end = attack_end + self.sustain
        attack_fraction = (t - self.delay + 1.0) / max(self.attack, 1)
        release_fraction = (t - sustain_end + 1.0) / max(self.release, 1)
        attack_value = start + (end - start) * _ramp(attack_fraction, self.shape)
        release_value = end + (start - end) * _ramp(release_fraction, self.shape)
        value = ops.where(
            t < self.delay,
            start,
            ops.where(t < attack_end, attack_value, ops.where(t < sustain_end, end, release_value)),
        )
        return ops.cast(ops.where(n >= self.duration, after, value), "float32")

    def get_config(self):
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


@tfae.hookimpl
def register_schedulers(register):
    register(DASRScheduler, name="dasr", aliases=["cyclical", "annealing"])
