"""tfae's models compile with XLA by default on TensorFlow, and fall back, with one warning, where XLA cannot."""

import warnings

import keras
import numpy as np
import pytest

from tfae.bottlenecks import Posterior, VanillaBottleneck
from tfae.errors import ConfigError
from tfae.models import Autoencoder, xla

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="XLA is Keras' choice elsewhere")


@pytest.fixture
def xla_default(monkeypatch):
    monkeypatch.delenv("TFAE_XLA", raising=False)  # tests/conftest.py turns the default off for the suite
    # Each test counts its own models toward MAX_XLA_MODELS_PER_PROCESS, whatever ran before it in the process.
    monkeypatch.setattr(xla, "_xla_models", 0)
    monkeypatch.setattr(xla, "_said_xla_stopped", False)


def make_model(bottleneck=None, **compile_arguments):
    model = Autoencoder(bottleneck=bottleneck or {"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli", **compile_arguments)
    return model


class HostBottleneck(VanillaBottleneck):
    """A bottleneck with an operation XLA has no kernel for (it runs on the host, in Python)."""

    def posterior(self, inputs, sampling="mean", training=False, importance_samples=1):
        import tensorflow as tf

        code = self.dense(self.flatten(inputs))
        code = code + tf.stop_gradient(tf.ensure_shape(tf.py_function(tf.zeros_like, [code], tf.float32), code.shape))
        return Posterior(parameters=(code,), code=code, bottleneck=self)


def test_the_default_compiles_with_xla_and_can_be_turned_off(xla_default, monkeypatch):
    assert make_model().jit_compile is True
    assert make_model(jit_compile=False).jit_compile is False
    monkeypatch.setenv("TFAE_XLA", "0")
    assert make_model().jit_compile is False


def test_xla_stays_off_where_keras_would_keep_it_off(xla_default):
    assert make_model(run_eagerly=True).jit_compile is False
    refusing = VanillaBottleneck(latent_dim=2)
    refusing.supports_jit = False
    assert make_model(refusing).jit_compile is False


def test_convolutions_on_a_cpu_train_without_xla_and_dense_models_with_it(xla_default):
    from tfae.models import LayoutAutoencoder

    images = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    conv = LayoutAutoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}, layout="conv", hidden=[4])
    conv.compile(optimizer="adam", loss="bernoulli")
    dense = LayoutAutoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}, hidden=[4])
    dense.compile(optimizer="adam", loss="bernoulli")
    conv.fit(images, epochs=1, verbose=0)
    dense.fit(images, epochs=1, verbose=0)
    import tensorflow as tf

    assert conv.jit_compile is bool(tf.config.list_physical_devices("GPU"))
    assert dense.jit_compile is True
    chosen = LayoutAutoencoder({"name": "vanilla", "latent_dim": 2}, layout="conv", hidden=[4])
    chosen.compile(optimizer="adam", loss="bernoulli", jit_compile=True)
    chosen.fit(images, epochs=1, verbose=0)
    assert chosen.jit_compile is True  # a user's own choice stands


def test_a_model_xla_cannot_compile_warns_once_and_trains_without_it(xla_default):
    x = np.random.default_rng(0).random((64, 6)).astype("float32")
    model = make_model(HostBottleneck(latent_dim=2))
    assert model.jit_compile is True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    fallbacks = [str(warning.message) for warning in caught if "XLA could not compile" in str(warning.message)]
    assert len(fallbacks) == 1 and "\n" not in fallbacks[0]
    assert "fit goes on without it" in fallbacks[0] and "jit_compile=False" in fallbacks[0]
    assert model.jit_compile is False
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"]))
    assert int(model.optimizer.iterations) == 2 * 4


def test_xla_and_no_xla_train_to_the_same_losses(xla_default):
    x = np.random.default_rng(0).random((64, 6)).astype("float32")
    losses = []
    for jit_compile in ("auto", False):
        keras.utils.set_random_seed(0)
        model = make_model({"name": "vanilla", "latent_dim": 2}, jit_compile=jit_compile)
        losses.append(model.fit(x, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


@pytest.mark.parametrize("value", ["OFF", " no ", "false", "0"])
def test_every_off_value_turns_the_default_off(monkeypatch, value):
    monkeypatch.setenv("TFAE_XLA", value)
    assert make_model().jit_compile is False


@pytest.mark.parametrize("value", ["", "1", "on", "TRUE", "yes"])
def test_every_on_value_keeps_the_default(monkeypatch, value):
    monkeypatch.setenv("TFAE_XLA", value)
    assert make_model().jit_compile is True


@pytest.mark.parametrize("value", ["disable", "2", "\x1b[2Kx" * 30])
def test_a_value_that_is_neither_on_nor_off_is_refused_naming_the_values_it_takes(monkeypatch, value):
    monkeypatch.setenv("TFAE_XLA", value)
    with pytest.raises(ConfigError) as raised:
        make_model()
    message = str(raised.value)
    assert message.startswith("TFAE_XLA='") and "is not a value tfae knows: 0, false, no, off turn" in message
    assert "\x1b" not in message and len(message) < 250


def test_tfae_train_with_an_unknown_tfae_xla_value_is_one_line_and_leaves_no_run_folder(monkeypatch, tmp_path, capsys):
    from tfae.cli import main

    monkeypatch.setenv("TFAE_XLA", "disable")
    assert main(["train", "--epochs", "1", "--run-dir", str(tmp_path / "run"), "-q"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("tfae train: error: TFAE_XLA='disable' is not a value tfae knows"), (
        error
    )
    assert not (tmp_path / "run").exists()


def test_past_the_limit_of_models_the_default_compiles_without_xla_and_says_so_once(xla_default, monkeypatch):
    monkeypatch.setattr(xla, "MAX_XLA_MODELS_PER_PROCESS", 2)
    x = np.random.default_rng(0).random((16, 6)).astype("float32")
    counted = [make_model({"name": "vanilla", "latent_dim": 2}) for _ in range(2)]
    for model in counted:
        model.predict(x, verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        past = make_model({"name": "vanilla", "latent_dim": 2})
        assert past.jit_compile is True  # chosen at compile; the limit applies before the first step
        past.fit(x, epochs=1, batch_size=16, verbose=0)
        later = make_model({"name": "vanilla", "latent_dim": 2})
        later.predict(x, verbose=0)
        chosen = make_model({"name": "vanilla", "latent_dim": 2}, jit_compile=True)
        chosen.predict(x, verbose=0)
        counted[0].predict(x, verbose=0)
    (warning,) = [warning for warning in caught if "XLA" in str(warning.message)]
    assert str(warning.message) == (
        "tfae has compiled 2 models with XLA in this process, and TensorFlow keeps every compiled program until "
        "the process ends (20 to 30 MB for a small model), so this model and the ones after it train without XLA "
        "(tfae.models.xla.MAX_XLA_MODELS_PER_PROCESS). To keep XLA for a model, compile it with "
        "jit_compile=True; to train every model without it, and save the compile time, set TFAE_XLA=0; or train "
        "each model in a process of its own."
    )
    assert warning.filename == __file__  # it points at the user's call of fit
    assert past.jit_compile is False and later.jit_compile is False
    assert chosen.jit_compile is True  # a user's own choice stands, and is not counted
    assert counted[0].jit_compile is True and counted[1].jit_compile is True  # counted once, however often used
    assert xla._xla_models == 2
