"""Names components by their registered name in configs and saved models, and builds them back."""

from __future__ import annotations

from typing import Any

from tfae.errors import DuplicateNameError
from tfae.plugins import get_registry


def registered_name(kind: str, component_class: type) -> str:
    """The name under which ``component_class`` is registered, chosen so that it resolves back to it.

    Raises:
        ValueError: the class is not registered, so nothing could build it back.
        DuplicateNameError: each of its names is claimed by another plugin too.
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
        for name in (entry.name, *entry.aliases):
            try:
                if registry.get(kind, name).component is component_class:
                    return name
            except DuplicateNameError as error:
                conflict = error
    # Each name resolves to this class unless another plugin claims it too: one of them raised.
    assert conflict is not None
    raise conflict


def component_classes() -> dict[str, type]:
    """Every registered component class by its class name, for Keras to rebuild the parts of a saved model."""
    return {
        entry.component.__name__: entry.component
        for entry in get_registry().entries()
        if isinstance(entry.component, type)
    }


def component_spec(kind: str, component: Any) -> dict[str, Any]:
    """Returns ``{"name": registered_name, **component.get_config()}`` for a registered component.

    ``registry.resolve(kind, spec)`` builds it back. A Keras layer's own ``name`` is left out: in a
    specification ``name`` is the registered name.
    """
    name = registered_name(kind, type(component))
    config = {key: value for key, value in component.get_config().items() if key != "name"}
    return {"name": name, **config}
