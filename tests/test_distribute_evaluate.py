"""`evaluate` and `fit(validation_data=...)` under tf.distribute.MirroredStrategy give the numbers of one device.

The penalties used to travel through Keras' `add_loss` and were found again by position, and whether the
bottleneck sampled was a context variable: under MirroredStrategy on two logical CPUs, `evaluate` of a VAE made
in the strategy's scope failed ("its call added 0 losses"). The model now computes its loss in the open; this
runs the case that failed, in a subprocess (TensorFlow splits the CPU into logical devices only before it starts).
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import pytest

from timeouts import HANG_TIMEOUT_S

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's"),
]

SCRIPT = """
import json

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import numpy as np
from tfae.models import Autoencoder
from tfae.bottlenecks import GaussianBottleneck
from tfae.regularizers import GaussianKLDRegularizer

x = np.random.default_rng(0).random((256, 10)).astype("float32")


def make(seed=5):
    keras.utils.set_random_seed(0)
    model = Autoencoder(
        bottleneck=GaussianBottleneck(latent_dim=6, regularizer=GaussianKLDRegularizer(beta=3.0), seed=seed)
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = make()
    trained = mirrored.fit(x, x, epochs=2, batch_size=128, shuffle=False, verbose=0).history
    evaluated = mirrored.evaluate(x, x, batch_size=128, verbose=0, return_dict=True)
    validated = mirrored.fit(x, x, epochs=1, batch_size=128, shuffle=False, validation_data=(x, x), verbose=0).history

one = make()
one_trained = one.fit(x, x, epochs=2, batch_size=128, shuffle=False, verbose=0).history
one_evaluated = one.evaluate(x, x, batch_size=128, verbose=0, return_dict=True)
one_validated = one.fit(x, x, epochs=1, batch_size=128, shuffle=False, validation_data=(x, x), verbose=0).history
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "mirrored": {"fit": trained, "evaluate": evaluated, "validated": validated},
    "one": {"fit": one_trained, "evaluate": one_evaluated, "validated": one_validated},
}))
"""


def test_fit_evaluate_and_validation_under_mirrored_strategy_give_the_numbers_of_one_device(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(textwrap.dedent(SCRIPT))
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=HANG_TIMEOUT_S
    )
    assert result.returncode == 0, result.stderr[-4000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["replicas"] == 2
    mirrored, one = found["mirrored"], found["one"]
    assert set(mirrored["evaluate"]) == {"loss", "reconstruction_loss", "regularization_loss", "kld_loss"}
    assert mirrored["evaluate"]["kld_loss"] > 0
    for part in ("fit", "validated"):
        assert set(mirrored[part]) == set(one[part])
        for key, values in one[part].items():
            assert mirrored[part][key] == pytest.approx(values, rel=1e-4), (part, key)
    for key, value in one["evaluate"].items():
        assert mirrored["evaluate"][key] == pytest.approx(value, rel=1e-4), key
    assert {"val_loss", "val_kld_loss"} <= set(mirrored["validated"])
