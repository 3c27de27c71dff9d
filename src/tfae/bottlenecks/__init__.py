"""Bottlenecks: the layer between encoder and decoder.

``BaseBottleneck`` and ``VariationalBottleneck`` are the contracts; ``VanillaBottleneck``,
``GaussianBottleneck``, ``BernoulliBottleneck`` and any bottleneck a plugin registers are found by name
through the registry.
"""

from tfae.bottlenecks.base import BaseBottleneck
from tfae.bottlenecks.variational import VariationalBottleneck


def __getattr__(name):
    from tfae._exports import component_attribute

    return component_attribute(__name__, "bottleneck", name)


__all__ = ["BaseBottleneck", "VariationalBottleneck", "VanillaBottleneck", "GaussianBottleneck", "BernoulliBottleneck"]
