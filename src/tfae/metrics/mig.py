"""The Mutual Information Gap (MIG) of Chen et al., "Isolating Sources of Disentanglement in Variational
Autoencoders" (2018), estimated as in disentanglement_lib: codes binned into equal-width bins.

Chen et al. estimate the same quantity from the full posterior instead: that is ``mig_posterior``
(``mig_posterior.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation
from tfae.metrics.discretize import (
    check_bins,
    check_codes,
    check_factors,
    check_same_length,
    discrete_entropy,
    discrete_mutual_information,
    histogram_discretize,
)

DEFAULT_BINS = 20


def mutual_information_matrix(codes: ArrayLike, factors: ArrayLike, bins: int = DEFAULT_BINS) -> np.ndarray:
    """The mutual information, in nats, between each binned code dimension and each factor.

    Args:
        codes: float array of shape ``(n, latent_dim)``.
        factors: int array of shape ``(n, num_factors)`` of class indices.
        bins: each code dimension is cut into this many equal-width bins over its range.

    Returns:
        A float array of shape ``(latent_dim, num_factors)``.

    Example:

    >>> factors = np.array([[0], [0], [1], [1]])
    >>> mutual_information_matrix(factors.astype(float), factors, bins=2).round(4).tolist()
    [[0.6931]]
    """
    codes, factors = _check(codes, factors, bins)
    return _mutual_information(histogram_discretize(codes, bins), factors)


def mig_gaps(codes: ArrayLike, factors: ArrayLike, bins: int = DEFAULT_BINS) -> np.ndarray:
    """The gap of each factor: the two largest mutual informations with a code dimension, their difference
    divided by the factor's entropy.

    Args:
        codes: float array of shape ``(n, latent_dim)``, with ``latent_dim >= 2``.
        factors: int array of shape ``(n, num_factors)`` of class indices; each factor takes at least two
            values in the sample.
        bins: each code dimension is cut into this many equal-width bins over its range.

    Returns:
        A float array of shape ``(num_factors,)`` with values in [0, 1]; ``mig`` is its mean.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(1000, 2))
    >>> mig_gaps(factors + 0.01 * rng.normal(size=(1000, 2)), factors).round(2).tolist()
    [1.0, 1.0]
    """
    codes, factors = _check(codes, factors, bins)
    entropies = factor_entropies(factors, codes, "codes")
    return normalised_gaps(_mutual_information(histogram_discretize(codes, bins), factors), entropies)


def factor_entropies(factors: np.ndarray, codes: np.ndarray, name: str) -> np.ndarray:
    """The empirical entropy of each factor, after the checks that MIG needs: ``codes`` (named ``name``) of two
    dimensions or more, and factors that are not constant (their entropy divides the gap)."""
    if codes.shape[1] < 2:
        raise ValueError(
            f"MIG compares the two code dimensions most informative of each factor, so it needs latent_dim >= 2. "
            f"Received: {name}.shape={codes.shape}"
        )
    entropies = np.array([discrete_entropy(factors[:, k]) for k in range(factors.shape[1])])
    constant = np.flatnonzero(entropies == 0.0)
    if constant.size:
        raise ValueError(
            f"Each factor must take at least two values in the sample, since MIG divides by its entropy. "
            f"Received: factors[:, {constant[0]}] is constant ({factors[0, constant[0]]})."
        )
    return entropies


def normalised_gaps(information: np.ndarray, entropies: np.ndarray) -> np.ndarray:
    """Each factor's gap: the two largest mutual informations ``(latent_dim, num_factors)`` over the code
    dimensions, their difference divided by the factor's entropy."""
    information = np.sort(information, axis=0)
    return (information[-1] - information[-2]) / entropies


def mig(codes: ArrayLike, factors: ArrayLike, bins: int = DEFAULT_BINS) -> float:
    """The Mutual Information Gap: the mean over factors of ``mig_gaps``.

    For each factor, the mutual information with every code dimension (binned into ``bins`` equal-width
    bins) is computed; the gap between the largest two, divided by the factor's entropy, says how much
    the factor lives in one dimension alone.

    disentanglement_lib's convention (``mig.py`` there, ``discretizer_fn`` a 20-bin histogram), not Chen
    et al.'s: the mutual information is that of a 20-bin histogram of the codes (the posterior means),
    which sees nothing of the posterior's variance. Chen et al. estimate it from the full posterior, by
    Monte Carlo: ``mig_posterior``. The two agree where the posteriors are narrow beside the spread of
    their means; where the posteriors overlap, the histogram of the means counts information that the
    codes the decoder receives do not carry.

    Args:
        codes: float array of shape ``(n, latent_dim)``, with ``latent_dim >= 2``.
        factors: int array of shape ``(n, num_factors)`` of class indices.
        bins: each code dimension is cut into this many equal-width bins over its range; 20 as
            disentanglement_lib.

    Returns:
        The MIG, a float in [0, 1]: 1 when each factor is read off one dimension and no other.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(1000, 2))
    >>> round(mig(factors + 0.01 * rng.normal(size=(1000, 2)), factors), 2)
    1.0
    """
    return float(np.mean(mig_gaps(codes, factors, bins)))


def _check(codes: ArrayLike, factors: ArrayLike, bins: int) -> tuple[np.ndarray, np.ndarray]:
    check_bins(bins)
    codes = check_codes(codes)
    factors = check_factors(factors)
    check_same_length(codes, factors)
    return codes, factors


def _mutual_information(discrete_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    return np.array(
        [
            [discrete_mutual_information(discrete_codes[:, dim], factors[:, k]) for k in range(factors.shape[1])]
            for dim in range(discrete_codes.shape[1])
        ]
    )


class MIG(BaseMetric):
    """``mig``: the Mutual Information Gap of the posterior means and the data's factors (``mig``), in
    disentanglement_lib's convention (a 20-bin histogram of the means); ``mig_posterior`` is Chen et al.'s."""

    needs = ("factors",)

    def __init__(self, bins: int = DEFAULT_BINS) -> None:
        self.bins = check_bins(bins)

    def compute(self, evaluation: Evaluation) -> float:
        assert evaluation.factors is not None  # `needs` has it checked
        return mig(evaluation.codes, evaluation.factors, self.bins)

    def get_config(self) -> dict[str, Any]:
        return {"bins": self.bins}


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(MIG, name="mig")
