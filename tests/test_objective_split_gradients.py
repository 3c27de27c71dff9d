"""An objective that trains the encoder and the decoder with different losses (``splits_gradients``).

PIWAE (Rainforth et al. 2018) trains the decoder with IWAE's bound of all ``m * k`` codes and the encoder with
MIWAE's (``m`` bounds of ``k``) on the same codes. One train step with SGD at learning rate 1 moves each weight
by minus its gradient, so the step itself shows which loss trained which weight: compared here with each
bound's gradient, taken apart from the model's step, on TensorFlow and JAX.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

import tfae
from tfae.models import Autoencoder
from tfae.objectives import BaseObjective
from tfae.plugins import register_plugin, unregister_plugin

pytestmark = pytest.mark.backend_neutral

M, K = 2, 3


class SplitBounds(BaseObjective):
    needs_likelihood = needs_densities = holds_divergence = True
    splits_gradients = True
    logged = ("encoder_bound", "decoder_bound")

    def __init__(self):
        super().__init__(importance_samples=M * K)

    def __call__(self, terms):
        log_weights = terms.log_likelihood + terms.log_prior - terms.log_posterior
        decoder = ops.logsumexp(log_weights, axis=0) - math.log(M * K)
        encoder = ops.mean(ops.logsumexp(ops.reshape(log_weights, (M, K, -1)), axis=1), axis=0) - math.log(K)
        return {
            "loss": -decoder + terms.regularization,
            "encoder_loss": -encoder + terms.regularization,
            "encoder_bound": encoder,
            "decoder_bound": decoder,
        }

    def get_config(self):
        return {}


def bound_losses(model, x):
    """-IWAE(m * k) and -MIWAE(m, k) of the batch, written out from the model's forward pass."""
    posterior, outputs = model.forward(x, sampling="reparameterized", training=True, importance_samples=M * K)
    flat = ops.reshape(outputs, (-1, outputs.shape[-1]))
    nll = ops.reshape(model.likelihood.negative_log_likelihood(ops.tile(x, (M * K, 1)), flat), (M * K, -1))
    log_weights = -nll + posterior.log_prior() - posterior.log_density()
    iwae = ops.logsumexp(log_weights, axis=0) - math.log(M * K)
    miwae = ops.mean(ops.logsumexp(ops.reshape(log_weights, (M, K, -1)), axis=1), axis=0) - math.log(K)
    return -ops.mean(iwae), -ops.mean(miwae)


def reference_gradients(model, x, which):
    """The gradient of one bound for every weight, the seed generator put back so that the step draws the same codes."""
    state = model.bottleneck.seed_generator.state
    before = ops.convert_to_numpy(state.value)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def compute():
            with tf.GradientTape() as tape:
                value = bound_losses(model, x)[which]
            return value, tape.gradient(value, model.trainable_weights)

        # XLA draws other random numbers than TensorFlow's own kernels: the reference is compiled as the step is.
        value, gradients = tf.function(compute, jit_compile=model.jit_compile)()
        state.assign(before)
        return float(value), {id(w): ops.convert_to_numpy(g) for w, g in zip(model.trainable_weights, gradients)}
    import jax

    non_trainable = [v.value for v in model.non_trainable_variables]

    def compute(trainable):
        mapping = list(zip(model.trainable_variables, trainable)) + list(
            zip(model.non_trainable_variables, non_trainable)
        )
        with keras.StatelessScope(state_mapping=mapping):
            return bound_losses(model, x)[which]

    value, gradients = jax.value_and_grad(compute)([v.value for v in model.trainable_variables])
    return float(value), {id(w): np.asarray(g) for w, g in zip(model.trainable_variables, gradients)}


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "compiled"])
def test_each_network_takes_the_gradient_of_its_own_loss(jit_compile):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((16, 6)).astype("float32")
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "seed": 3})
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1.0),
        loss="bernoulli",
        objective=SplitBounds(),
        jit_compile=jit_compile,
        steps_per_execution=1,
    )
    model.build((None, 6))
    generative, inference = model.generative_weights, model.inference_weights
    assert {w.path for w in generative} == {w.path for w in model.decoder_network.trainable_weights}
    assert len(generative) + len(inference) == len(model.trainable_weights)

    iwae_loss, of_iwae = reference_gradients(model, x, 0)
    _, of_miwae = reference_gradients(model, x, 1)
    expected = {id(w): of_iwae[id(w)] for w in generative} | {id(w): of_miwae[id(w)] for w in inference}
    before = [ops.convert_to_numpy(w.value).copy() for w in model.trainable_weights]
    logs = model.train_on_batch(x, return_dict=True)

    for weight, old in zip(model.trainable_weights, before):
        step = old - ops.convert_to_numpy(weight.value)
        assert np.allclose(step, expected[id(weight)], atol=1e-5), weight.path
    # The two bounds' gradients differ for the encoder, so the comparison above tells them apart.
    assert max(np.max(np.abs(of_iwae[id(w)] - of_miwae[id(w)])) for w in inference) > 1e-3
    # The logged loss is "loss", the decoder's.
    assert logs["loss"] == pytest.approx(iwae_loss, abs=1e-4)


def test_a_splitting_objective_trains_and_evaluates_with_the_defaults(tmp_path):
    class Plugin:
        @staticmethod
        @tfae.hookimpl
        def register_objectives(register):
            register(SplitBounds, name="test_split_bounds")

    register_plugin(Plugin, name="test-split-bounds")
    try:
        x = np.random.default_rng(1).random((64, 6)).astype("float32")
        model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2})
        model.compile(optimizer="adam", loss="bernoulli", objective="test_split_bounds")
        history = model.fit(x, epochs=2, batch_size=16, validation_split=0.25, verbose=0).history
        assert all(np.isfinite(history[name]).all() for name in ("loss", "encoder_bound", "val_loss"))
        model.save(tmp_path / "model.keras")
        assert tfae.load_model(tmp_path / "model.keras").objective.splits_gradients
    finally:
        unregister_plugin("test-split-bounds")


def test_a_subclass_that_overrides_loss_and_outputs_is_still_what_the_steps_train():
    from tfae.replicas import replicas_in_sync

    class Penalised(Autoencoder):
        def loss_and_outputs(self, x, y=None, sample_weight=None, training=True):
            loss, outputs = super().loss_and_outputs(x, y, sample_weight, training=training)
            return loss + 100.0 / replicas_in_sync(), outputs

    x = np.random.default_rng(2).random((32, 6)).astype("float32")
    # A deterministic code: the two models compute the same loss but for the override's 100.
    plain, penalised = (cls(bottleneck={"name": "vanilla", "latent_dim": 2}) for cls in (Autoencoder, Penalised))
    for model in (plain, penalised):
        model.compile(optimizer="adam", loss="bernoulli")
        model.build((None, 6))
    penalised.set_weights(plain.get_weights())
    trained = [model.fit(x, epochs=1, batch_size=32, verbose=0).history["loss"][0] for model in (plain, penalised)]
    assert trained[1] - trained[0] == pytest.approx(100.0, abs=1e-3)
    evaluated = [model.evaluate(x, batch_size=32, verbose=0, return_dict=True)["loss"] for model in (plain, penalised)]
    assert evaluated[1] - evaluated[0] == pytest.approx(100.0, abs=1e-3)
