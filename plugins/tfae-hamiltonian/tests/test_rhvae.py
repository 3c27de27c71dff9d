"""The "rhvae" bottleneck and objective: the metric and the generalised leapfrog trajectory and bound against the
float64 NumPy transcription on a linear-Gaussian model, the bottleneck and objective contracts, and refusals."""

import numpy as np
import pytest
from keras import ops

import numpy_reference as ref
from linear import LATENT, linear_gaussian, linear_model, sample, terms_around, to_numpy
from tfae import plugins
from tfae.models import Autoencoder
from tfae.testing import check_bottleneck, check_objective
from tfae_hamiltonian import RiemannianHamiltonianELBO, RiemannianMetricBottleneck


def test_the_names_resolve_to_the_bottleneck_and_the_objective():
    assert plugins.get_component("bottleneck", "rhvae") is RiemannianMetricBottleneck
    assert plugins.get_component("objective", "rhvae") is RiemannianHamiltonianELBO


def test_the_factors_are_lower_triangular_with_the_exp_of_the_layer_on_the_diagonal(rng):
    bottleneck = RiemannianMetricBottleneck(latent_dim=3)
    features = rng.normal(size=(4, 5)).astype("float32")
    mean, log_variance, factor = (to_numpy(p) for p in bottleneck.distribution_parameters(features))
    kernel, bias = (to_numpy(w) for w in bottleneck.metric_dense.weights)
    raw = features @ kernel + bias
    expected = np.zeros((4, 3, 3))
    expected[:, np.arange(3), np.arange(3)] = np.exp(raw[:, :3])
    expected[:, [1, 2, 2], [0, 0, 1]] = raw[:, 3:]  # below the diagonal, row by row
    np.testing.assert_allclose(factor, expected, rtol=1e-5, atol=1e-6)
    assert mean.shape == log_variance.shape == (4, 3)

    code = rng.normal(size=(6, 3)).astype("float32")
    metric = ref.Metric(mean, factor, temperature=1.5, regularization=0.01)
    inverse = to_numpy(bottleneck.inverse_metric(code, mean.astype("float32"), factor.astype("float32")))
    np.testing.assert_allclose(inverse, metric.inverse(code.astype("float64")), rtol=1e-5, atol=1e-6)


def test_the_trajectory_and_the_bound_are_the_generalised_leapfrogs(rng):
    reference = linear_gaussian(rng)
    bottleneck = {"name": "rhvae", "latent_dim": LATENT, "temperature": 1.2, "regularization": 0.3}
    model = linear_model(reference, bottleneck)
    x = sample(reference, 12, rng)
    mean = rng.normal(size=(12, LATENT)).astype("float32")
    log_variance = rng.normal(scale=0.3, size=(12, LATENT)).astype("float32")
    factor = np.tril(0.7 * rng.normal(size=(12, LATENT, LATENT))).astype("float32")
    code = (mean + np.exp(0.5 * log_variance) * rng.normal(size=mean.shape)).astype("float32")
    gamma = rng.normal(size=mean.shape).astype("float32")
    arguments = dict(steps=2, step_size=0.1, beta_0=0.5)
    objective = RiemannianHamiltonianELBO(fixed_point_iterations=3, **arguments)
    terms = terms_around(model, x, (mean, log_variance, factor), code)

    metric = ref.Metric(mean, factor, temperature=1.2, regularization=0.3)
    x64, code64, gamma64 = (value.astype("float64") for value in (x, code, gamma))
    z, rho = (to_numpy(value) for value in objective.flow(terms, ops.convert_to_tensor(gamma)))
    expected_z, expected_rho = ref.rhvae_flow(reference, x64, metric, code64, gamma64, iterations=3, **arguments)
    np.testing.assert_allclose(z, expected_z, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rho, expected_rho, rtol=1e-4, atol=1e-4)
    assert np.max(np.abs(z - code64)) > 0.1  # the steps moved the codes

    log_q0 = ref.gaussian_log_density(code64, mean, log_variance)
    expected = ref.rhvae_bound(reference, x64, metric, code64, gamma64, log_q0, iterations=3, **arguments)
    np.testing.assert_allclose(to_numpy(objective.bound(terms, gamma)), expected, rtol=1e-5, atol=1e-3)


def test_the_bottleneck_fulfils_the_bottleneck_contract():
    check_bottleneck(lambda: RiemannianMetricBottleneck(latent_dim=2, temperature=1.2, regularization=0.05, seed=1))


def test_the_objective_fulfils_the_objective_contract():
    # With eps -> 0 and beta_0 = 1 the code stays at z_0, rho_0^T G^-1(z_0) rho_0 = |gamma|^2 and the log-determinants
    # cancel: the bound is then the ELBO that check_objective compares an objective holding the divergence with.
    check_objective(
        lambda: RiemannianHamiltonianELBO(steps=1, step_size=0.05, beta_0=0.5, fixed_point_iterations=2),
        bottleneck="rhvae",
        single_sample=lambda: RiemannianHamiltonianELBO(steps=1, step_size=1e-6, beta_0=1.0, fixed_point_iterations=1),
    )


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: RiemannianHamiltonianELBO(fixed_point_iterations=0),
            "`fixed_point_iterations`, the iterations solving each implicit leapfrog equation, must be a positive "
            "integer. Received: fixed_point_iterations=0",
        ),
        (lambda: RiemannianHamiltonianELBO(steps=0), "Received: steps=0"),
        (lambda: RiemannianHamiltonianELBO(step_size=-1.0), "Received: step_size=-1.0"),
        (
            lambda: RiemannianMetricBottleneck(latent_dim=2, temperature=0),
            "`temperature`, the reach T of each local metric, must be a positive number. Received: temperature=0",
        ),
        (lambda: RiemannianMetricBottleneck(latent_dim=2, regularization=-0.1), "Received: regularization=-0.1"),
    ],
)
def test_bad_arguments_are_refused_with_what_was_wrong(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "bottleneck, loss, message",
    [
        (
            {"name": "gaussian", "latent_dim": 2},
            "bernoulli",
            "The objective 'rhvae' \\(RiemannianHamiltonianELBO\\) moves codes under the Riemannian metric that the "
            "bottleneck 'rhvae' \\(RiemannianMetricBottleneck\\) learns, which the bottleneck 'gaussian' "
            "\\(GaussianBottleneck\\) does not have",
        ),
        ({"name": "rhvae", "latent_dim": 2}, "mse", "moves each code along the gradient of log p\\(x \\| z\\)"),
        ({"name": "vanilla", "latent_dim": 2}, "bernoulli", "needs the log-density of codes"),
    ],
)
def test_a_model_that_cannot_serve_it_is_refused_at_compile(bottleneck, loss, message):
    model = Autoencoder(bottleneck=bottleneck)
    with pytest.raises(ValueError, match=message):
        model.compile(optimizer="adam", loss=loss, objective={"name": "rhvae"})
