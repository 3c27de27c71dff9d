"""tfae.testing: every built-in passes the checks a plugin author runs, and the checks catch broken components."""

import keras
import pytest
from keras import ops

import tfae
from tfae import plugins, testing
from tfae.bottlenecks import BaseBottleneck, VanillaBottleneck
from tfae.regularizers import BaseRegularizer
from tfae.schedulers import DASRScheduler

pytestmark = pytest.mark.backend_neutral

# How each built-in is checked: a factory, and the check's other arguments. A new built-in needs a line here.
BUILTINS = {
    ("bottleneck", "vanilla"): (lambda: VanillaBottleneck(latent_dim=3, regularizer="l2"), {}),
    ("bottleneck", "gaussian"): (lambda: builtin("bottleneck", "gaussian")(3, regularizer="kld", seed=1), {}),
    ("bottleneck", "bernoulli"): (
        lambda: builtin("bottleneck", "bernoulli")(3, straight_through=True, regularizer="bernoulli_kld", seed=1),
        {"input_shape": (8, 4, 4, 1)},
    ),
    ("regularizer", "kld"): (lambda: builtin("regularizer", "kld")(beta=0.5), {}),
    ("regularizer", "reversed_kld"): (lambda: builtin("regularizer", "reversed_kld")(), {}),
    ("regularizer", "bernoulli_kld"): (lambda: builtin("regularizer", "bernoulli_kld")(), {"bottleneck": "bernoulli"}),
    ("regularizer", "l2"): (lambda: builtin("regularizer", "l2")(beta=0.1), {}),
    ("scheduler", "dasr"): (lambda: DASRScheduler(0.0, 1.0, delay=1, attack=2, sustain=1, release=2), {}),
    ("likelihood", "bernoulli"): (lambda: builtin("likelihood", "bernoulli")(), {}),
    ("likelihood", "gaussian"): (lambda: builtin("likelihood", "gaussian")(variance="learned"), {}),
}

CHECKS = {
    "bottleneck": testing.check_bottleneck,
    "regularizer": testing.check_regularizer,
    "scheduler": testing.check_scheduler,
    "likelihood": testing.check_likelihood,
}


def builtin(kind, name):
    return plugins.get_component(kind, name)


def test_every_builtin_has_a_contract_check():
    registered = {(entry.kind, entry.name) for entry in plugins.list_components() if entry.distribution == "tfae"}
    assert registered == set(BUILTINS)


@pytest.mark.parametrize("kind, name", sorted(BUILTINS), ids=[f"{kind}-{name}" for kind, name in sorted(BUILTINS)])
def test_builtin_passes_the_contract_checks(kind, name):
    factory, arguments = BUILTINS[kind, name]
    CHECKS[kind](factory, **arguments)


class WrongShapeBottleneck(BaseBottleneck):
    def call(self, inputs, training=None):
        return self.flatten(inputs)


class FrozenBottleneck(VanillaBottleneck):
    def call(self, inputs, training=None):
        return ops.stop_gradient(super().call(inputs, training=training))


class ForgetfulBottleneck(VanillaBottleneck):
    """Takes ``scale`` but leaves it out of its config."""

    def __init__(self, latent_dim, scale=1.0, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.scale = scale

    def call(self, inputs, training=None):
        return self.scale * super().call(inputs, training=training)


class PerFeatureRegularizer(BaseRegularizer):
    def calc(self, code):
        return ops.square(code)


class RestlessScheduler(DASRScheduler):
    """Keeps rising after its duration."""

    def calc(self, n):
        return ops.cast(ops.convert_to_tensor(n), "float32")


class BrokenComponents:
    @tfae.hookimpl
    def register_bottlenecks(register):
        register(WrongShapeBottleneck, name="wrong_shape")
        register(FrozenBottleneck, name="frozen")
        register(ForgetfulBottleneck, name="forgetful")

    @tfae.hookimpl
    def register_regularizers(register):
        register(PerFeatureRegularizer, name="per_feature")

    @tfae.hookimpl
    def register_schedulers(register):
        register(RestlessScheduler, name="restless")


@pytest.fixture
def broken_components():
    name = plugins.register_plugin(BrokenComponents, name="broken-components")
    yield
    plugins.unregister_plugin(name)


@pytest.mark.usefixtures("broken_components")
@pytest.mark.parametrize(
    "check, factory, message",
    [
        (testing.check_bottleneck, lambda: WrongShapeBottleneck(3), r"code has shape \(8, 6\), expected \(8, 3\)"),
        (testing.check_bottleneck, lambda: FrozenBottleneck(3), "no gradient reaches|zero gradient"),
        (
            testing.check_bottleneck,
            lambda: ForgetfulBottleneck(3, scale=2.0),
            r"from_config\(get_config\(\)\) with the same weights computes a different code",
        ),
        (testing.check_regularizer, PerFeatureRegularizer, r"calc returns shape \(8, 3\), expected \(8,\)"),
        (testing.check_scheduler, lambda: RestlessScheduler(attack=2), "the value changes after the duration 2"),
        (testing.check_bottleneck, lambda: keras.layers.Dense(3), "not a BaseBottleneck"),
    ],
    ids=[
        "output_shape",
        "no_gradient",
        "incomplete_config",
        "per_feature_penalty",
        "unsettled_schedule",
        "not_a_bottleneck",
    ],
)
def test_the_checks_catch_a_broken_component(check, factory, message):
    with pytest.raises(AssertionError, match=message):
        check(factory)


def test_an_unregistered_component_fails_with_how_to_register_it():
    class Unregistered(VanillaBottleneck):
        pass

    with pytest.raises(
        AssertionError, match="Unregistered breaks the tfae contract: .*not registered as a tfae bottleneck"
    ):
        testing.check_bottleneck(lambda: Unregistered(3))
