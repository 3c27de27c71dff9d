"""The registry: which component each name means, and who provided it.

The plugin manager (``tfae.plugins``) fills the registry from the ``tfae`` entry points; this module keeps
the names and turns a user's specification (an instance, a name, or a ``{"name": ...}`` dict) into a
component. It imports no deep-learning framework.

A name is looked up among the registered names and aliases of its kind first, then among the class names.
Two different components claiming one name is a conflict: it is recorded, not fatal, and looking that name
up raises ``DuplicateNameError`` naming both providers, so the rest of the registry keeps working.
"""

import dataclasses
import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import tfae.hookspecs as hookspecs
from tfae.errors import DuplicateNameError, UnknownNameError
from tfae.parameters import check_parameters

KINDS = tuple(hookspecs.KINDS)


def plural(kind):
    """``"likelihood"`` -> ``"likelihoods"``: the plural in the kind's hook name."""
    return hookspecs.KINDS[kind].removeprefix("register_")


def normalize_name(name):
    return name.strip().lower().replace("-", "_")


def _check_kind(kind):
    if kind not in hookspecs.KINDS:
        raise ValueError(f"Unknown component kind {kind!r}. Expected one of: {', '.join(KINDS)}.")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered component.

    Args:
        kind: one of ``KINDS``.
        name: the registered name (``"gaussian"``).
        component: the class (or factory) the name stands for.
        aliases: other accepted names.
        plugin: the name of the plugin that registered it (its entry-point name).
        distribution: the installed distribution that provides the plugin; empty for a plugin registered
            at run time with ``tfae.plugins.register_plugin``.
        version: that distribution's version.
    """

    kind: str
    name: str
    component: Callable[..., Any]
    aliases: tuple = ()
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    @property
    def provider(self):
        """Who provides the component: ``"tfae 0.1.0"``, or the run-time plugin's name."""
        if self.distribution:
            return f"{self.distribution} {self.version}".strip()
        return f"plugin {self.plugin!r} registered at run time"

    @property
    def class_name(self):
        return getattr(self.component, "__name__", "")

    def describe(self):
        return f"{self.class_name or repr(self.component)} from {self.provider}"


@dataclasses.dataclass(frozen=True)
class Conflict:
    """A name that more than one component claims, within one kind."""

    kind: str
    name: str
    entries: tuple

    def message(self):
        claims = "; ".join(f"plugin {entry.plugin!r} registers {entry.describe()}" for entry in self.entries)
        distributions = sorted({entry.distribution for entry in self.entries if entry.distribution})
        remedy = "Uninstall all but one of them"
        if len(distributions) > 1:
            remedy = f"Uninstall one of the distributions {' and '.join(distributions)}"
        return (
            f"The {self.kind} name {self.name!r} is registered more than once: {claims}. {remedy}, or "
            "choose the plugins to load with TFAE_PLUGINS=name,name."
        )


class Registry:
    """Names of components by kind, with lookup, suggestions and resolution.

    Attributes:
        plugins: the loaded plugins (``tfae.plugins.PluginInfo``), built-ins first.
        failures: the plugins that failed to load (``tfae.plugins.PluginFailure``).
        skipped: the installed third-party plugins that TFAE_PLUGINS or TFAE_DISABLE_PLUGIN_AUTOLOAD left out.
        manager: the ``pluggy.PluginManager`` holding the plugins.
    """

    def __init__(self):
        self._entries = []
        self._index = None
        self.plugins = []
        self.failures = []
        self.skipped = []
        self.manager = None

    def register(self, kind, component, name, aliases=(), plugin="", distribution="", version=""):
        """Adds ``component`` under ``name`` and ``aliases``; returns its ``Entry``."""
        _check_kind(kind)
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"A {kind} needs a non-empty string name. Received: name={name!r}")
        if isinstance(aliases, str) or not all(isinstance(alias, str) and alias.strip() for alias in aliases):
            raise ValueError(f"`aliases` must be a list of non-empty strings. Received: aliases={aliases!r}")
        if not callable(component):
            raise ValueError(f"The {kind} {name!r} must be a class or a factory. Received: {component!r}")
        entry = Entry(kind, name, component, tuple(aliases), plugin, distribution, version)
        self._entries.append(entry)
        self._index = None
        return entry

    def remove_plugin(self, plugin):
        """Forgets the components, the load failures and the listing of ``plugin``."""
        self._entries = [entry for entry in self._entries if entry.plugin != plugin]
        self._index = None
        self.plugins = [info for info in self.plugins if info.plugin != plugin]
        self.failures = [failure for failure in self.failures if failure.plugin != plugin]

    def entries(self, kind=None):
        """The registered entries of ``kind`` (of every kind when ``None``), by kind then name."""
        if kind is not None:
            _check_kind(kind)
        kinds = KINDS if kind is None else (kind,)
        unique: dict[tuple[str, str, int], Entry] = {}
        for entry in self._entries:
            unique.setdefault((entry.kind, entry.name, id(entry.component)), entry)
        chosen = [entry for entry in unique.values() if entry.kind in kinds]
        return sorted(chosen, key=lambda entry: (KINDS.index(entry.kind), normalize_name(entry.name), entry.plugin))

    def names(self, kind):
        """The registered names of ``kind``, sorted (aliases and class names left out)."""
        return sorted({entry.name for entry in self.entries(kind)}, key=normalize_name)

    def conflicts(self, kind=None):
        """The names (and aliases) that more than one component claims."""
        kinds = KINDS if kind is None else (kind,)
        found = []
        for k in kinds:
            for key, entries in self._lookup(k)["names"].items():
                if len(entries) > 1:
                    found.append(Conflict(k, self._spelling(k, key), tuple(entries)))
        return found

    def get(self, kind, name):
        """Returns the ``Entry`` registered for ``name`` (a name, an alias or a class name).

        Raises:
            UnknownNameError: nothing of ``kind`` has that name.
            DuplicateNameError: more than one component claims it.
        """
        _check_kind(kind)
        if not isinstance(name, str):
            raise ValueError(f"A {kind} name must be a string. Received: {name!r}")
        key = normalize_name(name)
        lookup = self._lookup(kind)
        for table in (lookup["names"], lookup["classes"]):
            entries = table.get(key)
            if entries and len(entries) == 1:
                return entries[0]
            if entries:
                raise DuplicateNameError(Conflict(kind, name, tuple(entries)).message())
        raise UnknownNameError(self._unknown_message(kind, name))

    def _lookup(self, kind):
        """Per kind: ``names`` and ``classes`` map a normalized key to the distinct components claiming it."""
        if self._index is None:
            self._index = {k: {"names": {}, "classes": {}, "spellings": {}} for k in KINDS}
            for entry in self._entries:
                tables = self._index[entry.kind]
                for spelling in (entry.name, *entry.aliases):
                    self._claim(tables["names"], normalize_name(spelling), entry)
                    tables["spellings"].setdefault(normalize_name(spelling), spelling)
                if entry.class_name:
                    self._claim(tables["classes"], normalize_name(entry.class_name), entry)
                    tables["spellings"].setdefault(normalize_name(entry.class_name), entry.class_name)
        return self._index[kind]

    @staticmethod
    def _claim(table, key, entry):
        claims = table.setdefault(key, [])
        if all(claim.component is not entry.component for claim in claims):
            claims.append(entry)

    def _spelling(self, kind, key):
        return self._lookup(kind)["spellings"].get(key, key)

    def _unknown_message(self, kind, name):
        lookup = self._lookup(kind)
        known = [*lookup["names"], *lookup["classes"]]
        close = difflib.get_close_matches(normalize_name(name), known, n=1, cutoff=0.6)
        message = f"Unknown {kind} {name!r}."
        if close:
            message += f" Did you mean {self._spelling(kind, close[0])!r}?"
        available = self.names(kind)
        message += f" Available {plural(kind)}: {', '.join(available) if available else '(none)'}."
        other_kinds = [k for k in KINDS if k != kind and normalize_name(name) in self._lookup(k)["names"]]
        if other_kinds:
            message += f" {name!r} is registered as a {' and a '.join(other_kinds)}, not as a {kind}."
        message += (
            f" If {name!r} comes from a plugin, install the package that provides it "
            "(`tfae plugins` lists the installed plugins and their names)."
        )
        if self.failures:
            message += f" These plugins failed to load: {', '.join(f.plugin for f in self.failures)}."
        if self.skipped:
            skipped = ", ".join(info.plugin for info in self.skipped)
            message += (
                f" These plugins are installed but not loaded (TFAE_PLUGINS, TFAE_DISABLE_PLUGIN_AUTOLOAD): {skipped}."
            )
        return message

    def resolve(self, kind: str, spec: object) -> object:
        """Turns ``spec`` into a component of ``kind``.

        Args:
            kind: one of ``KINDS``.
            spec: an instance (returned as it is); a registered name, alias or class name (the component is
                built with its defaults); a class (called with no arguments); or a dict
                ``{"name": ..., **params}`` whose params are passed to the constructor, which resolves
                nested specifications (a bottleneck's regularizer, a regularizer's beta) in turn.

        Returns:
            The component, or ``None`` when ``spec`` is ``None``.

        Raises:
            UnknownNameError: no component of ``kind`` has that name.
            DuplicateNameError: two plugins claim that name.
            ParameterError: a parameter the component does not take, one it needs that is missing, or a value
                of the wrong type (``tfae.parameters.check_parameters``).
            ValueError: a dict without a string ``"name"``.
        """
        _check_kind(kind)
        if spec is None:
            return None
        if isinstance(spec, str):
            return self._build(self.get(kind, spec), {})
        if isinstance(spec, Mapping):
            params = dict(spec)
            if "name" not in params:
                raise ValueError(
                    f"A {kind} given as a dict needs a 'name' key naming a registered {kind} "
                    f"(one of: {', '.join(self.names(kind))}). Received keys: {sorted(map(str, params))}"
                )
            name = params.pop("name")
            if not isinstance(name, str):
                raise ValueError(f"The 'name' of a {kind} must be a string. Received: name={name!r}")
            return self._build(self.get(kind, name), params)
        if inspect.isclass(spec):
            return spec()
        return spec

    def _build(self, entry: Entry, params: dict) -> object:
        check_parameters(entry, params)
        return entry.component(**params)
