"""Which tfae components a saved model names, who provided each, and what to install when one is missing.

A model's config names its parts: each bottleneck layer by its class, and inside it the regularizer, the
regularizer's beta scheduler and the model's likelihood by their registered names. ``components_record``
lists them with the distribution and version that registered each (``Autoencoder.get_config`` stores the
list under ``"components"``). ``check_components`` runs before Keras reads a file: it looks every name up
in the registry and, for one that nothing provides, raises a ``ModelFileError`` that names the component
and, from the record when the file has one, the distribution the file says provided it:

```text
vae.keras needs the regularizer 'mmd' (in layer 'gaussian_bottleneck'), which no loaded plugin provides;
the file says it came from tfae-infovae 0.1.0 (the file's claim, unchecked), and no distribution of that
name is installed: if you trust the file, install the plugin that provides it (check the distribution's
name and its publisher first: a model file can name any distribution)
```

(on one line). The record is the file's word, so it never becomes a command: a forged record could name
``keras==3.0.0`` or a look-alike of a real plugin. Every name from the file is shown escaped and cut to
``MAX_NAME_LENGTH`` characters (``tfae.models.archive.printable``), and a name longer than that is refused
without being looked up.

A file without the record (saved before tfae recorded it) loads as before; its messages suggest the
closest registered name instead.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import importlib_metadata
import keras

from tfae.errors import DuplicateNameError, ModelFileError, UnknownNameError
from tfae.models.archive import MAX_NAME_LENGTH, printable
from tfae.plugins import get_registry
from tfae.registry import Registry, normalize_name, normalize_source

RECORD_KEY = "components"
# The record comes from the file, and its distribution is named in messages (never in a command) and looked
# up among the installed ones: only a well-formed project name and version (PEP 508, PEP 440 characters) are.
_DISTRIBUTION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9.+!_-]{1,64}")


@dataclasses.dataclass(frozen=True)
class ComponentReference:
    """A component that a saved model's config names.

    Args:
        kind: ``"bottleneck"``, ``"regularizer"``, ``"scheduler"`` or ``"likelihood"``.
        name: the name as the config spells it: a registered name, or a layer's class name when
            ``is_class``.
        is_class: whether ``name`` is the class name of a built bottleneck layer.
        layer: the name of the layer it belongs to; ``None`` for the model's own parts.
        registered_name: a layer's Keras ``registered_name``, which Keras looks the class up by first.
    """

    kind: str
    name: str
    is_class: bool = False
    layer: str | None = None
    registered_name: str | None = None

    def describe(self) -> str:
        """``"the regularizer 'kld'"``, or ``"the bottleneck class 'GaussianBottleneck'"``."""
        return f"the {printable(self.kind)} {'class ' if self.is_class else ''}'{printable(self.name)}'"


@dataclasses.dataclass(frozen=True)
class RecordedComponent:
    """One entry of a file's record: a component and the distribution that provided it when it was saved.

    Args:
        kind: the component's kind.
        name: the name the config uses for it (its registered name, or an alias).
        class_name: its class's name.
        distribution: the distribution that registered it; empty for a plugin registered at run time.
        version: that distribution's version.
        plugin: the plugin (entry-point name) that registered it.
    """

    kind: str
    name: str
    class_name: str = ""
    distribution: str = ""
    version: str = ""
    plugin: str = ""

    def matches(self, reference: ComponentReference) -> bool:
        names = {normalize_name(self.name), normalize_name(self.class_name)}
        return self.kind == reference.kind and normalize_name(reference.name) in names

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "name": self.name,
            "class": self.class_name,
            "distribution": self.distribution,
            "version": self.version,
            "plugin": self.plugin,
        }


def component_references(model_config: Mapping[str, Any]) -> list[ComponentReference]:
    """Every component that a model's config names, each bottleneck before its regularizer and scheduler.

    Args:
        model_config: a tfae model's ``get_config()``: the ``"config"`` of a saved model's ``config.json``.

    Returns:
        The references, in the order the config names them, repeats included.
    """
    found: list[ComponentReference] = []
    _add_spec(found, "likelihood", model_config.get("likelihood"), None)
    # An unbuilt model's config names its bottleneck by a spec; a built one holds the layer.
    _add_spec(found, "bottleneck", model_config.get("bottleneck"), None)
    for layer in _bottleneck_layers(model_config):
        layer_config = layer["config"]
        layer_name = layer_config.get("name") if isinstance(layer_config.get("name"), str) else None
        registered = layer.get("registered_name")
        found.append(
            ComponentReference(
                "bottleneck",
                layer["class_name"],
                is_class=True,
                layer=layer_name,
                registered_name=registered if isinstance(registered, str) else None,
            )
        )
        _add_spec(found, "regularizer", layer_config.get("regularizer"), layer_name)
    return found


def _add_spec(found: list[ComponentReference], kind: str, spec: Any, layer: str | None) -> None:
    """Adds the component that ``spec`` (a name or a ``{"name": ...}`` dict) names, and those nested in it."""
    if kind == "regularizer" and isinstance(spec, list):
        for item in spec:
            _add_spec(found, kind, item, layer)
        return
    name = spec.get("name") if isinstance(spec, Mapping) else spec
    if not isinstance(name, str):
        return
    found.append(ComponentReference(kind, name, layer=layer))
    if not isinstance(spec, Mapping):
        return
    if kind == "bottleneck":
        _add_spec(found, "regularizer", spec.get("regularizer"), layer)
    elif kind == "regularizer" and isinstance(spec.get("beta"), (str, Mapping)):
        _add_spec(found, "scheduler", spec["beta"], layer)


def _bottleneck_layers(model_config: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The serialized layers, at any depth, whose config has a bottleneck's ``latent_dim`` and ``regularizer``
    (``BaseBottleneck.get_config`` writes both), in the order the config holds them."""
    stack: list[Any] = [value for key, value in reversed(list(model_config.items())) if key != RECORD_KEY]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            inner = value.get("config")
            if (
                isinstance(value.get("class_name"), str)
                and isinstance(inner, dict)
                and "latent_dim" in inner
                and "regularizer" in inner
                and not str(value.get("module", "")).startswith("keras")
            ):
                yield value
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))


def components_record(model_config: Mapping[str, Any]) -> list[dict[str, str]]:
    """The record a saved model keeps of its components: who provided each, for the messages on loading.

    Args:
        model_config: the model's ``get_config()`` without the record.

    Returns:
        One dict per distinct component: ``kind``, ``name`` (as the config spells it), ``class``,
        ``distribution``, ``version`` and ``plugin``. A component the registry cannot name (a class that
        was never registered) is left out: saving never fails for the record's sake.
    """
    registry = get_registry()
    record: list[dict[str, str]] = []
    for reference in component_references(model_config):
        try:
            entry = registry.get(reference.kind, reference.name)
        except (UnknownNameError, DuplicateNameError, ValueError):
            continue
        recorded = RecordedComponent(
            reference.kind,
            entry.name if reference.is_class else reference.name,
            entry.class_name,
            entry.distribution,
            entry.version,
            entry.plugin,
        ).as_dict()
        if recorded not in record:
            record.append(recorded)
    return record


def _read_record(model_config: Mapping[str, Any]) -> list[RecordedComponent]:
    """The well-formed entries of a saved config's record; none for a file saved without one.

    The record comes from the file: an entry whose fields are not strings is dropped, and a distribution
    or version that is no valid project name or version is blanked, so that a message never repeats it.
    """
    entries = model_config.get(RECORD_KEY)
    recorded: list[RecordedComponent] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        fields = {key: entry.get(key, "") for key in ("kind", "name", "class", "distribution", "version", "plugin")}
        if not all(isinstance(value, str) for value in fields.values()) or not fields["kind"] or not fields["name"]:
            continue
        distribution = fields["distribution"] if _DISTRIBUTION.fullmatch(fields["distribution"]) else ""
        version = fields["version"] if distribution and _VERSION.fullmatch(fields["version"]) else ""
        recorded.append(
            RecordedComponent(
                fields["kind"], fields["name"], fields["class"], distribution, version, fields["plugin"][:100]
            )
        )
    return recorded


def check_components(path: Path, saved: Mapping[str, Any], objects: Mapping[str, Any]) -> None:
    """Refuses a saved model that names a component no loaded plugin provides, before Keras reads it.

    Args:
        path: the file, for the message.
        saved: its ``config.json``.
        objects: the classes that Keras will be given (the registry's and ``custom_objects``).

    Raises:
        ModelFileError: a bottleneck class, regularizer, scheduler or likelihood that nothing provides
            (the message says which, under which name, and what to install), or a name that two plugins
            claim.
    """
    model_config = saved.get("config")
    if not isinstance(model_config, dict):
        return
    registry = get_registry()
    record = _read_record(model_config)
    for reference in component_references(model_config):
        where = f" (in layer '{printable(reference.layer)}')" if reference.layer else ""
        if len(reference.name) > MAX_NAME_LENGTH:
            raise ModelFileError(
                f"{path} names {reference.describe()}{where}, longer than the {MAX_NAME_LENGTH} characters of a "
                "name that tfae looks up (tfae.models.archive.MAX_NAME_LENGTH), so the file is damaged or made to "
                "flood the messages; it was not read further"
            )
        if reference.is_class:
            if _class_found(reference, objects):
                continue
        else:
            try:
                registry.get(reference.kind, reference.name)
                continue
            except DuplicateNameError as error:
                raise ModelFileError(f"{path} names {reference.describe()}{where}, and: {_line(error)}") from None
            except UnknownNameError:
                pass
        recorded = next((entry for entry in record if entry.matches(reference)), None)
        raise ModelFileError(_missing_message(path, reference, where, recorded, registry))


def _class_found(reference: ComponentReference, objects: Mapping[str, Any]) -> bool:
    names = [name for name in (reference.registered_name, reference.name) if name]
    return any(name in objects or keras.saving.get_registered_object(name) is not None for name in names)


def _missing_message(
    path: Path, reference: ComponentReference, where: str, recorded: RecordedComponent | None, registry: Registry
) -> str:
    needs = f"{path} needs {reference.describe()}"
    if recorded is not None and recorded.distribution:
        claim = printable(f"{recorded.distribution} {recorded.version}".strip())
        return (
            f"{needs}{where}, which no loaded plugin provides; the file says it came from {claim} (the file's "
            f"claim, unchecked), and {_distribution_state(reference, recorded, registry)}"
        )
    if recorded is not None and recorded.plugin:
        return (
            f"{needs}{where}, which the plugin '{printable(recorded.plugin)}' registered at run time when the model "
            "was saved (the file's claim); register that plugin (tfae.plugins.register_plugin) before loading"
        )
    try:
        registry.get(reference.kind, reference.name)
        advice = ""
    except (UnknownNameError, DuplicateNameError) as error:
        # The registry's message: the closest name, what is available, and the plugins that did not load.
        advice = " " + _line(error).removeprefix(f"Unknown {reference.kind} {reference.name!r}. ")
    own_class = " If it is a class of your own, import it before loading, or pass it in custom_objects."
    return f"{needs}{where}, which no loaded plugin provides.{advice}{own_class if reference.is_class else ''}"


def _distribution_state(reference: ComponentReference, recorded: RecordedComponent, registry: Registry) -> str:
    """What is installed here under the distribution name the file claims, and what to do: never a command
    made of the file's words, which could name any distribution or pin any version."""
    distribution = recorded.distribution
    key = normalize_source(distribution)
    for failure in registry.failures:
        if normalize_source(failure.distribution) == key:
            return (
                f"{failure.distribution} {failure.version}, installed here, failed to load ({_line(failure.error)}); "
                "`tfae plugins` lists the plugins and their errors"
            )
    for skipped in registry.skipped:
        if normalize_source(skipped.distribution) == key:
            return (
                f"{skipped.distribution}, installed here, is not loaded: TFAE_PLUGINS or "
                f"TFAE_DISABLE_PLUGIN_AUTOLOAD leaves it out; add {skipped.distribution} to TFAE_PLUGINS"
            )
    try:
        installed = importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return (
            "no distribution of that name is installed: if you trust the file, install the plugin that provides it "
            "(check the distribution's name and its publisher first: a model file can name any distribution)"
        )
    return (
        f"{distribution} {installed}, installed here, registers no {printable(reference.kind)} "
        f"'{printable(reference.name)}' (`tfae plugins` lists what each plugin registers)"
    )


def _line(text: object) -> str:
    return " ".join(str(text).split())
