"""tfae-iwae: the objectives of Rainforth et al. (2018), "Tighter Variational Bounds are Not Necessarily Better".

Installed, it needs no import: ``model.compile(..., objective={"name": "miwae", "m": 4, "k": 4})`` and a
``tfae train`` config with ``[training.objective] name = "ciwae"`` find the classes through the plugin's
``tfae`` entry points. The classes are here for those who build them themselves.
"""

from tfae_iwae.ciwae import CIWAE
from tfae_iwae.miwae import MIWAE
from tfae_iwae.piwae import PIWAE

__all__ = ["CIWAE", "MIWAE", "PIWAE"]
