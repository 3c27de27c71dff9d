"""The DASR schedule: delay, attack, sustain, release, repeated for a number of cycles."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from keras import ops

from tfae.hookspecs import hookimpl
from tfae.schedulers.base import MAX_COUNT, BaseScheduler, as_counter, check_finite

SHAPES = ("linear", "cosine", "sigmoid")
# A ramp of up to this many counts is a table of its values, computed in float64 and rounded once to float32.
TABLE_COUNTS = 2**16
# A longer ramp is a table of its values at GRID + 1 evenly spaced points, interpolated between them at the
# count's place, which integer arithmetic finds to within 1 / STEPS of a grid interval.
GRID = 2**16
STEP_BITS = 12
STEPS = 2**STEP_BITS
# Each interval's rise is rounded to STEP_BITS significant bits, so that its product with a position of
# STEP_BITS bits is exact: no compiler can round it otherwise, with or without a fused multiply-add.
RISE_BITS = 24 - STEP_BITS


def _ramp(fraction: float, shape: str) -> float:
    """Maps the fraction ``x`` of a ramp done, in (0, 1], to how far the value has moved."""
    if shape == "cosine":
        return 0.5 - 0.5 * math.cos(math.pi * fraction)
    if shape == "sigmoid":
        return 1.0 / (1.0 + math.exp(6.0 - 12.0 * fraction))
    return fraction


def _describe(value: object) -> str:
    # repr() of an int of more than 4300 digits raises; so long a count is reported by its size.
    if isinstance(value, numbers.Integral) and abs(int(value)).bit_length() > 128:
        return f"an integer of about {int(abs(int(value)).bit_length() * math.log10(2)) + 1} digits"
    return repr(value)


def _check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={_describe(value)}")
    if value > MAX_COUNT:
        raise ValueError(
            f"`{name}` must be at most {MAX_COUNT} (2**31 - 1), the most epochs or steps a schedule counts. "
            f"Received: {name}={_describe(value)}"
        )
    return int(value)


def _round_to_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """``values`` rounded to ``bits`` significant bits."""
    mantissas, exponents = np.frexp(values)
    return np.ldexp(np.round(np.ldexp(mantissas, bits)), exponents - bits)


class _Ramp:
    """The values of one ramp of ``length`` counts from ``origin`` to ``target``: count ``k`` (from 0) has
    ``origin + (target - origin) * f((k + 1) / length)``.

    Up to ``TABLE_COUNTS`` counts, the values are a table computed in float64 and rounded once to float32: the
    formula's values exactly. A longer ramp holds the formula's values at ``GRID + 1`` evenly spaced points, in
    the same way, and the rise of each interval between them, rounded to ``RISE_BITS`` significant bits. For a
    count, integer arithmetic finds its interval ``q`` and its place ``w`` in it, in steps of ``1 / STEPS``;
    the value is ``values[q] + rises[q] * w``: one float32 addition of an exact product. So every backend and
    compiler computes the same bits, and the value is within about ``2**-22 * max(|origin|, |target|)`` of the
    formula (exactly it at the grid points and at the ramp's end).

    Args:
        origin: the value the ramp leaves.
        target: the value the ramp reaches.
        length: int, 0 to ``MAX_COUNT``: the ramp's counts.
        shape: ``"linear"``, ``"cosine"`` or ``"sigmoid"``.
    """

    def __init__(self, origin: float, target: float, length: int, shape: str) -> None:
        self.length = length
        self.low, self.high = min(origin, target), max(origin, target)
        self.rises: np.ndarray | None = None
        if length <= TABLE_COUNTS:
            fractions = [(k + 1) / length for k in range(length)] or [1.0]
        else:
            fractions = [i / GRID for i in range(GRID + 1)]
        exact = np.asarray([origin + (target - origin) * _ramp(x, shape) for x in fractions], dtype="float64")
        # Rounding can push an extreme ramp past its ends; the pinned values never leave [origin, target].
        self.values = np.clip(exact, self.low, self.high).astype("float32")
        if length > TABLE_COUNTS:
            # Zero after the last point: the ramp's last count sits on it.
            self.rises = np.append(_round_to_bits(np.diff(exact), RISE_BITS), 0.0).astype("float32")

    def at(self, k: Any) -> Any:
        """The float32 values for int32 counts ``k`` into the ramp; counts outside it give an end's value."""
        k = ops.clip(k, 0, max(self.length - 1, 0))
        if self.rises is None:
            return ops.take(self.values, k)
        place = self._place(k + 1)
        interval, step = place // STEPS, place % STEPS
        rise = ops.take(self.rises, interval) * (ops.cast(step, "float32") * np.float32(1 / STEPS))
        value = ops.take(self.values, interval) + rise
        return ops.clip(value, np.float32(self.low), np.float32(self.high))

    def _place(self, done: Any) -> Any:
        """``floor(done / length * GRID * STEPS)`` for int32 ``done`` in ``[1, length]``, by long division in
        int32, which never overflows (``done * GRID * STEPS`` would)."""
        whole = ops.cast(done >= self.length, "int32")
        remainder = done - whole * self.length
        place = whole
        for _ in range(GRID.bit_length() - 1 + STEP_BITS):
            carry = remainder >= self.length - remainder
            # Multiplications, not place + place: Grappler unfolds a sum of a sum into one term per path.
            place = place * 2 + ops.cast(carry, "int32")
            # 2 * remainder - length when it carries, 2 * remainder otherwise; both stay in [0, length).
            remainder = remainder - ops.where(carry, self.length - remainder, -remainder)
        return place


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

    The values of a ramp of up to 65,536 counts are computed once, in float64, and rounded once to float32;
    ``calc`` only picks among them. A longer ramp keeps such values at 65,537 evenly spaced points and
    interpolates between them with integer arithmetic and one float32 addition of an exact product; its values
    are within ``2**-22 * max(|start_value|, |end_value|)`` of the formula. Either way the value used inside a
    compiled train step is bit for bit the value ``calc`` gives eagerly, whatever rewrites the graph compiler
    (Grappler, XLA) makes to arithmetic, fused multiply-adds included.

    A schedule lasts at most ``2**31 - 1`` counts (``duration <= 2147483647``), so that its counter fits int32
    on every backend (JAX computes in int32 unless x64 is enabled); construction, from a config too, refuses a
    longer one and names the limit. A counter past it, an int64 step say, gives the final value. Construction
    takes the same time and memory whatever the counts.

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
        if self.duration > MAX_COUNT:
            raise ValueError(
                f"The schedule lasts (delay + attack + sustain + release) * cycles = {self.duration} counts; a "
                f"schedule lasts at most {MAX_COUNT} (2**31 - 1) epochs or steps. Shorten its phases or use "
                "fewer cycles. "
                f"Received: delay={self.delay}, attack={self.attack}, sustain={self.sustain}, "
                f"release={self.release}, cycles={self.cycles}"
            )
        if shape not in SHAPES:
            raise ValueError(f"`shape` must be one of {SHAPES}. Received: shape={shape!r}")
        self.shape = shape
        start, end = self.start_value, self.end_value
        self._attack = _Ramp(start, end, self.attack, shape)
        self._release = _Ramp(end, start, self.release, shape)
        self._final_value = end if self.release == 0 else start
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
        n = as_counter(n)
        start, end, final = (np.float32(value) for value in (self.start_value, self.end_value, self._final_value))
        if self.period == 0:
            return ops.full(ops.shape(n), final, dtype="float32")
        t = n % self.period
        attack_end = self.delay + self.attack
        sustain_end = attack_end + self.sustain
        value = ops.where(t < self.delay, start, end)
        if self.attack:
            in_attack = ops.logical_and(t >= self.delay, t < attack_end)
            value = ops.where(in_attack, self._attack.at(t - self.delay), value)
        if self.release:
            value = ops.where(t >= sustain_end, self._release.at(t - sustain_end), value)
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
