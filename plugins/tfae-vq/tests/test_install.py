"""pip-installing tfae-vq makes "vq" work in `tfae plugins`, `tfae train` and saved models; without it, the name fails.

The checks run in fresh interpreters whose site-packages is this environment's, less tfae-vq (a folder of
links to everything else), so "without it" holds also where tfae-vq is installed; "with it" adds a real
`pip install --target` of this checkout, offline.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1]
DISTRIBUTION = "tfae-vq"

CONFIG = """\
[data]
source = "digits"

[model]
hidden = [32]

[model.bottleneck]
name = "vq"
latent_dim = 4
codebook_size = 16
codebook_dim = 2
ema_decay = 0.9

[training]
loss = "bernoulli"
epochs = 1
"""

# Run with -S: site-packages is the folder given first on the command line, then the code runs with sys imported.
BOOT = "import site, sys; site.addsitedir(sys.argv.pop(1)); exec(sys.argv.pop(1))"


def is_part_of(distribution, path):
    """Whether ``path``, in a folder on the import path, is ``distribution``'s (its package, dist-info or .pth)."""
    return distribution.replace("-", "_").lower() in path.name.replace("-", "_").lower()


def site_without(distribution, folder):
    """A site-packages folder of links to this environment's, less ``distribution``'s files."""
    folder.mkdir()
    paths = sysconfig.get_paths()
    for site_packages in dict.fromkeys([paths["purelib"], paths["platlib"]]):
        for path in Path(site_packages).iterdir():
            if not is_part_of(distribution, path) and not (folder / path.name).exists():
                (folder / path.name).symlink_to(path)
    return folder


def python(site, code, *args, installed=None, cwd=None):
    """Runs ``code`` in a fresh interpreter with ``site`` as site-packages and ``installed`` first on the path.

    PYTHONPATH's folders are kept, but for those holding tfae-vq.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("TFAE_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    folders = [Path(folder) for folder in os.environ.get("PYTHONPATH", "").split(os.pathsep) if folder]
    kept = [
        folder
        for folder in folders
        if not folder.is_dir() or not any(is_part_of(DISTRIBUTION, path) for path in folder.iterdir())
    ]
    env["PYTHONPATH"] = os.pathsep.join(map(str, ([installed] if installed is not None else []) + kept))
    command = [sys.executable, "-S", "-c", BOOT, str(site), textwrap.dedent(code), *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)


def cli(site, *commands, installed=None, cwd=None):
    """Runs ``tfae`` commands (each a list of arguments) one after the other in one fresh interpreter."""
    code = """
        import json

        from tfae.cli import main

        for command in json.loads(sys.argv[1]):
            if main(command):
                sys.exit(1)
        """
    return python(site, code, json.dumps(commands), installed=installed, cwd=cwd)


def succeeded(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return site_without(DISTRIBUTION, tmp_path_factory.mktemp("environment") / "site-packages")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """tfae-vq built from this checkout and installed into a folder, as `pip install ./plugins/tfae-vq` does."""
    folder = tmp_path_factory.mktemp("installed")
    # From a copy, so that the build leaves no build/ or egg-info in the checkout.
    source = shutil.copytree(
        PLUGIN, folder / "source", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    target = folder / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        [*pip, "--target", str(target), str(source)], env=env, capture_output=True, text=True, timeout=900
    )
    succeeded(result)
    return target


def test_installed_it_is_listed_trains_from_a_config_and_reloads_in_a_fresh_process(site, installed, tmp_path):
    (tmp_path / "vq.toml").write_text(CONFIG)
    train = ["train", "vq.toml", "--run-dir", "run", "--quiet"]
    listing = succeeded(cli(site, ["plugins"], train, installed=installed, cwd=tmp_path))
    rows = [line.split() for line in listing.splitlines()]
    assert ["vq", "vq_vae,", "vector_quantized", "VectorQuantizedBottleneck", "tfae-vq", "0.1.0"] in rows, listing
    assert ["vq", "tfae-vq", "0.1.0", "tfae_vq.vector_quantized"] in rows, listing

    model_file = tmp_path / "run" / "model.keras"
    assert model_file.exists()
    header = (tmp_path / "run" / "history.csv").read_text().splitlines()[0].split(",")
    assert "perplexity" in header

    reload = """
        import json

        import numpy as np

        import tfae
        from tfae.datasets import load_digits

        model = tfae.load_model(sys.argv[1])
        images = load_digits()[0][:64]
        reconstructions = model.predict(images, verbose=0)
        metrics = model.evaluate(images, images, verbose=0, return_dict=True)
        samples = model.sample(8, seed=0)
        print(json.dumps({
            "bottleneck": type(model.bottleneck).__module__,
            "config": model.bottleneck.get_config(),
            "reconstructions": [list(reconstructions.shape), bool(np.isfinite(reconstructions).all())],
            "samples": [list(samples.shape), bool(np.isfinite(samples).all())],
            "perplexity": metrics["perplexity"],
        }))
        """
    result = json.loads(succeeded(python(site, reload, str(model_file), installed=installed)).splitlines()[-1])
    assert result["bottleneck"] == "tfae_vq.vector_quantized"
    assert result["config"]["codebook_size"] == 16 and result["config"]["ema_decay"] == 0.9
    assert result["reconstructions"] == [[64, 8, 8], True]
    assert result["samples"] == [[8, 8, 8], True]
    assert 1.0 <= result["perplexity"] <= 16.0


def test_uninstalled_a_config_naming_it_fails_suggesting_to_install_a_plugin(site, tmp_path):
    (tmp_path / "vq.toml").write_text(CONFIG)

    result = cli(site, ["train", "vq.toml", "--run-dir", "run", "--quiet"], cwd=tmp_path)

    assert result.returncode != 0
    assert "vq.toml line 8: Unknown bottleneck 'vq'." in result.stderr
    assert "If 'vq' comes from a plugin, install the package that provides it" in result.stderr
    assert not (tmp_path / "run" / "model.keras").exists()
