"""Likelihoods: the decoder's distribution ``p(x | z)``, given to ``model.compile(loss=...)`` by name.

``BaseLikelihood`` is the contract (``base.py``); each built-in lives beside it in a file named after it and
is registered, as a plugin's likelihood is, through tfae's ``tfae`` entry points: ``BernoulliLikelihood``
("bernoulli") and ``GaussianLikelihood`` ("gaussian"). A plugin's likelihood is imported from the plugin's
own package, or found by name with ``tfae.plugins.get_component("likelihood", name)``.
"""

from tfae.likelihoods.base import BaseLikelihood, sum_over_features
from tfae.likelihoods.bernoulli import BernoulliLikelihood
from tfae.likelihoods.gaussian import GaussianLikelihood

__all__ = ["BaseLikelihood", "BernoulliLikelihood", "GaussianLikelihood", "sum_over_features"]
