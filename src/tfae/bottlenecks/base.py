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

from tfae.posterior import Posterior
from tfae.regularizers.base import BaseRegularizer, log_name

_TFAE_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside tfae: the user's line."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_TFAE_DIRECTORY + os.sep):
        frame, level = frame.f_back, level + 1
    return level


RegularizerSpec = BaseRegularizer | str | dict[str, Any]


class BaseBottleneck(keras.layers.Layer):
    """The layer between encoder and decoder: it maps features to a latent code.

    A bottleneck flattens its input, computes its code, and adds each regularizer's penalty of its posterior
    to the model's losses. Subclasses implement ``build`` and ``call``; a regularizer given by name or dict
    is resolved through the registry.

    Args:
        latent_dim: positive int, the size of the latent code.
        regularizer: an optional regularizer, or a list of them: each a ``BaseRegularizer``, a registered name,
            or a ``{"name": ..., **params}`` dict, each with its own beta. The model logs each one's penalty as
            ``<name>_loss`` (``kld_loss``) and their sum as ``regularization_loss``.
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
            self.add_regularization(Posterior(parameters=(code,), code=code, bottleneck=self), training=training)
            return code
    ```
    """

    def __init__(
        self,
        latent_dim: int,
        regularizer: RegularizerSpec | Sequence[RegularizerSpec] | None = None,
        kernel_regularizer: RegularizerSpec | Sequence[RegularizerSpec] | None = None,
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
        self.latent_dim: int = int(latent_dim)
        self._regularizer_is_list: bool = isinstance(regularizer, (list, tuple))
        specs = list(regularizer) if isinstance(regularizer, (list, tuple)) else [regularizer]
        self.regularizers: list[BaseRegularizer] = [
            _resolve_regularizer(spec, argument) for spec in specs if spec is not None
        ]
        for resolved in self.regularizers:
            resolved.check_bottleneck(self)
            resolved.build(self.latent_dim)
        self.regularizer_names: list[str] = _log_names(self.regularizers)
        # Tracked so that the regularizers' schedules, seeds and weights are part of the model's state.
        self.regularizer_variables: list[keras.Variable] = [v for r in self.regularizers for v in r.variables]
        self.regularizer_seed_generators = [g for r in self.regularizers for g in r.seed_generators]
        self.regularizer_layers = [layer for r in self.regularizers for layer in r.layers]

    @property
    def regularizer(self) -> BaseRegularizer | None:
        """The bottleneck's regularizer when it has one, ``None`` when it has none; see ``regularizers`` for several."""
        if len(self.regularizers) > 1:
            raise AttributeError(
                f"This bottleneck has {len(self.regularizers)} regularizers ({', '.join(self.regularizer_names)}): "
                "use `regularizers`, the list of them."
            )
        return self.regularizers[0] if self.regularizers else None

    @property
    def has_densities(self) -> bool:
        """Whether the bottleneck gives ``log_density`` and ``log_prior`` of codes (variational ones do)."""
        return False

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

    def add_regularization(self, posterior: Posterior | Any, *parameters: Any, training: bool | None = None) -> None:
        """Adds each regularizer's weighted penalty of ``posterior`` to the model's losses; ``call`` calls it.

        For a regularizer with weights of its own, its objective (of the posterior with gradients stopped) is
        added after its penalty. The model reads them in this order (``regularizer_names``).

        Args:
            posterior: a ``Posterior``: the distribution parameters, the code the decoder receives, and this
                bottleneck. The seed's form, the parameters themselves, is accepted too:
                ``add_regularization(mean, log_variance, training=training)``, which gives the regularizers no code.
            training: whether the call is part of a train step (a step-counted scheduler then moves on).
        """
        if not isinstance(posterior, Posterior):
            posterior = Posterior(parameters=(posterior, *parameters), bottleneck=self)
        for regularizer in self.regularizers:
            self.add_loss(regularizer(posterior, training=bool(training)))
            if regularizer.has_objective:
                self.add_loss(ops.cast(regularizer.objective(posterior.stop_gradient(), training=bool(training)), "float32"))

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
        from tfae.serialization import component_spec

        specs = [component_spec("regularizer", regularizer) for regularizer in self.regularizers]
        config = {**super().get_config(), "latent_dim": self.latent_dim}
        config["regularizer"] = specs if self._regularizer_is_list or len(specs) > 1 else (specs[0] if specs else None)
        return config


def _resolve_regularizer(spec: Any, argument: str) -> BaseRegularizer:
    regularizer = spec
    if not isinstance(regularizer, BaseRegularizer):
        from tfae.plugins import resolve

        regularizer = resolve("regularizer", regularizer)
    if not isinstance(regularizer, BaseRegularizer):
        raise ValueError(
            f"`{argument}` must be a tfae regularizer (a BaseRegularizer, its registered name such as 'kld', "
            "or a dict), or a list of them; a Keras weight regularizer would penalise the weights, not each "
            f"sample's posterior. Received: {argument}={spec!r}"
        )
    return regularizer


def _log_names(regularizers: Sequence[BaseRegularizer]) -> list[str]:
    """``kld``, ``mmd``, ...: one distinct name per regularizer; a name's second use is ``kld_2``, and so on."""
    bases = [log_name(regularizer) for regularizer in regularizers]
    return [base if bases[:index].count(base) == 0 else f"{base}_{bases[:index].count(base) + 1}" for index, base in enumerate(bases)]
