"""tfae.testing: every built-in passes the checks a plugin author runs, and the checks catch broken components."""

import keras
import pytest
from keras import ops

import tfae
import tfae.random
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
    **{
        ("metric", name): (lambda name=name: builtin("metric", name)(), {})
        for name in (
            "log_likelihood",
            "negative_elbo",
            "reconstruction_loss",
            "reconstruction_error",
            "active_units",
            "kl_per_dimension",
            "mig",
            "mig_posterior",
            "sap",
            "dci",
        )
    },
    **{
        ("metric", name): (lambda name=name: builtin("metric", name)(num_train=40, num_eval=20, batch_size=8), {})
        for name in ("factor_vae_score", "beta_vae_score")
    },
    ("dataset", "digits"): (lambda: builtin("dataset", "digits")(), {}),
    ("dataset", "dsprites"): (lambda: builtin("dataset", "dsprites")(n=64, image_size=16), {}),
    # They download: checked without loading, here where the network is not to be reached.
    ("dataset", "mnist"): (lambda: builtin("dataset", "mnist")(), {"load": False}),
    ("dataset", "fashion_mnist"): (lambda: builtin("dataset", "fashion_mnist")(), {"load": False}),
    ("prior", "standard_normal"): (lambda: builtin("prior", "standard_normal")(), {}),
    ("prior", "bernoulli"): (lambda: builtin("prior", "bernoulli")(), {}),
    ("prior", "mixture"): (lambda: builtin("prior", "mixture")(components=3, seed=1), {}),
    ("prior", "vamp"): (lambda: builtin("prior", "vamp")(components=5, seed=1), {}),
    ("objective", "elbo"): (lambda: builtin("objective", "elbo")(), {}),
    ("objective", "iwae"): (lambda: builtin("objective", "iwae")(importance_samples=3), {}),
    ("sampler", "prior"): (lambda: builtin("sampler", "prior")(), {}),
    ("sampler", "gmm"): (lambda: builtin("sampler", "gmm")(components=3), {}),
    ("sampler", "two_stage"): (lambda: builtin("sampler", "two_stage")(epochs=2, hidden=[8]), {}),
}

CHECKS = {
    "bottleneck": testing.check_bottleneck,
    "regularizer": testing.check_regularizer,
    "scheduler": testing.check_scheduler,
    "likelihood": testing.check_likelihood,
    "metric": testing.check_metric,
    "dataset": testing.check_dataset,
    "prior": testing.check_prior,
    "objective": testing.check_objective,
    "sampler": testing.check_sampler,
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


class ForgetfulRegularizer(BaseRegularizer):
    """Takes ``scale`` but leaves it out of its config: reloaded, it has the default 2.0."""

    def __init__(self, beta=1.0, scale=2.0):
        super().__init__(beta)
        self.scale = scale

    def calc(self, code):
        return self.scale * ops.sum(ops.square(code), axis=-1)


class CodeMomentsRegularizer(BaseRegularizer):
    """A batch-level penalty: beta times how far the codes' variances are from 1, plus their means squared."""

    weighs_by_beta = False

    def penalty(self, posterior, training=False):
        variance_term = ops.sum(ops.square(ops.var(posterior.code, axis=0) - 1.0))
        return self.current_beta(training) * variance_term + ops.sum(ops.square(ops.mean(posterior.code, axis=0)))


class NoisyTargetRegularizer(BaseRegularizer):
    """Per sample, the mean squared distance of the code to standard normal noise drawn afresh in each call."""

    def __init__(self, beta=1.0, seed=None):
        super().__init__(beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def penalty(self, posterior, training=False):
        noise = self.random(lambda shape: tfae.random.normal(shape, self.seed_generator), ops.shape(posterior.code))
        return ops.mean(ops.square(posterior.code - noise), axis=-1)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class RandomPartnerRegularizer(NoisyTargetRegularizer):
    """Per sample, the distance of the code to that of a randomly chosen sample: it mixes the batch's rows."""

    def penalty(self, posterior, training=False):
        batch = ops.shape(posterior.code)[0]
        order = ops.argsort(self.random(lambda shape: tfae.random.uniform(shape, self.seed_generator), (batch,)))
        return ops.sum(ops.square(posterior.code - ops.take(posterior.code, order, axis=0)), axis=-1)


class CriticRegularizer(BaseRegularizer):
    """Per sample, a learned critic's score of the code; the critic's objective pulls its scores towards 1."""

    objective_name = "critic_loss"

    def __init__(self, beta=1.0):
        super().__init__(beta)
        self.critic = keras.layers.Dense(1, name="critic")

    def build(self, latent_dim):
        self.critic.build((None, latent_dim))

    def penalty(self, posterior, training=False):
        kernel, bias = ops.stop_gradient(self.critic.kernel), ops.stop_gradient(self.critic.bias)
        return ops.squeeze(ops.matmul(posterior.code, kernel) + bias, axis=-1)

    def objective(self, posterior, training=False):
        return ops.mean(ops.square(self.critic(posterior.code) - 1.0))


class PerFeatureRegularizer(BaseRegularizer):
    def calc(self, code):
        return ops.square(code)


class BatchCentredRegularizer(BaseRegularizer):
    """Claims a penalty per sample, but measures each code from the batch's mean."""

    def penalty(self, posterior, training=False):
        return ops.sum(ops.square(posterior.code - ops.mean(posterior.code, axis=0)), axis=-1)


class HiddenSeedRegularizer(NoisyTargetRegularizer):
    """Keeps its seed generator in a dict, where `seed_generators` does not find it."""

    def __init__(self, beta=1.0, seed=None):
        super().__init__(beta, seed)
        self.generators = {"noise": self.__dict__.pop("seed_generator")}

    def penalty(self, posterior, training=False):
        generator = self.generators["noise"]
        noise = self.random(lambda shape: tfae.random.normal(shape, generator), ops.shape(posterior.code))
        return ops.mean(ops.square(posterior.code - noise), axis=-1)


class UnseededNoiseRegularizer(BaseRegularizer):
    """Draws its noise from Keras' global generator, not one of its own."""

    def penalty(self, posterior, training=False):
        return ops.mean(ops.square(posterior.code - keras.random.normal(ops.shape(posterior.code))), axis=-1)


class LeakyCriticRegularizer(CriticRegularizer):
    """Lets the penalty's gradient reach the critic."""

    def penalty(self, posterior, training=False):
        return ops.squeeze(self.critic(posterior.code), axis=-1)


class IdleLayerRegularizer(BaseRegularizer):
    """Owns a trainable layer but gives it no objective."""

    def __init__(self, beta=1.0):
        super().__init__(beta)
        self.scale = keras.layers.Dense(1, name="scale")

    def build(self, latent_dim):
        self.scale.build((None, latent_dim))

    def calc(self, code):
        return ops.sum(ops.square(code), axis=-1)


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
        register(BatchCentredRegularizer, name="batch_centred")
        register(HiddenSeedRegularizer, name="hidden_seed")
        register(UnseededNoiseRegularizer, name="unseeded_noise")
        register(LeakyCriticRegularizer, name="leaky_critic")
        register(IdleLayerRegularizer, name="idle_layer")
        register(ForgetfulRegularizer, name="forgetful")
        register(RandomPartnerRegularizer, name="random_partner")

    @tfae.hookimpl
    def register_schedulers(register):
        register(RestlessScheduler, name="restless")


@pytest.fixture
def broken_components():
    name = plugins.register_plugin(BrokenComponents, name="broken-components")
    yield
    plugins.unregister_plugin(name)


class WorkingRegularizers:
    @tfae.hookimpl
    def register_regularizers(register):
        register(CodeMomentsRegularizer, name="code_moments")
        register(NoisyTargetRegularizer, name="noisy_target")
        register(CriticRegularizer, name="critic")


@pytest.fixture
def working_regularizers():
    name = plugins.register_plugin(WorkingRegularizers, name="working-regularizers")
    yield
    plugins.unregister_plugin(name)


@pytest.mark.usefixtures("working_regularizers")
@pytest.mark.parametrize(
    "factory",
    [lambda: CodeMomentsRegularizer(beta=0.5), lambda: NoisyTargetRegularizer(seed=3), lambda: CriticRegularizer(0.1)],
    ids=["batch_level", "random", "trainable"],
)
def test_a_regularizer_of_the_new_kinds_passes_the_checks(factory):
    testing.check_regularizer(factory)


@pytest.mark.usefixtures("broken_components")
@pytest.mark.parametrize(
    "check, factory, message",
    [
        (testing.check_bottleneck, lambda: WrongShapeBottleneck(3), r"code has shape \(8, 6\), expected \(8, 3\)"),
        (testing.check_bottleneck, lambda: FrozenBottleneck(3), "no gradient reaches|zero gradient"),
        (
            testing.check_bottleneck,
            lambda: ForgetfulBottleneck(3, scale=2.0),
            r"ForgetfulBottleneck breaks the tfae contract: its constructor takes `scale`, which get_config\(\) "
            r"leaves out, so from_config, and a model saved and loaded, would build it with scale=1.0, its default, "
            r"not the 2.0 it was given. Return every constructor argument from get_config",
        ),
        (
            testing.check_regularizer,
            lambda: ForgetfulRegularizer(scale=3.0),
            r"ForgetfulRegularizer breaks the tfae contract: its constructor takes `scale`, which get_config\(\) "
            r"leaves out, .* would build it with scale=2.0, its default, not the 3.0 it was given",
        ),
        (testing.check_regularizer, PerFeatureRegularizer, r"calc returns shape \(8, 3\), expected \(8,\)"),
        (
            testing.check_regularizer,
            BatchCentredRegularizer,
            r"its per-sample penalty gives the first 4 samples .* on their own, but .* in a batch of 8",
        ),
        (
            testing.check_regularizer,
            lambda: RandomPartnerRegularizer(seed=3),
            r"changing sample 7's posterior \(to sample 0's\) changes the per-sample penalty of samples \[.+\] too, "
            r"with the same random numbers \(its seed generators' states put back\): one sample's penalty must "
            "depend on that sample alone",
        ),
        (
            testing.check_regularizer,
            lambda: HiddenSeedRegularizer(seed=3),
            r"holds a keras.random.SeedGenerator at self.generators\['noise'\] that `seed_generators` does not list",
        ),
        (
            testing.check_regularizer,
            UnseededNoiseRegularizer,
            "two calls on the same posterior give different results, but it lists no seed generators",
        ),
        (
            testing.check_regularizer,
            LeakyCriticRegularizer,
            r"its penalty's gradient reaches its own weight .*critic/kernel",
        ),
        (testing.check_regularizer, IdleLayerRegularizer, r"trainable weights \(.*scale/kernel.*\) but no `objective`"),
        (testing.check_scheduler, lambda: RestlessScheduler(attack=2), "the value changes after the duration 2"),
        (testing.check_bottleneck, lambda: keras.layers.Dense(3), "not a BaseBottleneck"),
    ],
    ids=[
        "output_shape",
        "no_gradient",
        "incomplete_config",
        "incomplete_regularizer_config",
        "per_feature_penalty",
        "batch_dependent_per_sample_penalty",
        "random_penalty_mixing_samples",
        "hidden_seed_generator",
        "unseeded_randomness",
        "penalty_trains_own_weights",
        "weights_without_objective",
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
