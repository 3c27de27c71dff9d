"""``tfae plugins`` and ``python -m tfae plugins``: every registered name, by kind, and who provides it."""

import shutil
import sys
from pathlib import Path

import pytest
from plugin_fixtures import bottleneck_plugin, plugin_distribution, run

import tfae
from tfae import cli

BUILTINS = {
    "bottlenecks": {"vanilla": "dense, deterministic", "gaussian": "normal", "bernoulli": "binary"},
    "regularizers": {"kld": "kl, gaussian_kld", "reversed_kld": "reverse_kld, reversed_kl", "l2": "l2_activity",
                     "bernoulli_kld": "binary_kld"},
    "schedulers": {"dasr": "cyclical, annealing"},
    "likelihoods": {"bernoulli": "binary_crossentropy_sum", "gaussian": "normal"},
}


def sections(output):
    """``{title: [row cells]}`` from the listing: a title line ends with ':', rows are split on 2+ spaces."""
    found, title = {}, None
    for line in output.splitlines():
        if line and not line.startswith(" "):
            title = line.rstrip(":")
            found[title] = []
        elif line.strip() and title:
            found[title].append([cell.strip() for cell in line.strip().split("  ") if cell.strip()])
    return found


def test_lists_every_builtin_by_kind_with_aliases_and_provider(capsys):
    assert cli.main(["plugins"]) == 0
    listing = sections(capsys.readouterr().out)
    for kind, names in BUILTINS.items():
        header, *rows = listing[kind]
        assert header == ["name", "aliases", "class", "provided by"]
        by_name = {row[0]: row for row in rows}
        for name, aliases in names.items():
            assert by_name[name][1] == aliases
            assert by_name[name][3] == f"tfae {tfae.__version__}"
    plugins = {row[0]: row for row in listing["plugins"][1:]}
    assert plugins["gaussian"] == ["gaussian", f"tfae {tfae.__version__}", "tfae.bottlenecks.gaussian", "built-in"]


def test_third_party_plugins_show_up_with_the_ones_left_out_and_those_that_failed(tmp_path):
    wave = plugin_distribution(tmp_path, "wave", "0.7", bottleneck_plugin("WaveBottleneck", "wave", ["ripple"]))
    tide = plugin_distribution(tmp_path, "tide", "0.1", bottleneck_plugin("TideBottleneck", "tide"))
    broken = plugin_distribution(tmp_path, "broken", "0.3", "raise RuntimeError('boom at import')\n")

    result = run([sys.executable, "-m", "tfae", "plugins"], paths=[wave, tide, broken], TFAE_PLUGINS="wave,broken")
    listing = sections(result.stdout)
    assert ["wave", "ripple", "WaveBottleneck", "tfae-wave 0.7"] in listing["bottlenecks"]
    assert ["gaussian", "normal", "GaussianBottleneck", f"tfae {tfae.__version__}"] in listing["bottlenecks"]
    assert "tide" not in {row[0] for row in listing["bottlenecks"]}
    assert ["wave", "tfae-wave 0.7", "wave_plugin"] in listing["plugins"]
    (left_out,) = [title for title in listing if title.startswith("installed, not loaded")]
    assert listing[left_out][1:] == [["tide", "tfae-tide 0.1", "tide_plugin"]]
    assert listing["failed to load"][1:] == [["broken", "tfae-broken 0.3", "RuntimeError: boom at import"]]
    assert "PluginLoadWarning" in result.stderr


def test_console_script_fails_on_a_broken_plugin_in_strict_mode(tmp_path):
    script = shutil.which("tfae", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the `tfae` console script is not installed next to this interpreter")
    broken = plugin_distribution(tmp_path, "broken", "0.3", "raise RuntimeError('boom at import')\n")

    result = run([script, "plugins"], paths=[broken], check=False, TFAE_STRICT_PLUGINS="1")
    assert result.returncode != 0 and not result.stdout
    assert "tfae plugins: error: tfae plugin 'broken' (tfae-broken 0.3) failed to load" in result.stderr
    assert "RuntimeError: boom at import" in result.stderr
