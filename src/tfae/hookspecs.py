"""The hook specifications a tfae plugin implements: every hook, in one module.

A plugin is a module named by an entry point in the ``tfae`` group. It implements any of the hooks below
with ``@tfae.hookimpl``; each hook receives a ``register`` callback and calls it once per component::

    import tfae

    @tfae.hookimpl
    def register_bottlenecks(register):
        register(MyBottleneck, name="mine", aliases=["my_bottleneck"])

``register(component, name, aliases=())`` adds ``component`` (usually a class) under ``name`` for the hook's
kind. Names are matched case-insensitively, with ``-`` and ``_`` treated alike; the class name is accepted
too. A hook that raises registers nothing: everything it registered before raising is dropped.

Each hook is named ``register_<kinds>``; ``KINDS`` maps a kind to its hook. A new kind is a new hook here
and a new line in ``KINDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("tfae")
hookimpl = pluggy.HookimplMarker("tfae")


@hookspec
def register_bottlenecks(register: Callable[..., Any]) -> None:
    """Register bottleneck layers (subclasses of ``tfae.bottlenecks.BaseBottleneck``)."""


@hookspec
def register_regularizers(register: Callable[..., Any]) -> None:
    """Register regularizers (subclasses of ``tfae.regularizers.BaseRegularizer``)."""


@hookspec
def register_schedulers(register: Callable[..., Any]) -> None:
    """Register schedulers of a value such as beta (subclasses of ``tfae.schedulers.BaseScheduler``)."""


@hookspec
def register_likelihoods(register: Callable[..., Any]) -> None:
    """Register reconstruction likelihoods (subclasses of ``tfae.likelihoods.BaseLikelihood``)."""


@hookspec
def register_metrics(register: Callable[..., Any]) -> None:
    """Register evaluation metrics (subclasses of ``tfae.metrics.BaseMetric``)."""


@hookspec
def register_datasets(register: Callable[..., Any]) -> None:
    """Register datasets that a config's ``[data] source`` names (subclasses of ``tfae.datasets.BaseDataset``)."""


@hookspec
def register_priors(register: Callable[..., Any]) -> None:
    """Register priors of the latent code (subclasses of ``tfae.priors.BasePrior``)."""


@hookspec
def register_objectives(register: Callable[..., Any]) -> None:
    """Register training objectives (subclasses of ``tfae.objectives.BaseObjective``).

    They are chosen by ``compile(objective=...)``.
    """


@hookspec
def register_samplers(register: Callable[..., Any]) -> None:
    """Register post-hoc samplers of codes (subclasses of ``tfae.samplers.BaseSampler``).

    They are chosen by ``model.sample(n, sampler=...)``.
    """


KINDS: dict[str, str] = {
    "bottleneck": "register_bottlenecks",
    "regularizer": "register_regularizers",
    "scheduler": "register_schedulers",
    "likelihood": "register_likelihoods",
    "metric": "register_metrics",
    "dataset": "register_datasets",
    "prior": "register_priors",
    "objective": "register_objectives",
    "sampler": "register_samplers",
}
