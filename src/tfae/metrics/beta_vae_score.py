"""The beta-VAE disentanglement metric of Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a
Constrained Variational Framework" (2017), computed as disentanglement_lib's ``beta_vae_sklearn``: a
logistic regression from the mean absolute code difference of pairs to the factor they share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tfae.hookspecs import hookimpl
from tfae.metrics.discretize import check_integer, check_num_train, require_scikit_learn
from tfae.metrics.ground_truth import GroundTruthData, GroundTruthScore, chunk_sizes, encode_factors, sample_factors

MAX_ITERATIONS = 1000
"""Of the logistic regression: scikit-learn's default of 100 stops short on unscaled code differences."""


def beta_vae_score_from_pairs(
    codes_a: ArrayLike,
    codes_b: ArrayLike,
    fixed_factors: ArrayLike,
    num_train: int | None = None,
    seed: int = 0,
) -> float:
    """The beta-VAE score of batches of code pairs, each batch sharing the value of one factor.

    Each batch of pairs gives one point: the mean over the batch of ``|z_a - z_b|``, labelled with the
    factor the pairs share. A ``sklearn.linear_model.LogisticRegression`` trained on the first
    ``num_train`` points is scored on the rest. Needs scikit-learn: ``pip install "tfae[evaluation]"``.

    Args:
        codes_a: float array of shape ``(num_points, batch_size, latent_dim)``.
        codes_b: float array of the same shape: ``codes_b[i, j]`` shares factor ``fixed_factors[i]``
            with ``codes_a[i, j]``.
        fixed_factors: int array of shape ``(num_points,)``: the factor shared in each batch.
        num_train: how many of the points, the first ones, train the classifier; by default 2/3 of them
            (rounded up), as disentanglement_lib's 10,000 of 15,000.
        seed: the classifier's ``random_state``.

    Returns:
        The accuracy on the held-out points, a float in [0, 1].

    Example:

    >>> rng = np.random.default_rng(0)
    >>> fixed = np.arange(60) % 2
    >>> codes_a = rng.normal(size=(60, 8, 2))
    >>> codes_b = rng.normal(size=(60, 8, 2))
    >>> codes_b[fixed == 0, :, 0] = codes_a[fixed == 0, :, 0]
    >>> codes_b[fixed == 1, :, 1] = codes_a[fixed == 1, :, 1]
    >>> beta_vae_score_from_pairs(codes_a, codes_b, fixed)
    1.0
    """
    first = np.asarray(codes_a, dtype=np.float64)
    second = np.asarray(codes_b, dtype=np.float64)
    fixed = np.asarray(fixed_factors)
    if first.ndim != 3 or first.shape != second.shape or 0 in first.shape:
        raise ValueError(
            "`codes_a` and `codes_b` must be non-empty arrays of one shape, (num_points, batch_size, latent_dim). "
            f"Received: codes_a.shape={first.shape}, codes_b.shape={second.shape}"
        )
    if fixed.shape != first.shape[:1] or not np.issubdtype(fixed.dtype, np.integer):
        raise ValueError(
            f"`fixed_factors` must be an int array with one factor index per point, of shape {first.shape[:1]}. "
            f"Received: fixed_factors.shape={fixed.shape}, dtype={fixed.dtype}"
        )
    if not (np.all(np.isfinite(first)) and np.all(np.isfinite(second))):
        raise ValueError("`codes_a` and `codes_b` must be finite; they hold NaN or inf.")
    features = np.mean(np.abs(first - second), axis=1)
    return _classifier_accuracy(features, fixed, check_num_train(num_train, fixed.shape[0], "points"), seed)


def beta_vae_score(
    encode: Callable[[Any], Any],
    data: GroundTruthData,
    num_train: int = 10000,
    num_eval: int = 5000,
    batch_size: int = 64,
    seed: int = 0,
) -> float:
    """The beta-VAE score of an encoder on a dataset with known factors.

    Each point draws a factor uniformly and ``batch_size`` pairs of observations that share its value (the
    other factors drawn afresh for each observation); see ``beta_vae_score_from_pairs``. The defaults are
    disentanglement_lib's. Needs scikit-learn: ``pip install "tfae[evaluation]"``.

    Higgins et al.'s metric in disentanglement_lib's convention (``beta_vae.py`` there): the linear
    classifier is a scikit-learn logistic regression, and the score is its accuracy on the ``num_eval``
    held-out points (disentanglement_lib's ``eval_accuracy``).

    Args:
        encode: a function from a batch of observations to codes of shape ``(batch, latent_dim)``, such as
            ``model.encoder.predict``.
        data: the dataset, with ``factor_sizes``, ``sample_factors`` and ``render`` (``GroundTruthData``).
        num_train: the points that train the classifier.
        num_eval: the points it is scored on.
        batch_size: the pairs averaged into each point.
        seed: seeds every draw and the classifier.

    Returns:
        The accuracy on the ``num_eval`` points, a float in [0, 1].

    Example:

    >>> class Grid:
    ...     factor_sizes = (3, 4)
    ...     def sample_factors(self, n, rng):
    ...         return rng.integers(0, self.factor_sizes, size=(n, 2))
    ...     def render(self, factors):
    ...         return factors.astype("float32")
    >>> beta_vae_score(lambda x: x, Grid(), num_train=100, num_eval=50)
    1.0
    """
    num_train = check_integer(num_train, "num_train", 1)
    num_eval = check_integer(num_eval, "num_eval", 1)
    batch_size = check_integer(batch_size, "batch_size", 1)
    rng = np.random.default_rng(check_integer(seed, "seed", 0))
    num_factors = len(data.factor_sizes)
    features, fixed = [], []
    for points in chunk_sizes(num_train + num_eval, 2 * batch_size):
        factor_index = rng.integers(num_factors, size=points)
        factors = sample_factors(data, 2 * points * batch_size, rng).reshape(2, points, batch_size, num_factors)
        rows = np.arange(points)
        factors[1, rows, :, factor_index] = factors[0, rows, :, factor_index]
        codes = encode_factors(encode, data, factors.reshape(-1, num_factors))
        codes = codes.reshape(2, points, batch_size, -1)
        features.append(np.mean(np.abs(codes[0] - codes[1]), axis=1))
        fixed.append(factor_index)
    return _classifier_accuracy(np.concatenate(features), np.concatenate(fixed), num_train, seed)


def _classifier_accuracy(features: np.ndarray, labels: np.ndarray, num_train: int, seed: int) -> float:
    require_scikit_learn("The beta-VAE score")
    from sklearn.linear_model import LogisticRegression

    if np.unique(labels[:num_train]).shape[0] < 2:
        raise ValueError(
            f"The training points must share at least two different factors, to train a classifier. "
            f"Received: factor {labels[0]} in all {num_train} of them."
        )
    classifier = LogisticRegression(random_state=seed, max_iter=MAX_ITERATIONS)
    classifier.fit(features[:num_train], labels[:num_train])
    return float(np.mean(classifier.predict(features[num_train:]) == labels[num_train:]))


class BetaVAEScore(GroundTruthScore):
    """``beta_vae_score``: the beta-VAE score of the model's encoder on data that renders chosen factors,
    in disentanglement_lib's convention (see ``beta_vae_score``)."""

    score = beta_vae_score


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(BetaVAEScore, name="beta_vae_score")
