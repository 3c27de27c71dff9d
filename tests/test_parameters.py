"""One check of a component's parameters: the same message from Python and from a config file, where the
file and the line of the key come first."""

from typing import Literal

import pytest

from tfae.errors import ConfigError, ParameterError, TfaeError
from tfae.models import Autoencoder
from tfae.parameters import check_parameters, constructor_parameters
from tfae.plugins import get_registry, resolve
from tfae.registry import Registry
from tfae.training.config import load_config


def python_message(bottleneck):
    with pytest.raises(ParameterError) as caught:
        Autoencoder(bottleneck=bottleneck)
    return str(caught.value)


def config_message(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return path, str(caught.value)


def test_an_unknown_parameter_reads_the_same_in_python_and_in_a_config(tmp_path):
    message = python_message({"name": "gaussian", "latent_dim": 2, "colour": 1})
    assert message.startswith("The bottleneck 'gaussian' (GaussianBottleneck from tfae ")
    # The component's own parameters, not Keras' (trainable, dtype, ...) nor the former name kernel_regularizer.
    assert message.endswith(") has no parameter 'colour'. It takes: latent_dim, regularizer, seed, prior.")
    assert "\n" not in message
    path, from_config = config_message(tmp_path, '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\ncolour = 1\n')
    assert from_config == f"{path} line 4: {message}"


def test_a_near_miss_is_suggested(tmp_path):
    message = python_message({"name": "gaussian", "latnt_dim": 2})
    assert "has no parameter 'latnt_dim'. Did you mean 'latent_dim'? It takes: latent_dim," in message
    text = '[model]\nlayout = "dense"\n\n[model.bottleneck]\nname = "gaussian"\nlatnt_dim = 2\n'
    path, from_config = config_message(tmp_path, text)
    assert from_config == f"{path} line 6: {message}"


def test_a_missing_parameter_reads_the_same_and_points_at_the_table(tmp_path):
    message = python_message({"name": "gaussian"})
    assert message.endswith(
        ") needs latent_dim: give it as a dict (a table in a config file) such as "
        "{'name': 'gaussian', 'latent_dim': ...}."
    )
    path, from_config = config_message(tmp_path, '[training]\nepochs = 2\n\n[model.bottleneck]\nname = "gaussian"\n')
    assert from_config == f"{path} line 4: {message}"
    # A bare name is the same spec without parameters.
    assert python_message("gaussian") == message
    path, from_config = config_message(tmp_path, '[model]\nhidden = [8]\nbottleneck = "gaussian"\n')
    assert from_config == f"{path} line 3: {message}"


def test_a_wrongly_typed_value_reads_the_same_in_python_and_in_a_config(tmp_path):
    message = python_message({"name": "gaussian", "latent_dim": "two"})
    assert message.startswith("The bottleneck 'gaussian' (GaussianBottleneck from tfae ")
    assert message.endswith(") takes an integer for 'latent_dim', not the string 'two'.")
    path, from_config = config_message(tmp_path, '[model.bottleneck]\nname = "gaussian"\n\nlatent_dim = "two"\n')
    assert from_config == f"{path} line 4: {message}"


def test_an_inline_table_points_at_its_line(tmp_path):
    message = python_message({"name": "bernoulli", "latent_dim": 2, "temperature": "hot"})
    assert message.endswith(") takes a number for 'temperature', not the string 'hot'.")
    text = '[model]\nhidden = [8]\nbottleneck = {name = "bernoulli", latent_dim = 2, temperature = "hot"}\n'
    path, from_config = config_message(tmp_path, text)
    assert from_config == f"{path} line 3: {message}"


def test_a_nested_schedule_reads_the_same_in_python_and_in_a_config(tmp_path):
    schedule = {"name": "dasr", "attack": "five"}
    spec = {"name": "gaussian", "latent_dim": 2, "regularizer": {"name": "kld", "beta": schedule}}
    message = python_message(spec)
    assert message.startswith("The scheduler 'dasr' (DASRScheduler from tfae ")
    assert message.endswith(") takes an integer for 'attack', not the string 'five'.")
    text = (
        '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\n[model.bottleneck.regularizer]\nname = "kld"\n'
        '[model.bottleneck.regularizer.beta]\nname = "dasr"\nattack = "five"\n'
    )
    path, from_config = config_message(tmp_path, text)
    assert from_config == f"{path} line 8: {message}"


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        ("likelihood", {"name": "gaussian", "variance": "learned"}),
        ("likelihood", {"name": "gaussian", "variance": 2}),
        ("regularizer", {"name": "kld", "beta": "dasr"}),
        ("regularizer", {"name": "kld", "beta": {"name": "dasr", "attack": 3}}),
        ("regularizer", {"name": "kld", "beta": 0.5}),
        ("bottleneck", {"name": "gaussian", "latent_dim": 2, "regularizer": "kld", "seed": 3}),
        ("bottleneck", {"name": "vanilla", "latent_dim": 2, "activation": "relu", "dtype": "float32"}),
        ("bottleneck", {"name": "bernoulli", "latent_dim": 2, "temperature": 1, "straight_through": True}),
        ("scheduler", {"name": "dasr", "start_value": 1, "shape": "cosine", "unit": "step"}),
    ],
)
def test_what_the_built_in_constructors_take_passes(kind, spec):
    params = {key: value for key, value in spec.items() if key != "name"}
    check_parameters(get_registry().get(kind, spec["name"]), params)
    assert resolve(kind, spec) is not None


def test_the_error_is_a_tfae_error_and_a_value_error_naming_the_parameter():
    with pytest.raises(ParameterError) as caught:
        resolve("bottleneck", {"name": "gaussian", "latent_dim": 2, "colour": 1})
    assert isinstance(caught.value, TfaeError) and isinstance(caught.value, ValueError)
    assert caught.value.parameter == "colour"
    with pytest.raises(ParameterError) as caught:
        resolve("bottleneck", "vanilla")
    assert caught.value.parameter is None


class Annotated:
    def __init__(self, size: int, mode: Literal["fast", "exact"] = "fast", scale: float | str = 1.0, note=None):
        self.size, self.mode, self.scale = size, mode, scale


class Unannotated:
    def __init__(self, rate=0.1, flag=False, anything=None):
        self.rate = rate


class Keyworded:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


def entry_for(component, kind="scheduler"):
    registry = Registry()
    return registry.register(kind, component, "thing", plugin="test_parameters")


def message_for(entry, params):
    with pytest.raises(ParameterError) as caught:
        check_parameters(entry, params)
    return str(caught.value)


def test_annotations_say_what_a_parameter_takes():
    entry = entry_for(Annotated)
    check_parameters(entry, {"size": 3, "mode": "exact", "scale": "auto", "note": [1]})
    check_parameters(entry, {"size": 3.0, "scale": 2})  # numbers take each other; the constructor judges 3.0
    described = "The scheduler 'thing' (Annotated from plugin 'test_parameters' registered at run time)"
    assert message_for(entry, {"size": "3"}) == f"{described} takes an integer for 'size', not the string '3'."
    assert message_for(entry, {"size": 3, "mode": "quick"}) == (
        f"{described} takes 'fast' or 'exact' for 'mode', not the string 'quick'."
    )
    assert message_for(entry, {"size": 3, "scale": {"a": 1}}) == (
        f"{described} takes a number or a string for 'scale', not the dict {{'a': 1}}."
    )


def test_a_number_or_boolean_default_takes_no_list_or_dict_and_any_string():
    entry = entry_for(Unannotated)
    check_parameters(entry, {"rate": "adaptive", "flag": "yes", "anything": {"a": [1]}})
    assert message_for(entry, {"rate": [0.1, 0.2]}).endswith("takes a number for 'rate', not the list [0.1, 0.2].")
    assert message_for(entry, {"flag": {}}).endswith("takes a boolean for 'flag', not the dict {}.")
    assert message_for(entry, {"rat": 1}).endswith(
        "has no parameter 'rat'. Did you mean 'rate'? It takes: rate, flag, anything."
    )


def test_a_constructor_with_keyword_arguments_takes_any_keyword():
    check_parameters(entry_for(Keyworded), {"colour": 1, "size": "any"})
    assert constructor_parameters(Keyworded) == ({}, [], True, ())


def test_the_bottleneck_contract_types_latent_dim_when_a_plugin_does_not():
    class Plain:
        def __init__(self, latent_dim, **kwargs):
            self.latent_dim = latent_dim

    check_parameters(entry_for(Plain, "bottleneck"), {"latent_dim": 4})
    assert message_for(entry_for(Plain, "bottleneck"), {"latent_dim": "4"}).endswith(
        "takes an integer for 'latent_dim', not the string '4'."
    )


def test_constructor_parameters_follow_a_layers_keyword_arguments():
    from tfae.plugins import get_component

    accepted, required, any_keyword, own = constructor_parameters(get_component("bottleneck", "gaussian"))
    assert list(accepted)[:3] == ["latent_dim", "regularizer", "seed"]
    assert {"kernel_regularizer", "trainable", "dtype", "autocast"} <= set(accepted)
    assert "kernel_regularizer" in own and not {"trainable", "dtype", "autocast"} & set(own)
    assert "name" not in accepted
    assert required == ["latent_dim"] and not any_keyword
