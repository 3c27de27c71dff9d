"""DIP-VAE-I and -II: the penalties against NumPy's closed forms, in a model, saved, and the refusals.

The checks that touch the maths or a model run on TensorFlow here and again on JAX in a fresh process
(``test_on_jax.py``): the suite runs on the default backend.
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
import tfae_disentangle.dip_vae
from tfae.bottlenecks import GaussianBottleneck, Posterior
from tfae.datasets import load_digits
from tfae.models import Autoencoder
from tfae.plugins import get_component, resolve
from tfae_disentangle.dip_vae import DIPVAEIIRegularizer, DIPVAEIRegularizer

TESTS = Path(__file__).resolve().parent
CLASSES = {"dip_vae_i": DIPVAEIRegularizer, "dip_vae_ii": DIPVAEIIRegularizer}


def posterior_parameters(seed, batch=64, dim=5):
    """Means with correlated dimensions and log-variances of either sign, float32."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim))
    mean = (rng.normal(size=(batch, dim)) @ mixing + rng.normal(size=dim)).astype("float32")
    log_variance = rng.normal(scale=1.5, size=(batch, dim)).astype("float32")
    return mean, log_variance


def reference_penalty(name, mean, log_variance, lambda_od, lambda_d):
    if name == "dip_vae_i":
        return reference.dip_vae_i(mean, lambda_od, lambda_d)
    return reference.dip_vae_ii(mean, log_variance, lambda_od, lambda_d)


def check_closed_forms():
    """Each penalty, from a Posterior and from the arrays, is the NumPy closed form times beta (float32 tolerance)."""
    for name, regularizer_class in CLASSES.items():
        for seed, (batch, dim) in enumerate([(64, 5), (7, 3), (2, 1), (200, 10)]):
            mean, log_variance = posterior_parameters(seed, batch, dim)
            for lambda_od, lambda_d, beta in [(1.0, 1.0, 1.0), (10.0, 100.0, 1.0), (2.5, 0.0, 3.0), (0.0, 4.0, 0.5)]:
                regularizer = regularizer_class(lambda_od=lambda_od, lambda_d=lambda_d, beta=beta)
                expected = beta * reference_penalty(name, mean, log_variance, lambda_od, lambda_d)
                posterior = Posterior(parameters=(mean, log_variance), code=mean)
                for found in (regularizer(posterior), regularizer(mean, log_variance)):
                    assert str(ops.dtype(found)) == "float32" and tuple(found.shape) == ()
                    np.testing.assert_allclose(float(found), expected, rtol=2e-5, atol=1e-5, err_msg=f"{name} {seed}")


def check_penalties_are_zero_exactly_when_the_covariance_is_the_identity():
    # Whitened means: covariance exactly I (biased); with variances, DIP-VAE-II sees I + E[variance].
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(500, 3))
    raw -= raw.mean(axis=0)
    whitened = raw @ np.linalg.inv(np.linalg.cholesky(raw.T @ raw / len(raw))).T
    mean = whitened.astype("float32")
    very_narrow = np.full_like(mean, -30.0)
    assert float(DIPVAEIRegularizer()(mean, very_narrow)) == pytest.approx(0.0, abs=1e-3)
    assert float(DIPVAEIIRegularizer()(mean, very_narrow)) == pytest.approx(0.0, abs=1e-3)
    unit = np.zeros_like(mean)
    # Cov[z] = 2 I: every diagonal entry is off by 1.
    assert float(DIPVAEIIRegularizer(lambda_od=10.0, lambda_d=3.0)(mean, unit)) == pytest.approx(3.0 * 3, rel=1e-4)


def train(regularizer, epochs=2):
    """A small VAE on the digits with ``regularizer`` (a list) on its Gaussian bottleneck; the model and its history."""
    keras.utils.set_random_seed(0)
    images = load_digits()[0][:256].reshape(-1, 64)
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 4, "regularizer": regularizer})
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(images, epochs=epochs, batch_size=64, verbose=0).history
    return model, images, history


def check_a_dip_vae_trains_saves_and_loads(folder):
    model, images, history = train(["kld", {"name": "dip_vae_ii", "lambda_od": 10}])
    for key in ("kld_loss", "dip_vae_ii_loss", "regularization_loss"):
        assert key in history and np.all(np.isfinite(history[key])), (key, history)
    np.testing.assert_allclose(
        history["regularization_loss"], np.add(history["kld_loss"], history["dip_vae_ii_loss"]), rtol=1e-5
    )
    # The logged penalty is DIP-VAE-II of the batch's posteriors (the model's encoder is the bottleneck alone).
    batch = images[:64]
    mean, log_variance = (ops.convert_to_numpy(p) for p in model.bottleneck.distribution_parameters(batch))
    logged = model.evaluate(batch, batch_size=64, verbose=0, return_dict=True)["dip_vae_ii_loss"]
    assert logged == pytest.approx(reference.dip_vae_ii(mean, log_variance, 10.0, 10.0), rel=1e-4)

    path = os.path.join(folder, "dip_vae.keras")
    model.save(path)
    loaded = tfae.load_model(path)
    regularizers = loaded.bottleneck.regularizers
    assert [type(r).__name__ for r in regularizers] == ["GaussianKLDRegularizer", "DIPVAEIIRegularizer"]
    assert regularizers[1].get_config() == {"beta": 1.0, "lambda_od": 10.0, "lambda_d": 10.0}
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    again = loaded.fit(images, epochs=1, batch_size=64, verbose=0).history
    assert np.isfinite(again["dip_vae_ii_loss"][0])


def test_penalties_equal_the_numpy_closed_forms():
    check_closed_forms()


def test_penalties_are_zero_exactly_when_the_covariance_is_the_identity():
    check_penalties_are_zero_exactly_when_the_covariance_is_the_identity()


def test_a_dip_vae_trains_saves_and_loads(tmp_path):
    check_a_dip_vae_trains_saves_and_loads(str(tmp_path))


def test_dip_vae_i_trains_beside_the_kl():
    _, _, history = train(["kld", "dip_vae_i"], epochs=1)
    np.testing.assert_allclose(
        history["regularization_loss"], np.add(history["kld_loss"], history["dip_vae_i_loss"]), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("name", "defaults"),
    [("dip_vae_i", {"lambda_od": 10.0, "lambda_d": 100.0}), ("dip_vae_ii", {"lambda_od": 10.0, "lambda_d": 10.0})],
)
def test_registered_by_name_with_the_studys_defaults_and_rebuilt_from_config(name, defaults):
    assert get_component("regularizer", name) is CLASSES[name]
    regularizer = resolve("regularizer", name)
    assert regularizer.get_config() == {"beta": 1.0, **defaults}
    schedule = {"name": "dasr", "attack": 2}
    custom = resolve("regularizer", {"name": name, "lambda_od": 2, "lambda_d": 0.5, "beta": schedule})
    config = json.loads(json.dumps(custom.get_config()))
    rebuilt = CLASSES[name].from_config(config)
    assert rebuilt.get_config() == config
    assert (rebuilt.lambda_od, rebuilt.lambda_d) == (2.0, 0.5)
    assert rebuilt.scheduler is not None
    assert repr(rebuilt).startswith(f"{CLASSES[name].__name__}(beta={{'name': 'dasr', ")
    assert repr(rebuilt).endswith(", lambda_od=2.0, lambda_d=0.5)")


@pytest.mark.parametrize("regularizer_class", list(CLASSES.values()))
@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("lambda_od", -1.0),
        ("lambda_d", -0.5),
        ("lambda_od", float("nan")),
        ("lambda_d", float("inf")),
        ("lambda_od", "ten"),
        ("lambda_d", True),
        ("lambda_od", None),
    ],
)
def test_bad_weights_are_refused_with_the_value(regularizer_class, argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}` must be a finite number >= 0\. Received: {argument}="):
        regularizer_class(**{argument: value})


def test_a_negative_beta_is_refused():
    with pytest.raises(ValueError, match="Received: beta=-1"):
        DIPVAEIIRegularizer(beta=-1)


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize(
    ("bottleneck", "class_name"), [("vanilla", "VanillaBottleneck"), ("bernoulli", "BernoulliBottleneck")]
)
def test_a_bottleneck_without_a_gaussian_posterior_is_refused_naming_both(name, bottleneck, class_name):
    message = (
        f"The regularizer '{name}' ({CLASSES[name].__name__}) needs a Gaussian posterior, its mean and log-variance, "
        f"which the bottleneck '{bottleneck}' ({class_name}) does not give: use the bottleneck 'gaussian'."
    )
    with pytest.raises(ValueError) as raised:
        Autoencoder(bottleneck={"name": bottleneck, "latent_dim": 3, "regularizer": ["kld", name]})
    assert message in str(raised.value)


def test_a_gaussian_bottleneck_accepts_it():
    bottleneck = GaussianBottleneck(latent_dim=3, regularizer=["kld", DIPVAEIRegularizer(lambda_od=1.0)])
    assert bottleneck.regularizer_names == ["kld", "dip_vae_i"]


def test_the_docstring_examples_run():
    found = doctest.testmod(tfae_disentangle.dip_vae, extraglobs={"keras": keras}, optionflags=doctest.ELLIPSIS)
    assert found.attempted > 0 and found.failed == 0
