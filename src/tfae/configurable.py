"""The config round trip and the ``repr`` that the components which are no Keras layers share.

Regularizers, schedulers, objectives, samplers, metrics and datasets describe themselves with
``get_config()``: the arguments that rebuild them. ``Configurable`` gives each of them, from that one
method, the ``from_config`` that rebuilds one and the ``repr`` that shows it, written here once. A Keras
layer (a bottleneck, a likelihood, a prior) has Keras' own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self


class Configurable:
    """A mixin: ``from_config`` and ``__repr__`` from the subclass's ``get_config()``.

    A subclass returns its constructor's arguments from ``get_config()``; ``from_config(config)`` calls the
    constructor with them, and the ``repr`` lists them, as in ``DASRScheduler(start_value=0.0, ...)``.

    Example:

    >>> class Scale(Configurable):
    ...     def __init__(self, factor=1.0):
    ...         self.factor = float(factor)
    ...     def get_config(self):
    ...         return {"factor": self.factor}
    >>> Scale.from_config({"factor": 2})
    Scale(factor=2.0)
    """

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, so that ``from_config`` builds the same component; ``{}`` by default."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """Builds the component that ``get_config()`` described."""
        return cls(**config)

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({params})"
