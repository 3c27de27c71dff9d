"""Saving to .keras and loading back, in a fresh process, with Keras' safe mode on and no custom_objects."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from tfae.models import Autoencoder, DeepAutoencoder
from timeouts import HANG_TIMEOUT_S

pytestmark = pytest.mark.backend_neutral

COMBINATIONS = {
    "vanilla_mse": ({"name": "vanilla", "latent_dim": 3}, "mse"),
    "vanilla_l2_bernoulli": (
        {"name": "vanilla", "latent_dim": 3, "regularizer": {"name": "l2", "beta": 0.1}},
        "bernoulli",
    ),
    "gaussian_kld_bernoulli": ({"name": "gaussian", "latent_dim": 3, "regularizer": "kld"}, "bernoulli"),
    "gaussian_reversed_kld_gaussian": (
        {"name": "gaussian", "latent_dim": 3, "regularizer": "reversed_kld"},
        {"name": "gaussian", "variance": 0.5},
    ),
    "gaussian_epoch_schedule_learned_variance": (
        {"name": "gaussian", "latent_dim": 3, "regularizer": {"name": "kld", "beta": {"name": "dasr", "attack": 3}}},
        {"name": "gaussian", "variance": "learned"},
    ),
    "gaussian_step_schedule_bernoulli": (
        {
            "name": "gaussian",
            "latent_dim": 3,
            "regularizer": {"name": "kld", "beta": {"name": "dasr", "attack": 7, "unit": "step"}},
        },
        "bernoulli",
    ),
    "bernoulli_relaxed": ({"name": "bernoulli", "latent_dim": 4, "regularizer": "bernoulli_kld"}, "bernoulli"),
    "bernoulli_straight_through": (
        {"name": "bernoulli", "latent_dim": 4, "straight_through": True, "temperature": 0.3},
        "bernoulli",
    ),
}


def run_python(code, cwd):
    """Runs ``code`` in a fresh interpreter (same Keras backend) and returns its stdout."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# Slow: 8 models trained, saved and reloaded in another interpreter (~20 CPU-s); .ci/run runs it.
@pytest.mark.slow
@pytest.mark.long
def test_every_builtin_combination_reloads_with_identical_predictions(digits, tmp_path):
    x, _ = digits
    x = x[:256]
    expected = {}
    for name, (bottleneck, loss) in COMBINATIONS.items():
        model = Autoencoder(bottleneck=bottleneck)
        model.compile(optimizer="adam", loss=loss)
        model.fit(x, epochs=2, batch_size=64, verbose=0)
        model.save(tmp_path / f"{name}.keras")
        expected[name] = model.predict(x[:16], verbose=0)
        expected[name + "/codes"] = model.encoder.predict(x[:16], verbose=0)
        expected[name + "/iterations"] = np.asarray(keras.ops.convert_to_numpy(model.optimizer.iterations))
    np.savez(tmp_path / "expected.npz", inputs=x[:16], **expected)

    report = run_python(
        f"""
        import json, numpy as np, keras
        import tfae
        names = {list(COMBINATIONS)!r}
        data = np.load("expected.npz")
        out = {{}}
        for name in names:
            model = tfae.load_model(name + ".keras")
            prediction = model.predict(data["inputs"], verbose=0)
            codes = model.encoder.predict(data["inputs"], verbose=0)
            out[name] = {{
                "prediction": float(np.abs(prediction - data[name]).max()),
                "codes": float(np.abs(codes - data[name + "/codes"]).max()),
                "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
                "expected_iterations": int(data[name + "/iterations"]),
                "class": type(model).__name__,
            }}
            model.fit(data["inputs"], epochs=1, verbose=0)
        print(json.dumps(out))
        """,
        cwd=tmp_path,
    )
    results = json.loads(report.strip().splitlines()[-1])
    for name, result in results.items():
        assert result["prediction"] == 0.0, name
        assert result["codes"] == 0.0, name
        assert result["iterations"] == result["expected_iterations"], name
        assert result["class"] == "Autoencoder"


def test_keras_load_model_works_once_tfae_models_is_imported(digits, tmp_path):
    x, _ = digits
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x[:64], epochs=1, verbose=0)
    model.save(tmp_path / "vae.keras")
    np.save(tmp_path / "expected.npy", model.predict(x[:8], verbose=0))
    np.save(tmp_path / "inputs.npy", x[:8])

    output = run_python(
        """
        import numpy as np, keras
        import tfae.models
        model = keras.saving.load_model("vae.keras", safe_mode=True)
        print(float(np.abs(model.predict(np.load("inputs.npy"), verbose=0) - np.load("expected.npy")).max()))
        """,
        cwd=tmp_path,
    )
    assert float(output.strip().splitlines()[-1]) == 0.0


@pytest.fixture(scope="module")
def saved_by_a_script(tmp_path_factory, digits):
    """Model files saved by a script whose classes and functions exist nowhere a loading process can import:
    ``deep/deep.keras`` (a DeepAutoencoder and its add_hidden function) and ``conv/conv.keras`` (a subclass
    registered in the script); beside each, the inputs and the predictions the script made."""
    x, _ = digits
    folder = tmp_path_factory.mktemp("saved_by_a_script")
    (folder / "deep").mkdir()
    (folder / "conv").mkdir()
    np.save(folder / "deep" / "inputs.npy", x[:8])
    np.save(folder / "conv" / "inputs.npy", x[:8].reshape(-1, 8, 8, 1))
    run_python(
        """
        import numpy as np, keras
        from tfae.models import Autoencoder, DeepAutoencoder

        def add_hidden(x, layer_num, input_shape, latent_dim):
            return keras.layers.Dense(32 // layer_num, activation="relu")(x), layer_num == 2

        @keras.saving.register_keras_serializable(package="notebook")
        class ConvolutionalVAE(Autoencoder):
            def __init__(self, filters=8, **kwargs):
                super().__init__(**kwargs)
                self.filters = filters

            def get_config(self):
                return {**super().get_config(), "filters": self.filters}

            def make_encoder(self, x):
                x = keras.layers.Conv2D(self.filters, 3, strides=2, padding="same", activation="relu")(x)
                return self.bottleneck(keras.layers.Flatten()(x))

            def make_decoder(self, z):
                x = keras.layers.Dense(4 * 4 * 8, activation="relu")(z)
                x = keras.layers.Reshape((4, 4, 8))(x)
                return keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")(x)

        vae = {"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}
        for name, model in [
            ("deep", DeepAutoencoder(bottleneck=vae, add_hidden=add_hidden)),
            ("conv", ConvolutionalVAE(bottleneck=vae)),
        ]:
            model.compile(optimizer="adam", loss="bernoulli")
            inputs = np.load(f"{name}/inputs.npy")
            model.fit(inputs, epochs=1, verbose=0)
            model.save(f"{name}/{name}.keras")
            np.save(f"{name}/expected.npy", model.predict(inputs, verbose=0))
        """,
        cwd=folder,
    )
    return folder


@pytest.fixture(scope="module")
def loaded_in_another_process(saved_by_a_script):
    """``{name: (class name, largest prediction difference, encoder layers)}`` of the script's files, loaded
    with ``tfae.load_model`` in a fresh interpreter."""
    output = run_python(
        """
        import json
        import numpy as np
        import tfae
        results = {}
        for name in ["deep", "conv"]:
            model = tfae.load_model(f"{name}/{name}.keras")
            error = np.abs(
                model.predict(np.load(f"{name}/inputs.npy"), verbose=0) - np.load(f"{name}/expected.npy")
            ).max()
            results[name] = [type(model).__name__, float(error), len(model.encoder.layers)]
        print(json.dumps(results))
        """,
        cwd=saved_by_a_script,
    )
    return json.loads(output.strip().splitlines()[-1])


# Slow, these two: a script saves the models and a fresh interpreter loads them (~29 CPU-s); .ci/run runs them.
@pytest.mark.slow
@pytest.mark.xdist_group("saved_by_a_script")
def test_deep_autoencoder_loads_without_its_add_hidden_function(loaded_in_another_process):
    class_name, error, encoder_layers = loaded_in_another_process["deep"]
    assert class_name == "DeepAutoencoder"
    assert encoder_layers == 4  # input, two hidden layers, bottleneck
    assert error == 0.0


@pytest.mark.slow
@pytest.mark.xdist_group("saved_by_a_script")
def test_a_custom_subclass_that_cannot_be_imported_loads_as_an_autoencoder(loaded_in_another_process):
    class_name, error, _ = loaded_in_another_process["conv"]
    assert class_name == "Autoencoder"
    assert error == 0.0


def test_an_unbuilt_model_round_trips_through_its_config():
    model = Autoencoder(
        bottleneck={"name": "gaussian", "latent_dim": 5, "regularizer": {"name": "kld", "beta": 0.25}},
        likelihood="bernoulli",
    )
    config = model.get_config()
    json.dumps(config)
    clone = Autoencoder.from_config(config)
    assert clone.bottleneck.latent_dim == 5
    assert clone.bottleneck.regularizer.get_config() == {"beta": 0.25}
    assert type(clone.likelihood).__name__ == "BernoulliLikelihood"


def test_a_deep_autoencoder_round_trips_through_get_config_once_built():
    def add_hidden(x, layer_num, input_shape, latent_dim):
        return keras.layers.Dense(6)(x), True

    model = DeepAutoencoder(bottleneck={"name": "vanilla", "latent_dim": 2}, add_hidden=add_hidden)
    model.build((None, 10))
    clone = DeepAutoencoder.from_config(json.loads(json.dumps(model.get_config())))
    clone.build((None, 10))
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
