"""The autoencoder's train and test steps on each backend: Keras' own, with one call for the forward pass and the loss.

Keras' steps call the model and then ``compute_loss`` with its output. The autoencoder's loss needs more than
the output (the posterior, the codes, their densities), so its steps call ``model.step_losses`` instead (the model's
own ``losses_and_outputs``, or a subclass's ``loss_and_outputs``),
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
    with tf.GradientTape(persistent=model.objective_splits_gradients) as tape:
        losses, outputs = model.step_losses(x, y, sample_weight, training=True)
        _track_loss(model, losses["loss"], x)
        if model.optimizer is not None:
            losses = {name: model.optimizer.scale_loss(value) for name, value in losses.items()}
    variables = model.trainable_weights
    if variables:
        if "encoder_loss" in losses:
            # The objective trains the two networks with different losses (PIWAE): each its own gradient,
            # given to the optimizer in the weights' own order, which its slots (and a saved model's) follow.
            generative, inference = model.generative_weights, model.inference_weights
            found = zip(
                generative + inference,
                tape.gradient(losses["loss"], generative) + tape.gradient(losses["encoder_loss"], inference),
            )
            by_weight = {id(weight): gradient for weight, gradient in found}
            gradients = [by_weight[id(weight)] for weight in variables]
        else:
            gradients = tape.gradient(losses["loss"], variables)
        model.optimizer.apply_gradients(zip(gradients, variables))
    del tape
    return model.compute_metrics(x, y, outputs, sample_weight=sample_weight)


def tensorflow_test_step(model: keras.Model, data: Any) -> dict[str, Any]:
    """``keras.Model.test_step`` on TensorFlow, with the model's own forward pass and loss."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    losses, outputs = model.step_losses(x, y, sample_weight, training=False)
    loss = losses["loss"]
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
    """The JAX trainer's stateless ``compute_loss_and_updates``, which its train and test steps call.

    Keras' JAX train step differentiates the loss returned here with respect to ``trainable_variables``. When
    the objective trains the encoder with a loss of its own, each weight's gradient is computed here (one
    forward pass, one pullback per loss), and the loss returned has the logged loss's value and that gradient.
    """

    def forward(trainable: list[Any]) -> tuple[dict[str, Any], tuple[Any, list[Any], list[Any]]]:
        mapping = list(zip(model.trainable_variables, trainable))
        mapping.extend(zip(model.non_trainable_variables, non_trainable_variables))
        mapping.extend(zip(model.metrics_variables, metrics_variables))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses, outputs = model.step_losses(x, y, sample_weight, training=training)
        non_trainable = [scope.get_current_value(v) for v in model.non_trainable_variables]
        metrics = [scope.get_current_value(v) for v in model.metrics_variables]
        return losses, (outputs, non_trainable, metrics)

    if training and model.objective_splits_gradients:
        import jax

        losses, pullback, (outputs, non_trainable_variables, metrics_variables) = jax.vjp(
            forward, trainable_variables, has_aux=True
        )
        gradients = _split_gradients(model, losses, pullback)
        unscaled_loss = ops.stop_gradient(losses["loss"])
        loss = unscaled_loss
        for gradient, value in zip(gradients, trainable_variables):
            loss = loss + ops.sum(ops.stop_gradient(gradient) * (value - ops.stop_gradient(value)))
    else:
        losses, (outputs, non_trainable_variables, metrics_variables) = forward(trainable_variables)
        loss = unscaled_loss = losses["loss"]
    if training and model.optimizer is not None:
        with keras.StatelessScope(state_mapping=list(zip(model.optimizer.variables, optimizer_variables or []))):
            loss = model.optimizer.scale_loss(loss)
    return loss, (unscaled_loss, outputs, non_trainable_variables, metrics_variables)


def _split_gradients(model: keras.Model, losses: dict[str, Any], pullback: Any) -> list[Any]:
    """Each trainable weight's gradient: of ``"loss"`` for the generative weights, ``"encoder_loss"`` for the rest."""

    def cotangent(name: str) -> dict[str, Any]:
        return {key: ops.ones_like(value) if key == name else ops.zeros_like(value) for key, value in losses.items()}

    (of_loss,) = pullback(cotangent("loss"))
    (of_encoder_loss,) = pullback(cotangent("encoder_loss"))
    generative = {id(weight) for weight in model.generative_weights}
    return [
        from_loss if id(variable) in generative else from_encoder_loss
        for variable, from_loss, from_encoder_loss in zip(model.trainable_variables, of_loss, of_encoder_loss)
    ]
