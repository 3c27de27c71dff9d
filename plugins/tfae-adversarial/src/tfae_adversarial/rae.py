"""Regularised deterministic autoencoders (Ghosh et al. 2020, "From Variational to Deterministic Autoencoders").

An RAE trains a deterministic autoencoder with

    L_RAE = L_REC + beta * L_z + lambda * L_REG,    L_z = 1/2 ||z||^2

and one of three regularisers of the decoder D (the paper's Section 3, "regularization schemes"):
``L_REG = ||theta||^2`` of the decoder's parameters (RAE-L2), ``||grad_z D(z)||^2`` of the decoder's
gradient at the code (RAE-GP), or spectral normalisation (RAE-SN, not here). ``L_z`` is tfae's ``"l2"``
regularizer with ``beta / 2`` (it computes ``||z||^2``); ``L_REG`` is an objective, ``"rae_l2"`` or
``"rae_gp"``, which reaches the decoder through ``ObjectiveTerms`` (``decoder_weights``, ``decode``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from keras import ops

import tfae
from tfae.autodiff import gradient
from tfae.objectives import BaseObjective, ObjectiveTerms


def decoder_weight_penalty(weights: Sequence[Any]) -> Any:
    """``||theta||^2``: the sum of the squares of the decoder's weights, a float32 scalar (RAE-L2)."""
    total = ops.zeros((), dtype="float32")
    for weight in weights:
        total = total + ops.sum(ops.square(ops.cast(weight, "float32")))
    return total


def decoder_gradient_penalty(decode: Callable[[Any], Any], codes: Any) -> Any:
    """``||grad_z sum_i D_i(z)||^2`` of each code, shape ``(batch,)`` (RAE-GP).

    The gradient of the sum of the decoder's outputs with respect to the code, as ``tf.gradients(D(z), z)``
    and ``torch.autograd.grad(D(z), z, grad_outputs=ones)`` give it for a decoder with many outputs (the paper
    writes ``||grad D(E(x))||^2``); row ``i`` is sample ``i``'s own, since a decoder decodes each code alone.
    It is differentiable again (``tfae.autodiff.gradient``), so a loss may hold it.

    Args:
        decode: the decoder, a function of codes of shape ``(batch, latent_dim)``.
        codes: the codes, shape ``(batch, latent_dim)``.
    """
    codes = ops.cast(codes, "float32")
    found = gradient(lambda code: ops.sum(ops.cast(decode(code), "float32")), codes)
    return ops.sum(ops.square(found), axis=-1)


class RAEObjective(BaseObjective):
    """The loss of an RAE: ``L_REC + the regularizers' penalties + decoder_beta * L_REG`` of each sample.

    A subclass gives ``L_REG`` by ``decoder_penalty(terms)``, one value per sample. With a ``"vanilla"``
    bottleneck regularised by ``{"name": "l2", "beta": beta / 2}`` (tfae's ``"l2"`` is ``||z||^2``, the paper's
    ``L_z`` half of it), it is Ghosh et al.'s ``L_RAE``. The history logs the weighted penalty as
    ``decoder_penalty_loss``: ``loss`` is ``reconstruction_loss + regularization_loss + decoder_penalty_loss``.

    Args:
        decoder_beta: ``lambda``, the decoder penalty's weight, a number >= 0.
    """

    logged = ("decoder_penalty_loss",)

    def __init__(self, decoder_beta: float = 1e-7) -> None:
        super().__init__(importance_samples=1)
        number = isinstance(decoder_beta, numbers.Real) and not isinstance(decoder_beta, bool)
        if not number or not 0 <= float(decoder_beta) < math.inf:
            raise ValueError(
                f"`decoder_beta` must be a finite number >= 0, the weight of {type(self).__name__}'s decoder "
                f"penalty. Received: decoder_beta={decoder_beta!r}"
            )
        self.decoder_beta = float(decoder_beta)

    def decoder_penalty(self, terms: ObjectiveTerms) -> Any:
        """``L_REG`` of each sample, shape ``(batch,)``."""
        raise NotImplementedError

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        reconstruction = ops.mean(terms.reconstruction_loss, axis=0)
        penalty = self.decoder_beta * ops.cast(self.decoder_penalty(terms), "float32")
        return {"loss": reconstruction + terms.regularization + penalty, "decoder_penalty_loss": penalty}

    def get_config(self) -> dict[str, Any]:
        return {"decoder_beta": self.decoder_beta}


class RAEL2(RAEObjective):
    """RAE-L2: ``L_REC + penalties + decoder_beta * ||theta||^2``, every trainable weight of the decoder squared.

    ``||theta||^2`` is one value for the batch (the same for each sample). pythae's ``RAE_L2`` gives it as
    the decoder optimizer's weight decay instead, which for Adam is not the same update.

    Args:
        decoder_beta: ``lambda``, a number >= 0; pythae's ``reg_weight`` default is ``1e-7``.

    Example:

    ```python
    model = Autoencoder({"name": "vanilla", "latent_dim": 4, "regularizer": {"name": "l2", "beta": 0.5e-4}})
    model.compile(optimizer="adam", loss="bernoulli", objective={"name": "rae_l2", "decoder_beta": 1e-4})
    ```
    """

    def decoder_penalty(self, terms: ObjectiveTerms) -> Any:
        penalty = decoder_weight_penalty(terms.decoder_weights)
        return ops.broadcast_to(penalty, ops.shape(terms.reconstruction_loss)[1:])


class RAEGP(RAEObjective):
    """RAE-GP: ``L_REC + penalties + decoder_beta * ||grad_z sum_i D_i(z)||^2`` at each sample's code.

    The gradient of the decoder at the code the decoder received (``decoder_gradient_penalty``), weighted by
    the samples' weights when they are given, and differentiated again to train (``tfae.autodiff.gradient``,
    TensorFlow's or JAX's own gradient). pythae's ``RAE_GP`` differentiates with respect to the input ``x``,
    through the encoder, instead.

    Args:
        decoder_beta: ``lambda``, a number >= 0; pythae's ``reg_weight`` default is ``1e-7``.

    Example:

    ```python
    model = Autoencoder({"name": "vanilla", "latent_dim": 4, "regularizer": {"name": "l2", "beta": 0.5e-4}})
    model.compile(optimizer="adam", loss="bernoulli", objective={"name": "rae_gp", "decoder_beta": 1e-3})
    ```
    """

    def decoder_penalty(self, terms: ObjectiveTerms) -> Any:
        code = terms.posterior.code
        penalty = decoder_gradient_penalty(terms.decode, code[0] if len(code.shape) == 3 else code)
        if terms.sample_weight is not None:
            penalty = penalty * ops.cast(terms.sample_weight, "float32")
        return penalty


@tfae.hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(RAEL2, name="rae_l2")
    register(RAEGP, name="rae_gp")
