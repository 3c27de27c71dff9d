"""The objective contract: ELBO and IWAE against NumPy, the model's k codes per sample, saving, and bad input."""

import math
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

import tfae
import tfae.priors
from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.models import Autoencoder
from tfae.objectives import ELBO, IWAE, ObjectiveTerms

pytestmark = pytest.mark.backend_neutral


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def gaussian_terms(rng, k=4, batch=5, latent=3):
    """Hand-made terms: a Gaussian posterior's k codes per sample and their reconstruction losses."""
    mean = rng.normal(size=(batch, latent)).astype("float32")
    log_variance = rng.normal(scale=0.3, size=(batch, latent)).astype("float32")
    codes = (mean + np.exp(0.5 * log_variance) * rng.normal(size=(k, batch, latent))).astype("float32")
    reconstruction = rng.uniform(10, 20, size=(k, batch)).astype("float32")
    posterior = Posterior((mean, log_variance), codes, GaussianBottleneck(latent_dim=latent))
    penalties = {"l2_loss": np.float32(0.25)}
    return ObjectiveTerms(reconstruction, posterior, penalties, in_nats=True), (
        mean,
        log_variance,
        codes,
        reconstruction,
    )


def numpy_log_weights(mean, log_variance, codes, reconstruction):
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_variance + (codes - mean) ** 2 / np.exp(log_variance), axis=-1)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + codes**2, axis=-1)
    return -reconstruction.astype("float64") + log_p - log_q


def test_iwae_is_the_log_mean_of_the_importance_weights_in_numpy(rng):
    terms, (mean, log_variance, codes, reconstruction) = gaussian_terms(rng, k=4)
    log_w = numpy_log_weights(mean, log_variance, codes, reconstruction)
    bound = np.log(np.mean(np.exp(log_w - log_w.max(0)), axis=0)) + log_w.max(0)
    result = IWAE(importance_samples=4)(terms)
    np.testing.assert_allclose(to_numpy(result["iwae_bound"]), bound, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(result["loss"]), -bound + 0.25, rtol=1e-5)


def test_iwae_with_one_code_is_the_monte_carlo_negative_elbo(rng):
    terms, (mean, log_variance, codes, reconstruction) = gaussian_terms(rng, k=1)
    log_w = numpy_log_weights(mean, log_variance, codes, reconstruction)[0]
    np.testing.assert_allclose(to_numpy(IWAE(importance_samples=1)(terms)["loss"]), -log_w + 0.25, rtol=1e-5)


def test_elbo_is_the_mean_reconstruction_plus_the_penalties(rng):
    terms, (_, _, _, reconstruction) = gaussian_terms(rng, k=3)
    np.testing.assert_allclose(to_numpy(ELBO()(terms)["loss"]), reconstruction.mean(axis=0) + 0.25, rtol=1e-6)


def test_the_joint_log_densities_of_k_codes_have_shape_k_by_batch(rng):
    terms, (mean, log_variance, codes, reconstruction) = gaussian_terms(rng, k=4, batch=5)
    assert tuple(terms.log_posterior.shape) == tuple(terms.log_prior.shape) == (4, 5)
    per_dimension = terms.posterior.log_density(per_dimension=True)
    assert tuple(per_dimension.shape) == (4, 5, 3)
    np.testing.assert_allclose(to_numpy(ops.sum(per_dimension, axis=-1)), to_numpy(terms.log_posterior), rtol=1e-6)


def test_a_model_draws_k_codes_per_sample_and_decodes_them_at_once(digits):
    x = digits[0][:16]
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 3, "seed": 1})
    model.compile(optimizer="adam", loss="bernoulli", objective={"name": "iwae", "importance_samples": 6})
    posterior, outputs = model.forward(x, sampling="exact", importance_samples=6)
    assert tuple(posterior.code.shape) == (6, 16, 3) and tuple(outputs.shape) == (6, 16, 64)
    # Each code decoded in the batch of k x 16 is the code decoded alone.
    alone = model.decoder_network(posterior.code[2], training=False)
    np.testing.assert_allclose(to_numpy(outputs[2]), to_numpy(alone), rtol=1e-5, atol=1e-5)


def test_the_iwae_bound_tightens_with_k_and_is_logged_under_its_name(digits):
    x = digits[0][:512]
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 4, "seed": 3})
    model.compile(optimizer="adam", loss="bernoulli", objective={"name": "iwae", "importance_samples": 5})
    history = model.fit(x, epochs=3, batch_size=64, verbose=0, validation_data=(x[:128],)).history
    assert {"iwae_bound", "val_iwae_bound", "reconstruction_loss"} <= set(history)
    assert history["loss"][-1] == pytest.approx(-history["iwae_bound"][-1], rel=1e-5)
    assert history["reconstruction_loss"][-1] > 0
    bounds = {}
    for k in (1, 50):
        model.compile(optimizer="adam", loss="bernoulli", objective={"name": "iwae", "importance_samples": k})
        bounds[k] = model.evaluate(x[:128], batch_size=128, verbose=0, return_dict=True)["iwae_bound"]
    assert bounds[50] > bounds[1]


def test_the_objective_is_saved_and_loaded_by_name(tmp_path, digits):
    x = digits[0][:64]
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
    model.compile(optimizer="adam", loss="bernoulli", objective={"name": "iwae", "importance_samples": 3})
    model.fit(x, epochs=1, verbose=0)
    model.save(tmp_path / "iwae.keras")
    loaded = tfae.load_model(tmp_path / "iwae.keras")
    assert isinstance(loaded.objective, IWAE) and loaded.objective.k == 3
    assert "iwae_bound" in loaded.evaluate(x, verbose=0, return_dict=True)


def test_a_default_model_minimises_the_elbo(digits):
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli")
    assert isinstance(model.objective, ELBO)
    assert model.get_compile_config()["objective"] == {"name": "elbo"}


@pytest.mark.parametrize(
    "bottleneck, objective, loss, message",
    [
        (
            {"name": "vanilla", "latent_dim": 2},
            "iwae",
            "bernoulli",
            "The objective 'iwae' (IWAE) needs the log-density of codes under the posterior and the prior, which the "
            "bottleneck 'vanilla' (VanillaBottleneck) cannot give",
        ),
        (
            {"name": "gaussian", "latent_dim": 2, "regularizer": "kld"},
            "iwae",
            "bernoulli",
            "regularizer kld would count the divergence from the prior twice",
        ),
        (
            {"name": "gaussian", "latent_dim": 2},
            "iwae",
            "mse",
            "needs log p(x | z) in nats, which a Keras loss does not give",
        ),
        (
            {"name": "gaussian", "latent_dim": 2},
            {"name": "iwae", "importance_samples": 0},
            "bernoulli",
            "`importance_samples`, the codes drawn per sample, must be a positive integer. Received: "
            "importance_samples=0",
        ),
        ({"name": "gaussian", "latent_dim": 2}, "renyi", "bernoulli", "renyi"),
    ],
    ids=["iwae_on_vanilla", "iwae_with_kld", "iwae_with_keras_loss", "importance_samples_below_one", "unknown_name"],
)
def test_an_objective_the_model_cannot_serve_is_refused_at_compile_naming_both(bottleneck, objective, loss, message):
    model = Autoencoder(bottleneck=bottleneck)
    with pytest.raises(ValueError) as raised:
        model.compile(optimizer="adam", loss=loss, objective=objective)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value).strip() or objective == "renyi"


@pytest.mark.parametrize(
    "bottleneck, message",
    [
        (
            {"name": "vanilla", "latent_dim": 2, "regularizer": ["l2", "kld"]},
            "The regularizer 'kld' (GaussianKLDRegularizer) is computed from a gaussian posterior's parameters, but "
            "the bottleneck 'vanilla' (VanillaBottleneck) has a deterministic code",
        ),
        ({"name": "bernoulli", "latent_dim": 2, "regularizer": "kld"}, "has a bernoulli posterior"),
        ({"name": "gaussian", "latent_dim": 2, "regularizer": "bernoulli_kld"}, "has a gaussian posterior"),
        (
            {"name": "gaussian", "latent_dim": 2, "regularizer": "reversed_kld", "prior": "mixture"},
            "The regularizer 'reversed_kld' (GaussianReversedKLDRegularizer) is the closed form against the "
            "'standard_normal' prior, but the bottleneck's prior is MixturePrior: use 'kld'",
        ),
    ],
    ids=["kld_on_vanilla", "kld_on_bernoulli", "bernoulli_kld_on_gaussian", "reversed_kld_on_mixture"],
)
def test_a_regularizer_the_bottleneck_cannot_serve_is_refused_when_it_is_made(bottleneck, message):
    with pytest.raises(ValueError, match=None) as raised:
        Autoencoder(bottleneck=bottleneck)
    assert message in str(raised.value)


def test_sampling_is_an_argument_checked_with_its_values():
    bottleneck = GaussianBottleneck(latent_dim=2)
    with pytest.raises(
        ValueError, match="`sampling` must be one of 'mean', 'reparameterized', 'exact'. Received: sampling='random'"
    ):
        bottleneck.posterior(np.ones((3, 4), "float32"), sampling="random")
    with pytest.raises(ValueError, match="needs sampling='reparameterized' or 'exact'"):
        bottleneck.posterior(np.ones((3, 4), "float32"), sampling="mean", importance_samples=2)
    mean = bottleneck.posterior(np.ones((3, 4), "float32"), sampling="mean")
    np.testing.assert_array_equal(to_numpy(mean.code), to_numpy(mean.parameters[0]))


def test_importance_samples_stay_apart_for_each_sample(rng):
    bottleneck = GaussianBottleneck(latent_dim=2, seed=0)
    posterior = bottleneck.posterior(
        rng.normal(size=(400, 3)).astype("float32"), sampling="exact", importance_samples=3
    )
    codes = to_numpy(posterior.code)
    mean, log_variance = (to_numpy(p) for p in posterior.parameters)
    standardised = (codes - mean) / np.exp(0.5 * log_variance)
    assert abs(standardised.mean()) < 0.05 and standardised.std() == pytest.approx(1.0, abs=0.05)
    # The k draws of one sample are independent: no correlation between the first and the second.
    assert abs(np.corrcoef(standardised[0].ravel(), standardised[1].ravel())[0, 1]) < 0.08
    assert math.isfinite(float(to_numpy(ops.mean(posterior.log_density()))))


def test_a_subclass_overriding_compute_loss_is_refused_at_compile_as_fit_would_not_call_it():
    class KerasIoStyle(Autoencoder):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return keras.ops.mean(keras.ops.square(y_pred - x))

    model = KerasIoStyle(bottleneck={"name": "gaussian", "latent_dim": 2})
    with pytest.raises(TypeError, match="KerasIoStyle overrides compute_loss, which fit and evaluate do not call"):
        model.compile(optimizer="adam", loss="bernoulli")


@pytest.mark.skipif(
    tuple(int(part) for part in keras.version().split(".")[:2]) < (3, 15),
    reason="the file was saved with Keras 3.15.1, whose layer configs an older Keras cannot read (quantization_config)",
)
def test_a_model_saved_before_objectives_and_priors_loads_and_trains(digits):
    """tests/data/vae-before-objectives.keras was saved by tfae at 8a215da, before the loss moved into the model."""
    data = Path(__file__).parent / "data"
    model = tfae.load_model(data / "vae-before-objectives.keras")
    x = digits[0][:256]
    np.testing.assert_allclose(
        to_numpy(model.encoder(x[:5])), np.load(data / "vae-before-objectives-codes.npy"), rtol=1e-5, atol=1e-6
    )
    assert isinstance(model.objective, ELBO) and isinstance(model.bottleneck.prior, tfae.priors.StandardNormalPrior)
    assert model.bottleneck.regularizer.beta == 0.5
    history = model.fit(x, epochs=1, batch_size=64, verbose=0).history
    assert {"loss", "kld_loss", "reconstruction_loss"} <= set(history)


def test_a_gaussian_regularizer_on_a_posterior_of_an_undeclared_family_says_so():
    from tfae.bottlenecks.variational import VariationalBottleneck

    class UniformBottleneck(VariationalBottleneck):
        # Densities but no declared `distribution`: a family of its own (a flow's posterior is one).
        def sample(self, low, log_width):
            return low + ops.exp(log_width) * self.random(keras.random.uniform, ops.shape(low))

        def mean(self, low, log_width):
            return low + 0.5 * ops.exp(log_width)

        def log_density(self, code, low, log_width):
            return -log_width * ops.ones_like(code)

    with pytest.raises(ValueError) as raised:
        UniformBottleneck(latent_dim=2, regularizer="kld", prior="standard_normal")
    assert "has a posterior of another family (one that declares no `distribution`)" in str(raised.value)


def test_iwae_takes_its_former_k_with_a_deprecation_warning_and_saves_importance_samples():
    from tfae import plugins

    with pytest.warns(DeprecationWarning, match=r"IWAE's `k` is now called `importance_samples`"):
        old = plugins.resolve("objective", {"name": "iwae", "k": 3})
    assert old.importance_samples == old.k == 3
    assert old.get_config() == {"importance_samples": 3} == IWAE(importance_samples=3).get_config()
    # A config or saved model written with `k` loads the same objective.
    with pytest.warns(DeprecationWarning):
        assert IWAE.from_config({"k": 3}).get_config() == {"importance_samples": 3}
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match=r"Received: k=0"):
        IWAE(k=0)
