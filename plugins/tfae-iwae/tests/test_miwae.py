"""MIWAE: the bound against NumPy, its special cases (IWAE, the ELBO), the contract check, and every refusal."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tfae import plugins
from tfae.models import Autoencoder
from tfae.serialization import component_spec
from tfae.testing import check_objective
from tfae_iwae import MIWAE

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402
from terms import PENALTY, gaussian_terms, to_numpy  # noqa: E402


@pytest.mark.parametrize("m, k", [(2, 3), (3, 1), (1, 4), (4, 2)])
def test_the_bound_and_loss_are_the_papers_in_numpy(m, k, rng):
    terms, log_weights = gaussian_terms(rng, codes=m * k, batch=5)
    result = MIWAE(m=m, k=k)(terms)
    expected = ref.miwae_bound(log_weights, m, k)
    assert set(result) == {"loss", "miwae_bound"}
    np.testing.assert_allclose(to_numpy(result["miwae_bound"]), expected, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(result["loss"]), -expected + PENALTY, rtol=1e-5)


def test_one_group_is_the_core_iwae(rng):
    terms, _ = gaussian_terms(rng, codes=5)
    iwae = plugins.resolve("objective", {"name": "iwae", "importance_samples": 5})
    ours, theirs = MIWAE(m=1, k=5)(terms), iwae(terms)
    np.testing.assert_allclose(to_numpy(ours["loss"]), to_numpy(theirs["loss"]), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(ours["miwae_bound"]), to_numpy(theirs["iwae_bound"]), rtol=1e-6)


def test_one_code_per_group_is_the_elbo_averaged_over_the_codes(rng):
    terms, log_weights = gaussian_terms(rng, codes=4)
    np.testing.assert_allclose(to_numpy(MIWAE(m=4, k=1)(terms)["miwae_bound"]), log_weights.mean(axis=0), rtol=1e-5)


def test_on_the_same_codes_it_lies_between_the_elbo_and_iwae_of_all_of_them(rng):
    # Jensen's inequality, draw by draw: mean_m log mean_k w <= log mean_{m,k} w, and mean_k log w <= log mean_k w.
    terms, log_weights = gaussian_terms(rng, codes=12, batch=64)
    bound = to_numpy(MIWAE(m=3, k=4)(terms)["miwae_bound"])
    assert np.all(bound >= ref.elbo(log_weights) - 1e-4)
    assert np.all(bound <= ref.iwae_bound(log_weights) + 1e-4)


def test_it_fulfils_the_objective_contract():
    check_objective(lambda: MIWAE(m=2, k=3), single_sample=lambda: MIWAE(m=1, k=1))


def test_the_model_draws_m_times_k_codes_and_logs_the_bound(digits):
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "seed": 1})
    model.compile(optimizer="adam", loss="bernoulli", objective={"name": "miwae", "m": 3, "k": 2})
    assert model.objective.importance_samples == 6
    loss, outputs = model.loss_and_outputs(digits[:32], training=True)
    assert tuple(outputs.shape) == (32, 64)  # the first code's, for the compiled metrics
    (tracker,) = model.objective_trackers
    # No regularizer: the loss is the negative bound, which the model logs as miwae_bound.
    assert tracker.name == "miwae_bound" and float(tracker.result()) == pytest.approx(-float(loss), rel=1e-5)


def test_the_name_and_config_round_trip():
    assert plugins.get_component("objective", "miwae") is MIWAE
    objective = plugins.resolve("objective", {"name": "miwae", "m": 4, "k": 8})
    assert isinstance(objective, MIWAE) and (objective.m, objective.k, objective.importance_samples) == (4, 8, 32)
    spec = component_spec("objective", objective)
    assert json.loads(json.dumps(spec)) == {"name": "miwae", "m": 4, "k": 8}
    assert component_spec("objective", plugins.resolve("objective", spec)) == spec
    assert repr(objective) == "MIWAE(m=4, k=8)"


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"m": 0}, "`m`, the independent IWAE bounds averaged, must be a positive integer. Received: m=0"),
        ({"m": 2.5}, "`m`, the independent IWAE bounds averaged, must be a positive integer. Received: m=2.5"),
        ({"m": True}, "`m`, the independent IWAE bounds averaged, must be a positive integer. Received: m=True"),
        ({"k": 0}, "`k`, the codes drawn for each bound, must be a positive integer. Received: k=0"),
        ({"k": -3}, "`k`, the codes drawn for each bound, must be a positive integer. Received: k=-3"),
    ],
)
def test_bad_parameters_are_refused_in_one_line(arguments, message):
    with pytest.raises(ValueError) as raised:
        MIWAE(**arguments)
    assert str(raised.value) == message
    # By name, as a config gives them, the same line.
    with pytest.raises(ValueError) as raised:
        plugins.resolve("objective", {"name": "miwae", **arguments})
    assert str(raised.value) == message


def test_a_string_for_a_count_is_refused_by_name_and_in_python():
    with pytest.raises(ValueError) as raised:
        plugins.resolve("objective", {"name": "miwae", "k": "4"})
    assert str(raised.value) == (
        "The objective 'miwae' (MIWAE from tfae-iwae 0.1.0) takes an integer for 'k', not the string '4'."
    )
    with pytest.raises(ValueError) as raised:
        MIWAE(k="4")
    assert str(raised.value) == "`k`, the codes drawn for each bound, must be a positive integer. Received: k='4'"


@pytest.mark.parametrize(
    "bottleneck, loss, message",
    [
        (
            {"name": "vanilla", "latent_dim": 2},
            "bernoulli",
            "The objective 'miwae' (MIWAE) needs the log-density of codes under the posterior and the prior, which the "
            "bottleneck 'vanilla' (VanillaBottleneck) cannot give: use a variational bottleneck such as 'gaussian'.",
        ),
        (
            {"name": "gaussian", "latent_dim": 2, "regularizer": "kld"},
            "bernoulli",
            "regularizer kld would count the divergence from the prior twice",
        ),
        ({"name": "gaussian", "latent_dim": 2}, "mse", "The objective 'miwae' (MIWAE) needs log p(x | z) in nats"),
    ],
    ids=["without_densities", "with_kld", "with_a_keras_loss"],
)
def test_a_model_that_cannot_serve_it_is_refused_at_compile_in_one_line(bottleneck, loss, message):
    model = Autoencoder(bottleneck=bottleneck)
    with pytest.raises(ValueError) as raised:
        model.compile(optimizer="adam", loss=loss, objective={"name": "miwae", "m": 2, "k": 2})
    assert message in str(raised.value) and "\n" not in str(raised.value)
