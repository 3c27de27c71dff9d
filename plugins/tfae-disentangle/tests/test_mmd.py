"""The MMD regularizer: the estimate against NumPy, its prior samples and seeds, InfoVAE and WAE-MMD models.

The checks that touch the maths, the random numbers or a model run on TensorFlow here and again on JAX in a
fresh process (``test_on_jax.py``): the suite runs on the default backend.
"""

import doctest
import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

import numpy_reference as reference
import tfae
import tfae.random
import tfae_disentangle.mmd
from tfae import testing
from tfae.bottlenecks import GaussianBottleneck, Posterior, VanillaBottleneck
from tfae.datasets import load_digits
from tfae.models import Autoencoder
from tfae.plugins import get_component, resolve
from tfae_disentangle.mmd import WAE_IMQ_SCALES, MMDRegularizer, mmd

TESTS = Path(__file__).resolve().parent
EXAMPLE = TESTS.parent / "src" / "tfae_disentangle" / "examples" / "info_vae.toml"
#: The shape of the codes the regularizer's checks give it: a batch of 256 codes of 4 dimensions.
SHAPE = (256, 4)


def normal(seed, shape, shift=0.0):
    return (np.random.default_rng(seed).normal(size=shape) + shift).astype("float32")


def posterior_of(codes):
    return Posterior(parameters=(codes,), code=codes)


def penalty(regularizer, codes, training=False):
    return float(regularizer(posterior_of(codes), training=training))


def state(regularizer):
    return ops.convert_to_numpy(regularizer.seed_generator.state).tolist()


def compiled(function, static_argnums=()):
    """``function`` compiled on JAX, where each eager op is compiled on its first use (seconds for an MMD)."""
    if keras.backend.backend() != "jax":
        return function
    import jax

    return jax.jit(function, static_argnums=static_argnums)


def check_the_estimate_equals_the_numpy_reference():
    """``mmd`` of given codes and prior samples is numpy_reference.mmd, for each kernel and scales, m != n too."""
    assert WAE_IMQ_SCALES == reference.WAE_IMQ_SCALES
    estimate = compiled(mmd, static_argnums=(2, 3))
    cases = [((64, 4), (64, 4)), ((30, 3), (50, 3)), ((2, 1), (5, 1)), ((100, 16), (100, 16))]
    for index, (x_shape, y_shape) in enumerate(cases):
        x, y = normal(index, x_shape, shift=0.5), normal(100 + index, y_shape)
        for kernel in ("imq", "rbf"):
            for scales in (WAE_IMQ_SCALES, 1.0, (0.5, 3.0)):
                found = estimate(x, y, kernel, scales)
                assert str(ops.dtype(found)) == "float32" and tuple(found.shape) == ()
                expected = reference.mmd(x, y, kernel, scales=[scales] if isinstance(scales, float) else scales)
                np.testing.assert_allclose(float(found), expected, rtol=1e-4, atol=2e-6, err_msg=f"{kernel} {scales}")


def check_the_penalty_is_the_mmd_of_the_codes_and_the_prior_samples_of_its_seed():
    codes = normal(0, SHAPE, shift=0.3)
    regularizer = MMDRegularizer(beta=2.5, kernel="rbf", scales=(0.5, 1.0), seed=7)
    # The same seed generator draws the same N(0, I) numbers, the shape of the codes.
    prior_samples = ops.convert_to_numpy(tfae.random.normal(SHAPE, keras.random.SeedGenerator(7), dtype="float32"))
    expected = 2.5 * reference.mmd(codes, prior_samples, "rbf", scales=(0.5, 1.0))
    assert penalty(regularizer, codes) == pytest.approx(expected, rel=1e-4)


def check_near_zero_for_prior_samples_and_large_for_shifted_codes():
    regularizer = MMDRegularizer(seed=0)
    codes = normal(1, SHAPE)
    values = [penalty(regularizer, codes) for _ in range(5)]
    assert abs(np.mean(values)) < 0.02 and max(map(abs, values)) < 0.05, values
    assert penalty(regularizer, codes + 2.0) > 1.0
    assert penalty(MMDRegularizer(kernel="rbf", scales=1.0, seed=0), codes + 2.0) > 0.1


def check_seeds():
    """The same seed gives the same penalty; another seed another; each call draws new samples."""
    codes = normal(2, SHAPE)
    first, same, other = MMDRegularizer(seed=1), MMDRegularizer(seed=1), MMDRegularizer(seed=2)
    values = [penalty(first, codes), penalty(same, codes), penalty(other, codes)]
    assert values[0] == values[1] and values[0] != values[2], values
    assert penalty(first, codes) != values[0]
    assert state(first) != state(same)


def small_model(bottleneck, regularizer):
    keras.utils.set_random_seed(0)
    return Autoencoder(bottleneck={"name": bottleneck, "latent_dim": 4, "regularizer": regularizer})


def check_each_train_step_draws_new_prior_samples():
    """In fit the generator moves on once per step (compiled, with several steps per execution)."""
    images = load_digits()[0][:320].reshape(-1, 64)
    model = small_model("gaussian", ["kld", {"name": "mmd", "beta": 10, "seed": 3}])
    regularizer = model.bottleneck.regularizers[1]
    model.compile(optimizer="adam", loss="bernoulli", steps_per_execution=2)
    model.build(images.shape)
    before = state(regularizer)
    model.fit(images, epochs=2, batch_size=64, verbose=0)
    after = state(regularizer)
    assert after[0] == before[0] and after[1] == before[1] + 10, (before, after)


def check_an_info_vae_trains_saves_and_loads(folder):
    images = load_digits()[0][:256].reshape(-1, 64)
    model = small_model("gaussian", ["kld", {"name": "mmd", "beta": 10}])
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(images, epochs=2, batch_size=64, verbose=0).history
    for key in ("kld_loss", "mmd_loss", "regularization_loss"):
        assert key in history and np.all(np.isfinite(history[key])), (key, history)
    total = np.add(history["kld_loss"], history["mmd_loss"])
    np.testing.assert_allclose(history["regularization_loss"], total, rtol=1e-5)

    path = os.path.join(folder, "info_vae.keras")
    model.save(path)
    loaded = tfae.load_model(path)
    regularizers = loaded.bottleneck.regularizers
    assert [type(r).__name__ for r in regularizers] == ["GaussianKLDRegularizer", "MMDRegularizer"]
    assert regularizers[1].get_config() == {"beta": 10.0, "kernel": "imq", "scales": list(WAE_IMQ_SCALES), "seed": None}
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    again = loaded.fit(images, epochs=1, batch_size=64, verbose=0).history
    assert np.isfinite(again["mmd_loss"][0])


def check_a_wae_mmd_trains_and_its_gradient_reaches_the_encoder():
    """On a deterministic bottleneck the MMD alone regularises: WAE-MMD."""
    inputs = keras.Input(shape=(6,))
    bottleneck = VanillaBottleneck(latent_dim=2, regularizer=MMDRegularizer(beta=1.0, seed=0))
    network = keras.Model(inputs, bottleneck(inputs))
    data = normal(3, (16, 6), shift=1.0)

    def loss(code, losses):
        return sum(ops.sum(ops.cast(extra, "float32")) for extra in losses)

    (kernel_gradient,) = testing.gradients(network, data, loss, [bottleneck.dense.kernel])
    kernel_gradient = np.asarray(kernel_gradient)
    assert np.all(np.isfinite(kernel_gradient)) and np.any(kernel_gradient != 0)

    model = small_model("vanilla", {"name": "mmd", "beta": 10, "seed": 0})
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(load_digits()[0][:128].reshape(-1, 64), epochs=1, batch_size=64, verbose=0).history
    assert np.isfinite(history["mmd_loss"][0]) and history["regularization_loss"] == history["mmd_loss"]


def check_a_batch_of_one_gives_zero():
    estimate = compiled(mmd)
    assert float(estimate(normal(0, (1, 3)), normal(1, (1, 3)))) == 0.0
    assert float(estimate(normal(0, (1, 3)), normal(1, (4, 3)))) == 0.0


def test_the_estimate_equals_the_numpy_reference():
    check_the_estimate_equals_the_numpy_reference()


def test_the_penalty_is_the_mmd_of_the_codes_and_the_prior_samples_of_its_seed():
    check_the_penalty_is_the_mmd_of_the_codes_and_the_prior_samples_of_its_seed()


def test_near_zero_for_prior_samples_and_large_for_shifted_codes():
    check_near_zero_for_prior_samples_and_large_for_shifted_codes()


def test_seeds():
    check_seeds()


def test_each_train_step_draws_new_prior_samples():
    check_each_train_step_draws_new_prior_samples()


def test_an_info_vae_trains_saves_and_loads(tmp_path):
    check_an_info_vae_trains_saves_and_loads(str(tmp_path))


def test_a_wae_mmd_trains_and_its_gradient_reaches_the_encoder():
    check_a_wae_mmd_trains_and_its_gradient_reaches_the_encoder()


def test_a_batch_of_one_gives_zero():
    check_a_batch_of_one_gives_zero()


def test_registered_by_name_and_rebuilt_from_config():
    assert get_component("regularizer", "mmd") is MMDRegularizer
    assert resolve("regularizer", "mmd").get_config() == {
        "beta": 1.0,
        "kernel": "imq",
        "scales": list(WAE_IMQ_SCALES),
        "seed": None,
    }
    for scales in (0.5, [1.0, 2.0]):
        regularizer = resolve("regularizer", {"name": "mmd", "kernel": "rbf", "scales": scales, "seed": 4, "beta": 3})
        config = json.loads(json.dumps(regularizer.get_config()))
        assert config == {"beta": 3.0, "kernel": "rbf", "scales": scales, "seed": 4}
        assert MMDRegularizer.from_config(config).get_config() == config
    assert repr(MMDRegularizer(scales=1, seed=2)) == "MMDRegularizer(beta=1.0, kernel='imq', scales=1.0, seed=2)"


def test_an_unknown_kernel_is_refused_naming_the_choices():
    message = "`kernel` must be one of 'imq', 'rbf'. Received: kernel='gaussian'"
    with pytest.raises(ValueError, match=message):
        MMDRegularizer(kernel="gaussian")
    with pytest.raises(ValueError, match=message):
        mmd(normal(0, (4, 2)), normal(1, (4, 2)), kernel="gaussian")


@pytest.mark.parametrize("scales", [0.0, -1.0, (), (1.0, -0.1), "1.0", float("nan"), True, None])
def test_bad_scales_are_refused(scales):
    message = r"`scales` must be a number > 0 or a non-empty sequence of them\. Received: scales="
    with pytest.raises(ValueError, match=message):
        MMDRegularizer(scales=scales)


@pytest.mark.parametrize("seed", [1.5, "0", True])
def test_a_seed_other_than_an_int_is_refused(seed):
    with pytest.raises(ValueError, match=r"`seed` must be an int or None\. Received: seed="):
        MMDRegularizer(seed=seed)


def test_a_negative_beta_is_refused():
    with pytest.raises(ValueError, match="Received: beta=-2"):
        MMDRegularizer(beta=-2)


def test_a_bottleneck_without_a_standard_normal_prior_is_refused_naming_both():
    message = (
        "The regularizer 'mmd' (MMDRegularizer) compares the codes with samples of the prior N(0, I), which the "
        "bottleneck 'bernoulli' (BernoulliBottleneck) does not have: use the bottleneck 'gaussian' (InfoVAE) or "
        "'vanilla' (WAE-MMD)."
    )
    with pytest.raises(ValueError) as raised:
        Autoencoder(bottleneck={"name": "bernoulli", "latent_dim": 3, "regularizer": ["bernoulli_kld", "mmd"]})
    assert message in str(raised.value)

    class UniformPriorBottleneck(GaussianBottleneck):
        def sample_prior(self, n, seed=None):
            return keras.random.uniform(self.prior_shape(n), seed=seed)

    with pytest.raises(ValueError, match=r"bottleneck UniformPriorBottleneck does not have"):
        UniformPriorBottleneck(latent_dim=3, regularizer="mmd")


def test_gaussian_and_vanilla_bottlenecks_and_a_gaussian_subclass_accept_it():
    class NamedGaussianBottleneck(GaussianBottleneck):
        pass

    for bottleneck_class in (GaussianBottleneck, VanillaBottleneck, NamedGaussianBottleneck):
        assert bottleneck_class(latent_dim=3, regularizer="mmd").regularizer_names == ["mmd"]


def test_a_posterior_without_codes_is_refused():
    with pytest.raises(ValueError, match="this Posterior holds no code"):
        MMDRegularizer()(normal(0, (4, 2)))


def test_the_docstring_examples_run():
    globs = {"keras": keras, "Posterior": Posterior}
    found = doctest.testmod(tfae_disentangle.mmd, extraglobs=globs, optionflags=doctest.ELLIPSIS)
    assert found.attempted > 0 and found.failed == 0
