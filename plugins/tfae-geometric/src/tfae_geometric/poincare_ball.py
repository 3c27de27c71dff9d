"""The Poincare ball of curvature ``-c`` and its wrapped normal distribution, in keras.ops.

The ball is ``{x in R^d : c |x|^2 < 1}`` with the metric ``lambda_x^2`` times the Euclidean one, ``lambda_x
= 2 / (1 - c |x|^2)`` (Mathieu, Le Lan, Maddison, Tomioka and Teh 2019, *Continuous Hierarchical
Representations with Poincare Variational Auto-Encoders*, section 2 and appendix B; ``c`` is their
``c``). Every function takes ``curvature`` as a Python number and points with the coordinates last.

Where a formula divides by a norm that can be 0 (a code at its posterior's mean), it is written with
``tanh(x) / x``, ``artanh(x) / x`` and ``log(sinh(x) / x)`` of ``x^2``, each with its Taylor series near
0, so that values and gradients stay finite there.
"""

from __future__ import annotations

import math
from typing import Any

from keras import ops

#: Points are kept at most ``(1 - BALL_EPS) / sqrt(c)`` from the origin, as geoopt and the authors' code
#: (pvae) do in float32: nearer the boundary the Mobius addition loses its precision.
BALL_EPS = 4e-3
_SMALL = 1e-6  # below this x^2 the Taylor series are exact in float32
_LOG_2PI = math.log(2.0 * math.pi)


def _squared_norm(x: Any) -> Any:
    return ops.sum(ops.square(x), axis=-1, keepdims=True)


def _tanh_over(squared: Any) -> Any:
    """``tanh(x) / x`` from ``x^2``."""
    large = ops.maximum(squared, _SMALL)
    root = ops.sqrt(large)
    return ops.where(squared < _SMALL, 1.0 - squared / 3.0 + 2.0 * ops.square(squared) / 15.0, ops.tanh(root) / root)


def _artanh_over(squared: Any) -> Any:
    """``artanh(x) / x`` from ``x^2 < 1``, with ``x`` kept below 1 by a float32 ulp."""
    large = ops.clip(squared, _SMALL, (1.0 - 1e-7) ** 2)
    root = ops.sqrt(large)
    return ops.where(squared < _SMALL, 1.0 + squared / 3.0 + ops.square(squared) / 5.0, ops.arctanh(root) / root)


def _log_sinh_over(squared: Any) -> Any:
    """``log(sinh(x) / x)`` from ``x^2``, for ``x >= 0``, without overflow for large ``x``."""
    large = ops.maximum(squared, _SMALL)
    root = ops.sqrt(large)
    stable = root + ops.log1p(-ops.exp(-2.0 * root)) - math.log(2.0) - ops.log(root)
    return ops.where(squared < _SMALL, squared / 6.0 - ops.square(squared) / 180.0, stable)


def conformal_factor(x: Any, curvature: float) -> Any:
    """``lambda_x = 2 / (1 - c |x|^2)``, shape ``x.shape[:-1] + (1,)``."""
    return 2.0 / (1.0 - curvature * _squared_norm(x))


def mobius_add(x: Any, y: Any, curvature: float) -> Any:
    """``x (+)_c y = ((1 + 2c<x,y> + c|y|^2) x + (1 - c|x|^2) y) / (1 + 2c<x,y> + c^2 |x|^2 |y|^2)`` (eq. 1)."""
    c = curvature
    xy = ops.sum(x * y, axis=-1, keepdims=True)
    x2, y2 = _squared_norm(x), _squared_norm(y)
    numerator = (1.0 + 2.0 * c * xy + c * y2) * x + (1.0 - c * x2) * y
    return numerator / (1.0 + 2.0 * c * xy + c * c * x2 * y2)


def project(x: Any, curvature: float) -> Any:
    """``x`` moved onto the sphere of radius ``(1 - BALL_EPS) / sqrt(c)`` where it lies beyond it."""
    limit = (1.0 - BALL_EPS) / math.sqrt(curvature)
    squared = _squared_norm(x)
    outside = squared > limit * limit
    return ops.where(outside, x * (limit / ops.sqrt(ops.where(outside, squared, 1.0))), x)


def exp_map_zero(v: Any, curvature: float) -> Any:
    """``exp_0^c(v) = tanh(sqrt(c) |v|) v / (sqrt(c) |v|)``: the point reached from the origin along ``v``."""
    return _tanh_over(curvature * _squared_norm(v)) * v


def exp_map(x: Any, v: Any, curvature: float) -> Any:
    """``exp_x^c(v) = x (+)_c (tanh(sqrt(c) lambda_x |v| / 2) v / (sqrt(c) |v|))`` (eq. 2)."""
    half = 0.5 * conformal_factor(x, curvature)
    return mobius_add(x, half * _tanh_over(curvature * ops.square(half) * _squared_norm(v)) * v, curvature)


def log_map(x: Any, y: Any, curvature: float) -> Any:
    """``log_x^c(y) = 2 / (sqrt(c) lambda_x) artanh(sqrt(c) |w|) w / |w|``, ``w = (-x) (+)_c y``: the inverse of
    ``exp_map``."""
    w = mobius_add(-x, y, curvature)
    return (2.0 / conformal_factor(x, curvature)) * _artanh_over(curvature * _squared_norm(w)) * w


def distance(x: Any, y: Any, curvature: float) -> Any:
    """``d_c(x, y) = 2 / sqrt(c) artanh(sqrt(c) |(-x) (+)_c y|)``, shape ``x.shape[:-1]``."""
    squared = curvature * _squared_norm(mobius_add(-x, y, curvature))
    return (2.0 * _artanh_over(squared) * ops.sqrt(squared) / math.sqrt(curvature))[..., 0]


def inside(x: Any, curvature: float) -> Any:
    """Whether each point lies in the open ball, ``c |x|^2 < 1``; shape ``x.shape[:-1]``."""
    return curvature * _squared_norm(x)[..., 0] < 1.0


def wrapped_normal_tangent(x: Any, mean: Any, curvature: float) -> Any:
    """The tangent vector ``v = lambda_mean log_mean(x)``, transported to the origin and scaled by
    ``lambda_0 = 2``, whose Gaussian density the wrapped normal's is: ``x = exp_mean(v / lambda_mean)``.
    Its length is the distance from ``mean`` to ``x``."""
    w = mobius_add(-mean, x, curvature)
    return 2.0 * _artanh_over(curvature * _squared_norm(w)) * w


def wrapped_normal_from_tangent(v: Any, mean: Any, curvature: float) -> Any:
    """``exp_mean(v / lambda_mean)`` for ``v`` at the origin (the inverse of ``wrapped_normal_tangent``):
    ``mean (+)_c exp_0(v / 2)``, since transporting ``v / lambda_0`` from the origin to ``mean`` scales it
    by ``lambda_0 / lambda_mean``."""
    return mobius_add(mean, exp_map_zero(0.5 * v, curvature), curvature)


def wrapped_normal_log_density(
    x: Any, mean: Any, log_variance: Any, curvature: float, measure: str = "lebesgue"
) -> Any:
    """``log N^W(x; mean, diag(exp(log_variance)))`` of the wrapped normal on the Poincare ball.

    Mathieu et al. (2019), section 3 (the wrapped normal, eq. 6): with ``v = wrapped_normal_tangent(x,
    mean)``, whose length is ``r = d_c(mean, x)``,
    ``log N^W = log N(v; 0, Sigma) - (d - 1) log(sinh(sqrt(c) r) / (sqrt(c) r))``: the density on the ball's
    Riemannian volume, ``measure="riemannian"``. That volume is ``lambda_x^d`` times the Lebesgue measure of
    ``R^d``, so ``measure="lebesgue"`` (the default, what tfae's densities are on) adds ``d log lambda_x``.
    Outside the ball the density is 0: ``-inf``.

    Args:
        x: points, shape ``(..., d)``.
        mean: points of the ball broadcasting against ``x``.
        log_variance: the log-variances of the Gaussian in the tangent space, broadcasting against ``x``.
        curvature: ``c > 0``.
        measure: ``"lebesgue"`` or ``"riemannian"``.

    Returns:
        float32 log-densities, shape ``x.shape[:-1]`` broadcast with the parameters'.
    """
    if measure not in ("lebesgue", "riemannian"):
        raise ValueError(f"`measure` must be 'lebesgue' or 'riemannian'. Received: measure={measure!r}")
    dim = int(x.shape[-1])
    v = wrapped_normal_tangent(x, mean, curvature)
    gaussian = -0.5 * ops.sum(_LOG_2PI + log_variance + ops.square(v) * ops.exp(-log_variance), axis=-1)
    density = gaussian - (dim - 1) * _log_sinh_over(curvature * _squared_norm(v))[..., 0]
    within = inside(x, curvature)
    if measure == "lebesgue":
        room = 1.0 - curvature * _squared_norm(x)[..., 0]
        density = density + dim * ops.log(2.0 / ops.where(within, room, 1.0))
    return ops.where(within, density, -math.inf)
