"""The autoencoder's train and test steps on each backend: Keras' own, with one call for the forward pass and the loss.

Keras' steps call the model and then ``compute_loss`` with its output. The autoencoder's loss needs more than
the output (the posterior, the codes, their densities), so its steps call ``model.loss_and_outputs`` instead,
which does both in the open; everything else (the loss scaling, the gradients, the metrics) is as in Keras.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from tfae.keras_private import loss_tracker
from tfae.replicas import replicas_in_sync


def _track_loss(model: keras.Model, loss: Any, x: Any) -> None:
    # Each replica returns its share of the loss; the logged loss is the whole batch's.
    batch_size = ops.shape(keras.tree.flatten(x)[0])[0]
    loss_tracker(model).update_state(loss * replicas_in_sync(), sample_weight=batch_size)


def tensorflow_train_step(model: keras.Model, data: Any) -> dict[str, Any]:
    """``keras.Model.train_step`` on TensorFlow, with the model's own forward pass and loss."""
    import tensorflow as tf

    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        loss, outputs = model.loss_and_outputs(x, y, sample_weight, training=True)
        _track_loss(model, loss, x)
        if model.optimizer is not None:
            loss = model.optimizer.scale_loss(loss)
    if model.trainable_weights:
        gradients = tape.gradient(loss, model.trainable_weights)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_weights))
    return model.compute_metrics(x, y, outputs, sample_weight=sample_weight)


def tensorflow_test_step(model: keras.Model, data: Any) -> dict[str, Any]:
    """``keras.Model.test_step`` on TensorFlow, with the model's own forward pass and loss."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    loss, outputs = model.loss_and_outputs(x, y, sample_weight, training=False)
    _track_loss(model, loss, x)
    return model.compute_metrics(x, y, outputs, sample_weight=sample_weight)


def jax_compute_loss_and_updates(
    model: keras.Model,
    trainable_variables: list[Any],
    non_trainable_variables: list[Any],
    metrics_variables: list[Any],
    x: Any,
    y: Any,
    sample_weight: Any,
    training: bool = False,
    optimizer_variables: list[Any] | None = None,
) -> tuple[Any, tuple[Any, Any, list[Any], list[Any]]]:
    """The JAX trainer's stateless ``compute_loss_and_updates``, which its train and test steps call."""
    mapping = list(zip(model.trainable_variables, trainable_variables))
    mapping.extend(zip(model.non_trainable_variables, non_trainable_variables))
    mapping.extend(zip(model.metrics_variables, metrics_variables))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        loss, outputs = model.loss_and_outputs(x, y, sample_weight, training=training)
    non_trainable_variables = [scope.get_current_value(v) for v in model.non_trainable_variables]
    metrics_variables = [scope.get_current_value(v) for v in model.metrics_variables]
    unscaled_loss = loss
    if training and model.optimizer is not None:
        with keras.StatelessScope(state_mapping=list(zip(model.optimizer.variables, optimizer_variables or []))):
            loss = model.optimizer.scale_loss(loss)
    return loss, (unscaled_loss, outputs, non_trainable_variables, metrics_variables)
