"""The uniform distribution on the unit sphere: the hyperspherical VAE's prior."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import keras
from keras import ops

import tfae
from tfae.priors import BasePrior
from tfae_geometric.von_mises_fisher import log_sphere_area


def _check_latent_dim(latent_dim: Any) -> None:
    if isinstance(latent_dim, numbers.Integral) and not isinstance(latent_dim, bool) and latent_dim < 2:
        raise ValueError(
            "HypersphericalUniformPrior is a distribution on the sphere S^(latent_dim - 1), which needs latent_dim "
            f">= 2 (S^0 is two points): use latent_dim=2 or more. Received: latent_dim={latent_dim!r}"
        )


class HypersphericalUniformPrior(BasePrior):
    """``U(S^(m-1))``: every point of the unit sphere in ``m = latent_dim`` dimensions equally likely.

    Its density with respect to the sphere's surface measure is ``1 / |S^(m-1)|``, ``|S^(m-1)| = 2
    pi^(m/2) / Gamma(m/2)``, so ``log_prob`` is ``-log |S^(m-1)|`` for every code (codes are taken to lie on
    the sphere: their length is not checked). ``sample`` normalises standard normal draws, which are
    uniform on the sphere by their rotational symmetry. The prior of the ``"vmf"`` bottleneck, against which
    ``"vmf_kld"`` has its closed form (Davidson et al. 2018, appendix B).

    Args:
        latent_dim: optional int >= 2; ``None`` takes the bottleneck's.
        **kwargs: base layer keyword arguments.

    Example:

    >>> bottleneck = VonMisesFisherBottleneck(latent_dim=3, prior="hyperspherical_uniform")
    >>> tuple(bottleneck.sample_prior(5, seed=0).shape)
    (5, 3)
    """

    #: The codes lie on the unit sphere and densities are on its surface: what "vmf" checks for in a prior.
    manifold: ClassVar[str] = "sphere"

    def __init__(self, latent_dim: int | None = None, **kwargs: Any) -> None:
        _check_latent_dim(latent_dim)
        super().__init__(latent_dim=latent_dim, **kwargs)

    def build(self, latent_dim: Any) -> None:
        _check_latent_dim(latent_dim)
        super().build(latent_dim)

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        """Refuses a bottleneck whose codes are not on the sphere (a Gaussian's), which it cannot describe."""
        if getattr(bottleneck, "manifold", None) != "sphere":
            raise ValueError(
                f"HypersphericalUniformPrior is a distribution on the unit sphere, but the bottleneck "
                f"{type(bottleneck).__name__} draws codes off it, whose density it cannot give: use it with the "
                "'vmf' bottleneck (its default prior)."
            )

    def log_prob(self, code: Any) -> Any:
        code = ops.cast(code, "float32")
        return ops.zeros_like(code[..., 0]) - log_sphere_area(int(code.shape[-1]))

    def sample(self, n: int, seed: Any = None) -> Any:
        return ops.normalize(keras.random.normal(self.sample_shape(n), seed=seed, dtype="float32"), axis=-1)


@tfae.hookimpl
def register_priors(register: Callable[..., Any]) -> None:
    register(HypersphericalUniformPrior, name="hyperspherical_uniform", aliases=["spherical_uniform", "uniform_sphere"])
