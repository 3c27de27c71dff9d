"""Property-based tests (hypothesis): registry resolution, the DASR schedule, and the config loader, on
arbitrary input.

- Resolving any string, or any nested dict, raises only the registry's documented errors
  (``UnknownNameError``, ``DuplicateNameError``, ``ValueError``), never another exception.
- A DASR schedule's values stay between its start and end values, repeat with period P until the
  schedule's duration, and stay at the final value after it; ramps of any length, up to 2**30 counts, are
  within 2**-22 * max(|start|, |end|) of the formula; any counts are accepted up to a duration of 2**31 - 1
  and refused past it, with the limit named.
- The config loader answers any text, any bytes, any damaged example config and any TOML document with a
  ``Config`` or a one-line ``ConfigError`` naming the file, never another exception; building a config's
  components raises only ``ConfigError``.

The examples are derandomized (the same in every run, so CI is repeatable) and few enough for seconds
per property. ``HYPOTHESIS_PROFILE=explore`` draws new and many more examples, for a longer hunt.
"""

import inspect
import os

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from keras import ops

from test_dasr import reference
from tfae.errors import DuplicateNameError, UnknownNameError
from tfae.plugins import get_registry, resolve
from tfae.registry import KINDS
from tfae.schedulers import DASRScheduler
from tfae.training.config import SCHEMA, Config, ConfigError, load_config

QUICK = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("repeatable", max_examples=100, derandomize=True, **QUICK)
settings.register_profile("explore", max_examples=2000, **QUICK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REGISTRY_ERRORS = (UnknownNameError, DuplicateNameError, ValueError)


def _spellings():
    entries = get_registry().entries()
    return sorted({spelling for entry in entries for spelling in (entry.name, *entry.aliases, entry.class_name)})


def _parameter_names():
    names = set()
    for entry in get_registry().entries():
        try:
            names.update(inspect.signature(entry.component).parameters)
        except (TypeError, ValueError):
            pass
    return sorted(names - {"self", "args", "kwargs"})


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.integers(-3, 64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | text
    | st.sampled_from(["linear", "cosine", "sigmoid", "epoch", "step", "learned", "relu"])
)
names = st.sampled_from(_spellings()) | text | leaves


def _component_dicts(children):
    """``{"name": ..., **params}``: any name, any parameter names, any values (nested specs among them)."""
    params = st.dictionaries(st.sampled_from(_parameter_names()) | text, children, max_size=4)
    return st.builds(lambda name, more: {"name": name, **more}, names, params)


def _typed_like(default, children):
    """Values of the default's type (a bool for a bool, a small number for a number), or anything at all."""
    if isinstance(default, bool):
        typed = st.booleans()
    elif isinstance(default, int):
        typed = st.integers(-2, 40)
    elif isinstance(default, float):
        typed = st.floats(-2, 10)
    elif isinstance(default, str):
        typed = st.sampled_from(["linear", "cosine", "sigmoid", "epoch", "step", "learned", "relu", default])
    else:
        typed = children
    return typed | children


def _plausible_dicts(children, kind=None):
    """A registered component with its own parameters, mostly of the right types: these reach constructors."""
    choices = []
    for entry in get_registry().entries(kind):
        try:
            parameters = inspect.signature(entry.component).parameters.values()
        except (TypeError, ValueError):
            continue
        named = [p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        required = {p.name: st.integers(-2, 40) | children for p in named if p.default is p.empty}
        optional = {p.name: _typed_like(p.default, children) for p in named if p.default is not p.empty}
        choices.append(st.fixed_dictionaries({"name": st.just(entry.name), **required}, optional=optional))
    return st.one_of(choices)


values = st.recursive(
    leaves | st.sampled_from(_spellings()),
    lambda children: _plausible_dicts(children) | _component_dicts(children) | st.lists(children, max_size=3),
    max_leaves=10,
)
specs = _plausible_dicts(values) | _component_dicts(values) | names


@given(kind=st.sampled_from(KINDS), name=text | st.sampled_from(_spellings()))
def test_resolving_any_string_raises_only_documented_errors(kind, name):
    try:
        resolve(kind, name)
    except REGISTRY_ERRORS:
        pass


@given(data=st.data())
def test_resolving_any_nested_dict_raises_only_documented_errors(data):
    kind = data.draw(st.sampled_from(KINDS))
    # Three in four are the kind's own components with their own parameters; the rest anything at all.
    spec = data.draw(_plausible_dicts(values, kind) if data.draw(st.integers(0, 3)) else specs)
    try:
        component = resolve(kind, spec)
    except REGISTRY_ERRORS as error:
        event(type(error).__name__)
    else:
        event(f"built a {type(component).__name__}")


dasr_parameters = {
    "start": st.floats(-1e30, 1e30),
    "end": st.floats(-1e30, 1e30),
    "delay": st.integers(0, 12),
    "attack": st.integers(0, 12),
    "sustain": st.integers(0, 12),
    "release": st.integers(0, 12),
    "cycles": st.integers(1, 4),
    "shape": st.sampled_from(["linear", "cosine", "sigmoid"]),
    "unit": st.sampled_from(["epoch", "step"]),
}


def dasr_values(start, end, delay, attack, sustain, release, cycles, shape, unit):
    """The schedule and its values for counters 0 to two periods past its duration."""
    schedule = DASRScheduler(start, end, delay, attack, sustain, release, cycles, shape, unit)
    counters = np.arange(schedule.duration + 2 * schedule.period + 3)
    return schedule, ops.convert_to_numpy(schedule.calc(counters))


@given(**dasr_parameters)
def test_dasr_repeats_with_period_p_and_then_holds_its_final_value(
    start, end, delay, attack, sustain, release, cycles, shape, unit
):
    schedule, values = dasr_values(start, end, delay, attack, sustain, release, cycles, shape, unit)
    period, duration = schedule.period, schedule.duration
    assert period == delay + attack + sustain + release and duration == period * cycles
    assert values.dtype == np.float32 and np.all(np.isfinite(values))
    np.testing.assert_array_equal(values[: duration - period], values[period:duration])
    np.testing.assert_array_equal(values[duration:], np.float32(end if release == 0 else start))


@given(**dasr_parameters)
def test_dasr_values_stay_between_start_and_end(start, end, delay, attack, sustain, release, cycles, shape, unit):
    _, values = dasr_values(start, end, delay, attack, sustain, release, cycles, shape, unit)
    low, high = sorted((np.float32(start), np.float32(end)))
    assert np.all(values >= low) and np.all(values <= high), (values.min(), values.max(), low, high)


MAX_COUNT = 2**31 - 1


@given(
    counts=st.lists(st.integers(0, 2**33), min_size=4, max_size=4),
    cycles=st.integers(1, 2**33),
)
def test_dasr_counts_up_to_the_limit_are_accepted_and_larger_ones_refused_naming_it(counts, cycles):
    duration = sum(counts) * cycles
    try:
        schedule = DASRScheduler(0.0, 1.0, *counts, cycles=cycles)
    except ValueError as error:
        assert duration > MAX_COUNT or max(*counts, cycles) > MAX_COUNT
        assert "at most 2147483647 (2**31 - 1)" in str(error), str(error)
        event("refused")
    else:
        assert schedule.duration == duration <= MAX_COUNT
        event("accepted")


@given(
    start=st.floats(-1e30, 1e30),
    end=st.floats(-1e30, 1e30),
    delay=st.integers(0, 2**20),
    attack=st.integers(1, 2**30),
    sustain=st.integers(0, 2**20),
    release=st.integers(0, 2**30 - 2**21),
    shape=st.sampled_from(["linear", "cosine", "sigmoid"]),
    counters=st.lists(st.integers(0, 2**40), min_size=1, max_size=8),
)
def test_dasr_ramps_of_any_length_are_within_2_to_the_minus_22_of_the_formula(
    start, end, delay, attack, sustain, release, shape, counters
):
    phases = (delay, attack, sustain, release, 1, shape)
    schedule = DASRScheduler(start, end, *phases)
    # Counters that fall in the ramps, as well as anywhere at all.
    counters = counters + [delay + attack // 3, delay + attack - 1, delay + attack + sustain + release // 2]
    values = ops.convert_to_numpy(schedule.calc(np.array(counters)))
    want = np.array([reference(n, start, end, *phases) for n in counters], dtype="float32")
    np.testing.assert_allclose(values, want, rtol=0, atol=2**-22 * max(abs(start), abs(end)))
    low, high = sorted((np.float32(start), np.float32(end)))
    assert np.all(values >= low) and np.all(values <= high)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("configs")


def loads_or_rejects(path):
    """``load_config(path)``: a ``Config``, or a ``ConfigError`` with one line naming the file."""
    try:
        config = load_config(path)
    except ConfigError as error:
        message = str(error)
        assert message and "\n" not in message, message
        assert str(path) in message, message
        event("rejected")
        return None
    event("loaded")
    return config


@given(content=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_text_is_a_config_or_one_clear_line(folder, content):
    path = folder / "text.toml"
    path.write_text(content, encoding="utf-8")
    loads_or_rejects(path)


@given(content=st.binary(max_size=300))
def test_any_bytes_are_a_config_or_one_clear_line(folder, content):
    path = folder / "bytes.toml"
    path.write_bytes(content)
    loads_or_rejects(path)


def _examples():
    from tfae.cli import example_configs

    return {name: path.read_text(encoding="utf-8") for name, path in example_configs().items()}


EXAMPLES = _examples()
TOML_CHARACTERS = "[]{}=\"'.,#\n 0123456789abx-+"


@given(
    name=st.sampled_from(sorted(EXAMPLES)),
    # Each edit: where (a fraction of the text), how many characters to remove, what to insert there.
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 8), st.text(st.sampled_from(TOML_CHARACTERS), max_size=6)),
        min_size=1,
        max_size=4,
    ),
)
def test_a_damaged_example_config_is_a_config_or_one_clear_line(folder, name, edits):
    content = EXAMPLES[name]
    for where, removed, inserted in edits:
        at = int(where * len(content))
        content = content[:at] + inserted + content[at + removed :]
    path = folder / "damaged.toml"
    path.write_text(content, encoding="utf-8")
    loads_or_rejects(path)


toml_leaves = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | text
    | st.lists(st.integers(-5, 300) | text, max_size=3)
)
section_keys = st.sampled_from(sorted({key for keys in SCHEMA.values() for key in keys} | {"name", "latent_dim"}))
section_keys = section_keys | text


def toml_tables(depth):
    if depth == 0:
        return st.dictionaries(section_keys, toml_leaves, max_size=4)
    return st.dictionaries(section_keys, toml_leaves | toml_tables(depth - 1), max_size=4)


@given(document=st.dictionaries(st.sampled_from(sorted(SCHEMA)) | text, toml_tables(2) | toml_leaves, max_size=4))
def test_any_toml_document_is_a_config_or_one_clear_line(folder, document):
    path = folder / "document.toml"
    try:
        content = tomli_w.dumps(document)
    except TypeError:  # a value TOML has no syntax for
        return
    path.write_text(content, encoding="utf-8")
    loads_or_rejects(path)


@given(bottleneck=specs, loss=specs)
def test_building_any_checked_config_raises_only_config_errors(bottleneck, loss):
    values = {"model": {"bottleneck": bottleneck}, "training": {"loss": loss}}
    try:
        config = Config(values, filename="generated.toml")
    except ConfigError:
        return
    for kind, path in (("bottleneck", ("model", "bottleneck")), ("likelihood", ("training", "loss"))):
        if kind == "likelihood" and isinstance(config.values["training"]["loss"], str):
            continue
        try:
            config.build(kind, path)
        except ConfigError as error:
            assert "\n" not in str(error) and str(error).startswith("generated.toml"), str(error)
