"""The training config: every key checked, mistakes named with file, line and key, defaults filled in."""

import pathlib
import re

import pytest

from tfae.errors import ParameterError
from tfae.plugins import resolve
from tfae.training.config import SCHEMA, Config, ConfigError, key_lines, load_config, tomllib


def write(tmp_path, text, name="config.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path):
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def resolve_error(kind, spec):
    """The message Python gives for ``spec``: a config file gives the same after its file and line."""
    with pytest.raises(ParameterError) as caught:
        resolve(kind, spec)
    return str(caught.value)


def test_no_config_gives_the_digits_vae_defaults():
    values = load_config(None).values
    assert values["data"]["source"] == "digits"
    assert values["model"]["bottleneck"] == {"name": "gaussian", "latent_dim": 2, "regularizer": {"name": "kld"}}
    assert values["model"]["hidden"] == [64, 32]
    assert values["training"]["loss"] == "bernoulli"
    assert values["output"]["name"] == "vae"
    assert set(values) == set(SCHEMA)


def test_every_default_is_written_and_the_run_name_is_the_file_name(tmp_path):
    values = load_config(write(tmp_path, "[training]\nepochs = 3\n", "small.toml")).values
    assert values["training"]["epochs"] == 3
    assert values["training"]["batch_size"] == SCHEMA["training"]["batch_size"][0]
    assert values["output"]["name"] == "small"


def test_the_conv_layout_has_its_own_hidden_default(tmp_path):
    assert load_config(write(tmp_path, '[model]\nlayout = "conv"\n')).values["model"]["hidden"] == [32, 64]


def test_unknown_component_key_names_file_line_and_the_closest_key_as_python_does(tmp_path):
    path = write(tmp_path, '[model]\nlayout = "dense"\n\n[model.bottleneck]\nname = "gaussian"\nlatnt_dim = 2\n')
    message = resolve_error("bottleneck", {"name": "gaussian", "latnt_dim": 2})
    assert "has no parameter 'latnt_dim'. Did you mean 'latent_dim'?" in message
    assert error_of(path) == f"{path} line 6: {message}"


def test_unknown_section_key(tmp_path):
    path = write(tmp_path, "[training]\nseed = 1\nepoch = 3\n")
    assert error_of(path) == f"{path} line 3: unknown key 'epoch' in [training]; did you mean 'epochs'?"


def test_unknown_key_without_a_close_match_lists_the_keys(tmp_path):
    message = error_of(write(tmp_path, "[output]\ncolour_scheme = 1\n"))
    assert "line 2: unknown key 'colour_scheme' in [output]; the keys it takes are: dir, name, tensorboard" in message


def test_unknown_section(tmp_path):
    path = write(tmp_path, "\n[trainig]\nepochs = 3\n")
    assert error_of(path) == f"{path} line 2: unknown section [trainig]; did you mean [training]?"


def test_malformed_toml_names_the_line(tmp_path):
    path = write(tmp_path, "[training]\nepochs = 3\nbatch_size = \n")
    message = error_of(path)
    assert message.startswith(f"{path} line 3: malformed TOML: ")


def test_missing_config_file(tmp_path):
    assert error_of(tmp_path / "nope.toml") == f"config file '{tmp_path / 'nope.toml'}' not found"


def test_wrong_type_names_what_is_wanted(tmp_path):
    path = write(tmp_path, "[training]\n\nepochs = -1\n")
    assert error_of(path) == f"{path} line 3: [training] epochs must be a positive integer; got -1"
    path = write(tmp_path, "[training]\nvalidation_split = 1.5\n")
    assert "line 2: [training] validation_split must be a number from 0 up to (not including) 1; got 1.5" in (
        error_of(path)
    )


def test_unknown_plugin_name_gives_the_registry_message_with_the_closest_name(tmp_path):
    path = write(tmp_path, '[model.bottleneck]\nname = "gausian"\nlatent_dim = 2\n')
    message = error_of(path)
    assert message.startswith(f"{path} line 2: Unknown bottleneck 'gausian'. Did you mean 'gaussian'?")
    assert "\n" not in message


def test_nested_inline_schedule_name_is_checked(tmp_path):
    text = '[model]\nbottleneck = {name = "gaussian", latent_dim = 2, regularizer = {name = "kld", beta = "dsar"}}\n'
    message = error_of(write(tmp_path, text))
    assert "line 2: Unknown scheduler 'dsar'. Did you mean 'dasr'?" in message


def test_unknown_schedule_parameter(tmp_path):
    text = (
        '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\n[model.bottleneck.regularizer]\nname = "kld"\n'
        '[model.bottleneck.regularizer.beta]\nname = "dasr"\natack = 5\n'
    )
    path = write(tmp_path, text)
    message = resolve_error("scheduler", {"name": "dasr", "atack": 5})
    assert message.startswith("The scheduler 'dasr' (DASRScheduler from tfae ")
    assert "has no parameter 'atack'. Did you mean 'attack'? It takes: start_value, end_value, delay," in message
    assert error_of(path) == f"{path} line 8: {message}"


def test_a_required_plugin_parameter(tmp_path):
    path = write(tmp_path, '[model.bottleneck]\nname = "vanilla"\n')
    message = resolve_error("bottleneck", {"name": "vanilla"})
    assert message.endswith(
        "needs latent_dim: give it as a dict (a table in a config file) such as {'name': 'vanilla', 'latent_dim': ...}."
    )
    assert error_of(path) == f"{path} line 1: {message}"


def test_a_wrongly_typed_plugin_parameter(tmp_path):
    path = write(tmp_path, '[training]\nloss = {name = "gaussian", variance = [1, 2]}\n')
    message = resolve_error("likelihood", {"name": "gaussian", "variance": [1, 2]})
    assert message.endswith("takes a number or a string for 'variance', not the list [1, 2].")
    assert error_of(path) == f"{path} line 2: {message}"


def test_a_component_without_a_name(tmp_path):
    message = error_of(write(tmp_path, "[model.bottleneck]\nlatent_dim = 4\n"))
    assert "line 1: [model.bottleneck] needs a 'name': a registered bottleneck such as" in message


def test_unknown_loss_and_optimizer(tmp_path):
    message = error_of(write(tmp_path, '[training]\nloss = "bernouli"\n'))
    assert "line 2: Unknown likelihood 'bernouli'. Did you mean 'bernoulli'?" in message
    assert "Keras has no loss named 'bernouli' either" in message
    path = write(tmp_path, '[training]\noptimizer = "adm"\n')
    assert error_of(path) == f"{path} line 2: unknown optimizer 'adm'; did you mean 'adam'?"


def test_keras_loss_names_are_accepted(tmp_path):
    assert load_config(write(tmp_path, '[training]\nloss = "mse"\n')).values["training"]["loss"] == "mse"


def test_a_constructor_complaint_comes_back_with_the_line_of_the_key(tmp_path):
    path = write(tmp_path, '[model.bottleneck]\nname = "gaussian"\nlatent_dim = -2\n')
    config = load_config(path)
    with pytest.raises(ConfigError) as caught:
        config.build("bottleneck", ("model", "bottleneck"))
    assert str(caught.value).startswith(f"{path} line 3: [model.bottleneck]: `latent_dim` must be a positive integer")


def test_build_resolves_nested_components_by_name(tmp_path):
    text = (
        '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 3\n[model.bottleneck.regularizer]\nname = "kld"\n'
        '[model.bottleneck.regularizer.beta]\nname = "dasr"\nattack = 4\n'
    )
    bottleneck = load_config(write(tmp_path, text)).build("bottleneck", ("model", "bottleneck"))
    assert bottleneck.latent_dim == 3
    assert bottleneck.regularizer.scheduler.duration == 4


def test_the_resolved_config_reads_back_the_same(tmp_path):
    text = '[model]\nlayout = "conv"\n[model.bottleneck]\nname = "bernoulli"\nlatent_dim = 4\n[training]\nepochs = 2\n'
    config = load_config(write(tmp_path, text))
    again = write(tmp_path, config.to_toml(), "again.toml")
    assert tomllib.loads(again.read_text()) == config.values
    assert load_config(again).values == {**config.values, "output": {**config.values["output"], "name": "config"}}


def test_key_lines_cover_headers_dotted_keys_and_inline_tables():
    text = '# comment\n[model]\nbottleneck = {name = "gaussian", latent_dim = 2}\n\n[training]\nepochs = 3\nx.y = 1\n'
    lines = key_lines(text)
    assert lines[("model",)] == 2
    assert lines[("model", "bottleneck", "latent_dim")] == 3
    assert lines[("training", "epochs")] == 6
    assert lines[("training", "x", "y")] == 7


def test_to_toml_reads_back_through_tomllib_with_the_built_components_and_without_none(tmp_path):
    config = Config({"model": {"hidden": [16, 8]}, "training": {"loss": {"name": "gaussian", "variance": 0.5}}})
    bottleneck = {
        "name": "gaussian",
        "latent_dim": 2,
        "seed": None,
        "regularizer": {"name": "kld", "beta": {"name": "dasr", "attack": 3, "shape": "cosine", "unit": "step"}},
    }
    text = config.to_toml({("model", "bottleneck"): bottleneck})
    values = tomllib.loads(text)
    written = {key: value for key, value in bottleneck.items() if key != "seed"}  # TOML has no null
    assert values == {**config.values, "model": {**config.values["model"], "bottleneck": written}}
    again = write(tmp_path, text, "again.toml")
    assert load_config(again).values["model"]["bottleneck"] == written


def test_an_environment_variable_in_a_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("TFAE_TEST_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TFAE_TEST_CLIENT", "acme")
    text = '[data]\nsource = "${TFAE_TEST_DATA}/x.npy"\n[output]\ndir = "./${TFAE_TEST_CLIENT}/runs"\n'
    values = load_config(write(tmp_path, text)).values
    assert values["data"]["source"] == f"{tmp_path}/data/x.npy"
    assert values["output"]["dir"] == "./acme/runs"


def test_an_environment_variable_that_is_not_set_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("TFAE_TEST_CLIENT", raising=False)
    path = write(tmp_path, '[model]\nhidden = [8]\n\n[output]\ndir = "./${TFAE_TEST_CLIENT}/runs"\n')
    assert error_of(path) == (
        f'{path} line 5: [output] dir = "./${{TFAE_TEST_CLIENT}}/runs" names the environment variable '
        "TFAE_TEST_CLIENT, which is not set: set it (export TFAE_TEST_CLIENT=...), or write the path out"
    )
    path = write(tmp_path, '[data]\nsource = "${TFAE TEST}/x.npy"\n')
    assert error_of(path) == (
        f"{path} line 2: [data] source = \"${{TFAE TEST}}/x.npy\" has a '${{' that names no environment variable: "
        "write ${NAME}, with NAME of letters, digits and underscores"
    )


def test_the_environment_variables_tfae_reads_are_listed_in_docs_config_md():
    """Every TFAE_ variable named in the source, and those of Keras and TensorFlow that tfae reads."""
    root = pathlib.Path(__file__).resolve().parents[1]
    page = (root / "docs" / "config.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", page, flags=re.MULTILINE))
    named = {
        name
        for path in (root / "src" / "tfae").rglob("*.py")
        for name in re.findall(r"\bTFAE_[A-Z][A-Z_]*[A-Z]\b", path.read_text())
    }
    assert named, "the scan found no variable"
    assert named | {"KERAS_BACKEND", "KERAS_HOME", "TF_CONFIG", "TF_CPP_MIN_LOG_LEVEL"} <= listed, sorted(
        named - listed
    )
