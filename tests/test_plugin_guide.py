"""docs/plugins.md shows plugins/tfae-plugin-template exactly, and its config example and error are real."""

import importlib
import re
from pathlib import Path

import pytest

from tfae import plugins
from tfae.training.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text()
TEMPLATE = ROOT / "plugins" / "tfae-plugin-template"
MODULES = [
    "tfae_plugin_template.spherical",
    "tfae_plugin_template.l1",
    "tfae_plugin_template.uniformity",
    "tfae_plugin_template.geometric",
]
# A fenced block: its fence, its info string (language and title="..."), and its text.
BLOCK = re.compile(r"^(`{3,})([^\n]*)\n(.*?)^\1$", re.DOTALL | re.MULTILINE)
BUILT = {"__pycache__", "build", "dist"}


def blocks():
    return [(info.strip(), text) for _, info, text in BLOCK.findall(GUIDE)]


def template_files():
    files = set()
    for path in TEMPLATE.rglob("*"):
        parts = path.relative_to(TEMPLATE).parts
        left_out = any(part in BUILT or part.startswith(".") or part.endswith(".egg-info") for part in parts)
        if path.is_file() and not left_out:
            files.add("/".join(parts))
    return files


def test_the_guide_shows_every_template_file_exactly():
    shown = {}
    for info, text in blocks():
        title = re.search(r'title="([^"]+)"', info)
        if title:
            shown[title.group(1)] = text
    assert set(shown) == template_files()
    for path, text in shown.items():
        assert text == (TEMPLATE / path).read_text(), f"docs/plugins.md shows {path} differently from the template"


def test_the_guide_lists_the_template_layout():
    (layout,) = [text for info, text in blocks() if text.startswith("tfae-plugin-template/\n")]
    listed = {line.strip() for line in layout.splitlines()[1:]}
    assert listed == template_files()


@pytest.fixture
def template_plugin(monkeypatch):
    """The template's modules, registered at run time unless the template is installed."""
    monkeypatch.syspath_prepend(str(TEMPLATE / "src"))
    if any(entry.name == "spherical" for entry in plugins.list_components("bottleneck")):
        yield
        return
    names = [plugins.register_plugin(importlib.import_module(module)) for module in MODULES]
    yield
    for name in names:
        plugins.unregister_plugin(name)


def guide_config(folder):
    (toml,) = [text for info, text in blocks() if info == "toml"]
    path = folder / "sparse_sphere.toml"
    path.write_text(toml)
    return path.name


def test_the_guide_config_builds_the_template_components(template_plugin, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(guide_config(tmp_path))

    bottleneck = config.build("bottleneck", ("model", "bottleneck"))

    assert type(bottleneck).__name__ == "SphericalBottleneck" and bottleneck.radius == 2.0
    assert type(bottleneck.regularizer).__name__ == "L1Regularizer"
    assert type(bottleneck.regularizer.scheduler).__name__ == "GeometricScheduler"
    assert bottleneck.regularizer.scheduler.duration == 10


def test_the_guide_shows_the_error_without_the_plugin(tmp_path, monkeypatch):
    if any(entry.name == "spherical" for entry in plugins.list_components("bottleneck")):
        pytest.skip("tfae-plugin-template is installed")
    monkeypatch.chdir(tmp_path)
    (shown,) = [text.strip() for info, text in blocks() if text.startswith("tfae train: error:")]

    with pytest.raises(ConfigError) as error:
        load_config(guide_config(tmp_path))

    assert shown == f"tfae train: error: {error.value}"
