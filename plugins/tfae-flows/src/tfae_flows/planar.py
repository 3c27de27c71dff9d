"""Planar flows (Rezende & Mohamed 2015, section 4.1 and appendix A.1) on a Gaussian posterior."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras import ops

import tfae
from tfae_flows.flow import AmortisedFlowBottleneck

#: Bisection steps of the inverse: the bracket, 2 |w . u|, halves each time, far below float32's resolution.
BISECTION_STEPS = 40


def planar_parameters(raw: Any, latent_dim: int) -> tuple[Any, Any, Any]:
    """``(u_hat, w, b)`` from a layer's raw ``(..., 2 * latent_dim + 1)`` values, with ``w . u_hat > -1``.

    Appendix A.1: ``u_hat = u + (m(w . u) - w . u) * w / |w|^2`` with ``m(x) = -1 + softplus(x)``, which
    makes each layer invertible.
    """
    u, w, b = raw[..., :latent_dim], raw[..., latent_dim : 2 * latent_dim], raw[..., 2 * latent_dim]
    w_dot_u = ops.sum(w * u, axis=-1, keepdims=True)
    # |w|^2 = 0 means w = 0: the layer is then the translation u * tanh(b), invertible as it is.
    squared_norm = ops.maximum(ops.sum(ops.square(w), axis=-1, keepdims=True), 1e-30)
    u_hat = u + (ops.softplus(w_dot_u) - 1.0 - w_dot_u) * w / squared_norm
    return u_hat, w, b


class PlanarBottleneck(AmortisedFlowBottleneck):
    """A Gaussian posterior moved by ``flows`` planar flows whose parameters the encoder gives each sample.

    Each layer is ``f(z) = z + u_hat * tanh(w . z + b)`` (Rezende & Mohamed 2015, eq. 10), with
    ``log |det df/dz| = log(1 + (1 - tanh(w . z + b)^2) * w . u_hat)`` (eqs. 11-12), and ``u_hat`` constrained
    so that ``w . u_hat > -1``, which makes it invertible (appendix A.1). The encoder's features give each
    sample its Gaussian and its own ``u``, ``w`` and ``b`` for every layer (amortised, as in the paper's VAE and
    pythae's ``VAE_LinNF``). ``log q(z_K | x) = log q_0(z_0 | x) - sum_k log |det|`` (eq. 13) comes with every
    draw. The log-density of any other code inverts each layer, a monotone equation in ``w . z``, solved by
    bisection and a final Newton step (which also gives its exact gradient).

    The default regularizer is ``"monte_carlo_kl"``: with the default ``"elbo"`` objective and a likelihood the
    loss is the negative ELBO. ``"kld"`` (the Gaussian's closed form) does not hold for the flowed code and is
    refused.

    Args:
        latent_dim: positive int, the size of the code.
        flows: int >= 0, ``K``, the number of planar layers (0: the diagonal Gaussian alone).
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

    >>> model = Autoencoder(bottleneck={"name": "planar", "latent_dim": 2, "flows": 8})
    >>> model.compile(optimizer="adam", loss="bernoulli")  # the loss is the negative ELBO
    """

    distribution = "planar flow"

    def layer_width(self) -> int:
        return 2 * self.latent_dim + 1

    def flow_parameters(self, features: Any) -> tuple[Any, ...]:
        return planar_parameters(self.raw_flow_parameters(features), self.latent_dim)

    def forward(self, code: Any, layer: int, u: Any, w: Any, b: Any) -> tuple[Any, Any]:
        u, w, b = u[..., layer, :], w[..., layer, :], b[..., layer]
        activation = ops.tanh(ops.sum(w * code, axis=-1) + b)
        log_det = ops.log1p((1.0 - ops.square(activation)) * ops.sum(w * u, axis=-1))
        return code + u * ops.expand_dims(activation, -1), log_det

    def inverse(self, code: Any, layer: int, u: Any, w: Any, b: Any) -> tuple[Any, Any]:
        u, w, b = u[..., layer, :], w[..., layer, :], b[..., layer]
        w_dot_u = ops.sum(w * u, axis=-1)
        target = ops.sum(w * code, axis=-1)
        # w . code = a + (w . u) * tanh(a + b) for a = w . z, the layer's input: increasing in a since
        # w . u > -1, with its root within |w . u| of w . code.
        width = ops.abs(w_dot_u)
        low, high = target - width, target + width

        def halve(step: Any, bracket: tuple[Any, Any]) -> tuple[Any, Any]:
            low, high = bracket
            middle = 0.5 * (low + high)
            above = middle + w_dot_u * ops.tanh(middle + b) > target
            return ops.where(above, low, middle), ops.where(above, middle, high)

        low, high = ops.fori_loop(0, BISECTION_STEPS, halve, (low, high))
        found = ops.stop_gradient(0.5 * (low + high))
        # One Newton step from the root: the same value, and the implicit function's exact gradient.
        slope = 1.0 + w_dot_u * (1.0 - ops.square(ops.tanh(found + b)))
        projection = found - (found + w_dot_u * ops.tanh(found + b) - target) / slope
        activation = ops.tanh(projection + b)
        log_det = ops.log1p((1.0 - ops.square(activation)) * w_dot_u)
        return code - u * ops.expand_dims(activation, -1), log_det


@tfae.hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(PlanarBottleneck, name="planar", aliases=["planar_nf"])
