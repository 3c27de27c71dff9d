"""MADE, the masked autoregressive network (Germain et al. 2015) of the autoregressive flows (IAF, MAF)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops


def hidden_units_or_default(hidden_units: Any, latent_dim: int) -> list[int]:
    """``hidden_units`` as a list of ints after checking it; ``None`` gives two layers of ``max(32, 2 * latent_dim)``.

    Every hidden layer needs at least ``latent_dim`` units: each unit is given one of the degrees ``0 ..
    latent_dim - 1`` in turn (the dimensions it may see), and a narrower layer would leave the later dimensions
    unable to depend on the earlier ones.
    """
    if hidden_units is None:
        return [max(32, 2 * latent_dim)] * 2
    valid = (
        isinstance(hidden_units, (list, tuple))
        and len(hidden_units) > 0
        and all(isinstance(units, numbers.Integral) and not isinstance(units, bool) for units in hidden_units)
    )
    if not valid:
        raise ValueError(
            "`hidden_units` must be a non-empty list of positive integers, the width of each hidden layer of the "
            f"autoregressive network, such as [64, 64]. Received: hidden_units={hidden_units!r}"
        )
    if min(hidden_units) < latent_dim:
        raise ValueError(
            f"Each hidden layer needs at least latent_dim ({latent_dim}) units, so that every dimension can depend "
            f"on all the earlier ones: widen them, or leave hidden_units out (two layers of "
            f"{max(32, 2 * latent_dim)}). Received: hidden_units={list(hidden_units)!r}"
        )
    return [int(units) for units in hidden_units]


def autoregressive_masks(latent_dim: int, hidden_units: Sequence[int], reverse: bool) -> list[np.ndarray]:
    """The masks of each kernel, input to output, so that output ``d`` depends only on the inputs before it.

    The inputs get the degrees ``1 .. latent_dim`` in their order (reversed with ``reverse``); hidden unit
    ``j`` gets the degree ``j mod latent_dim``, 0 for units that see the context alone. A hidden unit sees
    the units of a degree at most its own; output ``d`` sees the hidden units of a degree below its input's
    (Germain et al. 2015, eqs. 12-13).
    """
    inputs = np.arange(1, latent_dim + 1)
    if reverse:
        inputs = inputs[::-1]
    degrees = [inputs] + [np.arange(units) % latent_dim for units in hidden_units]
    masks = [(later[None, :] >= earlier[:, None]) for earlier, later in zip(degrees[:-1], degrees[1:])]
    masks.append(inputs[None, :] > degrees[-1][:, None])
    return [mask.astype("float32") for mask in masks]


class MaskedAutoregressiveNetwork(keras.layers.Layer):
    """A MADE network giving two outputs per dimension, ``(m, s)``, each a function of the dimensions before it.

    ``h_1 = elu(z W_1 + c V + b_1)``, ``h_{l+1} = elu(h_l W_{l+1} + b_{l+1})``, ``[m, s] = h_L W_out + b_out``,
    every ``W`` masked (``autoregressive_masks``). The context ``c`` (an IAF's, from the
    encoder) enters the first hidden layer, as in Kingma et al. 2016. The flows call it with codes of any
    leading shape, ``(..., latent_dim)``, and contexts that broadcast against them.

    Args:
        latent_dim: positive int, the size of the code.
        hidden_units: the width of each hidden layer, each at least ``latent_dim``.
        context_dim: int >= 0, the size of the context; 0 for none.
        reverse: whether the dimensions come in reverse order.
        s_bias: the initial bias of ``s``.
        output_initializer: the initializer of the output kernel, of ``m`` and ``s`` ("zeros": the outputs start
            at their biases, whatever the code).
        **kwargs: base layer keyword arguments.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden_units: Sequence[int],
        context_dim: int = 0,
        reverse: bool = False,
        s_bias: float = 0.0,
        output_initializer: str = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.hidden_units = [int(units) for units in hidden_units]
        self.context_dim = int(context_dim)
        self.reverse = bool(reverse)
        self.s_bias = float(s_bias)
        self.output_initializer = output_initializer
        masks = autoregressive_masks(self.latent_dim, self.hidden_units, self.reverse)
        # The output mask twice, for m and for s.
        self._masks = (*masks[:-1], np.concatenate([masks[-1], masks[-1]], axis=1))

    def build(self, input_shape: Any = None) -> None:
        fan_in = self.latent_dim
        self.kernels, self.biases = [], []
        for index, units in enumerate(self.hidden_units):
            kernel = self.add_weight(shape=(fan_in, units), initializer="glorot_uniform", name=f"kernel_{index}")
            self.kernels.append(kernel)
            self.biases.append(self.add_weight(shape=(units,), initializer="zeros", name=f"bias_{index}"))
            fan_in = units
        self.context_kernel = None
        if self.context_dim:
            self.context_kernel = self.add_weight(
                shape=(self.context_dim, self.hidden_units[0]), initializer="glorot_uniform", name="context_kernel"
            )
        # m and s side by side in one kernel and one bias: half the variables for the optimizer to update.
        self.output_kernel = self.add_weight(
            shape=(fan_in, 2 * self.latent_dim), initializer=self.output_initializer, name="output_kernel"
        )
        initial = np.concatenate([np.zeros(self.latent_dim), np.full(self.latent_dim, self.s_bias)]).astype("float32")
        self.output_bias = self.add_weight(
            shape=(2 * self.latent_dim,), initializer=keras.initializers.Constant(initial), name="output_bias"
        )
        self.built = True

    def call(self, code: Any, context: Any = None) -> tuple[Any, Any]:
        masks = [ops.convert_to_tensor(mask) for mask in self._masks]
        hidden = ops.cast(code, "float32")
        for index, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            hidden = ops.matmul(hidden, kernel * masks[index]) + bias
            if index == 0 and self.context_kernel is not None:
                hidden = hidden + ops.matmul(ops.cast(context, "float32"), self.context_kernel)
            hidden = ops.elu(hidden)
        outputs = ops.matmul(hidden, self.output_kernel * masks[-1]) + self.output_bias
        return outputs[..., : self.latent_dim], outputs[..., self.latent_dim :]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "hidden_units": self.hidden_units,
            "context_dim": self.context_dim,
            "reverse": self.reverse,
            "s_bias": self.s_bias,
            "output_initializer": self.output_initializer,
        }
