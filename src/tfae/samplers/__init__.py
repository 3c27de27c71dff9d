"""Post-hoc samplers: the codes a trained model's decoder turns into new samples (``model.sample(n, sampler=...)``)."""

from tfae.samplers.base import BaseSampler
from tfae.samplers.gaussian_mixture import GaussianMixtureSampler
from tfae.samplers.prior import PriorSampler
from tfae.samplers.two_stage import TwoStageSampler

__all__ = ["BaseSampler", "GaussianMixtureSampler", "PriorSampler", "TwoStageSampler"]
