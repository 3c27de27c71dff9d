"""Disentanglement, completeness and informativeness (DCI) of Eastwood and Williams, "A Framework for the
Quantitative Evaluation of Disentangled Representations" (2018), with the gradient-boosted trees of
disentanglement_lib.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

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


class DCIScores(TypedDict):
    """What ``dci`` returns."""

    disentanglement: float
    completeness: float
    informativeness: float
    importance: np.ndarray


def dci_from_importance(importance: ArrayLike) -> dict[str, float]:
    """Disentanglement and completeness from an importance matrix.

    With ``P`` the importance normalised along a row (over factors) and ``P~`` along a column (over code
    dimensions): a dimension's disentanglement is ``1 - H_K(P_i.)`` (entropy in base K, the number of
    factors), a factor's completeness ``1 - H_D(P~_.j)`` (base D, the number of dimensions). The
    disentanglement is their mean weighted by each dimension's share of the total importance, and the
    completeness, as disentanglement_lib's, by each factor's share; the trees' importances sum to 1 per
    factor, so there it is the plain mean. A row or column of zeros scores 0, with weight 0.

    Args:
        importance: non-negative array of shape ``(latent_dim, num_factors)``, both at least 2, not all zero.

    Returns:
        ``{"disentanglement": float, "completeness": float}``, each in [0, 1].

    Example:

    >>> dci_from_importance([[1.0, 0.0], [0.0, 1.0]])
    {'disentanglement': 1.0, 'completeness': 1.0}
    >>> dci_from_importance([[1.0, 1.0], [0.0, 0.0]])
    {'disentanglement': 0.0, 'completeness': 1.0}
    """
    matrix = np.asarray(importance, dtype=np.float64)
    if matrix.ndim != 2 or min(matrix.shape) < 2:
        raise ValueError(
            "`importance` must be a 2-D array of shape (latent_dim, num_factors), both at least 2, since the "
            f"entropies are taken in bases latent_dim and num_factors. Received: importance.shape={matrix.shape}"
        )
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0) or not np.any(matrix > 0):
        raise ValueError(f"`importance` must be finite, non-negative and not all zero. Received: importance={matrix}")
    weights = matrix / matrix.sum()
    return {
        "disentanglement": float(np.sum(_one_minus_entropy(matrix) * weights.sum(axis=1))),
        "completeness": float(np.sum(_one_minus_entropy(matrix.T) * weights.sum(axis=0))),
    }


def dci(
    codes: ArrayLike,
    factors: ArrayLike,
    codes_test: ArrayLike | None = None,
    factors_test: ArrayLike | None = None,
    seed: int = 0,
) -> DCIScores:
    """Disentanglement, completeness and informativeness of codes with respect to discrete factors.

    One ``sklearn.ensemble.GradientBoostingClassifier`` (its defaults, ``random_state=seed``) per factor
    predicts it from the codes; its feature importances are that factor's column of the importance matrix,
    which ``dci_from_importance`` turns into disentanglement and completeness. Informativeness is the
    classifiers' mean accuracy on the test set. Needs scikit-learn: ``pip install "tfae[evaluation]"``.

    disentanglement_lib's convention (``dci.py`` there), not Eastwood and Williams' own: their
    informativeness is the prediction error of the regressors (lower is better), and here, as in
    disentanglement_lib, it is the classifiers' test accuracy (higher is better; ``1 - informativeness``
    is the classification error). Their importances come from lasso or random-forest regressors; these
    from gradient-boosted classifiers, with completeness weighted as disentanglement_lib weighs it.

    Args:
        codes: float array of shape ``(n, latent_dim)``, with ``latent_dim >= 2``.
        factors: int array of shape ``(n, num_factors)`` of class indices, with ``num_factors >= 2``.
        codes_test: the codes the classifiers are tested on; with ``factors_test``, or neither. When neither
            is given, a permutation of the rows drawn from ``seed`` takes 2/3 of them (rounded up) to train
            and the rest to test.
        factors_test: the factors of ``codes_test``.
        seed: seeds the split and the trees.

    Returns:
        A dict: ``disentanglement``, ``completeness`` and ``informativeness`` (floats in [0, 1]), and
        ``importance``, the float array of shape ``(latent_dim, num_factors)``.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 3, size=(300, 2))
    >>> scores = dci(factors + 0.05 * rng.normal(size=(300, 2)), factors)
    >>> round(scores["disentanglement"], 1), round(scores["informativeness"], 1)
    (1.0, 1.0)
    """
    codes = check_codes(codes)
    factors = check_factors(factors)
    check_same_length(codes, factors)
    check_integer(seed, "seed", 0)
    if codes.shape[1] < 2 or factors.shape[1] < 2:
        raise ValueError(
            "DCI needs at least 2 code dimensions and 2 factors. "
            f"Received: codes.shape={codes.shape}, factors.shape={factors.shape}"
        )
    codes, factors, test_codes, test_factors = split_train_test(codes, factors, codes_test, factors_test, seed)
    require_scikit_learn("DCI")
    from sklearn.ensemble import GradientBoostingClassifier

    require_two_classes(factors)
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    accuracy = np.zeros(factors.shape[1])
    for k in range(factors.shape[1]):
        classifier = GradientBoostingClassifier(random_state=seed)
        classifier.fit(codes, factors[:, k])
        importance[:, k] = np.abs(classifier.feature_importances_)
        accuracy[k] = np.mean(classifier.predict(test_codes) == test_factors[:, k])
    scores = dci_from_importance(importance)
    return {
        "disentanglement": scores["disentanglement"],
        "completeness": scores["completeness"],
        "informativeness": float(np.mean(accuracy)),
        "importance": importance,
    }


def _one_minus_entropy(matrix: np.ndarray) -> np.ndarray:
    """``1 - H(row)`` for each row normalised to sum 1, the entropy in base ``matrix.shape[1]``; 0 for a row
    of zeros."""
    totals = matrix.sum(axis=1, keepdims=True)
    probabilities = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    terms = np.zeros_like(probabilities)
    positive = probabilities > 0
    terms[positive] = probabilities[positive] * np.log(probabilities[positive])
    scores = 1.0 + terms.sum(axis=1) / np.log(matrix.shape[1])
    return np.where(totals[:, 0] > 0, scores, 0.0)


class DCI(BaseMetric):
    """``dci``: disentanglement, completeness and informativeness of the posterior means (``dci``), in
    disentanglement_lib's convention: informativeness is the test accuracy, not Eastwood and Williams' error."""

    needs = ("factors",)

    def missing(self, evaluation: Evaluation) -> list[str]:
        lacking = super().missing(evaluation)
        if evaluation.factors is not None and evaluation.factors.shape[1] < 2:
            lacking.append(f"at least 2 factors (the data has {evaluation.factors.shape[1]})")
        if evaluation.factors is not None and evaluation.codes.shape[1] < 2:
            lacking.append(f"codes of at least 2 dimensions (this model's have {evaluation.codes.shape[1]})")
        return lacking

    def compute(self, evaluation: Evaluation) -> dict[str, float]:
        assert evaluation.factors is not None
        scores = dci(evaluation.codes, evaluation.factors, seed=evaluation.seed)
        return {key: float(scores[key]) for key in ("disentanglement", "completeness", "informativeness")}


@hookimpl
def register_metrics(register: Callable[..., Any]) -> None:
    register(DCI, name="dci")
