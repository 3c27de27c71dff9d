"""The Separated Attribute Predictability (SAP) score of Kumar et al., "Variational Inference of Disentangled
Latent Concepts from Unlabeled Observations" (2018, Section 3), computed as in disentanglement_lib.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tfae.hookspecs import hookimpl
from tfae.metrics.base import BaseMetric, Evaluation
from tfae.metrics.discretize import (
    check_codes,
    check_factors,
    check_integer,
    check_same_length,
    require_scikit_learn,
    require_two_classes,
    split_train_test,
)

SVC_REGULARIZATION = 0.01
"""``C`` of each linear SVM, as disentanglement_lib."""

ZERO_VARIANCE = 1e-12
"""A code dimension whose variance is at most this is constant and scores R^2 = 0, as disentanglement_lib."""


def sap_score_matrix(
    codes: ArrayLike,
    factors: ArrayLike,
    codes_test: ArrayLike | None = None,
    factors_test: ArrayLike | None = None,
    continuous_factors: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """How well each single code dimension predicts each factor.

    For discrete factors, the score is the test accuracy of a linear SVM (``LinearSVC(C=0.01,
    class_weight="balanced")``) trained on that one dimension; for continuous factors, the R^2 of a linear
    regression of the factor on that dimension over the training rows (``0`` for a constant dimension).

    Args:
        codes: float array of shape ``(n, latent_dim)``.
        factors: array of shape ``(n, num_factors)``: int class indices, or floats when
            ``continuous_factors``.
        codes_test: the codes the SVMs are tested on; with ``factors_test``, or neither. When neither is
            given, a permutation of the rows drawn from ``seed`` takes 2/3 of them (rounded up) to train and
            the rest to test.
        factors_test: the factors of ``codes_test``.
        continuous_factors: score with R^2 instead of classifiers (no test set is used).
        seed: seeds the train/test split.

    Returns:
        A float array of shape ``(latent_dim, num_factors)``.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> factors = rng.normal(size=(500, 2))
    >>> codes = factors[:, ::-1] + 0.1 * rng.normal(size=(500, 2))
    >>> sap_score_matrix(codes, factors, continuous_factors=True).round(1).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    codes = check_codes(codes)
    factors = check_factors(factors, continuous=continuous_factors)
    check_same_length(codes, factors)
    check_integer(seed, "seed", 0)
    if continuous_factors:
        if codes_test is not None or factors_test is not None:
            raise ValueError(
                "With continuous_factors=True, SAP scores each pair by R^2 on `codes` and `factors` alone; "
                "leave `codes_test` and `factors_test` out."
            )
        return _r_squared(codes, factors)
    return _classifier_accuracy(*split_train_test(codes, factors, codes_test, factors_test, seed))


def sap(
    codes: ArrayLike,
    factors: ArrayLike,
    codes_test: ArrayLike | None = None,
    factors_test: ArrayLike | None = None,
    continuous_factors: bool = False,
    seed: int = 0,
) -> float:
    """The SAP score: the mean over factors of the gap between the two best single-dimension predictors.

    The scores are ``sap_score_matrix``'s: for discrete factors, the test accuracy of a linear SVM on one
    code dimension (which needs scikit-learn: ``pip install "tfae[evaluation]"``); for continuous
    factors, the R^2 of a linear regression.

    disentanglement_lib's convention (``sap_score.py`` there), not a thresholded classifier's: a linear SVM
    on one dimension can tell apart little more than the classes at the two ends of its range, so a
    perfectly disentangled code with many-valued discrete factors scores low. Measured (tfae, 2026-12-07)
    on a code that is the factors themselves, each scaled to [-0.5, 0.5], 3,000 samples, two seeds: with
    dSprites' factor sizes (3, 6, 40, 32, 32) ``sap`` is 0.18 (0.177, 0.178; the best dimension's accuracy
    is 1.0 for the 3-valued factor, 0.34 for the 6-valued, 0.05 to 0.07 for the others), and a classifier
    that cuts the one dimension into intervals (a decision tree, scored on the same held-out third) gives
    0.87; with factor sizes (3, 4, 5), 0.37 and 0.72. Kumar et al.'s text for discrete factors was not
    checked here; use ``continuous_factors=True`` for ordered factors, or ``mig`` and ``dci``, to compare
    codes across factors of many values.

    Args:
        codes: float array of shape ``(n, latent_dim)``, with ``latent_dim >= 2``.
        factors: array of shape ``(n, num_factors)``: int class indices, or floats when
            ``continuous_factors``.
        codes_test: the codes the SVMs are tested on; with ``factors_test``, or neither. When neither is
            given, a permutation of the rows drawn from ``seed`` takes 2/3 of them (rounded up) to train and
            the rest to test.
        factors_test: the factors of ``codes_test``.
        continuous_factors: score with R^2 instead of classifiers.
        seed: seeds the train/test split.

    Returns:
        The SAP score, a float in [0, 1].

    Example:

    >>> rng = np.random.default_rng(0)
    >>> factors = rng.normal(size=(500, 2))
    >>> codes = factors + 0.1 * rng.normal(size=(500, 2))
    >>> round(sap(codes, factors, continuous_factors=True), 1)
    1.0
    """
    codes = check_codes(codes)
    if codes.shape[1] < 2:
        raise ValueError(
            "SAP compares the two code dimensions that best predict each factor, so it needs latent_dim >= 2. "
            f"Received: codes.shape={codes.shape}"
        )
    scores = sap_score_matrix(codes, factors, codes_test, factors_test, continuous_factors, seed)
    ordered = np.sort(scores, axis=0)
    return float(np.mean(ordered[-1] - ordered[-2]))


def _r_squared(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for dim in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            covariance = np.cov(codes[:, dim], factors[:, k], ddof=1)
            if covariance[0, 0] > ZERO_VARIANCE and covariance[1, 1] > 0.0:
                scores[dim, k] = covariance[0, 1] ** 2 / (covariance[0, 0] * covariance[1, 1])
    return scores


def _classifier_accuracy(
    codes: np.ndarray, factors: np.ndarray, test_codes: np.ndarray, test_factors: np.ndarray
) -> np.ndarray:
    require_scikit_learn("SAP with discrete factors")
    from sklearn.svm import LinearSVC

    require_two_classes(factors)
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for dim in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            # One feature and many rows: the primal problem is the small one (disentanglement_lib's default
            # solver, the dual, reaches the same optimum).
            classifier = LinearSVC(C=SVC_REGULARIZATION, class_weight="balanced", dual=False)
            classifier.fit(codes[:, dim : dim + 1], factors[:, k])
            scores[dim, k] = np.mean(classifier.predict(test_codes[:, dim : dim + 1]) == test_factors[:, k])
    return scores


class SAP(BaseMetric):
    """``sap``: the Separated Attribute Predictability score of the posterior means (``sap``), in
    disentanglement_lib's convention (linear SVMs on one dimension; see ``sap`` for what that scores)."""

    needs = ("factors",)

    def __init__(self, continuous_factors: bool = False) -> None:
        self.continuous_factors = bool(continuous_factors)

    def compute(self, evaluation: Evaluation) -> float:
        assert evaluation.factors is not None
        return sap(
            evaluation.codes, evaluation.factors, continuous_factors=self.continuous_factors, seed=evaluation.seed
        )

    def get_config(self) -> dict[str, Any]:
        return {"continuous_factors": self.continuous_factors}


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(SAP, name="sap")
