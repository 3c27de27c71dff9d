"""The NumPy reference checked on its own: its closed-form log-determinants are those of finite-difference
Jacobians, its inverses invert, and its flowed densities integrate to 1 on a grid."""

import math

import numpy as np
import pytest

import numpy_reference as ref


def random_iaf_layer(rng, latent_dim, hidden_units, context_dim, reverse, scale=0.5):
    """A MADE layer's weights; ``scale`` is that of the output kernels."""
    fan_in = [latent_dim, *hidden_units]
    weights = {
        "kernels": [rng.normal(size=(a, b)) / math.sqrt(a) for a, b in zip(fan_in[:-1], fan_in[1:])],
        "biases": [rng.normal(size=b) * 0.1 for b in hidden_units],
        "context_kernel": rng.normal(size=(context_dim, hidden_units[0])) if context_dim else None,
        "m_kernel": rng.normal(size=(hidden_units[-1], latent_dim)) * scale,
        "m_bias": rng.normal(size=latent_dim) * 0.1,
        "s_kernel": rng.normal(size=(hidden_units[-1], latent_dim)) * scale,
        "s_bias": np.ones(latent_dim),
    }
    return weights, ref.made_masks(latent_dim, hidden_units, reverse)


def test_planar_log_det_is_the_jacobians_and_the_inverse_inverts(rng):
    for _ in range(5):
        u, w, z = rng.normal(size=(3, 4)) * 1.5
        b = rng.normal()
        u_hat = ref.planar_u_hat(u, w)
        assert w @ u_hat > -1
        y, log_det = ref.planar_forward(z, u_hat, w, b)
        numeric = ref.numerical_log_abs_det(lambda v: ref.planar_forward(v, u_hat, w, b)[0], z)
        assert log_det == pytest.approx(numeric, abs=1e-6)
        np.testing.assert_allclose(ref.planar_inverse(y, u_hat, w, b), z, atol=1e-10)


def test_radial_log_det_is_the_jacobians_and_the_inverse_inverts(rng):
    for beta_raw in (-4.0, 0.0, 3.0):
        center, z = rng.normal(size=(2, 3))
        alpha, beta = ref.radial_alpha_beta(rng.normal(), beta_raw)
        assert alpha > 0 and beta >= -alpha
        y, log_det = ref.radial_forward(z, center, alpha, beta)
        numeric = ref.numerical_log_abs_det(lambda v: ref.radial_forward(v, center, alpha, beta)[0], z)
        assert log_det == pytest.approx(numeric, abs=1e-6)
        np.testing.assert_allclose(ref.radial_inverse(y, center, alpha, beta), z, atol=1e-10)


@pytest.mark.parametrize("reverse", [False, True])
def test_made_is_autoregressive_and_the_iaf_step_inverts(rng, reverse):
    weights, masks = random_iaf_layer(rng, 4, [8, 8], 3, reverse)
    context, z = rng.normal(size=3), rng.normal(size=4)
    order = list(range(4))[::-1] if reverse else list(range(4))
    for output in ("m", "s"):
        index = 0 if output == "m" else 1
        jacobian = ref.numerical_jacobian(lambda v: ref.made(v, weights, masks, context)[index], z)
        for place, i in enumerate(order):
            # Output i depends on the dimensions before it in the order, and on nothing else.
            before = order[:place]
            assert np.all(jacobian[i, [j for j in range(4) if j not in before]] == 0)
            if place > 0:
                assert np.any(jacobian[i, before] != 0)
    y, log_det = ref.iaf_step(z, context, weights, masks)
    numeric = ref.numerical_log_abs_det(lambda v: ref.iaf_step(v, context, weights, masks)[0], z)
    assert log_det == pytest.approx(numeric, abs=1e-6)
    np.testing.assert_allclose(ref.iaf_inverse_step(y, context, weights, masks, reverse), z, atol=1e-10)


def test_maf_log_det_is_the_jacobians(rng):
    weights, masks = random_iaf_layer(rng, 3, [6], 0, reverse=True)
    z = rng.normal(size=3)
    _, log_det = ref.maf_inverse_step(z, weights, masks)
    numeric = ref.numerical_log_abs_det(lambda v: ref.maf_inverse_step(v, weights, masks)[0], z)
    assert log_det == pytest.approx(numeric, abs=1e-6)


def flowed_log_density(y, mean, log_variance, layers):
    """log q(y) of a Gaussian moved by ``layers`` (forward, inverse) pairs: invert, then subtract the log-dets."""
    z = y
    for _, inverse in reversed(layers):
        z = inverse(z)
    log_density, code = float(ref.gaussian_log_density(z, mean, log_variance)), z
    for forward, _ in layers:
        code, log_det = forward(code)
        log_density -= log_det
    np.testing.assert_allclose(code, y, atol=1e-8)
    return log_density


def test_flowed_densities_integrate_to_one_on_a_grid(rng):
    mean, log_variance = np.array([0.3, -0.2]), np.array([-0.5, 0.2])
    planar_layers = []
    while len(planar_layers) < 2:
        w, b = rng.normal(size=2) * 2, rng.normal()
        u_hat = ref.planar_u_hat(rng.normal(size=2) * 2, w)
        if w @ u_hat < -0.5:
            continue  # near w . u_hat = -1 the layer folds space into a ridge too thin for this grid
        planar_layers.append(
            (
                lambda z, u=u_hat, w=w, b=b: ref.planar_forward(z, u, w, b),
                lambda y, u=u_hat, w=w, b=b: ref.planar_inverse(y, u, w, b),
            )
        )
    radial_layers = []
    for _ in range(2):
        center = rng.normal(size=2)
        alpha, beta = ref.radial_alpha_beta(rng.normal(), rng.normal() + 1.0)
        radial_layers.append(
            (
                lambda z, c=center, a=alpha, b=beta: ref.radial_forward(z, c, a, b),
                lambda y, c=center, a=alpha, b=beta: ref.radial_inverse(y, c, a, b),
            )
        )
    context = rng.normal(size=3)
    iaf_layers = []
    for reverse in (False, True):
        # Output kernels small enough that no sigma on the grid underflows (the inverse divides by it).
        weights, masks = random_iaf_layer(rng, 2, [4], 3, reverse, scale=0.2)
        iaf_layers.append(
            (
                lambda z, w=weights, m=masks: ref.iaf_step(z, context, w, m),
                lambda y, w=weights, m=masks, r=reverse: ref.iaf_inverse_step(y, context, w, m, r),
            )
        )
    points, area = ref.grid(-7.0, 7.0, 71)
    for layers in (planar_layers, radial_layers, iaf_layers):
        total = sum(math.exp(flowed_log_density(point, mean, log_variance, layers)) for point in points) * area
        assert total == pytest.approx(1.0, abs=0.01)
