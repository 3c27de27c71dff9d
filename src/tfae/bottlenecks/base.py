"""The contract every bottleneck fulfils."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from types import FrameType
from typing import Any, ClassVar

import keras
from keras import ops

from tfae.counts import checked_count
from tfae.posterior import Posterior
from tfae.regularizers.base import BaseRegularizer, log_name

_TFAE_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside tfae: the user's line."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_TFAE_DIRECTORY + os.sep):
        frame, level = frame.f_back, level + 1
    return level


RegularizerSpec = BaseRegularizer | str | dict[str, Any]


#: How a bottleneck turns a posterior into the code the decoder gets: its mean (inference), a reparameterised
#: sample (training: gradients reach the encoder), or an exact draw (evaluation: a bound on -log p(x)).
SAMPLINGS = ("mean", "reparameterized", "exact")
# The most regularizers a bottleneck takes, as many as a config's list holds: each adds its penalty to the
# compiled train step, and the step grows with them (256 KL terms trained in 2.2 GB; 5,000 exhausted 5.9 GB).
MAX_REGULARIZERS = 256


def check_sampling(sampling: str, importance_samples: int = 1) -> int:
    """Returns ``importance_samples`` as an int after checking both arguments of ``BaseBottleneck.posterior``."""
    if sampling not in SAMPLINGS:
        raise ValueError(
            f"`sampling` must be one of {', '.join(map(repr, SAMPLINGS))}. Received: sampling={sampling!r}"
        )
    checked_count(importance_samples, "importance_samples")
    if sampling == "mean" and importance_samples != 1:
        raise ValueError(
            f"The posterior mean is one code per sample: importance_samples={importance_samples} needs "
            "sampling='reparameterized' or 'exact'."
        )
    return int(importance_samples)


class BaseBottleneck(keras.layers.Layer):
    """The layer between encoder and decoder: it maps features to a latent code and its posterior.

    A bottleneck implements ``posterior(inputs, sampling, training, importance_samples)``, which returns a
    ``Posterior``: the distribution's parameters, the code the decoder gets, and the bottleneck itself (which
    gives the densities). The model calls it, then calls the regularizers and the objective itself: the loss
    is computed in the open, in ``Autoencoder.compute_loss``. ``sampling`` says which code to return, an
    explicit argument, never hidden state. Called as a layer (inside ``model.encoder``, or on its own), the
    bottleneck returns the code and adds its regularizers' penalties to its ``losses``, as a Keras activity
    regularizer does; the model does not read them. A regularizer given by name or dict is resolved through
    the registry.

    Args:
        latent_dim: positive int, the size of the latent code.
        regularizer: an optional regularizer, or a list of them: each a ``BaseRegularizer``, a registered name,
            or a ``{"name": ..., **params}`` dict, each with its own beta. The model logs each one's penalty as
            ``<name>_loss`` (``kld_loss``) and their sum as ``regularization_loss``.
        kernel_regularizer: the former name of ``regularizer``; means exactly the same.
        **kwargs: base layer keyword arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: the encoder's features, shape ``(batch, ...)``.
        training: whether the call is part of a train step.
        sampling: ``"mean"``, ``"reparameterized"`` or ``"exact"``; by default a reparameterised sample when
            training and the mean otherwise.

    Input shape:
        ``(batch_size, ...)``, flattened to ``(batch_size, features)``.

    Output shape:
        ``(batch_size, latent_dim)``.

    Example:

    ```python
    class TanhBottleneck(BaseBottleneck):
        def build(self, input_shape):
            self.dense = keras.layers.Dense(self.latent_dim, activation="tanh")
            self.dense.build(self.flat_shape(input_shape))

        def posterior(self, inputs, sampling="mean", training=False, importance_samples=1):
            code = self.dense(self.flatten(inputs))
            return Posterior(parameters=(code,), code=code, bottleneck=self)
    ```
    """

    #: The family of the posterior's parameters ("gaussian": mean and log-variance; "bernoulli": logits), which
    #: regularizers with closed forms check; ``None`` for a deterministic or other bottleneck.
    distribution: ClassVar[str | None] = None

    def __init__(
        self,
        latent_dim: int,
        regularizer: RegularizerSpec | Sequence[RegularizerSpec] | None = None,
        kernel_regularizer: RegularizerSpec | Sequence[RegularizerSpec] | None = None,
        **kwargs: Any,
    ) -> None:
        if "kernel_regulirizer" in kwargs:
            misspelled = kwargs.pop("kernel_regulirizer")
            warnings.warn(
                "`kernel_regulirizer` is a misspelling of `kernel_regularizer`, still accepted; use `regularizer=`.",
                DeprecationWarning,
                stacklevel=_caller_stacklevel(),
            )
            if kernel_regularizer is not None:
                raise ValueError(
                    "Pass the regularizer once: `kernel_regularizer=` and `kernel_regulirizer=` mean the same. "
                    f"Received: kernel_regularizer={kernel_regularizer!r}, kernel_regulirizer={misspelled!r}"
                )
            kernel_regularizer = misspelled
        super().__init__(**kwargs)
        checked_count(latent_dim, "latent_dim")
        if regularizer is not None and kernel_regularizer is not None:
            raise ValueError(
                "Pass the regularizer once: `regularizer=` and `kernel_regularizer=` mean the same. "
                f"Received: regularizer={regularizer!r}, kernel_regularizer={kernel_regularizer!r}"
            )
        argument = "regularizer"
        if regularizer is None and kernel_regularizer is not None:
            argument, regularizer = "kernel_regularizer", kernel_regularizer
        self.latent_dim: int = int(latent_dim)
        self._regularizer_is_list: bool = isinstance(regularizer, (list, tuple))
        specs = list(regularizer) if isinstance(regularizer, (list, tuple)) else [regularizer]
        if len(specs) > MAX_REGULARIZERS:
            raise ValueError(
                f"A bottleneck takes at most {MAX_REGULARIZERS} regularizers (tfae.bottlenecks.base.MAX_REGULARIZERS): "
                "each adds a term to the compiled train step, which outgrows the memory with thousands. Received: "
                f"{argument}, a list of {len(specs):,}; weight one regularizer's beta instead of repeating it"
            )
        self.regularizers: list[BaseRegularizer] = [
            _resolve_regularizer(spec, argument) for spec in specs if spec is not None
        ]
        # Every regularizer that cannot serve this bottleneck is named in one error, not only the first.
        refusals = []
        for resolved in self.regularizers:
            try:
                resolved.check_bottleneck(self)
            except ValueError as refusal:
                refusals.append(str(refusal))
        if refusals:
            raise ValueError(" ".join(refusals))
        for resolved in self.regularizers:
            resolved.build(self.latent_dim)
        self.regularizer_names: list[str] = _log_names(self.regularizers)
        # Tracked so that the regularizers' schedulers, seed generators and weights are part of the model's state.
        self.regularizer_variables: list[keras.Variable] = [v for r in self.regularizers for v in r.variables]
        self.regularizer_seed_generators = [g for r in self.regularizers for g in r.seed_generators]
        self.regularizer_layers = [layer for r in self.regularizers for layer in r.layers]

    @property
    def regularizer(self) -> BaseRegularizer | None:
        """The bottleneck's regularizer when it has one, ``None`` when it has none; see ``regularizers`` for several."""
        if len(self.regularizers) > 1:
            raise AttributeError(
                f"This bottleneck has {len(self.regularizers)} regularizers ({', '.join(self.regularizer_names)}): "
                "use `regularizers`, the list of them."
            )
        return self.regularizers[0] if self.regularizers else None

    @property
    def has_densities(self) -> bool:
        """Whether the bottleneck gives the log-density of codes under its posterior and its prior.

        Variational ones do.
        """
        return False

    @property
    def factorizes(self) -> bool:
        """Whether the posterior's log-density is a sum over dimensions, so that ``log_density`` gives each one."""
        return self.has_densities

    def posterior(
        self, inputs: Any, sampling: str = "mean", training: bool = False, importance_samples: int = 1
    ) -> Posterior:
        """The posterior of a batch and the code the decoder gets: what the model scores.

        Args:
            inputs: the encoder's features, shape ``(batch, ...)``.
            sampling: ``"mean"`` (inference), ``"reparameterized"`` (training) or ``"exact"`` (evaluation);
                a deterministic bottleneck returns its one code for each.
            training: whether the call is part of a train step (dropout, moving averages).
            importance_samples: ``k``, codes per sample; with ``k > 1`` the code has shape ``(k, batch,
                latent_dim)``. Only bottlenecks with densities draw more than one.

        Returns:
            A ``Posterior`` holding this bottleneck.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement `posterior(inputs, sampling, training, importance_samples)`, "
            "which returns the Posterior the model scores. A bottleneck that overrides `call` alone, adding its "
            "regularization there, was the contract before tfae computed the loss in the model: move the body "
            "of `call` into `posterior` and return the Posterior instead of adding it (docs/plugins.md)."
        )

    def call(self, inputs: Any, training: bool | None = None, sampling: str | None = None) -> Any:
        if sampling is None:
            sampling = "reparameterized" if training else "mean"
        posterior = self.posterior(inputs, sampling=sampling, training=bool(training))
        self.add_regularization(posterior, training=training)
        for loss in posterior.losses:
            self.add_loss(loss)
        return ops.cast(posterior.code, self.compute_dtype)

    def penalties(self, posterior: Posterior, training: bool = False) -> list[tuple[str, Any, bool]]:
        """Each regularizer's weighted penalty of ``posterior``, and its objective where it has weights of its own.

        The model calls it in its loss. Returns ``(log name, float32 scalar, is_objective)`` triples, in the
        order of ``regularizers``: an objective (of the posterior with gradients stopped) follows its penalty.
        """
        found = []
        for regularizer, name in zip(self.regularizers, self.regularizer_names):
            found.append((f"{name}_loss", regularizer(posterior, training=training), False))
            if regularizer.has_objective:
                objective = regularizer.objective(posterior.stop_gradient(), training=training)
                found.append((f"{name}_{regularizer.objective_name}", ops.cast(objective, "float32"), True))
        return found

    def logged_values(self, posterior: Posterior) -> list[tuple[str, Any]]:
        """What the regularizers log beside their penalties (their ``logged_values``), for the model to log.

        Returns ``(log name, float32 scalar)`` pairs, ``<regularizer's log name>_<value name>``, in the order of
        ``regularizers`` and of each one's ``logged``.
        """
        found: list[tuple[str, Any]] = []
        for regularizer, name in zip(self.regularizers, self.regularizer_names):
            if regularizer.logged:
                values = regularizer.logged_values(posterior.stop_gradient())
                found.extend((f"{name}_{key}", ops.cast(values[key], "float32")) for key in regularizer.logged)
        return found

    @staticmethod
    def flatten(inputs: Any) -> Any:
        if len(inputs.shape) == 2:
            return inputs
        return ops.reshape(inputs, (ops.shape(inputs)[0], -1))

    @staticmethod
    def flat_shape(input_shape: Sequence[int | None]) -> tuple[int | None, int]:
        features = 1
        for size in input_shape[1:]:
            if size is None:
                raise ValueError(f"A bottleneck needs known feature dimensions. Received: input_shape={input_shape}")
            features *= size
        return (input_shape[0], features)

    def add_regularization(self, posterior: Posterior | Any, *parameters: Any, training: bool | None = None) -> None:
        """Adds each regularizer's weighted penalty of ``posterior`` to the layer's ``losses``; ``call`` calls it.

        For a regularizer with weights of its own, its objective (of the posterior with gradients stopped) is
        added after its penalty. This is for the layer used on its own; the model calls ``penalties`` instead.

        Args:
            posterior: a ``Posterior``: the distribution parameters, the code the decoder receives, and this
                bottleneck. The parameters themselves are accepted too:
                ``add_regularization(mean, log_variance, training=training)``, which gives the regularizers no code.
            training: whether the call is part of a train step (a step-counted scheduler then moves on).
        """
        if not isinstance(posterior, Posterior):
            posterior = Posterior(parameters=(posterior, *parameters), bottleneck=self)
        for _, value, _ in self.penalties(posterior, training=bool(training)):
            self.add_loss(value)

    def update_metrics(self) -> None:
        """Updates the layer's metrics from what its last ``call`` recorded; the model calls it in every step.

        A bottleneck's metric (such as a codebook's perplexity) is a ``keras.metrics.Metric`` attribute of the
        layer, which the model logs under the metric's name. Its state changes here, not in ``call``: on the
        JAX backend a layer's ``call`` cannot change a metric's variables. So ``call`` assigns the batch's value
        to a non-trainable variable, and this method passes it to the metric. The default has no metric.
        """

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, int]:
        return (input_shape[0], self.latent_dim)

    def sample_prior(self, n: int, seed: int | None = None) -> Any:
        """Draws ``n`` codes from the prior, shape ``(n, latent_dim)``; only generative bottlenecks have one."""
        raise NotImplementedError(
            f"{type(self).__name__} has no prior to sample from: use a variational bottleneck such as "
            "GaussianBottleneck to generate new samples."
        )

    def get_config(self) -> dict[str, Any]:
        from tfae.serialization import component_spec

        specs = [component_spec("regularizer", regularizer) for regularizer in self.regularizers]
        config = {**super().get_config(), "latent_dim": self.latent_dim}
        config["regularizer"] = specs if self._regularizer_is_list or len(specs) > 1 else (specs[0] if specs else None)
        return config


def _resolve_regularizer(spec: Any, argument: str) -> BaseRegularizer:
    regularizer = spec
    if not isinstance(regularizer, BaseRegularizer):
        from tfae.plugins import resolve

        regularizer = resolve("regularizer", regularizer)
    if not isinstance(regularizer, BaseRegularizer):
        raise ValueError(
            f"`{argument}` must be a tfae regularizer (a BaseRegularizer, its registered name such as 'kld', "
            "or a dict), or a list of them; a Keras weight regularizer would penalise the weights, not each "
            f"sample's posterior. Received: {argument}={spec!r}"
        )
    return regularizer


def _log_names(regularizers: Sequence[BaseRegularizer]) -> list[str]:
    """``kld``, ``mmd``, ...: one distinct name per regularizer; a name's second use is ``kld_2``, and so on."""
    bases = [log_name(regularizer) for regularizer in regularizers]
    return [
        base if bases[:index].count(base) == 0 else f"{base}_{bases[:index].count(base) + 1}"
        for index, base in enumerate(bases)
    ]
