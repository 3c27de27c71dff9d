"""The adversarial autoencoder's regularizer (Makhzani et al. 2016, "Adversarial Autoencoders").

A discriminator on the codes learns to tell codes drawn from the prior from the encoder's codes, and the
encoder learns to fool it: the adversarial game of Goodfellow et al. (2014, Eq. 1) played between the prior
``p(z)`` (the "data") and the aggregate posterior ``q(z)`` (the "generator"), which it matches to the prior
(Makhzani et al., Section 2, Eq. 1). The game in two losses, with ``l(z)`` the discriminator's logit and
``D(z) = sigmoid(l(z))`` its probability that ``z`` came from the prior:

    discriminator_loss = 0.5 * (mean over prior samples of -log D(z') + mean over codes of -log(1 - D(z)))
                       = 0.5 * (mean softplus(-l(z')) + mean softplus(l(z)))
    penalty(z)         = -log D(z) = softplus(-l(z))        (the generator's loss, per code)

The generator's loss is the non-saturating one of Goodfellow et al. (Section 3), which pythae's
``Adversarial_AE`` uses too; the minimax form ``log(1 - D(z))`` gives the encoder no gradient while the
discriminator wins, which it does early on.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops

import tfae
from tfae.bottlenecks import BaseBottleneck, Posterior, VariationalBottleneck
from tfae.regularizers import BaseRegularizer
from tfae.schedulers import BaseScheduler


class AdversarialRegularizer(BaseRegularizer):
    """The adversarial autoencoder's penalty: how well each code fools a discriminator that knows the prior.

    A discriminator ``D`` (an MLP with one logit output) learns to tell codes drawn from the bottleneck's
    prior (``bottleneck.sample_prior``: ``N(0, I)`` by default, a mixture or any other prior the bottleneck
    is given) from the codes the encoder gives. The penalty of each code is the non-saturating generator loss
    ``-log D(z) = softplus(-logit(z))``: it falls as the codes become indistinguishable from prior samples,
    which pulls the aggregate posterior ``q(z)`` onto the prior (Makhzani et al. 2016). It is one value per
    sample, averaged over the batch and weighted by ``beta``. It needs no log-density, so it can serve priors
    without a closed-form KL and posteriors with no density at all.

    The discriminator's weights are the regularizer's own: built with the bottleneck, saved with the model
    and trained in the same ``fit`` by the model's optimizer on the ``objective``, the cross-entropy

    ```text
    discriminator_loss = 0.5 * (mean softplus(-logit(prior samples)) + mean softplus(logit(codes)))
    ```

    of labelling prior samples "prior" and codes "encoder". The model logs it as ``aae_discriminator_loss``;
    it is not part of ``loss``. At chance (a discriminator that cannot tell the two apart) it is
    ``log 2 ~ 0.693``, which ``tfae train``'s ``losses.png`` marks; well below it, the codes are far from the
    prior; near it, they match it (or the discriminator is too weak to see the difference). The objective sees
    codes with their gradients stopped, and prior samples with theirs stopped (a learned prior is not trained
    by the discriminator), so it trains the discriminator and nothing else; the penalty runs the
    discriminator with its weights' gradients stopped (``frozen_logits``), so it trains the encoder and leaves
    the discriminator alone.

    The paper's adversarial autoencoder is a reconstruction loss plus this regularizer alone, on a
    deterministic or a Gaussian encoder; pythae's ``Adversarial_AE`` is the Gaussian one. Here the bottleneck
    must have a prior to sample, such as ``"gaussian"`` (any ``prior=``); a ``"vanilla"`` bottleneck has none
    and is refused. On ``"gaussian"``, without ``"kld"``, the regularizer constrains only the codes drawn, not
    each posterior's variance. (``"bernoulli"`` is accepted, but its training codes are relaxed, between 0 and
    1, and its prior's binary: the discriminator tells them apart by that alone.) Unlike the paper, the
    discriminator has no optimizer of its own and trains on the same step as the encoder.

    Args:
        beta: the weight of the generator's loss against the reconstruction: a float, a scheduler (an
            instance, its registered name or a dict), or ``scheduler.value``. pythae's ``Adversarial_AE``
            weighs them ``adversarial_loss_scale`` against ``1 - adversarial_loss_scale``; here
            ``beta = adversarial_loss_scale / (1 - adversarial_loss_scale)`` is the same game at another
            learning rate.
        hidden: the sizes of the discriminator's hidden Dense layers, each followed by a ReLU; at least one.
            The paper's discriminators have two hidden layers of 1000 units; the default, two of 256, is
            enough for codes of a few dimensions and cheaper on a CPU.
        prior_samples: how many codes the discriminator draws from the prior in each step (and each
            evaluation batch): ``None`` (the default) for one per code of the batch, as pythae's
            ``Adversarial_AE`` draws them, or a positive integer. The two halves of its loss are averaged
            separately, so a number need not equal the batch size.
        seed: the seed of the prior samples, or ``None`` for a random one.

    Call arguments:
        posterior: a ``Posterior`` with a ``code`` of shape ``(batch, latent_dim)`` and the bottleneck that
            made it (whose prior the objective samples).
        training: whether the call is part of a train step (a step-counted scheduler of beta moves on).

    Returns:
        ``beta`` times the batch mean of ``softplus(-logit(code))``, a float32 scalar.

    Example:

    A discriminator whose logit is 0 everywhere is at chance: every code's penalty is ``log 2``.

    >>> regularizer = AdversarialRegularizer(beta=1.0, hidden=[4], seed=0)
    >>> regularizer.build(latent_dim=2)
    >>> regularizer.discriminator.set_weights([w * 0 for w in regularizer.discriminator.get_weights()])
    >>> codes = keras.ops.ones((3, 2))
    >>> round(float(regularizer(Posterior(parameters=(codes,), code=codes))), 4)
    0.6931

    In a model (Makhzani et al.'s adversarial autoencoder, with a Gaussian encoder as pythae's):

    ```python
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2,
                                    "regularizer": {"name": "aae", "beta": 1.0}})
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(x, epochs=10).history  # logs aae_loss and aae_discriminator_loss
    ```
    """

    objective_name = "discriminator_loss"

    def __init__(
        self,
        beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0,
        hidden: Sequence[int] = (256, 256),
        prior_samples: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(beta)
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence) or not _positive_integers(hidden):
            raise ValueError(
                "`hidden` must be a non-empty list of positive integers, the sizes of the discriminator's hidden "
                f"layers (a linear discriminator can only compare the codes' means). Received: hidden={hidden!r}"
            )
        if prior_samples is not None and (not _integer(prior_samples) or prior_samples < 1):
            raise ValueError(
                "`prior_samples` must be a positive integer, the prior samples the discriminator sees in each "
                f"step, or None for one per code of the batch. Received: prior_samples={prior_samples!r}"
            )
        if seed is not None and not _integer(seed):
            raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
        self.hidden: tuple[int, ...] = tuple(int(units) for units in hidden)
        self.prior_samples: int | None = None if prior_samples is None else int(prior_samples)
        self.seed: int | None = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        # float32 whatever the dtype policy: the logits go into a float32 loss.
        self.discriminator = keras.Sequential(
            [keras.layers.Dense(units, activation="relu", dtype="float32") for units in self.hidden]
            + [keras.layers.Dense(1, dtype="float32")],
            name="aae_discriminator",
        )
        self.latent_dim: int | None = None

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        if _has_prior(bottleneck):
            return
        from tfae.serialization import describe_component

        raise ValueError(
            f"The regularizer {describe_component('regularizer', self)} teaches a discriminator to tell the codes "
            "from samples of the bottleneck's prior, but the bottleneck "
            f"{describe_component('bottleneck', bottleneck)} has no prior to sample: use a bottleneck with one, "
            "such as 'gaussian' (whose `prior` chooses it)."
        )

    def build(self, latent_dim: int) -> None:
        """Builds the discriminator for codes of ``latent_dim``; the bottleneck calls it when it is made."""
        if self.latent_dim is not None:
            if self.latent_dim != latent_dim:
                raise ValueError(
                    f"This AdversarialRegularizer's discriminator is built for codes of {self.latent_dim} "
                    f"dimensions, so it cannot regularise a bottleneck with latent_dim={latent_dim}: give each "
                    "bottleneck a regularizer of its own."
                )
            return
        self.discriminator.build((None, latent_dim))
        self.latent_dim = int(latent_dim)

    def logits(self, codes: Any) -> Any:
        """The discriminator's logit for each code, shape ``(batch,)``: its log-odds that the code is the prior's."""
        return ops.squeeze(self.discriminator(codes), axis=-1)

    def frozen_logits(self, codes: Any) -> Any:
        """``logits(codes)`` with the discriminator's weights held constant: gradients reach ``codes`` alone."""
        outputs = codes
        for layer in self.discriminator.layers:
            kernel, bias = ops.stop_gradient(layer.kernel), ops.stop_gradient(layer.bias)
            outputs = layer.activation(ops.add(ops.matmul(outputs, kernel), bias))
        return ops.squeeze(outputs, axis=-1)

    def draw_prior(self, bottleneck: keras.layers.Layer, batch_size: Any = None) -> Any:
        """``prior_samples`` codes from ``bottleneck``'s prior (``batch_size`` when it is ``None``), with gradients
        stopped, from the seed generator. ``batch_size`` may be a tensor, the batch's size in a traced step."""
        self.build(bottleneck.latent_dim)
        count = batch_size if self.prior_samples is None else self.prior_samples
        if count is None:
            raise ValueError("AdversarialRegularizer draws one prior code per code of the batch: pass `batch_size`.")

        def draw(shape: tuple[Any, ...]) -> Any:
            return ops.cast(bottleneck.sample_prior(shape[0], seed=self.seed_generator), "float32")

        return ops.stop_gradient(self.random(draw, (count, self.latent_dim)))

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        """The generator's loss of each code, ``softplus(-logit(code))``, shape ``(batch,)``."""
        return ops.softplus(-self.frozen_logits(self._code(posterior)))

    def objective(self, posterior: Posterior, training: bool = False) -> Any:
        """The discriminator's cross-entropy: prior samples are "prior", the batch's codes are not."""
        codes = self._code(posterior)
        if posterior.bottleneck is None:
            raise ValueError(
                "AdversarialRegularizer's discriminator compares the codes with samples of the bottleneck's prior, "
                "but this Posterior has no bottleneck: build it with `Posterior(..., bottleneck=bottleneck)`."
            )
        prior = self.logits(self.draw_prior(posterior.bottleneck, ops.shape(codes)[0]))
        return 0.5 * (ops.mean(ops.softplus(-prior)) + ops.mean(ops.softplus(self.logits(codes))))

    def _code(self, posterior: Posterior) -> Any:
        if posterior.code is None:
            raise ValueError(
                "AdversarialRegularizer scores the code the decoder received, but this Posterior holds none: build "
                "it with `Posterior(parameters=..., code=code)`."
            )
        self.build(posterior.latent_dim)
        return posterior.code

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "hidden": list(self.hidden),
            "prior_samples": self.prior_samples,
            "seed": self.seed,
        }


def _has_prior(bottleneck: keras.layers.Layer) -> bool:
    """Whether ``bottleneck.sample_prior`` draws codes: a variational bottleneck with a prior, or an override."""
    if isinstance(bottleneck, VariationalBottleneck):
        return bottleneck.prior is not None or type(bottleneck).sample_prior is not VariationalBottleneck.sample_prior
    return type(bottleneck).sample_prior is not BaseBottleneck.sample_prior


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_integers(values: Sequence[Any]) -> bool:
    return len(values) > 0 and all(_integer(value) and value > 0 for value in values)


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(AdversarialRegularizer, name="aae", aliases=["adversarial_ae", "adversarial_autoencoder"])
