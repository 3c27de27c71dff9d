"""The contract every bottleneck fulfils."""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from collections.abc import Sequence
from types import FrameType
from typing import Any

import keras
from keras import ops

from tfae.regularizers.base import BaseRegularizer

_TFAE_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside tfae: the user's line."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_TFAE_DIRECTORY + os.sep):
        frame, level = frame.f_back, level + 1
    return level


class BaseBottleneck(keras.layers.Layer):
    """The layer between encoder and decoder: it maps features to a latent code.

    A bottleneck flattens its input, computes its code, and adds its regularizer's penalty to the
    model's losses. Subclasses implement ``build`` and ``call``; a regularizer given by name or dict is
    resolved through the registry.

    Args:
        latent_dim: positive int, the size of the latent code.
        regularizer: an optional ``BaseRegularizer``, registered name, or ``{"name": ..., **params}`` dict.
        kernel_regularizer: the seed's name for ``regularizer``; means exactly the same.
        **kwargs: base layer keyword arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: the encoder's features, shape ``(batch, ...)``.
        training: whether the call is part of a train step.

    Input shape:
        ``(batch_size, ...)``, flattened to ``(batch_size, features)``.

    Output shape:
        ``(batch_size, latent_dim)``.

    Example:

    ```python
    class TanhBottleneck(BaseBottleneck):
        def build(self, input_shape):
            self.dense = keras.layers.Dense(self.latent_dim, activation="tanh")
            self.dense.build(self.flat_shape(input_shape))

        def call(self, inputs, training=None):
            code = self.dense(self.flatten(inputs))
            self.add_regularization(code, training=training)
            return code
    ```
    """

    def __init__(
        self,
        latent_dim: int,
        regularizer: BaseRegularizer | str | dict[str, Any] | None = None,
        kernel_regularizer: BaseRegularizer | str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if "kernel_regulirizer" in kwargs:
            misspelled = kwargs.pop("kernel_regulirizer")
            warnings.warn(
                "`kernel_regulirizer` is a misspelling kept from the original TFAE README; use `regularizer=`.",
                DeprecationWarning,
                stacklevel=_caller_stacklevel(),
            )
            if kernel_regularizer is not None:
                raise ValueError(
                    "Pass the regularizer once: `kernel_regularizer=` and `kernel_regulirizer=` mean the same. "
                    f"Received: kernel_regularizer={kernel_regularizer!r}, kernel_regulirizer={misspelled!r}"
                )
            kernel_regularizer = misspelled
        super().__init__(**kwargs)
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, numbers.Integral) or latent_dim < 1:
            raise ValueError(f"`latent_dim` must be a positive integer. Received: latent_dim={latent_dim!r}")
        if regularizer is not None and kernel_regularizer is not None:
            raise ValueError(
                "Pass the regularizer once: `regularizer=` and `kernel_regularizer=` mean the same. "
                f"Received: regularizer={regularizer!r}, kernel_regularizer={kernel_regularizer!r}"
            )
        argument = "regularizer"
        if regularizer is None and kernel_regularizer is not None:
            argument, regularizer = "kernel_regularizer", kernel_regularizer
        if regularizer is not None and not isinstance(regularizer, BaseRegularizer):
            from tfae.plugins import resolve

            regularizer = resolve("regularizer", regularizer)
        if regularizer is not None and not isinstance(regularizer, BaseRegularizer):
            raise ValueError(
                f"`{argument}` must be a tfae regularizer (a BaseRegularizer, its registered name such as 'kld', "
                "or a dict); a Keras weight regularizer would penalise the weights, not each sample's posterior. "
                f"Received: {argument}={regularizer!r}"
            )
        self.latent_dim: int = int(latent_dim)
        self.regularizer: BaseRegularizer | None = regularizer
        # Tracked so that a scheduler's value and step counter are part of the model's state.
        self.regularizer_variables: list[keras.Variable] = (
            list(regularizer.variables) if regularizer is not None else []
        )

    @staticmethod
    def flatten(inputs: Any) -> Any:
        if len(inputs.shape) == 2:
            return inputs
        return ops.reshape(inputs, (ops.shape(inputs)[0], -1))

    @staticmethod
    def flat_shape(input_shape: Sequence[int | None]) -> tuple[int | None, int]:
        features = 1
        for size in input_shape[1:]:
            if size is None:
                raise ValueError(f"A bottleneck needs known feature dimensions. Received: input_shape={input_shape}")
            features *= size
        return (input_shape[0], features)

    def add_regularization(self, *parameters: Any, training: bool | None = None) -> None:
        """Adds the regularizer's weighted penalty of ``parameters`` to the model's losses; ``call`` calls it.

        Args:
            *parameters: what the regularizer scores, each of shape ``(batch, latent_dim)``: a variational
                bottleneck's distribution parameters (mean and log-variance), or a deterministic code.
            training: whether the call is part of a train step (a step-counted scheduler then moves on).
        """
        if self.regularizer is not None:
            self.add_loss(self.regularizer(*parameters, training=bool(training)))

    def update_metrics(self) -> None:
        """Updates the layer's metrics from what its last ``call`` recorded; the model calls it in every step.

        A bottleneck's metric (such as a codebook's perplexity) is a ``keras.metrics.Metric`` attribute of the
        layer, which the model logs under the metric's name. Its state changes here, not in ``call``: on the
        JAX backend a layer's ``call`` cannot change a metric's variables. So ``call`` assigns the batch's value
        to a non-trainable variable, and this method passes it to the metric. The default has no metric.
        """

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, int]:
        return (input_shape[0], self.latent_dim)

    def sample_prior(self, n: int, seed: int | None = None) -> Any:
        """Draws ``n`` codes from the prior; only generative (variational) bottlenecks have one."""
        raise NotImplementedError(
            f"{type(self).__name__} has no prior to sample from: use a variational bottleneck such as "
            "GaussianBottleneck to generate new samples."
        )

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "latent_dim": self.latent_dim, "regularizer": None}
        if self.regularizer is not None:
            from tfae.serialization import component_spec

            config["regularizer"] = component_spec("regularizer", self.regularizer)
        return config
