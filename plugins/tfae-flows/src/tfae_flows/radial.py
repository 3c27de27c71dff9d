"""Radial flows (Rezende & Mohamed 2015, section 4.1 and appendix A.2) on a Gaussian posterior."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

import tfae
from tfae_flows.flow import AmortisedFlowBottleneck


def radial_parameters(raw: Any, latent_dim: int) -> tuple[Any, Any, Any]:
    """``(center, alpha, beta)`` from a layer's raw ``(..., latent_dim + 2)`` values, with ``alpha > 0`` and
    ``beta > -alpha`` (appendix A.2: ``beta = -alpha + softplus(beta_raw)``), which make it invertible."""
    center = raw[..., :latent_dim]
    alpha = ops.softplus(raw[..., latent_dim])
    beta = -alpha + ops.softplus(raw[..., latent_dim + 1])
    return center, alpha, beta


def _radius(difference: Any) -> Any:
    # Kept off 0, where the gradient of the square root is infinite; a code drawn exactly at the center has
    # probability 0, and 1e-20 moves nothing else.
    return ops.sqrt(ops.maximum(ops.sum(ops.square(difference), axis=-1), 1e-20))


def _log_det(alpha: Any, beta: Any, radius: Any, latent_dim: int) -> Any:
    # Eq. 14 with h = 1 / (alpha + r), h' = -h^2: [1 + beta h]^(d - 1) [1 + beta h + beta h' r], where the
    # second factor is 1 + beta alpha h^2.
    h = 1.0 / (alpha + radius)
    return (latent_dim - 1) * ops.log1p(beta * h) + ops.log1p(beta * alpha * ops.square(h))


class RadialBottleneck(AmortisedFlowBottleneck):
    """A Gaussian posterior moved by ``flows`` radial flows whose parameters the encoder gives each sample.

    Each layer is ``f(z) = z + beta * h(alpha, r) * (z - center)`` with ``r = |z - center|`` and ``h = 1 /
    (alpha + r)`` (Rezende & Mohamed 2015, eq. 14): it contracts or expands the space around ``center``.
    ``log |det df/dz| = (d - 1) log(1 + beta h) + log(1 + beta h + beta h' r)``, and ``alpha > 0``, ``beta >=
    -alpha`` make it invertible (appendix A.2). The encoder's features give each sample its Gaussian and its own
    ``center``, ``alpha`` and ``beta`` for every layer (amortised, as pythae's ``VAE_LinNF``). ``log q(z_K | x) =
    log q_0(z_0 | x) - sum_k log |det|`` (eq. 13) comes with every draw; the log-density of any other code
    inverts each layer in closed form (the radius solves a quadratic).

    The default regularizer is ``"monte_carlo_kl"``: with the default ``"elbo"`` objective and a likelihood the
    loss is the negative ELBO. ``"kld"`` does not hold for the flowed code and is refused.

    Args:
        latent_dim: positive int, the size of the code.
        flows: int >= 0, ``K``, the number of radial layers (0: the diagonal Gaussian alone).
        regularizer: ``"monte_carlo_kl"`` by default; ``None`` under an objective that holds the KL (``"iwae"``).
        seed: optional int, makes the noise reproducible.
        prior: the prior of the code, ``"standard_normal"`` by default; any prior of real codes.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: the encoder's features, shape ``(batch, ...)``.
        training: draw a code when ``True``; give the flow of the Gaussian's mean otherwise.

    Input shape:
        ``(batch_size, ...)``, flattened to ``(batch_size, features)``.

    Output shape:
        ``(batch_size, latent_dim)``.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "radial", "latent_dim": 2, "flows": 8})
    >>> model.compile(optimizer="adam", loss="bernoulli")  # the loss is the negative ELBO
    """

    distribution = "radial flow"

    def layer_width(self) -> int:
        return self.latent_dim + 2

    def flow_parameters(self, features: Any) -> tuple[Any, ...]:
        return radial_parameters(self.raw_flow_parameters(features), self.latent_dim)

    def forward(self, code: Any, layer: int, center: Any, alpha: Any, beta: Any) -> tuple[Any, Any]:
        center, alpha, beta = center[..., layer, :], alpha[..., layer], beta[..., layer]
        difference = code - center
        radius = _radius(difference)
        moved = code + ops.expand_dims(beta / (alpha + radius), -1) * difference
        return moved, _log_det(alpha, beta, radius, self.latent_dim)

    def inverse(self, code: Any, layer: int, center: Any, alpha: Any, beta: Any) -> tuple[Any, Any]:
        center, alpha, beta = center[..., layer, :], alpha[..., layer], beta[..., layer]
        difference = code - center
        moved_radius = _radius(difference)
        # |f(z) - center| = r (1 + beta / (alpha + r)): r is the positive root of
        # r^2 + (alpha + beta - r') r - alpha r' = 0, written without cancellation for either sign of its middle term.
        middle = alpha + beta - moved_radius
        root = ops.sqrt(ops.square(middle) + 4.0 * alpha * moved_radius)
        positive = middle > 0
        denominator = ops.where(positive, middle + root, 1.0)  # never 0, also in the branch not taken
        radius = ops.where(positive, 2.0 * alpha * moved_radius / denominator, 0.5 * (root - middle))
        # z - center = (f(z) - center) / (1 + beta h(r)), the same direction.
        shrink = (alpha + radius) / (alpha + radius + beta)
        return center + ops.expand_dims(shrink, -1) * difference, _log_det(alpha, beta, radius, self.latent_dim)


@tfae.hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(RadialBottleneck, name="radial", aliases=["radial_nf"])
