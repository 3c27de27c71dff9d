"""Training objectives: what the model minimises, from the terms of a batch."""

from tfae.objectives.base import BaseObjective, ObjectiveTerms
from tfae.objectives.elbo import ELBO
from tfae.objectives.iwae import IWAE

__all__ = ["BaseObjective", "ELBO", "IWAE", "ObjectiveTerms"]
