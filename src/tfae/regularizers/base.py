"""The contract every regularizer fulfils."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any, ClassVar

import keras
from keras import ops

from tfae.configurable import Configurable
from tfae.posterior import Posterior
from tfae.schedulers.base import BaseScheduler


class BaseRegularizer(Configurable):
    """A penalty on a bottleneck's posterior for a batch, weighted by ``beta``.

    The penalty regularises the posterior (the bottleneck's activity), never the weights. The bottleneck calls
    the regularizer with a ``tfae.bottlenecks.Posterior``: the distribution parameters, the code the decoder
    received, and the bottleneck, which gives the log-density of a code under the posterior and the prior
    (variational bottlenecks). A subclass implements one of:

    - ``calc(*parameters)``: a penalty per sample from the distribution parameters alone;
    - ``penalty(posterior, training)``: from the whole posterior, either one value per sample, shape
      ``(batch,)``, which is averaged over the batch, or one value for the batch, a scalar (a batch-level
      estimator such as an MMD or a minibatch estimate of total correlation). Say which in the docstring.

    Under ``tf.distribute`` each replica calls the regularizer on its part of the global batch and the
    model averages the replicas' results. A per-sample penalty thus gives its mean over the global batch; a
    batch-level estimator gives the mean of its estimates on each replica's batch, which is computed from
    ``batch_size / replicas`` samples.

    Beyond ``beta``, a regularizer may:

    - draw random numbers: make a ``keras.random.SeedGenerator`` attribute (``self.seed_generator =
      keras.random.SeedGenerator(seed)``) and draw with ``self.random(draw, shape)``, which is seeded,
      differs between steps and between replicas, and is right on TensorFlow and JAX;
    - own Keras layers with trainable weights (a discriminator), made in ``__init__`` as attributes and built
      in ``build(latent_dim)``, which the bottleneck calls when it is made; they are tracked, trained and saved
      with the model. Their objective is ``objective(posterior, training)``, which
      sees the posterior with gradients stopped; the model's optimizer minimises it in the same ``fit``, and
      it is logged as ``<name>_<objective_name>`` but is not part of the model's ``loss``. Keep the weights out of
      the penalty's gradient (FactorVAE's regularizer in plugins/tfae-disentangle shows how);
    - use more schedulers than beta's: any ``BaseScheduler`` attribute is tracked and driven as beta's is;
    - need batches of a size: ``min_batch_size`` (2 for an estimator that compares a batch's samples with one
      another), or more in ``check_batch_size``, which ``fit`` and ``tfae train`` call before training;
    - log values beside its penalty, diagnostics that are not trained on: their names in ``logged``, their
      values from ``logged_values(posterior)``, each logged as ``<name>_<value name>``.

    A regularizer that needs what only some bottlenecks give (log-densities; a Gaussian's mean and
    log-variance) says so in ``check_bottleneck``, which the bottleneck calls when it is made.

    Args:
        beta: the weight. A float; a scheduler (a ``BaseScheduler``, its registered name, or a dict such as
            ``{"name": "dasr", "attack": 10}``); or a variable such as ``scheduler.value``.

    Call arguments:
        posterior: a ``Posterior``. The distribution parameters as arrays are accepted too
            (``regularizer(mean, log_variance)``).
        training: inside a train step a step-counted scheduler moves on by one step.

    Returns:
        A float32 scalar: ``beta`` times the batch mean of a per-sample penalty, or times a batch-level one
        (without ``beta`` when ``weighs_by_beta`` is ``False``).

    Example:

    ```python
    class CodeVarianceRegularizer(BaseRegularizer):
        # How far the batch's codes are from unit variance, per dimension: a batch-level penalty.
        def penalty(self, posterior, training=False):
            variance = keras.ops.var(posterior.code, axis=0)
            return keras.ops.sum(keras.ops.square(variance - 1.0))
    ```
    """

    #: The word after the regularizer's name for its logged objective (``factor_vae_discriminator_loss``).
    objective_name: ClassVar[str] = "objective"
    #: Whether the call multiplies the penalty by beta. A regularizer whose beta weighs only one of its terms
    #: (beta-TCVAE's total correlation) sets it to ``False`` and uses ``current_beta(training)`` in ``penalty``.
    weighs_by_beta: ClassVar[bool] = True
    #: Whether the penalty is the posterior's divergence from the prior (a VAE's KL), which an objective that
    #: holds the prior's density already (IWAE) would count twice.
    divergence_from_prior: ClassVar[bool] = False
    #: The fewest samples a training batch must hold: 1 for a per-sample penalty; 2 for a batch-level estimator
    #: that compares a batch's samples with one another (an MMD, a permutation of the codes, a minibatch
    #: estimate of q(z)), which a batch of one leaves without anything to compare.
    min_batch_size: ClassVar[int] = 1
    #: The names of the values the regularizer logs beside its penalty (``logged_values``), each as
    #: ``<name>_<value name>``: diagnostics, not trained on.
    logged: ClassVar[tuple[str, ...]] = ()

    def __init__(self, beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0) -> None:
        self._scheduler: BaseScheduler | None = None
        self._beta_variable: keras.Variable | None = None
        self._beta_constant: float | None = None
        if isinstance(beta, (str, dict)):
            from tfae.plugins import resolve

            beta = resolve("scheduler", beta)
        if isinstance(beta, BaseScheduler):
            self._scheduler = beta
        elif isinstance(beta, keras.Variable):
            self._scheduler = getattr(beta, "_tfae_scheduler", None)
            self._beta_variable = beta
        elif isinstance(beta, numbers.Real) and not isinstance(beta, bool) and math.isfinite(beta) and float(beta) >= 0:
            self._beta_constant = float(beta)
        else:
            raise ValueError(
                "`beta` must be a finite number >= 0, a scheduler (an instance, a name or a dict), or a "
                f"variable such as `scheduler.value`. Received: beta={beta!r}"
            )

    @property
    def scheduler(self) -> BaseScheduler | None:
        """The scheduler that drives beta, or ``None`` when beta is constant."""
        return self._scheduler

    @property
    def beta(self) -> float | keras.Variable:
        """The current beta: a float, or the variable that holds it."""
        if self._scheduler is not None:
            return self._scheduler.value
        if self._beta_variable is not None:
            return self._beta_variable
        assert self._beta_constant is not None
        return self._beta_constant

    @property
    def schedulers(self) -> list[BaseScheduler]:
        """Every scheduler this regularizer uses: beta's, and any other ``BaseScheduler`` attribute."""
        return _unique(self._owned(BaseScheduler))

    @property
    def variables(self) -> list[keras.Variable]:
        """Variables a layer must track for this regularizer's schedulers to train, save and restore correctly."""
        found = [variable for scheduler in self.schedulers for variable in scheduler.variables]
        if self._beta_variable is not None:
            found.append(self._beta_variable)
        return _unique(found)

    @property
    def layers(self) -> list[keras.layers.Layer]:
        """The Keras layers this regularizer owns (its attributes).

        Their weights train, save and load with the model.
        """
        return _unique(self._owned(keras.layers.Layer))

    @property
    def seed_generators(self) -> list[keras.random.SeedGenerator]:
        """The seed generators this regularizer draws from (its attributes), tracked so that their state moves on."""
        return _unique(self._owned(keras.random.SeedGenerator))

    @property
    def has_objective(self) -> bool:
        """Whether the regularizer trains weights of its own by an ``objective``."""
        return type(self).objective is not BaseRegularizer.objective

    def _owned(self, kind: type) -> list[Any]:
        found: list[Any] = []
        for value in vars(self).values():
            values = value if isinstance(value, (list, tuple)) else [value]
            found.extend(item for item in values if isinstance(item, kind))
        return found

    def current_beta(self, training: bool = False) -> Any:
        """Beta for this call, as a float32 tensor; a step-counted scheduler advances when training."""
        if self._scheduler is not None:
            return self.scheduled(self._scheduler, training)
        return ops.cast(ops.convert_to_tensor(self.beta), "float32")

    @staticmethod
    def scheduled(value: float | BaseScheduler, training: bool = False) -> Any:
        """``value`` for this call as a float32 tensor: a number, or a scheduler's current value.

        A step-counted scheduler moves on by one step when ``training``; call this once per call and
        scheduler, as ``current_beta`` does for beta.
        """
        if isinstance(value, BaseScheduler):
            if value.unit == "step" and training:
                return value.advance()
            return ops.cast(value.value, "float32")
        return ops.cast(ops.convert_to_tensor(value), "float32")

    def random(self, draw: Any, shape: Any) -> Any:
        """Returns ``draw(shape)``: random numbers for a batch of ``shape``, different on each replica.

        ``draw`` is a ``tfae.random`` call seeded by one of the regularizer's ``SeedGenerator`` attributes,
        such as ``lambda shape: tfae.random.normal(shape, self.seed_generator)``. Under ``tf.distribute`` the
        replicas hold the same generator state, so each draws the numbers of the global batch and keeps its
        own rows: what one device would draw for the whole batch.
        """
        from tfae.random import per_replica

        return per_replica(draw, shape)

    def build(self, latent_dim: int) -> None:
        """Builds the regularizer's own layers for codes of ``latent_dim``; by default, nothing.

        The bottleneck calls it when it is made, so that the weights exist before the optimizer is built (a
        model loaded from a file builds its optimizer before its first call).
        """

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        """Raises ``ValueError`` when ``bottleneck`` cannot give what this regularizer needs; by default, nothing.

        The bottleneck calls it when it is made, so that a mismatch (a penalty built on log-densities under a
        deterministic bottleneck) fails at once, naming both. ``require_densities`` is the usual check.
        """

    def require_densities(self, bottleneck: keras.layers.Layer, why: str = "") -> None:
        """Raises ``ValueError`` unless ``bottleneck`` gives log-densities under its posterior and its prior."""
        if getattr(bottleneck, "has_densities", False):
            return
        from tfae.serialization import describe_component

        reason = f" ({why})" if why else ""
        raise ValueError(
            f"The regularizer {describe_component('regularizer', self)} needs the log-density of codes under the "
            f"posterior and the prior{reason}, which the bottleneck {describe_component('bottleneck', bottleneck)} "
            "cannot give: use a variational bottleneck such as 'gaussian'."
        )

    def require_distribution(self, bottleneck: keras.layers.Layer, distribution: str) -> None:
        """Raises ``ValueError`` unless ``bottleneck``'s posterior is of the family ``distribution`` ("gaussian")."""
        found = getattr(bottleneck, "distribution", None)
        if found == distribution:
            return
        from tfae.serialization import describe_component

        if found is not None:
            has = f"a {found} posterior"
        elif getattr(bottleneck, "has_densities", False):
            has = "a posterior of another family (one that declares no `distribution`)"
        else:
            has = "a deterministic code"
        raise ValueError(
            f"The regularizer {describe_component('regularizer', self)} is computed from a {distribution} "
            f"posterior's parameters, but the bottleneck {describe_component('bottleneck', bottleneck)} has "
            f"{has}: use a {distribution} bottleneck, or a regularizer made for this one."
        )

    def require_prior(self, bottleneck: keras.layers.Layer, prior: type, remedy: str) -> None:
        """Raises ``ValueError`` unless ``bottleneck``'s prior is a ``prior`` (a closed form holds against it alone)."""
        found = getattr(bottleneck, "prior", None)
        if found is None or isinstance(found, prior):
            return
        from tfae.serialization import describe_component, registered_name

        raise ValueError(
            f"The regularizer {describe_component('regularizer', self)} is the closed form against the "
            f"'{registered_name('prior', prior)}' prior, but the bottleneck's prior is "
            f"{type(found).__name__}: {remedy}."
        )

    def check_batch_size(self, batch_size: int) -> None:
        """Raises ``ValueError`` when training batches of ``batch_size`` samples cannot give this penalty.

        ``Autoencoder.fit`` (given an array) and ``tfae train`` call it before the first step with the batch size
        training is set to (each replica's share under ``tf.distribute``). The last batch of an epoch, which
        may hold fewer samples, is trained on as it comes. By default it refuses fewer than ``min_batch_size``;
        a subclass may refuse more (a batch larger than the data set it is said to be drawn from).
        """
        if self.min_batch_size > 1 and batch_size < self.min_batch_size:
            from tfae.serialization import describe_component

            raise ValueError(
                f"The regularizer {describe_component('regularizer', self)} compares the samples of a batch with "
                f"one another, so it needs at least {self.min_batch_size} per batch: use a batch_size of "
                f"{self.min_batch_size} or more. Received: batch_size={batch_size}"
            )

    def logged_values(self, posterior: Posterior) -> dict[str, Any]:
        """The values named in ``logged`` for this batch, by name, each a scalar; by default, none.

        The model calls it in every train and test step with the posterior its penalty saw, gradients stopped,
        and logs each value as ``<name>_<value name>``, averaged over the epoch like the losses. They take no
        part in the loss.
        """
        return {}

    def calc(self, *parameters: Any) -> Any:
        """Returns the penalty of each sample from the distribution parameters, shape ``(batch,)``."""
        raise NotImplementedError(
            f"{type(self).__name__} implements neither `calc(*parameters)` nor `penalty(posterior, training)`."
        )

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        """The unweighted penalty: shape ``(batch,)`` per sample, or a scalar for the batch. Defaults to ``calc``."""
        return self.calc(*posterior.parameters)

    def objective(self, posterior: Posterior, training: bool = False) -> Any:
        """The loss of the regularizer's own weights, a float32 scalar; only regularizers with weights define it.

        ``posterior`` has its gradients stopped, so the objective trains these weights and nothing else.
        """
        raise NotImplementedError(f"{type(self).__name__} has no weights of its own to train.")

    def __call__(self, posterior: Posterior | Any, *parameters: Any, training: bool = False) -> Any:
        if not isinstance(posterior, Posterior):
            posterior = Posterior(parameters=(posterior, *parameters))
        elif parameters:
            raise ValueError("Call a regularizer with a Posterior, or with distribution parameters, not both.")
        penalty = ops.cast(self.penalty(posterior, training=training), "float32")
        if len(penalty.shape) not in (0, 1):
            raise ValueError(
                f"{type(self).__name__}'s penalty must be one value per sample, shape (batch,), or one for the "
                f"batch, a scalar. Received shape {tuple(penalty.shape)}."
            )
        if len(penalty.shape) == 1:
            penalty = ops.mean(penalty)
        return self.current_beta(training) * penalty if self.weighs_by_beta else penalty

    def get_config(self) -> dict[str, Any]:
        if self._scheduler is not None:
            from tfae.serialization import component_spec

            return {"beta": component_spec("scheduler", self._scheduler)}
        return {"beta": float(ops.convert_to_numpy(self.beta))}


SQRT_HALF = math.sqrt(0.5)
"""``0.5 * x**2`` is computed as ``(x * SQRT_HALF)**2``, which overflows float32 only where the result does."""

EXP_ARGUMENT_LIMIT = 88.0
"""The largest argument the Gaussian regularizers give ``exp`` where a larger one could meet a zero factor:
``exp(88.72)`` is float32's largest number, and past it ``0 * exp(x)`` is ``0 * inf``, NaN."""

_LOG_2 = math.log(2.0)


def half_expm1(x: Any) -> Any:
    """``0.5 * (exp(x) - 1)``, accurate near ``x = 0`` and finite wherever the result is below float32's largest.

    ``0.5 * keras.ops.expm1(x)`` overflows for ``x`` past 88.72, though the result fits up to 89.41; this
    form does not, so that a KL term becomes inf only where its value is past float32's range. Each branch
    sees only the arguments it is right for, so that neither gives the other's gradient a ``0 * inf``.

    Args:
        x: a float tensor.

    Returns:
        A tensor of the shape and dtype of ``x``.
    """
    small = 0.5 * ops.expm1(ops.minimum(x, 1.0))
    large = ops.exp(ops.maximum(x, 1.0) - _LOG_2) - 0.5
    return ops.where(x > 1.0, large, small)


def log_name(regularizer: BaseRegularizer) -> str:
    """The name a regularizer's loss is logged under, before ``_loss``: its registered name (``"kld"``).

    An unregistered regularizer is named after its class in snake case, without ``Regularizer``.
    """
    from tfae.serialization import registered_name_of

    name = registered_name_of("regularizer", regularizer)
    if name is not None:
        return name
    stem = type(regularizer).__name__.removesuffix("Regularizer") or type(regularizer).__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem).lower()


def _unique(items: list[Any]) -> list[Any]:
    found: list[Any] = []
    for item in items:
        if all(item is not other for other in found):
            found.append(item)
    return found
