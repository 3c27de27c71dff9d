"""mig_posterior, Chen et al.'s MIG from the full posterior: equal to a float64 transcription of the
definition, right on cases with a known answer, the same in any chunking, registered by name; and evaluate
refuses samples that hold NaN."""

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
import tomllib
from scipy.special import logsumexp
from scipy.stats import norm

from tfae import plugins
from tfae.errors import DataError
from tfae.evaluation import evaluate
from tfae.metrics import MIGPosterior, mig, mig_posterior, mig_posterior_gaps, posterior_mutual_information
from tfae.metrics.discretize import discrete_entropy
from tfae.models import Autoencoder

# The module, not the function of the same name that tfae.metrics exports (and `import ... as` would find).
mig_posterior_module = importlib.import_module("tfae.metrics.mig_posterior")


def entropy_by_definition(codes, mean, log_variance):
    """E_s[-log q(z_sj)], q(z_j) = 1/M sum_m N(z_j; mean_mj, exp(log_variance_mj)): every density at once."""
    scale = np.exp(0.5 * log_variance)
    log_q = norm.logpdf(codes[:, None, :], loc=mean[None, :, :], scale=scale[None, :, :])  # (S, M, D)
    return np.mean(math.log(len(mean)) - logsumexp(log_q, axis=1), axis=0)


def mig_by_definition(mean, log_variance, factors, seed):
    """Chen et al.'s MIG, transcribed from the definition in float64, with the same codes (one per sample)."""
    codes = mean + np.exp(0.5 * log_variance) * np.random.default_rng(seed).standard_normal(mean.shape)
    marginal = entropy_by_definition(codes, mean, log_variance)
    information = np.zeros((mean.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        conditional = 0.0
        for value in np.unique(factors[:, k]):
            rows = factors[:, k] == value
            conditional = conditional + rows.mean() * entropy_by_definition(codes[rows], mean[rows], log_variance[rows])
        information[:, k] = np.maximum(marginal - conditional, 0.0)
    ordered = np.sort(information, axis=0)
    entropies = np.array([discrete_entropy(factors[:, k]) for k in range(factors.shape[1])])
    return information, float(np.mean((ordered[-1] - ordered[-2]) / entropies))


def copying_codes(rng, n=600, sizes=(3, 5), log_variance=-12.0, extra_dims=1):
    """Codes whose first dimensions copy one factor each (posterior mean = the factor's value, tiny variance),
    plus dimensions at the prior: a perfectly disentangled posterior."""
    factors = rng.integers(0, sizes, size=(n, len(sizes)))
    mean = np.concatenate([factors.astype(float), np.zeros((n, extra_dims))], axis=1)
    logvar = np.concatenate([np.full(factors.shape, log_variance), np.zeros((n, extra_dims))], axis=1)
    return mean, logvar, factors


def test_equals_the_definition_transcribed_in_float64(rng):
    # Overlapping posteriors of mixed widths, partly informative: no shortcut of the estimator holds here.
    factors = rng.integers(0, (3, 4), size=(240, 2))
    mean = np.stack(
        [
            factors[:, 0] + 0.6 * rng.normal(size=240),
            rng.normal(size=240),
            0.5 * factors[:, 1] - 0.3 * factors[:, 0] + rng.normal(size=240),
        ],
        axis=1,
    )
    log_variance = rng.uniform(-3.0, 0.5, size=mean.shape)
    expected_information, expected = mig_by_definition(mean, log_variance, factors, seed=7)

    information = posterior_mutual_information(mean, log_variance, factors, seed=7)
    np.testing.assert_allclose(information, expected_information, rtol=1e-9, atol=1e-12)
    assert mig_posterior(mean, log_variance, factors, seed=7) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert np.all(information[1] < 0.02) and information[0, 0] > 0.25  # the independent dimension tells ~nothing


def test_a_copied_factor_carries_exactly_its_entropy_and_the_gap_is_one(rng):
    mean, log_variance, factors = copying_codes(rng)
    information = posterior_mutual_information(mean, log_variance, factors, seed=0)
    entropies = [discrete_entropy(factors[:, k]) for k in range(2)]
    # Narrow posteriors around distinct values: H(z_j) = H(v_j) + H(z_j | v_j), term by term on the same codes.
    np.testing.assert_allclose(np.diag(information[:2]), entropies, rtol=1e-9)
    np.testing.assert_allclose(information[2], 0.0, atol=1e-12)  # the dimension at the prior: all posteriors alike
    gaps = mig_posterior_gaps(mean, log_variance, factors, seed=0)
    assert np.all(gaps > 0.99) and np.all(gaps <= 1.0 + 1e-9)
    assert mig_posterior(mean, log_variance, factors, seed=0) == pytest.approx(1.0, abs=0.01)


def test_codes_independent_of_the_factors_score_about_zero(rng):
    factors = rng.integers(0, (3, 5), size=(600, 2))
    mean = rng.normal(size=(600, 3))
    log_variance = rng.uniform(-2.0, 0.0, size=(600, 3))
    assert np.all(posterior_mutual_information(mean, log_variance, factors, seed=1) < 0.02)
    assert abs(mig_posterior(mean, log_variance, factors, seed=1)) < 0.01


def test_wide_posteriors_carry_nothing_that_the_histogram_of_the_means_sees(rng):
    # Means that copy the factors, posteriors as wide as the prior: the codes the decoder gets hardly
    # depend on the factors. disentanglement_lib's MIG of the means is 1; Chen et al.'s is near 0.
    factors = rng.integers(0, (3, 5), size=(600, 2))
    mean = 0.01 * factors + 1e-4 * rng.normal(size=factors.shape)
    log_variance = np.zeros(mean.shape)
    assert mig(mean, factors) > 0.95
    assert mig_posterior(mean, log_variance, factors, seed=0) < 0.05


def test_the_chunks_and_the_sample_limit_bound_the_work_not_the_answer(rng, monkeypatch):
    mean, log_variance, factors = copying_codes(rng, n=300, log_variance=-1.0)
    whole = posterior_mutual_information(mean, log_variance, factors, seed=3)
    # 40: a few posteriors per chunk, one code a row; 2000: every posterior, two codes a row.
    for densities in (40, 2000):
        monkeypatch.setattr(mig_posterior_module, "DENSITIES_PER_CHUNK", densities)
        chunked = posterior_mutual_information(mean, log_variance, factors, seed=3)
        np.testing.assert_allclose(chunked, whole, rtol=1e-10, atol=1e-12)
    monkeypatch.undo()
    # 150 codes per entropy instead of all 300: another Monte Carlo estimate of the same numbers, repeatable.
    fewer = posterior_mutual_information(mean, log_variance, factors, samples=150, seed=3)
    np.testing.assert_allclose(fewer, whole, atol=0.1)
    assert not np.array_equal(fewer, whole)
    np.testing.assert_array_equal(posterior_mutual_information(mean, log_variance, factors, samples=150, seed=3), fewer)


def test_nan_and_malformed_posteriors_are_refused_in_one_line(rng):
    mean, log_variance, factors = copying_codes(rng, n=20)
    broken = mean.copy()
    broken[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"^`mean` must be finite; it holds NaN or inf in 1 places\.$"):
        mig_posterior(broken, log_variance, factors)
    with pytest.raises(ValueError, match=r"^`log_variance` must be finite; it holds NaN or inf in 60 places\.$"):
        mig_posterior(mean, np.full(mean.shape, np.inf), factors)
    with pytest.raises(
        ValueError,
        match=r"`log_variance` must lie within ±600 \(MAX_ABS_LOG_VARIANCE\).*"
        r"magnitude 1000.*retrain the model",
    ):
        mig_posterior(mean, np.full(mean.shape, -1000.0), factors)
    with pytest.raises(
        ValueError,
        match=r"`mean` and `log_variance` must .* mean.shape=\(20, 3\), "
        r"log_variance.shape=\(20, 2\)",
    ):
        mig_posterior(mean, log_variance[:, :2], factors)
    with pytest.raises(ValueError, match=r"`samples` must be an integer >= 1. Received: samples=0"):
        mig_posterior(mean, log_variance, factors, samples=0)
    with pytest.raises(ValueError, match=r"`mean` and `factors` must have the same number of rows"):
        mig_posterior(mean, log_variance, factors[:10])
    with pytest.raises(ValueError, match=r"factors\[:, 1\] is constant"):
        mig_posterior(mean, log_variance, np.stack([factors[:, 0], np.zeros(20, int)], axis=1))


@pytest.fixture
def by_name():
    """``mig_posterior`` resolvable by name: through tfae's entry points where the installed metadata has it
    (a fresh install, as CI's); a checkout installed before the entry point was added gets the same module
    registered at run time, so that the rest of the test runs (test_declared_as_a_builtin checks the entry)."""
    if "mig_posterior" in plugins.get_registry().names("metric"):
        yield
        return
    name = plugins.register_plugin(mig_posterior_module, name="mig_posterior_at_run_time")
    yield
    plugins.unregister_plugin(name)


def test_declared_as_a_builtin_entry_point_as_mig_is():
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["tfae"]
    assert entry_points["mig_posterior"] == "tfae.metrics.mig_posterior"
    assert entry_points["mig"] == "tfae.metrics.mig"
    registered = {}
    mig_posterior_module.register_metrics(lambda component, name, aliases=(): registered.update({name: component}))
    assert registered == {"mig_posterior": MIGPosterior}


@pytest.fixture(scope="module")
def gaussian_vae():
    """A small Gaussian VAE, fitted a little on data made from two discrete factors."""
    rng = np.random.default_rng(0)
    factors = rng.integers(0, (3, 4), size=(256, 2))
    x = np.concatenate([np.eye(3)[factors[:, 0]], np.eye(4)[factors[:, 1]]], axis=1).astype("float32")
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 3, "regularizer": "kld", "seed": 1})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=2, batch_size=64, verbose=0)
    return model, x, factors


def test_evaluate_computes_it_by_name_from_the_encoders_posterior(gaussian_vae, by_name):
    model, x, factors = gaussian_vae
    results = evaluate(model, x, factors=factors, metrics=[{"name": "mig_posterior", "samples": 100}], seed=5)
    mean, log_variance = (np.asarray(p) for p in model.bottleneck.distribution_parameters(model.feature_network(x)))
    np.testing.assert_allclose(mean, model.encoder.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    expected = mig_posterior(mean, log_variance, factors, 100, seed=5)
    assert results == {"mig_posterior": pytest.approx(expected, abs=1e-5)}
    assert evaluate(model, x, factors=factors, metrics=["mig_posterior"], seed=5)["mig_posterior"] == pytest.approx(
        mig_posterior(mean, log_variance, factors, seed=5), abs=1e-5
    )


def test_a_model_without_a_gaussian_posterior_is_told_what_it_needs(by_name):
    x = np.random.default_rng(0).random((16, 6)).astype("float32")
    factors = np.random.default_rng(1).integers(0, 2, size=(16, 2))
    for bottleneck, needs in [
        ({"name": "vanilla", "latent_dim": 2}, r"needs a variational bottleneck \(this model's is VanillaBottleneck"),
        (
            {"name": "bernoulli", "latent_dim": 2},
            r"needs a Gaussian posterior \(this model's bottleneck, "
            r"BernoulliBottleneck, has another\); 'mig' scores the codes of any",
        ),
    ]:
        model = Autoencoder(bottleneck=bottleneck)
        model.compile(optimizer="adam", loss="bernoulli")
        model.predict(x, verbose=0)
        with pytest.raises(ValueError, match=r"The metric 'mig_posterior' " + needs):
            evaluate(model, x, factors=factors, metrics=["mig_posterior"])
    with pytest.raises(ValueError, match=r"`samples` must be an integer >= 1. Received: samples=2.5"):
        MIGPosterior(samples=2.5)


def test_evaluate_refuses_samples_that_hold_nan_or_inf(gaussian_vae):
    model, x, factors = gaussian_vae
    broken = x.copy()
    broken[5, 2] = np.nan
    broken[9, :] = np.inf
    message = (
        r"^`x` must be finite: 8 of its values, in 2 of its 256 samples \(the first is sample 5\), are NaN or "
        r"inf \(once cast to float32\), and no metric can score them\. Remove or repair those samples"
    )
    # Before: active_units 0 and a NaN log-likelihood, without an error.
    with pytest.raises(DataError, match=message):
        evaluate(model, broken, samples=5)
    with pytest.raises(DataError, match=message):
        evaluate(model, broken, factors=factors, metrics=["active_units"])
    # Finite in float64 but not in float32, which the model computes in.
    with pytest.raises(DataError, match=r"1 of its values, in 1 of its 256 samples \(the first is sample 0\)"):
        evaluate(model, np.where(np.arange(x.size).reshape(x.shape) == 0, 1e300, x.astype("float64")), samples=5)
