"""tfae.testing.check_prior and check_bottleneck's densities: sound priors and posteriors pass, broken ones fail."""

import math

import keras
import numpy as np
import pytest
from keras import ops

import tfae
import tfae.random
from tfae import plugins, testing
from tfae.bottlenecks import GaussianBottleneck, VariationalBottleneck
from tfae.priors import BasePrior

pytestmark = pytest.mark.backend_neutral

_LOG_2PI = math.log(2.0 * math.pi)


class ScaledNormalPrior(BasePrior):
    """``N(0, scale**2 I)``, a joint density only: what a plugin's prior looks like when it is right."""

    def __init__(self, scale=2.0, latent_dim=None, **kwargs):
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.scale = float(scale)

    def log_prob(self, code):
        code = ops.cast(code, "float32") / self.scale
        return -0.5 * ops.sum(_LOG_2PI + ops.square(code), axis=-1) - self.latent_dim * math.log(self.scale)

    def sample(self, n, seed=None):
        return self.scale * keras.random.normal(self.sample_shape(n), seed=seed, dtype="float32")

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


class UnnormalisedPrior(ScaledNormalPrior):
    """Forgets that a density integrates to 1: twice the normal density."""

    def log_prob(self, code):
        return super().log_prob(code) + math.log(2.0)


class WideSamplerPrior(ScaledNormalPrior):
    """Draws twice as wide as its density says."""

    def sample(self, n, seed=None):
        return 2.0 * super().sample(n, seed=seed)


class UnseededSamplerPrior(ScaledNormalPrior):
    """Draws from Keras' global generator, whatever seed it is given."""

    def sample(self, n, seed=None):
        return self.scale * keras.random.normal(self.sample_shape(n), dtype="float32")


class FixedSeedPrior(ScaledNormalPrior):
    """Draws with a seed of its own, whatever seed it is given."""

    def sample(self, n, seed=None):
        return super().sample(n, seed=1234)


class IntegerCountPrior(ScaledNormalPrior):
    """Takes only a Python int for the number of codes, so it cannot draw one per code of a traced batch."""

    def sample(self, n, seed=None):
        if not isinstance(n, int):
            raise TypeError(f"n must be an int. Received: {n!r}")
        return super().sample(n, seed=seed)


class SphereUniformPrior(BasePrior):
    """The uniform distribution on the unit sphere: a density with respect to its surface measure."""

    def log_prob(self, code):
        d = self.latent_dim
        log_area = math.log(2.0) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)
        return ops.zeros_like(ops.cast(code, "float32")[..., 0]) - log_area

    def sample(self, n, seed=None):
        return ops.normalize(keras.random.normal(self.sample_shape(n), seed=seed, dtype="float32"), axis=-1)


class HalfAreaSpherePrior(SphereUniformPrior):
    """Takes the sphere's area for half what it is."""

    def log_prob(self, code):
        return super().log_prob(code) + math.log(2.0)


class PolarSpherePrior(SphereUniformPrior):
    """Says uniform, but draws near one pole."""

    def sample(self, n, seed=None):
        pole = ops.one_hot(ops.zeros((n,), "int32"), self.latent_dim)
        return ops.normalize(pole + 0.3 * super().sample(n, seed=seed), axis=-1)


class ForgetfulPrior(ScaledNormalPrior):
    """Leaves ``scale`` out of its config: saved and loaded, ``scale=3.0`` comes back as the default 2.0."""

    def get_config(self):
        return BasePrior.get_config(self)


class DefaultScalePrior(ScaledNormalPrior):
    """Gives ``scale`` in its config, but always the default's."""

    def get_config(self):
        return {**BasePrior.get_config(self), "scale": 2.0}


class HalfBernoulliPrior(BasePrior):
    """Binary codes whose probabilities add up to one half."""

    support = "binary"

    def log_prob(self, code):
        return ops.sum(ops.full_like(ops.cast(code, "float32"), -math.log(2.0)), axis=-1) - math.log(2.0)

    def sample(self, n, seed=None):
        return ops.cast(keras.random.uniform(self.sample_shape(n), seed=seed) < 0.5, "float32")


class UnnormalisedBottleneck(GaussianBottleneck):
    """A Gaussian posterior whose log-density is log 2 too high in each dimension."""

    def log_density(self, code, mean, log_variance):
        return super().log_density(code, mean, log_variance) + math.log(2.0)


class WideSamplingBottleneck(GaussianBottleneck):
    """Draws its codes twice as far from the mean as its log-density says."""

    def sample(self, mean, log_variance):
        noise = self.random(lambda shape: tfae.random.normal(shape, self.seed_generator), ops.shape(mean))
        return mean + 2.0 * ops.exp(0.5 * log_variance) * noise


class SphereBottleneck(VariationalBottleneck):
    """A posterior on the unit sphere: uniform draws reflected across the plane normal to the encoder's
    ``direction`` (a Householder reflection), so still uniform, and differentiable in the direction."""

    parameters = 1
    default_prior = "sphereuniform"

    def sample(self, direction):
        noise = self.random(lambda shape: tfae.random.normal(shape, self.seed_generator), ops.shape(direction))
        uniform = ops.normalize(noise, axis=-1)
        normal = ops.normalize(direction, axis=-1)
        code = uniform - 2.0 * normal * ops.sum(normal * uniform, axis=-1, keepdims=True)
        return code, self.joint_log_density(code, direction)

    def mean(self, direction):
        return ops.normalize(direction, axis=-1)

    def joint_log_density(self, code, direction):
        d = self.latent_dim
        log_area = math.log(2.0) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)
        return ops.zeros_like(ops.sum(code * direction, axis=-1)) - log_area


class HalfAreaSphereBottleneck(SphereBottleneck):
    """Takes the sphere's area for half what it is."""

    def joint_log_density(self, code, direction):
        return super().joint_log_density(code, direction) + math.log(2.0)


class JointUnnormalisedBottleneck(VariationalBottleneck):
    """A Gaussian posterior given by its joint log-density alone (it does not say it factorises), log 2 too high."""

    default_prior = "standard_normal"

    def sample(self, mean, log_variance):
        noise = self.random(lambda shape: tfae.random.normal(shape, self.seed_generator), ops.shape(mean))
        return mean + ops.exp(0.5 * log_variance) * noise

    def mean(self, mean, log_variance):
        return mean

    def joint_log_density(self, code, mean, log_variance):
        per_dimension = -0.5 * (_LOG_2PI + log_variance + ops.square(code - mean) * ops.exp(-log_variance))
        return ops.sum(per_dimension, axis=-1) + math.log(2.0)


class SampledDensityBottleneck(VariationalBottleneck):
    """A flow's way: the log-density comes with each draw, and no code is ever scored otherwise."""

    default_prior = "standard_normal"

    def sample(self, mean, log_variance):
        noise = self.random(lambda shape: tfae.random.normal(shape, self.seed_generator), ops.shape(mean))
        code = mean + ops.exp(0.5 * log_variance) * noise
        return code, self.noise_log_density(noise, log_variance)

    def noise_log_density(self, noise, log_variance):
        return ops.sum(-0.5 * (_LOG_2PI + ops.square(noise)) - 0.5 * log_variance, axis=-1)

    def mean(self, mean, log_variance):
        return mean

    def joint_log_density(self, code, mean, log_variance):
        raise NotImplementedError("A flow does not invert itself.")


class MissingJacobianBottleneck(SampledDensityBottleneck):
    """Gives the density of the noise with each draw, without the transformation's log-determinant."""

    def noise_log_density(self, noise, log_variance):
        return ops.sum(-0.5 * (_LOG_2PI + ops.square(noise)), axis=-1)


class Components:
    @tfae.hookimpl
    def register_priors(register):
        for prior in (
            ScaledNormalPrior,
            UnnormalisedPrior,
            WideSamplerPrior,
            UnseededSamplerPrior,
            FixedSeedPrior,
            ForgetfulPrior,
            DefaultScalePrior,
            HalfBernoulliPrior,
            IntegerCountPrior,
            SphereUniformPrior,
            HalfAreaSpherePrior,
            PolarSpherePrior,
        ):
            register(prior, name=prior.__name__.removesuffix("Prior").lower())

    @tfae.hookimpl
    def register_bottlenecks(register):
        for bottleneck in (
            UnnormalisedBottleneck,
            WideSamplingBottleneck,
            JointUnnormalisedBottleneck,
            SampledDensityBottleneck,
            MissingJacobianBottleneck,
            SphereBottleneck,
            HalfAreaSphereBottleneck,
        ):
            register(bottleneck, name=bottleneck.__name__.removesuffix("Bottleneck").lower())


@pytest.fixture(autouse=True)
def components():
    name = plugins.register_plugin(Components, name="prior-components")
    yield
    plugins.unregister_plugin(name)


@pytest.mark.parametrize(
    "check, factory",
    [
        (testing.check_prior, lambda: ScaledNormalPrior(scale=3.0)),
        (testing.check_bottleneck, lambda: SampledDensityBottleneck(latent_dim=2, seed=1)),
    ],
    ids=["wide_prior", "density_given_with_each_draw"],
)
def test_a_sound_component_of_the_new_forms_passes_the_checks(check, factory):
    check(factory)


@pytest.mark.parametrize(
    "check, factory, message",
    [
        (
            testing.check_prior,
            UnnormalisedPrior,
            r"UnnormalisedPrior \(latent_dim=1\) breaks the tfae contract: its density \(latent_dim=1\) integrates "
            r"to 2.0000, not 1, on a grid over \[.+\] \(log_prob must be the normalised log-density of the codes "
            "`sample` draws\\)",
        ),
        (
            testing.check_prior,
            lambda: UnnormalisedPrior(latent_dim=3),
            r"UnnormalisedPrior \(latent_dim=3\) breaks the tfae contract: its density \(latent_dim=3\) integrates "
            r"to 2.0\d+ \+- 0.0\d+, not 1, by Monte Carlo: the mean of p\(z\)/r\(z\) over 20000 codes z from a wide "
            "proposal",
        ),
        (
            testing.check_prior,
            HalfBernoulliPrior,
            r"its density \(latent_dim=1\) gives the 2 binary codes probabilities that add up to 0.5000, not 1",
        ),
        (
            testing.check_prior,
            WideSamplerPrior,
            r"WideSamplerPrior \(latent_dim=1\) breaks the tfae contract: its density \(latent_dim=1\) does not "
            r"match its sampler: 4000 draws fall in 10 cells between their quantiles with a chi-square of [\d.]+ "
            r"against the density's probabilities, where at most [\d.]+ is expected; the draws have mean \[.+\] and "
            r"standard deviation \[[34]\.\d+\], the density \[.+\] and \[2\.0\d*\]",
        ),
        (
            testing.check_prior,
            lambda: WideSamplerPrior(latent_dim=3),
            r"its density \(latent_dim=3\) does not match its sampler: its draws have mean \[.+\] and variance "
            r"\[.+\], the density \(by importance sampling\)",
        ),
        (
            testing.check_prior,
            UnseededSamplerPrior,
            r"sample\(64, seed=0\) gives other codes on a second call: draw with the seed it is given",
        ),
        (
            testing.check_prior,
            FixedSeedPrior,
            r"sample\(64, seed=1\) gives the same codes as seed=0: it ignores its seed",
        ),
        (
            testing.check_prior,
            IntegerCountPrior,
            r"IntegerCountPrior \(latent_dim=1\) breaks the tfae contract: sample\(n\) fails for n a scalar integer "
            r"tensor, a batch's size in a traced step: TypeError\(.+\)\. Give the shape self.sample_shape\(n\) "
            r"returns to keras.random\.$",
        ),
        (
            testing.check_prior,
            lambda: ForgetfulPrior(scale=3.0),
            r"ForgetfulPrior breaks the tfae contract: its constructor takes `scale`, which get_config\(\) leaves "
            r"out, so from_config, and a model saved and loaded, would build it with scale=2.0, its default, not "
            r"the 3.0 it was given. Return every constructor argument from get_config",
        ),
        (
            testing.check_prior,
            lambda: DefaultScalePrior(scale=3.0),
            r"DefaultScalePrior breaks the tfae contract: from_config\(get_config\(\)\) has scale = 2.0, where the "
            r"original has 3.0: a value given to its constructor does not come back through get_config",
        ),
        (
            testing.check_bottleneck,
            lambda: UnnormalisedBottleneck(latent_dim=3, seed=1),
            r"UnnormalisedBottleneck breaks the tfae contract: the posterior of a sample in dimension 0 integrates "
            r"to 2.0000, not 1, on a grid over \[.+\] \(log_density must be the normalised log-density of the codes "
            r"that posterior\(sampling='exact'\) draws\)",
        ),
        (
            testing.check_bottleneck,
            lambda: JointUnnormalisedBottleneck(latent_dim=2, seed=1),
            r"JointUnnormalisedBottleneck breaks the tfae contract: the posterior of a sample integrates to 2.0000, "
            r"not 1, on a grid over \[.+\] x \[.+\]",
        ),
        (
            testing.check_bottleneck,
            lambda: JointUnnormalisedBottleneck(latent_dim=3, seed=1),
            r"JointUnnormalisedBottleneck breaks the tfae contract: the posterior of a sample integrates to "
            r"2.0\d+ \+- 0.0\d+, not 1, by Monte Carlo",
        ),
        (
            testing.check_bottleneck,
            lambda: WideSamplingBottleneck(latent_dim=3, seed=1),
            r"WideSamplingBottleneck breaks the tfae contract: the posterior of a sample in dimension 0 does not "
            r"match its sampler: 4000 draws fall in 10 cells",
        ),
        (
            testing.check_bottleneck,
            lambda: MissingJacobianBottleneck(latent_dim=2, seed=1),
            r"MissingJacobianBottleneck breaks the tfae contract: over 4000 draws z of the posterior of a sample, "
            r"the mean of r\(z\)/q\(z\) for a normalised Gaussian r is [\d.]+ \+- [\d.]+, not 1: the log-densities "
            "q given with the draws are not those of the distribution drawn from",
        ),
    ],
    ids=[
        "unnormalised_on_a_grid",
        "unnormalised_by_monte_carlo",
        "binary_probabilities_not_adding_up",
        "sampler_wider_than_density",
        "sampler_wider_than_density_in_3_dimensions",
        "sample_ignores_seed_unseeded",
        "sample_ignores_seed_fixed",
        "sample_of_a_python_int_only",
        "constructor_argument_missing_from_config",
        "config_value_not_the_given_one",
        "posterior_unnormalised",
        "joint_posterior_unnormalised_on_a_grid",
        "joint_posterior_unnormalised_by_monte_carlo",
        "posterior_sampler_wider_than_density",
        "sampled_density_without_jacobian",
    ],
)
def test_the_checks_catch_a_broken_density(check, factory, message):
    with pytest.raises(AssertionError, match=message):
        check(factory)


def test_a_density_on_the_sphere_is_checked_against_the_spheres_own_measure():
    testing.check_prior(lambda: SphereUniformPrior(latent_dim=3), codes=testing.UNIT_SPHERE)


@pytest.mark.parametrize(
    "factory, message",
    [
        (
            HalfAreaSpherePrior,
            r"^HalfAreaSpherePrior \(latent_dim=3\) breaks the tfae contract: its density \(latent_dim=3\) integrates "
            r"to 2\.0000 \+- 0\.0000, not 1, on the unit sphere: the mean of p\(z\)/r\(z\) over 20000 codes z of its "
            r"reference distribution r \(log_prob must be",
        ),
        (
            PolarSpherePrior,
            r"^PolarSpherePrior \(latent_dim=3\) breaks the tfae contract: its density \(latent_dim=3\) does not match "
            r"its sampler: its draws have mean \[0\.9\d*, .+\] and variance \[.+\], the density \(weighed against the "
            r"unit sphere's reference\) \[",
        ),
    ],
    ids=["unnormalised", "sampler_elsewhere"],
)
def test_a_broken_density_on_the_sphere_is_caught(factory, message):
    with pytest.raises(AssertionError, match=message):
        testing.check_prior(lambda: factory(latent_dim=3), codes=testing.UNIT_SPHERE)


def test_a_balls_reference_is_uniform_inside_it_and_zero_outside():
    space = testing.ball(2.0)
    codes = space.sample(20000, 2, np.random.default_rng(0))
    radii = np.linalg.norm(codes, axis=-1)
    assert radii.max() < 2.0 and abs(np.mean(radii < 1.0) - 0.25) < 0.01  # a quarter of the area of a disc of 2
    np.testing.assert_allclose(space.log_density(codes[:5]), -np.log(np.pi * 4.0))
    assert space.log_density(np.array([[2.0, 0.1]]))[0] == -np.inf
    with pytest.raises(ValueError, match=r"^`radius` must be a positive number\. Received: radius=0$"):
        testing.ball(0)


def test_a_posterior_on_the_sphere_is_checked_against_the_spheres_own_measure():
    testing.check_bottleneck(lambda: SphereBottleneck(latent_dim=3, seed=0), codes=testing.UNIT_SPHERE)
    message = (
        r"^HalfAreaSphereBottleneck breaks the tfae contract: the posterior of a sample integrates to 2\.0000 \+- "
        r"0\.0000, not 1, on the unit sphere"
    )
    with pytest.raises(AssertionError, match=message):
        testing.check_bottleneck(lambda: HalfAreaSphereBottleneck(latent_dim=3, seed=0), codes=testing.UNIT_SPHERE)
