"""The registry: lookup, resolution, error messages, conflicts and run-time plugins."""

import importlib
import types
from pathlib import Path

import pytest

import tfae
import tfae.bottlenecks
from tfae import plugins
from tfae.errors import DuplicateNameError, ParameterError, UnknownNameError
from tfae.registry import Registry
from tfae.serialization import component_spec


class Dense:
    def __init__(self, units=1):
        self.units = units


class Sparse:
    def __init__(self, units, density=0.5):
        self.units, self.density = units, density


def make_plugin(name, **hooks):
    """A plugin module whose hooks register ``{kind_plural: [(component, name, aliases), ...]}``."""
    module = types.ModuleType(name)
    for hook_name, registrations in hooks.items():

        def hook(register, registrations=registrations):
            for component, component_name, aliases in registrations:
                register(component, name=component_name, aliases=aliases)

        hook.__name__ = hook_name
        setattr(module, hook_name, tfae.hookimpl(hook))
    return module


@pytest.fixture
def runtime_plugins():
    """Registers run-time plugins for one test, and always unregisters them."""
    names = []

    def register(plugin):
        names.append(plugins.register_plugin(plugin))
        return names[-1]

    yield register
    for name in names:
        if plugins.get_registry().manager.has_plugin(name):
            plugins.unregister_plugin(name)


def test_names_aliases_and_class_names_match_loosely():
    registry = Registry()
    registry.register("bottleneck", Dense, "dense-net", aliases=["fully_connected"], plugin="p", distribution="d")
    for spelling in ("dense-net", "Dense_Net", " DENSE-NET ", "fully-connected", "Dense", "dense"):
        assert registry.get("bottleneck", spelling).component is Dense
    assert registry.names("bottleneck") == ["dense-net"]
    with pytest.raises(UnknownNameError):
        registry.get("regularizer", "dense-net")


def test_an_explicit_name_wins_over_a_class_name():
    registry = Registry()
    registry.register("bottleneck", Dense, "plain", plugin="a")
    registry.register("bottleneck", Sparse, "dense", plugin="b")
    assert registry.get("bottleneck", "Dense").component is Sparse
    assert registry.get("bottleneck", "plain").component is Dense


def test_one_class_name_on_two_classes_is_ambiguous_only_by_class_name():
    other_dense = type("Dense", (), {})
    registry = Registry()
    registry.register("bottleneck", Dense, "first", plugin="a", distribution="dist-a", version="1")
    registry.register("bottleneck", other_dense, "second", plugin="b", distribution="dist-b", version="2")
    assert registry.get("bottleneck", "first").component is Dense
    assert registry.get("bottleneck", "second").component is other_dense
    with pytest.raises(DuplicateNameError, match="dist-a 1.*dist-b 2.*Name the one you mean as 'dist-a:Dense' or"):
        registry.get("bottleneck", "Dense")
    assert registry.get("bottleneck", "dist-b:Dense").component is other_dense
    assert registry.conflicts() == []


def test_a_builtin_keeps_its_names_and_the_clashing_component_is_reachable_qualified():
    registry = Registry()
    registry.register("regularizer", Dense, "kld", aliases=["kl"], plugin="kld", distribution="tfae", builtin=True)
    registry.register(
        "regularizer",
        Sparse,
        "kld",
        aliases=["kl", "sparse_kl"],
        plugin="clash",
        distribution="tfae-clash",
        version="1.0",
    )
    # A name that only a built-in's class has is the built-in's too.
    other = type("Other", (), {})
    registry.register("regularizer", other, "Dense", plugin="other", distribution="tfae-other", version="2.0")
    for name in ("kld", "KL", "Dense", "tfae:kld", "TFAE:kl"):
        assert registry.get("regularizer", name).component is Dense
    for name in ("tfae-clash:kld", "TFAE_Clash:KL", "tfae.clash:Sparse", "sparse_kl"):
        assert registry.get("regularizer", name).component is Sparse
    # The entry found carries the name that finds it again.
    assert registry.get("regularizer", "sparse_kl").name == "tfae-clash:kld"
    assert registry.get("regularizer", "tfae:kl").name == "kld"
    assert registry.get("regularizer", "Other").name == "tfae-other:Dense"
    assert registry.get("regularizer", "tfae-other:dense").component is other

    clashes = {conflict.name: conflict for conflict in registry.conflicts()}
    assert set(clashes) == {"kld", "kl", "Dense"}
    assert all(conflict.builtin.component is Dense for conflict in clashes.values())
    assert clashes["kld"].message() == (
        "The regularizer name 'kld' is registered more than once: tfae (its entry point 'kld') registers Dense; "
        "tfae-clash 1.0 (its entry point 'clash') registers Sparse. 'kld' is tfae's own name, so it keeps meaning "
        "tfae's Dense; name the other as 'tfae-clash:kld', or ask tfae-clash to rename it."
    )


def test_qualified_names_say_what_is_wrong():
    registry = Registry()
    registry.register("bottleneck", Dense, "dense", aliases=["fully_connected"], plugin="p", distribution="tfae-nets")
    with pytest.raises(UnknownNameError) as error:
        registry.get("bottleneck", "tfae-net:dense")
    assert str(error.value) == (
        "Unknown bottleneck 'tfae-net:dense': no loaded plugin distribution named 'tfae-net' registers a bottleneck. "
        "A qualified name is 'distribution:name'; the distributions with bottlenecks: tfae-nets "
        "(`tfae plugins` lists them)."
    )
    with pytest.raises(UnknownNameError) as error:
        registry.get("bottleneck", "tfae-nets:fully_conected")
    assert str(error.value) == (
        "Unknown bottleneck 'tfae-nets:fully_conected': tfae-nets registers no bottleneck named 'fully_conected'. "
        "Did you mean 'tfae-nets:fully_connected'? Its bottlenecks: dense."
    )
    for name in (":", "tfae-nets:", ":dense", "a:b:c"):
        with pytest.raises(UnknownNameError):
            registry.get("bottleneck", name)
    with pytest.raises(ValueError, match=r"may not contain ':', which separates a distribution from a name"):
        registry.register("bottleneck", Sparse, "tfae-nets:sparse")


def test_the_same_component_registered_twice_is_no_conflict():
    registry = Registry()
    registry.register("bottleneck", Dense, "dense", aliases=["fc"], plugin="a")
    registry.register("bottleneck", Dense, "dense", aliases=["fc"], plugin="a")
    assert registry.get("bottleneck", "fc").component is Dense
    assert registry.conflicts() == [] and len(registry.entries("bottleneck")) == 1


def test_registration_checks_its_arguments():
    registry = Registry()
    with pytest.raises(ValueError, match="Unknown component kind 'optimizer'. Expected one of: bottleneck, "):
        registry.register("optimizer", Dense, "dense")
    with pytest.raises(ValueError, match="non-empty string name. Received: name=''"):
        registry.register("bottleneck", Dense, "")
    with pytest.raises(ValueError, match=r"`aliases` must be a list of non-empty strings. Received: aliases='fc'"):
        registry.register("bottleneck", Dense, "dense", aliases="fc")
    with pytest.raises(ValueError, match="must be a class or a factory. Received: 3"):
        registry.register("bottleneck", 3, "three")


def test_builtins_are_tfaes_own_entry_points():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["tfae"]
    builtins = {info.plugin: info.module for info in plugins.list_plugins() if info.builtin}
    assert builtins == declared
    assert all(info.distribution == "tfae" for info in plugins.list_plugins() if info.builtin)
    names = {(entry.kind, entry.name) for entry in plugins.list_components() if entry.distribution == "tfae"}
    assert {
        ("bottleneck", "vanilla"),
        ("bottleneck", "gaussian"),
        ("bottleneck", "bernoulli"),
        ("regularizer", "kld"),
        ("regularizer", "reversed_kld"),
        ("regularizer", "l2"),
        ("scheduler", "dasr"),
        ("likelihood", "bernoulli"),
        ("likelihood", "gaussian"),
    } <= names


def test_seed_import_paths_reach_registered_classes():
    from tfae.bottlenecks import GaussianBottleneck, VariationalBottleneck
    from tfae.regularizers import GaussianKLDRegularizer
    from tfae.schedulers import DASRScheduler

    assert GaussianBottleneck is plugins.get_component("bottleneck", "gaussian")
    assert issubclass(GaussianBottleneck, VariationalBottleneck)
    assert GaussianKLDRegularizer is plugins.get_component("regularizer", "kld")
    assert DASRScheduler is plugins.get_component("scheduler", "cyclical")
    with pytest.raises(AttributeError, match="has no attribute 'GausianBottleneck'"):
        tfae.bottlenecks.GausianBottleneck


@pytest.mark.parametrize(
    "module, names",
    [
        (
            "bottlenecks",
            [
                "BaseBottleneck",
                "VariationalBottleneck",
                "VanillaBottleneck",
                "GaussianBottleneck",
                "BernoulliBottleneck",
            ],
        ),
        (
            "regularizers",
            [
                "BaseRegularizer",
                "GaussianKLDRegularizer",
                "GaussianReversedKLDRegularizer",
                "BernoulliKLDRegularizer",
                "L2Regularizer",
            ],
        ),
        ("schedulers", ["BaseScheduler", "DASRScheduler"]),
        ("likelihoods", ["BaseLikelihood", "BernoulliLikelihood", "GaussianLikelihood"]),
        ("models", ["Autoencoder", "DeepAutoencoder", "LayoutAutoencoder", "load_model"]),
    ],
)
def test_public_modules_list_their_classes_statically(module, names):
    imported = importlib.import_module(f"tfae.{module}")
    assert set(names) <= set(dir(imported)) and set(names) <= set(imported.__all__)
    for name in names:
        component = getattr(imported, name)
        # Defined in the kind's own package, beside its contract, not found through the registry.
        assert component.__module__.startswith(f"tfae.{module}."), component.__module__


def test_an_unknown_name_lists_suggests_and_points_at_plugins():
    with pytest.raises(UnknownNameError) as error:
        plugins.resolve("bottleneck", "gausian")
    message = str(error.value)
    assert "Unknown bottleneck 'gausian'. Did you mean 'gaussian'?" in message
    assert "Available bottlenecks: bernoulli, gaussian, vanilla" in message
    assert "install the package that provides it" in message and "tfae plugins" in message
    with pytest.raises(UnknownNameError, match="Did you mean 'GaussianKLDRegularizer'") as error:
        plugins.get_component("regularizer", "GaussianKLRegularizer")
    with pytest.raises(UnknownNameError, match="'dasr' is registered as a scheduler, not as a regularizer"):
        plugins.resolve("regularizer", {"name": "dasr"})
    with pytest.raises(ValueError, match="Unknown component kind 'bottlenecks'"):
        plugins.resolve("bottlenecks", "gaussian")


def test_nested_dicts_resolve_the_whole_chain():
    bottleneck = plugins.resolve(
        "bottleneck",
        {"name": "gaussian", "latent_dim": 3, "regularizer": {"name": "kld", "beta": {"name": "dasr", "attack": 4}}},
    )
    assert type(bottleneck).__name__ == "GaussianBottleneck" and bottleneck.latent_dim == 3
    assert type(bottleneck.regularizer).__name__ == "GaussianKLDRegularizer"
    scheduler = bottleneck.regularizer.scheduler
    assert type(scheduler).__name__ == "DASRScheduler" and scheduler.attack == 4
    assert [scheduler.value_at(n) for n in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert plugins.resolve("bottleneck", bottleneck) is bottleneck
    assert plugins.resolve("bottleneck", None) is None


def test_a_spec_round_trips_through_component_spec():
    regularizer = plugins.resolve("regularizer", {"name": "kl", "beta": {"name": "annealing", "delay": 2, "attack": 3}})
    spec = component_spec("regularizer", regularizer)
    assert spec["name"] == "kld" and spec["beta"]["name"] == "dasr" and spec["beta"]["delay"] == 2
    assert component_spec("regularizer", plugins.resolve("regularizer", spec)) == spec
    with pytest.raises(ValueError, match="Cannot serialize Dense: it is not registered as a tfae regularizer"):
        component_spec("regularizer", Dense())


def test_bad_dicts_say_what_is_wrong():
    with pytest.raises(ValueError) as error:
        plugins.resolve("bottleneck", {"latent_dim": 3})
    assert str(error.value) == (
        "A bottleneck given as a dict needs a 'name' key naming a registered bottleneck "
        "(one of: bernoulli, gaussian, vanilla). Received keys: ['latent_dim']"
    )
    with pytest.raises(ValueError, match=r"The 'name' of a bottleneck must be a string. Received: name=3"):
        plugins.resolve("bottleneck", {"name": 3})
    with pytest.raises(ValueError) as error:
        plugins.resolve("bottleneck", {"name": "gaussian", "latnt_dim": 3})
    assert "The bottleneck 'gaussian' (GaussianBottleneck from tfae " in str(error.value)
    assert "no parameter 'latnt_dim'. Did you mean 'latent_dim'? It takes: latent_dim," in str(error.value)
    with pytest.raises(ParameterError, match=r"The scheduler 'dasr' .* has no parameter 'colour'\. It takes: "):
        plugins.resolve("scheduler", {"name": "dasr", "colour": "red"})
    needs = r"needs latent_dim: give it as a dict \(a table in a config file\) such as \{'name': 'gaussian', "
    with pytest.raises(ParameterError, match=needs):
        plugins.resolve("bottleneck", "gaussian")
    # A layer takes Keras' own keyword arguments too (trainable, dtype, ...): the check knows them, rather than
    # leave Keras to say "Unrecognized keyword arguments", but lists only the component's own.
    plugins.resolve("bottleneck", {"name": "gaussian", "latent_dim": 2, "dtype": "float32", "trainable": True})
    with pytest.raises(ParameterError) as error:
        plugins.resolve("bottleneck", {"name": "gaussian", "latent_dim": 2, "colour": "red"})
    assert str(error.value).endswith("has no parameter 'colour'. It takes: latent_dim, regularizer, seed, prior.")
    with pytest.raises(ParameterError, match=r"takes an integer for 'latent_dim', not the string 'two'\.$"):
        plugins.resolve("bottleneck", {"name": "gaussian", "latent_dim": "two"})


def test_run_time_plugin_registers_lists_and_unregisters(runtime_plugins):
    name = runtime_plugins(make_plugin("my_plugin", register_bottlenecks=[(Dense, "dense_test", ["dt"])]))
    assert name == "my_plugin"
    assert type(plugins.resolve("bottleneck", {"name": "dt", "units": 4})) is Dense
    (entry,) = [entry for entry in plugins.list_components("bottleneck") if entry.name == "dense_test"]
    assert (entry.plugin, entry.distribution) == ("my_plugin", "")
    assert entry.provider == "plugin 'my_plugin' registered at run time"
    assert any(info.plugin == "my_plugin" and not info.builtin for info in plugins.list_plugins())

    plugins.unregister_plugin(name)
    with pytest.raises(UnknownNameError):
        plugins.get_component("bottleneck", "dense_test")
    assert all(info.plugin != "my_plugin" for info in plugins.list_plugins())
    with pytest.raises(ValueError, match="No tfae plugin is registered as 'my_plugin'"):
        plugins.unregister_plugin(name)


def test_a_run_time_plugin_that_takes_a_name_registers_nothing(runtime_plugins):
    registrations = [(Dense, "greedy_dense", []), (Sparse, "gaussian_two", ["normal"])]
    plugin = make_plugin("greedy", register_bottlenecks=registrations)
    with pytest.raises(DuplicateNameError) as error:
        runtime_plugins(plugin)
    message = str(error.value)
    assert "The bottleneck name 'normal' is registered more than once" in message
    assert f"tfae {tfae.__version__} (its entry point 'gaussian') registers GaussianBottleneck" in message
    assert "plugin 'greedy' (registered at run time) registers Sparse" in message
    assert "so plugin 'greedy' registered nothing: give its bottleneck another name" in message
    with pytest.raises(UnknownNameError):
        plugins.get_component("bottleneck", "greedy_dense")
    assert plugins.get_component("bottleneck", "normal").__name__ == "GaussianBottleneck"
    assert not plugins.get_registry().manager.has_plugin("greedy")


def test_a_run_time_plugin_whose_hook_raises_registers_nothing(runtime_plugins):
    plugin = make_plugin("flaky", register_bottlenecks=[(Dense, "flaky_dense", [])])

    @tfae.hookimpl
    def register_regularizers(register):
        raise RuntimeError("no regularizers today")

    plugin.register_regularizers = register_regularizers
    with pytest.raises(RuntimeError, match="no regularizers today"):
        runtime_plugins(plugin)
    with pytest.raises(UnknownNameError):
        plugins.get_component("bottleneck", "flaky_dense")
    assert not plugins.get_registry().manager.has_plugin("flaky")


def test_two_run_time_plugins_may_share_a_class_name(runtime_plugins):
    sparse, other_sparse = Sparse, type("Sparse", (), {})
    runtime_plugins(make_plugin("one", register_bottlenecks=[(sparse, "sparse_one", [])]))
    runtime_plugins(make_plugin("two", register_bottlenecks=[(other_sparse, "sparse_two", [])]))
    assert plugins.get_component("bottleneck", "sparse_one") is sparse
    assert plugins.get_component("bottleneck", "sparse_two") is other_sparse
    # A run-time plugin's own name qualifies its components' names.
    assert plugins.get_component("bottleneck", "two:Sparse") is other_sparse
    with pytest.raises(DuplicateNameError, match="'Sparse' is registered more than once"):
        plugins.get_component("bottleneck", "Sparse")
