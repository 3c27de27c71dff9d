"""CIWAE: the bound against NumPy, its ends (the ELBO at beta = 1, IWAE at 0), the contract check, every refusal."""

import json
import math
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tfae import plugins
from tfae.models import Autoencoder
from tfae.serialization import component_spec
from tfae.testing import check_objective
from tfae_iwae import CIWAE

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402
from terms import PENALTY, gaussian_terms, to_numpy  # noqa: E402

BETA_MESSAGE = "`beta`, the ELBO's weight against IWAE's bound, must be a number in [0, 1] (1 is the ELBO, 0 is IWAE)."


def rewrite_compile_config(path, objective):
    """A copy of the saved model at ``path`` whose compile config names ``objective``, as an older tfae-iwae
    wrote it."""
    old = path.with_name(f"old-{path.name}")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                config["compile_config"]["objective"] = objective
                data = json.dumps(config).encode("utf-8")
            target.writestr(info, data)
    return old


@pytest.mark.parametrize("beta, k", [(0.5, 4), (0.1, 6), (0.9, 2), (0.3, 1)])
def test_the_bound_and_loss_are_the_papers_in_numpy(beta, k, rng):
    terms, log_weights = gaussian_terms(rng, codes=k, batch=5)
    result = CIWAE(beta=beta, importance_samples=k)(terms)
    expected = ref.ciwae_bound(log_weights, beta)
    assert set(result) == {"loss", "ciwae_bound"}
    np.testing.assert_allclose(to_numpy(result["ciwae_bound"]), expected, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(result["loss"]), -expected + PENALTY, rtol=1e-5)


def test_beta_one_is_the_elbo_of_the_k_codes(rng):
    terms, log_weights = gaussian_terms(rng, codes=5)
    np.testing.assert_allclose(
        to_numpy(CIWAE(beta=1.0, importance_samples=5)(terms)["ciwae_bound"]), log_weights.mean(axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        to_numpy(CIWAE(beta=1, importance_samples=5)(terms)["loss"]), -log_weights.mean(axis=0) + PENALTY, rtol=1e-5
    )


def test_beta_zero_is_the_core_iwae(rng):
    terms, _ = gaussian_terms(rng, codes=5)
    iwae = plugins.resolve("objective", {"name": "iwae", "importance_samples": 5})
    ours, theirs = CIWAE(beta=0.0, importance_samples=5)(terms), iwae(terms)
    np.testing.assert_allclose(to_numpy(ours["loss"]), to_numpy(theirs["loss"]), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(ours["ciwae_bound"]), to_numpy(theirs["iwae_bound"]), rtol=1e-6)


def test_on_the_same_codes_it_moves_from_iwae_to_the_elbo_as_beta_grows(rng):
    terms, log_weights = gaussian_terms(rng, codes=8, batch=64)
    bounds = [to_numpy(CIWAE(beta=beta, importance_samples=8)(terms)["ciwae_bound"]) for beta in (0.0, 0.25, 0.75, 1.0)]
    assert all(np.all(higher >= lower - 1e-4) for higher, lower in zip(bounds, bounds[1:]))
    np.testing.assert_allclose(bounds[0], ref.iwae_bound(log_weights), rtol=1e-5)
    np.testing.assert_allclose(bounds[-1], ref.elbo(log_weights), rtol=1e-5)


def test_it_fulfils_the_objective_contract():
    check_objective(lambda: CIWAE(beta=0.5, importance_samples=4))


def test_the_model_draws_k_codes_and_logs_the_bound(digits):
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "seed": 1})
    model.compile(
        optimizer="adam", loss="bernoulli", objective={"name": "ciwae", "beta": 0.25, "importance_samples": 3}
    )
    assert model.objective.importance_samples == 3
    loss, outputs = model.loss_and_outputs(digits[:32], training=True)
    assert tuple(outputs.shape) == (32, 64)
    (tracker,) = model.objective_trackers
    assert tracker.name == "ciwae_bound" and float(tracker.result()) == pytest.approx(-float(loss), rel=1e-5)


def test_the_name_and_config_round_trip():
    assert plugins.get_component("objective", "ciwae") is CIWAE
    objective = plugins.resolve("objective", {"name": "ciwae", "beta": 0.25, "importance_samples": 8})
    assert isinstance(objective, CIWAE) and (objective.beta, objective.k, objective.importance_samples) == (0.25, 8, 8)
    spec = component_spec("objective", objective)
    assert json.loads(json.dumps(spec)) == {"name": "ciwae", "beta": 0.25, "importance_samples": 8}
    assert component_spec("objective", plugins.resolve("objective", spec)) == spec
    assert repr(objective) == "CIWAE(beta=0.25, importance_samples=8)"
    # An integer beta (a config's `beta = 1`) is the same objective as the float.
    assert CIWAE(beta=1, importance_samples=2).get_config() == {"beta": 1.0, "importance_samples": 2}


def test_its_former_k_is_taken_with_a_deprecation_warning_and_saved_as_importance_samples():
    with pytest.warns(DeprecationWarning, match=r"CIWAE's `k` is now called `importance_samples`: write"):
        old = plugins.resolve("objective", {"name": "ciwae", "beta": 0.25, "k": 3})
    assert old.importance_samples == old.k == 3
    assert old.get_config() == {"beta": 0.25, "importance_samples": 3} == CIWAE(0.25, 3).get_config()
    # A config or saved model written with `k` loads the same objective.
    with pytest.warns(DeprecationWarning):
        assert CIWAE.from_config({"beta": 0.5, "k": 3}).get_config() == {"beta": 0.5, "importance_samples": 3}
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError) as raised:
        CIWAE(k=0)
    assert str(raised.value) == "`k`, the codes drawn per sample, must be a positive integer. Received: k=0"


def test_a_model_saved_with_the_former_k_loads_with_importance_samples(tmp_path, digits):
    import tfae

    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "seed": 1})
    model.compile(
        optimizer="adam", loss="bernoulli", objective={"name": "ciwae", "beta": 0.25, "importance_samples": 3}
    )
    model.fit(digits[:64], epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "ciwae.keras"
    model.save(path)
    old = rewrite_compile_config(path, {"name": "ciwae", "beta": 0.25, "k": 3})
    with pytest.warns(DeprecationWarning, match=r"CIWAE's `k` is now called `importance_samples`"):
        loaded = tfae.load_model(old)
    assert isinstance(loaded.objective, CIWAE) and loaded.objective.get_config() == {
        "beta": 0.25,
        "importance_samples": 3,
    }


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"beta": -0.1}, f"{BETA_MESSAGE} Received: beta=-0.1"),
        ({"beta": 1.5}, f"{BETA_MESSAGE} Received: beta=1.5"),
        ({"beta": math.nan}, f"{BETA_MESSAGE} Received: beta=nan"),
        ({"beta": True}, f"{BETA_MESSAGE} Received: beta=True"),
        (
            {"importance_samples": 0},
            "`importance_samples`, the codes drawn per sample, must be a positive integer. Received: "
            "importance_samples=0",
        ),
        (
            {"importance_samples": 2.0},
            "`importance_samples`, the codes drawn per sample, must be a positive integer. Received: "
            "importance_samples=2.0",
        ),
    ],
)
def test_bad_parameters_are_refused_in_one_line(arguments, message):
    with pytest.raises(ValueError) as raised:
        CIWAE(**arguments)
    assert str(raised.value) == message
    with pytest.raises(ValueError) as raised:
        plugins.resolve("objective", {"name": "ciwae", **arguments})
    assert str(raised.value) == message


def test_a_string_for_beta_is_refused_by_name_and_in_python():
    with pytest.raises(ValueError) as raised:
        plugins.resolve("objective", {"name": "ciwae", "beta": "half"})
    assert str(raised.value) == (
        "The objective 'ciwae' (CIWAE from tfae-iwae 0.1.0) takes a number for 'beta', not the string 'half'."
    )
    with pytest.raises(ValueError) as raised:
        CIWAE(beta="half")
    assert str(raised.value) == f"{BETA_MESSAGE} Received: beta='half'"


@pytest.mark.parametrize(
    "bottleneck, loss, message",
    [
        (
            {"name": "vanilla", "latent_dim": 2},
            "bernoulli",
            "The objective 'ciwae' (CIWAE) needs the log-density of codes under the posterior and the prior, which the "
            "bottleneck 'vanilla' (VanillaBottleneck) cannot give: use a variational bottleneck such as 'gaussian'.",
        ),
        (
            {"name": "gaussian", "latent_dim": 2, "regularizer": "kld"},
            "bernoulli",
            "regularizer kld would count the divergence from the prior twice",
        ),
        ({"name": "gaussian", "latent_dim": 2}, "mse", "The objective 'ciwae' (CIWAE) needs log p(x | z) in nats"),
    ],
    ids=["without_densities", "with_kld", "with_a_keras_loss"],
)
def test_a_model_that_cannot_serve_it_is_refused_at_compile_in_one_line(bottleneck, loss, message):
    model = Autoencoder(bottleneck=bottleneck)
    with pytest.raises(ValueError) as raised:
        model.compile(optimizer="adam", loss=loss, objective={"name": "ciwae", "beta": 0.5, "importance_samples": 2})
    assert message in str(raised.value) and "\n" not in str(raised.value)
