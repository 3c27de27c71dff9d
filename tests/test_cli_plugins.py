"""``tfae plugins`` and ``python -m tfae plugins``: every registered name, by kind, and who provides it; and
the command line with a plugin that registers a built-in's name."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tfae
from plugin_fixtures import bottleneck_plugin, install_clash_plugin, plugin_distribution, python_env, run, run_python
from tfae import cli
from timeouts import HANG_TIMEOUT_S

BUILTINS = {
    "bottlenecks": {"vanilla": "dense, deterministic", "gaussian": "normal", "bernoulli": "binary"},
    "regularizers": {
        "kld": "kl, gaussian_kld",
        "reversed_kld": "reverse_kld, reversed_kl",
        "l2": "l2_activity",
        "bernoulli_kld": "binary_kld",
    },
    "schedulers": {"dasr": "cyclical, annealing"},
    "likelihoods": {"bernoulli": "binary_crossentropy_sum", "gaussian": "normal"},
    "metrics": {"negative_elbo": "elbo", "log_likelihood": "iwae, nll", "active_units": "-", "mig": "-"},
    "datasets": {"digits": "-", "mnist": "-", "fashion_mnist": "-", "dsprites": "-"},
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
    assert plugins["dsprites"] == ["dsprites", f"tfae {tfae.__version__}", "tfae.datasets.dsprites", "built-in"]


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
    assert "tfae: warning: tfae plugin" in result.stderr


def test_console_script_fails_on_a_broken_plugin_in_strict_mode(tmp_path):
    script = shutil.which("tfae", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the `tfae` console script is not installed next to this interpreter")
    broken = plugin_distribution(tmp_path, "broken", "0.3", "raise RuntimeError('boom at import')\n")

    result = run([script, "plugins"], paths=[broken], check=False, TFAE_STRICT_PLUGINS="1")
    assert result.returncode != 0 and not result.stdout
    assert "tfae plugins: error: tfae plugin 'broken' (tfae-broken 0.3) failed to load" in result.stderr
    assert "RuntimeError: boom at import" in result.stderr
    assert "keep working" not in result.stderr


# Slow: the real command in a fresh interpreter (~10 CPU-s), for its start-up output; .ci/run runs it.
@pytest.mark.slow
def test_lists_no_tensorflow_start_up_lines():
    # TensorFlow's backend and no TF_CPP_MIN_LOG_LEVEL: what a user's shell gives the command.
    env = python_env(KERAS_BACKEND="tensorflow")
    del env["TF_CPP_MIN_LOG_LEVEL"]
    command = [sys.executable, "-m", "tfae", "plugins"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert "regularizers:" in result.stdout
    output = result.stdout + result.stderr
    for start_up_line in ("oneDNN", "cuda", "cpu_feature_guard", "absl::InitializeLog", "I0000", "W0000", "E0000"):
        assert start_up_line.lower() not in output.lower(), output
    assert not result.stderr


def test_a_plugin_taking_a_builtin_name_is_listed_by_its_qualified_name(tmp_path):
    site = install_clash_plugin(tmp_path)

    result = run([sys.executable, "-m", "tfae", "plugins"], paths=[site])
    listing = sections(result.stdout)
    assert ["kld", "kl, gaussian_kld", "GaussianKLDRegularizer", f"tfae {tfae.__version__}"] in listing["regularizers"]
    assert ["tfae-clash:kld", "kl", "ClashKLDRegularizer", "tfae-clash 1.0"] in listing["regularizers"]
    assert ["steady", "-", "SteadyScheduler", "tfae-clash 1.0"] in listing["schedulers"]
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("tfae: warning: ")]
    registers = "tfae-clash 1.0 (its entry point 'clash') registers its regularizer ClashKLDRegularizer"
    assert f"{registers} under 'kld' and 'kl'" in warning

    strict = run([sys.executable, "-m", "tfae", "plugins"], paths=[site], check=False, TFAE_STRICT_PLUGINS="1")
    assert strict.returncode == 2 and not strict.stdout
    (line,) = strict.stderr.splitlines()
    assert line.startswith("tfae plugins: error: tfae-clash 1.0 (its entry point 'clash') registers its regularizer")
    assert "'tfae-clash:kld'" in line and "TFAE_STRICT_PLUGINS=1 makes this an error" in line
    assert "keep working" not in line


QUALIFIED_CONFIG = """
[model.bottleneck]
name = "gaussian"
latent_dim = 2

[model.bottleneck.regularizer]
name = "tfae-clash:kld"
scale = 2.0

[model.bottleneck.regularizer.beta]
name = "tfae-clash:steady"
level = 0.5
"""


@pytest.mark.slow
@pytest.mark.long
def test_tfae_train_keeps_the_builtin_name_and_reaches_the_plugin_by_its_qualified_name(tmp_path):
    site = install_clash_plugin(tmp_path / "clash")
    train = [sys.executable, "-m", "tfae", "train", "--epochs", "1", "-q"]

    # One epoch each, without XLA: compiling costs more than the epoch, and names are what this test checks.
    quick = {"KERAS_BACKEND": "tensorflow", "TFAE_XLA": "0"}
    # The zero-config run: "kld" is still tfae's, and the clash is one warning naming the package.
    default = run([*train, "--run-dir", tmp_path / "default"], paths=[site], **quick)
    warnings = [line for line in default.stderr.splitlines() if line.startswith("tfae: warning: ")]
    assert len(warnings) == 1 and "tfae-clash 1.0" in warnings[0], default.stderr

    (tmp_path / "qualified.toml").write_text(QUALIFIED_CONFIG)
    qualified = [*train, tmp_path / "qualified.toml", "--run-dir", tmp_path / "qualified"]
    run(qualified, paths=[site], **quick)

    loaded = run_python(
        f"""
        import json

        import tfae

        regularizers = {{}}
        for run in ("default", "qualified"):
            regularizer = tfae.load_model({str(tmp_path)!r} + "/" + run + "/model.keras").bottleneck.regularizer
            regularizers[run] = [type(regularizer).__name__, type(regularizer.scheduler).__name__]
        print(json.dumps(regularizers))
        """,
        paths=[site],
    )
    assert loaded["default"] == ["GaussianKLDRegularizer", "NoneType"]
    assert loaded["qualified"] == ["ClashKLDRegularizer", "SteadyScheduler"]
