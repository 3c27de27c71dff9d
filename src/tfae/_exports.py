"""Lets the seed's import paths (``from tfae.bottlenecks import GaussianBottleneck``) reach plugin classes.

The core never imports a concrete plugin by module path: a class name asked of a public module is looked
up in the registry instead, so the built-ins and third-party components are found the same way.
"""

from tfae.errors import UnknownNameError


def component_attribute(module_name, kind, name):
    if name.startswith("_"):
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    from tfae.plugins import get_registry

    registry = get_registry()
    for entry in registry.entries(kind):
        if getattr(entry.component, "__name__", None) == name:
            return entry.component
    try:
        registry.get(kind, name)
    except UnknownNameError as error:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}. {error}") from None
    raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
