"""tfae-hamiltonian: the Hamiltonian VAE (Caterini et al. 2018) and the Riemannian Hamiltonian VAE (Chadebec et al.
2020) for tfae, as the objectives "hvae" and "rhvae" and the bottleneck "rhvae" that learns the RHVAE's metric."""

from tfae_hamiltonian.hvae import HamiltonianELBO
from tfae_hamiltonian.metric import RiemannianMetricBottleneck
from tfae_hamiltonian.rhvae import RiemannianHamiltonianELBO

__all__ = ["HamiltonianELBO", "RiemannianHamiltonianELBO", "RiemannianMetricBottleneck"]
