"""The training config: typed dataclasses that a Python user builds, and the TOML file that ``tfae train`` reads.

A ``TrainConfig`` holds a ``DataConfig``, a ``ModelConfig``, a ``TrainingConfig`` and an ``OutputConfig``, each
with the defaults of a file that says nothing (a Gaussian VAE on the built-in digits). ``load_config(path)``
reads a TOML file into one, and ``tfae.training.train(config)`` trains it:

```python
from tfae.training import DataConfig, ModelConfig, TrainConfig, TrainingConfig

config = TrainConfig(
    model=ModelConfig(hidden=[32], bottleneck={"name": "gaussian", "latent_dim": 2}),
    training=TrainingConfig(epochs=1),
)
```

Every value is checked as the file's is, with the same messages; a mistake in a file is reported on one line
that names the file, the line and the key:
``vae.toml line 7: unknown key 'epoch' in [training]; did you mean 'epochs'?``.
The components (dataset, bottleneck, regularizer, beta scheduler, likelihood) are found by name through the plugin
registry, so any installed plugin's name works, with the parameters its constructor takes; the registry checks
and builds them (nested ones too), and this module maps its ``ParameterError`` to the file and line of the key
at fault: ``vae.toml line 8: The bottleneck 'gaussian' (GaussianBottleneck from tfae 0.1.0) has no
parameter 'latnt_dim'. Did you mean 'latent_dim'? It takes: latent_dim, ...``.

Before anything else, the shape of the document is checked: tables and lists nest at most ``MAX_CONFIG_DEPTH``
deep, a list holds at most ``MAX_CONFIG_LIST_LENGTH`` items, and every ``seed``, at any depth, is one that
Keras takes (``tfae.random.MAX_SEED``). A config that passes needs no more of Python's stack than any other.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from tfae.distribute import STRATEGIES
from tfae.errors import ConfigError, ParameterError, TfaeError, UnknownNameError, UsageError
from tfae.layout_names import DEFAULT_HIDDEN, LAYOUTS
from tfae.parameters import constructor_parameters
from tfae.random import SEED_RANGE, is_seed, shown_number

COLORS = ("grayscale", "rgb")
DEFAULT_BOTTLENECK = {"name": "gaussian", "latent_dim": 2, "regularizer": {"name": "kld"}}
DEFAULT_RUN_NAME = "vae"
# The [data] keys that say how to read a file or a folder; a registered dataset takes its own parameters.
FILE_KEYS = ("key", "labels", "image_size", "color")
# The keys that hold paths, where ``${NAME}`` is the environment variable NAME.
PATH_KEYS = (("data", "source"), ("output", "dir"))
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Keys every Keras layer takes; a bottleneck's resolved config leaves them out at their defaults.
LAYER_DEFAULTS = {"trainable": True, "autocast": True, "activity_regularizer": None, "dtype": "float32"}
# How deep tables and lists may nest, the document itself counting as the first level: a config needs 6 (a
# regularizer's beta schedule is [model.bottleneck.regularizer[0].beta]); each level costs Python's stack
# frames in the reader, in copies and in the components, and 2000 levels exhaust it.
MAX_CONFIG_DEPTH = 32
# How many items a list may hold: the longest a config needs are a few hidden layers or regularizers; a
# network of thousands of layers exhausts Python's stack when Keras builds it.
MAX_CONFIG_LIST_LENGTH = 256
NESTED_TOO_DEEP = (
    f"tables and lists nested more than {MAX_CONFIG_DEPTH} deep, the most tfae reads "
    "(tfae.training.config.MAX_CONFIG_DEPTH; a config needs 6), so the file is damaged or made to exhaust the stack"
)


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _size_list(value):
    return isinstance(value, list) and all(_positive_int(item) for item in value)


def _string(value):
    return isinstance(value, str)


def _bool(value):
    return isinstance(value, bool)


def _image_size(value):
    return isinstance(value, list) and len(value) in (0, 2) and all(_positive_int(item) for item in value)


def _fraction(value):
    return _number(value) and 0 <= value < 1


def _spec(value):
    return isinstance(value, (str, Mapping))


def _one_of(choices):
    return lambda value: value in choices, f"one of {', '.join(map(repr, choices))}"


def _key(default: Any, check: Callable[[Any], bool], wanted: str) -> Any:
    """A config key: a dataclass field with its default, the check of a value, and the words for what it wants.
    ``None`` as a default means "worked out" when the config is checked."""
    metadata = {"check": check, "wanted": wanted}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class DataConfig:
    """The ``[data]`` table: what to train on.

    Args:
        source: a registered dataset's name (``"digits"``, ``"dsprites"``, ...), a .npy/.npz file or a folder
            of images, or a dict of a dataset's name and parameters (``{"name": "dsprites", "n": 2000}``).
        key: the array's name in a .npz file.
        labels: the labels' array name in a .npz file.
        image_size: ``[height, width]`` that a folder's images are resized to; ``[]`` keeps their size.
        color: ``"grayscale"`` or ``"rgb"``, for a folder of images.
    """

    source: str | dict[str, Any] = _key(
        "digits",
        _spec,
        'a registered dataset\'s name ("digits", "dsprites", ...), a .npy/.npz file or a folder, or a table '
        "with a dataset's name and parameters",
    )
    key: str = _key("", _string, "a string: the array's name in a .npz file")
    labels: str = _key("", _string, "a string: the labels' array name in a .npz file")
    image_size: list[int] = _key([], _image_size, "a list of two positive integers, [height, width]")
    color: str = _key("grayscale", *_one_of(COLORS))


@dataclasses.dataclass
class ModelConfig:
    """The ``[model]`` table: the autoencoder that ``tfae.models.LayoutAutoencoder`` assembles.

    Args:
        layout: ``"dense"`` or ``"conv"``.
        hidden: the hidden sizes from the input inwards; ``None``: ``[64, 32]`` (dense) or ``[32, 64]`` (conv).
        activation: the hidden layers' Keras activation.
        kernel_size: the convolutions' kernel size (conv layout).
        bottleneck: a registered bottleneck's name, or a dict of its name and parameters, nested components
            (its regularizer, their beta scheduler) included.
    """

    layout: str = _key("dense", *_one_of(LAYOUTS))
    hidden: list[int] | None = _key(None, _size_list, "a list of positive integers")
    activation: str = _key("relu", _string, "a string naming a Keras activation")
    kernel_size: int = _key(3, _positive_int, "a positive integer")
    bottleneck: str | dict[str, Any] = _key(
        DEFAULT_BOTTLENECK, _spec, "a table with a name, or a registered bottleneck name"
    )


@dataclasses.dataclass
class TrainingConfig:
    """The ``[training]`` table: how the model is trained.

    Args:
        loss: a likelihood's name (``"bernoulli"``, ``"gaussian"``), a Keras loss's name, or a dict of a
            likelihood's name and parameters.
        objective: an objective's name (``"elbo"``, ``"iwae"``), or a dict such as
            ``{"name": "iwae", "importance_samples": 5}``.
        optimizer: a Keras optimizer's name.
        learning_rate: the optimizer's learning rate.
        epochs: how many epochs to train.
        batch_size: samples per batch.
        seed: the random seed of the split, the batches' order and the weights.
        validation_split: the share of the samples held out for validation, from 0 up to (not including) 1.
        strategy: where to train: one of ``tfae.distribute.STRATEGIES``.
    """

    loss: str | dict[str, Any] = _key(
        "bernoulli", _spec, "a likelihood name, a Keras loss name, or a table with a name"
    )
    objective: str | dict[str, Any] = _key(
        "elbo", _spec, 'an objective\'s name ("elbo", "iwae"), or a table such as {name = "iwae", k = 5}'
    )
    optimizer: str = _key("adam", _string, "a string naming a Keras optimizer")
    learning_rate: float = _key(0.003, lambda value: _number(value) and value > 0, "a positive number")
    epochs: int = _key(40, _positive_int, "a positive integer")
    batch_size: int = _key(64, _positive_int, "a positive integer")
    seed: int = _key(0, is_seed, SEED_RANGE)
    validation_split: float = _key(0.1, _fraction, "a number from 0 up to (not including) 1")
    strategy: str = _key("default", *_one_of(STRATEGIES))


@dataclasses.dataclass
class OutputConfig:
    """The ``[output]`` table: where the run folder goes.

    Args:
        dir: the folder that holds run folders.
        name: the run folder's name; ``None``: the config file's name without ``.toml``, or ``"vae"``.
        tensorboard: whether to write TensorBoard logs (needs the tensorboard package).
    """

    dir: str = _key("runs", _string, "a string: the folder that holds run folders")
    name: str | None = _key(None, _string, "a string: the run folder's name")
    tensorboard: bool = _key(False, _bool, "true or false")


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "output": OutputConfig,
}


def _default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


# For each section: key -> (default, check, what the check wants), read from the dataclasses' fields.
SCHEMA: dict[str, dict[str, tuple[Any, Callable[[Any], bool], str]]] = {
    section: {
        field.name: (_default(field), field.metadata["check"], field.metadata["wanted"])
        for field in dataclasses.fields(cls)
    }
    for section, cls in SECTIONS.items()
}


def shape_problem(values):
    """The first place where ``values`` (a parsed config, or a component's table) nests deeper than
    ``MAX_CONFIG_DEPTH``, holds a list longer than ``MAX_CONFIG_LIST_LENGTH``, or has a ``seed`` that Keras'
    seeds cannot take; walked without recursion.

    Returns:
        ``(path, message)``, with ``path`` the tuple of keys (and list positions) where it is, or ``None``.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(values, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping):
            items = list(value.items())
        elif isinstance(value, list):
            if len(value) > MAX_CONFIG_LIST_LENGTH:
                return path, (
                    f"{_table_name(path)} is a list of {len(value):,} items, more than the {MAX_CONFIG_LIST_LENGTH} "
                    "a list in a config may hold (tfae.training.config.MAX_CONFIG_LIST_LENGTH); a network of "
                    "thousands of layers exhausts Python's stack when Keras builds it: give fewer, wider layers"
                )
            items = list(enumerate(value))
        else:
            continue
        if len(path) >= MAX_CONFIG_DEPTH:
            return path, f"{_table_name(path[:4])[:-1]}...] and below: {NESTED_TOO_DEEP}"
        for key, item in items:
            if key == "seed" and isinstance(item, int) and not is_seed(item):
                table = f"{_table_name(path)} " if path else ""
                return path + (key,), f"{table}seed must be {SEED_RANGE}; got {shown_number(item)}"
            stack.append((item, path + (key,)))
    return None


def check_shape(values, where):
    """Raises ``ConfigError`` naming ``where`` (what the values are, for the message) if ``shape_problem``
    finds one."""
    problem = shape_problem(values)
    if problem is not None:
        raise ConfigError(f"{where}: {problem[1]}")


def closest(word, candidates):
    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def _table_name(path):
    """``[model.bottleneck]``; an item of a list (an int in ``path``) as ``[model.bottleneck.regularizer[1]]``."""
    if not path:
        return "the top level"
    name = ""
    for key in path:
        name += f"[{key}]" if isinstance(key, int) else (f".{key}" if name else key)
    return f"[{name}]"


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


def _split_dotted(text):
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return tuple(part.strip("\"'") for part in parts)


def key_lines(text):
    """Maps each key path in the TOML ``text`` (a tuple such as ``("model", "bottleneck", "latent_dim")``)
    to the line it is written on, for error messages; tables map to their header's line."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        path = table + _split_dotted(key.group(1))
        for depth in range(len(table) + 1, len(path) + 1):
            lines.setdefault(path[:depth], number)
        rest = line[key.end() :]
        if "{" in rest:
            for inner in _INLINE_KEY.finditer(rest):
                lines.setdefault(path + (inner.group(1).strip("\"'"),), number)
    return lines


@dataclasses.dataclass(frozen=True)
class ConfigSource:
    """Where a config came from, for messages: its file, and the line of each key (``key_lines``)."""

    filename: str | Path | None = None
    lines: Mapping[tuple[Any, ...], int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainConfig:
    """A training config: what ``tfae train`` reads from a TOML file, and ``tfae.training.train`` trains.

    Build one in Python, or read a file with ``load_config``; ``dataclasses.replace`` makes a changed copy.
    ``train`` checks it as a file is checked, with the same messages (without a file and line).

    Args:
        data: the ``[data]`` table, a ``DataConfig``.
        model: the ``[model]`` table, a ``ModelConfig``.
        training: the ``[training]`` table, a ``TrainingConfig``.
        output: the ``[output]`` table, an ``OutputConfig``.
        source: the file it was read from and the line of each key, which messages name; ``None`` for a
            config made in Python.

    Example:

    ```python
    from tfae.training import ModelConfig, TrainConfig, TrainingConfig

    config = TrainConfig(model=ModelConfig(hidden=[32]), training=TrainingConfig(epochs=1))
    config.values["training"]["epochs"]  # 1: the config as the nested dict a TOML file reads to
    ```
    """

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)
    source: ConfigSource | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def from_values(cls, values, filename=None, text="", components=True, lines=None) -> TrainConfig:
        """Checks ``values`` (a parsed TOML document: a dict of tables) and returns the config they describe,
        with the defaults filled in.

        Args:
            values: the parsed TOML, a nested dict.
            filename: the file it came from, for messages (``None`` for none).
            text: the file's text, to find the line of each key.
            components: whether to check the components' names and parameters too (and the loss and the
                optimizer), which loads the plugins and, with them, Keras. Without, only what the values
                themselves say is checked: their sections, keys and values, and the environment variables
                their paths name; ``check_components()`` checks the rest.
            lines: the line of each key, in place of ``text``'s.

        Raises:
            ConfigError: an unknown section or key, or a wrong value; after the file and the line.
        """
        source = ConfigSource(filename, key_lines(text) if lines is None else lines)
        problem = shape_problem(values)
        if problem is not None:
            raise _error(source, *problem)
        config = _checked(values, source)
        if components:
            config.check_components()
        return config

    def checked(self, components=True) -> TrainConfig:
        """This config checked as a file is (the same messages), its worked-out defaults filled in: what
        ``train`` does first with a config made in Python.

        Raises:
            ConfigError: a wrong value, or (with ``components``) a component's name or parameter.
        """
        source = self.source or ConfigSource()
        return TrainConfig.from_values(self.values, source.filename, components=components, lines=source.lines)

    @property
    def values(self) -> dict[str, dict[str, Any]]:
        """The config as a nested dict, a copy: ``{"data": {...}, "model": {...}, ...}``, as TOML reads."""
        return {section: dataclasses.asdict(getattr(self, section)) for section in SECTIONS}

    @property
    def filename(self):
        """The file the config was read from, or ``None``."""
        return None if self.source is None else self.source.filename

    def line_of(self, path):
        """The line that writes ``path`` (a tuple of keys), or of its nearest enclosing table; else ``None``."""
        return _line_of(self.source, path)

    def error(self, path, message):
        """A ``ConfigError`` whose message starts with the file and the line of ``path``."""
        return _error(self.source, path, message)

    def spec(self, path):
        """The value at ``path``, a tuple of keys and list positions: ``("model", "bottleneck")``."""
        value: Any = self.values
        for key in path:
            value = value[key]
        return value

    def check_components(self):
        """Checks each component's name and parameters against the registry, and the loss and the optimizer.

        Raises:
            ConfigError: a name that no installed plugin registers, a parameter its component does not take,
                or an unknown loss or optimizer; after the file and the line.
        """
        self._check_source()
        self._check_component("bottleneck", self.model.bottleneck, ("model", "bottleneck"))
        loss = self.training.loss
        if isinstance(loss, Mapping):
            self._check_component("likelihood", loss, ("training", "loss"))
        else:
            self._check_loss_name(loss)
        self._check_component("objective", self.training.objective, ("training", "objective"))
        self._check_optimizer(self.training.optimizer)

    def build(self, kind, path):
        """Builds the component the config holds at ``path`` (nested components first), through the registry.

        A constructor's complaint (``latent_dim`` must be positive, say) comes back with the file and line of
        the key at fault, however deep it is nested.
        """
        from tfae.plugins import resolve
        from tfae.registry import spec_path

        path = tuple(path)
        try:
            return resolve(kind, self.spec(path))
        except ParameterError as error:
            raise self._parameter_error(path + spec_path(error), error) from None
        except (ValueError, TypeError) as error:
            where = path + spec_path(error)
            params = self.spec(where)
            named = re.search(r"Received: (\w+)=", str(error))
            at = (
                where + (named.group(1),)
                if named and isinstance(params, Mapping) and named.group(1) in params
                else where
            )
            raise self.error(at, f"{_table_name(where)}: {error}") from None

    def to_toml(self, resolved_components: Mapping[tuple[str, str], Any] | None = None) -> str:
        """The config as TOML text, with every default written out.

        Args:
            resolved_components: the built components' full parameters, to write in place of the config's
                specs, as ``{("model", "bottleneck"): spec, ...}``.

        Returns:
            TOML text that ``tomllib`` reads back to the same values, less those that are ``None`` (TOML has
            no null).
        """
        values = self.values
        for path, spec in (resolved_components or {}).items():
            values[path[0]][path[1]] = spec
        return tomli_w.dumps(_without_none(values))

    def _check_component(self, kind, spec, path):
        """Checks a component's name and parameters against the registry, and its nested ones in turn."""
        from tfae.parameters import check_parameters
        from tfae.plugins import get_registry
        from tfae.registry import nested_specs

        registry = get_registry()
        name = spec if isinstance(spec, str) else spec.get("name")
        if name is None:
            raise self.error(
                path,
                f"{_table_name(path)} needs a 'name': a registered {kind} such as "
                f"{', '.join(map(repr, registry.names(kind)[:3]))} (`tfae plugins` lists them all)",
            )
        if not isinstance(name, str):
            raise self.error(path + ("name",), f"{_table_name(path)} name must be a string; got {_show(name)}")
        try:
            entry = registry.get(kind, name)
        except TfaeError as error:
            raise self.error(path + ("name",) if isinstance(spec, Mapping) else path, str(error)) from None
        params = {} if isinstance(spec, str) else {key: value for key, value in spec.items() if key != "name"}
        try:
            check_parameters(entry, params)
        except ParameterError as error:
            raise self._parameter_error(path, error) from None
        for where, nested_kind, nested in nested_specs(kind, params):
            if not isinstance(nested, (str, Mapping)):
                raise self.error(
                    path + where[:1],
                    f"{_table_name(path + where)} must be a {nested_kind}'s name or a table "
                    f'such as {{name = "kld", beta = 2}}; got {_show(nested)}',
                )
            self._check_component(nested_kind, nested, path + where)

    def _check_source(self):
        """Checks a registered dataset's name and parameters; a path is checked when the data is loaded.

        The keys that say how to read a file or a folder (``key``, ``labels``, ``image_size``, ``color``) are
        refused beside a dataset, which takes its parameters in its own table."""
        from tfae.plugins import get_registry
        from tfae.training.data import is_path

        source = self.data.source
        if isinstance(source, str) and is_path(source):
            return
        self._check_component("dataset", source, ("data", "source"))
        data = self.values["data"]
        for key in FILE_KEYS:
            # The run's config.toml writes them out at their defaults.
            if data[key] != SCHEMA["data"][key][0]:
                name = source if isinstance(source, str) else source["name"]
                entry = get_registry().get("dataset", name)
                takes = ", ".join(constructor_parameters(entry.component).own) or "no parameters"
                raise self.error(
                    ("data", key),
                    f"[data] {key} is for a file or a folder of images, not for the dataset {name!r}, which takes "
                    f"its parameters in a [data.source] table with its name ({takes})",
                )

    def _parameter_error(self, path, error):
        """``error``'s own message after the file and the line of the key at fault (of the table, for a
        missing key), so that it reads as it does in Python."""
        where = path + (error.parameter,) if error.parameter is not None else path
        return self.error(where, str(error))

    def _check_loss_name(self, name):
        from tfae.models.autoencoder import loss_from_name

        try:
            loss_from_name(name)
        except UnknownNameError as error:
            raise self.error(("training", "loss"), str(error)) from None

    def _check_optimizer(self, name):
        import keras

        try:
            keras.optimizers.get(name)
        except ValueError:
            known = sorted(
                attribute.lower()
                for attribute in dir(keras.optimizers)
                if attribute[:1].isupper() and attribute not in ("Optimizer", "LossScaleOptimizer", "OptimizerMap")
            )
            close = closest(name.lower(), known)
            hint = f"did you mean '{close}'?" if close else f"Keras' optimizers are: {', '.join(known)}"
            raise self.error(("training", "optimizer"), f"unknown optimizer '{name}'; {hint}") from None


# The reader's name before the config was typed, kept for code that calls Config(values, filename, text).
Config = TrainConfig.from_values


def _line_of(source, path):
    if source is None:
        return None
    path = tuple(path)
    while path:
        if path in source.lines:
            return source.lines[path]
        path = path[:-1]
    return None


def _error(source, path, message):
    """A ``ConfigError`` whose message starts with the file and the line of ``path``, when ``source`` names one."""
    where = []
    if source is not None and source.filename is not None:
        where.append(str(source.filename))
        line = _line_of(source, path)
        if line is not None:
            where.append(f"line {line}")
    prefix = " ".join(where)
    return ConfigError(f"{prefix}: {message}" if prefix else message)


def _unknown_key(source, path, key, known):
    message = f"unknown key '{key}' in {_table_name(path)}"
    close = closest(key, known)
    if close:
        message += f"; did you mean '{close}'?"
    else:
        message += f"; the keys it takes are: {', '.join(sorted(known)) or '(none)'}"
    return _error(source, path + (key,), message)


def _checked(values, source):
    """The ``TrainConfig`` that ``values`` describe, each section, key and value checked."""
    for section, content in values.items():
        if section not in SCHEMA:
            close = closest(section, SCHEMA)
            hint = f"; did you mean [{close}]?" if close else f"; the sections are: {', '.join(SCHEMA)}"
            raise _error(source, (section,), f"unknown section [{section}]{hint}")
        if not isinstance(content, Mapping):
            raise _error(source, (section,), f"'{section}' must be a table, written [{section}]")
    checked: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        given = dict(values.get(section, {}))
        for key in given:
            if key not in keys:
                raise _unknown_key(source, (section,), key, keys)
        checked[section] = {}
        for key, (default, check, wanted) in keys.items():
            if key not in given or (given[key] is None and default is None):
                checked[section][key] = copy.deepcopy(default)
                continue
            value = given[key]
            if not check(value):
                raise _error(source, (section, key), f"[{section}] {key} must be {wanted}; got {_show(value)}")
            checked[section][key] = copy.deepcopy(value)
    model, output = checked["model"], checked["output"]
    if model["hidden"] is None:
        model["hidden"] = list(DEFAULT_HIDDEN[model["layout"]])
    if model["layout"] == "conv" and not model["hidden"]:
        raise _error(source, ("model", "hidden"), "[model] hidden needs at least one entry for the conv layout")
    if output["name"] is None:
        output["name"] = Path(source.filename).stem if source.filename is not None else DEFAULT_RUN_NAME
    if not output["name"] or Path(output["name"]).name != output["name"]:
        raise _error(source, ("output", "name"), "[output] name must be a folder name, without '/'")
    for section, key in PATH_KEYS:
        if isinstance(checked[section][key], str):
            checked[section][key] = _expanded(source, section, key, checked[section][key])
    if output["tensorboard"] and not tensorboard_installed():
        raise _error(
            source,
            ("output", "tensorboard"),
            "[output] tensorboard = true needs the tensorboard package, which is not installed: "
            "pip install tensorboard",
        )
    sections = {section: SECTIONS[section](**checked[section]) for section in SECTIONS}
    return TrainConfig(**sections, source=source)


def _expanded(source, section, key, text):
    """``text`` with each ``${NAME}`` replaced by the environment variable ``NAME``. One that is not set is
    an error, never a folder named after it."""
    if "${" in _VARIABLE.sub("", text):
        raise _error(
            source,
            (section, key),
            f"[{section}] {key} = {json.dumps(text)} has a '${{' that names no environment variable: write "
            "${NAME}, with NAME of letters, digits and underscores",
        )

    def value(match):
        name = match.group(1)
        if name not in os.environ:
            raise _error(
                source,
                (section, key),
                f"[{section}] {key} = {json.dumps(text)} names the environment variable {name}, which is not "
                f"set: set it (export {name}=...), or write the path out",
            )
        return os.environ[name]

    return _VARIABLE.sub(value, text)


def tensorboard_installed():
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def _show(value):
    if isinstance(value, Mapping):
        return "a table"
    return json.dumps(value) if isinstance(value, (str, list, bool)) else repr(value)


def load_config(path=None) -> TrainConfig:
    """Reads and checks the config file at ``path``; ``None`` gives the defaults (the digits VAE).

    Args:
        path: a TOML file, or ``None``.

    Returns:
        A ``TrainConfig``, its defaults filled in, that knows the line of each key for its messages.

    Raises:
        ConfigError: the file is missing or malformed, or a key is unknown or has a wrong value.
    """
    if path is None:
        return TrainConfig.from_values({})
    return read_config(path, components=True)


def read_config(path, components=False):
    """Reads the config file at ``path``; by default checks only what the file itself says, without loading
    Keras: its TOML, sections, keys and values, and the environment variables its paths name.
    ``check_components()`` on the result checks the rest, as ``load_config`` does.

    Raises:
        ConfigError: the file is missing or malformed, or a key is unknown or has a wrong value.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file '{path}' not found")
    if path.is_dir():
        raise ConfigError(f"'{path}' is a folder; give a config file (.toml)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not UTF-8 text (TOML)") from None
    try:
        values = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{path}: {NESTED_TOO_DEEP}") from None
    except ValueError as error:
        if not isinstance(error, tomllib.TOMLDecodeError):
            # Python's own limit on the digits of an integer (4300), met by tomllib.
            raise ConfigError(f"{path}: malformed TOML: {' '.join(str(error).split())}") from None
        message = str(error)
        found = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if found:
            detail = message[: found.start()] + message[found.end() :]
            raise ConfigError(
                f"{path} line {found.group(1)}: malformed TOML: {detail.strip()} (column {found.group(2)})"
            ) from None
        raise ConfigError(f"{path}: malformed TOML: {message}") from None
    return Config(values, filename=path, text=text, components=components)


def resolved_spec(kind, component):
    """The component's full ``{"name": ..., **params}``, without Keras layer keys left at their defaults."""
    from tfae.serialization import component_spec

    return _clean(component_spec(kind, component))


def _clean(spec):
    cleaned = {}
    for key, value in spec.items():
        if isinstance(value, Mapping) and key == "dtype":
            value = value.get("config", {}).get("name", value)
        if key in LAYER_DEFAULTS and value == LAYER_DEFAULTS[key]:
            continue
        cleaned[key] = _clean(value) if isinstance(value, Mapping) else value
    return cleaned


def _without_none(value):
    if isinstance(value, Mapping):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(item) for item in value if item is not None]
    return value


def inline_table(text, what):
    """A table given on the command line, in JSON or TOML, checked as a config's tables are (its depth, its
    lists' lengths, its seeds).

    Raises:
        UsageError: text that is neither, or a table that a config could not hold.
    """
    try:
        try:
            table = json.loads(text)
        except ValueError:
            try:
                table = tomllib.loads(f"table = {text.strip()}")["table"]
            except ValueError as error:  # tomllib.TOMLDecodeError, or an integer of over 4300 digits
                raise UsageError(f"cannot read the {what} {shortened(text)} as JSON or a TOML table: {error}") from None
    except RecursionError:
        raise UsageError(f"the {what} {shortened(text)} holds {NESTED_TOO_DEEP}") from None
    check_shape(table, f"the {what} {shortened(text)}")
    return table


def shortened(text, limit=200):
    """``repr(text)``, cut to about ``limit`` characters: a table given on the command line can be long."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def example_configs():
    """The example configs that ship with tfae (in the package's ``examples`` folder), as ``{name: path}``."""
    from importlib import resources

    folder = resources.files("tfae").joinpath("examples")
    return {
        entry.name[: -len(".toml")]: entry
        for entry in sorted(folder.iterdir(), key=str)
        if entry.name.endswith(".toml")
    }
