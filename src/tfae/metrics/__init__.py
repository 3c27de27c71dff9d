"""Disentanglement metrics: how well codes separate the known factors that generated the data.

Plain NumPy functions of arrays, following each paper's definition and, where a paper leaves a choice,
disentanglement_lib's implementation. ``codes`` is a float array of shape ``(n, latent_dim)``, ``factors``
an int array of shape ``(n, num_factors)`` of class indices.

- ``mig``: the Mutual Information Gap (Chen et al., 2018); ``mig_gaps`` per factor,
  ``mutual_information_matrix`` behind them.
- ``sap``: the Separated Attribute Predictability score (Kumar et al., 2018); ``sap_score_matrix`` behind it.
- ``dci``: disentanglement, completeness and informativeness (Eastwood and Williams, 2018);
  ``dci_from_importance`` from a given importance matrix.
- ``factor_vae_score`` (Kim and Mnih, 2018) and ``beta_vae_score`` (Higgins et al., 2017) sample a
  ``GroundTruthData`` with one factor held fixed and encode it; ``factor_vae_score_from_groups`` and
  ``beta_vae_score_from_pairs`` take codes already grouped.

The modules import only NumPy. The metrics that train classifiers (``sap`` on discrete factors, ``dci``,
the beta-VAE score) need scikit-learn: ``pip install "tfae[evaluation]"``.
"""

from tfae.metrics.beta_vae_score import beta_vae_score, beta_vae_score_from_pairs
from tfae.metrics.dci import DCIScores, dci, dci_from_importance
from tfae.metrics.factor_vae_score import GroundTruthData, factor_vae_score, factor_vae_score_from_groups
from tfae.metrics.mig import mig, mig_gaps, mutual_information_matrix
from tfae.metrics.sap import sap, sap_score_matrix

__all__ = [
    "DCIScores",
    "GroundTruthData",
    "beta_vae_score",
    "beta_vae_score_from_pairs",
    "dci",
    "dci_from_importance",
    "factor_vae_score",
    "factor_vae_score_from_groups",
    "mig",
    "mig_gaps",
    "mutual_information_matrix",
    "sap",
    "sap_score_matrix",
]
