"""Lets the seed's import paths (``from tfae.bottlenecks import GaussianBottleneck``) reach plugin classes.

The core never imports a concrete plugin by module path: a class name asked of a public module is looked
up in the registry instead, so the built-ins and third-party components are found the same way.
"""

from tfae.errors import UnknownNameError


def component_attribute(module_name, kind, name):
    """The registered component of ``kind`` whose class name is exactly ``name``, as an attribute of a module.

    Raises:
        AttributeError: no registered component has that class name; the message suggests the closest.
        DuplicateNameError: two plugins register different classes with that class name.
    """
    if name.startswith("_"):
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}", name=name, obj=None)
    from tfae.plugins import get_registry

    registry = get_registry()
    try:
        entry = registry.get(kind, name)
    except UnknownNameError as error:
        # obj=None keeps Python from appending its own suggestion, drawn from the module's few real names.
        message = f"module {module_name!r} has no attribute {name!r}. {error}"
        raise AttributeError(message, name=name, obj=None) from None
    if entry.class_name != name:
        # Names and aliases ("gaussian") are for configs and resolve(); a module attribute is a class name.
        classes = ", ".join(sorted({e.class_name for e in registry.entries(kind) if e.class_name}))
        suggestion = f" Did you mean {entry.class_name!r}?" if entry.class_name else ""
        raise AttributeError(
            f"module {module_name!r} has no attribute {name!r}.{suggestion} Its {kind} classes are: {classes}.",
            name=name,
            obj=None,
        )
    return entry.component
