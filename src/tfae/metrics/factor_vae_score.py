"""The FactorVAE disentanglement metric of Kim and Mnih, "Disentangling by Factorising" (2018), computed as
in disentanglement_lib: a majority-vote classifier from the code dimension of least normalised variance to
the factor held fixed.

``GroundTruthData`` and what else the FactorVAE and beta-VAE scores share are in ``ground_truth.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tfae.hookspecs import hookimpl
from tfae.metrics.discretize import check_codes, check_integer, check_num_train, check_threshold
from tfae.metrics.ground_truth import GroundTruthData, GroundTruthScore, chunk_sizes, encode_factors, sample_factors

COLLAPSED_SCALE = 0.05
"""Dimensions whose standard deviation over the data is below this are left out: disentanglement_lib's
``prune_dims.threshold`` in its study configs (it compares the square root of the variance)."""


def factor_vae_score_from_groups(
    code_groups: Sequence[ArrayLike] | np.ndarray,
    fixed_factors: ArrayLike,
    scale: ArrayLike,
    num_train: int | None = None,
    threshold: float = COLLAPSED_SCALE,
) -> float:
    """The FactorVAE score of groups of codes that each share the value of one factor.

    Each group votes for the code dimension whose variance, divided by ``scale**2``, is smallest; the first
    ``num_train`` votes train a majority-vote classifier (each dimension maps to the factor that most often
    chose it, the lowest-numbered on a tie), and the score is its accuracy on the remaining votes.
    Dimensions whose ``scale`` is below ``threshold`` (collapsed) never vote.

    Args:
        code_groups: a sequence of float arrays of shape ``(group_size, latent_dim)`` (``group_size >= 2``),
            or one array of shape ``(num_groups, group_size, latent_dim)``.
        fixed_factors: int array of shape ``(num_groups,)``: the factor held fixed in each group.
        scale: float array of shape ``(latent_dim,)``: each dimension's standard deviation over the data.
        num_train: how many of the groups, the first ones, train the classifier; by default 2/3 of them
            (rounded up), as disentanglement_lib's 10,000 of 15,000.
        threshold: dimensions with ``scale`` below it are collapsed and left out; a finite number >= 0.

    Returns:
        The accuracy on the held-out groups, a float in [0, 1]; 0 when every dimension is collapsed.

    Example:

    >>> groups = [[[0.0, 1.0], [0.0, -1.0]], [[1.0, 0.0], [-1.0, 0.0]]] * 3
    >>> factor_vae_score_from_groups(groups, [0, 1] * 3, scale=[1.0, 1.0], num_train=4)
    1.0
    """
    scale = _check_scale(scale)
    threshold = check_threshold(threshold)
    fixed = np.asarray(fixed_factors)
    if fixed.ndim != 1 or not np.issubdtype(fixed.dtype, np.integer) or np.any(fixed < 0):
        raise ValueError(
            "`fixed_factors` must be a 1-D array of non-negative factor indices, one per group. "
            f"Received: fixed_factors.shape={fixed.shape}, dtype={fixed.dtype}"
        )
    if len(code_groups) != fixed.shape[0]:
        raise ValueError(
            f"`code_groups` and `fixed_factors` must have one entry per group each. "
            f"Received: {len(code_groups)} groups, fixed_factors.shape={fixed.shape}"
        )
    num_train = check_num_train(num_train, fixed.shape[0], "groups")
    active = scale >= threshold
    if not np.any(active):
        return 0.0
    groups = [check_codes(group, f"code_groups[{i}]") for i, group in enumerate(code_groups)]
    for i, group in enumerate(groups):
        if group.shape[0] < 2 or group.shape[1] != scale.shape[0]:
            raise ValueError(
                f"Each group must hold at least 2 codes of latent_dim={scale.shape[0]} (the length of `scale`). "
                f"Received: code_groups[{i}].shape={group.shape}"
            )
    dims = np.array([_lowest_variance_dims(group[np.newaxis], scale, active)[0] for group in groups])
    return _vote_accuracy(dims, fixed, num_train, scale.shape[0])


def factor_vae_score(
    encode: Callable[[Any], Any],
    data: GroundTruthData,
    num_train: int = 10000,
    num_eval: int = 5000,
    batch_size: int = 64,
    num_variance_estimate: int = 10000,
    threshold: float = COLLAPSED_SCALE,
    seed: int = 0,
) -> float:
    """The FactorVAE score of an encoder on a dataset with known factors.

    The standard deviation of each code dimension is estimated on ``num_variance_estimate`` observations.
    Then each vote draws a factor uniformly, renders ``batch_size`` observations that share its value (the
    other factors drawn afresh), and votes for the code dimension of least normalised variance; see
    ``factor_vae_score_from_groups``. The defaults are disentanglement_lib's.

    Kim and Mnih's metric in disentanglement_lib's convention (``factor_vae.py`` there): a dimension has
    collapsed when its standard deviation over the data is below ``threshold`` (0.05) and never votes, and
    the score is the majority-vote classifier's accuracy on the ``num_eval`` held-out votes
    (disentanglement_lib's ``eval_accuracy``).

    Args:
        encode: a function from a batch of observations to codes of shape ``(batch, latent_dim)``, such as
            ``model.encoder.predict``.
        data: the dataset, with ``factor_sizes``, ``sample_factors`` and ``render`` (``GroundTruthData``).
        num_train: the votes that train the majority-vote classifier.
        num_eval: the votes it is scored on.
        batch_size: the observations per vote (at least 2).
        num_variance_estimate: the observations the scale of each dimension is estimated on.
        threshold: dimensions whose standard deviation is below it are collapsed and left out; a finite
            number >= 0 (a NaN would leave every dimension out and score 0).
        seed: seeds every draw.

    Returns:
        The accuracy on the ``num_eval`` votes, a float in [0, 1].

    Example:

    >>> class Grid:
    ...     factor_sizes = (3, 4)
    ...     def sample_factors(self, n, rng):
    ...         return rng.integers(0, self.factor_sizes, size=(n, 2))
    ...     def render(self, factors):
    ...         return factors.astype("float32")
    >>> factor_vae_score(lambda x: x, Grid(), num_train=100, num_eval=50, num_variance_estimate=500)
    1.0
    """
    num_train = check_integer(num_train, "num_train", 1)
    num_eval = check_integer(num_eval, "num_eval", 1)
    batch_size = check_integer(batch_size, "batch_size", 2)
    num_variance_estimate = check_integer(num_variance_estimate, "num_variance_estimate", 2)
    threshold = check_threshold(threshold)
    rng = np.random.default_rng(check_integer(seed, "seed", 0))
    num_factors = len(data.factor_sizes)
    scale = np.std(encode_factors(encode, data, sample_factors(data, num_variance_estimate, rng)), axis=0, ddof=1)
    active = scale >= threshold
    if not np.any(active):
        return 0.0
    dims, fixed = [], []
    for groups in chunk_sizes(num_train + num_eval, batch_size):
        factor_index = rng.integers(num_factors, size=groups)
        factors = sample_factors(data, groups * batch_size, rng).reshape(groups, batch_size, num_factors)
        factors[np.arange(groups), :, factor_index] = factors[np.arange(groups), 0, factor_index][:, np.newaxis]
        codes = encode_factors(encode, data, factors.reshape(-1, num_factors))
        dims.append(_lowest_variance_dims(codes.reshape(groups, batch_size, -1), scale, active))
        fixed.append(factor_index)
    return _vote_accuracy(np.concatenate(dims), np.concatenate(fixed), num_train, scale.shape[0])


def _lowest_variance_dims(code_groups: np.ndarray, scale: np.ndarray, active: np.ndarray) -> np.ndarray:
    """For each group of an array ``(num_groups, group_size, latent_dim)``, the active dimension of least
    variance divided by ``scale**2``."""
    normalised = np.var(code_groups[:, :, active], axis=1, ddof=1) / scale[active] ** 2
    return np.flatnonzero(active)[np.argmin(normalised, axis=1)]


def _vote_accuracy(dims: np.ndarray, fixed: np.ndarray, num_train: int, latent_dim: int) -> float:
    votes = np.zeros((int(fixed.max()) + 1, latent_dim), dtype=np.int64)
    np.add.at(votes, (fixed[:num_train], dims[:num_train]), 1)
    classifier = np.argmax(votes, axis=0)
    return float(np.mean(classifier[dims[num_train:]] == fixed[num_train:]))


def _check_scale(scale: ArrayLike) -> np.ndarray:
    array = np.asarray(scale, dtype=np.float64)
    if array.ndim != 1 or array.shape[0] == 0 or not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(
            "`scale` must be a 1-D array of finite, non-negative standard deviations, one per code dimension. "
            f"Received: scale={array}"
        )
    return array


class FactorVAEScore(GroundTruthScore):
    """``factor_vae_score``: the FactorVAE score of the model's encoder on data that renders chosen factors,
    in disentanglement_lib's convention (see ``factor_vae_score``)."""

    score = factor_vae_score


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(FactorVAEScore, name="factor_vae_score")
