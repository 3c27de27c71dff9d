"""Data parallelism on JAX: `tfae train --strategy data_parallel` and `make_strategy("data_parallel")` split each
batch over the local devices with keras.distribution.DataParallel, and give the losses of one device.

The runs are subprocesses with KERAS_BACKEND=jax and two host CPU devices (XLA_FLAGS), as the tf.distribute
tests use two CPU replicas.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from timeouts import HANG_TIMEOUT_S

pytest.importorskip("jax")
pytestmark = pytest.mark.slow

TWO_DEVICES = {
    "KERAS_BACKEND": "jax",
    "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2".strip(),
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def run_python(code, tmp_path):
    env = {**os.environ, **TWO_DEVICES}
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT_S
    )


def test_data_parallel_gives_the_losses_of_one_device_on_the_same_global_batch(tmp_path):
    result = run_python(
        """
        import contextlib
        import json

        import keras
        import numpy as np
        from tfae.distribute import make_strategy
        from tfae.models import Autoencoder

        x = np.random.default_rng(0).random((96, 6)).astype("float32")

        def train(strategy):
            keras.utils.set_random_seed(0)
            with strategy.scope() if strategy else contextlib.nullcontext():
                model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld", "seed": 1})
                model.compile(optimizer="adam", loss="bernoulli")
                history = model.fit(x, epochs=3, batch_size=32, shuffle=False, validation_data=(x[:32],), verbose=0)
                evaluated = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
            return {**history.history, **{f"evaluate_{key}": [value] for key, value in evaluated.items()}}

        strategy = make_strategy("data_parallel")
        print(json.dumps({"devices": len(keras.distribution.list_devices()), "type": type(strategy).__name__,
                          "one": train(None), "two": train(strategy)}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["devices"] == 2 and found["type"] == "DataParallel"
    assert {"evaluate_loss", "evaluate_kld_loss", "val_loss", "val_kld_loss"} <= set(found["one"])
    for key, values in found["one"].items():
        assert found["two"][key] == pytest.approx(values, rel=1e-5), key


def test_batches_that_do_not_split_over_the_devices_are_refused_in_one_line(tmp_path):
    result = run_python(
        """
        import numpy as np
        from tfae.distribute import make_strategy
        from tfae.models import Autoencoder

        with make_strategy("data_parallel").scope():
            model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
            model.compile(optimizer="adam", loss="bernoulli")
            model.fit(np.random.default_rng(0).random((33, 6)).astype("float32"), batch_size=16, verbose=0)
        """,
        tmp_path,
    )
    assert result.returncode == 1
    assert (
        "ValueError: fit under keras.distribution.DataParallel: the last batch, 1 of the 33 samples, does not split "
        "over 2 devices: give 32 samples (drop 1), or a batch size that divides 33." in result.stderr
    )


def test_tfae_strategies_of_tensorflow_are_refused_on_jax_with_the_one_to_use(tmp_path):
    result = run_python("from tfae.distribute import make_strategy\nmake_strategy('mirrored')\n", tmp_path)
    assert result.returncode == 1
    assert "under KERAS_BACKEND=jax use 'data_parallel'" in result.stderr


def test_tfae_train_with_data_parallel_trains_and_saves(tmp_path):
    env = {**os.environ, **TWO_DEVICES}
    result = subprocess.run(
        [sys.executable, "-m", "tfae", "train", "--strategy", "data_parallel", "--epochs", "1", "--run-dir", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "so that every batch splits over 2 devices" in result.stdout
    assert (tmp_path / "run" / "model.keras").is_file()
    assert 'strategy = "data_parallel"' in (tmp_path / "run" / "config.toml").read_text()
