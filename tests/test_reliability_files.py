"""Broken and hostile model files: each gets one clear line from ``tfae.load_model`` and from the CLI, and
loading never runs code from the file.

The files are made here with Keras itself (a plain Sequential model, models with a Lambda layer) or by
damaging a real tfae model file (truncating it, flipping a byte, editing its config.json). The Lambda
layers' functions, and the module a crafted config names, create a marker file when they run; the tests
check that the marker never appears, and, as a control, that it does appear when Keras is told to run
the code (``safe_mode=False``), so a test cannot pass because the payload was broken.
"""

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

import tfae
from tfae.cli import main
from tfae.models.saving import ModelFileError
from timeouts import HANG_TIMEOUT_S

MARKER_VARIABLE = "TFAE_TEST_MARKER"
# Creates the file that $TFAE_TEST_MARKER names whenever the Lambda layer runs.
PAYLOAD = 'lambda t: (__import__("pathlib").Path(__import__("os").environ["TFAE_TEST_MARKER"]).touch(), t)[1]'


def run_python(code, cwd, **environment):
    """Runs ``code`` in a fresh interpreter; returns the completed process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **environment}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good tfae model file, and the broken and hostile files made from it or with Keras."""
    folder = tmp_path_factory.mktemp("files")
    from tfae.models import Autoencoder

    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(np.random.default_rng(0).random((64, 8)).astype("float32"), epochs=1, verbose=0)
    good = folder / "good.keras"
    model.save(good)
    data = good.read_bytes()
    paths = {"good": good}

    def write(name, content):
        paths[name] = folder / f"{name}.keras"
        paths[name].write_bytes(content)

    write("truncated_half", data[: len(data) // 2])
    write("truncated_header", data[:100])
    write("empty", b"")
    write("random_bytes", np.random.default_rng(1).bytes(4096))
    flipped = bytearray(data)
    with zipfile.ZipFile(good) as archive:
        weights = archive.getinfo("model.weights.h5")
    flipped[weights.header_offset + 30 + len(weights.filename) + weights.compress_size // 2] ^= 0xFF
    write("flipped_byte", bytes(flipped))
    write("not_json", _rezip(good, {"config.json": b"{'this is': not json"}))
    write("no_config", _rezip(good, {"config.json": None}))
    write("config_is_a_list", _rezip(good, {"config.json": b"[1, 2, 3]"}))
    model.save_weights(folder / "weights.weights.h5")
    paths["hdf5"] = folder / "hdf5.keras"
    paths["hdf5"].write_bytes((folder / "weights.weights.h5").read_bytes())

    sequential = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    paths["sequential"] = folder / "sequential.keras"
    sequential.save(paths["sequential"])
    inputs = keras.Input((8,))
    functional = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    paths["functional"] = folder / "functional.keras"
    functional.save(paths["functional"])
    return paths


def _rezip(source, replacements):
    """The archive ``source`` with members replaced (``None`` removes one)."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(buffer, "w") as out:
        for name in archive.namelist():
            content = replacements.get(name, archive.read(name))
            if content is not None:
                out.writestr(name, content)
    return buffer.getvalue()


def _edit_config(source, target, edit):
    with zipfile.ZipFile(source) as archive:
        config = json.loads(archive.read("config.json"))
    edit(config)
    target.write_bytes(_rezip(source, {"config.json": json.dumps(config).encode()}))
    return target


def refused(path, *fragments):
    """Loads ``path``; checks that ``ModelFileError`` says, on one line naming the file, every fragment."""
    with pytest.raises(ModelFileError) as caught:
        tfae.load_model(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


BROKEN = {
    "truncated_half": "is not a .keras model file: a .keras file is a zip archive, and this one is truncated",
    "truncated_header": "is not a .keras model file",
    "empty": "is not a .keras model file",
    "random_bytes": "is not a .keras model file",
    "flipped_byte": "is damaged: its member model.weights.h5 fails its checksum",
    "not_json": "is damaged: its config.json is not valid JSON",
    "no_config": "holds no config.json",
    "config_is_a_list": "its config.json describes no model",
    "hdf5": "is an HDF5 file",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_gives_one_clear_line(files, name):
    refused(files[name], BROKEN[name])


@pytest.mark.parametrize("name", ["sequential", "functional"])
def test_a_keras_model_that_is_not_a_tfae_model_is_refused(files, name):
    class_name = {"sequential": "Sequential", "functional": "Functional"}[name]
    refused(files[name], f"holds a Keras {class_name} model, not a tfae autoencoder", "keras.saving.load_model")


def test_the_good_file_still_loads(files):
    assert type(tfae.load_model(files["good"])).__name__ == "Autoencoder"


def test_a_layer_made_outside_make_encoder_is_named_when_its_weights_are_missing(tmp_path):
    @keras.saving.register_keras_serializable(package="test_reliability_files")
    class ConvolutionInInit(tfae.models.Autoencoder):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.convolution = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="made_in_init")

        def make_encoder(self, x):
            return self.bottleneck(keras.layers.Flatten()(self.convolution(x)))

        def make_decoder(self, z):
            x = keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16)(z))
            return keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same")(x)

    model = ConvolutionInInit(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32"), epochs=1, verbose=0)
    model.save(tmp_path / "init.keras")
    with pytest.raises(ModelFileError) as raised:
        tfae.load_model(tmp_path / "init.keras")
    assert str(raised.value).startswith(
        f"cannot load the model in {tmp_path / 'init.keras'}: the file holds no weights for the layer "
        "'made_in_init', which the model probably made outside make_encoder and make_decoder (in __init__, say); "
        "tfae saves the layers that those two make, so make every layer inside them, then train and save the "
        "model again. Keras said: "
    )


def test_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at"):
        tfae.load_model(tmp_path / "nothing.keras")


@pytest.fixture(scope="module")
def lambda_files(tmp_path_factory):
    """Two files whose Lambda layer creates the marker when it runs: a tfae DeepAutoencoder and a Sequential.

    Made in another process, where the payload is shown to work: building the models runs it once. The same
    process then loads the tfae file with Keras told to run its code, for the control below.
    """
    folder = tmp_path_factory.mktemp("lambda")
    result = run_python(
        f"""
        import os
        import keras
        from tfae.models import DeepAutoencoder

        def add_hidden(x, layer_num, input_shape, latent_dim):
            return keras.layers.Lambda({PAYLOAD})(x), True

        model = DeepAutoencoder(bottleneck={{"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}},
                                add_hidden=add_hidden)
        model.build((None, 8))
        model.compile(optimizer="adam", loss="bernoulli")
        model.save("tfae_lambda.keras")
        keras.Sequential([keras.Input((8,)), keras.layers.Lambda({PAYLOAD})]).save("keras_lambda.keras")

        os.environ[{MARKER_VARIABLE!r}] = "unsafe.marker"
        keras.saving.load_model("tfae_lambda.keras", safe_mode=False)
        """,
        folder,
        **{MARKER_VARIABLE: str(folder / "made.marker")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "made.marker").exists(), "the payload must run when the layer runs"
    return {"tfae": folder / "tfae_lambda.keras", "keras": folder / "keras_lambda.keras"}


@pytest.mark.xdist_group("lambda_files")
@pytest.mark.parametrize("kind", ["tfae", "keras"])
def test_a_lambda_layer_is_refused_and_its_code_never_runs(lambda_files, kind, tmp_path, monkeypatch):
    marker = tmp_path / "loaded.marker"
    monkeypatch.setenv(MARKER_VARIABLE, str(marker))
    refused(lambda_files[kind], "holds Python code: a lambda function (in layer 'lambda", "never runs code")
    assert not marker.exists()


@pytest.mark.xdist_group("lambda_files")
def test_keras_safe_mode_refuses_the_lambda_too(lambda_files, tmp_path, monkeypatch):
    """The second line: Keras itself, in safe mode, with tfae's models importable, refuses the file."""
    marker = tmp_path / "keras.marker"
    monkeypatch.setenv(MARKER_VARIABLE, str(marker))
    with pytest.raises(ValueError, match="Lambda"):
        keras.saving.load_model(lambda_files["tfae"], safe_mode=True)
    assert not marker.exists()


@pytest.mark.xdist_group("lambda_files")
def test_the_lambda_payload_is_real(lambda_files):
    """The control: told to run the file's code (in the process that made the files), Keras runs it, and the
    marker appears."""
    assert (lambda_files["tfae"].parent / "unsafe.marker").exists()


@pytest.fixture
def payload_module(tmp_path, monkeypatch):
    """An importable module that creates a marker when imported; returns the marker's path."""
    marker = tmp_path / "imported.marker"
    (tmp_path / "tfae_test_payload.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n\nclass Payload:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("tfae_test_payload", None)


def _decoder_layer(config):
    return config["config"]["decoder_network"]["config"]["layers"][1]


@pytest.mark.parametrize(
    "class_name", ["Payload", "GaussianBottleneck"], ids=["a class of its own", "a tfae class name, disguised"]
)
def test_a_config_that_names_a_module_to_import_is_refused_and_nothing_is_imported(
    files, payload_module, tmp_path, class_name
):
    import importlib

    def name_the_module(config):
        layer = _decoder_layer(config)
        layer.update(module="tfae_test_payload", class_name=class_name, registered_name="tfae_test_payload>Payload")

    path = _edit_config(files["good"], tmp_path / "module.keras", name_the_module)
    refused(path, f"names {class_name} from the module tfae_test_payload (in layer 'reconstruction')")
    assert "tfae_test_payload" not in sys.modules
    assert not payload_module.exists()
    importlib.import_module("tfae_test_payload")  # the control: importing it does create the marker
    assert payload_module.exists()


@pytest.mark.parametrize(
    "module, function",
    [("keras.config", "enable_unsafe_deserialization"), ("keras.utils", "get_file"), ("keras.models", "load_model")],
)
def test_a_config_that_calls_a_keras_file_or_safety_function_is_refused(files, tmp_path, module, function):
    def call_it(config):
        _decoder_layer(config)["config"]["kernel_initializer"] = {
            "module": module,
            "class_name": "function",
            "config": function,
            "registered_name": "function",
        }

    path = _edit_config(files["good"], tmp_path / "call.keras", call_it)
    refused(path, f"calls {module}.{function} (in layer 'reconstruction')")
    from keras.src.saving.serialization_lib import in_safe_mode

    assert in_safe_mode() is not False


def test_a_config_that_names_a_saved_model_layer_is_refused(files, tmp_path):
    def saved_model_layer(config):
        _decoder_layer(config).update(module="keras.layers", class_name="TFSMLayer", registered_name=None)

    refused(_edit_config(files["good"], tmp_path / "tfsm.keras", saved_model_layer), "calls keras.layers.TFSMLayer")


def test_a_class_keras_cannot_find_gives_one_line(files, tmp_path):
    def unknown_keras_class(config):
        _decoder_layer(config)["class_name"] = "NoSuchLayer"

    path = _edit_config(files["good"], tmp_path / "unknown.keras", unknown_keras_class)
    message = refused(path, "cannot load the model in", "NoSuchLayer")
    assert len(message) <= 400 + len(str(path)) + 40


@pytest.mark.parametrize("name", ["truncated_half", "random_bytes", "sequential"])
@pytest.mark.parametrize("command", ["encode", "generate"])
def test_the_cli_gives_one_line_and_exit_status_2(files, name, command, capsys, tmp_path):
    arguments = [command, str(files[name])] + (["digits"] if command == "encode" else [])
    code = main([*arguments, "-o", str(tmp_path / ("out.npy"))])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tfae {command}: error: ") and str(files[name]) in err, err
    assert not (tmp_path / "out.npy").exists()


# Slow: the real command (~12 CPU-s), beside test_a_lambda_layer_is_refused_and_its_code_never_runs in this
# process; .ci/run runs it.
@pytest.mark.slow
@pytest.mark.xdist_group("lambda_files")
def test_the_real_command_on_a_lambda_file_prints_one_line_and_runs_nothing(lambda_files, tmp_path, run_tfae):
    marker = tmp_path / "cli.marker"
    env = {**os.environ, MARKER_VARIABLE: str(marker)}
    result = run_tfae("generate", lambda_files["tfae"], "-o", tmp_path / "x.png", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "holds Python code" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists() and not (tmp_path / "x.png").exists()


class _Pickled:
    """Pickles to a call that creates the marker file: what a hostile data file could carry."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_a_data_file_holding_a_pickle_is_refused_and_never_unpickled(files, tmp_path, capsys, suffix):
    marker = tmp_path / "unpickled.marker"
    array = np.empty(2, dtype=object)
    array[:] = [_Pickled(marker), 1]
    data = tmp_path / f"data{suffix}"
    if suffix == ".npy":
        np.save(data, array, allow_pickle=True)
    else:
        np.savez(data, x=array)
    assert main(["encode", str(files["good"]), str(data), "-o", str(tmp_path / "codes.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Object arrays cannot be loaded when allow_pickle=False" in err
    assert not marker.exists()
    # The control: unpickling the file does create the marker (a .npz unpickles when the array is read).
    loaded = np.load(data, allow_pickle=True)
    if suffix == ".npz":
        loaded["x"]
    assert marker.exists()
