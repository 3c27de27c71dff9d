"""tfae-flows: normalizing-flow posteriors for tfae (planar, radial, IAF), their Monte Carlo KL, and a MAF prior.

Each component is registered by name through the package's entry points ("planar", "radial", "iaf",
"monte_carlo_kl", "maf"); the classes are importable from here.
"""

from tfae_flows.flow import FlowBottleneck
from tfae_flows.iaf import IAFBottleneck
from tfae_flows.maf import MAFPrior
from tfae_flows.monte_carlo_kl import MonteCarloKLRegularizer
from tfae_flows.planar import PlanarBottleneck
from tfae_flows.radial import RadialBottleneck

__all__ = [
    "FlowBottleneck",
    "IAFBottleneck",
    "MAFPrior",
    "MonteCarloKLRegularizer",
    "PlanarBottleneck",
    "RadialBottleneck",
]
