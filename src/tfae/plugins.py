"""Loads the plugins named by the ``tfae`` entry points, and the public API of the registry they fill.

tfae's own components arrive here the same way as a third party's: through the ``tfae`` entry points
that tfae's pyproject.toml declares. The plugins load on first use (``import tfae`` loads none), the
built-ins first, so a third-party plugin may subclass a built-in. Environment variables choose what loads:

- ``TFAE_DISABLE_PLUGIN_AUTOLOAD=1`` loads no third-party plugin; the built-ins always load.
- ``TFAE_PLUGINS=a,b`` loads only the third-party plugins named (entry-point or distribution names),
  also when autoload is disabled.
- ``TFAE_STRICT_PLUGINS=1`` makes a plugin problem (a failed import, a hook that raises, a name two
  plugins claim, a third party registering a built-in's name) an error instead of a warning.

A built-in keeps its names: a third party that registers one too is warned about, once, and its component
is reachable by the qualified name ``"distribution:name"`` (``"tfae-clash:kld"``).

The hooks are called through pluggy's hook caller one plugin at a time (``subset_hook_caller``), not once
for all plugins: ``register`` records which distribution provides each component, and a plugin whose hook
raises is reported by its distribution and loses only its own components (``_call_hooks`` says more).

Use it like this::

    from tfae import plugins

    plugins.list_components("bottleneck")          # [Entry(name="gaussian", distribution="tfae", ...), ...]
    plugins.resolve("bottleneck", {"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    plugins.get_component("regularizer", "kld")     # the GaussianKLDRegularizer class
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import importlib_metadata
import pluggy

import tfae.hookspecs as hookspecs
from tfae.errors import DuplicateNameError, PluginLoadError, PluginLoadWarning
from tfae.registry import Conflict, Entry, Registry, normalize_source
from tfae.version import __version__

ENTRY_POINT_GROUP = "tfae"
CORE_DISTRIBUTION = "tfae"
STRICT_NOTE = "TFAE_STRICT_PLUGINS=1 makes this an error; unset it for a warning instead."

_registry: Registry | None = None
_building: Registry | None = None
_lock = threading.RLock()


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """A plugin: what registered the components, and which distribution provides it.

    Args:
        plugin: its name (the entry-point name; ``"distribution:name"`` when two distributions use one).
        distribution: the distribution that declares the entry point; empty for a run-time plugin.
        version: that distribution's version.
        builtin: whether it is one of tfae's own.
        module: the module the entry point names.
    """

    plugin: str
    distribution: str
    version: str
    builtin: bool
    module: str = ""


@dataclasses.dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to load, and why (``error`` is ``"ExceptionType: message"``)."""

    plugin: str
    distribution: str
    version: str
    error: str


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _allow_list() -> set[str] | None:
    """The canonical names in TFAE_PLUGINS, or ``None`` when it is unset or empty."""
    names = {normalize_source(name) for name in os.environ.get("TFAE_PLUGINS", "").split(",") if name.strip()}
    return names or None


def _entry_points() -> list[tuple[PluginInfo, importlib_metadata.EntryPoint]]:
    """The ``tfae`` entry points as ``PluginInfo``, the built-ins first.

    importlib_metadata keeps the first copy of a distribution found twice on sys.path (an editable install
    beside a build), so one distribution never conflicts with itself.
    """
    plugins = []
    for entry_point in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist.name if entry_point.dist else ""
        version = entry_point.dist.version if entry_point.dist else ""
        builtin = normalize_source(distribution) == CORE_DISTRIBUTION
        plugins.append((PluginInfo(entry_point.name, distribution, version, builtin, entry_point.value), entry_point))
    return sorted(
        plugins, key=lambda pair: (not pair[0].builtin, normalize_source(pair[0].distribution), pair[0].plugin)
    )


def _report(
    problem: str,
    consequence: str = "",
    exc: BaseException | None = None,
    error_type: type[Exception] = PluginLoadError,
) -> None:
    """Warns of a plugin problem, or raises it under TFAE_STRICT_PLUGINS=1.

    Args:
        problem: what is wrong and what to do about it.
        consequence: what the warning leaves working; a strict error says instead that strict mode made it one.
        exc: the exception behind the problem, if any.
        error_type: the error class raised in strict mode.
    """
    if _flag("TFAE_STRICT_PLUGINS"):
        raise error_type(f"{problem} {STRICT_NOTE}") from exc
    warnings.warn(f"{problem} {consequence}".rstrip(), PluginLoadWarning, stacklevel=2)


def _fail(registry: Registry, info: PluginInfo, exc: BaseException) -> None:
    failure = PluginFailure(info.plugin, info.distribution, info.version, f"{type(exc).__name__}: {exc}")
    registry.failures.append(failure)
    source = f"{info.distribution} {info.version}" if info.distribution else "registered at run time"
    _report(
        f"tfae plugin {info.plugin!r} ({source}) failed to load with tfae {__version__}: {failure.error}. "
        "Fix or uninstall it, or leave it out by listing the third-party plugins to keep in "
        "TFAE_PLUGINS=name,name (it loads those it lists and leaves out the others).",
        "Its components are unavailable; the other plugins keep working. Set TFAE_STRICT_PLUGINS=1 to make "
        "this an error.",
        exc,
    )


def _manager(registry: Registry) -> pluggy.PluginManager:
    """The registry's plugin manager, which ``build_registry`` gives every registry it builds."""
    manager = registry.manager
    assert manager is not None, "a registry from build_registry has a plugin manager"
    return manager


def _check_hooks(registry: Registry, info: PluginInfo, plugin: object) -> None:
    """Warns about functions marked ``@tfae.hookimpl`` whose names are not tfae hooks (a typo, usually)."""
    for caller in _manager(registry).get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        close = difflib.get_close_matches(caller.name, list(hookspecs.KINDS.values()), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        _report(
            f"tfae plugin {info.plugin!r} implements {caller.name!r}, which is not a tfae hook, so it is never "
            f"called.{hint} The hooks are: {', '.join(hookspecs.KINDS.values())}."
        )


def _call_hooks(registry: Registry, info: PluginInfo) -> None:
    """Runs the plugin's registration hooks; a hook that raises leaves nothing of the plugin registered.

    Each hook is called through pluggy's hook caller, narrowed to this plugin (``subset_hook_caller``), not
    once for every plugin (``manager.hook.register_bottlenecks(register=...)``): ``register`` records who
    provides each component (plugin, distribution, version), so it must know whose hook is calling, and a
    hook that raises must be blamed on its own distribution and undo only its own plugin's registrations,
    while the plugins after it still load. One call for all would stop at the first error, skipping the
    plugins after it, and say not whose it was.
    """
    manager = _manager(registry)
    others = [plugin for plugin in manager.get_plugins() if manager.get_name(plugin) != info.plugin]
    provider = (info.plugin, info.distribution, info.version, info.builtin)
    try:
        for kind, hook_name in hookspecs.KINDS.items():

            def register(component: Any, name: str, aliases: Sequence[str] = (), _kind: str = kind) -> Entry:
                return registry.register(_kind, component, name, aliases, *provider)

            manager.subset_hook_caller(hook_name, remove_plugins=others)(register=register)
    except BaseException:
        registry.remove_plugin(info.plugin)
        raise


def _load(registry: Registry, info: PluginInfo, entry_point: importlib_metadata.EntryPoint) -> None:
    manager = _manager(registry)
    if manager.has_plugin(info.plugin):
        info = dataclasses.replace(info, plugin=f"{info.distribution}:{info.plugin}")
    try:
        module = entry_point.load()
        if manager.is_registered(module):
            return
        manager.register(module, name=info.plugin)
    except Exception as exc:
        _fail(registry, info, exc)
        return
    _check_hooks(registry, info, module)
    try:
        _call_hooks(registry, info)
    except Exception as exc:
        manager.unregister(name=info.plugin)
        _fail(registry, info, exc)
        return
    registry.plugins.append(info)


def build_registry() -> Registry:
    """Loads the plugins and returns a new ``Registry`` holding what they register.

    Most code wants ``get_registry()``, which builds the registry once per process.
    """
    global _building
    registry = Registry()
    registry.manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    registry.manager.add_hookspecs(hookspecs)
    allowed = _allow_list()
    autoload = allowed is not None or not _flag("TFAE_DISABLE_PLUGIN_AUTOLOAD")
    found = _entry_points()
    if not any(info.builtin for info, _ in found):
        raise PluginLoadError(
            "tfae's built-in components were not found: the tfae distribution is not installed, so its entry "
            "points are missing. Install it with `pip install -e .` (from a checkout) or `pip install tfae`."
        )
    _building = registry
    try:
        for info, entry_point in found:
            chosen = allowed is None or {normalize_source(info.plugin), normalize_source(info.distribution)} & allowed
            if info.builtin or (autoload and chosen):
                _load(registry, info, entry_point)
            else:
                registry.skipped.append(info)
        if allowed is not None:
            known = {normalize_source(name) for info, _ in found for name in (info.plugin, info.distribution)}
            for name in sorted(allowed - known):
                _report(f"TFAE_PLUGINS names {name!r}, but no installed tfae plugin or distribution has that name.")
        _report_conflicts(registry)
    finally:
        _building = None
    return registry


def _report_conflicts(registry: Registry) -> None:
    """One report per name that only third parties claim, and one per third-party component that registers
    built-ins' names, naming its distribution."""
    clashes: dict[tuple[str, int], tuple[Entry, list[Conflict]]] = {}
    for conflict in registry.conflicts():
        if conflict.builtin is None:
            _report(
                conflict.message(),
                "Until then, using this name is an error; the other names keep working.",
                error_type=DuplicateNameError,
            )
            continue
        for entry in conflict.others:
            clashes.setdefault((entry.kind, id(entry.component)), (entry, []))[1].append(conflict)
    for entry, conflicts in clashes.values():
        names = " and ".join(repr(conflict.name) for conflict in conflicts)
        builtins = " and ".join(sorted({conflict.builtin.class_name for conflict in conflicts if conflict.builtin}))
        one = len(conflicts) == 1
        _report(
            f"{entry.registrant} registers its {entry.kind} {entry.class_name} under "
            f"{names}, which {'is' if one else 'are'} tfae's own ({builtins}). tfae's {builtins} keeps "
            f"{'it' if one else 'them'}; name {entry.class_name} as {entry.qualified(conflicts[0].name)!r} "
            f"instead, or ask {entry.source} to rename it.",
            error_type=DuplicateNameError,
        )


def get_registry() -> Registry:
    """Returns the registry, loading the plugins on first use."""
    global _registry
    with _lock:
        if _registry is not None:
            return _registry
        if _building is not None:
            # A plugin being loaded looks up a component (to subclass a built-in): the built-ins are there.
            return _building
        _registry = build_registry()
        return _registry


def reload_plugins() -> Registry:
    """Forgets the loaded plugins and loads them again (after installing one, or changing TFAE_* variables).

    Run-time plugins (``register_plugin``) are forgotten too.
    """
    global _registry
    with _lock:
        importlib.invalidate_caches()
        _registry = None
        return get_registry()


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Registers a plugin object (a module or class with ``@tfae.hookimpl`` functions) at run time.

    For notebooks and tests; an installed package declares an entry point instead (see CONTRIBUTING.md).
    Unlike an installed plugin, a run-time plugin that raises, or claims a name that is taken, is an error
    here and registers nothing.

    Args:
        plugin: the module or object with the hook implementations.
        name: optional plugin name; defaults to the module's name.

    Returns:
        The name the plugin was registered under; pass it to ``unregister_plugin``.
    """
    registry = get_registry()
    with _lock:
        name = _manager(registry).register(plugin, name=name)
        assert name is not None  # pluggy returns None only for a blocked name, and tfae blocks none
        info = PluginInfo(name, "", "", False, getattr(plugin, "__name__", ""))
        _check_hooks(registry, info, plugin)
        try:
            _call_hooks(registry, info)
            for conflict in registry.conflicts():
                if any(entry.plugin == name for entry in conflict.entries):
                    raise DuplicateNameError(
                        f"{conflict.claims()} A plugin registered at run time may not take a name that is taken, "
                        f"so plugin {name!r} registered nothing: give its {conflict.kind} another name."
                    )
        except BaseException:
            registry.remove_plugin(name)
            _manager(registry).unregister(name=name)
            raise
        registry.plugins.append(info)
    return name


def unregister_plugin(name: str) -> None:
    """Removes a plugin registered with ``register_plugin``, and the components it registered."""
    registry = get_registry()
    with _lock:
        if not _manager(registry).has_plugin(name):
            registered = ", ".join(info.plugin for info in registry.plugins)
            raise ValueError(f"No tfae plugin is registered as {name!r}. Registered plugins: {registered}.")
        _manager(registry).unregister(name=name)
        registry.remove_plugin(name)


def resolve(kind: str, spec: Any) -> Any:
    """Turns a specification into a component of ``kind``.

    Args:
        kind: ``"bottleneck"``, ``"regularizer"``, ``"scheduler"`` or ``"likelihood"``.
        spec: an instance (returned as it is); a registered name, alias or class name (built with its
            defaults); or a dict ``{"name": ..., **params}``, whose nested specifications (a bottleneck's
            regularizer, a regularizer's beta scheduler) resolve in turn.

    Returns:
        The component, or ``None`` for ``None``.

    Example:

    >>> resolve("bottleneck", {"name": "gaussian", "latent_dim": 2, "regularizer": {"name": "kld", "beta": 0.5}})
    <GaussianBottleneck name=gaussian_bottleneck, built=False>
    """
    return get_registry().resolve(kind, spec)


def get_component(kind: str, name: str) -> Any:
    """Returns the class (or factory) registered for ``kind`` under ``name``, an alias, or its class name."""
    return get_registry().get(kind, name).component


def list_components(kind: str | None = None) -> list[Entry]:
    """Returns the registered components of ``kind`` (of every kind when ``None``), sorted by kind and name.

    Each is a ``tfae.registry.Entry``: ``kind``, ``name``, ``aliases``, ``component``, and the ``plugin``,
    ``distribution`` and ``version`` that provide it.
    """
    return get_registry().entries(kind)


def list_plugins() -> list[PluginInfo]:
    """Returns the loaded plugins (``PluginInfo``: name, distribution, version, built-in or not), built-ins first.

    ``get_registry().failures`` and ``get_registry().skipped`` hold the plugins that failed to load and
    those that TFAE_PLUGINS or TFAE_DISABLE_PLUGIN_AUTOLOAD left out.
    """
    return list(get_registry().plugins)
