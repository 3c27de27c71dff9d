"""tfae's Gaussian VAE against a hand-written Keras VAE (keras.io style): the same negative ELBO in nats."""

import keras
import numpy as np
import pytest
from keras import ops

from tfae.bottlenecks import GaussianBottleneck
from tfae.models import DeepAutoencoder

LATENT_DIM = 4
HIDDEN = 32

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the hand-written reference uses tf.GradientTape"
)


class HandWrittenVAE(keras.Model):
    """A VAE as the keras.io example writes it: its own train_step, KL and Bernoulli log-likelihood."""

    def __init__(self):
        super().__init__()
        self.encoder_hidden = keras.layers.Dense(HIDDEN, activation="relu")
        self.encoder_parameters = keras.layers.Dense(2 * LATENT_DIM)
        self.decoder_hidden = keras.layers.Dense(HIDDEN, activation="relu")
        self.decoder_logits = keras.layers.Dense(64)
        self.seed_generator = keras.random.SeedGenerator(1)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x, training=False):
        mean, log_variance = ops.split(self.encoder_parameters(self.encoder_hidden(x)), 2, axis=-1)
        z = mean + ops.exp(0.5 * log_variance) * keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return self.decoder_logits(self.decoder_hidden(z)), mean, log_variance

    def train_step(self, data):
        import tensorflow as tf

        x = data
        with tf.GradientTape() as tape:
            logits, mean, log_variance = self(x, training=True)
            cross_entropy = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
            reconstruction = ops.sum(cross_entropy, axis=-1)
            kl = 0.5 * ops.sum(ops.square(mean) + ops.exp(log_variance) - log_variance - 1, axis=-1)
            loss = ops.mean(reconstruction + kl)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def one_hidden_layer(x, layer_num, input_shape, latent_dim):
    return keras.layers.Dense(HIDDEN, activation="relu")(x), True


def negative_elbo(weights, x, draws=20):
    """A NumPy Monte-Carlo estimate of -ELBO per sample, in nats, from the eight weight arrays."""
    w1, b1, w2, b2, w3, b3, w4, b4 = (np.asarray(w, dtype="float64") for w in weights)
    parameters = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    mean, log_variance = parameters[:, :LATENT_DIM], parameters[:, LATENT_DIM:]
    kl = 0.5 * np.sum(mean**2 + np.exp(log_variance) - log_variance - 1, axis=-1)
    noise = np.random.default_rng(7).normal(size=(draws, *mean.shape))
    reconstruction = 0.0
    for eps in noise:
        logits = np.maximum((mean + np.exp(0.5 * log_variance) * eps) @ w3 + b3, 0) @ w4 + b4
        reconstruction += np.sum(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits))), axis=-1)
    return float(np.mean(reconstruction / draws + kl))


def test_negative_elbo_matches_a_hand_written_vae_within_two_percent(digits):
    x, _ = digits
    keras.utils.set_random_seed(3)
    tfae_vae = DeepAutoencoder(
        bottleneck=GaussianBottleneck(latent_dim=LATENT_DIM, regularizer="kld", seed=2), add_hidden=one_hidden_layer
    )
    tfae_vae.compile(optimizer=keras.optimizers.Adam(3e-3), loss="bernoulli")
    tfae_vae.build(x.shape)
    reference = HandWrittenVAE()
    reference.compile(optimizer=keras.optimizers.Adam(3e-3))
    reference(x[:1])

    tfae_layers = [
        tfae_vae.encoder.layers[1],
        tfae_vae.bottleneck.dense,
        tfae_vae.decoder_network.layers[1],
        tfae_vae.decoder_network.layers[2],
    ]
    reference_layers = [
        reference.encoder_hidden,
        reference.encoder_parameters,
        reference.decoder_hidden,
        reference.decoder_logits,
    ]
    for tfae_layer, reference_layer in zip(tfae_layers, reference_layers):
        reference_layer.set_weights(tfae_layer.get_weights())
    initial = negative_elbo([w for layer in tfae_layers for w in layer.get_weights()], x)

    tfae_vae.fit(x, epochs=25, batch_size=64, shuffle=False, verbose=0)
    reference.fit(x, epochs=25, batch_size=64, shuffle=False, verbose=0)

    tfae_elbo = negative_elbo([w for layer in tfae_layers for w in layer.get_weights()], x)
    reference_elbo = negative_elbo([w for layer in reference_layers for w in layer.get_weights()], x)
    print(f"initial {initial:.3f} tfae {tfae_elbo:.3f} reference {reference_elbo:.3f}")
    assert tfae_elbo < 0.6 * initial  # both really trained
    assert abs(tfae_elbo - reference_elbo) / reference_elbo < 0.02
