"""A bottleneck whose codes lie on a sphere."""

import numbers

import keras
from keras import ops

import tfae
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
        sampling: ignored: the code is the same for ``"mean"``, ``"reparameterized"`` and ``"exact"``.

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

    def posterior(self, inputs, sampling="mean", training=False, importance_samples=1):
        """The code and what the regularizers see: here the code is the only parameter and what the decoder gets."""
        if importance_samples != 1:
            raise ValueError(
                "SphericalBottleneck gives one code per sample; it cannot draw "
                f"importance_samples={importance_samples!r}. Use a variational bottleneck such as 'gaussian'."
            )
        code = self.radius * ops.normalize(self.dense(self.flatten(inputs)), axis=-1)
        return Posterior(parameters=(code,), code=code, bottleneck=self)

    def sample_prior(self, n, seed=None):
        """Draws ``n`` codes uniformly on the sphere."""
        return self.radius * ops.normalize(keras.random.normal((n, self.latent_dim), seed=seed), axis=-1)

    def get_config(self):
        return {**super().get_config(), "radius": self.radius}


@tfae.hookimpl
def register_bottlenecks(register):
    register(SphericalBottleneck, name="spherical", aliases=["hyperspherical"])
