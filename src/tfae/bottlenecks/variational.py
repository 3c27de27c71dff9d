"""The contract of bottlenecks that encode each sample as a distribution."""

from __future__ import annotations

import contextlib
import contextvars
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
from keras import ops

from tfae.bottlenecks.base import BaseBottleneck, RegularizerSpec
from tfae.posterior import Posterior
from tfae.random import per_replica

_SAMPLING = contextvars.ContextVar("tfae_sampled_codes", default=False)


@contextlib.contextmanager
def sampled_codes() -> Iterator[None]:
    """Within this context, variational bottlenecks sample their codes at inference too (``sample_exact``).

    ``Autoencoder.evaluate`` and the validation of ``fit`` run their steps in it, so that ``loss`` and
    ``val_loss`` are the negative ELBO with sampled codes, a bound on ``-log p(x)``, while ``predict`` and the
    encoder keep the posterior mean. It acts when a step is traced, so it holds for compiled steps too.
    """
    token = _SAMPLING.set(True)
    try:
        yield
    finally:
        _SAMPLING.reset(token)


class VariationalBottleneck(BaseBottleneck):
    """A bottleneck whose code is drawn from a per-sample distribution.

    A Dense layer emits ``parameters * latent_dim`` distribution parameters; ``split`` turns them into the
    distribution's parameters (for a Gaussian: mean and log-variance). While training the code is a
    reparameterised sample, so gradients reach every encoder weight; at inference it is the mean, except
    within ``sampled_codes()`` (evaluation), where it is drawn by ``sample_exact``. The
    parameters are computed, and given to the regularizer, in float32 under a mixed-precision policy; the code
    is returned in the layer's compute dtype.

    Subclasses set ``parameters`` and implement ``split``, ``sample``, ``mean`` and ``sample_prior``; ``sample``
    draws its noise through ``noise``, so that it is right under tf.distribute. They implement ``log_density``
    and ``log_prior`` too, so that regularizers built on densities (a total-correlation penalty, a Monte
    Carlo KL) can use them.

    Args:
        latent_dim: positive int, the size of the latent code.
        regularizer: an optional regularizer of the distribution parameters (instance, name or dict).
        seed: optional int, makes the sampling noise reproducible.
        **kwargs: ``BaseBottleneck`` keyword arguments.

    Call arguments:
        inputs: the encoder's features, shape ``(batch, ...)``.
        training: sample when ``True``; return the mean otherwise.

    Input shape:
        ``(batch_size, ...)``, flattened to ``(batch_size, features)``.

    Output shape:
        ``(batch_size, latent_dim)``.

    Example:

    ```python
    class UniformBottleneck(VariationalBottleneck):
        parameters = 2  # the lower end and the log-width of each code's interval

        def sample(self, low, log_width):
            noise = self.noise(lambda shape: tfae.random.uniform(shape, self.seed_generator), ops.shape(low))
            return low + ops.exp(log_width) * noise

        def mean(self, low, log_width):
            return low + 0.5 * ops.exp(log_width)

        def sample_prior(self, n, seed=None):
            return keras.random.uniform(self.prior_shape(n), seed=seed)
    ```
    """

    parameters = 2

    def __init__(
        self,
        latent_dim: int,
        regularizer: RegularizerSpec | Sequence[RegularizerSpec] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(latent_dim, regularizer=regularizer, **kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Computed in the variable dtype (float32 under a mixed policy): in bfloat16 a log-variance of 80.02
        # rounds to 80, 2% off in its variance, and in float16 the KL's gradient, 0.5 * (exp(log_variance) - 1),
        # overflows on its way to the kernel for a log-variance above 12.
        self.dense = keras.layers.Dense(
            self.parameters * self.latent_dim, dtype=self.dtype_policy.variable_dtype, name="parameters"
        )

    def build(self, input_shape: Sequence[int | None]) -> None:
        # distribution_parameters may have been called first, building the Dense layer on its own.
        if not self.dense.built:
            self.dense.build(self.flat_shape(input_shape))

    def distribution_parameters(self, inputs: Any) -> tuple[Any, ...]:
        """Returns the distribution parameters of each sample, as a tuple of float32 tensors."""
        raw = ops.cast(self.dense(self.flatten(inputs)), "float32")
        return self.split(raw)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        parameters = self.distribution_parameters(inputs)
        if training:
            code = self.sample(*parameters)
        elif _SAMPLING.get():
            code = self.sample_exact(*parameters)
        else:
            code = self.mean(*parameters)
        self.add_regularization(Posterior(parameters=parameters, code=code, bottleneck=self), training=training)
        return ops.cast(code, self.compute_dtype)

    def split(self, raw: Any) -> tuple[Any, ...]:
        """Splits the Dense output ``(batch, parameters * latent_dim)`` into the distribution's parameters."""
        return tuple(ops.split(raw, self.parameters, axis=-1))

    def sample(self, *parameters: Any) -> Any:
        """Draws one reparameterised code per sample, with noise from ``noise``."""
        raise NotImplementedError

    def sample_exact(self, *parameters: Any) -> Any:
        """Draws one code per sample from the posterior itself, for a held-out bound; defaults to ``sample``.

        A bottleneck that trains with a relaxation (the Bernoulli one's Concrete samples) draws exact codes here,
        so that the evaluated loss is the negative ELBO of the model it describes.
        """
        return self.sample(*parameters)

    def noise(self, draw: Callable[[tuple[Any, ...]], Any], shape: tuple[Any, ...]) -> Any:
        """Returns ``draw(shape)``, noise for a batch of ``shape``, drawn so that replicas differ.

        ``draw`` is a ``tfae.random`` call (``keras.random``'s, fast under XLA on TensorFlow too) seeded by
        ``self.seed_generator``. Under tf.distribute every
        replica's seed generator holds the same state, so each replica draws the noise of the global batch and
        keeps its own rows: replicas get different noise, the noise the global batch gets on one device.
        """
        return per_replica(draw, shape)

    def mean(self, *parameters: Any) -> Any:
        """Returns the distribution's mean, the code used at inference."""
        raise NotImplementedError

    @property
    def has_densities(self) -> bool:
        return type(self).log_density is not VariationalBottleneck.log_density and (
            type(self).log_prior is not VariationalBottleneck.log_prior
        )

    def log_density(self, code: Any, *parameters: Any) -> Any:
        """``log q(code | parameters)`` of each code dimension, elementwise; shapes broadcast.

        Args:
            code: float32 codes, shape broadcasting against the parameters'.
            *parameters: the distribution's parameters, as ``split`` gives them (possibly with added axes).

        Returns:
            float32 log-densities in nats, of the broadcast shape; ``Posterior`` sums the last axis.
        """
        raise NotImplementedError(f"{type(self).__name__} does not give the log-density of a code.")

    def log_prior(self, code: Any) -> Any:
        """``log p(code)`` under the prior, per code dimension, elementwise (float32, nats)."""
        raise NotImplementedError(f"{type(self).__name__} does not give the log-density of its prior.")

    def prior_shape(self, n: int) -> tuple[int, int]:
        """The shape ``(n, latent_dim)`` of ``n`` codes drawn by ``sample_prior``; ``n`` must be positive."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"The number of samples must be a positive integer. Received: n={n!r}")
        return (int(n), self.latent_dim)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}
