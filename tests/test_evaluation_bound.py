"""`evaluate` and `val_loss` of a variational model are the negative ELBO with sampled codes, a bound on
-log p(x); `predict` and the encoder keep the posterior mean."""

import keras
import numpy as np
import pytest
from keras import ops

from tfae.datasets import load_digits
from tfae.models import Autoencoder

pytestmark = pytest.mark.backend_neutral


@pytest.fixture(scope="module")
def digits():
    return load_digits()[0].reshape(-1, 64)[:384]


def trained_vae(x, seed=1, bottleneck="gaussian", regularizer="kld", epochs=8):
    keras.utils.set_random_seed(0)
    model = Autoencoder(bottleneck={"name": bottleneck, "latent_dim": 4, "regularizer": regularizer, "seed": seed})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=epochs, batch_size=64, verbose=0)
    return model


def numpy_negative_elbo(model, x, samples=60):
    """The negative ELBO per sample, Monte Carlo in NumPy from the trained encoder's parameters and decoder."""
    mean, log_variance = (ops.convert_to_numpy(p) for p in model.bottleneck.distribution_parameters(x))
    kl = 0.5 * np.sum(mean**2 + np.exp(log_variance) - log_variance - 1.0, axis=-1).mean()
    rng = np.random.default_rng(0)
    nll = []
    for _ in range(samples):
        codes = mean + np.exp(0.5 * log_variance) * rng.normal(size=mean.shape)
        logits = model.decoder_network.predict(codes.astype("float32"), verbose=0).astype("float64")
        nll.append(np.sum(np.logaddexp(0.0, logits) - x * logits, axis=-1).mean())
    return float(np.mean(nll) + kl)


def mean_code_loss(model, x):
    logits = model(x, training=False)
    mean, log_variance = (ops.convert_to_numpy(p) for p in model.bottleneck.distribution_parameters(x))
    kl = 0.5 * np.sum(mean**2 + np.exp(log_variance) - log_variance - 1.0, axis=-1).mean()
    return float(ops.mean(model.likelihood.negative_log_likelihood(x, logits))) + kl


def test_evaluate_is_the_sampled_negative_elbo_not_the_posterior_means_loss(digits):
    model = trained_vae(digits)
    losses = [model.evaluate(digits, batch_size=128, verbose=0, return_dict=True)["loss"] for _ in range(8)]
    reference = numpy_negative_elbo(model, digits)
    assert np.mean(losses) == pytest.approx(reference, rel=0.01)
    # Each evaluation draws new codes: the numbers differ, around the bound.
    assert np.std(losses) > 0
    assert abs(np.mean(losses) - mean_code_loss(model, digits)) > 3 * np.std(losses) / np.sqrt(len(losses))


def test_val_loss_is_the_held_out_sampled_negative_elbo(digits):
    train, held_out = digits[:256], digits[256:]
    model = trained_vae(train, epochs=6)
    history = model.fit(train, validation_data=(held_out,), epochs=1, batch_size=64, verbose=0).history
    assert history["val_loss"][0] == pytest.approx(numpy_negative_elbo(model, held_out), rel=0.02)


def test_predict_and_the_encoder_keep_the_posterior_mean(digits):
    model = trained_vae(digits, epochs=1)
    mean, _ = model.bottleneck.distribution_parameters(digits[:8])
    np.testing.assert_allclose(model.encoder.predict(digits[:8], verbose=0), ops.convert_to_numpy(mean), atol=1e-5)
    first, second = model.predict(digits[:8], verbose=0), model.predict(digits[:8], verbose=0)
    np.testing.assert_array_equal(first, second)
    model.evaluate(digits, verbose=0)  # the sampled evaluation leaves no mode behind
    np.testing.assert_array_equal(model.predict(digits[:8], verbose=0), first)


def test_the_bottlenecks_seed_makes_evaluation_reproducible(digits):
    model = trained_vae(digits, epochs=1, seed=7)
    twin = Autoencoder.from_config(model.get_config())
    twin.set_weights(model.get_weights())
    twin.compile(optimizer="adam", loss="bernoulli")
    fresh = Autoencoder.from_config(model.get_config())
    fresh.set_weights(model.get_weights())
    fresh.compile(optimizer="adam", loss="bernoulli")
    assert twin.evaluate(digits, verbose=0) == fresh.evaluate(digits, verbose=0)


def test_a_bernoulli_bottleneck_evaluates_with_exact_binary_codes(digits):
    model = trained_vae(digits, bottleneck="bernoulli", regularizer="bernoulli_kld", epochs=1)
    codes = ops.convert_to_numpy(model.bottleneck(digits[:64], training=False, sampling="exact"))
    assert set(np.unique(codes)) <= {0.0, 1.0}
    relaxed = ops.convert_to_numpy(model.bottleneck(digits[:64], training=True))
    assert not set(np.unique(relaxed)) <= {0.0, 1.0}


def test_a_deterministic_model_evaluates_as_before(digits):
    keras.utils.set_random_seed(0)
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 4})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(digits, epochs=1, batch_size=64, verbose=0)
    logits = model(digits, training=False)
    expected = float(ops.mean(model.likelihood.negative_log_likelihood(digits, logits)))
    assert model.evaluate(digits, batch_size=384, verbose=0, return_dict=True)["loss"] == pytest.approx(
        expected, rel=1e-5
    )
