"""CapacityRegularizer: the penalty against NumPy, the capacity C driven in fit by epoch and by step, its state
saved with the model, the bottlenecks it refuses, and the shipped example."""

import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

import tfae
from tfae import plugins
from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.errors import UnknownNameError
from tfae.models import Autoencoder
from tfae.schedulers import DASRScheduler
from tfae.serialization import component_spec
from tfae.testing import check_regularizer
from tfae_disentangle.capacity import CapacityRegularizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402

GAMMA = 2.0
# C from 0 to 10 over 3 epochs: 10/3, 20/3, then 10.
RAMP = {"name": "dasr", "start_value": 0.0, "end_value": 10.0, "attack": 3}


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def frozen_model(capacity, latent_dim=2, features=6):
    """A model with a capacity regularizer that learns nothing (learning rate 0), whose KL is 2.2**2 = 4.84 nats
    for every input (a zero kernel, so the random initialisation cannot move it out of the ramp's second epoch)."""
    regularizer = {"name": "capacity", "gamma": GAMMA, "capacity": capacity}
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": latent_dim, "regularizer": regularizer})
    model.build((None, features))
    bias = np.zeros(2 * latent_dim, dtype="float32")
    bias[:latent_dim] = 2.2  # the means, with unit variances: KL = latent_dim * 2.2**2 / 2, between 10/3 and 20/3
    model.bottleneck.dense.kernel.assign(np.zeros(model.bottleneck.dense.kernel.shape, dtype="float32"))
    model.bottleneck.dense.bias.assign(bias)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="bernoulli")
    return model


def batch_kl(model, x):
    """The batch mean of the Gaussian KL the model's bottleneck gives ``x``, in NumPy."""
    mean, log_variance = (to_numpy(p) for p in model.bottleneck.distribution_parameters(x))
    return float(np.mean(ref.gaussian_kl(mean, log_variance)))


def unit_data(samples=16, features=6, seed=1):
    return np.random.default_rng(seed).random((samples, features)).astype("float32")


@pytest.mark.parametrize("capacity", [0.0, 1.5, 40.0])
def test_penalty_matches_numpy(capacity, rng):
    mean = rng.normal(size=(16, 4)).astype("float32")
    log_variance = rng.normal(scale=0.7, size=(16, 4)).astype("float32")
    regularizer = CapacityRegularizer(gamma=7.5, capacity=capacity)
    expected = ref.capacity(mean, log_variance, gamma=7.5, capacity=capacity)
    posterior = Posterior(parameters=(mean, log_variance), bottleneck=GaussianBottleneck(4))
    assert to_numpy(regularizer.penalty(posterior)).shape == ()
    np.testing.assert_allclose(float(regularizer(posterior)), expected, rtol=1e-5)
    # Called with the parameters themselves; and beta multiplies the whole penalty.
    np.testing.assert_allclose(float(regularizer(mean, log_variance)), expected, rtol=1e-5)
    weighed = CapacityRegularizer(gamma=7.5, capacity=capacity, beta=0.5)
    np.testing.assert_allclose(float(weighed(posterior)), 0.5 * expected, rtol=1e-5)
    np.testing.assert_allclose(
        to_numpy(regularizer.calc(mean, log_variance)), ref.gaussian_kl(mean, log_variance), rtol=1e-5
    )


@pytest.mark.parametrize(
    "bottleneck,gives",
    [
        ("vanilla", r"'vanilla' \(VanillaBottleneck\) gives a deterministic code"),
        ("bernoulli", r"'bernoulli' \(BernoulliBottleneck\) gives 1 distribution parameter per code dimension"),
    ],
)
def test_refuses_bottlenecks_other_than_gaussian(bottleneck, gives):
    with pytest.raises(ValueError, match=rf"'capacity' \(CapacityRegularizer\) needs a Gaussian.*{gives}.*'gaussian'"):
        Autoencoder(bottleneck={"name": bottleneck, "latent_dim": 2, "regularizer": "capacity"})


def test_refuses_a_negative_capacity_or_gamma_and_an_unknown_schedule():
    with pytest.raises(ValueError, match=r"Received: capacity=-1"):
        CapacityRegularizer(capacity=-1)
    with pytest.raises(ValueError, match=r"Received: gamma=-5"):
        CapacityRegularizer(gamma=-5)
    with pytest.raises(UnknownNameError, match="Did you mean 'dasr'"):
        CapacityRegularizer(capacity={"name": "dsar", "end_value": 25})


def test_capacity_follows_its_schedule_epoch_by_epoch_in_fit():
    x = unit_data()
    model = frozen_model(RAMP)
    scheduler = model.bottleneck.regularizer.capacity
    assert isinstance(scheduler, DASRScheduler) and scheduler in model.bottleneck.regularizer.schedulers
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(float(scheduler.value)))
    # No callback for the schedule: Autoencoder.fit adds the epoch-counted schedulers it finds.
    history = model.fit(x, epochs=5, batch_size=len(x), shuffle=False, verbose=0, callbacks=[record]).history
    capacities = np.array([scheduler.value_at(epoch) for epoch in range(5)])
    np.testing.assert_allclose(capacities, [10 / 3, 20 / 3, 10, 10, 10], rtol=1e-6)
    np.testing.assert_allclose(seen, capacities, rtol=1e-6)
    kl = batch_kl(model, x)
    assert capacities[0] < kl < capacities[1]  # so both sides of |KL - C| are used
    np.testing.assert_allclose(history["capacity_loss"], GAMMA * np.abs(kl - capacities), rtol=1e-4)


def test_saved_model_keeps_the_schedules_state_and_resumes_it(tmp_path):
    x = unit_data()
    model = frozen_model(RAMP)
    model.fit(x, epochs=2, batch_size=len(x), verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = tfae.load_model(path)
    restored = loaded.bottleneck.regularizer
    assert isinstance(restored, CapacityRegularizer)
    assert restored.get_config() == model.bottleneck.regularizer.get_config()
    assert float(restored.capacity.value) == pytest.approx(20 / 3)
    history = loaded.fit(x, initial_epoch=2, epochs=4, batch_size=len(x), verbose=0).history
    assert float(restored.capacity.value) == pytest.approx(10.0)
    np.testing.assert_allclose(history["capacity_loss"], GAMMA * np.abs(batch_kl(loaded, x) - 10.0), rtol=1e-4)


def test_a_step_counted_capacity_moves_on_each_train_step_and_is_saved(tmp_path):
    x = unit_data(samples=32)
    model = frozen_model({**RAMP, "attack": 4, "unit": "step"})
    history = model.fit(x, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    # Step s uses C = 2.5 (s + 1) on batch s; the logged loss is the mean over the steps.
    expected = np.mean([GAMMA * abs(batch_kl(model, x[8 * s : 8 * s + 8]) - 2.5 * (s + 1)) for s in range(4)])
    np.testing.assert_allclose(history["capacity_loss"], [expected], rtol=1e-4)
    scheduler = model.bottleneck.regularizer.capacity
    assert int(ops.convert_to_numpy(scheduler.step)) == 4
    model.save(tmp_path / "model.keras")
    restored = tfae.load_model(tmp_path / "model.keras").bottleneck.regularizer.capacity
    assert int(ops.convert_to_numpy(restored.step)) == 4 and float(restored.value) == pytest.approx(10.0)


def test_config_round_trip():
    regularizer = plugins.resolve("regularizer", {"name": "annealed_vae", "gamma": 100, "capacity": RAMP})
    assert isinstance(regularizer, CapacityRegularizer)
    config = json.loads(json.dumps(regularizer.get_config()))
    assert config["gamma"] == 100.0 and config["beta"] == 1.0
    assert config["capacity"]["end_value"] == 10.0 and config["capacity"]["attack"] == 3
    assert CapacityRegularizer.from_config(config).get_config() == config
    spec = component_spec("regularizer", regularizer)
    assert spec["name"] == "capacity"
    assert component_spec("regularizer", plugins.resolve("regularizer", spec)) == spec
    assert CapacityRegularizer(capacity=2.5).get_config() == {"beta": 1.0, "gamma": 1000.0, "capacity": 2.5}


@pytest.mark.parametrize("capacity", [2.0, {**RAMP, "unit": "step"}], ids=["constant", "scheduled"])
def test_fulfils_the_regularizer_contract(capacity):
    check_regularizer(lambda: CapacityRegularizer(gamma=GAMMA, capacity=capacity))
