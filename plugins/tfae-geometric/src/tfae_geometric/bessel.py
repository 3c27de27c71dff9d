"""The modified Bessel function of the first kind, ``I_v(kappa)``, in keras.ops: its logarithm and ratios.

The von Mises-Fisher distribution on the sphere ``S^(m-1)`` needs ``log I_v(kappa)`` for ``v = m/2 - 1``
(its normalising constant) and the ratio ``I_(v+1)(kappa) / I_v(kappa)`` (its mean length, and so its KL to
the uniform distribution), with their gradients in ``kappa``. Keras has no Bessel function of any order
(``keras.ops.i0`` is order 0 and overflows above ``kappa = 88`` in float32), so they are computed here, in
logarithms, for a fixed order (a Python number: the code size fixes it) and any ``kappa > 0``:

- ``kappa < 20``: the power series ``I_v(kappa) = sum_k (kappa/2)^(2k+v) / (k! Gamma(k+v+1))`` (DLMF
  10.25.2), 64 terms, summed as ``log1p`` of all terms after the first relative to it, so that
  ``log I_v(kappa) - v log(kappa/2) + log Gamma(v+1)`` keeps its precision as ``kappa`` nears 0 (the KL of a
  nearly uniform vMF is the difference of two such small numbers);
- ``kappa >= 20`` and ``v < 8``: Hankel's large-argument expansion ``I_v(kappa) ~ e^kappa / sqrt(2 pi
  kappa) sum_n (-1)^n a_n(v) / kappa^n`` (DLMF 10.40.1), 13 terms (exact for half-integer orders, where the
  sum ends);
- ``kappa >= 20`` and ``v >= 8``: Debye's uniform expansion in the order (DLMF 10.41.3), with the polynomials
  ``u_1`` .. ``u_6`` generated exactly from their recurrence (DLMF 10.41.9).

Each expansion is written for ``log I_v(kappa) - kappa``, which stays of the size of ``log kappa``, so that
nothing of the size of ``kappa`` is subtracted in float32. Against ``scipy.special.ive`` in float64 the
float32 results have a relative error below 1e-5 for orders 0 to 64 and ``kappa`` from 1e-4 to 1e5
(tests/test_bessel.py), and so do their gradients, which are those of the expressions (autodiff; the
regimes are selected with ``where`` on inputs clipped into each regime, so that the branch not taken has
finite values and gradients).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
from keras import ops

#: Below this kappa the power series is used, from it the asymptotic expansions.
SERIES_BELOW = 20.0
SERIES_TERMS = 64
HANKEL_TERMS = 12
#: From this order on Debye's expansion replaces Hankel's above SERIES_BELOW.
DEBYE_FROM_ORDER = 8.0
DEBYE_TERMS = 6


def _debye_polynomials(count: int) -> list[dict[int, Fraction]]:
    """``u_0`` .. ``u_count`` of DLMF 10.41.9 as ``{power: coefficient}``, exactly:
    ``u_(k+1)(p) = p^2 (1 - p^2) u_k'(p) / 2 + 1/8 integral_0^p (1 - 5 t^2) u_k(t) dt``."""
    polynomials = [{0: Fraction(1)}]
    for _ in range(count):
        previous, following = polynomials[-1], dict[int, Fraction]()
        for power, coefficient in previous.items():
            if power > 0:
                derivative = coefficient * power  # of p^(power - 1), times p^2 (1 - p^2) / 2
                following[power + 1] = following.get(power + 1, Fraction(0)) + derivative / 2
                following[power + 3] = following.get(power + 3, Fraction(0)) - derivative / 2
            following[power + 1] = following.get(power + 1, Fraction(0)) + coefficient / (8 * (power + 1))
            following[power + 3] = following.get(power + 3, Fraction(0)) - 5 * coefficient / (8 * (power + 3))
        polynomials.append({power: value for power, value in following.items() if value != 0})
    return polynomials


_DEBYE = _debye_polynomials(DEBYE_TERMS)


def _check_order(order: float) -> float:
    if isinstance(order, bool) or not isinstance(order, (int, float)) or not 0 <= order < math.inf:
        raise ValueError(f"The order of the Bessel function must be a number >= 0. Received: order={order!r}")
    return float(order)


def log_power_series(order: float, kappa: Any) -> Any:
    """``log I_v(kappa) - v log(kappa / 2) + log Gamma(v + 1)``: the log of the power series divided by its
    first term, ``log1p(sum over k >= 1 of Gamma(v+1) (kappa/2)^(2k) / (k! Gamma(k+v+1)))``; for kappa < 20."""
    k = np.arange(1, SERIES_TERMS)
    constants = np.array([math.lgamma(order + 1) - math.lgamma(j + 1) - math.lgamma(j + order + 1) for j in k])
    log_half_squared = ops.expand_dims(2.0 * ops.log(kappa / 2.0), -1)
    terms = ops.convert_to_tensor(k.astype("float32")) * log_half_squared + ops.convert_to_tensor(
        constants.astype("float32")
    )
    return ops.log1p(ops.sum(ops.exp(terms), axis=-1))


def _hankel_coefficients(order: float) -> list[float]:
    """``(-1)^n a_n(v)`` of DLMF 10.40.1, ``a_n(v) = prod_(j=1..n) (4 v^2 - (2j - 1)^2) / (n! 8^n)``."""
    coefficients = [1.0]
    for n in range(1, HANKEL_TERMS + 1):
        coefficients.append(-coefficients[-1] * (4.0 * order * order - (2 * n - 1) ** 2) / (8.0 * n))
    return coefficients


def _hankel_sum(coefficients: list[float], kappa: Any) -> Any:
    """``sum_n coefficients[n] / kappa^n`` by Horner's rule in ``1 / kappa``."""
    inverse = 1.0 / kappa
    total = ops.zeros_like(kappa)
    for coefficient in reversed(coefficients):
        total = total * inverse + coefficient
    return total


def _debye_parts(order: float, kappa: Any) -> tuple[Any, Any, Any]:
    """``v eta - kappa``, ``sqrt(v^2 + kappa^2)`` and ``sum_(k>=1) u_k(p) / v^k`` of DLMF 10.41.3 at ``kappa``."""
    root = ops.sqrt(order * order + ops.square(kappa))
    p = order / root
    correction = ops.zeros_like(kappa)
    for index in range(DEBYE_TERMS, 0, -1):  # Horner's rule in 1 / order
        polynomial = sum(float(value) * p**power for power, value in _DEBYE[index].items())
        correction = (correction + polynomial) / order
    # v sqrt(1 + z^2) - kappa = v^2 / (sqrt(v^2 + kappa^2) + kappa) and v log(z / (1 + sqrt(1 + z^2))) =
    # -v asinh(v / kappa), for z = kappa / v: no difference of numbers of the size of kappa.
    exponent = order * order / (root + kappa) - order * ops.arcsinh(order / kappa)
    return exponent, root, correction


def asymptotic_log_ive(order: float, kappa: Any) -> Any:
    """``log I_v(kappa) - kappa`` for ``kappa >= 20``: Hankel's expansion below order 8, Debye's from it."""
    if order < DEBYE_FROM_ORDER:
        return -0.5 * ops.log(2.0 * math.pi * kappa) + ops.log(_hankel_sum(_hankel_coefficients(order), kappa))
    exponent, root, correction = _debye_parts(order, kappa)
    return exponent - 0.5 * ops.log(2.0 * math.pi * root) + ops.log1p(correction)


def asymptotic_log_ratio(order: float, kappa: Any) -> Any:
    """``log(I_(v+1)(kappa) / I_v(kappa))`` for ``kappa >= 20``, a small negative number, summed from small parts.

    The difference of two ``asymptotic_log_ive`` would keep their absolute error (about 1e-6, from the
    ``-log(2 pi kappa) / 2`` both hold), and ``kappa (ratio - 1)``, which the vMF's KL needs, would
    lose ``kappa`` times that. Below order 8 (Hankel's expansion for both orders), the ratio is ``1 +
    sum_n (c_n(v+1) - c_n(v)) / kappa^n / sum_n c_n(v) / kappa^n``, its coefficients' differences taken
    exactly in float64; from order 8, Debye's three parts are differenced one by one.
    """
    if order < DEBYE_FROM_ORDER:
        lower, upper = _hankel_coefficients(order), _hankel_coefficients(order + 1.0)
        difference = [high - low for high, low in zip(upper, lower)]
        return ops.log1p(_hankel_sum(difference, kappa) / _hankel_sum(lower, kappa))
    low_exponent, low_root, low_correction = _debye_parts(order, kappa)
    high_exponent, _, high_correction = _debye_parts(order + 1.0, kappa)
    # log of sqrt(v^2 + kappa^2) / sqrt((v+1)^2 + kappa^2), from the difference of the squares, 2v + 1.
    roots = -0.25 * ops.log1p((2.0 * order + 1.0) / ops.square(low_root))
    return high_exponent - low_exponent + roots + ops.log1p(high_correction) - ops.log1p(low_correction)


def _regimes(kappa: Any) -> tuple[Any, Any, Any]:
    """Whether each kappa takes the series, and kappa clipped into the series' and the expansions' ranges."""
    kappa = ops.convert_to_tensor(kappa, dtype="float32")
    small = kappa < SERIES_BELOW
    return small, ops.minimum(kappa, SERIES_BELOW), ops.maximum(kappa, SERIES_BELOW)


def log_bessel_iv(order: float, kappa: Any) -> Any:
    """``log I_order(kappa)``, elementwise, float32.

    Args:
        order: a number >= 0, the order ``v`` (fixed: a Python number).
        kappa: positive float32 values, any shape.

    Returns:
        ``log I_v(kappa)``, of ``kappa``'s shape.

    Example:

    >>> float(log_bessel_iv(0.5, 1.0))  # I_(1/2)(x) = sqrt(2 / (pi x)) sinh(x)
    -0.0812...
    """
    order = _check_order(order)
    small, series_kappa, expansion_kappa = _regimes(kappa)
    series = order * ops.log(series_kappa / 2.0) - math.lgamma(order + 1.0) + log_power_series(order, series_kappa)
    expansion = expansion_kappa + asymptotic_log_ive(order, expansion_kappa)
    return ops.where(small, series, expansion)


def log_bessel_ive(order: float, kappa: Any) -> Any:
    """``log(I_order(kappa) e^-kappa)``: ``log_bessel_iv`` less ``kappa``, computed without the subtraction."""
    order = _check_order(order)
    small, series_kappa, expansion_kappa = _regimes(kappa)
    series = (
        order * ops.log(series_kappa / 2.0)
        - math.lgamma(order + 1.0)
        + log_power_series(order, series_kappa)
        - series_kappa
    )
    return ops.where(small, series, asymptotic_log_ive(order, expansion_kappa))


def bessel_ratio(order: float, kappa: Any) -> Any:
    """``I_(order+1)(kappa) / I_order(kappa)``, elementwise, float32: in (0, 1), rising from 0 towards 1.

    The mean of a von Mises-Fisher distribution on ``S^(m-1)`` is ``bessel_ratio(m/2 - 1, kappa)`` times its
    mean direction.
    """
    order = _check_order(order)
    small, series_kappa, expansion_kappa = _regimes(kappa)
    series = (series_kappa / (2.0 * (order + 1.0))) * ops.exp(
        log_power_series(order + 1.0, series_kappa) - log_power_series(order, series_kappa)
    )
    return ops.where(small, series, ops.exp(asymptotic_log_ratio(order, expansion_kappa)))
