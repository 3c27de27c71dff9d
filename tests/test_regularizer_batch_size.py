"""Two parts of the regularizer contract that fit sees: the fewest samples a batch-level penalty needs
(``min_batch_size``, ``check_batch_size``), checked before training, and the values a regularizer logs beside
its penalty (``logged``, ``logged_values``)."""

import numpy as np
import pytest
from keras import ops

from tfae.models import Autoencoder
from tfae.regularizers import BaseRegularizer

pytestmark = pytest.mark.backend_neutral


class CodeSpreadRegularizer(BaseRegularizer):
    """The variance of the batch's codes, summed over the dimensions: batch-level, so it needs two codes."""

    min_batch_size = 2
    logged = ("mean_code",)

    def penalty(self, posterior, training=False):
        return ops.sum(ops.var(posterior.code, axis=0))

    def logged_values(self, posterior):
        return {"mean_code": ops.mean(posterior.code)}


def spread_model():
    bottleneck = {"name": "vanilla", "latent_dim": 2, "regularizer": CodeSpreadRegularizer(beta=0.1)}
    model = Autoencoder(bottleneck=bottleneck)
    model.compile(optimizer="adam", loss="mse")
    return model


def test_fit_refuses_batches_below_the_minimum_before_training():
    x = np.random.default_rng(0).random((10, 4)).astype("float32")
    model = spread_model()
    message = (
        r"CodeSpreadRegularizer.* compares the samples of a batch with one another, so it needs at least 2 per "
        r"batch: use a batch_size of 2 or more\. Received: batch_size=1"
    )
    with pytest.raises(ValueError, match=message):
        model.fit(x, batch_size=1, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.fit(x, None, 1, verbose=0)
    # One sample makes batches of one, whatever batch_size says.
    with pytest.raises(ValueError, match=message):
        model.fit(x[:1], epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 0
    # A per-sample penalty takes any batch.
    BaseRegularizer().check_batch_size(1)


def test_logged_values_are_logged_beside_the_penalty_and_not_trained_on():
    x = np.random.default_rng(1).random((10, 4)).astype("float32")
    model = spread_model()
    history = model.fit(x, batch_size=5, epochs=1, validation_data=(x,), verbose=0).history
    assert {"code_spread_loss", "code_spread_mean_code", "val_code_spread_mean_code"} <= set(history)
    # Validation runs on the trained weights, in two batches of five: the mean of every code.
    codes = ops.convert_to_numpy(model.encoder(x))
    assert history["val_code_spread_mean_code"][0] == pytest.approx(float(np.mean(codes)), abs=1e-5)
    total = history["reconstruction_loss"][0] + history["code_spread_loss"][0]
    assert history["loss"][0] == pytest.approx(total, rel=1e-5)
