"""The KL divergence of a Bernoulli posterior from the Bernoulli(0.5) prior."""

from keras import ops

import tfae
from tfae.regularizers import BaseRegularizer


class BernoulliKLDRegularizer(BaseRegularizer):
    """``KL(Bernoulli(sigmoid(logits)) || Bernoulli(0.5))`` of each sample, in nats.

    Per sample: ``sum over latent dims of q*log(q) + (1-q)*log(1-q) + log(2)`` with ``q = sigmoid(logits)``,
    computed from the logits so that it stays finite for saturated probabilities.

    Args:
        beta: the weight: a float, a schedule, or ``scheduler.value``.

    Call arguments:
        logits: shape ``(batch, latent_dim)``.

    Example:

    >>> regularizer = BernoulliKLDRegularizer()
    >>> float(regularizer(keras.ops.zeros((2, 3))))
    0.0
    """

    def calc(self, logits):
        probability = ops.sigmoid(logits)
        log_probability = ops.log_sigmoid(logits)
        log_complement = ops.log_sigmoid(-logits)
        entropy_term = probability * log_probability + (1.0 - probability) * log_complement
        return ops.sum(entropy_term + ops.log(2.0), axis=-1)


@tfae.hookimpl
def register_regularizers(register):
    register(BernoulliKLDRegularizer, name="bernoulli_kld", aliases=["binary_kld"])
