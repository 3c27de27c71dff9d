"""What the flow posteriors share: a diagonal Gaussian from the encoder, moved by K invertible layers.

A flow bottleneck draws ``z_0 = mean + exp(log_variance / 2) * eps`` and moves it through its layers,
``z_K = f_K(... f_1(z_0))``. Its ``sample`` returns the code with its log-density,

    log q(z_K | x) = log N(z_0; mean, exp(log_variance)) - sum over k of log |det df_k / dz_{k-1}|

(Rezende & Mohamed 2015, eq. 13), so that training and the objectives never invert a layer. The
log-density of any other code (``joint_log_density``: evaluation, ``Posterior.pairwise``) inverts the
layers, each of which is invertible by construction.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import keras
from keras import ops

from tfae.bottlenecks import VariationalBottleneck
from tfae.random import normal

LOG_2PI = math.log(2.0 * math.pi)

#: The registered name of the regularizer a flow bottleneck gets unless told otherwise: the Monte Carlo KL.
DEFAULT_REGULARIZER = "monte_carlo_kl"


def check_count(name: str, value: Any) -> int:
    """``value`` as an int after checking that it is a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0. Received: {name}={value!r}")
    return int(value)


def gaussian_log_density(code: Any, mean: Any, log_variance: Any) -> Any:
    """``log N(code; mean, diag(exp(log_variance)))`` of each code, summed over its last axis."""
    return -0.5 * ops.sum(LOG_2PI + log_variance + ops.square(code - mean) * ops.exp(-log_variance), axis=-1)


class FlowBottleneck(VariationalBottleneck):
    """The contract of this package's flow posteriors: a diagonal Gaussian moved by ``flows`` invertible layers.

    A subclass makes the layers' parameters in ``flow_parameters(features)`` and implements one layer,
    ``forward(code, layer, *flow_parameters)``, returning the moved code and ``log |det|`` of the layer's
    Jacobian, and its inverse, ``inverse(code, layer, *flow_parameters)``, returning the code before the layer
    and the same ``log |det|`` (of the forward layer at that code). Parameters carry the batch first and are
    indexed from the end, so that the same functions serve ``(batch, ...)``, ``(batch, k, ...)`` for ``k`` codes
    per sample, and the broadcast shapes of ``Posterior.pairwise``.

    The code at inference (``sampling="mean"``) is the flow of the Gaussian's mean, given with its log-density;
    the posterior's own mean has no closed form.

    Args:
        latent_dim: positive int, the size of the code.
        flows: int >= 0, ``K``, the number of flow layers; 0 leaves the diagonal Gaussian.
        regularizer: by default ``"monte_carlo_kl"``, the KL to the prior estimated from the drawn code and its
            log-density, which makes the default ELBO objective train the negative ELBO. ``None`` (or ``[]``) for
            none, as an objective that holds the divergence itself (``"iwae"``) needs.
        seed: optional int, makes the noise reproducible.
        prior: the prior ``p(z)`` of real codes, ``"standard_normal"`` by default.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: the encoder's features, shape ``(batch, ...)``.
        training: draw a code when ``True``; give the flow of the Gaussian's mean otherwise.

    Input shape:
        ``(batch_size, ...)``, flattened to ``(batch_size, features)``.

    Output shape:
        ``(batch_size, latent_dim)``.

    Example: a flow of per-sample shifts, ``z + t_k(x)``, whose log-determinants are 0.

    >>> class ShiftBottleneck(FlowBottleneck):
    ...     def __init__(self, latent_dim, flows=2, **kwargs):
    ...         super().__init__(latent_dim, flows=flows, **kwargs)
    ...         self.shifts = keras.layers.Dense(self.flows * self.latent_dim)
    ...     def build(self, input_shape):
    ...         super().build(input_shape)
    ...         self.shifts.build(self.flat_shape(input_shape))
    ...     def flow_parameters(self, features):
    ...         return (ops.reshape(self.shifts(features), (-1, self.flows, self.latent_dim)),)
    ...     def forward(self, code, layer, shifts):
    ...         moved = code + shifts[..., layer, :]
    ...         return moved, ops.zeros(ops.shape(moved)[:-1])
    ...     def inverse(self, code, layer, shifts):
    ...         moved = code - shifts[..., layer, :]
    ...         return moved, ops.zeros(ops.shape(moved)[:-1])
    >>> bottleneck = ShiftBottleneck(latent_dim=2)
    >>> posterior = bottleneck.posterior(ops.ones((3, 5)), sampling="exact")
    >>> tuple(posterior.code.shape), tuple(posterior.log_density().shape), tuple(posterior.pairwise().shape)
    ((3, 2), (3,), (3, 3))
    """

    parameters = 2  # the base class's Dense layer gives the Gaussian's mean and log-variance
    default_prior = "standard_normal"

    def __init__(
        self,
        latent_dim: int,
        flows: int = 4,
        regularizer: Any = DEFAULT_REGULARIZER,
        seed: int | None = None,
        prior: Any = None,
        **kwargs: Any,
    ) -> None:
        self.flows = check_count("flows", flows)
        super().__init__(latent_dim, regularizer=regularizer, seed=seed, prior=prior, **kwargs)

    def flow_parameters(self, features: Any) -> tuple[Any, ...]:
        """The layers' parameters of each sample from the flattened features, float32, batch first."""
        raise NotImplementedError

    def forward(self, code: Any, layer: int, *flow_parameters: Any) -> tuple[Any, Any]:
        """Layer ``layer`` applied to ``code``: the new code and ``log |det|`` of its Jacobian, per code."""
        raise NotImplementedError

    def inverse(self, code: Any, layer: int, *flow_parameters: Any) -> tuple[Any, Any]:
        """The code that layer ``layer`` maps to ``code``, and ``log |det|`` of the layer's Jacobian there."""
        raise NotImplementedError

    def distribution_parameters(self, inputs: Any) -> tuple[Any, ...]:
        features = self.flatten(inputs)
        mean, log_variance = self.split(ops.cast(self.dense(features), "float32"))
        if self.flows == 0:
            return mean, log_variance
        return (mean, log_variance, *self.flow_parameters(features))

    def flow(self, code: Any, log_density: Any, *flow_parameters: Any) -> tuple[Any, Any]:
        """``code`` moved through every layer, and ``log_density`` less each layer's ``log |det|`` (eq. 13)."""
        for layer in range(self.flows):
            code, log_det = self.forward(code, layer, *flow_parameters)
            log_density = log_density - log_det
        return code, log_density

    def sample(self, mean: Any, log_variance: Any, *flow_parameters: Any) -> tuple[Any, Any]:
        noise = self.random(lambda shape: normal(shape, self.seed_generator, dtype="float32"), ops.shape(mean))
        code = mean + ops.exp(0.5 * log_variance) * noise
        log_density = -0.5 * ops.sum(LOG_2PI + log_variance + ops.square(noise), axis=-1)
        return self.flow(code, log_density, *flow_parameters)

    def mean(self, mean: Any, log_variance: Any, *flow_parameters: Any) -> tuple[Any, Any]:
        # The flow of the base mean, with its log-density, as a draw's comes: a regularizer at inference needs
        # no inversion.
        return self.flow(mean, -0.5 * ops.sum(LOG_2PI + log_variance, axis=-1), *flow_parameters)

    def joint_log_density(self, code: Any, mean: Any, log_variance: Any, *flow_parameters: Any) -> Any:
        """``log q(code | x)`` of any code: the layers inverted, last first, then the Gaussian's density.

        ``code`` is ``(..., latent_dim)`` and broadcasts against the parameters (each indexed from the end):
        ``(k, batch, latent_dim)`` codes, or ``Posterior.pairwise``'s ``(batch, 1, latent_dim)`` against
        parameters of ``(1, batch, ...)``.
        """
        code = ops.cast(code, "float32")
        log_det = ops.zeros(())
        for layer in reversed(range(self.flows)):
            code, layer_log_det = self.inverse(code, layer, *flow_parameters)
            log_det = log_det + layer_log_det
        return gaussian_log_density(code, mean, log_variance) - log_det

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "flows": self.flows}


class AmortisedFlowBottleneck(FlowBottleneck):
    """A flow whose layers' parameters each sample gets from the encoder's features, through one Dense layer of
    ``flows * layer_width()`` units (planar and radial flows). A subclass gives ``layer_width`` and turns the
    raw ``(batch, flows, layer_width)`` values of ``raw_flow_parameters`` into its layers' parameters."""

    def __init__(
        self,
        latent_dim: int,
        flows: int = 4,
        regularizer: Any = DEFAULT_REGULARIZER,
        seed: int | None = None,
        prior: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, flows=flows, regularizer=regularizer, seed=seed, prior=prior, **kwargs)
        width = self.flows * self.layer_width()
        policy = self.dtype_policy.variable_dtype
        self.flow_dense: Any = keras.layers.Dense(width, dtype=policy, name="flow_parameters") if self.flows else None

    def layer_width(self) -> int:
        """The raw values each layer takes per sample."""
        raise NotImplementedError

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if self.flow_dense is not None and not self.flow_dense.built:
            self.flow_dense.build(self.flat_shape(input_shape))

    def raw_flow_parameters(self, features: Any) -> Any:
        """The flattened features' raw layer parameters, float32, shape ``(batch, flows, layer_width)``."""
        raw = ops.cast(self.flow_dense(features), "float32")
        return ops.reshape(raw, (-1, self.flows, self.layer_width()))
