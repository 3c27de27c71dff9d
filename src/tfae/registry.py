"""The registry: which component each name means, and who provided it.

The registry is filled by the plugin manager (``tfae.plugins``) from the ``tfae`` entry points; this module
only keeps the names and turns a user's specification (an instance, a name, or a ``{"name": ...}`` dict)
into a component.
"""

import dataclasses
import difflib
import inspect
from collections.abc import Mapping

from tfae.errors import DuplicateNameError, UnknownNameError

KINDS = ("bottleneck", "regularizer", "scheduler", "loss")


def normalize_name(name):
    return name.strip().lower().replace("-", "_")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered component.

    Args:
        kind: one of ``KINDS``.
        name: the registered name (``"gaussian"``).
        component: the class (or factory) the name stands for.
        aliases: other accepted names.
        plugin: the entry-point name of the plugin that registered it.
        distribution: the installed distribution that provides the plugin.
        version: that distribution's version.
    """

    kind: str
    name: str
    component: object
    aliases: tuple = ()
    plugin: str = ""
    distribution: str = ""
    version: str = ""

    @property
    def provider(self):
        return f"{self.distribution} {self.version}".strip() or self.plugin


class Registry:
    """Names of components by kind, with lookup, suggestions and resolution."""

    def __init__(self):
        self._entries = {kind: {} for kind in KINDS}
        self._keys = {kind: {} for kind in KINDS}
        self.failures = []
        self.plugins = []
        self.manager = None

    def register(self, kind, component, name, aliases=(), plugin="", distribution="", version=""):
        if kind not in self._entries:
            raise ValueError(f"Unknown component kind {kind!r}. Expected one of {', '.join(KINDS)}.")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"A {kind} needs a non-empty string name. Received: name={name!r}")
        entry = Entry(kind, name, component, tuple(aliases), plugin, distribution, version)
        explicit = [name, *entry.aliases]
        for key in map(normalize_name, explicit):
            existing = self._keys[kind].get(key)
            if existing is not None and existing.component is not component:
                raise DuplicateNameError(
                    f"The {kind} name {key!r} is registered twice: by plugin {existing.plugin!r} "
                    f"({existing.provider}) and by plugin {entry.plugin!r} ({entry.provider}). "
                    "Uninstall one of them, or choose the plugins to load with TFAE_PLUGINS=name,name."
                )
        for key in map(normalize_name, explicit):
            self._keys[kind][key] = entry
        class_name = getattr(component, "__name__", None)
        if class_name:
            # A class name is a convenience, not a claim: the first plugin to use it keeps it.
            self._keys[kind].setdefault(normalize_name(class_name), entry)
        self._entries[kind][name] = entry
        return entry

    def remove_plugin(self, plugin):
        for kind in KINDS:
            self._entries[kind] = {n: e for n, e in self._entries[kind].items() if e.plugin != plugin}
            self._keys[kind] = {k: e for k, e in self._keys[kind].items() if e.plugin != plugin}
        self.plugins = [info for info in self.plugins if info.plugin != plugin]

    def entries(self, kind=None):
        kinds = KINDS if kind is None else (kind,)
        return [entry for k in kinds for entry in sorted(self._entries[k].values(), key=lambda e: e.name)]

    def names(self, kind):
        return sorted(self._entries[kind])

    def get(self, kind, name):
        """Returns the ``Entry`` registered for ``name``, or raises ``UnknownNameError``."""
        if kind not in self._entries:
            raise ValueError(f"Unknown component kind {kind!r}. Expected one of {', '.join(KINDS)}.")
        entry = self._keys[kind].get(normalize_name(name))
        if entry is None:
            raise UnknownNameError(self._unknown_message(kind, name))
        return entry

    def _unknown_message(self, kind, name):
        available = self.names(kind)
        close = difflib.get_close_matches(normalize_name(name), list(self._keys[kind]), n=1, cutoff=0.6)
        message = f"Unknown {kind} {name!r}."
        if close:
            message += f" Did you mean {self._keys[kind][close[0]].name!r}?"
        message += f" Available {kind}s: {', '.join(available) if available else '(none)'}."
        message += (
            f" If {name!r} comes from a plugin, install the package that provides it "
            "(`tfae plugins` lists what is installed)."
        )
        if self.failures:
            failed = ", ".join(failure.plugin for failure in self.failures)
            message += f" These plugins failed to load: {failed}."
        return message

    def resolve(self, kind, spec):
        """Turns ``spec`` into a component of ``kind``.

        Args:
            kind: one of ``KINDS``.
            spec: an instance (returned as it is), a registered name, alias or class name
                (the component is built with its defaults), a class, or a dict
                ``{"name": ..., **params}`` whose params are passed to the constructor (which
                resolves nested specifications, such as a bottleneck's regularizer, in turn).

        Returns:
            The component, or ``None`` when ``spec`` is ``None``.
        """
        if spec is None:
            return None
        if isinstance(spec, str):
            return self._build(self.get(kind, spec), {})
        if isinstance(spec, Mapping):
            params = dict(spec)
            if "name" not in params:
                raise ValueError(
                    f"A {kind} given as a dict needs a 'name' key naming a registered {kind} "
                    f"(one of {', '.join(self.names(kind))}). Received keys: {sorted(params)}"
                )
            name = params.pop("name")
            if not isinstance(name, str):
                raise ValueError(f"The 'name' of a {kind} must be a string. Received: name={name!r}")
            return self._build(self.get(kind, name), params)
        if inspect.isclass(spec):
            return spec()
        return spec

    def _build(self, entry, params):
        try:
            signature = inspect.signature(entry.component)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
            accepted = [n for n, p in signature.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            unknown = sorted(set(params) - set(accepted))
            if unknown and not accepts_any:
                raise ValueError(
                    f"The {entry.kind} {entry.name!r} has no parameter {', '.join(map(repr, unknown))}. "
                    f"Its parameters are: {', '.join(accepted)}."
                )
        return entry.component(**params)
