"""Names components by their registered name in configs and saved models, and builds them back."""

from __future__ import annotations

from typing import Any

from tfae.plugins import get_registry
from tfae.registry import QUALIFIER_SEPARATOR


def registered_name(kind: str, component_class: type) -> str:
    """The name under which ``component_class`` is registered, chosen so that it resolves back to it.

    The registry's ``name_for``: its registered name when that finds it; otherwise (a built-in keeps the name,
    or another plugin claims it too) the qualified ``"distribution:name"``, which finds it whatever else is
    installed.

    Raises:
        ValueError: the class is not registered, so nothing could build it back.
        DuplicateNameError: even its qualified name is claimed twice (two plugins of one distribution).
    """
    registry = get_registry()
    entries = [entry for entry in registry.entries(kind) if entry.component is component_class]
    if not entries:
        raise ValueError(
            f"Cannot serialize {component_class.__name__}: it is not registered as a tfae {kind}, so a saved "
            "model or config could not name it. Register it in a plugin (see CONTRIBUTING.md), or at run "
            "time with tfae.plugins.register_plugin()."
        )
    names = [registry.name_for(entry) for entry in entries]
    # A class registered under several names: a bare one that finds it, if any, before a qualified one.
    name = min(names, key=lambda name: QUALIFIER_SEPARATOR in name)
    # Raises DuplicateNameError when two components of one distribution claim even the qualified name.
    if registry.get(kind, name).component is not component_class:
        raise ValueError(f"No registered name of the {kind} {component_class.__name__} finds it again.")
    return name


def component_classes() -> dict[str, type]:
    """Every registered component class by its class name, for Keras to rebuild the parts of a saved model.

    Where a third party's class has a built-in's class name, the name means the built-in, as in the registry.
    """
    classes: dict[str, type] = {}
    for entry in sorted(get_registry().entries(), key=lambda entry: entry.builtin):
        if isinstance(entry.component, type):
            classes[entry.component.__name__] = entry.component
    return classes


def component_spec(kind: str, component: Any) -> dict[str, Any]:
    """Returns ``{"name": registered_name, **component.get_config()}`` for a registered component.

    ``registry.resolve(kind, spec)`` builds it back. A Keras layer's own ``name`` is left out: in a
    specification ``name`` is the registered name.
    """
    name = registered_name(kind, type(component))
    config = {key: value for key, value in component.get_config().items() if key != "name"}
    return {"name": name, **config}


def registered_name_of(kind: str, component: Any) -> str | None:
    """The name ``component``'s class is registered under (``"kld"``), what logs and messages call it; ``None``
    when it is not registered. Unlike ``registered_name``, never the qualified ``"distribution:name"``."""
    for entry in get_registry().entries(kind):
        if entry.component is type(component):
            return entry.name
    return None


def describe_component(kind: str, component: Any) -> str:
    """``'gaussian' (GaussianBottleneck)``: a component by its registered name and class, for messages.

    An unregistered component is named by its class alone.
    """
    class_name = type(component).__name__
    name = registered_name_of(kind, component)
    return class_name if name is None else f"{name!r} ({class_name})"
