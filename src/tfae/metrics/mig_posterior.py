"""The Mutual Information Gap as Chen et al. estimate it, from the full posterior: Chen, Li, Grosse and
Duvenaud, "Isolating Sources of Disentanglement in Variational Autoencoders" (2018), its definition of the
Mutual Information Gap, and the authors' code (rtqichen/beta-tcvae, ``disentanglement_metrics.py``).

``mig`` (``mig.py``) is disentanglement_lib's estimate of the same quantity, from a 20-bin histogram of the
posterior means. This one keeps the posterior: each code dimension's aggregate posterior is the mixture
``q(z_j) = 1/N sum_n q(z_j | x_n)``, and

    I(z_j; v_k) = H(z_j) - H(z_j | v_k),    H(z_j) = E_{x, z ~ q(z | x)}[-log q(z_j)],
    H(z_j | v_k) = sum_a p(v_k = a) E_{x: v_k = a, z ~ q(z | x)}[-log q(z_j | v_k = a)],

where ``q(z_j | v_k = a)`` is the mixture over the samples whose factor ``k`` has the value ``a``. Both
entropies are Monte Carlo estimates over one code drawn from each sample's posterior, as the authors'.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation
from tfae.metrics.discretize import check_codes, check_factors, check_integer, check_same_length
from tfae.metrics.mig import factor_entropies, normalised_gaps

MAX_ENTROPY_SAMPLES = 10000
"""The most codes each entropy is estimated from, as the authors' ``n_samples``: a group of more samples is
scored on this many of its codes, drawn at random, against the mixture of all its posteriors."""

DENSITIES_PER_CHUNK = 2**22
"""How many log-densities ``log q(z_j | x_n)`` are computed at once (float64: 32 MiB an array, about 100 MiB
with the temporaries), whatever the data's size: the work is ``codes x posteriors x latent_dim`` densities,
done this many at a time."""

MAX_ABS_LOG_VARIANCE = 600.0
"""The largest log-variance, either sign, that the float64 densities can take: ``exp(600)`` is 3.8e260,
and past ``exp(709)`` float64 overflows."""

_LOG_2PI = math.log(2.0 * math.pi)


def posterior_mutual_information(
    mean: ArrayLike,
    log_variance: ArrayLike,
    factors: ArrayLike,
    samples: int = MAX_ENTROPY_SAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """The mutual information, in nats, between each code dimension and each factor, from the posterior.

    ``I(z_j; v_k) = H(z_j) - H(z_j | v_k)``, each entropy a Monte Carlo estimate over one code drawn from
    the Gaussian posterior ``N(mean, exp(log_variance))`` of each sample, against the mixture of the
    posteriors of all the samples (``H(z_j)``) or of those sharing a factor's value (``H(z_j | v_k)``,
    averaged over the values with their frequencies as weights). Negative estimates are set to 0, as the
    authors'. The codes are ``mean + exp(log_variance / 2) * eps``, with ``eps`` the first draw of
    ``numpy.random.default_rng(seed).standard_normal(mean.shape)``; later draws of that generator choose the
    codes of groups larger than ``samples``.

    Args:
        mean: the posterior means, a float array of shape ``(n, latent_dim)``.
        log_variance: the posterior log-variances, of the same shape.
        factors: int array of shape ``(n, num_factors)`` of class indices.
        samples: the most codes each entropy is estimated from (``MAX_ENTROPY_SAMPLES``, the authors'
            10,000); a larger group is scored on this many of its codes, drawn at random.
        seed: seeds the codes drawn and the choice of codes.

    Returns:
        A float array of shape ``(latent_dim, num_factors)``.

    Example:

    >>> factors = np.repeat([[0], [1]], 50, axis=0)
    >>> information = posterior_mutual_information(factors.astype(float), np.full((100, 1), -10.0), factors)
    >>> information.round(4).tolist()
    [[0.6931]]
    """
    mean, log_variance, factors, samples = _check(mean, log_variance, factors, samples)
    rng = np.random.default_rng(check_integer(seed, "seed", 0))
    codes = mean + np.exp(0.5 * log_variance) * rng.standard_normal(mean.shape)
    marginal = _entropy(codes, mean, log_variance, samples, rng)
    information = np.zeros((mean.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        values, groups = np.unique(factors[:, k], return_inverse=True)
        conditional = np.zeros(mean.shape[1])
        for value in range(values.shape[0]):
            rows = np.flatnonzero(groups == value)
            weight = rows.shape[0] / mean.shape[0]
            conditional += weight * _entropy(codes[rows], mean[rows], log_variance[rows], samples, rng)
        information[:, k] = np.maximum(marginal - conditional, 0.0)
    return information


def mig_posterior_gaps(
    mean: ArrayLike,
    log_variance: ArrayLike,
    factors: ArrayLike,
    samples: int = MAX_ENTROPY_SAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """The gap of each factor: the two largest of ``posterior_mutual_information`` over code dimensions,
    their difference divided by the factor's empirical entropy.

    Args:
        mean: the posterior means, a float array of shape ``(n, latent_dim)``, with ``latent_dim >= 2``.
        log_variance: the posterior log-variances, of the same shape.
        factors: int array of shape ``(n, num_factors)`` of class indices; each factor takes at least two
            values in the sample.
        samples: the most codes each entropy is estimated from.
        seed: seeds the codes drawn and the choice of codes.

    Returns:
        A float array of shape ``(num_factors,)``; ``mig_posterior`` is its mean.
    """
    mean, log_variance, factors, samples = _check(mean, log_variance, factors, samples)
    entropies = factor_entropies(factors, mean, "mean")
    return normalised_gaps(posterior_mutual_information(mean, log_variance, factors, samples, seed), entropies)


def mig_posterior(
    mean: ArrayLike,
    log_variance: ArrayLike,
    factors: ArrayLike,
    samples: int = MAX_ENTROPY_SAMPLES,
    seed: int = 0,
) -> float:
    """The Mutual Information Gap of Chen et al. (2018) as they estimate it: from the full posterior.

    Chen et al.'s convention (their paper's definition and their code): the mutual information of each
    code dimension and each factor is estimated from the Gaussian posteriors themselves, by Monte Carlo over
    one code drawn from each sample's posterior (``posterior_mutual_information``); the gap between the largest two,
    divided by the factor's entropy, is averaged over the factors. ``mig`` is disentanglement_lib's
    convention instead, a 20-bin histogram of the means, which sees nothing of the variances: a dimension
    whose posteriors are as wide as the prior carries no information here, whatever its means do. The other
    way round, narrow posteriors whose means differ from sample to sample identify each sample, and so
    carry every factor, in every such dimension: the gap shrinks, as the definition says it should (means
    that are 4-valued factors plus noise of 0.1, at a log-variance of -12, score 0.78; without the noise,
    1.0).

    The work is ``n x n x latent_dim`` densities for the marginal entropies (fewer per factor), done in
    chunks of ``DENSITIES_PER_CHUNK``, so that memory stays near 100 MiB whatever ``n`` is; ``samples``
    caps the first ``n``.

    Args:
        mean: the posterior means, a float array of shape ``(n, latent_dim)``, with ``latent_dim >= 2``.
        log_variance: the posterior log-variances, of the same shape, each within ±``MAX_ABS_LOG_VARIANCE``.
        factors: int array of shape ``(n, num_factors)`` of class indices.
        samples: the most codes each entropy is estimated from (the authors' 10,000).
        seed: seeds the codes drawn and the choice of codes.

    Returns:
        The MIG, a float: near 1 when each factor is read off one dimension and no other, near 0 when no
        dimension tells one factor more than another dimension does. As an estimate it can stray a little
        outside [0, 1].

    Example:

    >>> factors = np.random.default_rng(0).integers(0, 4, size=(1000, 2))
    >>> round(mig_posterior(factors.astype(float), np.full((1000, 2), -12.0), factors), 2)
    1.0
    """
    return float(np.mean(mig_posterior_gaps(mean, log_variance, factors, samples, seed)))


def _check(
    mean: ArrayLike, log_variance: ArrayLike, factors: ArrayLike, samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    samples = check_integer(samples, "samples", 1)
    mean = check_codes(mean, "mean")
    log_variance = check_codes(log_variance, "log_variance")
    if log_variance.shape != mean.shape:
        raise ValueError(
            "`mean` and `log_variance` must be the parameters of one posterior per sample, of one shape "
            f"(n, latent_dim). Received: mean.shape={mean.shape}, log_variance.shape={log_variance.shape}"
        )
    largest = float(np.max(np.abs(log_variance)))
    if largest > MAX_ABS_LOG_VARIANCE:
        raise ValueError(
            f"`log_variance` must lie within ±{MAX_ABS_LOG_VARIANCE:g} (MAX_ABS_LOG_VARIANCE), where float64 "
            f"can take the variance and its inverse. Received: a log-variance of magnitude {largest:.4g}; "
            "such a posterior has diverged: retrain the model."
        )
    factors = check_factors(factors)
    check_same_length(mean, factors, ("mean", "factors"))
    return mean, log_variance, factors, samples


def _entropy(
    codes: np.ndarray, mean: np.ndarray, log_variance: np.ndarray, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """``E[-log q(z_j)]`` per dimension, ``q(z_j)`` the mixture of the ``m`` posteriors given, estimated on
    their codes (on ``samples`` of them, drawn without replacement, when there are more)."""
    count, dims = mean.shape
    if codes.shape[0] > samples:
        codes = codes[rng.choice(codes.shape[0], size=samples, replace=False)]
    precision = np.exp(-log_variance)
    normaliser = -0.5 * (_LOG_2PI + log_variance)
    # A chunk is (rows codes) x (width posteriors) x dims; the mixture is summed over widths as it goes.
    width = min(count, max(1, DENSITIES_PER_CHUNK // dims))
    rows = max(1, DENSITIES_PER_CHUNK // (width * dims))
    total = np.zeros(dims)
    for start in range(0, codes.shape[0], rows):
        chunk = codes[start : start + rows, None, :]
        running = np.full((chunk.shape[0], dims), -np.inf)
        for first in range(0, count, width):
            part = slice(first, first + width)
            log_q = normaliser[part] - 0.5 * np.square(chunk - mean[part]) * precision[part]
            running = np.logaddexp(running, _logsumexp(log_q))
        total += np.sum(math.log(count) - running, axis=0)
    return total / codes.shape[0]


def _logsumexp(values: np.ndarray) -> np.ndarray:
    """``log sum exp`` over axis 1 of a ``(rows, width, dims)`` array; ``-inf`` where every term is."""
    top = np.max(values, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.sum(np.exp(values - safe[:, None, :]), axis=1))


class MIGPosterior(BaseMetric):
    """``mig_posterior``: Chen et al.'s own MIG, from the Gaussian posterior of each sample (``mig_posterior``).

    The convention of Chen et al. (2018) and their code, where ``mig`` follows disentanglement_lib's
    histogram of the means. The posterior's parameters come from the model's encoder
    (``Evaluation.posterior_parameters``), so the model needs a Gaussian bottleneck.

    Args:
        samples: the most codes each entropy is estimated from (``MAX_ENTROPY_SAMPLES``).
    """

    needs = ("variational", "factors")

    def __init__(self, samples: int = MAX_ENTROPY_SAMPLES) -> None:
        self.samples = check_integer(samples, "samples", 1)

    def missing(self, evaluation: Evaluation) -> list[str]:
        lacking = super().missing(evaluation)
        bottleneck = evaluation.model.bottleneck
        if evaluation.variational and getattr(bottleneck, "distribution", None) != "gaussian":
            lacking.append(
                f"a Gaussian posterior (this model's bottleneck, {type(bottleneck).__name__}, has another); "
                "'mig' scores the codes of any model"
            )
        return lacking

    def compute(self, evaluation: Evaluation) -> float:
        assert evaluation.factors is not None  # `needs` has it checked
        mean, log_variance = evaluation.posterior_parameters()
        return mig_posterior(mean, log_variance, evaluation.factors, self.samples, evaluation.seed)

    def get_config(self) -> dict[str, Any]:
        return {"samples": self.samples}


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(MIGPosterior, name="mig_posterior")
