"""The Python API stops on a diverging loss and refuses samples of the wrong shape, each with one clear message.

The divergences are real, provoked through the data or the learning rate, never by patching tfae.
"""

import keras
import numpy as np
import pytest

from tfae.bottlenecks import GaussianBottleneck
from tfae.divergence import DivergenceMonitor
from tfae.errors import DivergenceError
from tfae.models import Autoencoder
from tfae.regularizers import BaseRegularizer

pytestmark = pytest.mark.backend_neutral


def make_model(learning_rate=0.001):
    model = Autoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="bernoulli")
    return model


@pytest.fixture
def x(rng):
    return rng.uniform(size=(64, 6)).astype("float32")


def test_fit_on_nan_data_stops_restores_and_says_why(x):
    model = make_model()
    model.fit(x, epochs=2, batch_size=32, verbose=0)
    before = model.get_weights()
    broken = x.copy()
    broken[40, 3] = np.nan

    with pytest.raises(DivergenceError) as raised:
        model.fit(broken, epochs=3, batch_size=32, verbose=0)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        "the loss and kld_loss and reconstruction_loss and regularization_loss became NaN in epoch 1 of 3"
    )
    assert "of 2, and training stopped" in message
    assert "Possible causes, likeliest first: data that holds NaN or inf (check it with numpy.isfinite)" in message
    assert "The model holds the weights training started from (no epoch finished with finite losses)" in message
    assert "stop_on_divergence=False" in message
    assert len(raised.value.history.history["loss"]) == 1
    for kept, weights in zip(before, model.get_weights()):
        np.testing.assert_array_equal(kept, weights)
    # The optimizer's moments are put back too, so training goes on from there.
    assert all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in model.optimizer.variables)
    assert np.isfinite(model.fit(x, epochs=1, batch_size=32, verbose=0).history["loss"]).all()


class BrokenPenaltyRegularizer(BaseRegularizer):
    """log(-1) for every sample: a penalty that is NaN from the first step, whatever the weights."""

    def calc(self, mean, *other_parameters):
        return keras.ops.log(keras.ops.sum(keras.ops.zeros_like(mean), axis=-1) - 1.0)


def test_a_term_that_is_nan_from_the_first_step_is_blamed_before_the_learning_rate(x):
    model = Autoencoder(GaussianBottleneck(latent_dim=2, regularizer=BrokenPenaltyRegularizer()))
    model.compile(optimizer="adam", loss="bernoulli")

    with pytest.raises(DivergenceError) as raised:
        model.fit(x, epochs=2, batch_size=32, verbose=0)

    message = str(raised.value)
    assert message.startswith("the loss and broken_penalty_loss and regularization_loss became NaN in epoch 1 of 2")
    assert (
        "Possible causes, likeliest first: the broken_penalty_loss, which became NaN while the "
        "reconstruction_loss stayed finite (check the parameters of what logs it); a learning rate too high"
    ) in message


def test_a_learning_rate_that_blows_up_keeps_the_last_finite_epoch(x):
    # Data on a huge scale under a Gaussian likelihood: the squares overflow float32 once the weights move.
    data = (x * 1e18).astype("float32")
    model = Autoencoder({"name": "vanilla", "latent_dim": 2})
    model.compile(optimizer=keras.optimizers.SGD(10.0), loss="gaussian")

    with pytest.raises(DivergenceError) as raised:
        model.fit(data, epochs=20, batch_size=32, verbose=0)

    message = str(raised.value)
    assert "data on a large scale (the data ranges from" in message
    assert "a learning rate too high (10; try a tenth)" in message
    assert all(np.isfinite(weights).all() for weights in model.get_weights())
    finite_epochs = len(raised.value.history.history["loss"]) - 1
    kept = f"after epoch {finite_epochs}, the last with finite losses" if finite_epochs else "training started from"
    assert f"The model holds the weights {kept}" in message


def test_stop_on_divergence_false_trains_on_as_keras_does(x):
    broken = x.copy()
    broken[0, 0] = np.inf
    history = make_model().fit(broken, epochs=2, batch_size=32, verbose=0, stop_on_divergence=False)
    assert len(history.history["loss"]) == 2
    assert not np.isfinite(history.history["loss"]).any()


def test_a_monitor_of_ones_own_replaces_the_default_and_raises_nothing(x):
    model = make_model()
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    before = model.get_weights()
    broken = x.copy()
    broken[:, 1] = np.nan
    monitor = DivergenceMonitor()

    model.fit(broken, epochs=2, batch_size=32, verbose=0, callbacks=[monitor])

    assert monitor.found is not None and monitor.describe().startswith("the loss")
    assert not all(np.isfinite(weights).all() for weights in model.get_weights())
    monitor.restore(model)
    for kept, weights in zip(before, model.get_weights()):
        np.testing.assert_array_equal(kept, weights)

    # Used again, the monitor starts afresh: nothing found, the epochs of this fit counted.
    model.fit(x, epochs=2, batch_size=32, verbose=0, callbacks=[monitor])
    assert monitor.found is None and monitor.finite_epochs == 2


def test_predict_refuses_an_empty_batch(x):
    model = make_model()
    model.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"^predict needs at least one sample. Received: an array of shape \(0, 6\)$"):
        model.predict(x[:0], verbose=0)


@pytest.mark.parametrize("method", ["predict", "evaluate", "fit"])
def test_samples_of_another_shape_name_the_expected_one(x, method):
    model = make_model()
    model.predict(x, verbose=0)
    expected = (
        rf"^This model takes samples of shape \(6,\) \(batches of shape \(batch_size, 6\)\); {method} received "
        r"samples of shape \(5,\) \(an array of shape \(64, 5\)\).$"
    )
    with pytest.raises(ValueError, match=expected):
        getattr(model, method)(x[:, :5], verbose=0)
