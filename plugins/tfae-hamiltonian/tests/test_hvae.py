"""The "hvae" objective: its trajectory and bound against the float64 NumPy transcription of Algorithm 1 on a
linear-Gaussian model, its momentum seeded by the bottleneck, the objective contract, and its refusals."""

import numpy as np
import pytest
from keras import ops

import numpy_reference as ref
from linear import LATENT, linear_gaussian, linear_model, sample, terms_around, to_numpy
from tfae import plugins
from tfae.models import Autoencoder
from tfae.testing import check_objective
from tfae_hamiltonian import HamiltonianELBO


def test_the_name_resolves_to_the_objective():
    assert plugins.get_component("objective", "hvae") is HamiltonianELBO


def test_the_trajectory_and_the_bound_are_algorithm_1s(rng):
    reference = linear_gaussian(rng)
    model = linear_model(reference, {"name": "gaussian", "latent_dim": LATENT})
    x = sample(reference, 16, rng)
    mean = rng.normal(size=(16, LATENT)).astype("float32")
    log_variance = rng.normal(scale=0.3, size=(16, LATENT)).astype("float32")
    code = (mean + np.exp(0.5 * log_variance) * rng.normal(size=mean.shape)).astype("float32")
    gamma = rng.normal(size=mean.shape).astype("float32")
    objective = HamiltonianELBO(steps=3, step_size=0.1, beta_0=0.5)
    terms = terms_around(model, x, (mean, log_variance), code)

    z, rho = (to_numpy(value) for value in objective.flow(terms, ops.convert_to_tensor(gamma)))
    x64, code64, gamma64 = (value.astype("float64") for value in (x, code, gamma))
    expected_z, expected_rho = ref.hvae_flow(
        lambda v: reference.potential_gradient(x64, v), code64, gamma64, steps=3, step_size=0.1, beta_0=0.5
    )
    np.testing.assert_allclose(z, expected_z, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rho, expected_rho, rtol=1e-4, atol=1e-4)
    assert np.max(np.abs(z - code64)) > 0.1  # the steps moved the codes

    log_q0 = ref.gaussian_log_density(code64, mean, log_variance)
    expected = ref.hvae_bound(reference, x64, code64, gamma64, log_q0, steps=3, step_size=0.1, beta_0=0.5)
    bound = to_numpy(objective.bound(terms, ops.convert_to_tensor(gamma)))
    np.testing.assert_allclose(bound, expected, rtol=1e-5, atol=1e-3)


def test_the_momentum_is_drawn_with_the_bottlenecks_seed_generator(rng):
    reference = linear_gaussian(rng)
    model = linear_model(reference, {"name": "gaussian", "latent_dim": LATENT, "seed": 3})
    x = sample(reference, 8, rng)
    code = rng.normal(size=(8, LATENT)).astype("float32")
    terms = terms_around(model, x, (code, np.zeros_like(code)), code)
    objective = HamiltonianELBO(steps=2, step_size=0.1)
    state = model.bottleneck.seed_generator.state
    start = to_numpy(state)
    gamma = objective.draw_momentum(terms)
    assert not np.array_equal(to_numpy(state), start)  # the generator moved on
    following = to_numpy(objective(terms)["hvae_bound"])
    assert not np.allclose(following, to_numpy(objective.bound(terms, gamma)))  # so the next call draws anew
    state.assign(start)
    drawn = to_numpy(objective(terms)["hvae_bound"])
    np.testing.assert_allclose(drawn, to_numpy(objective.bound(terms, gamma)), rtol=1e-6)


def test_it_fulfils_the_objective_contract():
    # With eps -> 0 and beta_0 = 1 the code stays at z_0 and the momentum terms cancel: the bound is then the ELBO
    # that check_objective compares an objective holding the divergence with.
    check_objective(
        lambda: HamiltonianELBO(steps=2, step_size=0.05, beta_0=0.5),
        single_sample=lambda: HamiltonianELBO(steps=1, step_size=1e-6, beta_0=1.0),
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"steps": 0}, "`steps`, the leapfrog steps K, must be a positive integer. Received: steps=0"),
        ({"steps": 2.5}, "Received: steps=2.5"),
        (
            {"step_size": 0.0},
            "`step_size`, the leapfrog step size eps, must be a positive number. Received: step_size=0.0",
        ),
        ({"step_size": -0.1}, "Received: step_size=-0.1"),
        ({"beta_0": 0.0}, r"`beta_0`, the initial inverse temperature of the momentum, must be a number in \(0, 1\]"),
        ({"beta_0": 1.5}, "Received: beta_0=1.5"),
    ],
)
def test_bad_arguments_are_refused_with_what_was_wrong(arguments, message):
    with pytest.raises(ValueError, match=message):
        HamiltonianELBO(**arguments)


@pytest.mark.parametrize(
    "bottleneck, loss, message",
    [
        (
            {"name": "gaussian", "latent_dim": 2},
            "mse",
            "The objective 'hvae' \\(HamiltonianELBO\\) moves each code along the gradient of log p\\(x \\| z\\), "
            "which a Keras loss does not give: compile with a likelihood",
        ),
        (
            {"name": "vanilla", "latent_dim": 2},
            "bernoulli",
            "needs the log-density of codes under the posterior and the prior, which the bottleneck 'vanilla'",
        ),
        (
            {"name": "gaussian", "latent_dim": 2, "regularizer": "kld"},
            "bernoulli",
            "regularizer kld would count the divergence from the prior twice",
        ),
        (
            {"name": "bernoulli", "latent_dim": 2},
            "bernoulli",
            "moves codes continuously along a gradient, but the bottleneck 'bernoulli' \\(BernoulliBottleneck\\) "
            "draws binary codes",
        ),
    ],
)
def test_a_model_that_cannot_serve_it_is_refused_at_compile(bottleneck, loss, message):
    model = Autoencoder(bottleneck=bottleneck)
    with pytest.raises(ValueError, match=message):
        model.compile(optimizer="adam", loss=loss, objective={"name": "hvae"})
