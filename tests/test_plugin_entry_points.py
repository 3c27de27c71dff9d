"""Third-party plugins found through real ``tfae`` entry points, each scenario in a fresh interpreter.

Each distribution is a real ``*.dist-info`` on PYTHONPATH (see ``plugin_fixtures``), or a package
pip-installed from a wheel or a folder; importlib.metadata is never mocked.
"""

import importlib.util
import subprocess
import sys

import pytest

from plugin_fixtures import (
    bottleneck_plugin,
    install_clash_plugin,
    plugin_distribution,
    python_env,
    run_python,
    write_contributing_example,
)
from timeouts import HANG_TIMEOUT_S

SCALED_PLUGIN = """
    from keras import ops

    import tfae
    from tfae.bottlenecks import VanillaBottleneck
    from tfae.schedulers import BaseScheduler


    class ScaledBottleneck(VanillaBottleneck):
        def __init__(self, latent_dim, scale=1.0, **kwargs):
            super().__init__(latent_dim, **kwargs)
            self.scale = scale

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}


    class ConstantScheduler(BaseScheduler):
        def __init__(self, constant=1.0, unit="epoch"):
            self.constant = float(constant)
            super().__init__(unit=unit)

        def calc(self, n):
            return ops.full((), self.constant, dtype="float32")

        @property
        def duration(self):
            return 0

        def get_config(self):
            return {"constant": self.constant, **super().get_config()}


    @tfae.hookimpl
    def register_bottlenecks(register):
        register(ScaledBottleneck, name="scaled", aliases=["scaled-dense"])


    @tfae.hookimpl
    def register_schedulers(register):
        register(ConstantScheduler, name="constant")
    """


def test_third_party_components_resolve_like_builtins(tmp_path):
    # Two copies of one distribution on sys.path are one distribution: no conflict, no warning.
    first = plugin_distribution(tmp_path / "first", "scaled", "1.2.3", SCALED_PLUGIN)
    second = plugin_distribution(tmp_path / "second", "scaled", "1.2.3", SCALED_PLUGIN)
    result = run_python(
        """
        import json
        import sys
        import warnings

        from tfae.errors import PluginLoadWarning

        warnings.simplefilter("error", PluginLoadWarning)

        import tfae.bottlenecks
        from tfae import plugins
        from tfae.serialization import component_spec

        # Importing tfae's modules loads no third-party plugin; the registry loads them when first asked.
        loaded_on_import = "scaled_plugin" in sys.modules
        by = {spec: plugins.get_component("bottleneck", spec).__name__
              for spec in ("scaled", "Scaled_Dense", "scaled-dense", "ScaledBottleneck")}
        bottleneck = plugins.resolve("bottleneck", {
            "name": "scaled", "latent_dim": 3, "scale": 2.0,
            "regularizer": {"name": "l2", "beta": {"name": "constant", "constant": 0.5}},
        })
        # A plugin's class comes from the plugin's own module; tfae's modules hold only tfae's classes.
        from scaled_plugin import ScaledBottleneck
        from tfae.bottlenecks import VanillaBottleneck

        try:
            from tfae.bottlenecks import ScaledBottleneck as from_tfae
        except ImportError:
            from_tfae = None

        entry = next(e for e in plugins.list_components("bottleneck") if e.name == "scaled")
        info = next(p for p in plugins.list_plugins() if p.plugin == "scaled")
        spec = component_spec("bottleneck", bottleneck)
        print(json.dumps({
            "by": by,
            "type": type(bottleneck).__name__,
            "scale": bottleneck.scale,
            "latent_dim": bottleneck.latent_dim,
            "regularizer": type(bottleneck.regularizer).__name__,
            "beta": bottleneck.regularizer.scheduler.value_at(3),
            "loaded_on_import": loaded_on_import,
            "subclasses_builtin": issubclass(ScaledBottleneck, VanillaBottleneck),
            "plugin_module": ScaledBottleneck is type(bottleneck),
            "from_tfae": from_tfae is not None or hasattr(tfae.bottlenecks, "ScaledBottleneck"),
            "entry": [entry.distribution, entry.version, entry.plugin, list(entry.aliases)],
            "plugin": [info.distribution, info.version, info.builtin, info.module],
            "builtins": sorted(e.name for e in plugins.list_components("bottleneck") if e.distribution == "tfae"),
            "spec": spec,
            "rebuilt": type(plugins.resolve("bottleneck", spec)).__name__,
        }))
        """,
        paths=[first, second],
    )
    assert set(result["by"].values()) == {"ScaledBottleneck"}
    assert result["type"] == "ScaledBottleneck"
    assert (result["scale"], result["latent_dim"]) == (2.0, 3)
    assert result["regularizer"] == "L2Regularizer"
    assert result["beta"] == 0.5
    assert not result["loaded_on_import"]
    assert result["subclasses_builtin"] and result["plugin_module"]
    assert not result["from_tfae"]
    assert result["entry"] == ["tfae-scaled", "1.2.3", "scaled", ["scaled-dense"]]
    assert result["plugin"] == ["tfae-scaled", "1.2.3", False, "scaled_plugin"]
    assert result["builtins"] == ["bernoulli", "gaussian", "vanilla"]
    assert result["spec"]["name"] == "scaled"
    assert result["spec"]["regularizer"]["beta"] == {"name": "constant", "constant": 0.5, "unit": "epoch"}
    assert result["rebuilt"] == "ScaledBottleneck"


def test_two_distributions_claiming_one_name_is_an_error_naming_both(tmp_path):
    alpha = plugin_distribution(tmp_path, "alpha", "1.0", bottleneck_plugin("AlphaTwin", "twin", ["alpha_only"]))
    # The clash is an alias of one against the name of the other: names and aliases share one namespace.
    beta = plugin_distribution(tmp_path, "beta", "2.0", bottleneck_plugin("BetaTwin", "beta_only", ["twin"]))
    result = run_python(
        """
        import json
        import os
        import warnings

        from tfae import plugins
        from tfae.errors import DuplicateNameError, PluginLoadWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plugins.get_registry()
        try:
            plugins.resolve("bottleneck", "twin")
            error = None
        except DuplicateNameError as exc:
            error = str(exc)
        others = [type(plugins.resolve("bottleneck", name)).__name__
                  for name in ("alpha_only", "beta_only", "AlphaTwin", "BetaTwin")]
        qualified = [type(plugins.resolve("bottleneck", name)).__name__
                     for name in ("tfae-alpha:twin", "tfae-beta:twin", "tfae_alpha:AlphaTwin", "tfae-beta:BetaTwin")]
        gaussian = plugins.get_component("bottleneck", "gaussian").__name__

        os.environ["TFAE_STRICT_PLUGINS"] = "1"
        try:
            plugins.reload_plugins()
            strict = None
        except DuplicateNameError as exc:
            strict = str(exc)
        os.environ["TFAE_PLUGINS"] = "tfae-alpha"
        chosen = plugins.get_component("bottleneck", "twin").__name__
        print(json.dumps({
            "warnings": [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)],
            "error": error, "others": others, "qualified": qualified, "gaussian": gaussian, "strict": strict,
            "chosen": chosen,
        }))
        """,
        paths=[alpha, beta],
    )
    assert len(result["warnings"]) == 1
    for message in (result["warnings"][0], result["error"], result["strict"]):
        assert "'twin'" in message
        assert "tfae-alpha 1.0 (its entry point 'alpha') registers AlphaTwin" in message
        assert "tfae-beta 2.0 (its entry point 'beta') registers BetaTwin" in message
        assert "Name the one you mean as 'tfae-alpha:twin' or 'tfae-beta:twin'" in message
        keep = "list the third-party plugins to keep in TFAE_PLUGINS, such as TFAE_PLUGINS=tfae-alpha (it loads those"
        assert keep in message
    assert "the other names keep working" in result["warnings"][0]
    assert "keep working" not in result["strict"] and "TFAE_STRICT_PLUGINS=1 makes this an error" in result["strict"]
    assert "AlphaTwin" in result["error"] and "BetaTwin" in result["error"]
    assert result["others"] == ["AlphaTwin", "BetaTwin", "AlphaTwin", "BetaTwin"]
    assert result["qualified"] == ["AlphaTwin", "BetaTwin", "AlphaTwin", "BetaTwin"]
    assert result["gaussian"] == "GaussianBottleneck"
    assert result["chosen"] == "AlphaTwin"


def test_a_third_party_never_takes_a_builtin_name_and_stays_reachable_qualified(tmp_path):
    site = install_clash_plugin(tmp_path)
    result = run_python(
        f"""
        import json
        import os
        import warnings

        import numpy as np

        import tfae
        from tfae import plugins
        from tfae.errors import DuplicateNameError, PluginLoadWarning, UnknownNameError
        from tfae.models import Autoencoder
        from tfae.serialization import component_spec

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plugins.get_registry()
        names = ("kld", "KL", "GaussianKLDRegularizer", "tfae:kld", "tfae-clash:kld", "TFAE_Clash:KL",
                 "tfae-clash:ClashKLDRegularizer", "ClashKLDRegularizer")
        by_name = {{name: plugins.get_component("regularizer", name).__name__ for name in names}}
        try:
            plugins.get_component("regularizer", "tfae-clash:kdl")
        except UnknownNameError as exc:
            misspelled = str(exc)

        bottleneck = {{"name": "gaussian", "latent_dim": 2,
                      "regularizer": {{"name": "tfae-clash:kld", "scale": 2.0, "beta": "tfae-clash:steady"}}}}
        model = Autoencoder(bottleneck)
        model(np.zeros((3, 5), "float32"))
        regularizer = model.bottleneck.regularizer
        spec = component_spec("bottleneck", model.bottleneck)
        model.save({str(tmp_path / "clash.keras")!r})
        loaded = tfae.load_model({str(tmp_path / "clash.keras")!r}).bottleneck.regularizer

        os.environ["TFAE_STRICT_PLUGINS"] = "1"
        try:
            plugins.reload_plugins()
            strict = None
        except DuplicateNameError as exc:
            strict = str(exc)
        print(json.dumps({{
            "warnings": [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)],
            "by_name": by_name,
            "misspelled": misspelled,
            "built": [type(regularizer).__name__, type(regularizer.scheduler).__name__],
            "spec": spec["regularizer"],
            "loaded": [type(loaded).__name__, loaded.scale, type(loaded.scheduler).__name__],
            "strict": strict,
        }}))
        """,
        paths=[site],
    )
    (warning,) = result["warnings"]
    assert warning.startswith("tfae-clash 1.0 (its entry point 'clash') registers its regularizer ClashKLDRegularizer")
    assert "under 'kld' and 'kl', which are tfae's own (GaussianKLDRegularizer)" in warning
    assert "name ClashKLDRegularizer as 'tfae-clash:kld' instead" in warning
    builtin, clash = "GaussianKLDRegularizer", "ClashKLDRegularizer"
    assert result["by_name"] == {
        "kld": builtin,
        "KL": builtin,
        "GaussianKLDRegularizer": builtin,
        "tfae:kld": builtin,
        "tfae-clash:kld": clash,
        "TFAE_Clash:KL": clash,
        "tfae-clash:ClashKLDRegularizer": clash,
        "ClashKLDRegularizer": clash,
    }
    unknown = "Unknown regularizer 'tfae-clash:kdl': tfae-clash registers no regularizer named 'kdl'."
    assert unknown in result["misspelled"]
    assert result["built"] == [clash, "SteadyScheduler"]
    # Saved under the qualified name, since the bare one means the built-in; the scheduler's own name is enough.
    assert result["spec"]["name"] == "tfae-clash:kld" and result["spec"]["scale"] == 2.0
    assert result["spec"]["beta"]["name"] == "steady"
    assert result["loaded"] == [clash, 2.0, "SteadyScheduler"]
    assert "tfae-clash 1.0" in result["strict"] and "'tfae-clash:kld'" in result["strict"]
    assert "keep working" not in result["strict"] and "TFAE_STRICT_PLUGINS=1 makes this an error" in result["strict"]


def test_a_plugin_that_fails_is_reported_and_the_rest_keep_working(tmp_path):
    good = plugin_distribution(tmp_path, "good", "1.0", bottleneck_plugin("GoodBottleneck", "good"))
    broken = plugin_distribution(tmp_path, "broken", "0.3", "raise RuntimeError('boom at import')\n")
    halfway_source = (
        bottleneck_plugin("HalfwayBottleneck", "halfway")
        + """
        @tfae.hookimpl
        def register_regularizers(register):
            raise ValueError("half done")
        """
    )
    halfway = plugin_distribution(tmp_path, "halfway", "0.4", halfway_source)
    # The hook's name misses its final "s": pluggy alone would never call it, and say nothing.
    typo_source = bottleneck_plugin("TypoBottleneck", "typo").replace("register_bottlenecks", "register_bottleneck")
    typo = plugin_distribution(tmp_path, "typo", "0.5", typo_source)
    result = run_python(
        """
        import json
        import os
        import warnings

        from tfae import plugins
        from tfae.errors import PluginLoadError, PluginLoadWarning, UnknownNameError

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            registry = plugins.get_registry()
        resolved = [type(plugins.resolve("bottleneck", {"name": name, "latent_dim": 2})).__name__
                    for name in ("good", "gaussian")]
        try:
            plugins.get_component("bottleneck", "halfway")
            unknown = None
        except UnknownNameError as exc:
            unknown = str(exc)
        os.environ["TFAE_STRICT_PLUGINS"] = "1"
        try:
            plugins.reload_plugins()
            strict = None
        except PluginLoadError as exc:
            strict = str(exc)
        print(json.dumps({
            "warnings": [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)],
            "failures": [[f.plugin, f.distribution, f.version, f.error] for f in registry.failures],
            "loaded": [p.plugin for p in registry.plugins if not p.builtin],
            "resolved": resolved,
            "unknown": unknown,
            "strict": strict,
        }))
        """,
        paths=[good, broken, halfway, typo],
    )
    assert result["failures"] == [
        ["broken", "tfae-broken", "0.3", "RuntimeError: boom at import"],
        ["halfway", "tfae-halfway", "0.4", "ValueError: half done"],
    ]
    broken_warning, halfway_warning, typo_warning = result["warnings"]
    assert "'broken'" in broken_warning and "tfae-broken 0.3" in broken_warning
    assert "RuntimeError: boom at import" in broken_warning and "TFAE_STRICT_PLUGINS" in broken_warning
    assert (
        "leave it out by listing the third-party plugins to keep in TFAE_PLUGINS=name,name (it loads those it "
        "lists and leaves out the others)"
    ) in broken_warning
    assert "'halfway'" in halfway_warning and "tfae-halfway 0.4" in halfway_warning and "half done" in halfway_warning
    assert "'register_bottleneck'" in typo_warning and "Did you mean 'register_bottlenecks'?" in typo_warning
    assert result["loaded"] == ["good", "typo"]
    assert result["resolved"] == ["GoodBottleneck", "GaussianBottleneck"]
    # A hook that raised registers nothing, not even what its other hooks registered before.
    assert "Unknown bottleneck 'halfway'" in result["unknown"]
    assert "failed to load: broken, halfway" in result["unknown"]
    assert "'broken'" in result["strict"] and "tfae-broken 0.3" in result["strict"]
    assert "RuntimeError: boom at import" in result["strict"]
    assert "keep working" not in result["strict"] and "TFAE_STRICT_PLUGINS=1 makes this an error" in result["strict"]


def test_environment_variables_choose_the_third_party_plugins(tmp_path):
    alpha = plugin_distribution(tmp_path, "alpha", "1.0", bottleneck_plugin("AlphaBottleneck", "alpha_only"))
    gamma = plugin_distribution(tmp_path, "gamma", "3.0", bottleneck_plugin("GammaBottleneck", "gamma_only"))
    result = run_python(
        """
        import json
        import os
        import warnings

        from tfae import plugins
        from tfae.errors import PluginLoadWarning, UnknownNameError

        BUILTINS = {"vanilla", "gaussian", "bernoulli"}


        def state():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                registry = plugins.reload_plugins()
            names = {entry.name for entry in registry.entries("bottleneck")}
            return {
                "third_party": sorted(names - BUILTINS),
                "builtins": sorted(names & BUILTINS),
                "skipped": [info.plugin for info in registry.skipped],
                "warnings": [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)],
            }


        phases = {"default": state()}
        os.environ["TFAE_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        phases["disabled"] = state()
        try:
            plugins.get_component("bottleneck", "gamma_only")
        except UnknownNameError as exc:
            phases["disabled_message"] = str(exc)
        os.environ["TFAE_PLUGINS"] = "gamma"
        phases["disabled_but_named"] = state()
        del os.environ["TFAE_DISABLE_PLUGIN_AUTOLOAD"]
        os.environ["TFAE_PLUGINS"] = "alpha"
        phases["alpha"] = state()
        os.environ["TFAE_PLUGINS"] = "TFAE_Gamma"
        phases["by_distribution"] = state()
        os.environ["TFAE_PLUGINS"] = "alpha, nonexistent"
        phases["misspelled"] = state()
        print(json.dumps(phases))
        """,
        paths=[alpha, gamma],
    )
    everything = ["bernoulli", "gaussian", "vanilla"]
    assert result["default"] == {
        "third_party": ["alpha_only", "gamma_only"],
        "builtins": everything,
        "skipped": [],
        "warnings": [],
    }
    assert result["disabled"] == {
        "third_party": [],
        "builtins": everything,
        "skipped": ["alpha", "gamma"],
        "warnings": [],
    }
    assert "installed but not loaded" in result["disabled_message"]
    assert result["disabled_but_named"]["third_party"] == ["gamma_only"]
    assert result["alpha"]["third_party"] == ["alpha_only"] and result["alpha"]["skipped"] == ["gamma"]
    assert result["alpha"]["builtins"] == everything
    assert result["by_distribution"]["third_party"] == ["gamma_only"]
    assert result["misspelled"]["third_party"] == ["alpha_only"]
    (warning,) = result["misspelled"]["warnings"]
    assert "TFAE_PLUGINS names 'nonexistent'" in warning


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="an offline build needs setuptools")
def test_the_plugin_package_in_contributing_installs_resolves_and_passes_its_tests(tmp_path):
    project = tmp_path / "tfae-noisy"
    written = write_contributing_example(project)
    assert {"pyproject.toml", "src/tfae_noisy/plugin.py", "tests/test_plugin.py"} <= set(written)
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(project),
        ],
        check=True,
        capture_output=True,
        env=python_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
        timeout=HANG_TIMEOUT_S,
    )
    result = run_python(
        f"""
        import contextlib
        import io
        import json
        import runpy

        import numpy as np

        import tfae.bottlenecks
        from tfae import cli, plugins
        from tfae.models import Autoencoder
        from tfae_noisy.plugin import NoisyBottleneck

        listing = io.StringIO()
        with contextlib.redirect_stdout(listing):
            cli.main(["plugins"])
        model = Autoencoder({{"name": "noisy", "latent_dim": 2, "stddev": 0.2, "regularizer": "l2"}})
        outputs = model(np.zeros((3, 5), "float32"))
        try:
            from tfae.bottlenecks import NoisyBottleneck as from_tfae
        except ImportError:
            from_tfae = None
        tests = runpy.run_path({str(project / "tests" / "test_plugin.py")!r})
        passed = []
        for name, test in tests.items():
            if name.startswith("test_"):
                test()
                passed.append(name)
        print(json.dumps({{
            "listing": listing.getvalue(),
            "class": type(model.bottleneck).__name__,
            "by_name": plugins.get_component("bottleneck", "noisy") is NoisyBottleneck is type(model.bottleneck),
            "from_tfae": from_tfae is not None or hasattr(tfae.bottlenecks, "NoisyBottleneck"),
            "shape": list(outputs.shape),
            "passed": passed,
        }}))
        """,
        paths=[site],
    )
    row = next(line.split() for line in result["listing"].splitlines() if line.split()[:1] == ["noisy"])
    assert row == ["noisy", "denoising", "NoisyBottleneck", "tfae-noisy", "0.1.0"]
    assert result["class"] == "NoisyBottleneck"
    assert result["by_name"] and not result["from_tfae"]
    assert result["shape"] == [3, 5]
    assert result["passed"] == ["test_resolves_by_name", "test_config_round_trip"]
