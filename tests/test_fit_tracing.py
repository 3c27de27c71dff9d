"""``Autoencoder.fit`` on TensorFlow traces its train step once: the optimizer's slots exist before the first trace.

Keras builds an optimizer's slots inside the first trace of the train step; TensorFlow then traces the step a
second time, without creating variables, which doubles the start of every fit (half a second to a second for a
small model on a CPU).
"""

import keras
import numpy as np
import pytest

from tfae.models import Autoencoder

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="counts TensorFlow's traces")


class CountingAutoencoder(Autoencoder):
    """An Autoencoder that counts how often its train step is called: once per trace in a compiled fit."""

    traces = 0

    def train_step(self, *args, **kwargs):
        CountingAutoencoder.traces += 1
        return super().train_step(*args, **kwargs)


@pytest.mark.parametrize("steps_per_execution", [None, 1])
def test_fit_traces_the_train_step_once(steps_per_execution):
    x = np.random.default_rng(0).random((32, 6)).astype("float32")
    model = CountingAutoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli", steps_per_execution=steps_per_execution, jit_compile=False)
    CountingAutoencoder.traces = 0
    model.fit(x, epochs=2, batch_size=8, verbose=0)
    assert CountingAutoencoder.traces == 1
    assert model.optimizer.built
    assert int(model.optimizer.iterations.numpy()) == 8


def test_the_optimizer_built_before_fit_gives_the_same_training_as_keras_building_it_in_the_step():
    x = np.random.default_rng(1).random((32, 6)).astype("float32")

    def trained(build_first):
        keras.utils.set_random_seed(3)
        model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld", "seed": 3})
        model.compile(optimizer="adam", loss="bernoulli", jit_compile=False)
        if not build_first:
            # Keras' own fit, which builds the optimizer in the first trace of its step.
            model.build((None, 6))
            keras.Model.fit(model, x, epochs=2, batch_size=8, verbose=0, shuffle=False)
        else:
            model.fit(x, epochs=2, batch_size=8, verbose=0, shuffle=False)
        return [weight.numpy() for weight in model.weights]

    for built_first, in_the_step in zip(trained(True), trained(False)):
        np.testing.assert_allclose(built_first, in_the_step, rtol=1e-6, atol=1e-7)
