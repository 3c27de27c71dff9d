"""The contract every reconstruction likelihood fulfils."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops


def sum_over_features(values: Any) -> Any:
    """Sums each sample's values over all non-batch axes: ``(batch, ...)`` to ``(batch,)``."""
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


class BaseLikelihood(keras.layers.Layer):
    """The decoder's distribution ``p(x | z)``: a reconstruction loss in nats.

    The decoder emits the distribution's parameters (for a Bernoulli: logits). A likelihood maps them to
    data space when called (its mean: probabilities, never logits), and scores targets with
    ``negative_log_likelihood``: one value per sample, in nats, summed over all non-batch axes and computed
    in float32. With ``beta = 1`` a model's loss is then the negative ELBO per sample.

    Give one to ``model.compile(loss=...)`` by name (``"bernoulli"``, ``"gaussian"``), dict or instance.

    Call arguments:
        parameters: the decoder's output, shape ``(batch, ...)``.

    Returns:
        The mean of the distribution, of the parameters' shape.

    Example:

    ```python
    class LaplaceLikelihood(BaseLikelihood):
        def call(self, parameters):
            return parameters

        def negative_log_likelihood(self, targets, parameters):
            error = ops.abs(ops.cast(targets, "float32") - ops.cast(parameters, "float32"))
            return sum_over_features(error + math.log(2.0))
    ```
    """

    def call(self, parameters: Any) -> Any:
        raise NotImplementedError

    def negative_log_likelihood(self, targets: Any, parameters: Any) -> Any:
        """Returns ``-log p(targets | parameters)`` per sample, shape ``(batch,)``, float32."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> Sequence[int | None]:
        return input_shape
