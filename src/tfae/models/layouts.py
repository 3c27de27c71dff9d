"""The encoder and decoder layouts a config file names: a dense stack or a convolutional one."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import keras

from tfae.bottlenecks.base import BaseBottleneck
from tfae.counts import checked_count
from tfae.layout_names import LAYOUTS
from tfae.models.autoencoder import Autoencoder


def spatial_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """The image sizes of the conv layout, input first: each stride-2 convolution halves them, rounding up."""
    sizes = [(height, width)]
    for _ in range(levels):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
        sizes.append((height, width))
    return sizes


@keras.saving.register_keras_serializable(package="tfae")
class LayoutAutoencoder(Autoencoder):
    """An autoencoder whose encoder and decoder are a dense or a convolutional stack, mirrored.

    ``layout="dense"`` flattens the input and applies one Dense layer per entry of ``hidden`` before the
    bottleneck; the decoder applies them in reverse order, then maps back to the input's shape.
    ``layout="conv"`` needs images, shape ``(height, width)`` or ``(height, width, channels)``: each entry
    of ``hidden`` is a Conv2D with that many filters and stride 2 (halving height and width); the decoder
    mirrors it with stride-2 Conv2DTranspose layers, crops to the encoder's sizes (so odd sizes such as
    28 -> 14 -> 7 -> 4 come back exactly), and ends with a Conv2D to the input's channels.

    A saved model stores the layers it built, so loading it needs none of these arguments (and the loaded
    model's ``layout``, ``hidden``, ``activation`` and ``kernel_size`` are ``None``).

    Args:
        bottleneck: a ``BaseBottleneck``, a registered name, or a dict such as
            ``{"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}``.
        layout: ``"dense"`` or ``"conv"``.
        hidden: the hidden sizes from the input inwards: Dense units, or Conv2D filters.
        activation: the hidden layers' activation.
        kernel_size: the convolutions' kernel size (``layout="conv"`` only).
        **kwargs: ``Autoencoder`` keyword arguments, such as ``likelihood`` and ``name``.

    Example:

    ```python
    model = LayoutAutoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}, hidden=[64, 32])
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(images, epochs=10)
    ```
    """

    def __init__(
        self,
        bottleneck: BaseBottleneck | str | dict[str, Any],
        layout: str = "dense",
        hidden: Sequence[int] = (64, 32),
        activation: str | Callable[[Any], Any] | None = "relu",
        kernel_size: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(bottleneck, **kwargs)
        if layout not in LAYOUTS:
            raise ValueError(f"`layout` must be one of {', '.join(LAYOUTS)}. Received: layout={layout!r}")
        hidden = list(hidden)
        if any(isinstance(size, bool) or not isinstance(size, int) or size < 1 for size in hidden):
            raise ValueError(f"`hidden` must be a list of positive integers. Received: hidden={hidden!r}")
        if layout == "conv" and not hidden:
            raise ValueError("The conv layout needs at least one entry in `hidden` (the filters of a Conv2D layer).")
        checked_count(kernel_size, "kernel_size")
        keras.activations.get(activation)
        # All None in a loaded model, which is built from its saved layers (see from_config).
        self.layout: str | None = layout
        self.hidden: list[int] | None = hidden
        self.activation: str | Callable[[Any], Any] | None = activation
        self.kernel_size: int | None = kernel_size

    def _image_shape(self) -> tuple[int, ...]:
        assert self.encoder_input_shape is not None  # build() sets it before it builds the networks
        shape = tuple(self.encoder_input_shape[1:])
        if len(shape) == 2:
            return (*shape, 1)
        if len(shape) == 3:
            return shape
        raise ValueError(
            "The conv layout needs images, of shape (height, width) or (height, width, channels); "
            f'the data\'s samples have shape {shape}. Use layout = "dense" for other data.'
        )

    def _spatial_sizes(self) -> list[tuple[int, int]]:
        assert self.hidden is not None  # None only in a loaded model, which never builds its networks
        height, width, _ = self._image_shape()
        return spatial_sizes(height, width, len(self.hidden))

    def make_encoder(self, encoder_input: Any) -> Any:
        assert self.hidden is not None  # None only in a loaded model, which never builds its networks
        x = encoder_input
        if self.layout == "dense":
            if len(x.shape) > 2:
                x = keras.layers.Flatten()(x)
            for units in self.hidden:
                x = keras.layers.Dense(units, activation=self.activation)(x)
            return self.bottleneck(x)
        image_shape = self._image_shape()
        if len(x.shape) == 3:
            x = keras.layers.Reshape(image_shape)(x)
        for filters in self.hidden:
            x = keras.layers.Conv2D(filters, self.kernel_size, strides=2, padding="same", activation=self.activation)(x)
        return self.bottleneck(x)

    def make_decoder(self, decoder_input: Any) -> Any:
        assert self.hidden is not None  # None only in a loaded model, which never builds its networks
        assert self.encoder_input_shape is not None  # build() sets it before it builds the networks
        x = decoder_input
        if self.layout == "dense":
            for units in reversed(self.hidden):
                x = keras.layers.Dense(units, activation=self.activation)(x)
            return super().make_decoder(x)
        sizes = self._spatial_sizes()
        height, width = sizes[-1]
        x = keras.layers.Dense(height * width * self.hidden[-1], activation=self.activation)(x)
        x = keras.layers.Reshape((height, width, self.hidden[-1]))(x)
        for level in range(len(self.hidden) - 1, -1, -1):
            x = keras.layers.Conv2DTranspose(
                self.hidden[level], self.kernel_size, strides=2, padding="same", activation=self.activation
            )(x)
            target_height, target_width = sizes[level]
            extra_height, extra_width = 2 * sizes[level + 1][0] - target_height, 2 * sizes[level + 1][1] - target_width
            if extra_height or extra_width:
                x = keras.layers.Cropping2D(((0, extra_height), (0, extra_width)))(x)
        channels = self._image_shape()[-1]
        x = keras.layers.Conv2D(channels, self.kernel_size, padding="same", name="reconstruction")(x)
        shape = tuple(self.encoder_input_shape[1:])
        if len(shape) == 2:
            x = keras.layers.Reshape(shape)(x)
        return x

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.built:
            # The built layers are in the config; leaving the layout out lets any tfae load the model, as an
            # Autoencoder, without importing this module.
            return config
        return {
            **config,
            "layout": self.layout,
            "hidden": None if self.hidden is None else list(self.hidden),
            "activation": self.activation,
            "kernel_size": self.kernel_size,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LayoutAutoencoder:
        # Autoencoder.from_config builds a `cls`.
        model = cast(LayoutAutoencoder, super().from_config(config))
        if "layout" not in config:
            model.layout = model.hidden = model.activation = model.kernel_size = None
        return model
