"""The library under ``tfae train``: a ``TrainConfig`` built in Python, ``train``, and the registry that builds
nested components and says where a nested one went wrong."""

import dataclasses

import numpy as np
import pytest

from tfae.errors import ConfigError, ParameterError
from tfae.evaluation import nearest_neighbours
from tfae.plugins import resolve
from tfae.registry import spec_path
from tfae.training import ModelConfig, Run, TrainConfig, TrainingConfig, load_config, train
from tfae.training.config import read_config

NESTED_TYPO = (
    '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\n[model.bottleneck.regularizer]\nname = "kld"\n'
    '[model.bottleneck.regularizer.beta]\nname = "dasr"\natack = 4\n'
)


def test_a_config_built_in_python_trains_one_epoch_on_the_digits(tmp_path):
    config = TrainConfig(
        model=ModelConfig(hidden=[16], bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"}),
        training=TrainingConfig(epochs=1, batch_size=128),
    )
    run = train(config, run_dir=tmp_path / "run", verbose=0)
    assert isinstance(run, Run)
    assert (run.folder / "model.keras").is_file()
    assert run.model.bottleneck.latent_dim == 2
    written = load_config(run.folder / "config.toml")
    assert written.training == config.training
    assert written.model.hidden == [16]
    # The config given is left as it was: the run's folder and worked-out values go into checked copies.
    assert config.output.name is None


def test_a_python_config_is_checked_with_the_files_messages_without_a_line():
    config = TrainConfig(training=TrainingConfig(epochs=0))
    with pytest.raises(ConfigError, match=r"^\[training\] epochs must be a positive integer; got 0$"):
        config.checked(components=False)
    checked = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=2)).checked()
    assert checked.model.hidden == [64, 32]
    assert checked.output.name == "vae"


def test_a_nested_schedulers_bad_parameter_names_its_line_when_checked_and_when_built(tmp_path):
    path = tmp_path / "nested.toml"
    path.write_text(NESTED_TYPO, encoding="utf-8")
    with pytest.raises(ConfigError) as checked:
        load_config(path)
    # Not checked first: the registry builds the nested scheduler and says where it is.
    with pytest.raises(ConfigError) as built:
        read_config(path).build("bottleneck", ("model", "bottleneck"))
    for caught in (checked, built):
        assert str(caught.value).startswith(f"{path} line 8: The scheduler 'dasr'")
        assert "has no parameter 'atack'. Did you mean 'attack'?" in str(caught.value)


def test_the_registry_builds_nested_specs_and_keeps_the_path_of_an_error():
    spec = {"name": "gaussian", "latent_dim": 2, "regularizer": [{"name": "kld"}, {"name": "kld", "beta": "dasr"}]}
    bottleneck = resolve("bottleneck", spec)
    assert bottleneck.regularizers[1].scheduler is not None
    spec["regularizer"][1]["beta"] = {"name": "dasr", "atack": 4}
    with pytest.raises(ParameterError) as caught:
        resolve("bottleneck", spec)
    assert spec_path(caught.value) == ("regularizer", 1, "beta")
    assert caught.value.parameter == "atack"


def test_nearest_neighbours_leave_out_the_query_and_keep_ties_in_order():
    codes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    indices, distances = nearest_neighbours(codes, codes[0], k=5, exclude=0)
    assert indices.tolist() == [1, 2, 3]
    assert distances.tolist() == [1.0, 1.0, 3.0]
