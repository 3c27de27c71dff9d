"""Names components by their registered name in configs and saved models, and builds them back."""

from __future__ import annotations

from typing import Any

from tfae.errors import DuplicateNameError
from tfae.plugins import get_registry


def registered_name(kind: str, component_class: type) -> str:
    """The name under which ``component_class`` is registered, chosen so that it resolves back to it.

    Its registered name or one of its aliases when that finds it; otherwise (a built-in keeps the name, or
    another plugin claims it too) the qualified ``"distribution:name"``, which finds it whatever else is
    installed.

    Raises:
        ValueError: the class is not registered, so nothing could build it back.
        DuplicateNameError: even its qualified names are claimed twice (two plugins of one distribution).
    """
    registry = get_registry()
    entries = [entry for entry in registry.entries(kind) if entry.component is component_class]
    if not entries:
        raise ValueError(
            f"Cannot serialize {component_class.__name__}: it is not registered as a tfae {kind}, so a saved "
            "model or config could not name it. Register it in a plugin (see CONTRIBUTING.md), or at run "
            "time with tfae.plugins.register_plugin()."
        )
    conflict: DuplicateNameError | None = None
    for entry in entries:
        for name in (entry.name, *entry.aliases, entry.qualified()):
            try:
                if registry.get(kind, name).component is component_class:
                    return name
            except DuplicateNameError as error:
                conflict = error
    # Each name resolves to this class unless another component claims it too: one of them raised.
    if conflict is None:
        raise ValueError(f"No registered name of the {kind} {component_class.__name__} finds it again.")
    raise conflict


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
