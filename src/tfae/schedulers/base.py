"""The contract every scheduler fulfils."""

from __future__ import annotations

import math
import numbers
from typing import Any

import keras
import numpy as np
from keras import ops

from tfae.configurable import Configurable

UNITS = ("epoch", "step")
# The most counts a schedule counts: the largest int32, since JAX computes in int32 unless x64 is enabled.
MAX_COUNT = 2**31 - 1
MIN_COUNT = -(2**31)


class BaseScheduler(Configurable, keras.callbacks.Callback):
    """A value that changes over training, such as a regularizer's beta.

    A scheduler maps a counter ``n`` (the epoch, or the optimizer step) to a value with ``calc(n)``.
    Its current value lives in ``value``, a non-trainable variable that a regularizer reads
    (``GaussianKLDRegularizer(beta=scheduler.value)``) or that it is given whole
    (``GaussianKLDRegularizer(beta=scheduler)``).

    Counted by epoch, the scheduler is a Keras callback that sets ``value`` at the start of each epoch:
    pass it in ``fit(callbacks=[...])`` (tfae's models add it themselves when it is missing).
    Counted by step, the value is computed inside the train step from a step counter that is saved with the
    model, so it is exact with ``steps_per_execution > 1``, on every backend, and after a resume.

    Subclasses implement ``calc(n)`` with ``keras.ops`` (it must accept a Python int and an integer tensor,
    and return float32), ``duration``, and ``get_config()``. ``as_counter(n)`` turns any such ``n`` into an
    int32 tensor. A schedule reaches its final value within ``MAX_COUNT`` (``2**31 - 1``) counts: the step
    counter stops there, and ``as_counter`` turns larger counters (an int64 tensor, a Python int) into
    ``MAX_COUNT``, so that any counter a run reaches gives the right value on every backend.

    Args:
        unit: ``"epoch"`` (default) or ``"step"``: what the counter ``n`` counts.

    Example:

    ```python
    scheduler = DASRScheduler(0.0, 1.0, delay=5, attack=10)
    model = Autoencoder(bottleneck=GaussianBottleneck(
        latent_dim=2, regularizer=GaussianKLDRegularizer(beta=scheduler.value)))
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=scheduler.duration, callbacks=[scheduler])
    model.fit(x, initial_epoch=scheduler.duration, epochs=100,
              callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=5)])
    ```
    """

    def __init__(self, unit: str = "epoch") -> None:
        super().__init__()
        if unit not in UNITS:
            raise ValueError(f"`unit` must be one of {UNITS}. Received: unit={unit!r}")
        self.unit = unit
        self._value: keras.Variable | None = None
        self._step: keras.Variable | None = None

    def calc(self, n: Any) -> Any:
        """Returns the value for counter ``n`` (an int or an integer tensor), as a float32 tensor of ``n``'s shape."""
        raise NotImplementedError

    @property
    def duration(self) -> int:
        """How many epochs (or steps) the schedule takes before it stays at its final value."""
        raise NotImplementedError

    @property
    def initial_value(self) -> float:
        """The value for counter 0, the value before training starts, as a Python float."""
        return self.value_at(0)

    def value_at(self, n: int) -> float:
        """``calc(n)`` as a Python float, for an int ``n >= 0``."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"`n` must be an integer >= 0. Received: n={n!r}")
        return float(ops.convert_to_numpy(self.calc(int(n))))

    @property
    def value(self) -> keras.Variable:
        """The current value: a float32 non-trainable variable, shared by everything that reads it."""
        if self._value is None:
            # On read, under tf.distribute: one copy per replica, each set by its own replica inside the
            # train step, with no pause to agree across replicas mid-step (during which two replicas' losses
            # would mix in their layers' shared loss lists). All copies see the same counter, so they agree.
            # An initializer, not a value: a model built abstractly to count its weights (tfae train's size
            # check) makes its variables without memory, which Keras allows only from an initializer.
            self._value = keras.Variable(
                initializer=keras.initializers.Constant(self.initial_value),
                shape=(),
                dtype="float32",
                trainable=False,
                name="scheduled_value",
                aggregation="only_first_replica",
                synchronization="on_read",
            )
            # Lets a regularizer given `scheduler.value` find the scheduler behind it.
            self._value._tfae_scheduler = self
        return self._value

    @property
    def step(self) -> keras.Variable:
        """The number of train steps counted so far (``unit="step"`` only), up to ``MAX_COUNT``, where it stays."""
        if self._step is None:
            # On read, as `value`: every replica advances its own copy once per global step.
            self._step = keras.Variable(
                initializer="zeros",
                shape=(),
                dtype="int32",
                trainable=False,
                name="scheduled_step",
                aggregation="only_first_replica",
                synchronization="on_read",
            )
        return self._step

    @property
    def variables(self) -> list[keras.Variable]:
        """The state a layer using this scheduler tracks, so that it is trained, saved and restored with it."""
        return [self.value, self.step] if self.unit == "step" else [self.value]

    def advance(self) -> Any:
        """Inside a train step: returns the value for this step's counter and moves the counter on."""
        current = ops.cast(self.calc(self.step), "float32")
        self.value.assign(current)
        # Stops at MAX_COUNT rather than wrap around to negative counts; every schedule is final by then.
        self.step.assign_add(ops.cast(ops.convert_to_tensor(self.step) < MAX_COUNT, "int32"))
        return current

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.unit == "epoch":
            self.value.assign(self.value_at(epoch))

    def get_config(self) -> dict[str, Any]:
        return {"unit": self.unit}


def as_counter(n: Any) -> Any:
    """Returns the counter ``n`` as an int32 tensor, with counts past ``MAX_COUNT`` made ``MAX_COUNT``.

    Args:
        n: an int, a NumPy integer or integer array, or an integer tensor (int64 ones included) of any shape.

    Returns:
        An int32 tensor of ``n``'s shape, equal to ``n`` wherever ``n`` is in int32's range.
    """
    if isinstance(n, numbers.Integral):
        return ops.convert_to_tensor(min(max(int(n), MIN_COUNT), MAX_COUNT), dtype="int32")
    if isinstance(n, (np.ndarray, np.generic, list, tuple)):
        array = np.asarray(n)
        if np.issubdtype(array.dtype, np.integer):
            limits = np.iinfo(array.dtype)
            array = np.clip(array, max(MIN_COUNT, limits.min), min(MAX_COUNT, limits.max)).astype("int32")
        return ops.convert_to_tensor(array, dtype="int32")
    tensor = ops.convert_to_tensor(n)
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if dtype in ("int64", "uint32", "uint64"):
        tensor = ops.minimum(tensor, ops.convert_to_tensor(MAX_COUNT, dtype=dtype))
        if dtype == "int64":
            tensor = ops.maximum(tensor, ops.convert_to_tensor(MIN_COUNT, dtype=dtype))
    return tensor if dtype == "int32" else ops.cast(tensor, "int32")


def check_finite(name: str, value: float) -> float:
    """Returns ``value`` as a float, or raises a ValueError naming the argument if it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number. Received: {name}={value!r}")
    return float(value)
