"""The contract every training objective fulfils, and the terms the model gives it."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import keras
from keras import ops

from tfae.configurable import Configurable
from tfae.counts import checked_count
from tfae.posterior import Posterior


class ObjectiveTerms:
    """What the model gives its objective for a batch: every term as a tensor, each named for what it is.

    With ``k`` codes per sample (``importance_samples``), the per-code terms have shape ``(k, batch)``; with
    one, ``(1, batch)``. The densities are computed when first read, so an objective that does not read them
    costs nothing.

    An objective that needs the decoder itself, not only its outputs (a gradient penalty on the decoder, the
    decoder's weights, ``log p(x | z)`` of codes of its own such as a Hamiltonian VAE's), reads ``decode``,
    ``negative_log_likelihood``, ``decoder_weights`` and ``targets``; ``tfae.autodiff.gradient`` takes
    gradients inside the loss on either backend.

    Args:
        reconstruction_loss: ``-log p(x | z)`` of each code, in nats, shape ``(k, batch)``; with a Keras
            loss (``"mse"``) instead of a likelihood, that loss, the same for each sample.
        posterior: the bottleneck's ``Posterior`` of the batch, holding the codes the decoder got.
        penalties: the regularizers' weighted penalties by logged name (``{"kld_loss": ...}``), float32 scalars.
        in_nats: whether ``reconstruction_loss`` is a negative log-likelihood (a tfae likelihood).
        targets: the batch the reconstruction is scored against, shape ``(batch, ...)``.
        outputs: the decoder's outputs for the posterior's codes (the likelihood's parameters), shape
            ``(k, batch, ...)``.
        decoder: the model's decoder network, from codes to the likelihood's parameters.
        likelihood: the model's tfae likelihood, or ``None`` with a Keras loss.
        sample_weight: the samples' weights, shape ``(batch,)``, or ``None``.
        training: whether these are a train step's terms.
    """

    def __init__(
        self,
        reconstruction_loss: Any,
        posterior: Posterior,
        penalties: dict[str, Any],
        in_nats: bool,
        *,
        targets: Any = None,
        outputs: Any = None,
        decoder: keras.layers.Layer | None = None,
        likelihood: Any = None,
        sample_weight: Any = None,
        training: bool = False,
    ) -> None:
        self.reconstruction_loss = reconstruction_loss
        self.posterior = posterior
        self.penalties = dict(penalties)
        self.in_nats = in_nats
        self.targets = targets
        self.outputs = outputs
        self.decoder = decoder
        self.likelihood = likelihood
        self.sample_weight = sample_weight
        self.training = training
        self._log_prior: Any = None
        self._log_posterior: Any = None

    @property
    def decoder_weights(self) -> list[Any]:
        """The decoder network's trainable weights (a weight decay on the decoder, as RAE-L2's)."""
        return list(self._require_decoder("decoder_weights").trainable_weights)

    def decode(self, code: Any) -> Any:
        """The decoder's outputs (the likelihood's parameters) for ``code``, shape ``(..., latent_dim)``.

        Differentiable with respect to ``code`` and the decoder's weights; a gradient penalty differentiates
        it with ``tfae.autodiff.gradient``.
        """
        decoder = self._require_decoder("decode")
        code = ops.cast(code, decoder.compute_dtype)
        leading = tuple(code.shape[:-1])
        if len(leading) == 1:
            return decoder(code, training=self.training)
        outputs = decoder(ops.reshape(code, (-1, code.shape[-1])), training=self.training)
        return ops.reshape(outputs, (*leading, *outputs.shape[1:]))

    def negative_log_likelihood(self, code: Any) -> Any:
        """``-log p(x | code)`` of the batch's samples, in nats: for codes of shape ``(batch, latent_dim)``,
        shape ``(batch,)``; for ``(k, batch, latent_dim)``, ``(k, batch)``. Weighted by ``sample_weight`` as
        ``reconstruction_loss`` is. Differentiable with respect to ``code`` (a Hamiltonian VAE's leapfrog steps)."""
        if self.likelihood is None or self.targets is None:
            raise ValueError(
                "This objective needs log p(x | z) of codes of its own, which needs a tfae likelihood: compile with "
                "'bernoulli' (data in [0, 1]) or 'gaussian' (real values) instead of a Keras loss."
            )
        outputs = self.decode(code)
        if len(code.shape) == 2:
            values = ops.cast(self.likelihood.negative_log_likelihood(self.targets, outputs), "float32")
        else:
            k = code.shape[0]
            flat = ops.reshape(outputs, (-1, *outputs.shape[2:]))
            repeated = ops.tile(self.targets, (k,) + (1,) * (len(self.targets.shape) - 1))
            values = ops.reshape(ops.cast(self.likelihood.negative_log_likelihood(repeated, flat), "float32"), (k, -1))
        if self.sample_weight is not None:
            values = values * ops.cast(self.sample_weight, "float32")
        return values

    def _require_decoder(self, what: str) -> keras.layers.Layer:
        if self.decoder is None:
            raise ValueError(
                f"These terms hold no decoder, which `{what}` needs: the model gives its objective one; terms made "
                "by hand take decoder= (and targets=, likelihood=)."
            )
        return self.decoder

    @property
    def importance_samples(self) -> int:
        """``k``, the codes per sample."""
        return int(self.reconstruction_loss.shape[0])

    @property
    def log_likelihood(self) -> Any:
        """``log p(x | z)`` of each code, shape ``(k, batch)``, in nats."""
        if not self.in_nats:
            raise ValueError(
                "This objective needs log p(x | z) in nats, which a Keras loss does not give: compile with a "
                "likelihood ('bernoulli' or 'gaussian')."
            )
        return -self.reconstruction_loss

    @property
    def log_prior(self) -> Any:
        """``log p(z)`` of each code under the bottleneck's prior, shape ``(k, batch)``."""
        if self._log_prior is None:
            self._log_prior = _per_code(self.posterior.log_prior())
        return self._log_prior

    @property
    def log_posterior(self) -> Any:
        """``log q(z | x)`` of each code under its sample's posterior, shape ``(k, batch)``."""
        if self._log_posterior is None:
            self._log_posterior = _per_code(self.posterior.log_density())
        return self._log_posterior

    @property
    def regularization(self) -> Any:
        """The sum of the regularizers' weighted penalties, a float32 scalar."""
        total = ops.zeros((), dtype="float32")
        for value in self.penalties.values():
            total = total + value
        return total


def _per_code(values: Any) -> Any:
    return ops.expand_dims(values, 0) if len(values.shape) == 1 else values


class BaseObjective(Configurable):
    """What the model minimises: the loss of each sample, from the terms of a batch.

    The model draws ``importance_samples`` codes per sample from the bottleneck, decodes them all at once,
    scores them and passes the terms (``ObjectiveTerms``: ``log p(x|z)``, ``log p(z)``, ``log q(z|x)`` of shape
    ``(k, batch)`` and the regularizers' penalties) to the objective, which returns a dict: ``"loss"``, the
    loss of each sample, shape ``(batch,)``, which the model averages; and any of the names in ``logged``,
    which the history shows under those names (their batch means). An objective that minimises a
    reconstruction term of its own in place of ``-log p(x | z)`` (an image similarity) also returns it as
    ``"reconstruction_loss"``, shape ``(batch,)``, and the history's ``reconstruction_loss`` is then that
    term, not the likelihood's nats. A subclass implements ``__call__``, sets the class attributes that say
    what it needs, and returns its arguments from ``get_config``.

    Example:

    ```python
    class ScaledElbo(BaseObjective):
        # The ELBO with its reconstruction weighed by `weight` (a beta-VAE seen from the other side).
        def __init__(self, weight=1.0):
            super().__init__()
            self.weight = float(weight)

        def __call__(self, terms):
            reconstruction = ops.mean(terms.reconstruction_loss, axis=0)
            return {"loss": self.weight * reconstruction + terms.regularization}

        def get_config(self):
            return {"weight": self.weight}
    ```
    """

    #: Whether it reads ``log_likelihood`` (a likelihood in nats, not a Keras loss).
    needs_likelihood: ClassVar[bool] = False
    #: Whether it reads ``log_prior`` and ``log_posterior`` (a bottleneck with densities).
    needs_densities: ClassVar[bool] = False
    #: Whether it holds ``log p(z) - log q(z|x)`` itself, so that a KL regularizer would count it twice.
    holds_divergence: ClassVar[bool] = False
    #: The names of the values besides ``"loss"`` that ``__call__`` returns, logged under these names.
    logged: ClassVar[tuple[str, ...]] = ()
    #: Whether it trains the encoder with a loss of its own: ``__call__`` then also returns
    #: ``"encoder_loss"`` (shape ``(batch,)``), whose gradient trains the model's ``inference_weights`` (the
    #: encoder's and the bottleneck's), while ``"loss"`` trains its ``generative_weights`` (the decoder's, the
    #: likelihood's and the prior's) and is the logged loss. PIWAE trains the decoder with IWAE and the encoder
    #: with MIWAE so.
    splits_gradients: ClassVar[bool] = False

    def __init__(self, importance_samples: int = 1) -> None:
        self.importance_samples: int = _positive_count(importance_samples, "importance_samples")

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        """Returns ``{"loss": the loss of each sample, shape (batch,), **logged values}``, and optionally
        ``"reconstruction_loss"`` (shape ``(batch,)``), the reconstruction term minimised when it is not the
        likelihood's."""
        raise NotImplementedError

    def check_model(self, bottleneck: keras.layers.Layer, likelihood: Any) -> None:
        """Raises ``ValueError`` when the model cannot give what this objective needs, naming both.

        The model calls it in ``compile``. The default checks ``needs_likelihood``, ``needs_densities`` and
        ``holds_divergence`` against the bottleneck and the likelihood.
        """
        from tfae.serialization import describe_component

        objective = describe_component("objective", self)
        described = describe_component("bottleneck", bottleneck)
        if self.needs_densities and not getattr(bottleneck, "has_densities", False):
            raise ValueError(
                f"The objective {objective} needs the log-density of codes under the posterior and the prior, which "
                f"the bottleneck {described} cannot give: use a variational bottleneck such as 'gaussian'."
            )
        if self.importance_samples > 1 and not getattr(bottleneck, "has_densities", False):
            raise ValueError(
                f"The objective {objective} draws {self.importance_samples} codes per sample, which the bottleneck "
                f"{described} cannot: use a variational bottleneck such as 'gaussian'."
            )
        if self.needs_likelihood and likelihood is None:
            raise ValueError(
                f"The objective {objective} needs log p(x | z) in nats, which a Keras loss does not give: compile "
                "with a likelihood ('bernoulli' for data in [0, 1], 'gaussian' for real values)."
            )
        if self.holds_divergence:
            doubled = [
                name
                for regularizer, name in zip(bottleneck.regularizers, bottleneck.regularizer_names)
                if regularizer.divergence_from_prior
            ]
            if doubled:
                raise ValueError(
                    f"The objective {objective} holds log p(z) - log q(z | x) itself, so the bottleneck's "
                    f"regularizer {', '.join(doubled)} would count the divergence from the prior twice: build the "
                    f"bottleneck {described} without it: regularizer=None, or a list that leaves it out."
                )

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, so that ``from_config`` builds the same objective."""
        return {"importance_samples": self.importance_samples}


def importance_samples_argument(objective: str, importance_samples: Any, k: Any = None) -> int:
    """An objective's count of codes per sample, given as ``importance_samples`` or by its former name ``k``.

    ``k`` still works, with a ``DeprecationWarning`` that shows the spec to write instead, so that configs and
    saved models that use it keep loading.

    Args:
        objective: the objective's registered name, for the messages (``"iwae"``).
        importance_samples: the count given under its name.
        k: the count given under its former name, or ``None``.

    Returns:
        The count, a positive int.

    Raises:
        ValueError: the count, under the name it was given by, is not a positive integer.
    """
    name = "importance_samples"
    if k is not None:
        warnings.warn(
            f"{objective.upper()}'s `k` is now called `importance_samples`: write "
            f"{{'name': '{objective}', 'importance_samples': {k!r}}}.",
            DeprecationWarning,
            stacklevel=3,
        )
        importance_samples, name = k, "k"
    return _positive_count(importance_samples, name)


def _positive_count(value: Any, name: str) -> int:
    """``value`` as an int, checked to be a positive integer: an objective's codes per sample, called ``name``."""
    return checked_count(value, name, meaning="the codes drawn per sample")
