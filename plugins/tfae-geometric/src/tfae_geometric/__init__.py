"""tfae-geometric: latent geometries for tfae, the hyperspherical and the Poincare-ball VAE.

Installed, it needs no import: ``Autoencoder(bottleneck={"name": "vmf", "latent_dim": 3, "regularizer":
"vmf_kld"})`` and a ``tfae train`` config naming ``"vmf"``, ``"poincare"``, their priors
(``"hyperspherical_uniform"``, ``"wrapped_normal"``) and regularizers (``"vmf_kld"``, ``"poincare_kld"``) find
them through its ``tfae`` entry points.
"""

from tfae_geometric.hyperspherical_uniform import HypersphericalUniformPrior
from tfae_geometric.poincare import PoincareBottleneck
from tfae_geometric.poincare_kld import PoincareKLDRegularizer
from tfae_geometric.vmf_kld import VonMisesFisherKLDRegularizer
from tfae_geometric.von_mises_fisher import VonMisesFisherBottleneck
from tfae_geometric.wrapped_normal import WrappedNormalPrior

__all__ = [
    "HypersphericalUniformPrior",
    "PoincareBottleneck",
    "PoincareKLDRegularizer",
    "VonMisesFisherBottleneck",
    "VonMisesFisherKLDRegularizer",
    "WrappedNormalPrior",
]
