"""The Poincare-ball VAE's bottleneck (Mathieu et al. 2019): a wrapped normal posterior on the Poincare ball."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

from keras import ops

import tfae
import tfae.random
from tfae.bottlenecks import VariationalBottleneck
from tfae_geometric.poincare_ball import (
    exp_map_zero,
    project,
    wrapped_normal_from_tangent,
    wrapped_normal_log_density,
)


def check_curvature(curvature: Any, owner: str) -> float:
    """``curvature`` as a float after checking that it is a positive finite number."""
    if isinstance(curvature, bool) or not isinstance(curvature, numbers.Real) or not 0 < float(curvature) < math.inf:
        raise ValueError(
            f"{owner}'s `curvature` is c > 0 of the ball of curvature -c (radius 1 / sqrt(c)): a positive number "
            f"such as 1.0. Received: curvature={curvature!r}"
        )
    return float(curvature)


class PoincareBottleneck(VariationalBottleneck):
    """Encodes each sample as a wrapped normal distribution on the Poincare ball of curvature ``-curvature``.

    The Poincare VAE of Mathieu, Le Lan, Maddison, Tomioka and Teh (2019), *Continuous Hierarchical
    Representations with Poincare Variational Auto-Encoders* (pythae's ``PoincareVAE``, with its wrapped
    normal posterior and prior). The encoder gives a tangent vector at the origin, mapped into the ball
    by ``exp_0`` (the mean ``mu``), and the log-variances of a diagonal Gaussian. A code is the paper's
    reparameterised draw: ``v ~ N(0, diag(exp(log_variance)))`` in the tangent space at the origin,
    transported to ``mu`` and mapped onto the ball, ``z = exp_mu(v / lambda_mu) = mu (+)_c exp_0(v / 2)``.
    Codes and means are kept ``(1 - 4e-3) / sqrt(c)`` from the origin at most, as in the authors' code.
    The code at inference is ``mu``.

    ``joint_log_density`` is the paper's density, ``log N(v; 0, Sigma) - (d - 1) log(sinh(sqrt(c) r) /
    (sqrt(c) r))`` with ``r`` the distance from ``mu`` (on the ball's Riemannian volume), plus ``d log
    lambda_z``: densities with respect to the Lebesgue measure of ``R^d``, as every tfae density is, so that
    they integrate to 1 over the ball and compare with any prior's. The KL and IWAE's weights, ratios of two
    such densities, are the paper's. The posterior does not factorise over dimensions.

    The prior is ``"wrapped_normal"`` at the origin of the same ball unless ``prior`` says otherwise;
    ``"poincare_kld"`` is its Monte Carlo KL, the paper's estimator.

    Args:
        latent_dim: positive int, the dimension of the ball.
        curvature: positive float ``c``: the ball has radius ``1 / sqrt(c)`` and curvature ``-c``; near 0
            it is nearly flat (and the wrapped normal a Gaussian).
        regularizer: usually ``"poincare_kld"``, which makes the model a Poincare VAE.
        seed: optional int, makes the sampling reproducible.
        prior: by default ``{"name": "wrapped_normal", "curvature": curvature}``; a wrapped normal prior must
            be on the same ball.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: features of shape ``(batch, ...)``.
        training: sample when ``True``, return the mean otherwise.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, latent_dim)``, points of the ball.

    Example:

    >>> bottleneck = {"name": "poincare", "latent_dim": 2, "curvature": 1.0, "regularizer": "poincare_kld"}
    >>> model = Autoencoder(bottleneck=bottleneck)
    >>> model.compile(optimizer="adam", loss="bernoulli")
    """

    parameters = 2
    distribution = "wrapped_normal"
    default_prior = "wrapped_normal"
    #: Its codes are points of a Poincare ball; its wrapped normal prior checks this.
    manifold: ClassVar[str] = "poincare_ball"

    def __init__(
        self,
        latent_dim: int,
        curvature: float = 1.0,
        regularizer: Any = None,
        seed: int | None = None,
        prior: Any = None,
        **kwargs: Any,
    ) -> None:
        curvature = check_curvature(curvature, "PoincareBottleneck")
        if prior is None:
            prior = {"name": "wrapped_normal", "curvature": curvature}
        super().__init__(latent_dim, regularizer=regularizer, seed=seed, prior=prior, **kwargs)
        self.curvature: float = curvature
        prior_curvature = getattr(self.prior, "curvature", None)
        if getattr(self.prior, "manifold", None) == "poincare_ball" and prior_curvature != curvature:
            raise ValueError(
                f"The prior {type(self.prior).__name__} is on the Poincare ball of curvature {prior_curvature}, but "
                f"the bottleneck's curvature is {curvature}: give the prior curvature={curvature}, or leave `prior` "
                "out (the default is a wrapped normal on the bottleneck's ball)."
            )

    def distribution_parameters(self, inputs: Any) -> tuple[Any, Any]:
        """The mean, a point of the ball, and the tangent Gaussian's log-variances, each ``(batch, latent_dim)``."""
        tangent, log_variance = self.split(ops.cast(self.dense(self.flatten(inputs)), "float32"))
        return project(exp_map_zero(tangent, self.curvature), self.curvature), log_variance

    def sample(self, mean: Any, log_variance: Any) -> Any:
        noise = self.random(
            lambda shape: tfae.random.normal(shape, self.seed_generator, dtype="float32"), ops.shape(mean)
        )
        tangent = ops.exp(0.5 * log_variance) * noise
        return project(wrapped_normal_from_tangent(tangent, mean, self.curvature), self.curvature)

    def mean(self, mean: Any, log_variance: Any) -> Any:
        return mean

    def joint_log_density(self, code: Any, mean: Any, log_variance: Any) -> Any:
        """``log q(code)`` with respect to the Lebesgue measure of ``R^d`` (``-inf`` outside the ball)."""
        return wrapped_normal_log_density(code, mean, log_variance, self.curvature)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "curvature": self.curvature}


@tfae.hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(PoincareBottleneck, name="poincare", aliases=["poincare_ball", "pvae"])
