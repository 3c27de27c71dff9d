"""Reconstruction likelihoods, given to ``model.compile(loss=...)`` by name.

``BaseLikelihood`` is the contract; ``BernoulliLikelihood`` ("bernoulli"), ``GaussianLikelihood``
("gaussian") and any likelihood a plugin registers are found by name through the registry.
"""

from tfae.losses.base import BaseLikelihood, sum_over_features


def __getattr__(name):
    from tfae._exports import component_attribute

    return component_attribute(__name__, "loss", name)


__all__ = ["BaseLikelihood", "sum_over_features", "BernoulliLikelihood", "GaussianLikelihood"]
