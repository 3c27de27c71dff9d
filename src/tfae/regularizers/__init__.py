"""Regularizers of each sample's posterior at a bottleneck, weighted by ``beta``.

``BaseRegularizer`` is the contract (``base.py``); each built-in lives beside it in a file named after it and
is registered, as a plugin's regularizer is, through tfae's ``tfae`` entry points:
``GaussianKLDRegularizer`` ("kld"), ``GaussianReversedKLDRegularizer`` ("reversed_kld"),
``BernoulliKLDRegularizer`` ("bernoulli_kld") and ``L2Regularizer`` ("l2"). A plugin's regularizer is imported
from the plugin's own package, or found by name with ``tfae.plugins.get_component("regularizer", name)``.
"""

from tfae.regularizers.base import BaseRegularizer
from tfae.regularizers.bernoulli_kld import BernoulliKLDRegularizer
from tfae.regularizers.kld import GaussianKLDRegularizer
from tfae.regularizers.l2 import L2Regularizer
from tfae.regularizers.reversed_kld import GaussianReversedKLDRegularizer

__all__ = [
    "BaseRegularizer",
    "GaussianKLDRegularizer",
    "GaussianReversedKLDRegularizer",
    "BernoulliKLDRegularizer",
    "L2Regularizer",
]
