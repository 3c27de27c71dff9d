"""The deep autoencoder, whose hidden layers a user's ``add_hidden`` function builds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from tfae.bottlenecks.base import BaseBottleneck
from tfae.models.autoencoder import Autoencoder

MAX_HIDDEN_LAYERS = 1000

# add_hidden(x, layer_num, input_shape, latent_dim) -> (new_tensor, is_last)
AddHidden = Callable[[Any, int, tuple[Any, ...], int], tuple[Any, bool]]


@keras.saving.register_keras_serializable(package="tfae")
class DeepAutoencoder(Autoencoder):
    """An autoencoder with hidden layers built by ``add_hidden``, mirrored in the decoder.

    ``add_hidden(x, layer_num, input_shape, latent_dim)`` receives the symbolic tensor so far, the number of
    the layer to add (1, 2, ...), the input's shape (batch dimension first) and the latent size, and returns
    ``(new_tensor, is_last)``. The encoder calls it with 1, 2, ... until ``is_last``, then applies the
    bottleneck; the decoder calls it with the same numbers in reverse order, then maps to the input's shape.

    A saved ``DeepAutoencoder`` stores the layers it built, so loading it needs no ``add_hidden``.

    Args:
        bottleneck: a ``BaseBottleneck``, a registered name, or a dict.
        add_hidden: the function that adds one hidden layer.
        **kwargs: ``Autoencoder`` keyword arguments.

    Example:

    ```python
    def add_hidden(x, layer_num, input_shape, latent_dim):
        units = int(input_shape[-1] * (latent_dim / input_shape[-1]) ** (layer_num / 3))
        return keras.layers.Dense(units, activation="relu")(x), layer_num == 2

    model = DeepAutoencoder(bottleneck=GaussianBottleneck(latent_dim=8), add_hidden=add_hidden)
    ```
    """

    def __init__(
        self,
        bottleneck: BaseBottleneck | str | dict[str, Any],
        add_hidden: AddHidden | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bottleneck, **kwargs)
        if add_hidden is not None and not callable(add_hidden):
            raise ValueError(f"`add_hidden` must be a function. Received: add_hidden={add_hidden!r}")
        self.add_hidden = add_hidden
        self.hidden_layers = 0

    def make_encoder(self, encoder_input: Any) -> Any:
        if self.add_hidden is None:
            raise ValueError(
                "DeepAutoencoder needs `add_hidden`, the function that adds a hidden layer, to build its networks."
            )
        assert self.encoder_input_shape is not None  # build() sets it before it builds the networks
        x = encoder_input
        for layer_num in range(1, MAX_HIDDEN_LAYERS + 1):
            x, is_last = self.add_hidden(x, layer_num, self.encoder_input_shape, self.latent_dim)
            if is_last:
                self.hidden_layers = layer_num
                return self.bottleneck(x)
        raise ValueError(f"`add_hidden` never returned is_last=True in {MAX_HIDDEN_LAYERS} layers.")

    def make_decoder(self, decoder_input: Any) -> Any:
        x = decoder_input
        for layer_num in range(self.hidden_layers, 0, -1):
            # make_encoder, which added the hidden layers, ran with add_hidden and the input's shape.
            assert self.add_hidden is not None and self.encoder_input_shape is not None
            x, _ = self.add_hidden(x, layer_num, self.encoder_input_shape, self.latent_dim)
        return super().make_decoder(x)
