"""The registry: which component each name means, and who provided it.

The plugin manager (``tfae.plugins``) fills the registry from the ``tfae`` entry points; this module keeps
the names and turns a user's specification (an instance, a name, or a ``{"name": ...}`` dict) into a
component. It imports no deep-learning framework.

A name is looked up among the registered names and aliases of its kind first, then among the class names.
A built-in's name is always the built-in's: a third party registering it too (a clash) is recorded, and its
component is reachable by the qualified name ``"distribution:name"`` (``"tfae-clash:kld"``), which works
wherever a name does. Two third parties claiming one name is a conflict: it is recorded, not fatal, and
looking that name up raises ``DuplicateNameError`` naming both providers and their qualified names, so the
rest of the registry keeps working.
"""

import dataclasses
import difflib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import tfae.hookspecs as hookspecs
from tfae.errors import DuplicateNameError, UnknownNameError
from tfae.parameters import NESTED, check_parameters

KINDS = tuple(hookspecs.KINDS)
# Between a distribution (or a run-time plugin) and a name, as in "tfae-clash:kld".
QUALIFIER_SEPARATOR = ":"


def plural(kind):
    """``"likelihood"`` -> ``"likelihoods"``: the plural in the kind's hook name."""
    return hookspecs.KINDS[kind].removeprefix("register_")


def normalize_name(name):
    return name.strip().lower().replace("-", "_")


def normalize_source(source: str) -> str:
    """A distribution's (or plugin's) name as packaging compares them: ``"TFAE_Clash"`` -> ``"tfae-clash"``."""
    return re.sub(r"[-_.]+", "-", source.strip().lower())


def _check_kind(kind):
    if kind not in hookspecs.KINDS:
        raise ValueError(f"Unknown component kind {kind!r}. Expected one of: {', '.join(KINDS)}.")


def _distinct(entries: Iterable["Entry"]) -> list["Entry"]:
    """``entries`` with one entry per component, in order."""
    found: list[Entry] = []
    for entry in entries:
        if all(other.component is not entry.component for other in found):
            found.append(entry)
    return found


# The attribute where an error raised while a nested component was built keeps the keys that lead to it.
_SPEC_PATH = "spec_path"


def spec_path(error: BaseException) -> tuple[Any, ...]:
    """The keys (and list positions) of the nested specification at fault, from the outermost one that
    ``resolve`` was given: ``("regularizer", 1, "beta")``; ``()`` when the error is the outer component's own.

    ``tfae train`` names the line of that key in the config file.
    """
    return getattr(error, _SPEC_PATH, ())


def nested_specs(kind: str, params: Mapping[str, Any]) -> list[tuple[tuple[Any, ...], str, Any]]:
    """The nested specifications among ``params`` of a ``kind``: ``(keys, nested kind, spec)`` for each.

    A bottleneck's ``regularizer`` and a regularizer's ``beta`` (``tfae.parameters.NESTED``) nest when given as
    a name or a dict; a bottleneck's ``regularizer`` may be a list, each item of which is listed, whatever it
    is, at ``("regularizer", index)``. The one place that says how specifications nest: ``resolve`` builds
    them, and the config reader checks them, by it.
    """
    nested = NESTED.get(kind)
    if nested is None:
        return []
    key, nested_kind = nested
    value = params.get(key)
    if isinstance(value, (str, Mapping)):
        return [((key,), nested_kind, value)]
    if isinstance(value, list) and kind == "bottleneck":
        return [((key, index), nested_kind, item) for index, item in enumerate(value)]
    return []


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered component.

    Args:
        kind: one of ``KINDS``.
        name: the registered name (``"gaussian"``). In an entry that ``Registry.get`` returns, the name that
            finds this component again: the qualified ``"distribution:name"`` when the bare name means a
            built-in or is claimed by another plugin too.
        component: the class (or factory) the name stands for.
        aliases: other accepted names.
        plugin: the name of the plugin that registered it (its entry-point name).
        distribution: the installed distribution that provides the plugin; empty for a plugin registered
            at run time with ``tfae.plugins.register_plugin``.
        version: that distribution's version.
        builtin: whether it is one of tfae's own components, which keep their names whatever else is installed.
    """

    kind: str
    name: str
    component: Callable[..., Any]
    aliases: tuple = ()
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    builtin: bool = False

    @property
    def provider(self):
        """Who provides the component: ``"tfae 0.1.0"``, or the run-time plugin's name."""
        if self.distribution:
            return f"{self.distribution} {self.version}".strip()
        return f"plugin {self.plugin!r} registered at run time"

    @property
    def registrant(self) -> str:
        """Who registers the component, by what a user installed: ``"tfae-noisy 0.1.0 (its entry point
        'noisy')"``, or ``"plugin 'noisy' (registered at run time)"``."""
        if self.distribution:
            return f"{self.provider} (its entry point {self.plugin!r})"
        return f"plugin {self.plugin!r} (registered at run time)"

    @property
    def source(self) -> str:
        """What qualifies its names: the distribution, or the name of a plugin registered at run time."""
        return self.distribution or self.plugin

    def qualified(self, name: str | None = None) -> str:
        """``"distribution:name"`` for ``name`` (its registered name by default): it finds this component
        whatever other plugins register."""
        bare = self.name.rpartition(QUALIFIER_SEPARATOR)[2] if name is None else name
        return f"{self.source}{QUALIFIER_SEPARATOR}{bare}"

    @property
    def class_name(self):
        return getattr(self.component, "__name__", "")

    def describe(self):
        return f"{self.class_name or repr(self.component)} from {self.provider}"


@dataclasses.dataclass(frozen=True)
class Conflict:
    """A name that more than one component claims, within one kind.

    When one of them is a built-in (``builtin``), the name stays the built-in's and the conflict is a clash:
    the others are reachable by their qualified names. Otherwise using the bare name is an error.
    """

    kind: str
    name: str
    entries: tuple

    @property
    def builtin(self) -> Entry | None:
        """The built-in ``Entry`` that keeps the name, or ``None`` when only third parties claim it."""
        builtins = _distinct(entry for entry in self.entries if entry.builtin)
        return builtins[0] if len(builtins) == 1 else None

    @property
    def others(self) -> tuple[Entry, ...]:
        """The entries that do not get the bare name: all of them, unless a built-in keeps it."""
        return tuple(entry for entry in self.entries if entry is not self.builtin)

    def claims(self) -> str:
        """One sentence: who registers the name, each by the distribution a user installed."""
        claims = "; ".join(
            f"{entry.registrant} registers {entry.class_name or repr(entry.component)}" for entry in self.entries
        )
        return f"The {self.kind} name {self.name!r} is registered more than once: {claims}."

    def message(self) -> str:
        """What the name means now, and what to do: the claims, the qualified names and the remedies."""
        qualified = " or ".join(repr(entry.qualified(self.name)) for entry in self.others)
        sources = sorted({entry.source for entry in self.others}, key=normalize_source)
        builtin = self.builtin
        if builtin is not None:
            return (
                f"{self.claims()} {self.name!r} is tfae's own name, so it keeps meaning tfae's "
                f"{builtin.class_name}; name the other as {qualified}, or ask {' and '.join(sources)} to rename it."
            )
        if len({normalize_source(source) for source in sources}) < len(self.others):
            return f"{self.claims()} They come from one distribution, {' and '.join(sources)}: ask it to rename one."
        distributions = sorted({entry.distribution for entry in self.entries if entry.distribution})
        remedy = "uninstall all but one of them"
        if len(distributions) > 1:
            remedy = f"uninstall one of the distributions {' and '.join(distributions)}"
        if not distributions:
            return f"{self.claims()} Name the one you mean as {qualified}, or {remedy}."
        return (
            f"{self.claims()} Name the one you mean as {qualified}, {remedy}, or list the third-party plugins to "
            f"keep in TFAE_PLUGINS, such as TFAE_PLUGINS={distributions[0]} (it loads those it lists and leaves "
            "out the others)."
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

    def register(self, kind, component, name, aliases=(), plugin="", distribution="", version="", builtin=False):
        """Adds ``component`` under ``name`` and ``aliases``; returns its ``Entry``.

        ``builtin`` marks one of tfae's own components: a built-in keeps its names when a third party
        registers them too.
        """
        _check_kind(kind)
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"A {kind} needs a non-empty string name. Received: name={name!r}")
        if isinstance(aliases, str) or not all(isinstance(alias, str) and alias.strip() for alias in aliases):
            raise ValueError(f"`aliases` must be a list of non-empty strings. Received: aliases={aliases!r}")
        spellings = [name, *aliases]
        if any(QUALIFIER_SEPARATOR in spelling for spelling in spellings):
            raise ValueError(
                f"A {kind}'s name and aliases may not contain {QUALIFIER_SEPARATOR!r}, which separates a "
                f'distribution from a name ("tfae-clash:kld"). Received: name={name!r}, aliases={list(aliases)!r}'
            )
        if not callable(component):
            raise ValueError(f"The {kind} {name!r} must be a class or a factory. Received: {component!r}")
        entry = Entry(kind, name, component, tuple(aliases), plugin, distribution, version, builtin)
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

    def conflicts(self, kind: str | None = None) -> list[Conflict]:
        """The names (and aliases) that more than one component claims: clashes with a built-in, whose
        ``builtin`` keeps the name, and names that only third parties claim, which are errors to use."""
        kinds = KINDS if kind is None else (kind,)
        found = []
        for k in kinds:
            lookup = self._lookup(k)
            for key, entries in lookup["names"].items():
                # A built-in's class name is its name too: a third party registering it as a name clashes.
                builtin_classes = [entry for entry in lookup["classes"].get(key, []) if entry.builtin]
                claims = _distinct([*entries, *builtin_classes])
                if len(claims) > 1:
                    found.append(Conflict(k, self._spelling(k, key), tuple(claims)))
        return found

    def get(self, kind: str, name: str) -> Entry:
        """Returns the ``Entry`` registered for ``name``.

        Args:
            kind: one of ``KINDS``.
            name: a name, an alias or a class name; a built-in's is always the built-in's. Qualified by a
                distribution (``"tfae-clash:kld"``, or ``"tfae:kld"``), or by the name of a plugin
                registered at run time, it means that provider's component alone.

        Returns:
            The ``Entry``. When its own registered name would find another component (a built-in's, or one
            that another plugin claims too), its ``name`` is the qualified ``"distribution:name"``, which
            finds it, so that a configuration or a message naming it finds it again.

        Raises:
            UnknownNameError: nothing of ``kind`` has that name.
            DuplicateNameError: more than one third-party component claims it; the message gives their
                qualified names.
        """
        _check_kind(kind)
        if not isinstance(name, str):
            raise ValueError(f"A {kind} name must be a string. Received: {name!r}")
        if QUALIFIER_SEPARATOR in name:
            return self._get_qualified(kind, name)
        claims = self._claimants(kind, normalize_name(name))
        if len(claims) > 1:
            raise DuplicateNameError(Conflict(kind, name, tuple(claims)).message())
        if not claims:
            raise UnknownNameError(self._unknown_message(kind, name))
        return self._findable(claims[0])

    def _claimants(self, kind, key):
        """The components a bare (normalized) name means: a built-in claiming it, else the components that
        register it as a name or alias, else those whose class has that name. More than one is a conflict."""
        lookup = self._lookup(kind)
        named, by_class = lookup["names"].get(key, []), lookup["classes"].get(key, [])
        builtins = _distinct(entry for entry in (*named, *by_class) if entry.builtin)
        if len(builtins) == 1:
            return builtins
        return named or by_class

    def name_for(self, entry: Entry) -> str:
        """The name that finds ``entry``: its registered name, or the qualified ``"distribution:name"`` when
        that name means a built-in or another plugin claims it too."""
        claims = self._claimants(entry.kind, normalize_name(entry.name))
        if len(claims) == 1 and claims[0].component is entry.component:
            return entry.name
        return entry.qualified()

    def _findable(self, entry):
        """``entry``, with the name that finds it (``name_for``) as its ``name``."""
        name = self.name_for(entry)
        return entry if name == entry.name else dataclasses.replace(entry, name=name)

    def _get_qualified(self, kind, name):
        source, _, bare = name.partition(QUALIFIER_SEPARATOR)
        provided = [
            entry
            for entry in self._entries
            if entry.kind == kind and normalize_source(entry.source) == normalize_source(source)
        ]
        key = normalize_name(bare)
        named = _distinct(entry for entry in provided if key in map(normalize_name, (entry.name, *entry.aliases)))
        by_class = _distinct(entry for entry in provided if key and normalize_name(entry.class_name) == key)
        claims = named or by_class
        if len(claims) > 1:
            raise DuplicateNameError(Conflict(kind, bare.strip(), tuple(claims)).message())
        if claims:
            return self._findable(claims[0])
        if not provided:
            sources = sorted({entry.source for entry in self._entries if entry.kind == kind}, key=normalize_source)
            raise UnknownNameError(
                f"Unknown {kind} {name!r}: no loaded plugin distribution named {source.strip()!r} registers a "
                f"{kind}. A qualified name is 'distribution:name'; the distributions with {plural(kind)}: "
                f"{', '.join(sources) if sources else '(none)'} (`tfae plugins` lists them)."
            )
        own = sorted({entry.name for entry in provided}, key=normalize_name)
        spellings = {
            normalize_name(spelling): spelling
            for entry in provided
            for spelling in (entry.name, *entry.aliases, entry.class_name)
            if spelling
        }
        close = difflib.get_close_matches(key, list(spellings), n=1, cutoff=0.6)
        hint = f" Did you mean {provided[0].qualified(spellings[close[0]])!r}?" if close else ""
        raise UnknownNameError(
            f"Unknown {kind} {name!r}: {provided[0].source} registers no {kind} named {bare.strip()!r}.{hint} "
            f"Its {plural(kind)}: {', '.join(own)}."
        )

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
            spec: an instance (returned as it is); a registered name, alias or class name, or a qualified
                ``"distribution:name"`` (the component is built with its defaults); a class (called with no
                arguments); or a dict ``{"name": ..., **params}`` whose params are passed to the constructor,
                its nested specifications (a bottleneck's regularizer, a regularizer's beta: ``nested_specs``)
                built first, here. An error in a nested one carries the keys that lead to it (``spec_path``).

        Returns:
            The component, or ``None`` when ``spec`` is ``None``.

        Raises:
            UnknownNameError: no component of ``kind`` has that name.
            DuplicateNameError: two third-party plugins claim that name (their qualified names choose).
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
        lists: dict[str, list] = {}
        for keys, nested_kind, spec in nested_specs(entry.kind, params):
            try:
                component = self.resolve(nested_kind, spec)
            except (ValueError, TypeError) as error:
                # So that a config file names the line of the nested key at fault (spec_path).
                setattr(error, _SPEC_PATH, keys + spec_path(error))
                raise
            if len(keys) == 1:
                params[keys[0]] = component
            else:
                lists.setdefault(keys[0], list(params[keys[0]]))[keys[1]] = component
        return entry.component(**{**params, **lists})
