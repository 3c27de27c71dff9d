"""The noisy bottleneck, and the hook that registers it with tfae."""

import keras

import tfae
from tfae.bottlenecks import BaseBottleneck


class NoisyBottleneck(BaseBottleneck):
    """A Dense code with Gaussian noise added while training, as in a denoising autoencoder.

    Args:
        latent_dim: positive int, the size of the code.
        stddev: float >= 0, the standard deviation of the noise.
        regularizer: an optional regularizer of the code, such as ``"l2"``.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: features of shape ``(batch, ...)``.
        training: add noise when ``True``.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, latent_dim)``.
    """

    def __init__(self, latent_dim, stddev=0.1, regularizer=None, **kwargs):
        super().__init__(latent_dim, regularizer=regularizer, **kwargs)
        if not stddev >= 0:
            raise ValueError(f"`stddev` must be >= 0. Received: stddev={stddev!r}")
        self.stddev = float(stddev)
        self.dense = keras.layers.Dense(latent_dim, dtype=self.dtype_policy, name="code")
        self.noise = keras.layers.GaussianNoise(self.stddev)

    def build(self, input_shape):
        self.dense.build(self.flat_shape(input_shape))

    def call(self, inputs, training=None):
        code = self.dense(self.flatten(inputs))
        self.add_regularization(code, training=training)
        return self.noise(code, training=training)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@tfae.hookimpl
def register_bottlenecks(register):
    register(NoisyBottleneck, name="noisy", aliases=["denoising"])
