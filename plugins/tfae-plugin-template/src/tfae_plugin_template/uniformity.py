"""The uniformity penalty, which spreads a batch's codes over the sphere."""

import numbers

from keras import ops

import tfae
from tfae.regularizers import BaseRegularizer


class UniformityRegularizer(BaseRegularizer):
    """How close the batch's codes lie to one another: ``log mean over pairs i != j of exp(-t * |z_i - z_j|^2)``.

    A batch-level penalty (Wang & Isola 2020): it scores the batch as a whole, so ``penalty`` returns one
    value, not one per sample. Under tf.distribute each replica scores its own part of the batch.

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.
        temperature: positive float ``t``; larger values care more about the nearest pairs.

    Call arguments:
        posterior: the bottleneck's ``Posterior``; the penalty reads ``posterior.code``.
    """

    def __init__(self, beta=1.0, temperature=2.0):
        super().__init__(beta)
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
            raise ValueError(f"`temperature` must be a positive number. Received: temperature={temperature!r}")
        self.temperature = float(temperature)

    def penalty(self, posterior, training=False):
        code = posterior.code
        squared = ops.sum(ops.square(code[:, None, :] - code[None, :, :]), axis=-1)
        batch = ops.shape(code)[0]
        # Each sample's distance to itself is left out: the mean is over the batch * (batch - 1) pairs.
        others = 1.0 - ops.eye(batch, dtype="float32")
        pairs = ops.cast(batch * (batch - 1), "float32")
        return ops.log(ops.sum(others * ops.exp(-self.temperature * squared)) / pairs)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@tfae.hookimpl
def register_regularizers(register):
    register(UniformityRegularizer, name="uniformity")
