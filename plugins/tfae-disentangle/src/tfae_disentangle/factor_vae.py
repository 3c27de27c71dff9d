"""FactorVAE's total correlation, estimated by a discriminator (Kim & Mnih 2018, "Disentangling by Factorising")."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops

import tfae
import tfae.random
from tfae.posterior import Posterior
from tfae.regularizers import BaseRegularizer
from tfae.schedulers import BaseScheduler


class FactorVAERegularizer(BaseRegularizer):
    """The total correlation of the code, ``TC(z) = KL(q(z) || prod_j q(z_j))``, by the density-ratio trick.

    A discriminator ``D`` (an MLP with one logit output) learns to tell codes drawn from ``q(z)`` (the batch's
    codes) from codes drawn from the product of their marginals (the batch's codes with each dimension
    permuted independently across the batch). Where it is optimal, its logit is ``log q(z) / prod_j q(z_j)``,
    so the penalty, a batch-level scalar, is the mean logit on the batch's codes:

    ```text
    TC(z) ~= E_q(z)[log D(z) / (1 - D(z))] = mean over the batch of logit(z)
    ```

    It is an estimate: near zero, and at times below it, while the discriminator cannot tell the two apart.
    The discriminator's weights are the regularizer's own: they are built with the bottleneck, saved with the
    model, and trained in the same ``fit`` by the model's optimizer on the ``objective``, the cross-entropy

    ```text
    discriminator_loss = 0.5 * (mean softplus(-logit(z)) + mean softplus(logit(permute_dims(z))))
    ```

    of labelling the batch's codes "q(z)" and the permuted ones "product of marginals"; chance is
    ``log 2 ~ 0.693``. The model logs it as ``factor_vae_discriminator_loss``; it is not part of ``loss``.
    The objective sees codes with their gradients stopped, so it trains the discriminator and nothing else;
    the penalty runs the discriminator with its weights' gradients stopped (``frozen_logits``), so it trains
    the encoder to lower the total correlation and leaves the discriminator alone.

    The regularizer is the total-correlation term only. The paper's FactorVAE adds it to the VAE's KL term,
    with beta as the paper's gamma, in a config file:

    ```toml
    regularizer = ["kld", {name = "factor_vae", beta = 6}]
    ```

    The conventions are those of disentanglement_lib (``methods/unsupervised/vae.py: FactorVAE``): the
    discriminator sees the permutation of the same batch (the paper's Algorithm 2 and the authors' code
    permute a second batch), and the penalty and the objective share one batch. Unlike the paper, the
    discriminator has no optimizer of its own: it trains with the model's (the authors used Adam with
    learning rate 1e-4 and betas (0.5, 0.9) for it).

    It needs the code the decoder received, which every bottleneck that passes a ``Posterior`` with a
    ``code`` to ``add_regularization`` gives (vanilla, gaussian, bernoulli).

    A batch of one code has nothing to permute it with: the "product of marginals" would be the code itself,
    and the discriminator would learn nothing. Training batches need at least ``min_batch_size`` (2) samples,
    which ``fit`` (given an array) and ``tfae train`` check before training (``check_batch_size``). The last
    batch of an epoch may be smaller: with one sample, the discriminator's step compares the code with itself.

    Args:
        beta: the weight of the total correlation, the paper's gamma: a float, a scheduler (an instance, its
            registered name or a dict), or ``scheduler.value``.
        hidden: the sizes of the discriminator's hidden Dense layers, each followed by a leaky ReLU (Keras'
            ``"leaky_relu"``, negative slope 0.2, as in the paper); at least one. The paper's discriminator has
            five hidden layers of 1000 units, about 4 million weights, run three times a step (the penalty,
            and the objective on the codes and on their permutation), which on a CPU would cost more than the
            autoencoder it regularises. The default, two of 256, has some 70,000 weights for a 10-dimensional
            code and tells tied codes from shuffled ones within a few dozen steps; ``[1000] * 5`` is the paper's.
        seed: the seed of the permutations, or ``None`` for a random one.

    Call arguments:
        posterior: a ``Posterior`` with a ``code`` of shape ``(batch, latent_dim)``.
        training: whether the call is part of a train step (a step-counted scheduler of beta moves on).

    Returns:
        ``beta`` times the batch's total-correlation estimate, a float32 scalar.

    Example:

    Each column of the codes is shuffled on its own: the permuted codes keep each dimension's values.

    >>> regularizer = FactorVAERegularizer(beta=6.0, hidden=[32], seed=0)
    >>> regularizer.build(latent_dim=2)
    >>> codes = keras.ops.convert_to_tensor([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])
    >>> permuted = keras.ops.convert_to_numpy(regularizer.permute_dims(codes))
    >>> sorted(permuted[:, 0].tolist()), sorted(permuted[:, 1].tolist())
    ([0.0, 1.0, 2.0], [10.0, 11.0, 12.0])

    In a model, next to the KL term (the paper's FactorVAE):

    ```python
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 6,
                                    "regularizer": ["kld", {"name": "factor_vae", "beta": 6}]})
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(x, epochs=10).history  # logs factor_vae_loss and factor_vae_discriminator_loss
    ```
    """

    objective_name = "discriminator_loss"
    min_batch_size = 2

    def __init__(
        self,
        beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0,
        hidden: Sequence[int] = (256, 256),
        seed: int | None = None,
    ) -> None:
        super().__init__(beta)
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence) or not _positive_integers(hidden):
            raise ValueError(
                "`hidden` must be a non-empty list of positive integers, the sizes of the discriminator's hidden "
                "layers (a discriminator without one is linear, and a linear function has the same mean under "
                f"q(z) and the product of its marginals). Received: hidden={hidden!r}"
            )
        if seed is not None and not _integer(seed):
            raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
        self.hidden: tuple[int, ...] = tuple(int(units) for units in hidden)
        self.seed: int | None = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # float32 whatever the dtype policy: the logits are log density ratios, added to a float32 loss.
        self.discriminator = keras.Sequential(
            [keras.layers.Dense(units, activation="leaky_relu", dtype="float32") for units in self.hidden]
            + [keras.layers.Dense(1, dtype="float32")],
            name="factor_vae_discriminator",
        )
        self.latent_dim: int | None = None

    def build(self, latent_dim: int) -> None:
        """Builds the discriminator for codes of ``latent_dim``; the bottleneck calls it when it is made."""
        if self.latent_dim is not None:
            if self.latent_dim != latent_dim:
                raise ValueError(
                    f"This FactorVAERegularizer's discriminator is built for codes of {self.latent_dim} dimensions, "
                    f"so it cannot regularise a bottleneck with latent_dim={latent_dim}: give each bottleneck a "
                    "regularizer of its own."
                )
            return
        self.discriminator.build((None, latent_dim))
        self.latent_dim = int(latent_dim)

    def permute_dims(self, codes: Any) -> Any:
        """``codes`` with each column permuted independently across the batch: samples of ``prod_j q(z_j)``.

        The permutations sort seeded uniform numbers (the regularizer's ``seed_generator``), so they differ
        from one call to the next, and follow the seed.
        """
        codes = ops.convert_to_tensor(codes, dtype="float32")

        def draw(shape: Any) -> Any:
            return tfae.random.uniform(shape, self.seed_generator, dtype="float32")

        order = ops.argsort(self.random(draw, ops.shape(codes)), axis=0)
        return ops.take_along_axis(codes, order, axis=0)

    def logits(self, codes: Any) -> Any:
        """The discriminator's logit for each code, shape ``(batch,)``: its estimate of ``log q(z) / prod_j q(z_j)``."""
        return ops.squeeze(self.discriminator(codes), axis=-1)

    def frozen_logits(self, codes: Any) -> Any:
        """``logits(codes)`` with the discriminator's weights held constant: gradients reach ``codes`` alone.

        The discriminator's own layers, run with ``stop_gradient`` on each weight, so that the penalty trains
        the encoder but never the discriminator, which only its objective trains.
        """
        outputs = codes
        for layer in self.discriminator.layers:
            kernel, bias = ops.stop_gradient(layer.kernel), ops.stop_gradient(layer.bias)
            outputs = layer.activation(ops.add(ops.matmul(outputs, kernel), bias))
        return ops.squeeze(outputs, axis=-1)

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        """The batch's total-correlation estimate, a scalar: the mean of the discriminator's logits on the codes."""
        return ops.mean(self.frozen_logits(self._code(posterior)))

    def objective(self, posterior: Posterior, training: bool = False) -> Any:
        """The discriminator's cross-entropy: the batch's codes are "q(z)", their ``permute_dims`` are not."""
        codes = self._code(posterior)
        joint, marginals = self.logits(codes), self.logits(self.permute_dims(codes))
        return 0.5 * (ops.mean(ops.softplus(-joint)) + ops.mean(ops.softplus(marginals)))

    def _code(self, posterior: Posterior) -> Any:
        if posterior.code is None:
            raise ValueError(
                "FactorVAERegularizer scores the code the decoder received, but this Posterior holds none: the "
                "bottleneck must pass `Posterior(parameters=..., code=code, bottleneck=self)` to "
                "`add_regularization`, as the vanilla, gaussian and bernoulli bottlenecks do."
            )
        self.build(posterior.latent_dim)
        return posterior.code

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "hidden": list(self.hidden), "seed": self.seed}


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_integers(values: Sequence[Any]) -> bool:
    return len(values) > 0 and all(_integer(value) and value > 0 for value in values)


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(FactorVAERegularizer, name="factor_vae", aliases=["factorvae"])
