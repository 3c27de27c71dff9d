"""VonMisesFisherBottleneck ("vmf"): its normalising constant, KL and sampler against float64 transcriptions of
Davidson et al. (2018) and Wood (1994), densities that integrate to 1 over the sphere, draws that follow them,
its refusals, and the tfae bottleneck contract."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from tfae.models import Autoencoder
from tfae.testing import UNIT_SPHERE, check_bottleneck
from tfae_geometric.von_mises_fisher import (
    PROPOSALS,
    VonMisesFisherBottleneck,
    exact_cosine_3d,
    householder_from_first_axis,
    vmf_kl_to_uniform,
    vmf_log_normalizer,
    wood_cosine,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402

DIMS = [2, 3, 4, 5, 10, 17, 18, 33, 64]
KAPPAS = np.logspace(-3, 5, 97).astype("float32")


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def unit(rng, shape):
    x = rng.normal(size=shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def kl_and_gradient(m, kappa):
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return numpy(vmf_kl_to_uniform(m, kappa)), numpy(jax.grad(lambda k: ops.sum(vmf_kl_to_uniform(m, k)))(kappa))
    import tensorflow as tf

    tensor = tf.convert_to_tensor(kappa)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        value = vmf_kl_to_uniform(m, tensor)
    return numpy(value), numpy(tape.gradient(value, tensor))


@pytest.mark.parametrize("m", DIMS)
def test_log_normalizer_is_the_papers(m):
    expected = ref.vmf_log_normalizer(m, KAPPAS.astype("float64"))
    np.testing.assert_allclose(numpy(vmf_log_normalizer(m, KAPPAS)), expected, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("m", DIMS)
def test_kl_to_the_uniform_distribution_and_its_gradient_are_the_papers(m):
    kappa = KAPPAS.astype("float64")
    value, gradient = kl_and_gradient(m, KAPPAS)
    expected = ref.vmf_kl_to_uniform(m, kappa)
    # SciPy's float64 form cancels constants of size m: where the KL is 1e-10 its own error is about 1e-14.
    np.testing.assert_allclose(value, expected, rtol=3e-5, atol=1e-12 * m)
    np.testing.assert_allclose(gradient, ref.vmf_kl_derivative(m, kappa), rtol=3e-4, atol=1e-8)
    assert np.all(value >= 0)


def test_kl_of_a_nearly_uniform_vmf_is_kappa_squared_over_2m():
    # KL = kappa^2 / (2m) + O(kappa^4) as kappa nears 0: the float32 result keeps its relative precision.
    for m in (2, 3, 10):
        kappa = np.array([1e-4, 1e-3], "float32")
        expected = kappa.astype("float64") ** 2 / (2 * m)
        np.testing.assert_allclose(numpy(vmf_kl_to_uniform(m, kappa)), expected, rtol=1e-4)


@pytest.mark.parametrize("m", [2, 4, 5, 10, 33])
def test_wood_sampler_takes_the_first_proposal_woods_test_accepts(m, rng):
    n = 2000
    kappa = np.exp(rng.uniform(math.log(1e-2), math.log(1e4), n)).astype("float32")
    normals = rng.normal(size=(n, PROPOSALS, m)).astype("float32")
    uniforms = rng.random((n, PROPOSALS)).astype("float32")
    w, one_minus_w_squared = (numpy(x)[:, 0] for x in wood_cosine(kappa[:, None], m, normals, uniforms))
    expected, _ = ref.wood_cosine(kappa, m, normals, uniforms)
    same = np.isclose(w, expected, rtol=0, atol=1e-5)
    assert same.mean() > 0.99, same.mean()  # a draw whose acceptance test ties to float32 precision may differ
    np.testing.assert_allclose(one_minus_w_squared[same], 1 - expected[same] ** 2, rtol=1e-4, atol=1e-12)
    assert np.all((w >= -1) & (w <= 1))


def test_exact_sampler_on_the_two_sphere_inverts_the_distribution_function(rng):
    kappa = np.exp(rng.uniform(math.log(1e-4), math.log(1e4), 500)).astype("float32")[:, None]
    uniforms = rng.random((500, 1)).astype("float32")
    w, one_minus_w_squared = (numpy(x) for x in exact_cosine_3d(kappa, uniforms))
    # Written with u' = 1 - u, itself uniform.
    expected = ref.exact_cosine_3d(kappa, 1.0 - uniforms.astype("float64"))
    np.testing.assert_allclose(w, expected, rtol=0, atol=2e-6)
    np.testing.assert_allclose(one_minus_w_squared, 1 - expected**2, rtol=1e-4, atol=1e-10)


def test_householder_reflection_is_the_papers_and_takes_e1_to_the_mean(rng):
    mu = unit(rng, (64, 5))
    points = unit(rng, (64, 5))
    reflected = householder_from_first_axis(points.astype("float32"), mu.astype("float32"))
    np.testing.assert_allclose(numpy(reflected), ref.householder(points, mu), atol=2e-6)
    e1 = np.tile(np.eye(5)[:1], (64, 1)).astype("float32")
    np.testing.assert_allclose(numpy(householder_from_first_axis(e1, mu.astype("float32"))), mu, atol=2e-6)
    # At e1 it is the identity; beside it, it still takes e1 to the mean to float32 precision.
    near = np.array([[1.0, 1e-4, -2e-4, 0.0, 3e-5]])
    near /= np.linalg.norm(near)
    identity = householder_from_first_axis(points[:1].astype("float32"), np.eye(5, dtype="float32")[:1])
    np.testing.assert_allclose(numpy(identity), points[:1], atol=1e-7)
    np.testing.assert_allclose(numpy(householder_from_first_axis(e1[:1], near.astype("float32"))), near, atol=1e-7)


def cosine_distribution_function(m, kappa):
    """w's distribution function, integrated over the angle theta (w = cos theta) on a fine grid in float64."""
    theta = np.linspace(0.0, np.pi, 200001)
    density = np.exp(ref.cosine_log_density(np.cos(theta[1:-1]), m, kappa)) * np.sin(theta[1:-1])
    density = np.concatenate([[0.0 if m > 2 else density[0]], density, [0.0 if m > 2 else density[-1]]])
    cumulative = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(theta))])
    return theta, cumulative


@pytest.mark.parametrize("m", [2, 3, 5, 16])
def test_drawn_codes_lie_on_the_sphere_and_follow_the_vmf(m, rng):
    n = 10000
    bottleneck = VonMisesFisherBottleneck(latent_dim=m, seed=3)
    mu = unit(rng, (1, m))
    for kappa in (0.3, 10.0, 2000.0):
        theta, cumulative = cosine_distribution_function(m, kappa)
        assert abs(cumulative[-1] - 1.0) < 1e-6, cumulative[-1]  # the paper's normaliser, over the sphere
        direction = np.repeat(mu, n, axis=0).astype("float32")
        code, log_density = bottleneck.sample(direction, np.full((n, 1), kappa, "float32"))
        code = numpy(code)
        np.testing.assert_allclose(np.linalg.norm(code, axis=-1), 1.0, atol=1e-6)
        w = code @ mu[0]
        side = np.linalg.norm(code - w[:, None] * mu, axis=-1)
        angles = np.sort(np.arctan2(side, w))
        statistic = np.max(np.abs(np.interp(angles, theta, cumulative) - np.arange(1, n + 1) / n)) * math.sqrt(n)
        assert statistic < 1.95, (kappa, statistic)  # Kolmogorov-Smirnov at 0.1%
        # The directions around the mean are uniform: their mean is 0 (m >= 3) and the mean code is R mu.
        np.testing.assert_allclose(code.mean(axis=0), ref.bessel_ratio(m / 2 - 1, kappa) * mu[0], atol=5 / math.sqrt(n))
        # The log-density given with each draw is the paper's density of that code.
        expected = ref.vmf_log_density(code, mu, kappa)
        np.testing.assert_allclose(numpy(log_density), expected, rtol=1e-5, atol=2e-7 * kappa + 1e-5)


@pytest.mark.parametrize("kappa", [0.01, 3.0, 200.0])
def test_density_integrates_to_one_over_the_circle_and_the_two_sphere(kappa, rng):
    bottleneck = VonMisesFisherBottleneck(latent_dim=2)
    mu = unit(rng, (1, 2)).astype("float32")
    theta = np.linspace(0, 2 * np.pi, 100001)[:-1]
    circle = np.stack([np.cos(theta), np.sin(theta)], axis=-1).astype("float32")
    concentration = np.full((1, 1), kappa, "float32")
    density = np.exp(numpy(bottleneck.joint_log_density(circle, mu, concentration)))
    assert abs(density.sum() * (theta[1] - theta[0]) - 1.0) < 1e-4

    bottleneck = VonMisesFisherBottleneck(latent_dim=3)
    mu = unit(rng, (3,))
    first = unit(rng, (3,))
    first = first - (first @ mu) * mu
    first /= np.linalg.norm(first)
    second = np.cross(mu, first)
    # Polar angle from the mean (dense where the mass is) and azimuth: dA = sin(polar) d(polar) d(azimuth).
    polar = np.linspace(0, np.pi, 4001)
    azimuth = np.linspace(0, 2 * np.pi, 65)[:-1]
    p, a = np.meshgrid(polar, azimuth, indexing="ij")
    around = np.cos(a)[..., None] * first + np.sin(a)[..., None] * second
    points = (np.cos(p)[..., None] * mu + np.sin(p)[..., None] * around).reshape(-1, 3).astype("float32")
    values = np.exp(numpy(bottleneck.joint_log_density(points, mu[None].astype("float32"), concentration)))
    integrand = (values.reshape(p.shape) * np.sin(p)).sum(axis=1) * (azimuth[1] - azimuth[0])
    assert abs(np.trapezoid(integrand, polar) - 1.0) < 1e-3


def test_density_integrates_to_one_over_the_sphere_in_five_dimensions_by_monte_carlo(rng):
    bottleneck = VonMisesFisherBottleneck(latent_dim=5)
    mu = unit(rng, (1, 5)).astype("float32")
    points = unit(rng, (200000, 5)).astype("float32")  # uniform on S^4: E[q / u] = 1, u = 1 / |S^4|
    log_density = bottleneck.joint_log_density(points, mu, np.full((1, 1), 2.0, "float32"))
    ratios = np.exp(numpy(log_density)) * ref.sphere_area(5)
    assert abs(ratios.mean() - 1.0) < 6 * ratios.std() / math.sqrt(len(ratios))


def test_log_density_of_any_code_is_the_papers(rng):
    bottleneck = VonMisesFisherBottleneck(latent_dim=4)
    mu, code = unit(rng, (7, 4)), unit(rng, (3, 7, 4))
    kappa = np.array([[1e-3], [0.5], [5.0], [19.9], [20.0], [300.0], [1e4]])
    value = bottleneck.joint_log_density(code.astype("float32"), mu.astype("float32"), kappa.astype("float32"))
    np.testing.assert_allclose(numpy(value), ref.vmf_log_density(code, mu, kappa[:, 0]), rtol=1e-5, atol=1e-5)


def test_gradients_reach_the_mean_direction_and_the_concentration_through_a_draw(rng):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the gradient is taken with TensorFlow here; tfae.testing.check_bottleneck covers JAX")
    import tensorflow as tf

    for m in (2, 3, 6):
        bottleneck = VonMisesFisherBottleneck(latent_dim=m, seed=0)
        direction = tf.constant(unit(rng, (6, m)).astype("float32"))
        concentration = tf.constant([[1e-6], [1e-3], [1.0], [30.0], [1e3], [1e5]], "float32")
        weights = tf.constant(rng.normal(size=(6, m)).astype("float32"))
        with tf.GradientTape() as tape:
            tape.watch([direction, concentration])
            code, log_density = bottleneck.sample(direction, concentration)
            loss = tf.reduce_sum(code * weights) + tf.reduce_sum(log_density)
        for gradient in tape.gradient(loss, [direction, concentration]):
            assert np.all(np.isfinite(gradient.numpy())) and np.any(gradient.numpy() != 0)


def test_fulfils_the_bottleneck_contract():
    # On S^2: the check integrates the posterior's density against the sphere's surface measure.
    check_bottleneck(lambda: VonMisesFisherBottleneck(latent_dim=3, regularizer="vmf_kld", seed=0), codes=UNIT_SPHERE)


def test_latent_dim_below_2_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"needs latent_dim >= 2 \(S\^0 is two points\).*Received: latent_dim=1"):
        VonMisesFisherBottleneck(latent_dim=1)
    with pytest.raises(ValueError, match=r"Received: latent_dim=1$"):
        Autoencoder(bottleneck={"name": "vmf", "latent_dim": 1})


def test_a_prior_off_the_sphere_is_refused():
    refusal = r"its prior StandardNormalPrior is not a distribution on the sphere: use prior='hyperspherical_uniform'"
    with pytest.raises(ValueError, match=refusal):
        VonMisesFisherBottleneck(latent_dim=3, prior="standard_normal")


def test_the_gaussian_kl_is_refused_naming_both():
    refusal = (
        r"'kld' .* gaussian posterior's parameters, but the bottleneck 'vmf' \(VonMisesFisherBottleneck\) has a "
        r"von_mises_fisher posterior"
    )
    with pytest.raises(ValueError, match=refusal):
        VonMisesFisherBottleneck(latent_dim=3, regularizer="kld")


def test_codes_at_inference_are_the_mean_directions(rng):
    bottleneck = VonMisesFisherBottleneck(latent_dim=3)
    features = rng.normal(size=(4, 6)).astype("float32")
    direction, concentration = bottleneck.distribution_parameters(features)
    np.testing.assert_allclose(numpy(bottleneck(features)), numpy(direction), atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(numpy(direction), axis=-1), 1.0, atol=1e-6)
    assert numpy(concentration).shape == (4, 1) and np.all(numpy(concentration) > 0)
