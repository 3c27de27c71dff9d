"""The former name of ``tfae.likelihoods``, kept so that ``from tfae.losses import ...`` still works."""

from tfae.likelihoods import BaseLikelihood, BernoulliLikelihood, GaussianLikelihood, sum_over_features

__all__ = ["BaseLikelihood", "BernoulliLikelihood", "GaussianLikelihood", "sum_over_features"]
