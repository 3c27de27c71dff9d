"""Regularised deterministic autoencoders (Ghosh et al. 2020, "From Variational to Deterministic Autoencoders").

An RAE trains a deterministic autoencoder with

    L_RAE = L_REC + beta * L_z + lambda * L_REG,    L_z = 1/2 ||z||^2

and one of three regularisers of the decoder D (Section 3 of the paper, "regularization schemes"):
``L_REG = ||theta||^2`` of the decoder's parameters (RAE-L2), ``||grad_z D(z)||^2`` of the decoder's
gradient at the code (RAE-GP), or spectral normalisation (RAE-SN, not here). ``L_z`` is tfae's ``"l2"``
regularizer with ``beta / 2`` (it computes ``||z||^2``). ``L_REG`` needs the decoder, which no tfae
regularizer or objective can reach: a regularizer sees the bottleneck's ``Posterior``, an objective the
``ObjectiveTerms`` of the batch, and neither holds the decoder. So the decoder's penalty is a model,
``RegularizedAutoencoder``, which adds it in ``loss_and_outputs`` (the one method tfae's train and test
steps call that a subclass may override), from the model's public ``decoder_network``.

``decoder_weight_penalty`` and ``decoder_gradient_penalty`` compute the two penalties for any decoder.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import keras
from keras import ops
from tfae.models import LayoutAutoencoder
from tfae.replicas import replicas_in_sync

#: The decoder penalties, by name: Ghosh et al.'s RAE-L2 and RAE-GP.
DECODER_PENALTIES = ("l2", "gp")


def decoder_weight_penalty(decoder: keras.Model) -> Any:
    """``||theta||^2``: the sum of the squares of all the decoder's trainable weights, a float32 scalar (RAE-L2)."""
    total = ops.zeros((), dtype="float32")
    for weight in decoder.trainable_weights:
        total = total + ops.sum(ops.square(ops.cast(weight, "float32")))
    return total


def _gradient_of_sum(function: Any, codes: Any) -> Any:
    """The gradient of ``sum(function(codes))`` with respect to ``codes``, differentiable again (for training)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(codes)
            total = ops.sum(ops.cast(function(codes), "float32"))
        return tape.gradient(total, codes)
    if backend == "jax":
        import jax

        return jax.grad(lambda inputs: ops.sum(ops.cast(function(inputs), "float32")))(codes)
    raise NotImplementedError(
        f"decoder_gradient_penalty differentiates the decoder with TensorFlow or JAX; the Keras backend is {backend!r}."
    )


def decoder_gradient_penalty(decode: Any, codes: Any) -> Any:
    """``||grad_z sum_i D_i(z)||^2`` of each code, shape ``(batch,)`` (RAE-GP).

    The gradient of the sum of the decoder's outputs with respect to the code, as ``tf.gradients(D(z), z)``
    and ``torch.autograd.grad(D(z), z, grad_outputs=ones)`` give it for a decoder with many outputs (the paper
    writes ``||grad D(E(x))||^2``); row ``i`` is sample ``i``'s own, since a decoder decodes each code alone.

    Args:
        decode: the decoder, a function of codes ``(batch, latent_dim)`` (a Keras model).
        codes: the codes, shape ``(batch, latent_dim)``.
    """
    codes = ops.cast(ops.convert_to_tensor(codes), "float32")
    gradient = _gradient_of_sum(decode, codes)
    return ops.sum(ops.square(gradient), axis=-1)


@keras.saving.register_keras_serializable(package="tfae_adversarial")
class RegularizedAutoencoder(LayoutAutoencoder):
    """A regularised autoencoder (RAE-L2 or RAE-GP): the loss of its layout plus ``decoder_beta`` times a penalty
    of the decoder.

    With a ``"vanilla"`` bottleneck regularised by ``{"name": "l2", "beta": beta / 2}`` (tfae's ``"l2"`` is
    ``||z||^2``, the paper's ``L_z`` is half of it), the loss is Ghosh et al.'s ``L_REC + beta * L_z + lambda *
    L_REG`` with ``lambda = decoder_beta`` and ``L_REG``:

    - ``decoder_penalty="l2"``: ``||theta||^2``, every trainable weight of ``decoder_network`` squared and
      summed (RAE-L2). pythae's ``RAE_L2`` gives it as weight decay to the decoder's optimizer instead.
    - ``decoder_penalty="gp"``: the batch mean of ``||grad_z sum_i D_i(z)||^2`` at each sample's code
      (``decoder_gradient_penalty``; RAE-GP). The code is the bottleneck's posterior mean (a deterministic
      bottleneck's code), computed by a second pass through the encoder; the gradient is differentiated again
      to train, with TensorFlow's or JAX's own gradient (not ``keras.ops``, which has none). pythae's ``RAE_GP``
      takes the gradient with respect to the input ``x`` instead of the code.

    The history logs the weighted penalty as ``decoder_penalty_loss``; ``loss`` is ``reconstruction_loss +
    regularization_loss + decoder_penalty_loss``. It is a model, not a component: tfae's regularizers and
    objectives cannot reach the decoder, so it cannot be named in a ``tfae train`` config. ``tfae.load_model``
    brings it back (the class is registered with Keras when tfae loads its plugins).

    Args:
        bottleneck: as for ``Autoencoder``; ``{"name": "vanilla", "latent_dim": ..., "regularizer": {"name":
            "l2", "beta": ...}}`` for the paper's RAE.
        decoder_penalty: ``"l2"`` (RAE-L2) or ``"gp"`` (RAE-GP).
        decoder_beta: ``lambda``, the penalty's weight, a number >= 0; pythae's default (``reg_weight``) is
            ``1e-7``, for reconstruction losses summed over MNIST's 784 pixels.
        **kwargs: ``LayoutAutoencoder``'s arguments (``layout``, ``hidden``, ``activation``, ``kernel_size``,
            ``likelihood``, ``name``).

    Example:

    ```python
    model = RegularizedAutoencoder(
        {"name": "vanilla", "latent_dim": 4, "regularizer": {"name": "l2", "beta": 0.5e-4}},
        decoder_penalty="gp", decoder_beta=1e-3, hidden=[64, 32],
    )
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(images, epochs=10).history  # logs decoder_penalty_loss and l2_loss
    ```
    """

    def __init__(self, bottleneck: Any, decoder_penalty: str = "gp", decoder_beta: float = 1e-7, **kwargs: Any) -> None:
        if decoder_penalty not in DECODER_PENALTIES:
            raise ValueError(
                "`decoder_penalty` must be 'l2' (the squared norm of the decoder's weights, RAE-L2) or 'gp' (the "
                "squared norm of the decoder's gradient at the code, RAE-GP). "
                f"Received: decoder_penalty={decoder_penalty!r}"
            )
        number = isinstance(decoder_beta, numbers.Real) and not isinstance(decoder_beta, bool)
        if not number or not 0 <= decoder_beta < math.inf:
            raise ValueError(
                "`decoder_beta` must be a finite number >= 0, the decoder penalty's weight. "
                f"Received: decoder_beta={decoder_beta!r}"
            )
        super().__init__(bottleneck, **kwargs)
        self.decoder_penalty = decoder_penalty
        self.decoder_beta = float(decoder_beta)
        self.decoder_penalty_tracker = keras.metrics.Mean(name="decoder_penalty_loss")

    def penalty_of_decoder(self, x: Any, training: bool = False) -> Any:
        """The unweighted decoder penalty for the batch ``x``, a float32 scalar (``x`` matters for ``"gp"`` only)."""
        if self.decoder_penalty == "l2":
            return decoder_weight_penalty(self.decoder_network)
        features = self.feature_network(x, training=training)
        codes = self.bottleneck.posterior(features, sampling="mean", training=training).code
        decode = lambda code: self.decoder_network(code, training=training)  # noqa: E731
        return ops.mean(decoder_gradient_penalty(decode, codes))

    def loss_and_outputs(
        self, x: Any, y: Any = None, sample_weight: Any = None, training: bool = True
    ) -> tuple[Any, Any]:
        """The layout's loss plus ``decoder_beta`` times the decoder penalty, and the decoder's outputs."""
        loss, outputs = super().loss_and_outputs(x, y, sample_weight, training=training)
        weighted = self.decoder_beta * self.penalty_of_decoder(x, training=training)
        self.decoder_penalty_tracker.update_state(weighted, sample_weight=ops.shape(x)[0])
        # The base class's loss is this replica's share already; the penalty is the same on every replica.
        return loss + weighted / replicas_in_sync(), outputs

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "decoder_penalty": self.decoder_penalty, "decoder_beta": self.decoder_beta}
