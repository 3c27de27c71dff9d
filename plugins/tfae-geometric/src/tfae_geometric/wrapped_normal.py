"""The wrapped normal distribution at the origin of the Poincare ball: the Poincare VAE's prior."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import keras
from keras import ops

import tfae
from tfae.priors import BasePrior
from tfae_geometric.poincare import check_curvature
from tfae_geometric.poincare_ball import exp_map_zero, project, wrapped_normal_log_density


class WrappedNormalPrior(BasePrior):
    """``N^W(0, scale^2 I)`` on the Poincare ball of curvature ``-curvature``: the wrapped normal at the origin.

    Mathieu et al. (2019), section 3: a Gaussian ``v ~ N(0, scale^2 I)`` in the tangent space at the
    origin, mapped onto the ball, ``z = exp_0(v / 2)`` (``lambda_0 = 2``). ``log_prob`` is the wrapped
    normal's density with respect to the Lebesgue measure of ``R^d``, ``-inf`` outside the ball (see
    ``tfae_geometric.poincare_ball.wrapped_normal_log_density``). The default prior of the ``"poincare"``
    bottleneck, which gives it its own curvature.

    Args:
        curvature: positive float ``c``; the ball has radius ``1 / sqrt(c)``.
        scale: positive float, the standard deviation of the tangent Gaussian.
        latent_dim: optional; ``None`` takes the bottleneck's.
        **kwargs: base layer keyword arguments.

    Example:

    >>> bottleneck = PoincareBottleneck(latent_dim=2, curvature=0.5, prior={"name": "wrapped_normal", "curvature": 0.5})
    >>> tuple(bottleneck.sample_prior(5, seed=0).shape)
    (5, 2)
    """

    #: The codes are points of a Poincare ball: what "poincare" checks the curvature of.
    manifold: ClassVar[str] = "poincare_ball"

    def __init__(
        self, curvature: float = 1.0, scale: float = 1.0, latent_dim: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.curvature: float = check_curvature(curvature, "WrappedNormalPrior")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0 < float(scale) < math.inf:
            raise ValueError(f"`scale` must be a positive number. Received: scale={scale!r}")
        self.scale: float = float(scale)

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        """Refuses a bottleneck whose codes are not points of a Poincare ball (a Gaussian's can fall outside
        it, where this density is 0, and the KL infinite)."""
        if getattr(bottleneck, "manifold", None) != "poincare_ball":
            raise ValueError(
                f"WrappedNormalPrior is a distribution on the Poincare ball, but the bottleneck "
                f"{type(bottleneck).__name__} draws codes that may lie outside it, where its density is 0: "
                "use it with the 'poincare' bottleneck (its default prior)."
            )

    def log_prob(self, code: Any) -> Any:
        code = ops.cast(code, "float32")
        log_variance = ops.full_like(code, 2.0 * math.log(self.scale))
        return wrapped_normal_log_density(code, ops.zeros_like(code), log_variance, self.curvature)

    def sample(self, n: int, seed: Any = None) -> Any:
        tangent = self.scale * keras.random.normal(self.sample_shape(n), seed=seed, dtype="float32")
        return project(exp_map_zero(0.5 * tangent, self.curvature), self.curvature)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "curvature": self.curvature, "scale": self.scale}


@tfae.hookimpl
def register_priors(register: Callable[..., Any]) -> None:
    register(WrappedNormalPrior, name="wrapped_normal", aliases=["poincare_wrapped_normal"])
