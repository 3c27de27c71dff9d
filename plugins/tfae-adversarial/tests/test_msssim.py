"""MS-SSIM: SSIM, MS-SSIM and the loss against NumPy (and TensorFlow's own tf.image functions), the objective on
terms made by hand, the sizes it refuses with the weights that fit, a model that trains with it on the digits,
and every refusal's message. (Its example config runs through `tfae train`: test_examples.py.)

The checks of the maths run on TensorFlow here and again on JAX in a fresh process (test_on_jax.py).
"""

import doctest
import json
import re

import keras
import numpy as np
import pytest
from keras import ops

import numpy_reference as reference
import tfae_adversarial.msssim
from tfae.bottlenecks import Posterior
from tfae.datasets import load_digits
from tfae.likelihoods import BernoulliLikelihood
from tfae.models import Autoencoder
from tfae.objectives import ObjectiveTerms
from tfae.plugins import get_component, resolve
from tfae.testing import check_objective, gradients
from tfae_adversarial.msssim import (
    WANG_WEIGHTS,
    MultiScaleSSIMObjective,
    gaussian_window,
    msssim_loss,
    multiscale_ssim,
    scales_that_fit,
    ssim,
    ssim_per_scale,
    wang_weights,
)

DIGIT_WEIGHTS = [0.1356, 0.8644]


def to_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor), dtype="float64")


def image_pairs(shape, seed, noise=0.2):
    """Images in [0, 1] and noisy copies of them, clipped to [0, 1]; the first pair is identical."""
    rng = np.random.default_rng(seed)
    x = rng.random(shape)
    y = np.clip(x + noise * rng.normal(size=shape), 0.0, 1.0)
    y[0] = x[0]
    return x.astype("float32"), y.astype("float32")


CASES = [
    # shape, window_size, sigma, data_range, weights
    ((3, 8, 8), 3, 1.5, 1.0, DIGIT_WEIGHTS),
    ((2, 13, 12, 3), 3, 0.8, 1.0, [0.2, 0.3, 0.5]),
    ((2, 20, 22), 5, 1.5, 2.0, [0.3, 0.7]),
    ((2, 11, 11), 11, 1.5, 1.0, [1.0]),
]


def check_the_windows_match_numpy():
    for size, sigma in ((3, 1.5), (5, 0.8), (11, 1.5)):
        np.testing.assert_allclose(gaussian_window(size, sigma), reference.gaussian_window(size, sigma), rtol=1e-6)


def check_ssim_per_scale_matches_numpy():
    """Each scale's mean SSIM and mean contrast-structure, for one and three channels, odd sides pooled down."""
    for seed, (shape, window_size, sigma, data_range, weights) in enumerate(CASES):
        x, y = image_pairs(shape, seed)
        x, y = x * data_range, y * data_range
        scales = len(weights)
        found_ssim, found_cs = ssim_per_scale(x, y, scales, window_size, sigma, data_range)
        assert tuple(found_ssim.shape) == (scales, shape[0]) and str(ops.dtype(found_ssim)) == "float32"
        for image in range(shape[0]):
            expected = reference.per_scale(x[image], y[image], scales, window_size, sigma, data_range)
            np.testing.assert_allclose(to_numpy(found_ssim)[:, image], [s for s, _ in expected], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(to_numpy(found_cs)[:, image], [c for _, c in expected], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(
            to_numpy(ssim(x, y, window_size, sigma, data_range)), to_numpy(found_ssim[0]), rtol=1e-6
        )


def check_ms_ssim_and_the_loss_match_numpy():
    """Wang's MS-SSIM (Eq. 7), and the loss with pythae's (1 + v) / 2 mapping, image by image."""
    for seed, (shape, window_size, sigma, _data_range, weights) in enumerate(CASES):
        x, y = image_pairs(shape, seed + 10, noise=0.5)
        found = to_numpy(multiscale_ssim(x, y, weights, window_size, sigma))
        losses = to_numpy(msssim_loss(x, y, weights, window_size, sigma))
        assert found.shape == losses.shape == (shape[0],)
        for image in range(shape[0]):
            expected = reference.ms_ssim(x[image], y[image], weights, window_size, sigma)
            np.testing.assert_allclose(found[image], expected, rtol=1e-5, atol=1e-6)
            expected_loss = reference.pythae_ms_ssim_loss(x[image], y[image], weights, window_size, sigma)
            np.testing.assert_allclose(losses[image], expected_loss, rtol=1e-5, atol=1e-6)
        assert found[0] == pytest.approx(1.0, abs=1e-5) and losses[0] == pytest.approx(0.0, abs=1e-5)


def check_the_objective_scores_the_likelihoods_mean():
    """The objective's loss is msssim_loss of the targets and the likelihood's mean of the outputs (sigmoid of
    Bernoulli logits; the outputs as they are without a likelihood), weighted by the samples' weights, plus the
    penalties; it logs msssim_loss."""
    x, _ = image_pairs((4, 8, 8), seed=5)
    logits = np.random.default_rng(6).normal(scale=2.0, size=(4, 8, 8)).astype("float32")
    code = np.zeros((4, 2), dtype="float32")
    objective = MultiScaleSSIMObjective(DIGIT_WEIGHTS, window_size=3)
    weights = np.array([1.0, 0.5, 2.0, 0.0], dtype="float32")
    for likelihood, images, sample_weight in (
        (BernoulliLikelihood(), reference.sigmoid(logits), None),
        (None, logits, weights),
    ):
        terms = ObjectiveTerms(
            np.zeros((1, 4), dtype="float32"),
            Posterior(parameters=(code,), code=code),
            {"kld_loss": ops.convert_to_tensor(0.25)},
            in_nats=likelihood is not None,
            targets=x,
            outputs=logits[None],
            likelihood=likelihood,
            sample_weight=sample_weight,
        )
        results = objective(terms)
        assert set(results) == {"loss", "reconstruction_loss", "msssim_loss"}
        np.testing.assert_array_equal(to_numpy(results["reconstruction_loss"]), to_numpy(results["msssim_loss"]))
        expected = np.array([reference.pythae_ms_ssim_loss(x[i], images[i], DIGIT_WEIGHTS, 3) for i in range(4)])
        expected = expected if sample_weight is None else expected * sample_weight
        np.testing.assert_allclose(to_numpy(results["msssim_loss"]), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(to_numpy(results["loss"]), expected + 0.25, rtol=1e-5, atol=1e-6)


class Shift(keras.layers.Layer):
    """Adds a trainable image, zero at first, to its input: the gradient with respect to it is the input's."""

    def build(self, input_shape):
        self.shift = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros")

    def call(self, inputs):
        return inputs + self.shift


def check_anticorrelated_images_still_have_a_gradient():
    """Where a factor is negative, Wang's MS-SSIM is 0, with no usable gradient (0 ** w has an infinite
    derivative); the loss's mapped factors keep a finite one."""
    x, _ = image_pairs((2, 8, 8), seed=3)
    y = 1.0 - x
    assert np.all(to_numpy(ssim(x, y, 3)) < 0)
    shift = Shift()
    inputs = keras.Input(shape=(8, 8))
    model = keras.Model(inputs, shift(inputs))
    mapped = lambda outputs, losses: ops.sum(msssim_loss(x, outputs, DIGIT_WEIGHTS, 3))  # noqa: E731
    (gradient,) = gradients(model, y, mapped, [shift.shift])
    assert np.all(np.isfinite(gradient)) and np.any(gradient != 0)
    value = to_numpy(msssim_loss(x, y, DIGIT_WEIGHTS, 3))
    assert np.all((0.5 < value) & (value < 1.0))
    wang = lambda outputs, losses: ops.sum(multiscale_ssim(x, outputs, DIGIT_WEIGHTS, 3))  # noqa: E731
    (flat,) = gradients(model, y, wang, [shift.shift])
    assert flat is None or not np.all(np.isfinite(flat)) or not np.any(flat)


CHECKS = [
    check_the_windows_match_numpy,
    check_ssim_per_scale_matches_numpy,
    check_ms_ssim_and_the_loss_match_numpy,
    check_anticorrelated_images_still_have_a_gradient,
    check_the_objective_scores_the_likelihoods_mean,
]
#: Those that test_on_jax.py runs again on JAX (JAX compiles each new shape, so the suite's time allows these few).
ON_JAX = [check_ms_ssim_and_the_loss_match_numpy, check_the_objective_scores_the_likelihoods_mean]


@pytest.mark.parametrize("check", CHECKS)
def test_the_check(check):
    check()


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="compares with tf.image")
def test_it_agrees_with_tensorflows_own_ssim_and_ms_ssim():
    """tf.image.ssim and ssim_multiscale, written independently, give the same values on grey images
    (power_factors are the weights; TensorFlow's windows are valid ones too). On colour images TensorFlow's
    MS-SSIM is each channel's, then averaged; here, as in pythae, each factor averages over the channels."""
    import tensorflow as tf

    x, y = image_pairs((4, 16, 16, 3), seed=1)
    expected = tf.image.ssim(x, y, 1.0, filter_size=5, filter_sigma=1.5).numpy()
    np.testing.assert_allclose(to_numpy(ssim(x, y, 5)), expected, rtol=1e-5, atol=1e-6)
    x, y = image_pairs((4, 16, 16, 1), seed=2)
    expected = tf.image.ssim(x, y, 1.0, filter_size=5, filter_sigma=1.5).numpy()
    np.testing.assert_allclose(to_numpy(ssim(x, y, 5)), expected, rtol=1e-5, atol=1e-6)
    weights = [0.2, 0.3, 0.5]
    expected = tf.image.ssim_multiscale(x, y, 1.0, power_factors=weights, filter_size=3).numpy()
    np.testing.assert_allclose(to_numpy(multiscale_ssim(x, y, weights, 3)), expected, rtol=1e-5, atol=1e-6)


def test_the_scales_that_fit_and_wangs_weights_for_them():
    assert scales_that_fit(8, 8, 3) == 2 and scales_that_fit(8, 8, 5) == 1 and scales_that_fit(8, 8, 11) == 0
    assert (
        scales_that_fit(28, 28, 11) == 2 and scales_that_fit(176, 200, 11) == 5 and scales_that_fit(175, 200, 11) == 4
    )
    assert wang_weights(2) == DIGIT_WEIGHTS and wang_weights(5) == [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    assert sum(WANG_WEIGHTS) == pytest.approx(1.0, abs=2e-4)


def terms_of(images):
    code = np.zeros((len(images), 2), dtype="float32")
    return ObjectiveTerms(
        np.zeros((1, len(images)), dtype="float32"),
        Posterior(parameters=(code,), code=code),
        {},
        in_nats=False,
        targets=images,
        outputs=images[None],
    )


def test_images_too_small_for_the_scales_are_refused_with_the_weights_that_fit():
    x, _ = image_pairs((2, 8, 8), seed=0)
    message = (
        "MultiScaleSSIMObjective with 5 scales and window_size=11 needs images of at least 176 x 176 pixels: each "
        "scale halves the image, and the smallest must still hold the 11 x 11 window. These are 8 x 8, which hold 0 "
        "scales with window_size=11; with window_size=3 they hold 2: weights=[0.1356, 0.8644]."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        MultiScaleSSIMObjective()(terms_of(x))
    with pytest.raises(
        ValueError, match=r"These are 8 x 8, which hold 1 scale with window_size=5: pass weights=\[1.0\]"
    ):
        MultiScaleSSIMObjective(weights=[0.5, 0.5], window_size=5)(terms_of(x))


def test_the_objective_contract_on_images():
    """tfae.testing.check_objective on 8 x 8 images: results, config, refusals, training, saving and loading."""
    check_objective(lambda: MultiScaleSSIMObjective(DIGIT_WEIGHTS, window_size=3), input_shape=(8, 8, 8))


def test_flat_data_is_refused_saying_to_give_images():
    x = np.zeros((2, 64), dtype="float32")
    message = (
        r"compares images, of shape \(batch, height, width\) or \(batch, height, width, channels\). "
        r"Received shape \(2, 64\)"
    )
    with pytest.raises(ValueError, match=message):
        MultiScaleSSIMObjective(DIGIT_WEIGHTS, window_size=3)(terms_of(x))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"weights": []}, r"`weights` must be a non-empty list of positive numbers.*Received: weights=\[\]"),
        ({"weights": [0.5, -0.5]}, r"`weights` must be .*Received: weights=\[0.5, -0.5\]"),
        ({"weights": 0.5}, r"`weights` must be .*Received: weights=0.5"),
        ({"weights": ["1"]}, r"`weights` must be .*Received: weights=\['1'\]"),
        ({"window_size": 4}, r"`window_size` must be an odd positive integer.*Received: window_size=4"),
        ({"window_size": 0}, r"`window_size` must be an odd positive integer.*Received: window_size=0"),
        ({"window_size": 3.0}, r"`window_size` must be an odd positive integer.*Received: window_size=3.0"),
        ({"sigma": 0}, r"`sigma` must be a positive number.*Received: sigma=0"),
        ({"sigma": float("inf")}, r"`sigma` must be a positive number.*Received: sigma=inf"),
        ({"data_range": -1.0}, r"`data_range` must be a positive number.*Received: data_range=-1.0"),
        ({"data_range": True}, r"`data_range` must be a positive number.*Received: data_range=True"),
    ],
)
def test_bad_arguments_are_refused_when_made(arguments, message):
    with pytest.raises(ValueError, match=message):
        MultiScaleSSIMObjective(**arguments)


def test_registered_by_name_and_rebuilt_from_config():
    assert get_component("objective", "msssim") is MultiScaleSSIMObjective
    assert get_component("objective", "msssim_vae") is MultiScaleSSIMObjective
    objective = resolve("objective", {"name": "msssim", "weights": [0.25, 0.75], "window_size": 5, "sigma": 1.0})
    config = json.loads(json.dumps(objective.get_config()))
    assert config == {"weights": [0.25, 0.75], "window_size": 5, "sigma": 1.0, "data_range": 1.0}
    rebuilt = MultiScaleSSIMObjective.from_config(config)
    assert rebuilt.get_config() == config and rebuilt.importance_samples == 1
    assert resolve("objective", "msssim").get_config()["weights"] == list(WANG_WEIGHTS)


def test_a_model_trains_with_it_on_the_digits():
    """loss = msssim_loss + regularization_loss; msssim_loss in [0, 1] falls; reconstruction_loss is that term,
    the one minimised, not the Bernoulli likelihood's nats; predict gives pixels in [0, 1]."""
    images = load_digits()[0][:128]
    model = Autoencoder({"name": "gaussian", "latent_dim": 2, "seed": 0, "regularizer": {"name": "kld", "beta": 0.01}})
    objective = {"name": "msssim", "weights": DIGIT_WEIGHTS, "window_size": 3}
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="bernoulli", objective=objective)
    history = model.fit(images, epochs=3, batch_size=32, verbose=0).history
    msssim = np.asarray(history["msssim_loss"])
    assert np.all((0 < msssim) & (msssim < 1)) and msssim[-1] < msssim[0], history
    np.testing.assert_allclose(history["loss"], msssim + history["regularization_loss"], rtol=1e-5)
    np.testing.assert_allclose(history["reconstruction_loss"], msssim, rtol=1e-5)
    predictions = model.predict(images[:8], verbose=0)
    assert predictions.shape == (8, 8, 8) and predictions.min() >= 0 and predictions.max() <= 1


def test_the_docstring_examples_run():
    found = doctest.testmod(
        tfae_adversarial.msssim, extraglobs={"keras": keras, "np": np}, optionflags=doctest.ELLIPSIS
    )
    assert found.attempted > 0 and found.failed == 0
