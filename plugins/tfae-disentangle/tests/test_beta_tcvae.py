"""BetaTCVAERegularizer: both estimators against NumPy, the telescoping identity, the total correlation of tied
codes, its errors, and a model that trains, saves and loads (the shipped example: test_examples.py)."""

import json
import math
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from keras import ops

import tfae
from tfae import plugins
from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.models import Autoencoder
from tfae.serialization import component_spec
from tfae.testing import check_regularizer
from tfae.training.data import load_data
from tfae_disentangle.beta_tcvae import BetaTCVAERegularizer

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402

ESTIMATORS = ["mws", "mss"]


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def gaussian_batch(rng, batch=16, dim=4, variance=None, tied=False):
    """Means, log-variances and one code per sample, as float32 arrays.

    ``tied`` gives dimension 1 dimension 0's mean.
    """
    mean = rng.normal(size=(batch, dim))
    if tied:
        mean[:, 1] = mean[:, 0]
    if variance is None:
        log_variance = rng.normal(scale=0.5, size=(batch, dim))
    else:
        log_variance = np.full((batch, dim), math.log(variance))
    code = mean + np.exp(0.5 * log_variance) * rng.normal(size=(batch, dim))
    return tuple(array.astype("float32") for array in (code, mean, log_variance))


def posterior_of(code, mean, log_variance):
    return Posterior(parameters=(mean, log_variance), code=code, bottleneck=GaussianBottleneck(code.shape[1]))


def example_config(name):
    text = (resources.files("tfae_disentangle") / "examples" / name).read_text(encoding="utf-8")
    return tomllib.loads(text)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_terms_and_penalty_match_numpy(estimator, rng):
    code, mean, log_variance = gaussian_batch(rng, batch=16, dim=4)
    regularizer = BetaTCVAERegularizer(alpha=0.5, beta=3.0, gamma=2.0, dataset_size=1000, estimator=estimator)
    posterior = posterior_of(code, mean, log_variance)
    expected = ref.beta_tcvae_terms(code, mean, log_variance, dataset_size=1000, estimator=estimator)

    terms = regularizer.terms(posterior)
    for name in ("mutual_information", "total_correlation", "dimension_wise_kl"):
        np.testing.assert_allclose(to_numpy(terms[name]), expected[name], rtol=1e-5, atol=1e-4, err_msg=name)
    weighted = (
        0.5 * expected["mutual_information"] + 3.0 * expected["total_correlation"] + 2.0 * expected["dimension_wise_kl"]
    )
    penalty = to_numpy(regularizer.penalty(posterior))
    assert penalty.shape == ()
    np.testing.assert_allclose(penalty, np.mean(weighted), rtol=1e-5, atol=1e-4)
    # weighs_by_beta is False: the call is the batch mean of the penalty, beta already inside it.
    np.testing.assert_allclose(float(regularizer(posterior)), np.mean(weighted), rtol=1e-5)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_log_weights_are_the_papers(batch):
    mss = BetaTCVAERegularizer(dataset_size=100, estimator="mss").log_weights(batch)
    mws = BetaTCVAERegularizer(dataset_size=100, estimator="mws").log_weights(batch)
    np.testing.assert_allclose(to_numpy(mws), ref.log_weighted_sampling_matrix(batch, 100), rtol=1e-6)
    if batch == 1:
        # No other sample to stratify: the sample's own posterior, weighted 1 / N, as MWS has it.
        np.testing.assert_allclose(to_numpy(mss), [[-math.log(100)]], rtol=1e-6)
    else:
        np.testing.assert_allclose(to_numpy(mss), ref.log_importance_weight_matrix(batch, 100), rtol=1e-6)
        np.testing.assert_allclose(np.exp(to_numpy(mss)).sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_unit_weights_give_the_monte_carlo_kl(estimator, rng):
    code, mean, log_variance = gaussian_batch(rng, batch=16, dim=4)
    regularizer = BetaTCVAERegularizer(alpha=1.0, beta=1.0, gamma=1.0, dataset_size=1000, estimator=estimator)
    log_q = ref.gaussian_log_density(code, mean, log_variance).sum(axis=1)
    log_p = ref.gaussian_log_density(code, 0.0, 0.0).sum(axis=1)
    posterior = posterior_of(code, mean, log_variance)
    terms = regularizer.terms(posterior)
    per_sample = sum(to_numpy(terms[name]) for name in ("mutual_information", "total_correlation", "dimension_wise_kl"))
    np.testing.assert_allclose(per_sample, log_q - log_p, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(to_numpy(regularizer.penalty(posterior)), np.mean(log_q - log_p), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_total_correlation_is_larger_when_two_dimensions_are_tied(estimator):
    # Means N(0, I) and posterior variance 0.05: tying two dimensions gives them a mutual information of
    # -0.5 log(1 - (1 / 1.05)^2) = 1.19 nats, the true total correlation. MSS is unbiased; MWS is biased, but
    # with batches of 256 in 2 dimensions it separates the two as clearly (with 64 in 3 it barely does).
    rng = np.random.default_rng(3)
    regularizer = BetaTCVAERegularizer(dataset_size=10000, estimator=estimator)
    found = {}
    for tied in (True, False):
        batches = [posterior_of(*gaussian_batch(rng, batch=256, dim=2, variance=0.05, tied=tied)) for _ in range(3)]
        found[tied] = np.mean([np.mean(to_numpy(regularizer.terms(b)["total_correlation"])) for b in batches])
    assert found[True] > found[False] + 0.6, found


def test_vanilla_bottleneck_fails_at_construction_naming_both():
    with pytest.raises(ValueError, match=r"'beta_tcvae' \(BetaTCVAERegularizer\).*'vanilla' \(VanillaBottleneck\)"):
        Autoencoder(
            bottleneck={"name": "vanilla", "latent_dim": 2, "regularizer": {"name": "beta_tcvae", "dataset_size": 100}}
        )


def test_unknown_estimator_names_the_choices():
    with pytest.raises(ValueError, match=r"'mws', 'mss'.*Received: estimator='stratified'"):
        BetaTCVAERegularizer(dataset_size=100, estimator="stratified")
    with pytest.raises(ValueError, match="takes 'mws' or 'mss' for 'estimator'"):
        plugins.resolve("regularizer", {"name": "beta_tcvae", "dataset_size": 100, "estimator": "stratified"})


@pytest.mark.parametrize("dataset_size", [0, -3, 2.5, True])
def test_dataset_size_must_be_a_positive_integer(dataset_size):
    with pytest.raises(ValueError, match=rf"integer >= 1\. Received: dataset_size={dataset_size!r}"):
        BetaTCVAERegularizer(dataset_size=dataset_size)


def test_dataset_size_is_required():
    with pytest.raises(ValueError, match="needs dataset_size"):
        plugins.resolve("regularizer", {"name": "beta_tcvae"})


def test_a_training_batch_larger_than_the_data_set_is_refused_with_both_numbers(rng):
    regularizer = BetaTCVAERegularizer(dataset_size=10)
    message = r"A batch of 16 samples .* dataset_size=10"
    with pytest.raises(ValueError, match=message):
        regularizer.check_batch_size(16)
    # A train step whose batch size is static (an eager one here) refuses it too.
    with pytest.raises(ValueError, match=message):
        regularizer(posterior_of(*gaussian_batch(rng, batch=16)), training=True)
    # fit refuses it before training, also where the train step cannot see it: 17 samples in batches of 8
    # leave a last batch of 1, so the traced batch size is unknown.
    regularizer = {"name": "beta_tcvae", "dataset_size": 4}
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": regularizer})
    model.compile(optimizer="adam", loss="bernoulli")
    with pytest.raises(ValueError, match=r"A batch of 8 samples .* dataset_size=4"):
        model.fit(rng.random((17, 6)).astype("float32"), epochs=1, batch_size=8, verbose=0)
    assert model.optimizer.iterations.numpy() == 0


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_outside_training_a_larger_batch_is_taken_for_the_whole_data_set(estimator, rng):
    # As the encoder sees all of a run's samples at once (tfae train's pictures): a finite estimate, N = B.
    code, mean, log_variance = gaussian_batch(rng, batch=16, dim=3)
    regularizer = BetaTCVAERegularizer(dataset_size=10, estimator=estimator)
    terms = regularizer.terms(posterior_of(code, mean, log_variance))
    expected = ref.beta_tcvae_terms(code, mean, log_variance, dataset_size=16, estimator=estimator)
    for name in ("mutual_information", "total_correlation", "dimension_wise_kl"):
        np.testing.assert_allclose(to_numpy(terms[name]), expected[name], rtol=1e-5, atol=1e-4, err_msg=name)


def test_a_training_batch_of_one_is_refused_naming_the_minimum(rng):
    regularizer = BetaTCVAERegularizer(dataset_size=100)
    assert regularizer.min_batch_size == 2
    message = (
        r"'beta_tcvae' \(BetaTCVAERegularizer\) .* at least 2 per batch: use a batch_size of 2 or more\. "
        r"Received: batch_size=1"
    )
    with pytest.raises(ValueError, match=message):
        regularizer.check_batch_size(1)
    regularizer.check_batch_size(2)
    regularizer.check_batch_size(100)


def test_the_mws_terms_are_the_batch_aggregate_posteriors_plus_constants(rng):
    # MWS weighs every pair 1 / (N B): the density under the batch's own aggregate posterior, (1 / B) sum_j
    # q(z | x_j) (the weights of N = 1), divided by N. So each term is that estimate's plus a constant in log N.
    code, mean, log_variance = gaussian_batch(rng, batch=64, dim=5)
    dataset_size = 60000
    regularizer = BetaTCVAERegularizer(dataset_size=dataset_size, estimator="mws")
    found = regularizer.terms(posterior_of(code, mean, log_variance))
    batch_alone = ref.beta_tcvae_terms(code, mean, log_variance, dataset_size=1, estimator="mws")
    log_n = math.log(dataset_size)
    offsets = {"mutual_information": log_n, "total_correlation": 4 * log_n, "dimension_wise_kl": -5 * log_n}
    for name, offset in offsets.items():
        expected = batch_alone[name] + offset
        np.testing.assert_allclose(to_numpy(found[name]), expected, rtol=1e-5, atol=1e-3, err_msg=name)


def test_the_stratified_terms_are_logged_beside_the_mws_penalty(rng):
    # Issue 26: two independent dimensions (a true total correlation of 0), wide posteriors, batch 64 of
    # 60,000 samples. MWS's total correlation is log N = 11 nats off; the logged MSS estimate is near 0.
    mean = np.zeros((64, 2), dtype="float32")
    log_variance = np.zeros((64, 2), dtype="float32")
    code = rng.normal(size=(64, 2)).astype("float32")
    regularizer = BetaTCVAERegularizer(beta=6.0, dataset_size=60000)
    posterior = posterior_of(code, mean, log_variance)
    mws = float(np.mean(to_numpy(regularizer.terms(posterior)["total_correlation"])))
    assert mws == pytest.approx(math.log(60000), abs=1e-3)
    logged = {name: float(value) for name, value in regularizer.logged_values(posterior).items()}
    assert tuple(logged) == BetaTCVAERegularizer.logged
    expected = ref.beta_tcvae_terms(code, mean, log_variance, dataset_size=60000, estimator="mss")
    for name in ("mutual_information", "total_correlation", "dimension_wise_kl"):
        assert logged[f"mss_{name}"] == pytest.approx(np.mean(expected[name]), rel=1e-5, abs=1e-4)
    assert abs(logged["mss_total_correlation"]) < 1e-4


def test_weights_must_be_finite_and_not_negative():
    with pytest.raises(ValueError, match=r"Received: alpha=-1"):
        BetaTCVAERegularizer(alpha=-1, dataset_size=10)
    with pytest.raises(ValueError, match=r"Received: gamma=nan"):
        BetaTCVAERegularizer(gamma=math.nan, dataset_size=10)


def test_config_round_trip():
    regularizer = plugins.resolve(
        "regularizer",
        {
            "name": "beta_tcvae",
            "alpha": 0.5,
            "beta": {"name": "dasr", "start_value": 1.0, "end_value": 6.0, "attack": 5},
            "gamma": 2.0,
            "dataset_size": 1617,
            "estimator": "mss",
        },
    )
    assert isinstance(regularizer, BetaTCVAERegularizer)
    config = json.loads(json.dumps(regularizer.get_config()))
    assert config["beta"]["end_value"] == 6.0
    assert {key: config[key] for key in ("alpha", "gamma", "dataset_size", "estimator")} == {
        "alpha": 0.5,
        "gamma": 2.0,
        "dataset_size": 1617,
        "estimator": "mss",
    }
    assert BetaTCVAERegularizer.from_config(config).get_config() == config
    spec = component_spec("regularizer", regularizer)
    assert component_spec("regularizer", plugins.resolve("regularizer", spec)) == spec


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_fulfils_the_regularizer_contract(estimator):
    check_regularizer(lambda: BetaTCVAERegularizer(beta=6.0, dataset_size=100, estimator=estimator))


def test_gaussian_model_trains_with_a_scheduled_beta_and_saves_and_loads(tmp_path):
    x = np.random.default_rng(1).random((32, 6)).astype("float32")
    beta = {"name": "dasr", "start_value": 1.0, "end_value": 6.0, "attack": 4, "unit": "step"}
    regularizer = {"name": "beta_tcvae", "beta": beta, "dataset_size": len(x), "estimator": "mss"}
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 3, "regularizer": regularizer})
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(x, epochs=2, batch_size=8, verbose=0).history
    assert np.all(np.isfinite(history["beta_tcvae_loss"]))
    # The stratified estimates, logged beside the penalty; their sum is the Monte Carlo KL.
    logged = [f"beta_tcvae_mss_{name}" for name in ("mutual_information", "total_correlation", "dimension_wise_kl")]
    assert all(np.all(np.isfinite(history[name])) for name in logged)
    assert sum(history[name][-1] for name in logged) > -1.0
    # beta is the base class's: a scheduler, driven by step and logged as `beta`.
    assert history["beta"][-1] == pytest.approx(6.0)
    assert int(ops.convert_to_numpy(model.bottleneck.regularizer.scheduler.step)) == 8

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = tfae.load_model(path)
    restored = loaded.bottleneck.regularizer
    assert isinstance(restored, BetaTCVAERegularizer)
    assert restored.get_config() == model.bottleneck.regularizer.get_config()
    assert int(ops.convert_to_numpy(restored.scheduler.step)) == 8
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    loaded.fit(x, epochs=1, batch_size=8, verbose=0)


def test_example_dataset_size_is_what_tfae_train_trains_on():
    config = example_config("beta_tcvae.toml")
    samples = len(load_data(config["data"]["source"]).x)
    held_out = int(round(samples * config["training"]["validation_split"]))
    regularizer = config["model"]["bottleneck"]["regularizer"]
    assert regularizer["dataset_size"] == samples - held_out
    assert config["training"]["batch_size"] <= regularizer["dataset_size"]
