"""Metrics of a trained autoencoder, registered by name like every component (the ``"metric"`` kind).

``BaseMetric`` is the contract and ``Evaluation`` what a metric is given (``base.py``); each built-in lives
beside them in a file named after it and is registered through tfae's ``tfae`` entry points:
``log_likelihood`` (the IWAE-k estimate), ``negative_elbo``, ``reconstruction_loss``, ``active_units``,
``kl_per_dimension``, ``reconstruction_error``, and the disentanglement metrics below.
``tfae.evaluation.evaluate`` computes them by name.

The disentanglement metrics measure how well codes separate the known factors that generated the data.
They are also plain NumPy functions of arrays, following each paper's definition and, where a paper leaves a choice,
disentanglement_lib's implementation. ``codes`` is a float array of shape ``(n, latent_dim)``, ``factors``
an int array of shape ``(n, num_factors)`` of class indices.

- ``mig``: the Mutual Information Gap (Chen et al., 2018) in disentanglement_lib's convention, from a
  20-bin histogram of the posterior means; ``mig_gaps`` per factor, ``mutual_information_matrix`` behind them.
- ``mig_posterior``: the same gap as Chen et al. estimate it, from the full Gaussian posterior by Monte Carlo;
  ``mig_posterior_gaps`` per factor, ``posterior_mutual_information`` behind them.
- ``sap``: the Separated Attribute Predictability score (Kumar et al., 2018) in disentanglement_lib's
  convention (linear SVMs' test accuracy for discrete factors); ``sap_score_matrix`` behind it.
- ``dci``: disentanglement, completeness and informativeness (Eastwood and Williams, 2018) in
  disentanglement_lib's convention (informativeness is test accuracy, not their error);
  ``dci_from_importance`` from a given importance matrix.
- ``factor_vae_score`` (Kim and Mnih, 2018) and ``beta_vae_score`` (Higgins et al., 2017) sample a
  ``GroundTruthData`` with one factor held fixed and encode it (what they share is in ``ground_truth.py``);
  ``factor_vae_score_from_groups`` and ``beta_vae_score_from_pairs`` take codes already grouped.

The modules import only NumPy. The metrics that train classifiers (``sap`` on discrete factors, ``dci``,
the beta-VAE score) need scikit-learn: ``pip install "tfae[evaluation]"``.
"""

from tfae.metrics.active_units import ActiveUnits, active_units
from tfae.metrics.base import BaseMetric, Evaluation
from tfae.metrics.beta_vae_score import BetaVAEScore, beta_vae_score, beta_vae_score_from_pairs
from tfae.metrics.dci import DCI, DCIScores, dci, dci_from_importance
from tfae.metrics.factor_vae_score import FactorVAEScore, factor_vae_score, factor_vae_score_from_groups
from tfae.metrics.ground_truth import GroundTruthData
from tfae.metrics.importance import importance_weighted_pass
from tfae.metrics.kl_per_dimension import KLPerDimension
from tfae.metrics.log_likelihood import LogLikelihood, importance_weighted_log_likelihood
from tfae.metrics.mig import MIG, mig, mig_gaps, mutual_information_matrix
from tfae.metrics.mig_posterior import MIGPosterior, mig_posterior, mig_posterior_gaps, posterior_mutual_information
from tfae.metrics.negative_elbo import NegativeELBO
from tfae.metrics.reconstruction_error import ReconstructionError
from tfae.metrics.reconstruction_loss import ReconstructionLoss
from tfae.metrics.sap import SAP, sap, sap_score_matrix

__all__ = [
    "BaseMetric",
    "Evaluation",
    "LogLikelihood",
    "NegativeELBO",
    "ReconstructionLoss",
    "ReconstructionError",
    "ActiveUnits",
    "KLPerDimension",
    "MIG",
    "MIGPosterior",
    "SAP",
    "DCI",
    "FactorVAEScore",
    "BetaVAEScore",
    "importance_weighted_log_likelihood",
    "importance_weighted_pass",
    "active_units",
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
    "mig_posterior",
    "mig_posterior_gaps",
    "posterior_mutual_information",
    "mutual_information_matrix",
    "sap",
    "sap_score_matrix",
]
