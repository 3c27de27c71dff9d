"""The VampPrior (Tomczak & Welling 2018): a mixture of the posteriors of learned pseudo-inputs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from tfae.counts import checked_count
from tfae.hookspecs import hookimpl
from tfae.keras_private import set_untracked
from tfae.priors.base import BasePrior


class VampPrior(BasePrior):
    """``p(z) = (1/K) sum_k q(z | u_k)``: the model's own posterior of ``K`` learned pseudo-inputs ``u_k``.

    The pseudo-inputs live in data space, with the data's shape, and pass through the model's encoder up to
    the bottleneck (``model.feature_network``) and the bottleneck's distribution parameters: the prior moves
    as the encoder learns. The model connects the prior to itself when it is built and again when it is
    loaded, so a saved model keeps its pseudo-inputs. A KL regularizer estimates ``KL(q || p)`` by Monte Carlo.
    It needs a Gaussian bottleneck (to draw from ``q(z | u_k)``) and an encoder with a fixed input shape.

    Args:
        components: positive int, ``K``, the number of pseudo-inputs.
        seed: optional int, the seed of the pseudo-inputs' initial values (uniform in [0, 1]).
        latent_dim: optional; ``None`` takes the bottleneck's.
        **kwargs: base layer keyword arguments.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld",
    ...                                 "prior": {"name": "vamp", "components": 50}})
    """

    def __init__(
        self, components: int = 50, seed: int | None = None, latent_dim: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.components: int = checked_count(components, "components")
        self.seed: int | None = seed
        self.pseudo_inputs: keras.Variable | None = None

    def connect(self, model: keras.Model) -> None:
        bottleneck = model.bottleneck
        if getattr(bottleneck, "distribution", None) != "gaussian":
            raise ValueError(
                f"The prior 'vamp' draws from the posterior of its pseudo-inputs, which needs a gaussian bottleneck; "
                f"this model's is {type(bottleneck).__name__}."
            )
        data_shape = tuple(model.feature_network.input.shape[1:])
        if any(size is None for size in data_shape):
            raise ValueError(
                f"The prior 'vamp' makes {self.components} pseudo-inputs of the data's shape, but this model's "
                f"encoder takes samples of shape {data_shape}, with sizes left open: "
                "give the encoder a fixed input shape."
            )
        if self.pseudo_inputs is None:
            # Made now, not in build: only the model knows the data's shape.
            self.pseudo_inputs = self.add_weight(
                shape=(self.components, *data_shape),
                initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed),
                dtype="float32",
                name="pseudo_inputs",
            )
        elif tuple(self.pseudo_inputs.shape[1:]) != data_shape:
            raise ValueError(
                f"The prior 'vamp' has pseudo-inputs of shape {tuple(self.pseudo_inputs.shape[1:])}, but the "
                f"encoder takes samples of shape {data_shape}."
            )
        features = model.feature_network

        def component_parameters(pseudo_inputs: Any) -> tuple[Any, ...]:
            return bottleneck.distribution_parameters(features(pseudo_inputs))

        # Functions, not the networks themselves: the model owns their weights, and Keras' saving walks a
        # layer's attributes (a reference back to the bottleneck would be a cycle).
        set_untracked(self, "_component_parameters", component_parameters)
        set_untracked(self, "_joint_log_density", bottleneck.joint_log_density)

    def component_parameters(self) -> tuple[Any, ...]:
        """The bottleneck's distribution parameters of each pseudo-input, each of shape ``(components, latent_dim)``."""
        parameters_of = getattr(self, "_component_parameters", None)
        if parameters_of is None or self.pseudo_inputs is None:
            raise ValueError(
                "The prior 'vamp' is not connected to a model yet: build the model first (fit or call it)."
            )
        return parameters_of(ops.convert_to_tensor(self.pseudo_inputs))

    def log_prob(self, code: Any) -> Any:
        mean, log_variance = self.component_parameters()
        code = ops.expand_dims(ops.cast(code, "float32"), -2)  # (..., 1, latent_dim) against (components, latent_dim)
        per_component = self._joint_log_density(code, mean, log_variance)
        return ops.logsumexp(per_component, axis=-1) - math.log(self.components)

    def sample(self, n: int, seed: Any = None) -> Any:
        shape = self.sample_shape(n)
        seed = keras.random.SeedGenerator(seed) if not isinstance(seed, keras.random.SeedGenerator) else seed
        mean, log_variance = self.component_parameters()
        chosen = keras.random.randint((shape[0],), 0, self.components, seed=seed)
        scales = ops.exp(0.5 * ops.take(log_variance, chosen, axis=0))
        return ops.take(mean, chosen, axis=0) + scales * keras.random.normal(shape, seed=seed, dtype="float32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "components": self.components, "seed": self.seed}


@hookimpl
def register_priors(register: Callable[..., Any]) -> None:
    register(VampPrior, name="vamp", aliases=["vampprior"])
