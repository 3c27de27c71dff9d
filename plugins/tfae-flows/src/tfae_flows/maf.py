"""A masked autoregressive flow as a learned prior (Papamakarios et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import ops

import tfae
from tfae.priors import BasePrior
from tfae_flows.flow import LOG_2PI, check_count
from tfae_flows.made import MaskedAutoregressiveNetwork, hidden_units_or_default


class MAFPrior(BasePrior):
    """``p(z)``: a standard normal moved by ``flows`` masked autoregressive layers, learned with the model.

    Layer ``t`` maps a code to ``u = (z - m(z)) * exp(-s(z))``, where ``[m, s] = MADE_t(z)`` and each output
    depends on the dimensions before its own (Papamakarios et al. 2017, eqs. 2-5; Germain et al. 2015); the
    order is reversed from one layer to the next. After the last layer ``u ~ N(0, I)``, so
    ``log p(z) = log N(u_T; 0, I) - sum_t sum s_t``: one pass per layer, cheap for the objectives and the
    regularizers, which score codes at every step. ``sample`` inverts each layer, one dimension per pass
    (``latent_dim`` passes a layer), which only ``model.sample`` and evaluation need. The networks' output
    kernels start at 0, so the prior starts as ``N(0, I)`` and learns from there. It does not factorise over
    dimensions, so regularizers with closed forms against ``N(0, I)`` (``"kld"``) estimate the KL by Monte
    Carlo against it.

    Args:
        flows: int >= 0, the number of layers (0: ``N(0, I)``).
        hidden_units: the width of each hidden layer of every layer's network, each at least ``latent_dim``; by
            default two layers of ``max(32, 2 * latent_dim)``.
        latent_dim: optional; ``None`` takes the bottleneck's.
        **kwargs: base layer keyword arguments.

    Example:

    >>> bottleneck = {"name": "gaussian", "latent_dim": 2, "regularizer": "kld", "prior": {"name": "maf", "flows": 2}}
    >>> model = Autoencoder(bottleneck=bottleneck)
    """

    def __init__(
        self, flows: int = 2, hidden_units: list[int] | None = None, latent_dim: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.flows = check_count("flows", flows)
        # Checked against the latent size when it is known: here if given, else when the bottleneck builds it.
        checked = None if hidden_units is None else hidden_units_or_default(hidden_units, self.latent_dim or 1)
        self.hidden_units: list[int] | None = checked
        self.networks: list[MaskedAutoregressiveNetwork] = []

    def build(self, latent_dim: Any) -> None:
        self.latent_dim = int(latent_dim)
        units = hidden_units_or_default(self.hidden_units, self.latent_dim)
        self.networks = [
            # float32 whatever the dtype policy: densities are computed in float32 (as tfae's KL and likelihoods).
            MaskedAutoregressiveNetwork(
                self.latent_dim,
                units,
                reverse=layer % 2 == 1,
                output_initializer="zeros",
                dtype="float32",
                name=f"made_{layer}",
            )
            for layer in range(self.flows)
        ]
        for network in self.networks:
            network.build()
        self.built = True

    def log_prob(self, code: Any) -> Any:
        code = ops.cast(code, "float32")
        log_det = ops.zeros(())
        for network in self.networks:
            m, s = network(code)
            code = (code - m) * ops.exp(-s)
            log_det = log_det - ops.sum(s, axis=-1)
        return -0.5 * ops.sum(LOG_2PI + ops.square(code), axis=-1) + log_det

    def sample(self, n: int, seed: Any = None) -> Any:
        shape = self.sample_shape(n)
        code = keras.random.normal(shape, seed=seed, dtype="float32")
        for network in reversed(self.networks):
            # Each pass makes one more dimension exact (in the layer's order): latent_dim passes invert the layer.
            noise = code
            for _ in range(shape[1]):
                m, s = network(code)
                code = noise * ops.exp(s) + m
        return code

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "flows": self.flows, "hidden_units": self.hidden_units}


@tfae.hookimpl
def register_priors(register: Callable[..., Any]) -> None:
    register(MAFPrior, name="maf", aliases=["masked_autoregressive_flow"])
