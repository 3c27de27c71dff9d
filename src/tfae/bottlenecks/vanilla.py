"""The plain autoencoder bottleneck: a Dense layer to the latent code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from tfae.bottlenecks.base import BaseBottleneck, RegularizerSpec, check_sampling
from tfae.hookspecs import hookimpl
from tfae.posterior import Posterior


class VanillaBottleneck(BaseBottleneck):
    """A deterministic bottleneck: ``code = activation(dense(flatten(inputs)))``.

    Args:
        latent_dim: positive int, the size of the code.
        activation: the Dense layer's activation (linear by default).
        regularizer: an optional regularizer of the code, such as ``"l2"``.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: features of shape ``(batch, ...)``.
        training: unused; the code is the same while training and at inference.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, latent_dim)``.

    Example:

    >>> bottleneck = VanillaBottleneck(latent_dim=2)
    >>> tuple(bottleneck(keras.ops.ones((4, 8))).shape)
    (4, 2)
    """

    def __init__(
        self,
        latent_dim: int,
        activation: str | Callable[[Any], Any] | None = None,
        regularizer: RegularizerSpec | Sequence[RegularizerSpec] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, regularizer=regularizer, **kwargs)
        self.activation = keras.activations.get(activation)
        self.dense = keras.layers.Dense(latent_dim, activation=activation, dtype=self.dtype_policy, name="code")

    def build(self, input_shape: Sequence[int | None]) -> None:
        self.dense.build(self.flat_shape(input_shape))

    def posterior(
        self, inputs: Any, sampling: str = "mean", training: bool = False, importance_samples: int = 1
    ) -> Posterior:
        check_sampling(sampling)
        if importance_samples != 1:
            raise ValueError(
                f"VanillaBottleneck gives one deterministic code per sample; it cannot draw importance_samples="
                f"{importance_samples!r}. Use a variational bottleneck such as 'gaussian'."
            )
        code = self.dense(self.flatten(inputs))
        return Posterior(parameters=(code,), code=code, bottleneck=self)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": keras.activations.serialize(self.activation)}


@hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(VanillaBottleneck, name="vanilla", aliases=["dense", "deterministic"])
