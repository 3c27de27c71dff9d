"""Autoencoder and DeepAutoencoder: assembly, shapes, training, history, and the examples of the earlier TFAE
README, whose API tfae keeps."""

import warnings

import keras
import numpy as np
import pytest

from tfae.bottlenecks import BernoulliBottleneck, GaussianBottleneck, VanillaBottleneck
from tfae.models import Autoencoder, DeepAutoencoder
from tfae.regularizers import GaussianKLDRegularizer
from tfae.schedulers import DASRScheduler

pytestmark = pytest.mark.backend_neutral


def seed_add_hidden(x, layer_num, input_shape, latent_dim):
    """The earlier TFAE README's pyramid: two hidden layers shrinking geometrically to the latent size."""
    number_of_hidden_layers = 2
    divisor = (latent_dim / input_shape[-1]) ** (layer_num / (number_of_hidden_layers + 1))
    units = int(divisor * input_shape[-1])
    x = keras.layers.Dense(units)(x)
    return x, layer_num == number_of_hidden_layers


def test_seed_readme_shallow_vae_runs_as_written(digits):
    x, _ = digits
    model = Autoencoder(
        bottleneck=GaussianBottleneck(
            latent_dim=32,
            kernel_regularizer=GaussianKLDRegularizer(),
        ),
    )
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=1, batch_size=256, verbose=0)

    encoded = model.encoder.predict(x[:10], verbose=0)
    generated = model.decoder.predict(encoded, verbose=0)

    assert encoded.shape == (10, 32)
    assert generated.shape == (10, 64)
    assert generated.min() >= 0.0 and generated.max() <= 1.0


def test_seed_readme_two_phase_schedule_runs_as_written(digits):
    x, _ = digits
    scheduler = DASRScheduler(start_value=0.0, end_value=1.0, delay=1, attack=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # The earlier TFAE README misspells the keyword; it must still work, with a warning naming the right one.
        model = Autoencoder(
            bottleneck=GaussianBottleneck(
                latent_dim=4,
                kernel_regulirizer=GaussianKLDRegularizer(beta=scheduler.value),
            )
        )
    assert any("regularizer=" in str(warning.message) for warning in caught)
    model.compile(optimizer="adam", loss="bernoulli")

    phase_1 = model.fit(x, epochs=scheduler.duration, batch_size=256, verbose=0, callbacks=[scheduler])
    phase_2 = model.fit(
        x,
        batch_size=256,
        verbose=0,
        epochs=scheduler.duration + 2,
        initial_epoch=scheduler.duration,
        callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=1)],
    )

    np.testing.assert_allclose(phase_1.history["beta"], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(phase_2.history["beta"], [1.0] * len(phase_2.history["beta"]))


def test_deep_autoencoder_builds_the_seed_pyramid_and_mirrors_it(digits):
    x, _ = digits
    model = DeepAutoencoder(bottleneck=VanillaBottleneck(latent_dim=8), add_hidden=seed_add_hidden)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, epochs=1, batch_size=256, verbose=0)

    def dense_units(network):
        return [layer.units for layer in network.layers if isinstance(layer, keras.layers.Dense)]

    # 64 * (8/64)^(1/3) = 32, 64 * (8/64)^(2/3) = 16; the decoder walks the same sizes back.
    assert dense_units(model.encoder) == [32, 16]
    assert model.bottleneck.latent_dim == 8
    assert dense_units(model.decoder_network) == [16, 32, 64]


def test_deep_autoencoder_without_add_hidden_says_what_is_missing():
    model = DeepAutoencoder(bottleneck=VanillaBottleneck(latent_dim=2))
    with pytest.raises(ValueError, match="needs `add_hidden`"):
        model.build((None, 4))


def test_image_shaped_input_is_reconstructed_with_its_shape(digits):
    x, _ = digits
    images = x[:64].reshape(-1, 8, 8, 1)
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 3, "regularizer": "kld"})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(images, epochs=1, batch_size=32, verbose=0)

    assert model.predict(images[:5], verbose=0).shape == (5, 8, 8, 1)
    assert model.sample(4).shape == (4, 8, 8, 1)


def test_history_shows_each_loss_component_and_they_add_up(digits):
    x, _ = digits
    scheduler = DASRScheduler(0.0, 1.0, attack=2)
    model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=2, regularizer=GaussianKLDRegularizer(beta=scheduler)))
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(x, epochs=2, batch_size=200, verbose=0, validation_split=0.2).history

    for key in ("loss", "reconstruction_loss", "regularization_loss", "beta"):
        assert key in history and "val_" + key in history
    total = np.add(history["reconstruction_loss"], history["regularization_loss"])
    np.testing.assert_allclose(history["loss"], total, rtol=1e-5)
    # The schedule was not passed as a callback: fit added it, so beta moved.
    np.testing.assert_allclose(history["beta"], [0.5, 1.0])


def test_constant_beta_is_not_logged(digits):
    x, _ = digits
    model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=2, regularizer="kld"))
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(x[:100], epochs=1, verbose=0).history
    assert "beta" not in history
    assert {"loss", "reconstruction_loss", "regularization_loss"} <= set(history)


def test_targets_other_than_inputs_are_reconstructed(rng):
    # A denoising autoencoder: noisy inputs, clean targets. The loss must score the targets.
    clean = (rng.random((256, 6)) > 0.5).astype("float32")
    noisy = np.clip(clean + rng.normal(0, 0.3, clean.shape), 0, 1).astype("float32")
    model = Autoencoder(bottleneck=VanillaBottleneck(latent_dim=6))
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(noisy, clean, epochs=1, verbose=0)
    against_clean = model.evaluate(noisy, clean, verbose=0, return_dict=True)["reconstruction_loss"]
    against_noisy = model.evaluate(noisy, noisy, verbose=0, return_dict=True)["reconstruction_loss"]
    assert against_clean != pytest.approx(against_noisy)


def test_evaluated_loss_is_the_negative_elbo_in_nats(digits):
    x, _ = digits
    x = x[:300]
    model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=3, regularizer="kld"))
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=1, verbose=0)
    # The loss of the posterior mean's decoding, scored in NumPy with the KL: the loss is in nats per sample.
    # (evaluate samples its codes, a bound: tests/test_evaluation_bound.py.)
    reconstruction = model.forward(x, sampling="mean")
    assert set(reconstruction.posterior.code.shape) == {300, 3}
    loss = float(keras.ops.convert_to_numpy(_loss_at_the_mean(model, x)))
    assert loss == pytest.approx(_negative_elbo_at_the_mean(model, x), rel=1e-4)


def _loss_at_the_mean(model, x):
    """The model's loss terms at the posterior mean, computed as the model computes them, from public parts."""
    posterior, logits = model.forward(x, sampling="mean")
    reconstruction = keras.ops.mean(model.likelihood.negative_log_likelihood(x, logits))
    return reconstruction + sum(value for _, value, _ in model.bottleneck.penalties(posterior))


def _negative_elbo_at_the_mean(model, x):
    """The loss at inference (the code is the posterior mean) in NumPy: Bernoulli cross-entropy plus the KL."""
    mean, log_variance = (np.asarray(p, dtype="float64") for p in model.bottleneck.distribution_parameters(x))
    logits = np.asarray(model.decoder_network.predict(mean.astype("float32"), verbose=0), dtype="float64")
    cross_entropy = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    kl = 0.5 * np.sum(mean**2 + np.exp(log_variance) - log_variance - 1, axis=-1)
    return np.mean(cross_entropy.sum(axis=-1) + kl)


def test_compute_loss_works_called_on_its_own(digits):
    x = digits[0][:64]
    model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=3, regularizer="kld"))
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=1, verbose=0)
    # After predict (which, on JAX, traces the model), nothing of that call is left for the loss to pick up.
    model.predict(x, verbose=0)

    expected = _negative_elbo_at_the_mean(model, x)
    assert float(_loss_at_the_mean(model, x)) == pytest.approx(expected, rel=1e-4)
    # Given Keras' y_pred, the output at the posterior mean, it scores it with the mean's penalties.
    given = model.compute_loss(x, y_pred=model(x, training=False), training=False)
    assert float(given) == pytest.approx(expected, rel=1e-4)
    # It computes the prediction as evaluate does, with sampled codes: a draw of the bound, near it.
    first, second = float(model.compute_loss(x, training=False)), float(model.compute_loss(x, training=False))
    assert first != second
    assert first == pytest.approx(expected, rel=0.2) and second == pytest.approx(expected, rel=0.2)


def test_call_returns_the_likelihoods_parameters_and_predict_the_data_space_mean(digits):
    x = digits[0][:32]
    model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=3, regularizer="kld"))
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=1, verbose=0)

    logits = np.asarray(model(x, training=False), dtype="float64")
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model.decoder.predict(model.encoder.predict(x, verbose=0), verbose=0), probabilities, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(model.predict_on_batch(x), probabilities, rtol=1e-5, atol=1e-6)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_compiled_metrics_compare_the_inputs_with_the_data_space_reconstruction(digits):
    x = digits[0][:128]
    model = Autoencoder(bottleneck=VanillaBottleneck(latent_dim=4))
    model.compile(optimizer="adam", loss="bernoulli", metrics=["mae"])
    history = model.fit(x, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["mae"]).all()

    mae = model.evaluate(x, batch_size=128, verbose=0, return_dict=True)["mae"]
    assert mae == pytest.approx(np.abs(x - model.predict(x, verbose=0)).mean(), rel=1e-4)


def test_gaussian_likelihood_and_keras_losses_work_as_defined(rng):
    data = rng.normal(size=(128, 5)).astype("float32")
    gaussian = Autoencoder(bottleneck=VanillaBottleneck(latent_dim=5))
    gaussian.compile(optimizer="adam", loss={"name": "gaussian", "variance": 1.0})
    gaussian.build(data.shape)
    mse = Autoencoder(bottleneck=VanillaBottleneck(latent_dim=5))
    mse.compile(optimizer="adam", loss="mse")
    mse.build(data.shape)
    mse.set_weights(gaussian.get_weights())

    nll = gaussian.evaluate(data, batch_size=128, verbose=0, return_dict=True)["loss"]
    mean_squared = mse.evaluate(data, batch_size=128, verbose=0, return_dict=True)["loss"]
    reconstruction = gaussian.predict(data, verbose=0).astype("float64")
    squared = (data - reconstruction) ** 2
    assert mean_squared == pytest.approx(squared.mean(), rel=1e-4)
    # N(x; mean, 1) in nats, summed over features: 0.5 * sum(sq) + 0.5 * d * log(2 pi).
    assert nll == pytest.approx(np.mean(0.5 * squared.sum(-1) + 2.5 * np.log(2 * np.pi)), rel=1e-4)


def test_compile_without_a_loss_says_what_to_pass():
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    with pytest.raises(ValueError, match="needs a `loss`.*'bernoulli'"):
        model.compile(optimizer="adam")


def test_an_unknown_loss_name_lists_the_likelihoods():
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    with pytest.raises(ValueError, match="Unknown likelihood 'bernouli'. Did you mean 'bernoulli'"):
        model.compile(optimizer="adam", loss="bernouli")


def test_a_bottleneck_name_without_parameters_explains_latent_dim():
    with pytest.raises(ValueError, match="needs latent_dim: give it as a dict"):
        Autoencoder(bottleneck="gaussian")


def test_bernoulli_bottleneck_autoencoder_trains_and_samples_binary_codes(digits):
    x, _ = digits
    model = Autoencoder(bottleneck=BernoulliBottleneck(latent_dim=6, regularizer="bernoulli_kld"))
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(x, epochs=3, batch_size=128, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    codes = model.bottleneck.sample_prior(5)
    assert set(np.unique(keras.ops.convert_to_numpy(codes))) <= {0.0, 1.0}


def test_linear_autoencoder_recovers_the_principal_subspace(rng):
    # Data on a known 2-D subspace of R^8 plus small noise: a linear AE with MSE must span that subspace.
    basis, _ = np.linalg.qr(rng.normal(size=(8, 2)))
    latent = rng.normal(size=(2000, 2)) * np.array([3.0, 2.0])
    data = (latent @ basis.T + rng.normal(scale=0.05, size=(2000, 8))).astype("float32")
    keras.utils.set_random_seed(0)
    model = Autoencoder(bottleneck=VanillaBottleneck(latent_dim=2))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.fit(data, epochs=40, batch_size=100, verbose=0)

    decoder_kernel = keras.ops.convert_to_numpy(model.decoder_network.layers[-1].kernel).T  # (8, 2)
    learned, _ = np.linalg.qr(decoder_kernel)
    # Cosines of the principal angles between the learned and the true subspace.
    cosines = np.linalg.svd(basis.T @ learned, compute_uv=False)
    assert cosines.min() > 0.99


def test_default_steps_per_execution_gives_the_same_training_as_one_step_per_call(digits):
    x, _ = digits
    histories, weights = [], []
    for steps_per_execution in (None, 1):
        keras.utils.set_random_seed(5)
        model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=3, regularizer="kld", seed=1))
        options = {} if steps_per_execution is None else {"steps_per_execution": steps_per_execution}
        model.compile(optimizer="adam", loss="bernoulli", **options)
        histories.append(model.fit(x, epochs=2, batch_size=100, shuffle=False, verbose=0).history)
        weights.append(model.get_weights())
    for key in ("loss", "reconstruction_loss", "regularization_loss"):
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-5)
    for default, single in zip(*weights):
        np.testing.assert_allclose(default, single, rtol=1e-4, atol=1e-6)


def test_tfae_runs_several_steps_per_execution_by_default():
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    model.compile(loss="mse")
    assert model.steps_per_execution == 16
