"""Inverse autoregressive flow (Kingma et al. 2016) on a Gaussian posterior, amortised by the encoder's context."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

import tfae
from tfae_flows.flow import DEFAULT_REGULARIZER, FlowBottleneck
from tfae_flows.made import MaskedAutoregressiveNetwork, hidden_units_or_default

#: The initial bias of each layer's s, so that sigma = sigmoid(s) starts near 1 and a layer near the identity
#: (Kingma et al. 2016, section 4: "outputs s_t ... before optimization, sufficiently positive, such as close
#: to +1 or +2").
S_BIAS = 1.0


class IAFBottleneck(FlowBottleneck):
    """A Gaussian posterior moved by ``flows`` inverse autoregressive flow layers, conditioned on a context.

    The encoder's features give each sample its Gaussian and a context ``h`` (``context_dim`` values). Each layer
    ``t`` computes ``[m, s] = MADE_t(z, h)``, every output from the dimensions before its own (a masked network,
    Germain et al. 2015), and moves the code by the gated update ``sigma = sigmoid(s)``, ``z = sigma * z + (1 -
    sigma) * m``, with ``log |det| = sum log sigma`` (Kingma et al. 2016, algorithm 1 and eqs. 10-14). The order
    of the dimensions is reversed from one layer to the next. The networks' weights are the bottleneck's own,
    shared by all samples; the context makes each sample's flow its own. ``log q(z_K | x) = log q_0(z_0 | x) -
    sum_t sum log sigma_t`` comes with every draw; the log-density of any other code inverts each layer, one
    dimension per pass (``latent_dim`` passes a layer).

    The default regularizer is ``"monte_carlo_kl"``: with the default ``"elbo"`` objective and a likelihood the
    loss is the negative ELBO. ``"kld"`` does not hold for the flowed code and is refused.

    Args:
        latent_dim: positive int, the size of the code.
        flows: int >= 0, ``T``, the number of IAF layers (0: the diagonal Gaussian alone).
        hidden_units: the width of each hidden layer of every layer's MADE network, each at least
            ``latent_dim``; by default two layers of ``max(32, 2 * latent_dim)``.
        context_dim: positive int, the size of the context ``h`` the encoder gives each sample.
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

    >>> model = Autoencoder(bottleneck={"name": "iaf", "latent_dim": 2, "flows": 2, "hidden_units": [32, 32]})
    >>> model.compile(optimizer="adam", loss="bernoulli")  # the loss is the negative ELBO
    """

    distribution = "normalizing flow (IAF)"  # read in messages: "has a normalizing flow (IAF) posterior"

    def __init__(
        self,
        latent_dim: int,
        flows: int = 2,
        hidden_units: list[int] | None = None,
        context_dim: int = 16,
        regularizer: Any = DEFAULT_REGULARIZER,
        seed: int | None = None,
        prior: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, flows=flows, regularizer=regularizer, seed=seed, prior=prior, **kwargs)
        self.hidden_units: list[int] = hidden_units_or_default(hidden_units, self.latent_dim)
        if isinstance(context_dim, bool) or not isinstance(context_dim, numbers.Integral) or context_dim < 1:
            raise ValueError(f"`context_dim` must be a positive integer. Received: context_dim={context_dim!r}")
        self.context_dim: int = int(context_dim)
        policy = self.dtype_policy.variable_dtype
        context = keras.layers.Dense(self.context_dim, dtype=policy, name="context") if self.flows else None
        self.context_dense: Any = context
        self.networks: list[MaskedAutoregressiveNetwork] = [
            MaskedAutoregressiveNetwork(
                self.latent_dim,
                self.hidden_units,
                context_dim=self.context_dim,
                reverse=layer % 2 == 1,
                s_bias=S_BIAS,
                dtype=policy,
                name=f"made_{layer}",
            )
            for layer in range(self.flows)
        ]

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if self.context_dense is not None and not self.context_dense.built:
            self.context_dense.build(self.flat_shape(input_shape))
        for network in self.networks:
            if not network.built:
                network.build()

    def flow_parameters(self, features: Any) -> tuple[Any, ...]:
        return (ops.cast(self.context_dense(features), "float32"),)

    def forward(self, code: Any, layer: int, context: Any) -> tuple[Any, Any]:
        m, s = self.networks[layer](code, context)
        # Kingma et al.'s numerically stable update: a convex combination of the code and m.
        sigma = ops.sigmoid(s)
        return sigma * code + (1.0 - sigma) * m, ops.sum(ops.log_sigmoid(s), axis=-1)

    def inverse(self, code: Any, layer: int, context: Any) -> tuple[Any, Any]:
        # Output d depends on the dimensions before it alone: after pass i the first i dimensions (in the layer's
        # order) are exact, so latent_dim passes invert the layer, and the last pass's s is that of the result.
        previous = code
        for _ in range(self.latent_dim):
            m, s = self.networks[layer](previous, context)
            sigma = ops.sigmoid(s)
            previous = (code - (1.0 - sigma) * m) / sigma
        return previous, ops.sum(ops.log_sigmoid(s), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hidden_units": self.hidden_units, "context_dim": self.context_dim}


@tfae.hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(IAFBottleneck, name="iaf", aliases=["inverse_autoregressive_flow"])
