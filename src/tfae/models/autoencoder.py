"""The autoencoder model: encoder, bottleneck, decoder, and a loss that is the negative ELBO."""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from typing import Any

import keras
from keras import ops

from tfae.bottlenecks.base import BaseBottleneck
from tfae.bottlenecks.variational import sampled_codes
from tfae.divergence import DivergenceMonitor, likely_causes
from tfae.errors import DivergenceError
from tfae.keras_private import (
    all_layers,
    compiled_loss,
    creation_strategy,
    losses_added_by,
    op_determinism_enabled,
    set_untracked,
    unlocked_state,
)
from tfae.likelihoods.base import BaseLikelihood
from tfae.models.provenance import RECORD_KEY, components_record
from tfae.plugins import get_registry, resolve
from tfae.replicas import distribution_devices, in_strategy_scope, multi_worker_logs, replicas_in_sync, uneven_batches
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


_CONVOLUTIONS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _is_xla_compilation_error(error: Exception) -> bool:
    """Whether ``error`` is XLA refusing to compile a graph (an operation it has no kernel for), not a bug."""
    text = str(error)
    return any(
        sign in text
        for sign in ("XLA_CPU_JIT", "XLA_GPU_JIT", "Detected unsupported operations when trying to compile", "XLA compilation")
    )


@keras.saving.register_keras_serializable(package="tfae")
class Autoencoder(keras.Model):
    """An autoencoder: ``encoder -> bottleneck -> decoder``, trained with ``fit`` like any Keras model.

    The default encoder is the bottleneck alone and the default decoder one Dense layer back to the input's
    shape, as in the original TFAE; override ``make_encoder`` and ``make_decoder`` (or use
    ``DeepAutoencoder``) for deeper or convolutional networks. Inputs may have any shape; the
    reconstruction has the input's shape. ``fit(x)`` with no targets reconstructs ``x``.

    Compile with a likelihood by name, in nats summed over all non-batch axes: ``"bernoulli"`` (the decoder
    emits logits) or ``"gaussian"``; with ``beta = 1`` the loss is then the negative ELBO per sample. A plain
    Keras loss (``"mse"``) works too, as Keras defines it. History shows ``loss``, ``reconstruction_loss``,
    ``regularization_loss``, each regularizer's ``<name>_loss`` (``kld_loss``), and ``beta`` when a scheduler
    drives it (``<name>_beta`` each, when the bottleneck has several regularizers). ``evaluate`` and the
    ``val_`` losses of a variational model use sampled codes, as training does (seeded by the bottleneck's
    ``seed``): ``val_loss`` is the held-out negative ELBO, a bound on ``-log p(x)``, not the loss of the
    posterior mean, which is lower and no bound.

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
        self.encoder_input_shape: tuple | None = None
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.regularization_loss_tracker = keras.metrics.Mean(name="regularization_loss")
        # A Mean per loss the bottleneck's regularizers add, in their order: each penalty, then its objective.
        self.regularizer_trackers: list[keras.metrics.Mean] = []
        self._objective_trackers: list[bool] = []
        # One regularizer's varying beta is logged as `beta`, as the seed did; with several, as `<name>_beta`.
        self.beta_trackers: list[keras.metrics.Mean] = []
        self._varying_betas: list[int] = []
        regularizers = self.bottleneck.regularizers
        for index, (regularizer, name) in enumerate(zip(regularizers, self.bottleneck.regularizer_names)):
            self.regularizer_trackers.append(keras.metrics.Mean(name=f"{name}_loss"))
            self._objective_trackers.append(False)
            if regularizer.has_objective:
                self.regularizer_trackers.append(keras.metrics.Mean(name=f"{name}_{regularizer.objective_name}"))
                self._objective_trackers.append(True)
            if not isinstance(regularizer.beta, float):
                self.beta_trackers.append(keras.metrics.Mean(name="beta" if len(regularizers) == 1 else f"{name}_beta"))
                self._varying_betas.append(index)
        self._data_space_decoder: tuple | None = None

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

        An override builds its layers on ``encoder_input`` and ends with ``self.bottleneck(x)``.
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
            self.decoder_network = keras.Model(
                decoder_input, self.make_decoder(decoder_input), name="decoder_network"
            )
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
        code = self.encoder(inputs, training=training)
        return self.decoder_network(code, training=training)

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
                ``predict`` warn once, in one line saying why, and go on without it. ``False`` turns it off, and
                so does the environment variable ``TFAE_XLA=0`` for every model (Keras' choice then applies).
            **kwargs: the other ``keras.Model.compile`` arguments.
        """
        likelihood, keras_loss = self._split_loss(loss)
        if likelihood is not None or keras_loss is not None:
            self._set_likelihood(likelihood)
        if self.likelihood is None and keras_loss is None:
            raise ValueError(
                "Autoencoder.compile needs a `loss`: a likelihood ('bernoulli' for data in [0, 1], 'gaussian' "
                "for real values) or a Keras loss such as 'mse'."
            )
        distributed = in_strategy_scope() or creation_strategy(self) is not None
        if steps_per_execution is None:
            steps_per_execution = 1 if distributed else DEFAULT_STEPS_PER_EXECUTION
        by_default = jit_compile == "auto" and keras.backend.backend() == "tensorflow"
        if by_default:
            jit_compile = self._xla_by_default(distributed, bool(kwargs.get("run_eagerly")))
        # Whether the XLA setting is tfae's own choice, which fit may still revise (a plain bool: Keras tracks none).
        self.xla_chosen_by_tfae = by_default
        super().compile(
            optimizer=optimizer,
            loss=keras_loss,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            **kwargs,
        )

    def _xla_by_default(self, distributed: bool, run_eagerly: bool) -> bool:
        """tfae's ``jit_compile="auto"`` on TensorFlow: XLA on, unless something here rules it out."""
        if distributed or run_eagerly or os.environ.get("TFAE_XLA", "").strip().lower() in ("0", "false", "no", "off"):
            return False
        if any(not getattr(layer, "supports_jit", True) for layer in all_layers(self)):
            return False
        return not op_determinism_enabled()

    def _settle_default_xla(self) -> None:
        """Once the layers exist: tfae's default leaves XLA off for convolutions on a CPU, where it is slower.

        XLA's CPU convolutions trained the convolutional VAE of docs/benchmarks.md 2.4 times slower than
        TensorFlow's own kernels; with a GPU, or without convolutions, XLA stays on.
        """
        if not getattr(self, "xla_chosen_by_tfae", False) or not getattr(self, "jit_compile", False):
            return
        if any(isinstance(layer, _CONVOLUTIONS) for layer in all_layers(self)) and not _has_gpu():
            self.jit_compile = False
            self.train_function = self.test_function = self.predict_function = None

    def _without_xla_if_it_fails(self, method: str, run: Any) -> Any:
        """Runs ``run()``; if XLA cannot compile the model before any step is taken, warns and runs it without XLA."""
        self._settle_default_xla()
        try:
            return run()
        except Exception as error:
            compiled_with_xla = bool(getattr(self, "jit_compile", False))
            if not compiled_with_xla or not _is_xla_compilation_error(error) or int(self.optimizer.iterations) > 0:
                raise
            reason = " ".join(str(error).split())[:300]
            warnings.warn(
                f"XLA could not compile this model, so {method} goes on without it (compile with "
                f"jit_compile=False to skip the attempt): {reason}",
                stacklevel=3,
            )
            self.jit_compile = False
            self.train_function = self.test_function = self.predict_function = None
            return run()

    def compile_from_config(self, config: dict) -> None:
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
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
            registry = get_registry()
            try:
                return _resolve_likelihood(registry.get("likelihood", loss).name), None
            except ValueError as tfae_error:
                try:
                    keras.losses.get(loss)
                except ValueError:
                    raise ValueError(f"{tfae_error} Keras has no loss named {loss!r} either.") from None
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
        """The loss of a batch: the likelihood's negative log-likelihood (or the Keras loss) plus the regularizers'.

        Called by ``fit`` and ``evaluate`` with ``y_pred = model(x)``; called on its own, it computes
        ``y_pred`` when it is not given. Also updates the logged ``reconstruction_loss``,
        ``regularization_loss`` and ``beta``.

        Args:
            x: the inputs.
            y: the targets; ``None`` reconstructs ``x``.
            y_pred: the model's output for ``x``, the likelihood's parameters.
            sample_weight: optional weights of the samples.
            training: whether the loss is for a train step.

        Returns:
            A float32 scalar: with a likelihood in nats and ``beta = 1``, the negative ELBO per sample.
        """
        if y_pred is None:
            with sampled_codes():
                y_pred = self(x, training=training)
        replicas = replicas_in_sync()
        targets = x if y is None else y
        if self.likelihood is not None:
            per_sample = self.likelihood.negative_log_likelihood(targets, y_pred)
            if sample_weight is not None:
                per_sample = per_sample * ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
            reconstruction = ops.mean(per_sample)
        else:
            # Keras' compiled loss is already divided by the number of replicas; undo it to log the true value.
            compiled = compiled_loss(self, targets, y_pred, sample_weight)
            reconstruction = ops.cast(compiled, "float32") * replicas
        regularization, objectives = self._regularization(self.losses, ops.shape(targets)[0])
        # Weighted by batch size, as Keras weighs `loss`, so that the logged components add up to it.
        batch_size = ops.shape(targets)[0]
        self.reconstruction_loss_tracker.update_state(reconstruction, sample_weight=batch_size)
        self.regularization_loss_tracker.update_state(regularization, sample_weight=batch_size)
        for index, tracker in zip(self._varying_betas, self.beta_trackers):
            beta = self.bottleneck.regularizers[index].current_beta(training=False)
            tracker.update_state(beta, sample_weight=batch_size)
        self.bottleneck.update_metrics()
        # Under tf.distribute each replica sees part of the global batch and the gradients are summed, so
        # each replica returns its share; Keras multiplies it back for the logged `loss`.
        return (reconstruction + regularization + objectives) / replicas

    def _regularization(self, losses: list[Any], batch_size: Any) -> tuple[Any, Any]:
        """The sum of the penalties among the model's ``losses``, and the regularizers' objectives as a zero.

        The bottleneck's own losses start with its regularizers' (``add_regularization``), each logged by its
        tracker. An objective trains the regularizer's weights: it adds its gradient to the loss, not its value.
        """
        own = losses_added_by(self.bottleneck, losses)
        if len(own) < len(self.regularizer_trackers):
            raise ValueError(
                f"The bottleneck {type(self.bottleneck).__name__} has the regularizers "
                f"{', '.join(self.bottleneck.regularizer_names)}, but its call added {len(own)} losses, not the "
                f"{len(self.regularizer_trackers)} they give: pass the posterior to `add_regularization` in `call`, "
                "before any loss of the bottleneck's own."
            )
        regularization = ops.zeros((), dtype="float32")
        objectives = ops.zeros((), dtype="float32")
        for tracker, objective, loss in zip(self.regularizer_trackers, self._objective_trackers, own):
            loss = ops.sum(ops.cast(loss, "float32"))
            tracker.update_state(loss, sample_weight=batch_size)
            if objective:
                objectives = objectives + (loss - ops.stop_gradient(loss))
            else:
                regularization = regularization + loss
        terms = own[: len(self.regularizer_trackers)]
        for loss in losses:
            if all(loss is not term for term in terms):
                regularization = regularization + ops.sum(ops.cast(loss, "float32"))
        return regularization, objectives

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
        """Keras' compiled metrics, given the targets (``x`` when ``y`` is ``None``) and the prediction in data space."""
        targets = x if y is None else y
        prediction = y_pred if self.likelihood is None else self.likelihood(y_pred)
        return super().compute_metrics(x, targets, prediction, sample_weight)

    # Keras cannot average scalar logs across several workers (tensorflow/tensorflow#72388); see multi_worker_logs.
    def train_step(self, *args: Any, **kwargs: Any) -> Any:
        return multi_worker_logs(super().train_step(*args, **kwargs))

    def test_step(self, *args: Any, **kwargs: Any) -> Any:
        """Keras' test step, with sampled codes: ``evaluate`` and ``val_loss`` give the negative ELBO, a bound."""
        with sampled_codes():
            return multi_worker_logs(super().test_step(*args, **kwargs))

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
        """
        self._check_samples(x, "fit")
        self._check_even_split(x, kwargs.get("batch_size"), "fit")
        shape = getattr(x, "shape", None)
        if not self.built and shape is not None and len(shape) > 1:
            # Built now, not by the first step, so that the weights training starts from can be kept; inside
            # the tf.distribute strategy the model was made under, as Keras' fit would build it.
            strategy = creation_strategy(self)
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                self.build((None, *tuple(shape)[1:]))
        callbacks = list(callbacks or [])
        for scheduler in self.schedulers:
            if scheduler.unit == "epoch" and all(scheduler is not callback for callback in callbacks):
                callbacks.append(scheduler)
        monitor = None
        if stop_on_divergence and not any(isinstance(callback, DivergenceMonitor) for callback in callbacks):
            monitor = DivergenceMonitor()
            callbacks.append(monitor)
        history = self._without_xla_if_it_fails("fit", lambda: super(Autoencoder, self).fit(x, *args, callbacks=callbacks, **kwargs))
        if monitor is not None and monitor.found is not None:
            restored = monitor.restore(self)
            raise DivergenceError(self._divergence_message(monitor, x, restored), history=history)
        return history

    def _divergence_message(self, monitor: DivergenceMonitor, x: Any, restored: bool) -> str:
        rate = getattr(self.optimizer, "learning_rate", None)
        learning_rate = "unknown" if rate is None else f"{float(ops.convert_to_numpy(rate)):g}"
        low, high = (float(x.min()), float(x.max())) if hasattr(x, "min") and hasattr(x, "max") else (None, None)
        causes = likely_causes(monitor, learning_rate, "the data", low, high)
        if not restored:
            kept = "The model's weights are those of the failed step: no finite ones were kept."
        elif monitor.finite_epochs:
            kept = f"The model holds the weights after epoch {monitor.finite_epochs}, the last with finite losses."
        else:
            kept = "The model holds the weights training started from (no epoch finished with finite losses)."
        return (
            f"{monitor.describe()}, and training stopped. Possible causes, likeliest first: {'; '.join(causes)}. "
            f"{kept} Pass stop_on_divergence=False to fit to train on regardless."
        )

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        """``keras.Model.predict``: the reconstruction in data space, after checking the samples' shape."""
        self._check_samples(x, "predict")
        self._check_even_split(x, kwargs.get("batch_size"), "predict")
        return self._without_xla_if_it_fails("predict", lambda: super(Autoencoder, self).predict(x, *args, **kwargs))

    def evaluate(self, x: Any = None, *args: Any, **kwargs: Any) -> Any:
        """``keras.Model.evaluate``, after checking the samples' shape."""
        self._check_samples(x, "evaluate")
        self._check_even_split(x, kwargs.get("batch_size"), "evaluate")
        return self._without_xla_if_it_fails("evaluate", lambda: super(Autoencoder, self).evaluate(x, *args, **kwargs))

    def _check_even_split(self, x: Any, batch_size: int | None, method: str) -> None:
        """Under a Keras distribution (JAX's data parallelism), refuses batches that do not split over the devices."""
        shape = getattr(x, "shape", None)
        if shape is None or len(shape) == 0:
            return
        problem = uneven_batches(int(shape[0]), int(batch_size or 32), distribution_devices())
        if problem is not None:
            raise ValueError(f"{method} under keras.distribution.DataParallel: {problem}.")

    def _check_samples(self, x: Any, method: str) -> None:
        """Refuses an array with no samples, or samples of another shape than the model was built for."""
        shape = getattr(x, "shape", None)
        if shape is None or len(shape) == 0:
            return
        shape = tuple(shape)
        if shape[0] == 0:
            raise ValueError(f"{method} needs at least one sample. Received: an array of shape {shape}")
        encoder = getattr(self, "encoder", None)
        if encoder is None:
            return
        expected = tuple(encoder.input_shape[1:])
        fits = len(shape) == len(expected) + 1 and all(
            size is None or size == given for size, given in zip(expected, shape[1:])
        )
        if not fits:
            raise ValueError(
                f"This model takes samples of shape {expected} (batches of shape (batch_size, {', '.join(map(str, expected))})); "
                f"{method} received samples of shape {shape[1:]} (an array of shape {shape})."
            )

    def sample(self, n: int, seed: int | None = None) -> Any:
        """Draws ``n`` codes from the bottleneck's prior and returns their decodings in data space (NumPy)."""
        codes = self.bottleneck.sample_prior(n, seed=seed)
        return self.decoder.predict(codes, verbose=0)

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
