"""The DASR schedule, value by value against the pinned table (docs: DESIGN.md, "DASR schedule (pinned)")."""

import itertools
import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from tfae.plugins import resolve
from tfae.schedulers import BaseScheduler, DASRScheduler
from timeouts import HANG_TIMEOUT_S

pytestmark = pytest.mark.backend_neutral

SHAPE_FUNCTIONS = {
    "linear": lambda x: x,
    "cosine": lambda x: 0.5 - 0.5 * math.cos(math.pi * x),
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-(12.0 * x - 6.0))),
}


def reference(n, start, end, delay=0, attack=0, sustain=0, release=0, cycles=1, shape="linear"):
    """The pinned table, written out in plain Python (float64)."""
    f = SHAPE_FUNCTIONS[shape]
    period = delay + attack + sustain + release
    if n >= period * cycles:
        return end if release == 0 else start
    t = n % period
    if t < delay:
        return start
    if t < delay + attack:
        return start + (end - start) * f((t - delay + 1) / attack)
    if t < delay + attack + sustain:
        return end
    return end + (start - end) * f((t - delay - attack - sustain + 1) / release)


def expected(length, start, end, **phases):
    return np.array([reference(n, start, end, **phases) for n in range(length)], dtype="float32")


def calc_all(scheduler, length):
    return ops.convert_to_numpy(scheduler.calc(ops.arange(length, dtype="int32")))


def test_seed_example_delay_then_attack():
    scheduler = DASRScheduler(0.0, 1.0, delay=5, attack=10)
    values = [scheduler.value_at(n) for n in range(25)]
    assert scheduler.duration == 15
    assert values[:5] == [0.0] * 5
    assert values[5:15] == [float(np.float32(k / 10)) for k in range(1, 11)]
    assert values[15:] == [1.0] * 10
    assert scheduler.initial_value == 0.0


def test_seed_example_four_cycles():
    scheduler = DASRScheduler(0.0, 1.0, attack=10, sustain=10, cycles=4)
    values = [scheduler.value_at(n) for n in range(90)]
    cycle = [float(np.float32(k / 10)) for k in range(1, 11)] + [1.0] * 10
    assert scheduler.duration == 80
    assert values[:80] == cycle * 4
    assert values[80:] == [1.0] * 10


PHASE_COUNTS = (0, 1, 3)


@pytest.mark.parametrize("shape", ["linear", "cosine", "sigmoid"])
def test_every_phase_combination_matches_the_table(shape):
    for delay, attack, sustain, release in itertools.product(PHASE_COUNTS, repeat=4):
        for cycles in (1, 3):
            phases = dict(delay=delay, attack=attack, sustain=sustain, release=release, cycles=cycles)
            scheduler = DASRScheduler(0.25, 2.0, shape=shape, **phases)
            period = delay + attack + sustain + release
            assert scheduler.duration == period * cycles
            # One length for all, longer than any duration here, so that JAX compiles each op once.
            length = 64
            np.testing.assert_array_equal(
                calc_all(scheduler, length), expected(length, 0.25, 2.0, shape=shape, **phases), err_msg=str(phases)
            )


@pytest.mark.parametrize("shape", ["linear", "cosine", "sigmoid"])
def test_value_at_and_scalar_tensor_calc_agree_with_the_table(shape):
    for delay, attack, sustain, release in itertools.product((0, 2), repeat=4):
        phases = dict(delay=delay, attack=attack, sustain=sustain, release=release, cycles=2)
        scheduler = DASRScheduler(1.5, -0.5, shape=shape, **phases)
        want = expected(scheduler.duration + 3, 1.5, -0.5, shape=shape, **phases)
        for n, value in enumerate(want):
            assert scheduler.value_at(n) == float(value), (phases, n)
            result = scheduler.calc(ops.convert_to_tensor(n, dtype="int32"))
            assert tuple(result.shape) == () and keras.backend.standardize_dtype(result.dtype) == "float32"
            assert float(ops.convert_to_numpy(result)) == float(value), (phases, n)


def test_empty_period_is_the_final_value_from_the_start():
    assert DASRScheduler(0.3, 0.7).duration == 0
    assert [DASRScheduler(0.3, 0.7).value_at(n) for n in range(3)] == [float(np.float32(0.7))] * 3
    assert calc_all(DASRScheduler(0.3, 0.7), 4).shape == (4,)


def test_after_duration_the_value_stays_final():
    with_release = DASRScheduler(0.0, 1.0, attack=2, release=2, cycles=2)
    without_release = DASRScheduler(0.0, 1.0, attack=2, sustain=1, cycles=2)
    only_delay = DASRScheduler(0.0, 1.0, delay=3)
    assert [with_release.value_at(n) for n in (8, 9, 1000, 2**31 - 1)] == [0.0] * 4
    assert [without_release.value_at(n) for n in (6, 7, 1000, 2**31 - 1)] == [1.0] * 4
    assert [only_delay.value_at(n) for n in range(5)] == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_ramp_shapes_follow_the_cyclical_annealing_paper():
    linear, cosine, sigmoid = (DASRScheduler(0.0, 1.0, attack=4, shape=shape) for shape in SHAPE_FUNCTIONS)
    assert [linear.value_at(n) for n in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert cosine.value_at(1) == pytest.approx(0.5) and cosine.value_at(3) == 1.0
    assert cosine.value_at(0) == pytest.approx(0.5 - 0.5 * math.cos(math.pi / 4))
    assert sigmoid.value_at(1) == pytest.approx(0.5)
    assert sigmoid.value_at(3) == pytest.approx(1 / (1 + math.exp(-6)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"delay": -1}, "`delay` must be an integer >= 0. Received: delay=-1"),
        ({"attack": -3}, "`attack` must be an integer >= 0. Received: attack=-3"),
        ({"sustain": -1}, "`sustain` must be an integer >= 0. Received: sustain=-1"),
        ({"release": -2}, "`release` must be an integer >= 0. Received: release=-2"),
        ({"attack": 2.5}, "`attack` must be an integer >= 0. Received: attack=2.5"),
        ({"cycles": 0}, "`cycles` must be an integer >= 1. Received: cycles=0"),
        ({"cycles": -4}, "`cycles` must be an integer >= 1. Received: cycles=-4"),
        ({"start_value": float("nan")}, "`start_value` must be a finite number. Received: start_value=nan"),
        ({"end_value": float("inf")}, "`end_value` must be a finite number. Received: end_value=inf"),
        ({"end_value": "1"}, "`end_value` must be a finite number. Received: end_value='1'"),
        ({"shape": "cubic"}, "`shape` must be one of .* Received: shape='cubic'"),
        ({"unit": "batch"}, "`unit` must be one of .* Received: unit='batch'"),
        ({"attack": 10**30}, rf"`attack` must be at most 2147483647 \(2\*\*31 - 1\), .* Received: attack={10**30}$"),
        ({"delay": 2**31}, r"`delay` must be at most 2147483647 .* Received: delay=2147483648$"),
        ({"cycles": 2**31}, r"`cycles` must be at most 2147483647 .* Received: cycles=2147483648$"),
        ({"sustain": 10**5000}, "`sustain` must be at most .* Received: sustain=an integer of about 5001 digits$"),
        (
            {"delay": 2**31 - 2, "attack": 2},
            r"lasts \(delay \+ attack \+ sustain \+ release\) \* cycles = 2147483648 counts; a schedule lasts at most "
            r"2147483647 \(2\*\*31 - 1\) epochs or steps\. Shorten its phases or use fewer cycles\. Received: "
            r"delay=2147483646, attack=2, sustain=0, release=0, cycles=1$",
        ),
        ({"attack": 3, "cycles": 10**9}, r"\(delay \+ attack \+ sustain \+ release\) \* cycles = 3000000000 counts"),
    ],
)
def test_invalid_arguments_are_named_with_the_value_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DASRScheduler(**kwargs)


def test_numpy_numbers_are_accepted():
    scheduler = DASRScheduler(np.float32(0.0), np.float64(1.0), delay=np.int64(5), attack=np.int32(10))
    assert scheduler.duration == 15 and isinstance(scheduler.delay, int)
    assert scheduler.get_config()["attack"] == 10


def test_value_at_rejects_a_negative_counter():
    with pytest.raises(ValueError, match="`n` must be an integer >= 0. Received: n=-1"):
        DASRScheduler(attack=2).value_at(-1)


def test_value_is_a_float32_non_trainable_variable_starting_at_the_initial_value():
    scheduler = DASRScheduler(0.5, 1.0, attack=4)
    assert isinstance(scheduler.value, keras.Variable)
    assert scheduler.value is scheduler.value
    assert scheduler.value.dtype == "float32" and not scheduler.value.trainable
    assert float(ops.convert_to_numpy(scheduler.value)) == scheduler.initial_value == 0.625
    assert scheduler.variables == [scheduler.value]
    step_scheduler = DASRScheduler(attack=4, unit="step")
    assert step_scheduler.variables == [step_scheduler.value, step_scheduler.step]
    assert step_scheduler.step.dtype == "int32"


def test_epoch_schedule_sets_its_value_at_each_epoch_begin():
    scheduler = DASRScheduler(0.0, 1.0, delay=1, attack=4)
    scheduler.on_epoch_begin(3)
    assert float(ops.convert_to_numpy(scheduler.value)) == 0.75
    step_scheduler = DASRScheduler(0.0, 1.0, attack=4, unit="step")
    step_scheduler.on_epoch_begin(3)
    assert float(ops.convert_to_numpy(step_scheduler.value)) == 0.25


def test_step_schedule_advances_by_one_count_per_train_step():
    scheduler = DASRScheduler(0.0, 1.0, delay=1, attack=4, unit="step")
    for n in range(7):
        used = float(ops.convert_to_numpy(scheduler.advance()))
        assert used == scheduler.value_at(n) == float(ops.convert_to_numpy(scheduler.value))
        assert int(ops.convert_to_numpy(scheduler.step)) == n + 1


def test_config_round_trip():
    scheduler = DASRScheduler(0.1, 0.9, delay=2, attack=3, sustain=4, release=5, cycles=2, shape="cosine", unit="step")
    config = scheduler.get_config()
    assert config == {
        "start_value": 0.1,
        "end_value": 0.9,
        "delay": 2,
        "attack": 3,
        "sustain": 4,
        "release": 5,
        "cycles": 2,
        "shape": "cosine",
        "unit": "step",
    }
    rebuilt = DASRScheduler.from_config(config)
    assert rebuilt.get_config() == config
    np.testing.assert_array_equal(calc_all(rebuilt, 40), calc_all(scheduler, 40))
    assert repr(scheduler).startswith("DASRScheduler(start_value=0.1, end_value=0.9, delay=2")


def test_registered_as_dasr_and_built_from_a_dict():
    scheduler = resolve("scheduler", {"name": "dasr", "delay": 5, "attack": 10, "unit": "step"})
    assert isinstance(scheduler, DASRScheduler) and isinstance(scheduler, BaseScheduler)
    assert (scheduler.duration, scheduler.unit) == (15, "step")
    assert isinstance(resolve("scheduler", "DASRScheduler"), DASRScheduler)
    assert isinstance(resolve("scheduler", "cyclical"), DASRScheduler)


@pytest.mark.parametrize("regularizer", ["kld", "reversed_kld", "l2"])
def test_a_dict_builds_the_schedule_wherever_a_beta_is_accepted(regularizer):
    spec = {"name": "dasr", "delay": 5, "attack": 10}
    built = resolve("regularizer", {"name": regularizer, "beta": spec})
    assert isinstance(built.scheduler, DASRScheduler) and built.scheduler.duration == 15
    assert built.beta is built.scheduler.value
    assert built.get_config() == {"beta": {"name": "dasr", **DASRScheduler(delay=5, attack=10).get_config()}}
    assert resolve("regularizer", {"name": regularizer, **built.get_config()}).scheduler.get_config() == (
        built.scheduler.get_config()
    )


def test_a_nested_dict_reaches_the_model():
    from tfae.models import Autoencoder

    model = Autoencoder(
        bottleneck={
            "name": "gaussian",
            "latent_dim": 2,
            "regularizer": {"name": "kld", "beta": {"name": "dasr", "attack": 10, "sustain": 10, "cycles": 4}},
        }
    )
    (scheduler,) = model.schedulers
    assert isinstance(scheduler, DASRScheduler) and scheduler.duration == 80
    assert any(variable is scheduler.value for variable in model.bottleneck.non_trainable_variables)


def test_a_regularizer_given_the_value_variable_finds_the_schedule():
    from tfae.regularizers import GaussianKLDRegularizer

    scheduler = DASRScheduler(attack=3, unit="step")
    regularizer = GaussianKLDRegularizer(beta=scheduler.value)
    assert regularizer.scheduler is scheduler
    assert regularizer.variables == [scheduler.value, scheduler.step]
    zeros = ops.zeros((2, 3))
    assert float(ops.convert_to_numpy(regularizer.current_beta(training=True))) == scheduler.value_at(0)
    assert float(ops.convert_to_numpy(regularizer.current_beta(training=False))) == scheduler.value_at(0)
    assert float(ops.convert_to_numpy(regularizer(zeros, zeros, training=True))) == 0.0
    assert int(ops.convert_to_numpy(scheduler.step)) == 2


# Issue 18: counts past int32, and counts so large that a table of them would not fit in memory.
MAX_COUNT = 2**31 - 1
# The documented accuracy of a ramp longer than the exact tables' 65,536 counts, relative to max(|start|, |end|).
LONG_RAMP_TOLERANCE = 2**-22


def compiled_versions(function):
    """``function`` compiled as Keras compiles a train step on this backend: with XLA (and, on TensorFlow, as a
    graph that Grappler rewrites too)."""
    if keras.backend.backend() == "jax":
        import jax

        return [jax.jit(function)]
    import tensorflow as tf

    return [tf.function(function), tf.function(function, jit_compile=True)]


def test_the_counts_in_issue_18_give_the_pinned_values_or_are_refused_naming_the_limit():
    with pytest.raises(ValueError, match=r"lasts at most 2147483647 \(2\*\*31 - 1\) epochs or steps"):
        DASRScheduler(delay=2**31 - 2, attack=2)
    longest = DASRScheduler(delay=2**31 - 3, attack=2)
    assert longest.duration == MAX_COUNT
    counters = (5, 2**31 - 4, 2**31 - 3, 2**31 - 2, 2**31 - 1, 2**31, 2**40)
    assert [longest.value_at(n) for n in counters] == [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0]
    assert DASRScheduler(delay=5, attack=2).value_at(3_000_000_000) == 1.0
    assert float(ops.convert_to_numpy(DASRScheduler(delay=5, attack=2).calc(3_000_000_000))) == 1.0


def test_counters_past_int32_give_the_final_value_whatever_their_type():
    phases = dict(delay=1, attack=3, release=2)
    scheduler = DASRScheduler(0.25, 2.0, **phases)
    counters = [0, 1, 2, 5, 6, MAX_COUNT, 2**31, 3_000_000_000, 2**62, 2**64 - 1]
    want = np.array([reference(n, 0.25, 2.0, **phases) for n in counters], dtype="float32")
    assert want[-1] == np.float32(0.25)
    assert [scheduler.value_at(n) for n in counters] == want.tolist()
    for array in (np.array(counters, dtype="uint64"), np.array(counters[:-1], dtype="int64")):
        np.testing.assert_array_equal(ops.convert_to_numpy(scheduler.calc(array)), want[: len(array)])
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # An int64 step, as a TensorFlow program may count it, eagerly and inside compiled functions.
        steps = tf.constant(counters[:-1], dtype=tf.int64)
        for calc in [scheduler.calc, *compiled_versions(scheduler.calc)]:
            np.testing.assert_array_equal(calc(steps).numpy(), want[:-1])


@pytest.mark.parametrize("shape", ["linear", "cosine", "sigmoid"])
def test_huge_phases_and_cycles_give_the_pinned_values(shape):
    for phases in (
        dict(delay=2**30, attack=3, sustain=2**29, release=5, cycles=1),
        dict(delay=1, attack=3, sustain=0, release=2, cycles=MAX_COUNT // 6),
        dict(delay=0, attack=4, sustain=MAX_COUNT - 4, release=0, cycles=1),
    ):
        scheduler = DASRScheduler(1.5, -0.5, shape=shape, **phases)
        delay, attack, sustain, period = phases["delay"], phases["attack"], phases["sustain"], scheduler.period
        last_cycle = scheduler.duration - period
        edges = [0, delay, delay + attack, delay + attack + sustain, period]
        edges += [last_cycle + edge for edge in edges] + [scheduler.duration, MAX_COUNT]
        counters = sorted({n for edge in edges for n in range(edge - 2, edge + 3) if n >= 0})
        want = np.array([reference(n, 1.5, -0.5, shape=shape, **phases) for n in counters], dtype="float32")
        assert [scheduler.value_at(n) for n in counters] == want.tolist(), phases
        np.testing.assert_array_equal(ops.convert_to_numpy(scheduler.calc(np.array(counters))), want, str(phases))


@pytest.mark.parametrize("shape", ["linear", "cosine", "sigmoid"])
def test_ramps_of_any_length_follow_the_formula_and_compile_to_the_same_values(shape):
    grid_multiple = 2**16 * 30_000  # every 30,000th count of this ramp sits on one of its interpolation points
    for attack, release in ((2**16, 2**16 + 1), (grid_multiple, 7), (10**9 + 7, 2**30 + 3)):
        start, end = (0.25, 2.0) if attack != grid_multiple else (-3e4, 1e-3)
        phases = dict(delay=2, attack=attack, sustain=1, release=release, shape=shape)
        scheduler = DASRScheduler(start, end, **phases)
        rng = np.random.default_rng(attack)
        in_attack = np.concatenate([[0, 1, attack - 2, attack - 1], rng.integers(0, attack, 300)]) + 2
        in_release = np.concatenate([[0, 1, release - 2, release - 1], rng.integers(0, release, 300)]) + attack + 3
        on_grid = np.arange(1, 10) * 30_000 - 1 + 2 if attack == grid_multiple else np.array([], dtype="int64")
        counters = np.concatenate([in_attack, in_release, on_grid]).astype("int32")
        want = np.array([reference(int(n), start, end, **phases) for n in counters], dtype="float32")
        got = ops.convert_to_numpy(scheduler.calc(counters))
        scale = max(abs(start), abs(end))
        np.testing.assert_allclose(got, want, rtol=0, atol=LONG_RAMP_TOLERANCE * scale, err_msg=str(phases))
        # Exact: a ramp of up to 65,536 counts everywhere, a longer one at its end and its interpolation points.
        exact = np.zeros(len(counters), dtype=bool)
        exact[[3, 307]] = True
        exact[608:] = True
        exact[:304] |= attack <= 2**16
        exact[304:608] |= release <= 2**16
        np.testing.assert_array_equal(got[exact], want[exact], str(phases))
        for calc in compiled_versions(scheduler.calc):
            assert ops.convert_to_numpy(calc(ops.convert_to_tensor(counters))).tobytes() == got.tobytes(), phases


def test_the_step_counter_stops_at_the_largest_count_and_the_value_stays_final():
    scheduler = DASRScheduler(0.0, 1.0, delay=MAX_COUNT - 5, attack=2, sustain=1, release=2, unit="step")
    assert scheduler.duration == MAX_COUNT
    scheduler.step.assign(MAX_COUNT - 6)
    used = [float(ops.convert_to_numpy(scheduler.advance())) for _ in range(9)]
    assert used == [0.0, 0.5, 1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0]
    assert int(ops.convert_to_numpy(scheduler.step)) == MAX_COUNT


# Builds the schedules that issue 18 found costly, and loads a model file holding one, in a process whose memory
# is capped a few GiB above what it holds after start-up, so that a regression fails here instead of exhausting
# the machine. Prints the messages, and how much the peak resident memory grew while building and refusing.
HUGE_SCHEDULES = """
import json, os, resource, sys, zipfile
import numpy as np
import tfae
from tfae.bottlenecks import GaussianBottleneck
from tfae.models import Autoencoder
from tfae.regularizers import GaussianKLDRegularizer
from tfae.schedulers import DASRScheduler

folder = sys.argv[1]
regularizer = GaussianKLDRegularizer(beta=DASRScheduler(attack=7, unit="step"))
model = Autoencoder(bottleneck=GaussianBottleneck(2, regularizer=regularizer))
model.compile(optimizer="adam", loss="bernoulli")
model.build((None, 4))
small, huge = os.path.join(folder, "small.keras"), os.path.join(folder, "huge.keras")
model.save(small)
with zipfile.ZipFile(small) as source, zipfile.ZipFile(huge, "w") as target:
    for item in source.infolist():
        content = source.read(item)
        if item.filename == "config.json":
            content = content.replace(b'"attack": 7,', b'"attack": %d,' % 10**30)
        target.writestr(item, content)
DASRScheduler(0.0, 1.0, attack=3).value_at(1)

def status(key):
    with open("/proc/self/status") as file:
        return next(int(line.split()[1]) * 1024 for line in file if line.startswith(key + ":"))

cap = status("VmSize") + 4 * 2**30
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
messages = []
for counts in ({"attack": 10**30}, {"release": 10**30}, {"cycles": 10**30, "attack": 1}):
    try:
        DASRScheduler(**counts)
    except ValueError as error:
        messages.append(str(error))
largest = [DASRScheduler(attack=2**31 - 1, shape=shape, unit="step") for shape in ("linear", "cosine", "sigmoid")]
largest.append(DASRScheduler(attack=2**30, release=2**30 - 1, shape="cosine"))
values = [scheduler.value_at(2**30) for scheduler in largest]
built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
try:
    tfae.load_model(huge)
except tfae.errors.ModelFileError as error:
    cause = error
    while cause.__cause__ or cause.__context__:
        cause = cause.__cause__ or cause.__context__
    messages += [str(error), str(cause)]
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
print(json.dumps({"messages": messages, "values": values, "built": built, "loaded": loaded}))
"""


# Slow: measures the memory of a fresh interpreter (~10 CPU-s); .ci/run runs it.
@pytest.mark.slow
def test_huge_counts_are_refused_without_allocating_even_from_a_model_file(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", HUGE_SCHEDULES, str(tmp_path)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    attack, release, cycles, model_file, model_file_cause = result["messages"]
    assert attack == (
        "`attack` must be at most 2147483647 (2**31 - 1), the most epochs or steps a schedule counts. "
        f"Received: attack={10**30}"
    )
    assert release.startswith("`release` must be at most 2147483647") and cycles.startswith("`cycles` must be at most")
    # Refused as the schedule is built from the file's config, before anything the size of its counts exists.
    assert model_file.startswith(f"cannot load the model in {tmp_path / 'huge.keras'}: ")
    assert model_file_cause == attack
    assert result["values"] == [0.5, 0.5, 0.5, 1.0]
    # Four long ramps' tables (512 KiB each) and the interpreter's own churn; the model file costs what any does.
    assert result["built"] < 64 * 2**20, result
    assert result["loaded"] < 512 * 2**20, result
