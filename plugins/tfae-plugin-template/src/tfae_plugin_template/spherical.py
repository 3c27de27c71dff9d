"""A bottleneck whose codes lie on a sphere."""

import numbers

import keras
import tfae
from keras import ops
from tfae.bottlenecks import BaseBottleneck, Posterior


class SphericalBottleneck(BaseBottleneck):
    """A Dense layer's output scaled to length ``radius``: every code lies on a sphere.

    Args:
        latent_dim: positive int, the size of the code.
        radius: positive float, the length of every code.
        regularizer: an optional regularizer of the code (instance, name or dict), or a list of them.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: features of shape ``(batch, ...)``.
        training: passed to the regularizer.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, latent_dim)``.
    """

    def __init__(self, latent_dim, radius=1.0, regularizer=None, **kwargs):
        super().__init__(latent_dim, regularizer=regularizer, **kwargs)
        if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not radius > 0:
            raise ValueError(f"`radius` must be a positive number. Received: radius={radius!r}")
        self.radius = float(radius)
        self.dense = keras.layers.Dense(self.latent_dim, dtype=self.dtype_policy, name="direction")

    def build(self, input_shape):
        self.dense.build(self.flat_shape(input_shape))

    def call(self, inputs, training=None):
        code = self.radius * ops.normalize(self.dense(self.flatten(inputs)), axis=-1)
        # The regularizers see the posterior: here the code is its only parameter and what the decoder gets.
        self.add_regularization(Posterior(parameters=(code,), code=code, bottleneck=self), training=training)
        return code

    def sample_prior(self, n, seed=None):
        """Draws ``n`` codes uniformly on the sphere."""
        return self.radius * ops.normalize(keras.random.normal((n, self.latent_dim), seed=seed), axis=-1)

    def get_config(self):
        return {**super().get_config(), "radius": self.radius}


@tfae.hookimpl
def register_bottlenecks(register):
    register(SphericalBottleneck, name="spherical", aliases=["hyperspherical"])
