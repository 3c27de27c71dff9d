"""tfae-disentangle: the disentangling VAE family for tfae, as regularizers registered by name.

Installed, it needs no import: ``regularizer = ["kld", {name = "factor_vae", beta = 6}]`` in a config, or the
same list in Python, finds each class through the plugin's ``tfae`` entry points. The classes are here for
those who build them themselves.
"""

from tfae_disentangle.beta_tcvae import BetaTCVAERegularizer
from tfae_disentangle.capacity import CapacityRegularizer
from tfae_disentangle.dip_vae import DIPVAEIIRegularizer, DIPVAEIRegularizer
from tfae_disentangle.factor_vae import FactorVAERegularizer
from tfae_disentangle.mmd import MMDRegularizer

__all__ = [
    "BetaTCVAERegularizer",
    "CapacityRegularizer",
    "DIPVAEIRegularizer",
    "DIPVAEIIRegularizer",
    "FactorVAERegularizer",
    "MMDRegularizer",
]
