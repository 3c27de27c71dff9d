"""Every built-in regularizer on the most extreme parameters a bottleneck can give: never NaN; equal to its
closed form (NumPy, float64) wherever that is below float32's largest number, inf past it; and in fit, an inf
penalty stops training with DivergenceError naming it.

The bottlenecks clip nothing: a Gaussian bottleneck's mean and log-variance, and a Bernoulli one's logits,
are a Dense layer's float32 outputs, so the range tested is every finite float32.
"""

import math
import os

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tfae.errors import DivergenceError
from tfae.models import Autoencoder
from tfae.regularizers import (
    BernoulliKLDRegularizer,
    GaussianKLDRegularizer,
    GaussianReversedKLDRegularizer,
    L2Regularizer,
)

pytestmark = pytest.mark.backend_neutral

# As tests/test_properties.py: 100 examples, the same in every run; HYPOTHESIS_PROFILE=explore draws 2,000 new ones.
EXPLORE = os.environ.get("HYPOTHESIS_PROFILE") == "explore"
PROPERTY = settings(
    max_examples=2000 if EXPLORE else 100,
    derandomize=not EXPLORE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

FLOAT32_MAX = float(np.finfo(np.float32).max)
LOG_2 = math.log(2.0)

# The edges of float32 and of exp in it: exp overflows past 88.72, 0.5 * exp past 89.41, exp(-x / 2) past 177.4;
# exp(-x) falls below the smallest normal float32 (which CPUs flush to 0) past 87.3.
EDGES = np.array(
    [
        0.0,
        1e-45,
        1e-38,
        1e-30,
        1e-3,
        0.5,
        1.0,
        20.0,
        80.0,
        88.0,
        88.7,
        88.8,
        89.0,
        89.4,
        89.5,
        100.0,
        176.0,
        178.0,
        1e3,
        1.8e19,
        2.6e19,
        1e20,
        1e30,
        1.8e38,
        FLOAT32_MAX,
    ],
    dtype=np.float32,
)
EDGE_VALUES = np.concatenate([EDGES, -EDGES[1:]])


def half_exp_minus_one(x):
    """0.5 * (exp(x) - 1) in float64, inf where it passes float64."""
    with np.errstate(over="ignore"):
        return 0.5 * np.expm1(x)


def half_square_times_exp(mean, exponent):
    """0.5 * mean**2 * exp(exponent) in float64 without 0 * inf: exp(2 log|mean| + exponent - log 2)."""
    with np.errstate(over="ignore", divide="ignore"):
        return np.where(mean == 0.0, 0.0, np.exp(2.0 * np.log(np.abs(mean)) + exponent - LOG_2))


def kld(mean, log_variance):
    return np.sum(half_square_times_exp(mean, 0.0) + half_exp_minus_one(log_variance) - 0.5 * log_variance, axis=-1)


def reversed_kld(mean, log_variance):
    return np.sum(
        half_exp_minus_one(-log_variance) + 0.5 * log_variance + half_square_times_exp(mean, -log_variance), axis=-1
    )


def bernoulli_kld(logits):
    log_q, log_complement = -np.logaddexp(0.0, -logits), -np.logaddexp(0.0, logits)
    return np.sum(np.exp(log_q) * (log_q + LOG_2) + np.exp(log_complement) * (log_complement + LOG_2), axis=-1)


def l2(code):
    with np.errstate(over="ignore"):
        return np.sum(np.square(code), axis=-1)


CASES = {
    "kld": (GaussianKLDRegularizer, kld, 2),
    "reversed_kld": (GaussianReversedKLDRegularizer, reversed_kld, 2),
    "bernoulli_kld": (BernoulliKLDRegularizer, bernoulli_kld, 1),
    "l2": (L2Regularizer, l2, 1),
}


def check_against_closed_form(name, *parameters):
    """The regularizer's value per sample is never NaN, equals the float64 closed form where that is below
    float32's largest number, and is inf where the closed form is past it (a band of 1e-6 left for rounding)."""
    regularizer_class, closed_form, _ = CASES[name]
    value = np.asarray(
        keras.ops.convert_to_numpy(
            regularizer_class().calc(*(keras.ops.convert_to_tensor(p, "float32") for p in parameters))
        ),
        "float64",
    )
    expected = closed_form(*(np.asarray(p, np.float32).astype("float64") for p in parameters))
    assert not np.any(np.isnan(value)), f"{name} is NaN at {parameters}"
    fits = expected < FLOAT32_MAX * (1 - 1e-6)
    overflows = expected > FLOAT32_MAX * (1 + 1e-6)
    np.testing.assert_allclose(value[fits], expected[fits], rtol=2e-5, atol=1e-6, err_msg=f"{name} at {parameters}")
    assert np.all(value[overflows] == np.inf), f"{name} is finite where its value passes float32: {parameters}"


@pytest.mark.parametrize("name", ["kld", "reversed_kld"])
def test_gaussian_divergences_at_every_pair_of_edges(name):
    mean, log_variance = (grid.reshape(-1, 1) for grid in np.meshgrid(EDGE_VALUES, EDGE_VALUES))
    check_against_closed_form(name, mean, log_variance)
    # Several dimensions whose sum overflows while each term fits.
    check_against_closed_form(
        name, np.zeros((1, 3), np.float32), np.full((1, 3), 89.0 if name == "kld" else -89.0, np.float32)
    )


@pytest.mark.parametrize("name", ["bernoulli_kld", "l2"])
def test_one_parameter_regularizers_at_every_edge(name):
    check_against_closed_form(name, EDGE_VALUES.reshape(-1, 1))
    check_against_closed_form(name, EDGE_VALUES.reshape(-1, 7))


finite_float32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
# Mostly values where exp is finite, and now and then anywhere in float32.
moderate_or_any = st.one_of(st.floats(-200.0, 200.0, width=32), finite_float32)


@PROPERTY
@given(arrays(np.float32, (4, 3), elements=moderate_or_any), arrays(np.float32, (4, 3), elements=moderate_or_any))
def test_gaussian_divergences_on_any_finite_float32_parameters(mean, log_variance):
    check_against_closed_form("kld", mean, log_variance)
    check_against_closed_form("reversed_kld", mean, log_variance)


@PROPERTY
@given(arrays(np.float32, (4, 3), elements=moderate_or_any))
def test_bernoulli_kld_and_l2_on_any_finite_float32_parameters(values):
    check_against_closed_form("bernoulli_kld", values)
    check_against_closed_form("l2", values)
    kl = np.asarray(keras.ops.convert_to_numpy(BernoulliKLDRegularizer().calc(keras.ops.convert_to_tensor(values))))
    assert np.all(kl >= -1e-6) and np.all(kl <= 3 * LOG_2 + 1e-5)


def test_reversed_kld_at_log_variance_minus_89_and_mean_0_is_its_value_not_nan():
    # It was NaN: 0 * exp(89), 0 * inf in float32.
    value = float(GaussianReversedKLDRegularizer().calc(keras.ops.zeros((1, 1)), keras.ops.full((1, 1), -89.0))[0])
    assert value == pytest.approx(0.5 * (math.exp(89.0) - 1.0 - 89.0), rel=1e-5)
    assert math.isfinite(value) and value > 2.2e38


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="gradients taken with tf.GradientTape")
@pytest.mark.parametrize("regularizer_class", [GaussianKLDRegularizer, GaussianReversedKLDRegularizer])
def test_gradients_are_never_nan_where_the_value_is_finite(regularizer_class):
    import tensorflow as tf

    mean, log_variance = (tf.Variable(grid.reshape(-1, 1)) for grid in np.meshgrid(EDGE_VALUES, EDGE_VALUES))
    with tf.GradientTape() as tape:
        value = regularizer_class().calc(mean, log_variance)
    gradients = [gradient.numpy() for gradient in tape.gradient(value, [mean, log_variance])]
    finite = np.isfinite(value.numpy())
    for gradient in gradients:
        assert not np.any(np.isnan(gradient[finite]))
    # At the point of the bug, the gradient is the closed form's: d/dv 0.5 * (exp(-v) - 1 + v) = 0.5 * (1 - exp(-v)).
    at_bug = (mean.numpy()[:, 0] == 0) & (log_variance.numpy()[:, 0] == -89.0)
    if regularizer_class is GaussianReversedKLDRegularizer:
        assert gradients[1][at_bug, 0] == pytest.approx(0.5 * (1 - math.exp(89.0)), rel=1e-5)


def test_an_inf_penalty_in_fit_stops_training_naming_the_regularizer():
    # A posterior whose log-variance the Dense layer puts at -200: the reversed KL, 0.5 * exp(200), passes float32.
    x = np.random.default_rng(0).random((32, 6)).astype("float32")
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "reversed_kld", "seed": 0})
    model.compile(optimizer="adam", loss="bernoulli")
    model.predict(x[:1], verbose=0)
    kernel, bias = model.bottleneck.dense.get_weights()
    model.bottleneck.dense.set_weights([np.zeros_like(kernel), np.array([0.0, 0.0, -200.0, -200.0], "float32")])
    before = [weight.copy() for weight in model.get_weights()]
    with pytest.raises(
        DivergenceError,
        match=r"the loss and regularization_loss and reversed_kld_loss became inf in "
        r"epoch 1 of 1.*the reversed_kld_loss, which became inf while the "
        r"reconstruction_loss stayed finite",
    ):
        model.fit(x, epochs=1, batch_size=32, verbose=0)  # one step: the next would start from NaN weights
    for weight, kept in zip(model.get_weights(), before):
        np.testing.assert_array_equal(weight, kept)
