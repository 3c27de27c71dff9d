"""Regularizers of a bottleneck's per-sample distribution parameters, weighted by ``beta``.

``BaseRegularizer`` is the contract; ``GaussianKLDRegularizer``, ``GaussianReversedKLDRegularizer``,
``L2Regularizer``, ``BernoulliKLDRegularizer`` and any regularizer a plugin registers are found by name
through the registry.
"""

from tfae.regularizers.base import BaseRegularizer


def __getattr__(name):
    from tfae._exports import component_attribute

    return component_attribute(__name__, "regularizer", name)


__all__ = [
    "BaseRegularizer",
    "GaussianKLDRegularizer",
    "GaussianReversedKLDRegularizer",
    "L2Regularizer",
    "BernoulliKLDRegularizer",
]
