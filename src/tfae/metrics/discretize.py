"""What the disentanglement metrics share: checking codes and factors, histogram discretisation, and the
discrete entropy and mutual information (in nats) that MIG is built from.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike

INSTALL_EVALUATION = 'pip install "tfae[evaluation]"'

TRAIN_FRACTION = 2 / 3
# The most bins a code dimension is cut into: a histogram holds its edges and counts, so a billion bins took
# 16 GB; scores use 20, and more bins than codes only leave bins empty.
MAX_BINS = 2**16
"""The share of the rows that trains a metric's classifiers when no test set is given: disentanglement_lib
trains on 10,000 points and tests on 5,000."""


def check_codes(codes: ArrayLike, name: str = "codes") -> np.ndarray:
    """Returns ``codes`` as a finite float64 array of shape ``(n, latent_dim)``, or raises ``ValueError``."""
    array = np.asarray(codes)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 2-D array of shape (n, latent_dim), one code per row. "
            f"Received: {name}.shape={array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"`{name}` must hold numbers. Received: {name}.dtype={array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite; it holds NaN or inf in {np.sum(~np.isfinite(array))} places.")
    return array


def check_factors(factors: ArrayLike, name: str = "factors", continuous: bool = False) -> np.ndarray:
    """Returns ``factors`` as an array of shape ``(n, num_factors)``: int64 class indices, or float64 values
    when ``continuous``; raises ``ValueError`` otherwise.
    """
    array = np.asarray(factors)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 2-D array of shape (n, num_factors), one row per code. "
            f"Received: {name}.shape={array.shape}"
        )
    if continuous:
        return check_codes(array, name)
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
        raise ValueError(
            f"`{name}` must be integer class indices, one column per factor. Received: {name}.dtype={array.dtype}; "
            "convert whole-number labels with `.astype(int)`."
        )
    return array.astype(np.int64)


def check_same_length(codes: np.ndarray, factors: np.ndarray, names: tuple[str, str] = ("codes", "factors")) -> None:
    """Raises ``ValueError`` unless ``codes`` and ``factors`` have one row per observation each."""
    if codes.shape[0] != factors.shape[0]:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same number of rows, one per observation. "
            f"Received: {names[0]}.shape={codes.shape}, {names[1]}.shape={factors.shape}"
        )


def check_integer(value: object, name: str, minimum: int) -> int:
    """Returns ``value`` if it is an integer of at least ``minimum``; raises ``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_threshold(threshold: object, name: str = "threshold") -> float:
    """Returns ``threshold`` as a float if it is a finite number >= 0; raises ``ValueError`` otherwise.

    A NaN threshold would compare false with everything, silently counting nothing.
    """
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not math.isfinite(threshold)
        or threshold < 0
    ):
        raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={threshold!r}")
    return float(threshold)


def check_num_train(num_train: int | None, total: int, items: str) -> int:
    """Returns how many of ``total`` items, the first ones, train a classifier: ``num_train``, or 2/3 of
    them (rounded up) when it is ``None``; raises ``ValueError`` unless it leaves at least one to score on."""
    if num_train is None:
        num_train = int(np.ceil(total * TRAIN_FRACTION))
    if isinstance(num_train, bool) or not isinstance(num_train, (int, np.integer)) or not 1 <= num_train < total:
        raise ValueError(
            f"`num_train` must be an integer from 1 to the number of {items} less one, leaving some to score on. "
            f"Received: num_train={num_train!r} with {total} {items}"
        )
    return int(num_train)


def split_train_test(
    codes: np.ndarray,
    factors: np.ndarray,
    codes_test: ArrayLike | None,
    factors_test: ArrayLike | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``(codes, factors, codes_test, factors_test)``: the given test set once checked, or else a
    split of the rows, permuted by ``seed``, with 2/3 of them (rounded up) to train and the rest to test.
    """
    if (codes_test is None) != (factors_test is None):
        raise ValueError(
            "Pass `codes_test` and `factors_test` together, or neither to split `codes` and `factors`. Received: "
            f"codes_test={'None' if codes_test is None else 'an array'}, "
            f"factors_test={'None' if factors_test is None else 'an array'}"
        )
    if codes_test is None or factors_test is None:
        num_train = int(np.ceil(codes.shape[0] * TRAIN_FRACTION))
        if num_train == codes.shape[0]:
            raise ValueError(
                f"Splitting off a test set needs at least 2 rows. Received: codes.shape={codes.shape}; "
                "pass more rows, or `codes_test` and `factors_test`."
            )
        order = np.random.default_rng(seed).permutation(codes.shape[0])
        train, test = order[:num_train], order[num_train:]
        return codes[train], factors[train], codes[test], factors[test]
    test_codes = check_codes(codes_test, "codes_test")
    test_factors = check_factors(factors_test, "factors_test")
    check_same_length(test_codes, test_factors, ("codes_test", "factors_test"))
    for name, train_array, test_array in (("codes", codes, test_codes), ("factors", factors, test_factors)):
        if train_array.shape[1] != test_array.shape[1]:
            raise ValueError(
                f"`{name}` and `{name}_test` must have the same number of columns. "
                f"Received: {name}.shape={train_array.shape}, {name}_test.shape={test_array.shape}"
            )
    return codes, factors, test_codes, test_factors


def require_two_classes(factors: np.ndarray) -> None:
    """Raises ``ValueError`` if a column of ``factors`` (the training rows) holds one class only."""
    for k in range(factors.shape[1]):
        if np.unique(factors[:, k]).shape[0] < 2:
            raise ValueError(
                f"Each factor must take at least two values among the training rows, to train a classifier. "
                f"Received: factors[:, {k}] is constant ({factors[0, k]}) in the {factors.shape[0]} training rows."
            )


def check_bins(bins: object) -> int:
    """Returns ``bins`` if it is an integer from 2 to ``MAX_BINS``; raises ``ValueError`` otherwise."""
    bins = check_integer(bins, "bins", 2)
    if bins > MAX_BINS:
        raise ValueError(
            f"`bins` must be at most {MAX_BINS:,} (tfae.metrics.discretize.MAX_BINS): each code dimension's "
            f"histogram holds every bin, and scores use 20. Received: bins={bins!r}"
        )
    return bins


def histogram_discretize(codes: np.ndarray, bins: int) -> np.ndarray:
    """Bins each column of ``codes`` into ``bins`` equal-width bins over its own range.

    Args:
        codes: float array of shape ``(n, latent_dim)``.
        bins: the number of bins per dimension.

    Returns:
        An int64 array of the shape of ``codes`` with bin numbers in ``1..bins``, as disentanglement_lib's
        ``_histogram_discretize`` (``np.digitize`` on the left edges of ``np.histogram``'s bins).
    """
    discrete = np.empty(codes.shape, dtype=np.int64)
    for dim in range(codes.shape[1]):
        edges = np.histogram(codes[:, dim], bins)[1]
        discrete[:, dim] = np.digitize(codes[:, dim], edges[:-1])
    return discrete


def discrete_entropy(labels: np.ndarray) -> float:
    """The entropy, in nats, of the empirical distribution of the 1-D array ``labels``."""
    counts = np.unique(labels, return_counts=True)[1]
    probabilities = counts / labels.shape[0]
    return float(-np.sum(probabilities * np.log(probabilities)))


def discrete_mutual_information(first: np.ndarray, second: np.ndarray) -> float:
    """The mutual information, in nats, of the empirical joint distribution of two 1-D label arrays.

    It equals ``sklearn.metrics.mutual_info_score(first, second)``, which disentanglement_lib uses.
    """
    first_values, first_index = np.unique(first, return_inverse=True)
    second_values, second_index = np.unique(second, return_inverse=True)
    shape = (first_values.shape[0], second_values.shape[0])
    joint = np.bincount(np.ravel_multi_index((first_index, second_index), shape), minlength=shape[0] * shape[1])
    joint = joint.reshape(shape) / first.shape[0]
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    seen = joint > 0
    return float(max(0.0, np.sum(joint[seen] * np.log(joint[seen] / outer[seen]))))


def require_scikit_learn(metric: str) -> None:
    """Raises ``ImportError`` with the install command when scikit-learn, which ``metric`` needs, is missing."""
    try:
        import sklearn  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{metric} trains scikit-learn classifiers, and scikit-learn is not installed: {INSTALL_EVALUATION}"
        ) from error
