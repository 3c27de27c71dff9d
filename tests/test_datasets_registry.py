"""Datasets are a registry kind: tfae's own resolve by name through its entry points, a plugin's work in a
config, and a config's `[data] source` takes any registered name (or a table of a name and parameters) while
files and folders stay paths."""

import numpy as np
import pytest

import tfae
from tfae import plugins
from tfae.cli import main
from tfae.datasets import (
    BaseDataset,
    Dataset,
    DigitsDataset,
    DSprites,
    DSpritesDataset,
    FashionMNISTDataset,
    MNISTDataset,
)
from tfae.errors import ConfigError, DataError
from tfae.training.config import load_config
from tfae.training.data import load_data
from tfae.training.run import Run


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name, component",
    [
        ("digits", DigitsDataset),
        ("mnist", MNISTDataset),
        ("fashion_mnist", FashionMNISTDataset),
        ("dsprites", DSpritesDataset),
    ],
)
def test_the_builtins_are_registered_through_tfae_entry_points(name, component):
    entry = plugins.get_registry().get("dataset", name)
    assert entry.component is component
    assert entry.builtin and entry.distribution == "tfae"
    (plugin,) = [info for info in plugins.list_plugins() if info.plugin == name]
    assert plugin.module == component.__module__ and plugin.builtin


def test_sources_by_name_and_by_table():
    digits = load_data("digits")
    assert digits.x.shape == (1797, 8, 8) and digits.labels[:3].tolist() == [0, 1, 2] and digits.factors is None
    sprites = load_data({"name": "dsprites", "n": 30, "image_size": 16, "seed": 1})
    assert sprites.x.shape == (30, 16, 16, 1) and sprites.x.dtype == np.float32
    assert sprites.factors.shape == (30, 5) and sprites.labels.tolist() == sprites.factors[:, 0].tolist()
    assert sprites.class_names == ["square", "ellipse", "heart"]
    assert isinstance(sprites.ground_truth, DSprites) and sprites.ground_truth.image_size == 16
    # The same images for the same seed: the factors pick them, and they are rendered deterministically.
    again = load_data({"name": "DSpritesDataset", "n": 30, "image_size": 16, "seed": 1})
    np.testing.assert_array_equal(again.factors, sprites.factors)
    np.testing.assert_array_equal(again.x, sprites.ground_truth.render(sprites.factors))


def test_an_existing_path_is_a_file_or_folder_whatever_is_registered(tmp_path, monkeypatch):
    from PIL import Image

    folder = tmp_path / "digits"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(np.full((4, 5), 40 * index, np.uint8)).save(folder / f"{index}.png")
    monkeypatch.chdir(tmp_path)
    assert load_data("digits").x.shape == (3, 4, 5)


def test_an_unknown_name_gets_the_registry_suggestions(tmp_path):
    with pytest.raises(DataError) as caught:
        load_data("dsprite")
    message = str(caught.value)
    assert message.startswith("Unknown dataset 'dsprite'. Did you mean 'dsprites'? Available datasets: digits, ")
    assert message.endswith("No file or folder 'dsprite' exists either.")
    config = write(tmp_path / "typo.toml", '[data]\nsource = "digtis"\n')
    with pytest.raises(ConfigError, match=r"typo.toml line 2: Unknown dataset 'digtis'. Did you mean 'digits'\?"):
        load_config(config)
    # A path that does not exist is a missing file, not an unknown name.
    with pytest.raises(DataError, match=r"data source 'no/such.npz' not found: give a registered dataset \(\"digits\""):
        load_data("no/such.npz")


def test_a_dataset_parameters_are_checked_with_their_lines(tmp_path):
    config = write(tmp_path / "typo.toml", '[data.source]\nname = "dsprites"\nn = 100\nimage_sise = 16\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value).startswith(
        f"{config} line 4: The dataset 'dsprites' (DSpritesDataset from tfae {tfae.__version__}) has no parameter "
        "'image_sise'. Did you mean 'image_size'? It takes: n, image_size, seed."
    )
    config = write(tmp_path / "small.toml", '[data.source]\nname = "dsprites"\nn = 100\nimage_size = 8\n')
    with pytest.raises(ConfigError) as caught:
        Run(tmp_path / "run", load_config(config)).load_data()
    assert str(caught.value) == (
        f"{config} line 4: [data.source]: `image_size` must be an integer of at least 16 (pixels per side). "
        "Received: image_size=8"
    )
    config = write(tmp_path / "mixed.toml", '[data]\nsource = "dsprites"\nimage_size = [32, 32]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value) == (
        f"{config} line 3: [data] image_size is for a file or a folder of images, not for the dataset 'dsprites', "
        "which takes its parameters in a [data.source] table with its name (n, image_size, seed)"
    )


class Waves(BaseDataset):
    """Sine waves of random phase, values in [0, 1]."""

    def __init__(self, n: int = 100, length: int = 16, seed: int = 0):
        self.n, self.length, self.seed = n, length, seed

    def load(self):
        phase = np.random.default_rng(self.seed).uniform(0, 2 * np.pi, (self.n, 1))
        x = 0.5 + 0.5 * np.sin(np.linspace(0, 2 * np.pi, self.length) + phase)
        return Dataset(x.astype("float32"), source="waves")

    def get_config(self):
        return {"n": self.n, "length": self.length, "seed": self.seed}


class WavesPlugin:
    @staticmethod
    @tfae.hookimpl
    def register_datasets(register):
        register(Waves, name="waves", aliases=["sines"])


@pytest.fixture
def waves_plugin():
    name = plugins.register_plugin(WavesPlugin, name="waves-plugin")
    yield name
    plugins.unregister_plugin(name)


def test_a_plugin_dataset_trains_from_a_config(waves_plugin, tmp_path, capsys):
    config = write(
        tmp_path / "waves.toml",
        '[data.source]\nname = "sines"\nn = 64\nlength = 12\n\n[model]\nhidden = [8]\n\n[training]\nepochs = 1\n',
    )
    folder = tmp_path / "run"
    assert main(["train", str(config), "--run-dir", str(folder), "-q"]) == 0, capsys.readouterr().err
    source = load_config(folder / "config.toml").values["data"]["source"]
    assert source == {"name": "waves", "n": 64, "length": 12, "seed": 0}
    assert tfae.load_model(folder / "model.keras").encoder.input_shape == (None, 12)


def test_dsprites_in_a_config_trains_and_evaluates_with_its_factors(tmp_path, capsys):
    config = write(
        tmp_path / "sprites.toml",
        '[data.source]\nname = "dsprites"\nn = 400\nimage_size = 16\n\n'
        '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 4\n\n[training]\nepochs = 1\n',
    )
    folder = tmp_path / "run"
    assert main(["train", str(config), "--run-dir", str(folder), "-q"]) == 0, capsys.readouterr().err
    assert {"model.keras", "latent.png", "traversal.png"} <= {path.name for path in folder.iterdir()}
    values = load_config(folder / "config.toml").values
    assert values["data"]["source"] == {"name": "dsprites", "n": 400, "image_size": 16, "seed": 0}
    assert tfae.load_model(folder / "model.keras").encoder.input_shape == (None, 16, 16, 1)

    capsys.readouterr()
    assert main(["evaluate", str(folder), "--metrics", "mig,active_units", "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "on the 40 samples of dsprites that training held out" in out
    rows = dict(line.split() for line in out.splitlines()[2:])
    assert set(rows) == {"mig", "active_units"} and 0 <= float(rows["mig"]) <= 1


def test_the_held_out_samples_keep_their_factors_and_none_held_out_is_all_of_the_data(tmp_path):
    config = write(
        tmp_path / "sprites.toml",
        '[data.source]\nname = "dsprites"\nn = 100\nimage_size = 16\n\n[training]\nvalidation_split = 0.2\nseed = 3\n',
    )
    held_out, share = Run(tmp_path / "run", load_config(config)).held_out_data()
    assert share == 0.2 and len(held_out.x) == 20 and held_out.factors.shape == (20, 5)
    np.testing.assert_array_equal(held_out.x, held_out.ground_truth.render(held_out.factors))
    everything = load_data({"name": "dsprites", "n": 100, "image_size": 16})
    expected = everything.factors[np.random.default_rng(3).permutation(100)[-20:]]
    np.testing.assert_array_equal(held_out.factors, expected)

    config = write(tmp_path / "all.toml", "[training]\nvalidation_split = 0\n")
    data, share = Run(tmp_path / "run", load_config(config)).held_out_data()
    assert share == 1.0 and len(data.x) == 1797
