"""The contract of bottlenecks that encode each sample as a distribution."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import keras
from keras import ops

from tfae.bottlenecks.base import BaseBottleneck, RegularizerSpec, check_sampling
from tfae.counts import checked_count
from tfae.posterior import Posterior
from tfae.random import per_replica


class VariationalBottleneck(BaseBottleneck):
    """A bottleneck whose code is drawn from a per-sample distribution.

    A Dense layer emits ``parameters * latent_dim`` distribution parameters; ``split`` turns them into the
    distribution's parameters (for a Gaussian: mean and log-variance). ``posterior`` returns the code the
    ``sampling`` argument asks for: a reparameterised sample (``sample``) while training, so gradients reach
    every encoder weight; an exact draw (``sample_exact``) when the model evaluates its bound; the mean
    (``mean``) at inference; ``k`` codes per sample on request, each drawn independently. The parameters are
    computed, and given to the regularizers, in float32 under a mixed-precision policy; the code is returned
    in the layer's compute dtype.

    Subclasses set ``parameters`` and implement ``split``, ``sample``, ``mean`` and ``sample_prior``; ``sample``
    draws its random numbers through ``random``, so that it is right under tf.distribute; ``sample`` and ``mean`` may
    return ``(code, log_density)`` when they know the code's log-density as they make it (a flow). They
    implement ``log_density`` (per dimension, for families that factorise) or ``joint_log_density`` (any
    family), and ``log_prior``, so
    that objectives and regularizers built on densities (IWAE, a total-correlation penalty, a Monte Carlo KL)
    can use them. Parameters may have any shapes (a flow's amortised context), each with the batch first:
    override ``distribution_parameters`` for them.

    Args:
        latent_dim: positive int, the size of the latent code.
        regularizer: an optional regularizer of the distribution parameters (instance, name or dict).
        seed: optional int, makes the sampling noise reproducible.
        prior: the prior ``p(z)``: a ``tfae.priors.BasePrior``, a registered name (``"standard_normal"``,
            ``"mixture"``, ``"vamp"``) or a dict such as ``{"name": "mixture", "components": 10}``; by default
            the bottleneck's ``default_prior``. The regularizers, the objective and ``sample_prior`` use it.
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
            noise = self.random(lambda shape: tfae.random.uniform(shape, self.seed_generator), ops.shape(low))
            return low + ops.exp(log_width) * noise

        def mean(self, low, log_width):
            return low + 0.5 * ops.exp(log_width)

        def sample_prior(self, n, seed=None):
            return keras.random.uniform(self.prior_shape(n), seed=seed)
    ```
    """

    parameters = 2
    #: The registered name of the prior a bottleneck gets when ``prior`` is not given.
    default_prior: ClassVar[str | None] = None

    def __init__(
        self,
        latent_dim: int,
        regularizer: RegularizerSpec | Sequence[RegularizerSpec] | None = None,
        seed: int | None = None,
        prior: Any = None,
        **kwargs: Any,
    ) -> None:
        # The prior comes first: the regularizers check it when the base class makes them.
        self.prior = _resolve_prior(self.default_prior if prior is None else prior, latent_dim, self)
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

    def posterior(
        self, inputs: Any, sampling: str = "mean", training: bool = False, importance_samples: int = 1
    ) -> Posterior:
        k = check_sampling(sampling, importance_samples)
        parameters = self.distribution_parameters(inputs)
        if sampling == "mean":
            found = self.mean(*parameters)
            code, log_density = found if isinstance(found, tuple) else (found, None)
            return Posterior(parameters, code, self, code_log_density=log_density)
        draw = self.sample if sampling == "reparameterized" else self.sample_exact
        if k == 1:
            drawn = draw(*parameters)
        else:
            # Drawn as (batch, k, ...) so that, under tf.distribute, each replica keeps the rows of its samples.
            drawn = draw(*(_repeated(parameter, k) for parameter in parameters))
        code, log_density = drawn if isinstance(drawn, tuple) else (drawn, None)
        if k > 1:
            code = ops.moveaxis(code, 1, 0)
            log_density = None if log_density is None else ops.moveaxis(log_density, 1, 0)
        return Posterior(parameters, code, self, code_log_density=log_density)

    def split(self, raw: Any) -> tuple[Any, ...]:
        """Splits the Dense output ``(batch, parameters * latent_dim)`` into the distribution's parameters."""
        return tuple(ops.split(raw, self.parameters, axis=-1))

    def sample(self, *parameters: Any) -> Any:
        """Draws one reparameterised code per sample, with random numbers from ``random``."""
        raise NotImplementedError

    def sample_exact(self, *parameters: Any) -> Any:
        """Draws one code per sample from the posterior itself, for a held-out bound; defaults to ``sample``.

        A bottleneck that trains with a relaxation (the Bernoulli one's Concrete samples) draws exact codes here,
        so that the evaluated loss is the negative ELBO of the model it describes.
        """
        return self.sample(*parameters)

    def random(self, draw: Callable[[tuple[Any, ...]], Any], shape: tuple[Any, ...]) -> Any:
        """Returns ``draw(shape)``: random numbers for a batch of ``shape``, different on each replica.

        ``draw`` is a ``tfae.random`` call (``keras.random``'s, fast under XLA on TensorFlow too) seeded by
        ``self.seed_generator``. Under tf.distribute every replica's seed generator holds the same state, so
        each replica draws the numbers of the global batch and keeps its own rows: what one device would draw
        for the whole batch (``tfae.random.per_replica``). A regularizer's ``random`` is the same.
        """
        return per_replica(draw, shape)

    def noise(self, draw: Callable[[tuple[Any, ...]], Any], shape: tuple[Any, ...]) -> Any:
        """The former name of ``random``, kept for plugins that call it; it warns with a ``DeprecationWarning``."""
        warnings.warn(
            f"{type(self).__name__}.noise(draw, shape) is now called random(draw, shape), as a regularizer's is.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.random(draw, shape)

    def mean(self, *parameters: Any) -> Any:
        """Returns the code used at inference: the distribution's mean, or a point standing for it.

        May return ``(code, log_density)``, the code with its log-density per sample, as ``sample`` may: a
        flow's inference code is its base mean moved through the layers, whose log-density comes with it, so
        that a regularizer at inference needs no inversion.
        """
        raise NotImplementedError

    @property
    def has_densities(self) -> bool:
        kind = type(self)
        posterior = kind.log_density is not VariationalBottleneck.log_density or (
            kind.joint_log_density is not VariationalBottleneck.joint_log_density
        )
        return posterior and (self.prior is not None or kind.log_prior is not VariationalBottleneck.log_prior)

    @property
    def factorizes(self) -> bool:
        return type(self).log_density is not VariationalBottleneck.log_density

    def log_density(self, code: Any, *parameters: Any) -> Any:
        """``log q(code | parameters)`` of each code dimension, elementwise; shapes broadcast.

        Args:
            code: float32 codes, shape broadcasting against the parameters'.
            *parameters: the distribution's parameters, as ``split`` gives them (possibly with added axes).

        Returns:
            float32 log-densities in nats, of the broadcast shape; ``Posterior`` sums the last axis.
        """
        raise NotImplementedError(f"{type(self).__name__} does not give the log-density of a code.")

    def joint_log_density(self, code: Any, *parameters: Any) -> Any:
        """``log q(code | parameters)`` of each code, summed over its dimensions: shape ``code.shape[:-1]``.

        The default sums ``log_density``; a family that does not factorise (a flow) overrides this instead.
        """
        return ops.sum(self.log_density(code, *parameters), axis=-1)

    def log_prior(self, code: Any) -> Any:
        """``log p(code)`` under the prior, per code dimension, elementwise (float32, nats).

        Only for a prior that factorises.
        """
        if self.prior is None:
            raise NotImplementedError(f"{type(self).__name__} does not give the log-density of its prior.")
        return self.prior.log_prob_per_dimension(code)

    def joint_log_prior(self, code: Any) -> Any:
        """``log p(code)`` of each code under the prior, shape ``code.shape[:-1]``."""
        if self.prior is None:
            return ops.sum(self.log_prior(code), axis=-1)
        return self.prior.log_prob(code)

    def sample_prior(self, n: int, seed: int | None = None) -> Any:
        """Draws ``n`` codes from the prior, shape ``(n, latent_dim)``."""
        if self.prior is None:
            return super().sample_prior(n, seed=seed)
        return self.prior.sample(n, seed=seed)

    def prior_shape(self, n: int) -> tuple[int, int]:
        """The shape ``(n, latent_dim)`` of ``n`` codes drawn by ``sample_prior``; ``n`` must be positive."""
        return (checked_count(n, "n", subject="The number of samples"), self.latent_dim)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "seed": self.seed}
        if self.prior is not None:
            from tfae.serialization import component_spec

            config["prior"] = component_spec("prior", self.prior)
        return config


def _repeated(parameter: Any, k: int) -> Any:
    """``parameter`` of shape ``(batch, ...)`` repeated ``k`` times on a new second axis: ``(batch, k, ...)``."""
    expanded = ops.expand_dims(parameter, 1)
    return ops.repeat(expanded, k, axis=1)


def _resolve_prior(spec: Any, latent_dim: Any, bottleneck: BaseBottleneck) -> Any:
    """The prior of ``spec`` built for ``latent_dim`` codes, after checking that it fits the bottleneck."""
    if spec is None:
        return None
    from tfae.plugins import resolve
    from tfae.priors.base import BasePrior

    prior = resolve("prior", spec)
    if not isinstance(prior, BasePrior):
        raise ValueError(
            "`prior` must be a tfae prior: an instance, a registered name such as 'standard_normal' or 'mixture', "
            f"or a dict such as {{'name': 'mixture', 'components': 10}}. Received: prior={spec!r}"
        )
    if prior.latent_dim is not None and prior.latent_dim != latent_dim:
        raise ValueError(
            f"The prior {type(prior).__name__} is for codes of {prior.latent_dim} dimensions, but the bottleneck's "
            f"latent_dim is {latent_dim}: leave the prior's latent_dim out, or make the two equal."
        )
    if not prior.built and isinstance(latent_dim, int) and latent_dim >= 1:
        prior.build(latent_dim)
    prior.check_bottleneck(bottleneck)
    return prior
