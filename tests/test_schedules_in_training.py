"""Schedules inside fit: the beta each train step uses, observed inside the compiled step, on TF and JAX."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from tfae.bottlenecks import GaussianBottleneck
from tfae.models import Autoencoder
from tfae.regularizers import GaussianKLDRegularizer
from tfae.schedulers import DASRScheduler
from timeouts import HANG_TIMEOUT_S

STEPS_PER_EPOCH = 10
EPOCHS = 3
MAX_COUNT = 2**31 - 1


class BetaObserver(keras.layers.Layer):
    """Writes the schedule's current value, in each train step, into slot ``i`` of a buffer for the i-th step.

    The buffer and the count of steps seen are non-trainable variables, so the writes happen inside the
    compiled train step on every backend (a Python side effect would run once per trace under JAX), and
    they are saved and restored with the model. ``ObservedKLD`` calls it where it takes its beta, so it
    sees the value that the regularizer uses in the same step.

    Args:
        scheduler: the ``BaseScheduler`` whose ``value`` to record.
        capacity: how many steps the buffer holds; unwritten slots stay -1.

    Call arguments:
        inputs: any tensor, returned unchanged.
        training: records only when ``True``.
    """

    def __init__(self, scheduler, capacity, **kwargs):
        super().__init__(**kwargs)
        self.scheduler = scheduler
        self.observed = self.add_weight(
            shape=(capacity,), initializer=keras.initializers.Constant(-1.0), trainable=False, name="observed"
        )
        self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="count")

    def call(self, inputs, training=None):
        if training:
            slots = ops.arange(self.observed.shape[0], dtype="int32")
            value = ops.convert_to_tensor(self.scheduler.value)
            here = slots == ops.convert_to_tensor(self.count)
            self.observed.assign(ops.where(here, value, ops.convert_to_tensor(self.observed)))
            self.count.assign_add(1)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def result(self):
        return ops.convert_to_numpy(self.observed).tolist(), int(ops.convert_to_numpy(self.count))


class ObservedKLD(GaussianKLDRegularizer):
    """The KL regularizer, with a ``BetaObserver`` (a layer it owns, tracked by the bottleneck) that records
    the beta of each train step as the regularizer takes it."""

    def __init__(self, observer, beta):
        super().__init__(beta=beta)
        self.observer = observer

    def current_beta(self, training=False):
        beta = super().current_beta(training)
        if training:
            self.observer(beta, training=True)
        return beta


def observed_model(observer, beta):
    return Autoencoder(bottleneck=GaussianBottleneck(latent_dim=2, regularizer=ObservedKLD(observer, beta)))


def make_scheduler(unit):
    if unit == "step":
        # Duration 21 of 30 steps: every phase, and the value after the schedule, fall inside training.
        return DASRScheduler(0.2, 0.9, delay=3, attack=7, sustain=5, release=6, unit="step")
    return DASRScheduler(0.2, 0.9, delay=1, attack=2, shape="cosine", unit="epoch")


def observe(unit, steps_per_execution=4):
    """Fits a tiny VAE whose beta follows a schedule; returns what each train step used, and what it should."""
    keras.utils.set_random_seed(0)
    scheduler = make_scheduler(unit)
    total_steps = STEPS_PER_EPOCH * EPOCHS
    observer = BetaObserver(scheduler, capacity=total_steps + 2)
    # Given whole for one unit and as `scheduler.value` for the other: both ways reach the same schedule.
    beta = scheduler.value if unit == "step" else scheduler
    model = observed_model(observer, beta)
    model.compile(optimizer="adam", loss="bernoulli", steps_per_execution=steps_per_execution)
    x = np.random.default_rng(0).random((4 * STEPS_PER_EPOCH, 8)).astype("float32")
    history = model.fit(x, epochs=EPOCHS, batch_size=4, verbose=0)
    observed, count = observer.result()
    counter = (lambda step: step) if unit == "step" else (lambda step: step // STEPS_PER_EPOCH)
    return {
        "backend": keras.backend.backend(),
        "observed": observed,
        "count": count,
        "expected": [scheduler.value_at(counter(step)) for step in range(total_steps)] + [-1.0, -1.0],
        "scheduler_step": int(ops.convert_to_numpy(scheduler.step)) if unit == "step" else None,
        "history_beta": history.history["beta"],
        "expected_history_beta": [
            float(np.mean(scheduler_values))
            for scheduler_values in np.reshape(
                [scheduler.value_at(counter(step)) for step in range(total_steps)], (EPOCHS, STEPS_PER_EPOCH)
            )
        ],
    }


def check(result, unit):
    total_steps = STEPS_PER_EPOCH * EPOCHS
    assert result["count"] == total_steps
    assert result["observed"] == result["expected"]
    if unit == "step":
        assert result["scheduler_step"] == total_steps
    np.testing.assert_allclose(result["history_beta"], result["expected_history_beta"], rtol=1e-6)


@pytest.mark.backend_neutral
@pytest.mark.parametrize("unit", ["step", "epoch"])
def test_each_train_step_uses_the_value_for_its_counter(unit):
    check(observe(unit), unit)


# Slow: JAX in a fresh interpreter (~16 CPU-s); .ci/run runs it, and runs this file under JAX in its JAX phase.
@pytest.mark.slow
def test_each_train_step_uses_the_value_for_its_counter_on_jax():
    if keras.backend.backend() == "jax":
        pytest.skip("the in-process test covers JAX when the suite itself runs under JAX")
    tests_dir = str(Path(__file__).parent)
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {tests_dir!r})\n"
        "from test_schedules_in_training import observe\n"
        "print(json.dumps({unit: observe(unit) for unit in ('step', 'epoch')}))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT_S, check=False
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    for unit, result in results.items():
        assert result["backend"] == "jax"
        check(result, unit)


def observe_from(scheduler, first_count, steps=10, steps_per_execution=4):
    """Fits a tiny VAE for ``steps`` train steps, its step counter set to ``first_count`` first; returns the
    values the steps used, the values ``value_at`` gives for their counters, and the counter at the end."""
    keras.utils.set_random_seed(0)
    observer = BetaObserver(scheduler, capacity=steps)
    model = observed_model(observer, scheduler.value)
    model.compile(optimizer="adam", loss="bernoulli", steps_per_execution=steps_per_execution)
    scheduler.step.assign(first_count)
    x = np.random.default_rng(0).random((4 * steps, 8)).astype("float32")
    model.fit(x, epochs=1, batch_size=4, verbose=0)
    observed, count = observer.result()
    assert count == steps
    counters = [min(first_count + step, MAX_COUNT) for step in range(steps)]
    return observed, [scheduler.value_at(n) for n in counters], int(ops.convert_to_numpy(scheduler.step))


@pytest.mark.backend_neutral
def test_at_the_largest_count_the_step_counter_stops_and_the_value_stays_final():
    scheduler = DASRScheduler(0.2, 0.9, delay=MAX_COUNT - 5, attack=2, sustain=1, release=2, unit="step")
    observed, expected, last_count = observe_from(scheduler, MAX_COUNT - 6)
    assert observed == expected
    assert expected == [float(np.float32(value)) for value in [0.2, 0.55, 0.9, 0.9, 0.55] + [0.2] * 5]
    assert last_count == MAX_COUNT


@pytest.mark.backend_neutral
def test_inside_the_step_a_long_ramp_has_the_values_that_value_at_gives():
    # Longer than the exact tables (65,536 counts): interpolated, at counts between its interpolation points.
    scheduler = DASRScheduler(0.2, 0.9, attack=3 * 2**16 + 1, shape="cosine", unit="step")
    observed, expected, last_count = observe_from(scheduler, 100_000)
    assert observed == expected
    assert len(set(expected)) == len(expected)
    assert last_count == 100_010


@pytest.mark.backend_neutral
def test_seed_two_phase_recipe_keeps_the_final_value(digits):
    x = digits[0][:64]
    scheduler = DASRScheduler(0.0, 1.0, delay=5, attack=10)
    model = Autoencoder(
        bottleneck=GaussianBottleneck(latent_dim=2, regularizer=GaussianKLDRegularizer(beta=scheduler.value))
    )
    model.compile(optimizer="adam", loss="bernoulli")

    first = model.fit(x, epochs=scheduler.duration, callbacks=[scheduler], batch_size=32, verbose=0)
    second = model.fit(
        x,
        initial_epoch=scheduler.duration,
        epochs=scheduler.duration + 4,
        callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=2)],
        batch_size=32,
        verbose=0,
    )

    np.testing.assert_allclose(first.history["beta"], [0.0] * 5 + [k / 10 for k in range(1, 11)], rtol=1e-6)
    assert first.epoch == list(range(15))
    assert len(second.history["beta"]) >= 1
    assert second.history["beta"] == [1.0] * len(second.history["beta"])
    assert float(ops.convert_to_numpy(scheduler.value)) == 1.0
