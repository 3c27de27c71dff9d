"""log I_v, its exponentially scaled form and the ratio I_(v+1) / I_v, in float32, against SciPy's in float64,
with their gradients, for the orders the vMF of latent_dim 2 to 66 needs and kappa from 1e-4 to 1e5."""

import sys
from pathlib import Path

import numpy as np
import pytest
from keras import ops

from tfae_geometric.bessel import SERIES_BELOW, bessel_ratio, log_bessel_iv, log_bessel_ive

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402

# Every order below 8 (Hankel's expansion) and a few from 8 on (Debye's): latent_dim = 2 (v = 0) to 66.
ORDERS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.5, 6.0, 7.5, 8.0, 8.5, 12.0, 15.5, 23.0, 32.0]
KAPPAS = np.logspace(-4, 5, 181).astype("float32")


def value_and_gradient(function, kappa):
    import keras

    if keras.backend.backend() == "jax":
        import jax

        value = function(kappa)
        gradient = jax.grad(lambda k: ops.sum(function(k)))(kappa)
        return np.asarray(value, "float64"), np.asarray(gradient, "float64")
    import tensorflow as tf

    tensor = tf.convert_to_tensor(kappa)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        value = function(tensor)
    return value.numpy().astype("float64"), tape.gradient(value, tensor).numpy().astype("float64")


@pytest.mark.parametrize("order", ORDERS)
def test_log_iv_and_its_gradient_match_scipy(order):
    kappa = KAPPAS.astype("float64")
    value, gradient = value_and_gradient(lambda k: log_bessel_iv(order, k), KAPPAS)
    expected = ref.log_iv(order, kappa)
    np.testing.assert_allclose(value, expected, rtol=3e-6, atol=3e-6)
    np.testing.assert_allclose(gradient, ref.d_log_iv(order, kappa), rtol=3e-6)


@pytest.mark.parametrize("order", ORDERS)
def test_log_ive_keeps_its_precision_where_kappa_is_large(order):
    value = ops.convert_to_numpy(log_bessel_ive(order, KAPPAS)).astype("float64")
    expected = np.log(ref.special.ive(order, KAPPAS.astype("float64")))
    # log ive is of the size of log kappa (or of v log kappa for small kappa): an absolute error of float32's.
    np.testing.assert_allclose(value, expected, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("order", ORDERS)
def test_ratio_and_its_gradient_match_scipy(order):
    kappa = KAPPAS.astype("float64")
    value, gradient = value_and_gradient(lambda k: bessel_ratio(order, k), KAPPAS)
    expected = ref.bessel_ratio(order, kappa)
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    # R' = 1 - (2v + 1) R / kappa - R^2 (DLMF 10.29.2); near kappa = 0, R' = 1 / (2(v + 1)).
    derivative = 1.0 - (2 * order + 1) * expected / kappa - expected**2
    small = kappa < 1e-2
    derivative[small] = 1.0 / (2 * (order + 1)) - 3 * kappa[small] ** 2 / (8 * (order + 1) ** 2 * (order + 2))
    np.testing.assert_allclose(gradient, derivative, rtol=2e-4, atol=1e-9)


def test_the_series_and_the_expansions_agree_where_they_meet():
    below, above = np.nextafter(np.float32(SERIES_BELOW), np.float32(0)), np.float32(SERIES_BELOW)
    for order in ORDERS:
        values = ops.convert_to_numpy(log_bessel_iv(order, np.array([below, above], "float32")))
        assert abs(values[1] - values[0]) < 1e-5 * abs(values[1]) + 2e-6, (order, values)


def test_half_integer_order_has_its_closed_form():
    # I_(1/2)(x) = sqrt(2 / (pi x)) sinh(x): exact, for the sphere S^2 (latent_dim 3).
    kappa = np.array([1e-3, 0.5, 3.0, 19.0, 25.0, 400.0])
    expected = 0.5 * np.log(2 / (np.pi * kappa)) + kappa + np.log1p(-np.exp(-2 * kappa)) - np.log(2)
    value = ops.convert_to_numpy(log_bessel_iv(0.5, kappa.astype("float32")))
    np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("order", [-1, float("nan"), "1"])
def test_an_order_that_is_not_a_number_at_least_0_is_refused(order):
    with pytest.raises(ValueError, match=r"The order of the Bessel function must be a number >= 0\. Received: order="):
        log_bessel_iv(order, np.ones(2, "float32"))
