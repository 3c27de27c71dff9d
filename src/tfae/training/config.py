"""Reads a training config file (TOML), checks every key, and fills in the defaults.

A mistake is reported on one line that names the file, the line and the key:
``vae.toml line 7: unknown key 'epoch' in [training]; did you mean 'epochs'?``.
The components (dataset, bottleneck, regularizer, beta scheduler, likelihood) are found by name through the plugin
registry, so any installed plugin's name works, with the parameters its constructor takes; their parameters
are checked by ``tfae.parameters.check_parameters``, so a mistake there reads as it does in Python, after the
file and line: ``vae.toml line 8: The bottleneck 'gaussian' (GaussianBottleneck from tfae 0.1.0) has no
parameter 'latnt_dim'. Did you mean 'latent_dim'? It takes: latent_dim, ...``.

Before anything else, the shape of the document is checked: tables and lists nest at most ``MAX_CONFIG_DEPTH``
deep, a list holds at most ``MAX_CONFIG_LIST_LENGTH`` items, and every ``seed``, at any depth, is one that
Keras takes (``tfae.random.MAX_SEED``). A config that passes needs no more of Python's stack than any other.
"""

import copy
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

from tfae.errors import ConfigError, ParameterError, TfaeError, UnknownNameError
from tfae.parameters import NESTED, check_parameters, constructor_parameters
from tfae.random import SEED_RANGE, is_seed, shown_number

LAYOUTS = ("dense", "conv")
COLORS = ("grayscale", "rgb")
DEFAULT_HIDDEN = {"dense": [64, 32], "conv": [32, 64]}
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


def _strategy(value):
    from tfae.distribute import STRATEGIES

    return value in STRATEGIES


def _spec(value):
    return isinstance(value, (str, Mapping))


# For each section: key -> (default, check, what the check wants). ``None`` as a default means "worked out".
SCHEMA: dict[str, dict[str, tuple[Any, Callable[[Any], bool], str]]] = {
    "data": {
        "source": (
            "digits",
            _spec,
            'a registered dataset\'s name ("digits", "dsprites", ...), a .npy/.npz file or a folder, or a table '
            "with a dataset's name and parameters",
        ),
        "key": ("", _string, "a string: the array's name in a .npz file"),
        "labels": ("", _string, "a string: the labels' array name in a .npz file"),
        "image_size": ([], _image_size, "a list of two positive integers, [height, width]"),
        "color": ("grayscale", lambda value: value in COLORS, f"one of {', '.join(map(repr, COLORS))}"),
    },
    "model": {
        "layout": ("dense", lambda value: value in LAYOUTS, f"one of {', '.join(map(repr, LAYOUTS))}"),
        "hidden": (None, _size_list, "a list of positive integers"),
        "activation": ("relu", _string, "a string naming a Keras activation"),
        "kernel_size": (3, _positive_int, "a positive integer"),
        "bottleneck": (DEFAULT_BOTTLENECK, _spec, "a table with a name, or a registered bottleneck name"),
    },
    "training": {
        "loss": ("bernoulli", _spec, "a likelihood name, a Keras loss name, or a table with a name"),
        "objective": (
            "elbo",
            _spec,
            'an objective\'s name ("elbo", "iwae"), or a table such as {name = "iwae", k = 5}',
        ),
        "optimizer": ("adam", _string, "a string naming a Keras optimizer"),
        "learning_rate": (0.003, lambda value: _number(value) and value > 0, "a positive number"),
        "epochs": (40, _positive_int, "a positive integer"),
        "batch_size": (64, _positive_int, "a positive integer"),
        "seed": (0, is_seed, SEED_RANGE),
        "validation_split": (0.1, _fraction, "a number from 0 up to (not including) 1"),
        "strategy": ("default", _strategy, "one of 'default', 'mirrored', 'multi-worker', 'data_parallel'"),
    },
    "output": {
        "dir": ("runs", _string, "a string: the folder that holds run folders"),
        "name": (None, _string, "a string: the run folder's name"),
        "tensorboard": (False, _bool, "true or false"),
    },
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


class Config:
    """A checked training config: ``values`` holds every section with the defaults filled in.

    Args:
        values: the parsed TOML, a nested dict.
        filename: the file it came from, for messages (``None`` for the built-in defaults).
        text: the file's text, to find the line of each key.
        components: whether to check the components' names and parameters too (and the loss and the
            optimizer), which loads the plugins and, with them, Keras. Without, only what the file itself
            says is checked: its sections, keys and values, and the environment variables its paths name.
    """

    def __init__(self, values, filename=None, text="", components=True):
        self.filename = filename
        self.lines = key_lines(text)
        problem = shape_problem(values)
        if problem is not None:
            raise self.error(*problem)
        self.values = self._check(values)
        if components:
            self.check_components()

    def line_of(self, path):
        """The line that writes ``path`` (a tuple of keys), or of its nearest enclosing table; else ``None``."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path, message):
        """A ``ConfigError`` whose message starts with the file and the line of ``path``."""
        where = []
        if self.filename is not None:
            where.append(str(self.filename))
            line = self.line_of(path)
            if line is not None:
                where.append(f"line {line}")
        prefix = " ".join(where)
        return ConfigError(f"{prefix}: {message}" if prefix else message)

    def _unknown_key(self, path, key, known):
        message = f"unknown key '{key}' in {_table_name(path)}"
        close = closest(key, known)
        if close:
            message += f"; did you mean '{close}'?"
        else:
            message += f"; the keys it takes are: {', '.join(sorted(known)) or '(none)'}"
        return self.error(path + (key,), message)

    def _check(self, values):
        for section, content in values.items():
            if section not in SCHEMA:
                close = closest(section, SCHEMA)
                hint = f"; did you mean [{close}]?" if close else f"; the sections are: {', '.join(SCHEMA)}"
                raise self.error((section,), f"unknown section [{section}]{hint}")
            if not isinstance(content, Mapping):
                raise self.error((section,), f"'{section}' must be a table, written [{section}]")
        checked: dict[str, dict[str, Any]] = {}
        for section, keys in SCHEMA.items():
            given = dict(values.get(section, {}))
            for key in given:
                if key not in keys:
                    raise self._unknown_key((section,), key, keys)
            checked[section] = {}
            for key, (default, check, wanted) in keys.items():
                if key not in given:
                    checked[section][key] = copy.deepcopy(default)
                    continue
                value = given[key]
                if not check(value):
                    raise self.error((section, key), f"[{section}] {key} must be {wanted}; got {_show(value)}")
                checked[section][key] = value
        model = checked["model"]
        if model["hidden"] is None:
            model["hidden"] = list(DEFAULT_HIDDEN[model["layout"]])
        if model["layout"] == "conv" and not model["hidden"]:
            raise self.error(("model", "hidden"), "[model] hidden needs at least one entry for the conv layout")
        if checked["output"]["name"] is None:
            checked["output"]["name"] = Path(self.filename).stem if self.filename is not None else DEFAULT_RUN_NAME
        if not checked["output"]["name"] or Path(checked["output"]["name"]).name != checked["output"]["name"]:
            raise self.error(("output", "name"), "[output] name must be a folder name, without '/'")
        for section, key in PATH_KEYS:
            if isinstance(checked[section][key], str):
                checked[section][key] = self._expanded(section, key, checked[section][key])
        if checked["output"]["tensorboard"] and not tensorboard_installed():
            raise self.error(
                ("output", "tensorboard"),
                "[output] tensorboard = true needs the tensorboard package, which is not installed: "
                "pip install tensorboard",
            )
        # What [data] says itself, without the defaults: the components' check needs it.
        self._given_data = dict(values.get("data", {}))
        return checked

    def check_components(self):
        """Checks each component's name and parameters against the registry, and the loss and the optimizer.

        Raises:
            ConfigError: a name that no installed plugin registers, a parameter its component does not take,
                or an unknown loss or optimizer; after the file and the line.
        """
        checked = self.values
        self._check_source(checked["data"], self._given_data)
        self._check_component("bottleneck", checked["model"]["bottleneck"], ("model", "bottleneck"))
        loss = checked["training"]["loss"]
        if isinstance(loss, Mapping):
            self._check_component("likelihood", loss, ("training", "loss"))
        else:
            self._check_loss_name(loss)
        self._check_component("objective", checked["training"]["objective"], ("training", "objective"))
        self._check_optimizer(checked["training"]["optimizer"])

    def _expanded(self, section, key, text):
        """``text`` with each ``${NAME}`` replaced by the environment variable ``NAME``. One that is not set is
        an error, never a folder named after it."""
        if "${" in _VARIABLE.sub("", text):
            raise self.error(
                (section, key),
                f"[{section}] {key} = {json.dumps(text)} has a '${{' that names no environment variable: write "
                "${NAME}, with NAME of letters, digits and underscores",
            )

        def value(match):
            name = match.group(1)
            if name not in os.environ:
                raise self.error(
                    (section, key),
                    f"[{section}] {key} = {json.dumps(text)} names the environment variable {name}, which is not "
                    f"set: set it (export {name}=...), or write the path out",
                )
            return os.environ[name]

        return _VARIABLE.sub(value, text)

    def _check_component(self, kind, spec, path):
        """Checks a component's name and parameters against the registry, recursively."""
        from tfae.plugins import get_registry

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
        if kind in NESTED:
            key, nested_kind = NESTED[kind]
            value = params.get(key)
            if isinstance(value, (str, Mapping)):
                self._check_component(nested_kind, value, path + (key,))
            elif isinstance(value, list) and kind == "bottleneck":
                for index, item in enumerate(value):
                    if not isinstance(item, (str, Mapping)):
                        raise self.error(
                            path + (key,),
                            f"{_table_name(path + (key, index))} must be a {nested_kind}'s name or a table "
                            f'such as {{name = "kld", beta = 2}}; got {_show(item)}',
                        )
                    self._check_component(nested_kind, item, path + (key, index))

    def _check_source(self, data, given):
        """Checks a registered dataset's name and parameters; a path is checked when the data is loaded.

        The keys that say how to read a file or a folder (``key``, ``labels``, ``image_size``, ``color``) are
        refused beside a dataset, which takes its parameters in its own table."""
        from tfae.plugins import get_registry
        from tfae.training.data import is_path

        source = data["source"]
        if isinstance(source, str) and is_path(source):
            return
        self._check_component("dataset", source, ("data", "source"))
        for key in FILE_KEYS:
            # The run's config.toml writes them out at their defaults.
            if key in given and given[key] != SCHEMA["data"][key][0]:
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

    def build(self, kind, path):
        """Builds the component the config holds at ``path`` (nested components first), through the registry.

        A constructor's complaint (``latent_dim`` must be positive, say) comes back with the file and line.
        """
        spec = self.values
        for key in path:
            spec = spec[key]
        return self._build(kind, spec, tuple(path))

    def _build(self, kind, spec, path):
        from tfae.plugins import resolve

        params = {"name": spec} if isinstance(spec, str) else dict(spec)
        nested = NESTED.get(kind)
        if nested is not None and isinstance(params.get(nested[0]), (str, Mapping)):
            key, nested_kind = nested
            params[key] = self._build(nested_kind, params[key], path + (key,))
        elif nested is not None and isinstance(params.get(nested[0]), list) and kind == "bottleneck":
            key, nested_kind = nested
            params[key] = [
                self._build(nested_kind, item, path + (key, index)) for index, item in enumerate(params[key])
            ]
        try:
            return resolve(kind, params)
        except ParameterError as error:
            raise self._parameter_error(path, error) from None
        except (ValueError, TypeError) as error:
            named = re.search(r"Received: (\w+)=", str(error))
            where = path + (named.group(1),) if named and named.group(1) in params else path
            raise self.error(where, f"{_table_name(path)}: {error}") from None

    def _check_loss_name(self, name):
        from tfae.plugins import get_registry

        try:
            get_registry().get("likelihood", name)
            return
        except UnknownNameError as tfae_error:
            import keras

            try:
                keras.losses.get(name)
            except ValueError:
                raise self.error(
                    ("training", "loss"), f"{tfae_error} Keras has no loss named {name!r} either."
                ) from None

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

    def to_toml(self, resolved_components: Mapping[tuple[str, str], Any] | None = None) -> str:
        """The config as TOML text, with every default written out.

        Args:
            resolved_components: the built components' full parameters, to write in place of the config's
                specs, as ``{("model", "bottleneck"): spec, ...}``.

        Returns:
            TOML text that ``tomllib`` reads back to the same values, less those that are ``None`` (TOML has
            no null).
        """
        values = copy.deepcopy(self.values)
        for path, spec in (resolved_components or {}).items():
            values[path[0]][path[1]] = spec
        return tomli_w.dumps(_without_none(values))


def tensorboard_installed():
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def _show(value):
    if isinstance(value, Mapping):
        return "a table"
    return json.dumps(value) if isinstance(value, (str, list, bool)) else repr(value)


def load_config(path=None):
    """Reads and checks the config file at ``path``; ``None`` gives the defaults (the digits VAE).

    Raises:
        ConfigError: the file is missing or malformed, or a key is unknown or has a wrong value.
    """
    if path is None:
        return Config({})
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
