"""The autoencoder model: encoder, bottleneck, decoder, and a loss that is the negative ELBO."""

from __future__ import annotations

import contextlib
import math
from typing import Any, NamedTuple

import keras
from keras import ops

from tfae.bottlenecks.base import BaseBottleneck
from tfae.divergence import DivergenceMonitor, stopped_message
from tfae.errors import DivergenceError, UnknownNameError
from tfae.keras_private import all_layers, compiled_loss, creation_strategy, set_untracked, unlocked_state
from tfae.likelihoods.base import BaseLikelihood
from tfae.models.inputs import check_even_split, check_fit_batch_size, check_samples
from tfae.models.provenance import RECORD_KEY, components_record
from tfae.models.steps import jax_compute_loss_and_updates, tensorflow_test_step, tensorflow_train_step
from tfae.models.xla import without_xla_if_it_fails, xla_by_default
from tfae.objectives.base import BaseObjective, ObjectiveTerms
from tfae.plugins import get_registry, resolve
from tfae.posterior import Posterior
from tfae.replicas import in_strategy_scope, multi_worker_logs, replicas_in_sync
from tfae.schedulers.base import BaseScheduler
from tfae.serialization import component_classes, component_spec

# Measured in benchmarks/train_throughput.py: small autoencoders spend much of a step in per-call overhead.
DEFAULT_STEPS_PER_EXECUTION = 16


def _resolve_bottleneck(bottleneck: Any) -> BaseBottleneck:
    bottleneck = resolve("bottleneck", bottleneck)
    if not isinstance(bottleneck, BaseBottleneck):
        raise ValueError(
            "`bottleneck` must be a tfae bottleneck: an instance, a registered name such as 'gaussian', or a "
            f"dict such as {{'name': 'gaussian', 'latent_dim': 2}}. Received: bottleneck={bottleneck!r}"
        )
    return bottleneck


def _resolve_likelihood(likelihood: Any) -> BaseLikelihood | None:
    likelihood = resolve("likelihood", likelihood)
    if likelihood is not None and not isinstance(likelihood, BaseLikelihood):
        raise ValueError(f"`likelihood` must be a tfae likelihood (BaseLikelihood). Received: {likelihood!r}")
    return likelihood


def loss_from_name(name: str) -> str | None:
    """What a loss given by name is: a registered likelihood's name, or ``None`` for a Keras loss's name.

    A likelihood's name (or alias) comes first; a name that none has is looked up among Keras' losses.
    ``compile(loss=name)`` and a config's ``[training] loss`` read a name by this one rule.

    Raises:
        UnknownNameError: neither a likelihood nor Keras has a loss of that name.
    """
    try:
        return get_registry().get("likelihood", name).name
    except UnknownNameError as tfae_error:
        try:
            keras.losses.get(name)
        except ValueError:
            raise UnknownNameError(f"{tfae_error} Keras has no loss named {name!r} either.") from None
    return None


def _resolve_objective(objective: Any) -> BaseObjective:
    objective = resolve("objective", objective)
    if not isinstance(objective, BaseObjective):
        raise ValueError(
            "`objective` must be a tfae objective: an instance, a registered name such as 'elbo' or 'iwae', or a "
            f"dict such as {{'name': 'iwae', 'importance_samples': 5}}. Received: objective={objective!r}"
        )
    return objective


class Reconstruction(NamedTuple):
    """What a forward pass gives: the bottleneck's ``Posterior`` of the batch and the decoder's ``outputs``.

    With ``k`` codes per sample the outputs have shape ``(k, batch, ...)``, else ``(batch, ...)``.
    """

    posterior: Posterior
    outputs: Any


@keras.saving.register_keras_serializable(package="tfae")
class Autoencoder(keras.Model):
    """An autoencoder: ``encoder -> bottleneck -> decoder``, trained with ``fit`` like any Keras model.

    The default encoder is the bottleneck alone and the default decoder one Dense layer back to the input's
    shape; override ``make_encoder`` and ``make_decoder`` (or use
    ``DeepAutoencoder``) for deeper or convolutional networks. Inputs may have any shape; the
    reconstruction has the input's shape. ``fit(x)`` with no targets reconstructs ``x``.

    Compile with a likelihood by name, in nats summed over all non-batch axes: ``"bernoulli"`` (the decoder
    emits logits) or ``"gaussian"``; with ``beta = 1`` the loss is then the negative ELBO per sample. A plain
    Keras loss (``"mse"``) works too, as Keras defines it. ``compile(objective=...)`` chooses what is
    minimised: ``"elbo"`` (the default) or ``{"name": "iwae", "importance_samples": 5}``, or a plugin's
    objective. History shows ``loss``, ``reconstruction_loss``, ``regularization_loss``, each regularizer's
    ``<name>_loss`` (``kld_loss``), what the objective logs (``iwae_bound``), and ``beta`` when a scheduler
    drives it (``<name>_beta`` each, when the bottleneck has several regularizers). ``evaluate`` and the ``val_``
    losses of a variational model use codes drawn from the posterior, as training does (seeded by the
    bottleneck's ``seed``): ``val_loss`` is the held-out negative ELBO, a bound on ``-log p(x)``, not the loss
    of the posterior mean, which is lower and no bound.

    The loss is computed in the open, in ``compute_loss``: the model passes the encoder's features to the
    bottleneck's ``posterior`` (which says how to draw the code), decodes the codes, asks the bottleneck's
    regularizers for their penalties and the objective for the loss of each sample. Nothing is left in
    Keras' ``add_loss`` for it to find again.

    What each part returns:

    - ``model(x)``: the decoder's output, the likelihood's parameters (logits for ``"bernoulli"``, the mean
      for ``"gaussian"``): what the loss scores, as Keras' ``compute_loss`` receives it.
    - ``model.predict(x)``: the reconstruction in data space (probabilities or means, never logits),
      ``model.likelihood(model(x))`` batch by batch. Without a likelihood (a Keras loss) the two are the same.
    - ``model.encoder``: data to codes (a variational bottleneck's posterior mean at inference).
    - ``model.decoder``: codes to data space; ``model.decoder_network``: codes to the likelihood's parameters.
    - ``model.sample(n)``: ``n`` codes from the prior, decoded to data space.

    Args:
        bottleneck: a ``BaseBottleneck``, a registered name, or a dict such as
            ``{"name": "gaussian", "latent_dim": 32, "regularizer": "kld"}``.
        likelihood: optional; the reconstruction likelihood, also settable by ``compile(loss=...)``.
        **kwargs: ``keras.Model`` keyword arguments, such as ``name``.

    Call arguments:
        inputs: a batch of shape ``(batch, ...)``.
        training: sample codes (variational bottlenecks) and apply dropout when ``True``.

    Returns:
        The decoder's output, of the input's shape: the likelihood's parameters (logits for ``"bernoulli"``).

    Example:

    ```python
    model = Autoencoder(bottleneck=GaussianBottleneck(latent_dim=2, regularizer="kld"))
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=10)
    codes = model.encoder.predict(x)
    images = model.decoder.predict(codes)
    ```
    """

    encoder: keras.Model
    decoder_network: keras.Model

    def __init__(self, bottleneck: Any, likelihood: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bottleneck = _resolve_bottleneck(bottleneck)
        self.likelihood = _resolve_likelihood(likelihood)
        # Not a Keras attribute: an objective holds no weights, and compile sets it again.
        set_untracked(self, "_objective", _resolve_objective("elbo"))
        self.encoder_input_shape: tuple | None = None
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.regularization_loss_tracker = keras.metrics.Mean(name="regularization_loss")
        # A Mean per term the bottleneck's regularizers give, in their order: each penalty, then its objective.
        self.regularizer_trackers: list[keras.metrics.Mean] = []
        # A Mean per value the regularizers log beside their penalties (their `logged`), in the same order.
        self.regularizer_value_trackers: list[keras.metrics.Mean] = []
        # A Mean per value the objective logs besides the loss; compile makes them anew for each objective, so
        # they are not Keras-tracked attributes (an earlier objective's would stay): `metrics` lists them.
        set_untracked(self, "_objective_trackers", [])
        # One regularizer's varying beta is logged as `beta` (histories of earlier runs name it so); with
        # several, as `<name>_beta`.
        self.beta_trackers: list[keras.metrics.Mean] = []
        self._varying_betas: list[int] = []
        regularizers = self.bottleneck.regularizers
        for index, (regularizer, name) in enumerate(zip(regularizers, self.bottleneck.regularizer_names)):
            self.regularizer_trackers.append(keras.metrics.Mean(name=f"{name}_loss"))
            if regularizer.has_objective:
                self.regularizer_trackers.append(keras.metrics.Mean(name=f"{name}_{regularizer.objective_name}"))
            logged = (keras.metrics.Mean(name=f"{name}_{key}") for key in regularizer.logged)
            self.regularizer_value_trackers.extend(logged)
            if not isinstance(regularizer.beta, float):
                self.beta_trackers.append(keras.metrics.Mean(name="beta" if len(regularizers) == 1 else f"{name}_beta"))
                self._varying_betas.append(index)
        self._data_space_decoder: tuple | None = None

    @property
    def objective(self) -> BaseObjective:
        """What the model minimises (``compile(objective=...)``); the ELBO by default."""
        return self._objective

    @property
    def latent_dim(self) -> int:
        """The size of the latent code: the bottleneck's ``latent_dim``."""
        return self.bottleneck.latent_dim

    @property
    def schedulers(self) -> list[BaseScheduler]:
        """The schedulers that drive the regularizers' beta in this model."""
        found: list[BaseScheduler] = []
        for layer in all_layers(self):
            regularizers = layer.regularizers if isinstance(layer, BaseBottleneck) else []
            for scheduler in (scheduler for regularizer in regularizers for scheduler in regularizer.schedulers):
                if all(scheduler is not other for other in found):
                    found.append(scheduler)
        return found

    def make_encoder(self, encoder_input: Any) -> Any:
        """Returns the code for the symbolic ``encoder_input``; the default is the bottleneck alone.

        An override builds its layers on ``encoder_input`` and ends with ``self.bottleneck(x)``: the code is
        the encoder's output. Create the layers here (and in ``make_decoder``), not in ``__init__``: the
        saved model rebuilds the networks from these graphs, and a layer made elsewhere is not in them.
        """
        return self.bottleneck(encoder_input)

    def make_decoder(self, decoder_input: Any) -> Any:
        """Returns the decoder's output (the likelihood's parameters, such as logits) for a symbolic code.

        The default is one Dense layer to the input's size, reshaped to the input's shape.
        """
        assert self.encoder_input_shape is not None  # build() sets it before it builds the networks
        shape = tuple(self.encoder_input_shape[1:])
        outputs = keras.layers.Dense(math.prod(shape), name="reconstruction")(decoder_input)
        if len(shape) > 1:
            outputs = keras.layers.Reshape(shape)(outputs)
        return outputs

    def build(self, input_shape: Any) -> None:
        input_shape = tuple(input_shape)
        self.encoder_input_shape = input_shape
        if getattr(self, "encoder", None) is None:
            encoder_input = keras.Input(shape=input_shape[1:], name="encoder_input")
            self.encoder = keras.Model(encoder_input, self.make_encoder(encoder_input), name="encoder")
            decoder_input = keras.Input(shape=(self.latent_dim,), name="decoder_input")
            self.decoder_network = keras.Model(decoder_input, self.make_decoder(decoder_input), name="decoder_network")
        self._connect_features()
        output_shape = tuple(self.decoder_network.output.shape)
        if tuple(output_shape[1:]) != tuple(input_shape[1:]):
            raise ValueError(
                f"The decoder's output shape {output_shape[1:]} differs from the input's shape {input_shape[1:]}: "
                "make_decoder must return a tensor of the input's shape."
            )
        if self.likelihood is not None and not self.likelihood.built:
            self.likelihood.build(output_shape)
        self.built = True

    def _set_networks(self, encoder: keras.Model, decoder_network: keras.Model) -> None:
        bottlenecks = [layer for layer in all_layers(encoder) if isinstance(layer, BaseBottleneck)]
        if len(bottlenecks) != 1:
            raise ValueError(f"A saved encoder must hold exactly one bottleneck; found {len(bottlenecks)}.")
        self.bottleneck = bottlenecks[0]
        self.encoder = encoder
        self.decoder_network = decoder_network
        self._connect_features()

    def _connect_features(self) -> None:
        """Makes ``feature_network``, the encoder up to the bottleneck's input, which the forward pass runs."""
        encoder_output = self.encoder.outputs[0] if len(self.encoder.outputs) == 1 else None
        if encoder_output is None or encoder_output is not self.bottleneck.output:
            raise ValueError(
                "make_encoder must return the bottleneck's output, the code: `return self.bottleneck(x)` as its "
                f"last step. Its encoder returns {[tuple(output.shape) for output in self.encoder.outputs]} "
                "from another layer."
            )
        features = keras.Model(self.encoder.input, self.bottleneck.input, name="features")
        # Not tracked: it shares the encoder's layers and adds no state of its own.
        set_untracked(self, "_feature_network", features)
        prior = getattr(self.bottleneck, "prior", None)
        if prior is not None:
            # The prior was built with the bottleneck; what it makes here (a VampPrior's data-shaped weights) is
            # its state too.
            with unlocked_state(prior):
                prior.connect(self)

    @property
    def feature_network(self) -> keras.Model:
        """The encoder up to the bottleneck: data to the features the bottleneck takes."""
        features = getattr(self, "_feature_network", None)
        if features is None:
            raise ValueError("The model is not built yet: call it on data, fit it, or call build(input_shape) first.")
        return features

    @property
    def decoder(self) -> keras.Model:
        """A Keras model from codes to data space: ``decoder.predict(codes)`` gives probabilities or means."""
        if not self.built:
            raise ValueError("The model is not built yet: call it on data, fit it, or call build(input_shape) first.")
        cached = self._data_space_decoder
        if cached is None or cached[0] is not self.likelihood:
            if self.likelihood is None:
                model = self.decoder_network
            else:
                codes = keras.Input(shape=(self.latent_dim,), name="code")
                model = keras.Model(codes, self.likelihood(self.decoder_network(codes)), name="decoder")
            cached = (self.likelihood, model)
            # Not an attribute Keras tracks: the decoder shares the model's layers and adds no state.
            set_untracked(self, "_data_space_decoder", cached)
        return cached[1]

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        sampling = "reparameterized" if training else "mean"
        return self.forward(inputs, sampling=sampling, training=bool(training)).outputs

    def forward(
        self, inputs: Any, sampling: str = "mean", training: bool = False, importance_samples: int = 1
    ) -> Reconstruction:
        """Encodes ``inputs``, draws the codes as ``sampling`` says, and decodes them all at once.

        Args:
            inputs: a batch of shape ``(batch, ...)``.
            sampling: ``"mean"`` (inference), ``"reparameterized"`` (training) or ``"exact"`` (evaluation).
            training: whether the pass is part of a train step (dropout, moving averages).
            importance_samples: ``k``, codes per sample, decoded together as ``k x batch`` codes.

        Returns:
            A ``Reconstruction``: the ``Posterior`` and the decoder's outputs (the likelihood's parameters).
        """
        if getattr(self, "_feature_network", None) is None:
            self.build((None, *tuple(inputs.shape)[1:]))  # as calling the model would
        features = self.feature_network(inputs, training=training)
        posterior = self.bottleneck.posterior(
            features, sampling=sampling, training=training, importance_samples=importance_samples
        )
        code = ops.cast(posterior.code, self.compute_dtype)
        k = posterior.importance_samples
        if k == 1:
            return Reconstruction(posterior, self.decoder_network(code, training=training))
        outputs = self.decoder_network(ops.reshape(code, (-1, self.latent_dim)), training=training)
        return Reconstruction(posterior, ops.reshape(outputs, (k, -1, *outputs.shape[1:])))

    def predict_step(self, *args: Any, **kwargs: Any) -> Any:
        """Keras' predict step, with the decoder's output mapped to data space by the likelihood."""
        result = super().predict_step(*args, **kwargs)
        if self.likelihood is None:
            return result
        if keras.backend.backend() == "jax":
            # JAX's predict step is stateless: it returns the outputs with the non-trainable variables.
            outputs, non_trainable_variables = result
            return self.likelihood(outputs), non_trainable_variables
        return self.likelihood(result)

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        steps_per_execution: int | None = None,
        jit_compile: bool | str = "auto",
        objective: Any = None,
        **kwargs: Any,
    ) -> None:
        """Configures training like ``keras.Model.compile``.

        Args:
            optimizer: as in Keras.
            loss: a tfae likelihood (``"bernoulli"``, ``"gaussian"``, a dict, or an instance), or a Keras
                loss (``"mse"``, a ``keras.losses.Loss``). ``None`` keeps the likelihood the model has.
            steps_per_execution: train steps per call of the compiled step function. tfae's default, 16,
                trains small models markedly faster than Keras' 1 (docs/benchmarks.md) and gives the same
                results; batch-level callbacks then run every 16 steps. Pass 1 for Keras' behaviour. Under a
                tf.distribute strategy the default is 1, since TensorFlow cannot loop over steps that update
                per-replica variables (a step-counted scheduler's counter) there.
            jit_compile: whether to compile the steps with XLA. tfae's ``"auto"`` uses XLA on TensorFlow, where
                Keras' would leave it off on a CPU: it trains dense models 1.2 to 1.6 times faster there
                (docs/benchmarks.md). It stays off for a model with convolutions on a machine without a GPU
                (XLA's CPU convolutions are slower), under a tf.distribute strategy, when the model runs
                eagerly, or when a layer says it cannot be compiled (``supports_jit = False``); and if XLA fails to
                compile the model (a TensorFlow operation it does not know, say), ``fit``, ``evaluate`` and
                ``predict`` warn once, in one line saying why, and go on without it. Since TensorFlow keeps every
                program XLA compiles until the process ends, the default compiles at most
                ``tfae.models.xla.MAX_XLA_MODELS_PER_PROCESS`` (10) models with XLA in one process, and the
                ones after them without it, with one warning. ``True`` is always obeyed. ``False`` turns it off,
                and so does the environment variable ``TFAE_XLA=0`` for every model (Keras' choice then applies).
            objective: what the model minimises: a ``BaseObjective``, a registered name (``"elbo"``, the
                default, or ``"iwae"``), or a dict such as ``{"name": "iwae", "importance_samples": 5}``.
                ``None`` keeps the model's. Saved with the model and loaded by name. An objective the model
                cannot give what it needs (IWAE's densities on a deterministic bottleneck) is refused here, naming both.
            **kwargs: the other ``keras.Model.compile`` arguments.
        """
        if type(self).compute_loss is not Autoencoder.compute_loss:
            raise TypeError(
                f"{type(self).__name__} overrides compute_loss, which fit and evaluate do not call: tfae's steps "
                "call loss_and_outputs, so the override would be silently left out. Write the loss as an objective "
                "(compile(objective=...); docs/plugins.md), or override loss_and_outputs."
            )
        likelihood, keras_loss = self._split_loss(loss)
        if likelihood is not None or keras_loss is not None:
            self._set_likelihood(likelihood)
        if self.likelihood is None and keras_loss is None:
            raise ValueError(
                "Autoencoder.compile needs a `loss`: a likelihood ('bernoulli' for data in [0, 1], 'gaussian' "
                "for real values) or a Keras loss such as 'mse'."
            )
        self._set_objective(self.objective if objective is None else _resolve_objective(objective))
        distributed = in_strategy_scope() or creation_strategy(self) is not None
        if steps_per_execution is None:
            steps_per_execution = 1 if distributed else DEFAULT_STEPS_PER_EXECUTION
        by_default = jit_compile == "auto" and keras.backend.backend() == "tensorflow"
        if by_default:
            jit_compile = xla_by_default(self, distributed, bool(kwargs.get("run_eagerly")))
        # Whether the XLA setting is tfae's own choice, which fit may still revise (a plain bool: Keras tracks none).
        self.xla_chosen_by_tfae = by_default
        super().compile(
            optimizer=optimizer,
            loss=keras_loss,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            **kwargs,
        )

    def _set_objective(self, objective: BaseObjective) -> None:
        objective.check_model(self.bottleneck, self.likelihood)
        set_untracked(self, "_objective", objective)
        set_untracked(self, "_objective_trackers", [keras.metrics.Mean(name=name) for name in objective.logged])

    @property
    def objective_trackers(self) -> list[keras.metrics.Mean]:
        """A ``Mean`` per value the objective logs besides the loss (``iwae_bound``)."""
        return list(self._objective_trackers)

    @property
    def metrics(self) -> list[Any]:
        """Keras' metrics (the loss, the logged terms, the compiled metrics) and the objective's."""
        return [*super().metrics, *self._objective_trackers]

    def get_compile_config(self) -> dict | None:
        config = super().get_compile_config()
        if config:  # Keras gives {} for a model never compiled
            config["objective"] = component_spec("objective", self.objective)
        return config

    def compile_from_config(self, config: dict) -> None:
        config = dict(config)
        objective = config.pop("objective", None)  # a model saved before objectives existed has none: the ELBO
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config, objective=objective)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _split_loss(self, loss: Any) -> tuple[BaseLikelihood | None, Any]:
        if loss is None:
            return None, None
        if isinstance(loss, BaseLikelihood):
            return loss, None
        if isinstance(loss, dict):
            return _resolve_likelihood(loss), None
        if isinstance(loss, str):
            likelihood = loss_from_name(loss)
            if likelihood is not None:
                return _resolve_likelihood(likelihood), None
        return None, loss

    def _set_likelihood(self, likelihood: BaseLikelihood | None) -> None:
        if likelihood is self.likelihood:
            return
        with unlocked_state(self):
            self.likelihood = likelihood
        if likelihood is not None and self.built and not likelihood.built:
            likelihood.build(tuple(self.decoder_network.output.shape))

    def compute_loss(
        self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None, training: bool = True
    ) -> Any:
        """The loss of a batch, with the forward pass that it scores: what ``fit`` and ``evaluate`` minimise and log.

        ``loss_and_outputs`` without the outputs. The model's steps call that; call this one to score a batch
        yourself. Also updates the logged terms (``reconstruction_loss``, ``regularization_loss``, each
        regularizer's, the objective's, ``beta``).

        Args:
            x: the inputs.
            y: the targets; ``None`` reconstructs ``x``.
            y_pred: ``None`` (the loss makes its own forward pass), or, as Keras' own steps and its symbolic
                build pass it, the decoder's output for ``x``: then the reconstruction scores ``y_pred`` and the
                regularizers see the posterior mean's code, which is what made it when ``y_pred = model(x)``.
            sample_weight: optional weights of the samples.
            training: a train step's loss (reparameterised codes) or an evaluation's (exact draws).

        Returns:
            A float32 scalar: with a likelihood in nats, ``beta = 1`` and the ELBO, the negative ELBO per sample.
        """
        if y_pred is None:
            return self.loss_and_outputs(x, y, sample_weight, training=training)[0]
        if self.objective.importance_samples != 1:
            raise ValueError(
                f"The objective {self.objective!r} scores {self.objective.importance_samples} codes per sample, "
                "which a given `y_pred` does not hold: call compute_loss without it."
            )
        posterior = self.bottleneck.posterior(
            self.feature_network(x, training=training), sampling="mean", training=training
        )
        return self._loss(Reconstruction(posterior, y_pred), x, y, sample_weight, training)["loss"]

    def loss_and_outputs(
        self, x: Any, y: Any = None, sample_weight: Any = None, training: bool = True
    ) -> tuple[Any, Any]:
        """The loss of a batch and the decoder's outputs, from one forward pass.

        The codes are reparameterised samples when ``training``, exact draws otherwise (``evaluate`` and the
        ``val_`` losses are a bound); the objective decides how many per sample. The regularizers see the
        first code of each sample. Under tf.distribute each replica returns its share of the loss.

        Returns:
            ``(loss, outputs)``: the loss, a float32 scalar, and the outputs of the first code of each sample,
            which the compiled metrics score.
        """
        losses, outputs = self.losses_and_outputs(x, y, sample_weight, training=training)
        return losses["loss"], outputs

    def losses_and_outputs(
        self, x: Any, y: Any = None, sample_weight: Any = None, training: bool = True
    ) -> tuple[dict, Any]:
        """``({"loss": ..., and "encoder_loss" when the objective gives one}, outputs)``; the train steps call it.

        ``"loss"`` is the logged loss and trains every weight, unless the objective gives an ``"encoder_loss"``:
        then ``"loss"`` trains ``generative_weights`` and ``"encoder_loss"`` trains ``inference_weights``.
        """
        sampling = "reparameterized" if training else "exact"
        reconstruction = self.forward(
            x, sampling=sampling, training=training, importance_samples=self.objective.importance_samples
        )
        outputs = reconstruction.outputs
        first_outputs = outputs if reconstruction.posterior.importance_samples == 1 else outputs[0]
        return self._loss(reconstruction, x, y, sample_weight, training), first_outputs

    def step_losses(self, x: Any, y: Any = None, sample_weight: Any = None, training: bool = True) -> tuple[dict, Any]:
        """What the train and test steps call: ``losses_and_outputs``, or a subclass's own ``loss_and_outputs``
        (documented as the place to change the loss) as ``{"loss": ...}``."""
        if type(self).loss_and_outputs is not Autoencoder.loss_and_outputs:
            loss, outputs = self.loss_and_outputs(x, y, sample_weight, training=training)
            return {"loss": loss}, outputs
        return self.losses_and_outputs(x, y, sample_weight, training=training)

    @property
    def objective_splits_gradients(self) -> bool:
        """Whether the objective trains the encoder with a loss of its own (``"encoder_loss"``)."""
        return bool(getattr(self.objective, "splits_gradients", False))

    @property
    def generative_weights(self) -> list:
        """The generative model's trainable weights: the decoder network's, the likelihood's and the prior's."""
        found = list(self.decoder_network.trainable_weights)
        if self.likelihood is not None:
            found += self.likelihood.trainable_weights
        prior = getattr(self.bottleneck, "prior", None)
        if prior is not None:
            found += prior.trainable_weights
        return found

    @property
    def inference_weights(self) -> list:
        """Every other trainable weight: the encoder's and the bottleneck's (its regularizers' included)."""
        generative = {id(weight) for weight in self.generative_weights}
        return [weight for weight in self.trainable_weights if id(weight) not in generative]

    def _loss(self, forward: Reconstruction, x: Any, y: Any, sample_weight: Any, training: bool) -> Any:
        """The loss of the forward pass ``forward`` of ``x``, and the logged terms' updates."""
        objective = self.objective
        posterior, outputs = forward
        k = posterior.importance_samples
        targets = x if y is None else y
        batch_size = ops.shape(targets)[0]
        replicas = replicas_in_sync()
        reconstruction = self._reconstruction_losses(targets, outputs, sample_weight, k, replicas)
        regularized = posterior if k == 1 else posterior.first_code()
        terms = self.bottleneck.penalties(regularized, training=training)
        penalties = {name: value for name, value, is_objective in terms if not is_objective}
        # A regularizer's own objective trains its weights by its gradient; its value is logged, not added.
        trained = sum(
            (value - ops.stop_gradient(value) for _, value, is_objective in terms if is_objective), ops.zeros(())
        )
        # The bottleneck's own loss terms (a VQ-VAE's) and the networks' (Keras weight regularizers), as Keras
        # adds them.
        added = sum((ops.cast(loss, "float32") for loss in self._added_losses(posterior)), ops.zeros(()))
        results = objective(
            ObjectiveTerms(
                reconstruction,
                posterior,
                penalties,
                in_nats=self.likelihood is not None,
                targets=targets,
                outputs=outputs if k > 1 else ops.expand_dims(outputs, 0),
                decoder=self.decoder_network,
                likelihood=self.likelihood,
                sample_weight=None if sample_weight is None else ops.reshape(sample_weight, (-1,)),
                training=training,
            )
        )
        loss = ops.mean(ops.cast(results["loss"], "float32")) + added + trained
        losses = {"loss": loss}
        if "encoder_loss" in results:
            # added and trained hold each weight's own terms, whose gradients reach only that weight: in both.
            losses["encoder_loss"] = ops.mean(ops.cast(results["encoder_loss"], "float32")) + added + trained

        # An objective that minimises a reconstruction term of its own (an image similarity) logs that one.
        logged_reconstruction = results.get("reconstruction_loss", reconstruction)
        self.reconstruction_loss_tracker.update_state(ops.mean(logged_reconstruction), sample_weight=batch_size)
        regularization = sum(penalties.values(), ops.zeros(())) + added
        self.regularization_loss_tracker.update_state(regularization, sample_weight=batch_size)
        for tracker, (_, value, _) in zip(self.regularizer_trackers, terms):
            tracker.update_state(value, sample_weight=batch_size)
        for tracker, (_, value) in zip(self.regularizer_value_trackers, self.bottleneck.logged_values(regularized)):
            tracker.update_state(value, sample_weight=batch_size)
        for tracker in self.objective_trackers:
            tracker.update_state(ops.mean(results[tracker.name]), sample_weight=batch_size)
        for index, tracker in zip(self._varying_betas, self.beta_trackers):
            beta = self.bottleneck.regularizers[index].current_beta(training=False)
            tracker.update_state(beta, sample_weight=batch_size)
        self.bottleneck.update_metrics()
        # Under tf.distribute each replica sees part of the global batch and the gradients are summed, so
        # each replica returns its share; the step multiplies it back for the logged `loss`.
        return {name: value / replicas for name, value in losses.items()}

    def _reconstruction_losses(self, targets: Any, outputs: Any, sample_weight: Any, k: int, replicas: int) -> Any:
        """``-log p(x | z)`` of each code, shape ``(k, batch)``; with a Keras loss, that loss for every sample."""
        if self.likelihood is None:
            # Keras' compiled loss is already divided by the number of replicas; undo it to log the true value.
            compiled = ops.cast(compiled_loss(self, targets, outputs, sample_weight), "float32") * replicas
            return ops.broadcast_to(ops.reshape(compiled, (1, 1)), (1, ops.shape(targets)[0]))
        if k == 1:
            per_code = ops.expand_dims(self.likelihood.negative_log_likelihood(targets, outputs), 0)
        else:
            flat = ops.reshape(outputs, (-1, *outputs.shape[2:]))
            repeated = ops.tile(targets, (k,) + (1,) * (len(targets.shape) - 1))
            per_code = ops.reshape(self.likelihood.negative_log_likelihood(repeated, flat), (k, -1))
        per_code = ops.cast(per_code, "float32")
        if sample_weight is not None:
            per_code = per_code * ops.cast(ops.reshape(sample_weight, (1, -1)), "float32")
        return per_code

    def _added_losses(self, posterior: Posterior) -> list[Any]:
        """The bottleneck's own loss terms and what the networks' layers added (``add_loss``, weight regularizers)."""
        return [*posterior.losses, *self.feature_network.losses, *self.decoder_network.losses]

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
        """Keras' compiled metrics, given the targets and the prediction in data space.

        The targets are ``y``, or ``x`` when ``y`` is ``None``.
        """
        targets = x if y is None else y
        prediction = y_pred if self.likelihood is None else self.likelihood(y_pred)
        return super().compute_metrics(x, targets, prediction, sample_weight)

    # Keras cannot average scalar logs across several workers (tensorflow/tensorflow#72388); see multi_worker_logs.
    def train_step(self, *args: Any, **kwargs: Any) -> Any:
        """Keras' train step, with the forward pass and the loss of ``loss_and_outputs``."""
        if keras.backend.backend() == "tensorflow":
            return multi_worker_logs(tensorflow_train_step(self, *args, **kwargs))
        return multi_worker_logs(super().train_step(*args, **kwargs))

    def test_step(self, *args: Any, **kwargs: Any) -> Any:
        """Keras' test step, with exact draws: ``evaluate`` and ``val_loss`` give the negative ELBO, a bound."""
        if keras.backend.backend() == "tensorflow":
            return multi_worker_logs(tensorflow_test_step(self, *args, **kwargs))
        return multi_worker_logs(super().test_step(*args, **kwargs))

    def compute_loss_and_updates(self, *args: Any, **kwargs: Any) -> Any:
        """The JAX trainer's stateless loss, with the forward pass and the loss of ``loss_and_outputs``."""
        return jax_compute_loss_and_updates(self, *args, **kwargs)

    def fit(
        self, x: Any = None, *args: Any, callbacks: list | None = None, stop_on_divergence: bool = True, **kwargs: Any
    ) -> keras.callbacks.History:
        """``keras.Model.fit``, which also stops when a loss becomes NaN or inf.

        The model's epoch-counted schedulers are added to ``callbacks`` if missing. With
        ``stop_on_divergence`` (the default), a ``tfae.divergence.DivergenceMonitor`` is added too, unless
        ``callbacks`` holds one: at the first step whose loss is NaN or inf, training stops, the weights after
        the last epoch with finite losses are put back, and a ``DivergenceError`` says where and why (its
        ``history`` attribute holds the ``History``). ``stop_on_divergence=False`` trains on regardless, as Keras does.

        Args:
            x: the training data, as in Keras.
            *args: the other positional arguments of ``keras.Model.fit``.
            callbacks: as in Keras.
            stop_on_divergence: whether to stop, restore and raise when a loss becomes NaN or inf.
            **kwargs: the other keyword arguments of ``keras.Model.fit``.

        Returns:
            The ``History``.

        Raises:
            DivergenceError: a loss became NaN or inf (with ``stop_on_divergence``).
            ValueError: the samples are not of the shape the model takes, or (given an array) the batch size
                is one that a regularizer cannot train on (its ``check_batch_size``).
        """
        check_samples(self, x, "fit")
        check_even_split(x, kwargs.get("batch_size"), "fit")
        replicas = getattr(creation_strategy(self), "num_replicas_in_sync", 1)
        # fit(x, y, batch_size, ...): the batch size may come by position too.
        batch_size = kwargs.get("batch_size", args[1] if len(args) > 1 else None)
        check_fit_batch_size(self, x, batch_size, replicas)
        shape = getattr(x, "shape", None)
        # Inside the tf.distribute strategy the model was made under, as Keras' fit would build them.
        strategy = creation_strategy(self)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            if not self.built and shape is not None and len(shape) > 1:
                # Built now, not by the first step, so that the weights training starts from can be kept.
                self.build((None, *tuple(shape)[1:]))
            if self.built and self.optimizer is not None and not self.optimizer.built:
                # Keras builds the optimizer's slots in the first trace of the train step, which TensorFlow
                # then traces a second time, without creating variables: built here, the step is traced once,
                # which saves half a second to a second of every fit's start.
                self.optimizer.build(self.trainable_variables)
        callbacks = list(callbacks or [])
        for scheduler in self.schedulers:
            if scheduler.unit == "epoch" and all(scheduler is not callback for callback in callbacks):
                callbacks.append(scheduler)
        monitor = None
        if stop_on_divergence and not any(isinstance(callback, DivergenceMonitor) for callback in callbacks):
            monitor = DivergenceMonitor()
            callbacks.append(monitor)
        history = without_xla_if_it_fails(
            self, "fit", lambda: super(Autoencoder, self).fit(x, *args, callbacks=callbacks, **kwargs)
        )
        if monitor is not None and monitor.found is not None:
            restored = monitor.restore(self)
            raise DivergenceError(self._divergence_message(monitor, x, restored), history=history)
        return history

    def _divergence_message(self, monitor: DivergenceMonitor, x: Any, restored: bool) -> str:
        rate = getattr(self.optimizer, "learning_rate", None)
        learning_rate = "unknown" if rate is None else f"{float(ops.convert_to_numpy(rate)):g}"
        low, high = (float(x.min()), float(x.max())) if hasattr(x, "min") and hasattr(x, "max") else (None, None)
        if not restored:
            kept = "The model's weights are those of the failed step: no finite ones were kept."
        elif monitor.finite_epochs:
            kept = f"The model holds the weights after epoch {monitor.finite_epochs}, the last with finite losses."
        else:
            kept = "The model holds the weights training started from (no epoch finished with finite losses)."
        stopped = stopped_message(monitor, learning_rate, "the data", low, high)
        return f"{stopped} {kept} Pass stop_on_divergence=False to fit to train on regardless."

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        """``keras.Model.predict``: the reconstruction in data space, after checking the samples' shape."""
        check_samples(self, x, "predict")
        check_even_split(x, kwargs.get("batch_size"), "predict")
        return without_xla_if_it_fails(self, "predict", lambda: super(Autoencoder, self).predict(x, *args, **kwargs))

    def evaluate(self, x: Any = None, *args: Any, **kwargs: Any) -> Any:
        """``keras.Model.evaluate``, after checking the samples' shape."""
        check_samples(self, x, "evaluate")
        check_even_split(x, kwargs.get("batch_size"), "evaluate")
        return without_xla_if_it_fails(self, "evaluate", lambda: super(Autoencoder, self).evaluate(x, *args, **kwargs))

    def sample(self, n: int, seed: int | None = None, sampler: Any = None) -> Any:
        """Generates ``n`` new samples: codes from ``sampler``, decoded to data space (NumPy).

        Args:
            n: how many samples.
            seed: for the same samples every time.
            sampler: where the codes come from: ``None`` or ``"prior"``, the bottleneck's prior
                (``bottleneck.prior``); or a fitted ``tfae.samplers.BaseSampler``, such as
                ``GaussianMixtureSampler().fit(model, x_train)`` (a Gaussian mixture fitted to the training
                codes, which also gives a plain autoencoder samples).

        Example:

        >>> images = model.sample(16, seed=0)
        >>> images = model.sample(16, sampler=GaussianMixtureSampler().fit(model, x_train), seed=0)
        """
        # Resolved through the registry, not imported: tfae.samplers builds models (the two-stage VAE).
        chosen = resolve("sampler", "prior" if sampler is None else sampler)
        if not callable(getattr(chosen, "sample", None)) or not hasattr(chosen, "needs_fit"):
            raise TypeError(f"`sampler` must be a tfae sampler, its name or a dict. Received: sampler={sampler!r}")
        decoder = self.decoder  # an unbuilt model says so here, before any codes are drawn
        codes = chosen.sample(self, n, seed=seed)
        return decoder.predict(codes, verbose=0)

    def get_config(self) -> dict:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        config["likelihood"] = None if self.likelihood is None else component_spec("likelihood", self.likelihood)
        if self.built:
            config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
            config["decoder_network"] = keras.saving.serialize_keras_object(self.decoder_network)
        else:
            config["bottleneck"] = component_spec("bottleneck", self.bottleneck)
        # Who provided each component, so that loading where one is missing can say what to install.
        config[RECORD_KEY] = components_record(config)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Autoencoder:
        config = dict(config)
        config.pop(RECORD_KEY, None)  # read by tfae.load_model before Keras runs, not by the model
        encoder = config.pop("encoder", None)
        decoder_network = config.pop("decoder_network", None)
        if encoder is None:
            return cls(**config)
        custom_objects = component_classes()
        encoder = keras.saving.deserialize_keras_object(encoder, custom_objects=custom_objects)
        decoder_network = keras.saving.deserialize_keras_object(decoder_network, custom_objects=custom_objects)
        bottlenecks = [layer for layer in all_layers(encoder) if isinstance(layer, BaseBottleneck)]
        model = cls(bottleneck=bottlenecks[0] if bottlenecks else None, **config)
        model._set_networks(encoder, decoder_network)
        return model
