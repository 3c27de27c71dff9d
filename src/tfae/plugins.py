"""Loads the plugins named by the ``tfae`` entry points and fills the registry from them.

tfae's own components arrive here the same way as a third party's: through the entry points that
tfae's pyproject.toml declares. Environment variables choose what loads:

- ``TFAE_DISABLE_PLUGIN_AUTOLOAD=1`` loads no third-party plugin (the built-ins still load).
- ``TFAE_PLUGINS=a,b`` loads only the third-party plugins named (entry-point or distribution names).
- ``TFAE_STRICT_PLUGINS=1`` makes a plugin that fails to load an error instead of a warning.
"""

import dataclasses
import os
import warnings

import importlib_metadata
import pluggy

from tfae import hookspecs
from tfae.errors import DuplicateNameError, PluginLoadError, PluginLoadWarning
from tfae.registry import Registry

ENTRY_POINT_GROUP = "tfae"
CORE_DISTRIBUTION = "tfae"
HOOK_NAMES = {
    "bottleneck": "register_bottlenecks",
    "regularizer": "register_regularizers",
    "scheduler": "register_schedulers",
    "loss": "register_losses",
}

_registry = None


@dataclasses.dataclass(frozen=True)
class PluginFailure:
    plugin: str
    distribution: str
    version: str
    error: str


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    plugin: str
    distribution: str
    version: str
    builtin: bool


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _canonical(name):
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _allowed(entry_point, distribution):
    if _flag("TFAE_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    allow_list = os.environ.get("TFAE_PLUGINS")
    if allow_list is None:
        return True
    wanted = {_canonical(name) for name in allow_list.split(",") if name.strip()}
    return _canonical(entry_point.name) in wanted or _canonical(distribution) in wanted


def _entry_points():
    seen = set()
    for entry_point in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist.name if entry_point.dist else ""
        version = entry_point.dist.version if entry_point.dist else ""
        # The same distribution can be found twice on sys.path (an editable install beside a build).
        key = (_canonical(distribution), entry_point.name, entry_point.value)
        if key in seen:
            continue
        seen.add(key)
        yield entry_point, distribution, version


def _report(failure, registry, exc):
    registry.failures.append(failure)
    message = (
        f"tfae plugin {failure.plugin!r} from {failure.distribution or 'an unknown distribution'} "
        f"{failure.version} failed to load: {failure.error}. The other plugins keep working; "
        "set TFAE_STRICT_PLUGINS=1 to make this an error."
    )
    if _flag("TFAE_STRICT_PLUGINS"):
        raise PluginLoadError(message) from exc
    warnings.warn(message, PluginLoadWarning, stacklevel=3)


def build_registry():
    """Loads the plugins and returns a new ``Registry`` holding what they register."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    infos = {}
    found_core = False
    for entry_point, distribution, version in _entry_points():
        builtin = _canonical(distribution) == CORE_DISTRIBUTION
        found_core = found_core or builtin
        if not builtin and not _allowed(entry_point, distribution):
            continue
        plugin_name = entry_point.name
        if manager.has_plugin(plugin_name) or plugin_name in infos:
            plugin_name = f"{distribution}:{entry_point.name}"
        try:
            module = entry_point.load()
            manager.register(module, name=plugin_name)
        except Exception as exc:
            failure = PluginFailure(plugin_name, distribution, version, f"{type(exc).__name__}: {exc}")
            _report(failure, registry, exc)
            continue
        infos[plugin_name] = PluginInfo(plugin_name, distribution, version, builtin)
    if not found_core:
        raise PluginLoadError(
            "tfae's built-in components were not found: the tfae distribution is not installed, so its "
            "entry points are missing. Install it with `pip install -e .` (from a checkout) or `pip install tfae`."
        )
    registry.manager = manager
    for info in infos.values():
        _register_components(registry, info)
    registry.plugins = sorted(infos.values(), key=lambda info: (not info.builtin, info.plugin))
    return registry


def _register_components(registry, info):
    for kind, hook_name in HOOK_NAMES.items():
        for implementation in getattr(registry.manager.hook, hook_name).get_hookimpls():
            if implementation.plugin_name != info.plugin:
                continue

            def register(component, name, aliases=(), _kind=kind):
                return registry.register(_kind, component, name, aliases, info.plugin, info.distribution, info.version)

            try:
                implementation.function(register=register)
            except DuplicateNameError:
                raise
            except Exception as exc:
                failure = PluginFailure(info.plugin, info.distribution, info.version, f"{type(exc).__name__}: {exc}")
                _report(failure, registry, exc)


def register_plugin(plugin, name=None):
    """Registers a plugin object (a module or class with ``@tfae.hookimpl`` functions) at run time.

    For notebooks and tests; an installed package declares an entry point instead.

    Returns:
        The name the plugin was registered under; pass it to ``unregister_plugin``.
    """
    registry = get_registry()
    name = registry.manager.register(plugin, name=name)
    info = PluginInfo(name, "", "", False)
    registry.plugins.append(info)
    try:
        _register_components(registry, info)
    except Exception:
        unregister_plugin(name)
        raise
    return name


def unregister_plugin(name):
    """Removes a plugin registered with ``register_plugin`` and the components it registered."""
    registry = get_registry()
    registry.manager.unregister(name=name)
    registry.remove_plugin(name)


def get_registry():
    """Returns the registry, loading the plugins on first use."""
    global _registry
    if _registry is None:
        _registry = build_registry()
    return _registry


def reload_plugins():
    """Forgets the loaded plugins and loads them again (after installing one, or changing TFAE_* variables)."""
    global _registry
    _registry = None
    return get_registry()


def resolve(kind, spec):
    """Turns an instance, a registered name, or a ``{"name": ..., **params}`` dict into a component of ``kind``."""
    return get_registry().resolve(kind, spec)


def get_component(kind, name):
    """Returns the class (or factory) registered under ``name`` for ``kind``."""
    return get_registry().get(kind, name).component


def list_components(kind=None):
    """Returns the registered ``Entry`` objects (name, aliases, plugin, distribution, version), by kind."""
    return get_registry().entries(kind)


def list_plugins():
    """Returns the loaded plugins with the distribution and version that provides each."""
    return list(get_registry().plugins)
