"""Deprecated alias of ``tfae.likelihoods``: the same classes, for code that imports them from here.

``tfae.losses.GaussianLikelihood is tfae.likelihoods.GaussianLikelihood``, so models saved with either
import load alike. New code imports from ``tfae.likelihoods``.
"""

from tfae.likelihoods import BaseLikelihood, BernoulliLikelihood, GaussianLikelihood, sum_over_features

__all__ = ["BaseLikelihood", "BernoulliLikelihood", "GaussianLikelihood", "sum_over_features"]
