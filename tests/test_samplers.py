"""Post-hoc samplers: ``model.sample(n, sampler=...)`` and ``tfae generate --sampler``."""

import numpy as np
import pytest

import tfae
from tfae.cli import main
from tfae.models import Autoencoder
from tfae.plugins import list_components, resolve
from tfae.samplers import BaseSampler, GaussianMixtureSampler, PriorSampler, TwoStageSampler
from tfae.samplers.base import encode
from tfae.testing import check_sampler


@pytest.fixture(scope="module")
def plain_autoencoder(digits):
    """A plain (vanilla) autoencoder of the digits: no prior, codes far from N(0, I)."""
    x = digits[0].reshape(-1, 8, 8)
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=3, batch_size=64, verbose=0)
    return model, x


def test_the_built_in_samplers_are_registered_by_name():
    assert {entry.name for entry in list_components("sampler")} >= {"prior", "gmm", "two_stage"}
    assert isinstance(resolve("sampler", "gmm"), GaussianMixtureSampler)
    assert isinstance(resolve("sampler", {"name": "two_stage", "epochs": 3}), TwoStageSampler)
    assert isinstance(resolve("sampler", "prior"), PriorSampler)


def test_a_one_component_mixture_draws_codes_with_the_training_codes_mean_and_covariance(plain_autoencoder):
    model, x = plain_autoencoder
    codes = encode(model, x)
    sampler = GaussianMixtureSampler(components=1).fit(model, x)
    drawn = sampler.sample(model, 20000, seed=0).astype("float64")
    # One Gaussian fitted by maximum likelihood is the codes' mean and (biased) covariance.
    assert np.allclose(drawn.mean(axis=0), codes.mean(axis=0), atol=0.05 * codes.std(axis=0).max())
    assert np.allclose(np.cov(drawn, rowvar=False), np.cov(codes, rowvar=False, bias=True), rtol=0.08, atol=0.02)


def test_a_plain_autoencoder_generates_through_a_fitted_mixture(plain_autoencoder):
    model, x = plain_autoencoder
    with pytest.raises(ValueError, match="VanillaBottleneck has no prior to sample from: fit a sampler"):
        model.sample(4)
    sampler = GaussianMixtureSampler(components=5).fit(model, x)
    first, again = model.sample(6, sampler=sampler, seed=1), model.sample(6, sampler=sampler, seed=1)
    assert first.shape == (6, 8, 8) and ((first >= 0) & (first <= 1)).all()
    assert np.array_equal(first, again)
    assert not np.array_equal(first, model.sample(6, sampler=sampler, seed=2))


def test_the_two_stage_sampler_draws_codes_distributed_like_the_training_codes(plain_autoencoder):
    model, x = plain_autoencoder
    codes = encode(model, x)
    sampler = TwoStageSampler(epochs=30, hidden=[32, 32]).fit(model, x)
    drawn = sampler.sample(model, 4000, seed=0).astype("float64")
    assert np.allclose(drawn.mean(axis=0), codes.mean(axis=0), atol=0.15 * codes.std(axis=0).max())
    assert np.allclose(drawn.std(axis=0), codes.std(axis=0), rtol=0.2)
    assert model.sample(3, sampler=sampler, seed=0).shape == (3, 8, 8)


def test_the_prior_sampler_is_the_default(digits_run):
    model = tfae.load_model(digits_run / "model.keras", compile=False)
    assert np.array_equal(model.sample(5, seed=3), model.sample(5, seed=3, sampler="prior"))
    codes = model.bottleneck.sample_prior(5, seed=3)
    assert np.allclose(model.sample(5, seed=3), model.decoder.predict(codes, verbose=0))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"name": "gmm", "components": 0},
            "`components`, the number of Gaussians, must be a positive integer. Received: components=0",
        ),
        (
            {"name": "gmm", "covariance": "round"},
            "`covariance` must be one of full, tied, diag, spherical. Received: covariance='round'",
        ),
        (
            {"name": "two_stage", "hidden": [8, 0]},
            "`hidden` must be a list of positive integers. Received: hidden=[8, 0]",
        ),
        ({"name": "two_stage", "epochs": 0}, "`epochs` must be a positive integer. Received: epochs=0"),
        (
            {"name": "two_stage", "learning_rate": 2},
            "`learning_rate` must be a number between 0 and 1. Received: learning_rate=2",
        ),
    ],
)
def test_bad_parameters_are_refused_at_construction(spec, message):
    with pytest.raises(ValueError) as error:
        resolve("sampler", spec)
    assert str(error.value) == message


def test_a_sampler_refuses_what_it_cannot_draw_for(plain_autoencoder, digits):
    model, x = plain_autoencoder
    with pytest.raises(ValueError, match=r"must be fitted to them first: sampler.fit\(model, x_train\)"):
        model.sample(3, sampler="gmm")
    with pytest.raises(ValueError, match=r"A mixture of 50 Gaussians needs at least as many codes; the data gave 20"):
        GaussianMixtureSampler(components=50).fit(model, x[:20])
    with pytest.raises(ValueError, match="The number of samples must be a positive integer. Received: n=0"):
        model.sample(0, sampler=GaussianMixtureSampler(components=2).fit(model, x[:50]))
    unbuilt = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    with pytest.raises(ValueError, match="has no encoder yet, so it has no codes to fit a sampler to: train it"):
        GaussianMixtureSampler().fit(unbuilt, x)
    with pytest.raises(ValueError, match="The model is not built yet"):
        unbuilt.sample(3)
    wider = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 3})
    wider.build((None, 8, 8))
    fitted = GaussianMixtureSampler(components=2).fit(model, x[:50])
    with pytest.raises(ValueError, match="was fitted to codes of 2 dimensions, and this model's have 3"):
        wider.sample(2, sampler=fitted)
    with pytest.raises(TypeError, match="`sampler` must be a tfae sampler"):
        model.sample(2, sampler=3.5)


def test_binary_codes_are_not_given_to_a_gaussian_mixture(digits):
    x = digits[0].reshape(-1, 8, 8)[:64]
    model = Autoencoder(bottleneck={"name": "bernoulli", "latent_dim": 3})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    for sampler in (GaussianMixtureSampler(components=2), TwoStageSampler(epochs=1)):
        with pytest.raises(
            ValueError, match="makes binary codes, and the .* draws real ones that its decoder never saw"
        ):
            sampler.fit(model, x)
    assert model.sample(2, seed=0).shape == (2, 8, 8)


def test_a_sampler_subclass_needs_only_its_draw(plain_autoencoder):
    class CentreSampler(BaseSampler):
        def fit_codes(self, codes):
            self.centre = codes.mean(axis=0)

        def sample_codes(self, model, n, seed=None):
            return np.tile(self.centre, (n, 1))

    model, x = plain_autoencoder
    sampler = CentreSampler().fit(model, x)
    samples = model.sample(3, sampler=sampler)
    assert np.allclose(samples[0], samples[2])
    assert repr(sampler) == "CentreSampler()"


def test_generate_fits_a_sampler_to_the_runs_training_codes(digits_run, tmp_path, capsys):
    arrays = tmp_path / "samples.npy"
    assert main(["generate", str(digits_run), "--sampler", "gmm", "-n", "5", "-o", str(arrays), "--seed", "1"]) == 0
    out = capsys.readouterr().out.strip()
    # digits_run holds out 10% of the 1797 digits for validation: the sampler is fitted to the rest.
    assert (
        out
        == f"tfae generate: wrote {arrays}: 5 samples of shape (8, 8) from a gmm sampler fitted to 1617 codes of digits"
    )
    first = np.load(arrays)
    table = '{name = "gmm", components = 3}'
    assert (
        main(
            [
                "generate",
                str(digits_run / "model.keras"),
                "--sampler",
                table,
                "--data",
                "digits",
                "-n",
                "5",
                "-o",
                str(arrays),
            ]
        )
        == 0
    )
    assert "from a gmm sampler fitted to 1797 codes of digits" in capsys.readouterr().out
    assert first.shape == np.load(arrays).shape == (5, 8, 8)


def test_generate_says_what_a_fitted_sampler_needs(digits_run, tmp_path, capsys):
    lone = tmp_path / "lone.keras"
    lone.write_bytes((digits_run / "model.keras").read_bytes())
    assert main(["generate", str(lone), "--sampler", "gmm", "-o", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"tfae generate: error: --sampler gmm is fitted to the codes of the training data, and {lone} is no run "
        "folder whose config.toml says what that was: give it with --data DATA (a dataset's name, a .npy/.npz file "
        "or a folder of images)"
    )
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a model")
    # The sampler is checked before the model is loaded.
    assert main(["generate", str(broken), "--sampler", "gmn", "-o", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.startswith(
        "tfae generate: error: --sampler gmn: Unknown sampler 'gmn'. Did you mean"
    )


def test_the_contract_check_finds_a_sampler_that_ignores_its_seed():
    from tfae.plugins import register_plugin, unregister_plugin

    class UnseededSampler(BaseSampler):
        needs_fit = False

        def sample_codes(self, model, n, seed=None):
            return np.random.default_rng().normal(size=(n, 2))

    class Plugin:
        @staticmethod
        @tfae.hookimpl
        def register_samplers(register):
            register(UnseededSampler, name="unseeded")

    register_plugin(Plugin, name="unseeded-sampler")
    try:
        with pytest.raises(
            AssertionError, match="UnseededSampler breaks the tfae contract: the same seed drew other codes"
        ):
            check_sampler(UnseededSampler)
    finally:
        unregister_plugin("unseeded-sampler")
