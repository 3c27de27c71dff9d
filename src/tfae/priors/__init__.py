"""Priors of the latent code: ``p(z)``, its log-density and a sampler."""

from tfae.priors.base import BasePrior
from tfae.priors.bernoulli import BernoulliPrior
from tfae.priors.mixture import MixturePrior
from tfae.priors.standard_normal import StandardNormalPrior
from tfae.priors.vamp import VampPrior

__all__ = ["BasePrior", "BernoulliPrior", "MixturePrior", "StandardNormalPrior", "VampPrior"]
