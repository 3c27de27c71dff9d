"""A scheduler whose value moves by the same factor every epoch (or step)."""

import math
import numbers

from keras import ops

import tfae
from tfae.schedulers import BaseScheduler


class GeometricScheduler(BaseScheduler):
    """Goes from ``start_value`` to ``end_value`` in ``duration`` counts, multiplying by the same factor each.

    ``value(n) = start_value * (end_value / start_value) ** (n / duration)`` for ``n < duration``, then
    ``end_value``.

    Args:
        start_value: positive float, the value at count 0.
        end_value: positive float, the value from count ``duration`` on.
        duration: int >= 0, how many epochs (or steps) the change takes.
        unit: ``"epoch"`` or ``"step"``: what the count counts.
    """

    def __init__(self, start_value=1.0, end_value=0.01, duration=10, unit="epoch"):
        for name, value in (("start_value", start_value), ("end_value", end_value)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
                raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")
        if isinstance(duration, bool) or not isinstance(duration, numbers.Integral) or duration < 0:
            raise ValueError(f"`duration` must be an integer >= 0. Received: duration={duration!r}")
        self.start_value = float(start_value)
        self.end_value = float(end_value)
        self._duration = int(duration)
        super().__init__(unit=unit)

    @property
    def duration(self):
        return self._duration

    def calc(self, n):
        n = ops.convert_to_tensor(n, dtype="int32")
        fraction = ops.cast(n, "float32") / max(self._duration, 1)
        value = self.start_value * ops.power(self.end_value / self.start_value, fraction)
        return ops.cast(ops.where(n >= self._duration, self.end_value, value), "float32")

    def get_config(self):
        return {
            "start_value": self.start_value,
            "end_value": self.end_value,
            "duration": self._duration,
            **super().get_config(),
        }


@tfae.hookimpl
def register_schedulers(register):
    register(GeometricScheduler, name="geometric", aliases=["exponential"])
