"""Names components by their registered name in configs and saved models, and builds them back."""

from tfae.plugins import get_registry


def component_spec(kind, component):
    """Returns ``{"name": registered_name, **component.get_config()}`` for a registered component.

    A Keras layer's own ``name`` is left out: in a specification ``name`` is the registered name.

    Raises:
        ValueError: the component's class is not registered, so nothing could build it back.
    """
    registry = get_registry()
    for entry in registry.entries(kind):
        if entry.component is type(component):
            config = {key: value for key, value in component.get_config().items() if key != "name"}
            return {"name": entry.name, **config}
    raise ValueError(
        f"Cannot serialize {type(component).__name__}: it is not registered as a tfae {kind}, so a saved "
        f"model or config could not name it. Register it in a plugin (see CONTRIBUTING.md), or at run "
        f"time with tfae.plugins.register_plugin()."
    )
