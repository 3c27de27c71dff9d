"""VectorQuantizedBottleneck: the maths against NumPy, the moving averages, the metric, and the tfae contract."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from tfae import plugins, testing
from tfae.models import Autoencoder
from tfae_vq import VectorQuantizedBottleneck
from tfae_vq.vector_quantized import EMA_EPSILON, perplexity

CODEBOOK = np.array([[0.0, 0.0], [1.0, 2.0], [-2.0, 1.0]], dtype="float32")


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def quantizer(ema_decay=None, commitment_cost=0.25, codebook=CODEBOOK, latent_dim=4):
    """A bottleneck whose projection is the identity, with a known codebook."""
    layer = VectorQuantizedBottleneck(
        latent_dim,
        codebook_size=len(codebook),
        codebook_dim=codebook.shape[1],
        commitment_cost=commitment_cost,
        ema_decay=ema_decay,
    )
    layer.build((None, latent_dim))
    layer.projection.set_weights([np.eye(latent_dim, dtype="float32"), np.zeros(latent_dim, dtype="float32")])
    if ema_decay is None:
        layer.codebook.assign(codebook)
    else:
        layer.ema_cluster_size.assign(np.ones(len(codebook), dtype="float32"))
        layer.ema_codebook_sum.assign(codebook)
    return layer


def nearest_codes(z, codebook):
    """NumPy: the index of the nearest codebook row for each group of ``z``, and the quantised ``z``."""
    groups = z.reshape(-1, codebook.shape[1]).astype("float64")
    distances = ((groups[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)
    indices = distances.argmin(axis=1)
    return indices.reshape(len(z), -1), codebook[indices].reshape(z.shape)


@pytest.fixture
def inputs(rng):
    return rng.normal(size=(6, 4)).astype("float32") * 2


@pytest.mark.parametrize("ema_decay", [None, 0.9], ids=["gradient_codebook", "ema_codebook"])
def test_quantisation_and_losses_match_numpy(inputs, ema_decay):
    layer = quantizer(ema_decay=ema_decay, commitment_cost=0.25)
    indices, quantized = nearest_codes(inputs, CODEBOOK)
    squared_error = ((inputs - quantized) ** 2).sum(axis=1).mean()

    np.testing.assert_array_equal(to_numpy(layer.code_indices(inputs)), indices)
    code = layer(inputs, training=False)
    np.testing.assert_allclose(to_numpy(code), quantized, atol=1e-6)
    (loss,) = layer.losses
    # The codebook loss and the commitment loss have the same value; with moving averages only the latter counts.
    expected = (0.25 if ema_decay else 1.25) * squared_error
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_straight_through_gradients_reach_the_encoder(inputs, rng):
    layer = quantizer(commitment_cost=0.25)
    x = keras.Input(shape=(4,))
    model = keras.Model(x, layer(x))
    weights = rng.normal(size=(1, 4)).astype("float32")

    def loss(code, losses):
        return ops.sum(code * weights) + sum(losses)

    kernel_gradient, codebook_gradient = testing.gradients(
        model, inputs, loss, [layer.projection.kernel, layer.codebook]
    )

    indices, quantized = nearest_codes(inputs, CODEBOOK)
    batch = len(inputs)
    # The code's gradient passes to z_e = inputs unchanged; the commitment loss pulls z_e towards its codes.
    z_gradient = weights + 0.25 * 2 * (inputs - quantized) / batch
    np.testing.assert_allclose(kernel_gradient, inputs.T @ z_gradient, rtol=1e-4, atol=1e-5)
    # Only the codebook loss reaches the codebook: each code moves towards the encodings that chose it.
    expected = np.zeros_like(CODEBOOK, dtype="float64")
    np.add.at(expected, indices.ravel(), -2 * (inputs - quantized).reshape(-1, 2) / batch)
    np.testing.assert_allclose(codebook_gradient, expected, rtol=1e-4, atol=1e-5)


def test_moving_averages_update_the_codebook_while_training_only(inputs):
    layer = quantizer(ema_decay=0.9)
    assert [w.name for w in layer.trainable_weights] == ["kernel", "bias"]
    layer(inputs, training=False)
    np.testing.assert_allclose(to_numpy(layer.codebook_vectors()), CODEBOOK, rtol=1e-6)

    code = layer(inputs, training=True)

    indices, quantized = nearest_codes(inputs, CODEBOOK)
    np.testing.assert_allclose(to_numpy(code), quantized, atol=1e-6)
    one_hot = np.eye(len(CODEBOOK))[indices.ravel()]
    cluster_size = 0.9 * 1.0 + 0.1 * one_hot.sum(axis=0)
    codebook_sum = 0.9 * CODEBOOK + 0.1 * one_hot.T @ inputs.reshape(-1, 2)
    total = cluster_size.sum()
    smoothed = (cluster_size + EMA_EPSILON) / (total + len(CODEBOOK) * EMA_EPSILON) * total
    np.testing.assert_allclose(to_numpy(layer.ema_cluster_size), cluster_size, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(layer.ema_codebook_sum), codebook_sum, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(layer.codebook_vectors()), codebook_sum / smoothed[:, None], rtol=1e-5)


def test_perplexity_of_a_known_assignment():
    codebook = np.array([[-3.0], [0.0], [3.0], [10.0]], dtype="float32")
    layer = quantizer(codebook=codebook, latent_dim=2)
    # Codes 0, 0, 1, 2: usage (1/2, 1/4, 1/4, 0), so perplexity = exp(H) = 2 ** 1.5.
    layer(np.array([[-3.0, -3.1], [0.2, 2.9]], dtype="float32"))

    assert float(layer.batch_perplexity) == pytest.approx(2**1.5, rel=1e-6)
    layer.update_metrics()
    assert float(layer.perplexity_tracker.result()) == pytest.approx(2**1.5, rel=1e-6)
    assert float(perplexity(ops.convert_to_tensor([0.25] * 4))) == pytest.approx(4.0, rel=1e-6)
    assert float(perplexity(ops.convert_to_tensor([1.0, 0.0]))) == pytest.approx(1.0)


@pytest.mark.parametrize("ema_decay", [None, 0.9], ids=["gradient_codebook", "ema_codebook"])
def test_perplexity_is_logged_in_training_and_evaluation(ema_decay, rng):
    x = rng.random((64, 16)).astype("float32")
    model = Autoencoder(
        bottleneck={"name": "vq", "latent_dim": 4, "codebook_size": 8, "codebook_dim": 2, "ema_decay": ema_decay}
    )
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    initial = to_numpy(model.bottleneck.codebook_vectors())
    history = model.fit(x, validation_data=(x, x), epochs=2, batch_size=16, verbose=0).history

    assert {"perplexity", "val_perplexity"} <= set(history)
    assert all(1.0 <= value <= 8.0 for value in history["perplexity"] + history["val_perplexity"])
    assert not np.allclose(to_numpy(model.bottleneck.codebook_vectors()), initial)
    batch = x[:16]
    counts = np.bincount(to_numpy(model.bottleneck.code_indices(batch)).astype(int).ravel(), minlength=8)
    usage = counts / counts.sum()
    expected = math.exp(-sum(p * math.log(p) for p in usage if p > 0))
    logged = model.evaluate(batch, batch, batch_size=16, verbose=0, return_dict=True)["perplexity"]
    assert logged == pytest.approx(expected, rel=1e-5)


def test_sample_prior_draws_codebook_vectors_uniformly():
    layer = VectorQuantizedBottleneck(latent_dim=4, codebook_size=8, codebook_dim=2, seed=0)
    layer.build((None, 5))
    codebook = to_numpy(layer.codebook_vectors())

    codes = to_numpy(layer.sample_prior(4000, seed=1))

    assert codes.shape == (4000, 4)
    indices, quantized = nearest_codes(codes, codebook)
    np.testing.assert_array_equal(quantized, codes)
    counts = np.bincount(indices.ravel(), minlength=8)
    # 8000 draws of 8 codes: 1000 each, with a standard deviation of about 30.
    assert counts.min() > 850 and counts.max() < 1150, counts
    np.testing.assert_array_equal(to_numpy(layer.sample_prior(5, seed=2)), to_numpy(layer.sample_prior(5, seed=2)))


@pytest.mark.parametrize(
    "factory, input_shape",
    [
        (lambda: VectorQuantizedBottleneck(4, codebook_size=8, codebook_dim=2, seed=1), (8, 6)),
        (lambda: VectorQuantizedBottleneck(4, codebook_size=8, ema_decay=0.9, regularizer="l2", seed=1), (8, 3, 3, 1)),
    ],
    ids=["gradient_codebook", "ema_codebook"],
)
def test_it_fulfils_the_tfae_bottleneck_contract(factory, input_shape):
    testing.check_bottleneck(factory, input_shape=input_shape)


def test_it_is_registered_as_vq_by_tfae_vq():
    (entry,) = [entry for entry in plugins.list_components("bottleneck") if entry.name == "vq"]
    assert entry.component is VectorQuantizedBottleneck
    assert entry.distribution == "tfae-vq"
    assert set(entry.aliases) == {"vq_vae", "vector_quantized"}
    layer = plugins.resolve("bottleneck", {"name": "vq", "latent_dim": 6, "codebook_size": 32, "codebook_dim": 3})
    assert (layer.codebook_size, layer.codebook_dim, layer.ema_decay) == (32, 3, None)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"codebook_size": 0}, "`codebook_size` must be a positive integer. Received: codebook_size=0"),
        ({"codebook_dim": 3}, "`latent_dim` must be a multiple of `codebook_dim`"),
        ({"commitment_cost": -1.0}, "Received: commitment_cost=-1.0"),
        ({"ema_decay": 1.0}, r"`ema_decay` must be None or a number in \(0, 1\). Received: ema_decay=1.0"),
    ],
)
def test_bad_arguments_are_named_with_their_value(arguments, message):
    with pytest.raises(ValueError, match=message):
        VectorQuantizedBottleneck(4, **arguments)
