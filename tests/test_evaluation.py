"""tfae.evaluation: the IWAE estimate converges to the exact log-likelihood of a linear Gaussian VAE, the
bounds are ordered, and bad requests get one clear line."""

import keras
import numpy as np
import pytest
from keras import ops

from tfae.evaluation import evaluate, importance_weighted_log_likelihood
from tfae.metrics.importance import importance_weighted_pass
from tfae.models import Autoencoder

pytestmark = pytest.mark.backend_neutral

NOISE_VARIANCE = 0.1


@pytest.fixture(scope="module")
def linear_vae():
    """A linear Gaussian VAE (Dense encoder, Dense decoder, fixed noise variance) trained on data of its own kind."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(2, 5))
    x = (rng.normal(size=(512, 2)) @ mixing + 0.3 * rng.normal(size=(512, 5))).astype("float32")
    keras.utils.set_random_seed(0)
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld", "seed": 3})
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss={"name": "gaussian", "variance": NOISE_VARIANCE})
    model.fit(x, epochs=30, batch_size=64, verbose=0)
    return model, x[:64]


def exact_log_likelihood(model, x):
    """log N(x; b, W W^T + sigma^2 I) from the trained decoder's weights, in NumPy."""
    kernel, bias = (
        np.asarray(ops.convert_to_numpy(weight), dtype="float64") for weight in model.decoder_network.weights
    )
    covariance = kernel.T @ kernel + NOISE_VARIANCE * np.eye(x.shape[1])
    centred = x.astype("float64") - bias
    _, log_determinant = np.linalg.slogdet(covariance)
    mahalanobis = np.einsum("ij,jk,ik->i", centred, np.linalg.inv(covariance), centred)
    return -0.5 * (x.shape[1] * np.log(2 * np.pi) + log_determinant + mahalanobis)


def test_the_iwae_estimate_converges_to_the_exact_marginal_log_likelihood(linear_vae):
    model, x = linear_vae
    estimate = importance_weighted_log_likelihood(model, x, samples=5000, seed=0)
    assert estimate == pytest.approx(float(np.mean(exact_log_likelihood(model, x))), abs=0.05)


def test_elbo_below_iwae_k_below_iwae_5000_on_average(linear_vae):
    model, x = linear_vae
    few = importance_weighted_pass(model, x, samples=5, seed=1)
    many = importance_weighted_pass(model, x, samples=5000, seed=2)
    elbo, iwae_5, iwae_5000 = few["elbo"].mean(), few["log_likelihood"].mean(), many["log_likelihood"].mean()
    assert elbo < iwae_5 < iwae_5000
    assert iwae_5000 <= float(np.mean(exact_log_likelihood(model, x))) + 0.05


def test_evaluate_reports_the_bounds_with_k_and_leaves_the_model_as_it_was(linear_vae):
    model, x = linear_vae
    state = ops.convert_to_numpy(model.bottleneck.seed_generator.state).copy()
    first = evaluate(model, x, samples=50, seed=4)
    assert first["importance_samples"] == 50
    assert first["log_likelihood"] >= -first["negative_elbo"]
    assert first["active_units"] == 2
    assert {"kl_per_dimension_0", "kl_per_dimension_1", "reconstruction_error", "reconstruction_loss"} <= set(first)
    assert evaluate(model, x, samples=50, seed=4) == first
    assert evaluate(model, x, samples=50, seed=5) != first
    np.testing.assert_array_equal(ops.convert_to_numpy(model.bottleneck.seed_generator.state), state)


def test_a_deterministic_model_gets_the_metrics_it_allows():
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    model.compile(optimizer="adam", loss="bernoulli")
    x = np.random.default_rng(0).random((32, 6)).astype("float32")
    model.fit(x, epochs=1, verbose=0)
    factors = np.random.default_rng(1).integers(0, 3, size=(32, 2))
    assert set(evaluate(model, x, factors=factors)) == {
        "reconstruction_error",
        "mig",
        "sap",
        "dci_disentanglement",
        "dci_completeness",
        "dci_informativeness",
    }
    with pytest.raises(
        ValueError,
        match=r"The metric 'log_likelihood' needs a variational bottleneck \(this model's is VanillaBottleneck",
    ):
        evaluate(model, x, metrics=["log_likelihood"])


def test_bad_requests_are_refused_in_one_line(linear_vae):
    model, x = linear_vae
    with pytest.raises(ValueError, match=r"`samples` must be an integer >= 1.*samples=0"):
        evaluate(model, x, samples=0)
    with pytest.raises(
        ValueError, match=r"`factors` must hold one row of factors per sample, shape \(64, num_factors\).*\(10, 2\)"
    ):
        evaluate(model, x, factors=np.zeros((10, 2), dtype=int))
    with pytest.raises(ValueError, match=r"This model takes samples of shape \(5,\).*received samples of shape \(3,\)"):
        evaluate(model, np.zeros((4, 3), dtype="float32"))
    with pytest.raises(ValueError, match=r"Unknown metric 'log_likelyhood'.*log_likelihood"):
        evaluate(model, x, metrics=["log_likelyhood"])
    with pytest.raises(ValueError, match=r"The metric 'mig' needs the data's ground-truth factors"):
        evaluate(model, x, metrics=["mig"])
