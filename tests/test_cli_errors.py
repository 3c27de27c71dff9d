"""Bad input gets one clear line on stderr and exit status 2, never a traceback."""

import os

import keras
import numpy as np
import pytest

from plugin_fixtures import run_python
from tfae.cli import main
from tfae.errors import ParameterError
from tfae.plugins import resolve


def cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, command, *argv):
    """Runs ``tfae command *argv``; checks it failed with one ``tfae COMMAND: error:`` line; returns it."""
    code, _, err = cli(capsys, command, *argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tfae {command}: error: ")
    return lines[0][len(f"tfae {command}: error: ") :]


def write(path, text):
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory):
    """A saved 8x8-input model (untrained: these tests only need its shapes); one with a vanilla bottleneck."""
    from tfae.models.layouts import LayoutAutoencoder

    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name in ("gaussian", "vanilla"):
        model = LayoutAutoencoder({"name": name, "latent_dim": 2}, hidden=[8])
        model.build((None, 8, 8))
        model.compile(loss="bernoulli")
        paths[name] = folder / f"{name}.keras"
        model.save(paths[name])
    return paths


def test_missing_config(capsys, tmp_path):
    message = one_line_error(capsys, "train", tmp_path / "nope.toml")
    assert message.startswith(f"config file '{tmp_path / 'nope.toml'}' not found (the examples that ship with tfae: ")


def test_malformed_config(capsys, tmp_path):
    path = write(tmp_path / "bad.toml", '[training]\nepochs = 3\nloss = "bernoulli\n')
    assert one_line_error(capsys, "train", path).startswith(f"{path} line 3: malformed TOML: ")


def test_unknown_key(capsys, tmp_path):
    path = write(tmp_path / "typo.toml", '[model.bottleneck]\nname = "gaussian"\nlatnt_dim = 2\n')
    with pytest.raises(ParameterError) as python_error:
        resolve("bottleneck", {"name": "gaussian", "latnt_dim": 2})
    assert "has no parameter 'latnt_dim'. Did you mean 'latent_dim'? It takes: latent_dim," in str(python_error.value)
    # The message Python gives, after the file and the line.
    assert one_line_error(capsys, "train", path) == f"{path} line 3: {python_error.value}"


def test_wrongly_typed_parameter(capsys, tmp_path):
    path = write(tmp_path / "typed.toml", '[model.bottleneck]\nname = "gaussian"\nlatent_dim = "two"\n')
    message = one_line_error(capsys, "train", path)
    assert message.startswith(f"{path} line 3: The bottleneck 'gaussian' (GaussianBottleneck from tfae ")
    assert message.endswith(") takes an integer for 'latent_dim', not the string 'two'.")


def test_unknown_plugin_name(capsys, tmp_path):
    path = write(tmp_path / "plugin.toml", '[model.bottleneck]\nname = "gausian"\nlatent_dim = 2\n')
    message = one_line_error(capsys, "train", path)
    assert message.startswith(f"{path} line 2: Unknown bottleneck 'gausian'. Did you mean 'gaussian'?")
    assert "Available bottlenecks: bernoulli, gaussian, vanilla" in message


def test_unknown_schedule_name_in_tfae_schedule(capsys):
    message = one_line_error(capsys, "schedule", "dsar")
    assert message.startswith("Unknown scheduler 'dsar'. Did you mean 'dasr'?")


def test_data_whose_shape_does_not_fit_the_model(capsys, tmp_path, untrained_model):
    data = tmp_path / "wide.npy"
    np.save(data, np.zeros((5, 10), "float32"))
    assert one_line_error(capsys, "encode", untrained_model["gaussian"], data) == (
        f"{data}: the samples have shape (10,) (10 values), but the model takes samples of shape (8, 8) (64 values)"
        "; give data of that shape, or a model trained on data like these"
    )


def test_flat_data_of_the_right_size_is_reshaped(capsys, tmp_path, untrained_model):
    data = tmp_path / "flat.npy"
    np.save(data, np.zeros((5, 64), "float32"))
    code, out, _ = cli(capsys, "encode", untrained_model["gaussian"], data, "-o", tmp_path / "codes.npy")
    assert code == 0
    assert np.load(tmp_path / "codes.npy").shape == (5, 2)


def test_nan_or_inf_in_the_data(capsys, tmp_path, untrained_model):
    x = np.zeros((6, 8, 8), "float32")
    x[3, 2, 2] = np.nan
    x[5, 0, 0] = np.inf
    data = tmp_path / "nan.npz"
    np.savez(data, x=x)
    expected = f"{data}: the data holds NaN or inf values in 2 sample(s), the first at index 3; remove or replace them"
    assert one_line_error(capsys, "encode", untrained_model["gaussian"], data) == expected
    config = write(tmp_path / "nan.toml", f'[data]\nsource = "{data}"\n')
    assert one_line_error(capsys, "train", config) == f"{config} line 2: {expected}"


def test_the_run_folder_exists(capsys, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.toml").write_text("")
    assert one_line_error(capsys, "train", "--run-dir", folder) == (
        f"the run folder {folder} already exists; pass --overwrite to replace it, --resume {folder} to continue "
        "it, or --run-dir to choose another folder"
    )


def test_overwrite_refuses_a_folder_that_is_not_a_run(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    message = one_line_error(capsys, "train", "--run-dir", tmp_path, "--overwrite")
    assert message == f"{tmp_path} exists and is not a tfae run folder (no config.toml); not replacing it"
    assert (tmp_path / "notes.txt").exists()


def test_resume_needs_a_run_folder(capsys, tmp_path):
    assert one_line_error(capsys, "train", "--resume", tmp_path) == (
        f"{tmp_path} is not a tfae run folder: it has no config.toml"
    )


def test_missing_data_source(capsys, tmp_path):
    config = write(tmp_path / "missing.toml", '[data]\nsource = "no/such/file.npz"\n')
    assert one_line_error(capsys, "train", config) == (
        f"{config} line 2: data source 'no/such/file.npz' not found: give a registered dataset (\"digits\", "
        '"dsprites", "fashion_mnist", "mnist"), a .npy or .npz file, or a folder of images'
    )


def test_mnist_offline_says_what_to_download_and_where(capsys, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(keras.utils, "get_file", offline)
    config = write(tmp_path / "mnist.toml", '[data]\nsource = "mnist"\n')
    message = one_line_error(capsys, "train", config)
    assert message.startswith(f"{config} line 2: cannot download MNIST (URL fetch failure")
    assert (
        "Download https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz on a machine that is "
        f"online and put it at {tmp_path / 'keras' / 'datasets' / 'mnist.npz'}"
    ) in message
    config = write(tmp_path / "fashion.toml", '[data]\nsource = "fashion_mnist"\n')
    message = one_line_error(capsys, "train", config)
    folder = tmp_path / "keras" / "datasets" / "fashion-mnist"
    assert f"train-labels-idx1-ubyte.gz on a machine that is online and put it at {folder}" in message


def test_bernoulli_loss_needs_data_in_the_unit_interval(capsys, tmp_path):
    data = tmp_path / "big.npy"
    np.save(data, np.full((10, 4), 3.0, "float32"))
    config = write(tmp_path / "range.toml", f'[data]\nsource = "{data}"\n[training]\nloss = "bernoulli"\n')
    assert one_line_error(capsys, "train", config) == (
        f"{config} line 4: the bernoulli loss needs data in [0, 1], but {data} ranges from 3 to 3; "
        'scale the data, or use loss = "gaussian"'
    )


def test_conv_layout_needs_images(capsys, tmp_path):
    data = tmp_path / "vectors.npy"
    np.save(data, np.zeros((10, 5), "float32"))
    config = write(tmp_path / "conv.toml", f'[data]\nsource = "{data}"\n[model]\nlayout = "conv"\n')
    message = one_line_error(capsys, "train", config)
    assert message.startswith(f"{config} line 3: [model]: The conv layout needs images")


def test_generate_needs_a_prior(capsys, tmp_path, untrained_model):
    message = one_line_error(capsys, "generate", untrained_model["vanilla"], "-o", tmp_path / "x.png")
    assert message == (
        "the model's VanillaBottleneck has no prior to sample from; sample from a sampler fitted to its training "
        "codes instead: --sampler gmm (or two_stage)"
    )


def test_similar_index_out_of_range(capsys, untrained_model):
    message = one_line_error(capsys, "similar", untrained_model["gaussian"], "digits", "--index", "5000")
    assert message == "--index 5000 is out of range: digits has 1797 samples (0 to 1796)"


def test_the_arguments_and_the_data_are_checked_before_the_model_is_loaded(capsys, tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a model")
    message = one_line_error(capsys, "similar", broken, "digits", "--index", "5000")
    assert message == "--index 5000 is out of range: digits has 1797 samples (0 to 1796)"
    assert one_line_error(capsys, "encode", broken, tmp_path / "nothing.npy").startswith(
        f"data source '{tmp_path / 'nothing.npy'}' not found"
    )
    assert one_line_error(capsys, "generate", broken, "-n", "0") == "-n must be a positive number of samples; got 0"


def test_missing_model(capsys, tmp_path):
    assert one_line_error(capsys, "encode", tmp_path, "digits") == (
        f"no model at {tmp_path / 'model.keras'}: give a .keras file or a run folder that holds model.keras"
    )


def test_the_real_command_prints_one_line_and_no_tensorflow_logs(tmp_path, run_tfae):
    path = write(tmp_path / "typo.toml", "[training]\nepoch = 3\n")
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = run_tfae("train", path, env=environment)
    assert result.returncode == 2
    assert (
        result.stderr
        == f"tfae train: error: {path} line 2: unknown key 'epoch' in [training]; did you mean 'epochs'?\n"
    )


def test_a_mistake_in_the_file_itself_is_reported_before_keras_loads(tmp_path):
    """The file's TOML, keys, values and environment variables are checked first: the line comes at once, not
    after the seconds TensorFlow takes to import."""
    typo = write(tmp_path / "typo.toml", "[training]\nepoch = 3\n")
    malformed = write(tmp_path / "malformed.toml", "[training\nepochs = 3\n")
    unset = write(tmp_path / "unset.toml", '[output]\ndir = "${TFAE_TEST_UNSET}/runs"\n')
    result = run_python(
        f"""
        import contextlib, io, json, sys

        from tfae.cli import main

        results = []
        for argv in (["train", {str(typo)!r}], ["train", {str(malformed)!r}], ["train", {str(unset)!r}],
                     ["train", "--resume", {str(tmp_path)!r}]):
            with contextlib.redirect_stderr(io.StringIO()) as err:
                code = main(argv)
            results.append([code, err.getvalue()])
        print(json.dumps({{
            "results": results,
            "loaded": [name for name in ("keras", "tensorflow", "jax") if name in sys.modules],
        }}))
        """
    )
    assert result["loaded"] == []
    assert result["results"] == [
        [2, f"tfae train: error: {typo} line 2: unknown key 'epoch' in [training]; did you mean 'epochs'?\n"],
        [
            2,
            f"tfae train: error: {malformed} line 1: malformed TOML: Expected ']' at the end of a table declaration "
            "(column 10)\n",
        ],
        [
            2,
            f'tfae train: error: {unset} line 2: [output] dir = "${{TFAE_TEST_UNSET}}/runs" names the environment '
            "variable TFAE_TEST_UNSET, which is not set: set it (export TFAE_TEST_UNSET=...), or write the path out\n",
        ],
        [2, f"tfae train: error: {tmp_path} is not a tfae run folder: it has no config.toml\n"],
    ]


def test_an_environment_variable_names_the_run_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFAE_TEST_CLIENT", "acme")
    text = '[model]\nhidden = [8]\n[training]\nepochs = 1\n[output]\ndir = "${TFAE_TEST_CLIENT}/runs"\n'
    config = write(tmp_path / "small.toml", text)
    code, out, err = cli(capsys, "train", config, "-q")
    assert code == 0, err
    assert (tmp_path / "acme" / "runs" / "small" / "model.keras").is_file()
    assert not any("$" in path.name for path in tmp_path.rglob("*"))


def test_tensorboard_needs_its_package(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("tfae.training.config.tensorboard_installed", lambda: False)
    config = write(tmp_path / "tensorboard.toml", "[output]\ntensorboard = true\n")
    assert one_line_error(capsys, "train", config) == (
        f"{config} line 2: [output] tensorboard = true needs the tensorboard package, which is not installed: "
        "pip install tensorboard"
    )
