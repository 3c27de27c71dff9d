"""The contract of bottlenecks that encode each sample as a distribution."""

import keras
from keras import ops

from tfae.bottlenecks.base import BaseBottleneck


class VariationalBottleneck(BaseBottleneck):
    """A bottleneck whose code is drawn from a per-sample distribution.

    A Dense layer emits ``parameters * latent_dim`` distribution parameters; ``split`` turns them into the
    distribution's parameters (for a Gaussian: mean and log-variance). While training the code is a
    reparameterised sample, so gradients reach every encoder weight; at inference it is the mean. The
    regularizer sees the parameters of each sample, in float32.

    Subclasses set ``parameters`` and implement ``split``, ``sample``, ``mean`` and ``sample_prior``.

    Args:
        latent_dim: positive int, the size of the latent code.
        regularizer: an optional regularizer of the distribution parameters (instance, name or dict).
        seed: optional int, makes the sampling noise reproducible.
        **kwargs: ``BaseBottleneck`` keyword arguments.

    Call arguments:
        inputs: the encoder's features, shape ``(batch, ...)``.
        training: sample when ``True``; return the mean otherwise.
    """

    parameters = 2

    def __init__(self, latent_dim, regularizer=None, seed=None, **kwargs):
        super().__init__(latent_dim, regularizer=regularizer, **kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.dense = keras.layers.Dense(self.parameters * latent_dim, dtype=self.dtype_policy, name="parameters")

    def build(self, input_shape):
        self.dense.build(self.flat_shape(input_shape))

    def distribution_parameters(self, inputs):
        """Returns the distribution parameters of each sample, as a tuple of float32 tensors."""
        raw = ops.cast(self.dense(self.flatten(inputs)), "float32")
        return self.split(raw)

    def call(self, inputs, training=None):
        parameters = self.distribution_parameters(inputs)
        self.add_regularization(*parameters, training=training)
        code = self.sample(*parameters) if training else self.mean(*parameters)
        return ops.cast(code, self.compute_dtype)

    def split(self, raw):
        """Splits the Dense output ``(batch, parameters * latent_dim)`` into the distribution's parameters."""
        return tuple(ops.split(raw, self.parameters, axis=-1))

    def sample(self, *parameters):
        """Draws one reparameterised code per sample."""
        raise NotImplementedError

    def mean(self, *parameters):
        """Returns the distribution's mean, the code used at inference."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
