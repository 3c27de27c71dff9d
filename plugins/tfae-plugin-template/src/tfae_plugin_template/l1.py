"""The L1 penalty, which makes codes sparse."""

from keras import ops

import tfae
from tfae.regularizers import BaseRegularizer


class L1Regularizer(BaseRegularizer):
    """The L1 norm of each sample's code: ``sum over latent dims of |code|``.

    Args:
        beta: the weight: a float, a scheduler, or ``scheduler.value``.

    Call arguments:
        code: shape ``(batch, latent_dim)``.
    """

    def calc(self, code):
        return ops.sum(ops.abs(code), axis=-1)


@tfae.hookimpl
def register_regularizers(register):
    register(L1Regularizer, name="l1", aliases=["lasso"])
