"""Bottlenecks: the layer between encoder and decoder.

``BaseBottleneck`` and ``VariationalBottleneck`` are the contracts (``base.py``, ``variational.py``); each
built-in lives beside them in a file named after it and is registered, as a plugin's bottleneck is, through
tfae's ``tfae`` entry points: ``VanillaBottleneck`` ("vanilla"), ``GaussianBottleneck`` ("gaussian") and
``BernoulliBottleneck`` ("bernoulli"). A plugin's bottleneck is imported from the plugin's own package, or
found by name with ``tfae.plugins.get_component("bottleneck", name)``. ``Posterior`` (``tfae/posterior.py``) is what a
bottleneck gives its regularizers.
"""

from tfae.bottlenecks.base import BaseBottleneck
from tfae.bottlenecks.bernoulli import BernoulliBottleneck
from tfae.bottlenecks.gaussian import GaussianBottleneck
from tfae.bottlenecks.vanilla import VanillaBottleneck
from tfae.bottlenecks.variational import VariationalBottleneck
from tfae.posterior import Posterior

__all__ = [
    "BaseBottleneck",
    "VariationalBottleneck",
    "VanillaBottleneck",
    "GaussianBottleneck",
    "BernoulliBottleneck",
    "Posterior",
]
