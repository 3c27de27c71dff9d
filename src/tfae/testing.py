"""Contract checks for plugin authors: call them from your own tests to show a component works with tfae.

Each check builds the component with ``factory`` (a class, or any callable returning a new instance), runs it
through what tfae will do with it, and raises ``AssertionError`` saying which part of the contract failed.
They need no test framework; with pytest::

    from tfae.testing import check_bottleneck, check_regularizer, check_scheduler

    def test_my_bottleneck_fulfils_the_contract():
        check_bottleneck(lambda: MyBottleneck(latent_dim=3))

    def test_my_regularizer_fulfils_the_contract():
        check_regularizer(MyRegularizer)

    def test_my_schedule_fulfils_the_contract():
        check_scheduler(lambda: MySchedule(duration=4))

``check_likelihood`` does the same for a reconstruction likelihood, and ``gradients`` computes a model's
gradients on any backend, for a plugin's own tests of its maths.

tfae's own built-ins pass the same checks (tests/test_contract_checks.py). The checks train tiny models
for an epoch or two, so each takes a few seconds. They compute gradients with the TensorFlow or JAX backend,
and the component must be registered (installed, or registered with ``tfae.plugins.register_plugin``):
saved models and configs name it by its registered name.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from tfae.bottlenecks.base import BaseBottleneck
from tfae.likelihoods.base import BaseLikelihood
from tfae.models import Autoencoder, load_model
from tfae.plugins import get_registry
from tfae.regularizers.base import BaseRegularizer
from tfae.schedulers.base import UNITS, BaseScheduler
from tfae.serialization import component_spec

SAMPLES = 16
BATCH_SIZE = 8
TOLERANCE = 1e-5


def check_bottleneck(factory: Callable[[], BaseBottleneck], input_shape: tuple[int, ...] = (8, 6)) -> None:
    """Checks that the bottlenecks ``factory()`` builds fulfil tfae's bottleneck contract.

    - it is a ``BaseBottleneck``, and its code has shape ``(batch, latent_dim)`` (also symbolically and by
      ``compute_output_shape``), finite, while training and at inference;
    - gradients reach every weight of an encoder layer before it, while training;
    - ``get_config`` is JSON and rebuilds an equal layer with ``from_config``, which computes the same code
      from the same weights; its registered name resolves back to its class;
    - an ``Autoencoder`` with it trains, predicts, draws from its prior (if it has one), and saves to
      ``.keras`` and reloads in the same state, giving the same predictions.

    Args:
        factory: callable with no arguments returning a new bottleneck.
        input_shape: the encoder features' shape, batch first: ``(batch, features)`` or ``(batch, h, w, c)``.

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    bottleneck = _make(factory, BaseBottleneck, "bottleneck")
    what = type(bottleneck).__name__
    inputs = _random(input_shape, seed=0)
    latent_dim = bottleneck.latent_dim
    expected = (input_shape[0], latent_dim)
    for training in (False, True):
        code = _numpy(bottleneck(inputs, training=training))
        _expect(
            code.shape == expected, what, f"its code has shape {code.shape}, expected {expected} (training={training})"
        )
        _expect_finite(code, what, f"its code (training={training})")
    declared = tuple(bottleneck.compute_output_shape(input_shape))
    _expect(declared == expected, what, f"compute_output_shape({input_shape}) is {declared}, expected {expected}")
    symbolic = tuple(factory()(keras.Input(shape=input_shape[1:])).shape)
    _expect(symbolic == (None, latent_dim), what, f"on a symbolic input its code has shape {symbolic}")

    _check_bottleneck_gradients(factory, input_shape, what)
    _check_layer_config(bottleneck, inputs, "bottleneck", what)

    def build_model() -> Autoencoder:
        return Autoencoder(bottleneck=factory())

    _check_in_autoencoder(build_model, _unit_data(input_shape), what, sample=True)


def check_regularizer(
    factory: Callable[[], BaseRegularizer],
    parameter_shapes: Sequence[Sequence[int]] | None = None,
    bottleneck: str | dict[str, Any] | None = None,
) -> None:
    """Checks that the regularizers ``factory()`` builds fulfil tfae's regularizer contract.

    - it is a ``BaseRegularizer``; ``calc`` gives one finite float32 value per sample, and calling it gives
      ``beta * mean(calc(...))`` whether beta is a number or a scheduler;
    - ``calc`` has finite gradients, not all zero, with respect to the parameters;
    - ``get_config`` is JSON and ``from_config`` rebuilds an equal regularizer; its registered name resolves
      back to its class;
    - an ``Autoencoder`` whose bottleneck uses it trains, and saves and reloads with it.

    Args:
        factory: callable with no arguments returning a new regularizer.
        parameter_shapes: the shape of each distribution parameter ``calc`` takes, batch first. Defaults
            to ``(8, 3)`` for each positional parameter of ``calc`` without a default.
        bottleneck: the bottleneck to regularise in the ``Autoencoder`` check, a name or dict without
            ``regularizer``. Defaults to ``"vanilla"`` for one parameter and ``"gaussian"`` for two, with
            ``latent_dim`` the parameters' last dimension.

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    regularizer = _make(factory, BaseRegularizer, "regularizer")
    what = type(regularizer).__name__
    if parameter_shapes is None:
        parameter_shapes = [(8, 3)] * _required_positional(regularizer.calc)
    parameter_shapes = [tuple(shape) for shape in parameter_shapes]
    parameters = [_random(shape, seed=index) for index, shape in enumerate(parameter_shapes)]
    batch = parameter_shapes[0][0]

    per_sample = regularizer.calc(*[ops.convert_to_tensor(p) for p in parameters])
    _expect(str(ops.dtype(per_sample)) == "float32", what, f"calc returns {ops.dtype(per_sample)}, expected float32")
    per_sample = _numpy(per_sample)
    _expect(per_sample.shape == (batch,), what, f"calc returns shape {per_sample.shape}, expected ({batch},)")
    _expect_finite(per_sample, what, "calc")
    _check_penalty(regularizer, parameters, per_sample, what)
    schedule = get_registry().resolve("scheduler", {"name": "dasr", "start_value": 0.0, "end_value": 1.0, "attack": 2})
    scheduled = _rebuild(regularizer, what, beta=schedule)
    _check_penalty(scheduled, parameters, per_sample, f"{what} with beta={schedule!r}")

    gradients = _gradients_of_inputs(lambda *tensors: ops.sum(regularizer.calc(*tensors)), parameters)
    for index, gradient in enumerate(gradients):
        _expect_finite(gradient, what, f"the gradient of calc with respect to parameter {index}")
    _expect(any(np.any(g != 0) for g in gradients), what, "calc's gradient is zero for every parameter")

    config = _check_json(regularizer.get_config(), what)
    rebuilt = type(regularizer).from_config(config)
    _expect(rebuilt.get_config() == config, what, f"from_config(get_config()) has config {rebuilt.get_config()}")
    _check_registered("regularizer", regularizer, what)

    if bottleneck is None:
        defaults = {1: "vanilla", 2: "gaussian"}
        _expect(
            len(parameters) in defaults,
            what,
            f"calc takes {len(parameters)} parameters: pass `bottleneck=` to name a bottleneck that gives them",
        )
        bottleneck = {"name": defaults[len(parameters)], "latent_dim": parameter_shapes[0][-1]}
    if isinstance(bottleneck, str):
        bottleneck = {"name": bottleneck, "latent_dim": parameter_shapes[0][-1]}

    def build_model() -> Autoencoder:
        return Autoencoder(bottleneck={**bottleneck, "regularizer": factory()})

    _check_in_autoencoder(build_model, _unit_data((BATCH_SIZE, 6)), what)


def check_scheduler(factory: Callable[[], BaseScheduler]) -> None:
    """Checks that the schedules ``factory()`` builds fulfil tfae's schedule contract.

    - it is a ``BaseScheduler`` with ``unit`` ``"epoch"`` or ``"step"`` and an integer ``duration >= 0``;
    - ``calc(n)`` is a finite float32 for an int and for an integer tensor (elementwise the same), equals
      ``value_at(n)``, and stays constant from ``duration`` on; ``value`` starts at ``initial_value``;
    - ``get_config`` is JSON and ``from_config`` rebuilds a schedule with the same values; its registered
      name resolves back to its class;
    - as the beta of a regularizer inside ``Autoencoder.fit``, counted by epoch and by step, the logged
      ``beta`` is the schedule's value for each epoch (or the mean over each epoch's steps), and a saved
      model reloads with the schedule in the same state.

    Args:
        factory: callable with no arguments returning a new schedule.

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    scheduler = _make(factory, BaseScheduler, "scheduler")
    what = type(scheduler).__name__
    _expect(scheduler.unit in UNITS, what, f"its unit is {scheduler.unit!r}, expected one of {UNITS}")
    duration = scheduler.duration
    _expect(
        isinstance(duration, int) and not isinstance(duration, bool) and duration >= 0,
        what,
        f"duration is {duration!r}, expected an int >= 0",
    )
    counts = list(range(min(duration, 50) + 3))
    values = []
    for n in counts:
        value = scheduler.calc(n)
        _expect(str(ops.dtype(value)) == "float32", what, f"calc({n}) is {ops.dtype(value)}, expected float32")
        value = float(_numpy(value))
        _expect(math.isfinite(value), what, f"calc({n}) is {value}")
        _expect(
            value == scheduler.value_at(n), what, f"calc({n}) is {value} but value_at({n}) is {scheduler.value_at(n)}"
        )
        values.append(value)
    vectorised = _numpy(scheduler.calc(ops.convert_to_tensor(np.asarray(counts, dtype="int32"))))
    _expect(
        vectorised.shape == (len(counts),) and np.allclose(vectorised, values, rtol=TOLERANCE, atol=0),
        what,
        f"calc of an integer tensor {counts} gives {vectorised.tolist()}, not the values for each int {values}",
    )
    after = [scheduler.value_at(duration + k) for k in (0, 1, 10, 1000)]
    _expect(len(set(after)) == 1, what, f"the value changes after the duration {duration}: {after}")
    _expect(
        scheduler.initial_value == values[0], what, f"initial_value {scheduler.initial_value} != calc(0) {values[0]}"
    )
    start = float(_numpy(factory().value))
    _expect(start == values[0], what, f"a new schedule's `value` is {start}, expected calc(0) = {values[0]}")

    config = _check_json(scheduler.get_config(), what)
    rebuilt = type(scheduler).from_config(config)
    _expect(rebuilt.get_config() == config, what, f"from_config(get_config()) has config {rebuilt.get_config()}")
    rebuilt_values = [rebuilt.value_at(n) for n in counts]
    _expect(rebuilt_values == values, what, f"from_config(get_config()) gives values {rebuilt_values}, not {values}")
    _check_registered("scheduler", scheduler, what)

    for unit in UNITS:
        _check_schedule_in_training(type(scheduler).from_config({**config, "unit": unit}), f"{what} (unit={unit!r})")


def check_likelihood(factory: Callable[[], BaseLikelihood], shape: tuple[int, ...] = (8, 6)) -> None:
    """Checks that the likelihoods ``factory()`` builds fulfil tfae's likelihood contract.

    - it is a ``BaseLikelihood``; calling it maps parameters to data space with their shape;
      ``negative_log_likelihood`` gives one finite float32 value per sample, with finite gradients;
    - ``get_config`` is JSON, rebuilds with ``from_config``, and its registered name resolves back to its class;
    - an ``Autoencoder`` compiled with it trains, and saves and reloads with it.

    Args:
        factory: callable with no arguments returning a new likelihood.
        shape: the data's shape, batch first; the data are in [0, 1].

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    likelihood = _make(factory, BaseLikelihood, "likelihood")
    what = type(likelihood).__name__
    targets = _unit_data(shape)[: shape[0]]
    parameters = _random(shape, seed=1)
    likelihood.build(shape)
    mapped = _numpy(likelihood(parameters))
    _expect(mapped.shape == tuple(shape), what, f"calling it gives shape {mapped.shape}, expected {tuple(shape)}")
    _expect_finite(mapped, what, "its data-space output")
    nll = likelihood.negative_log_likelihood(targets, ops.convert_to_tensor(parameters))
    _expect(str(ops.dtype(nll)) == "float32", what, f"negative_log_likelihood is {ops.dtype(nll)}, expected float32")
    nll = _numpy(nll)
    _expect(nll.shape == (shape[0],), what, f"negative_log_likelihood has shape {nll.shape}, expected ({shape[0]},)")
    _expect_finite(nll, what, "negative_log_likelihood")
    gradient = _gradients_of_inputs(lambda p: ops.sum(likelihood.negative_log_likelihood(targets, p)), [parameters])
    _expect_finite(gradient[0], what, "the gradient of negative_log_likelihood")

    config = _check_json(likelihood.get_config(), what)
    type(likelihood).from_config(config)
    _check_registered("likelihood", likelihood, what)

    def build_model() -> Autoencoder:
        return Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})

    _check_in_autoencoder(build_model, _unit_data(shape), what, loss=factory())


def _make(factory: Callable[[], Any], base: type, kind: str) -> Any:
    component = factory()
    _expect(
        isinstance(component, base),
        getattr(factory, "__name__", repr(factory)),
        f"the factory returned {component!r}, which is not a {base.__name__} (a tfae {kind} must subclass it)",
    )
    return component


def _expect(condition: object, what: str, problem: str) -> None:
    if not condition:
        raise AssertionError(f"{what} breaks the tfae contract: {problem}.")


def _expect_finite(values: Any, what: str, name: str) -> None:
    values = np.asarray(values)
    _expect(np.all(np.isfinite(values)), what, f"{name} has non-finite values: {values.ravel()[:8].tolist()}")


def _numpy(tensor: Any) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(tensor))


def _random(shape: Sequence[int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _unit_data(input_shape: Sequence[int]) -> np.ndarray:
    """``SAMPLES`` samples of ``input_shape[1:]`` in [0, 1], a target any likelihood accepts."""
    return np.random.default_rng(2).random((SAMPLES, *input_shape[1:])).astype("float32")


def _required_positional(function: Callable[..., Any]) -> int:
    parameters = inspect.signature(function).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in kinds and p.default is p.empty)


def _check_json(config: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(config))
    except TypeError as error:
        raise AssertionError(f"{what} breaks the tfae contract: get_config() is not JSON ({error}).") from None


def _rebuild(component: Any, what: str, **changes: Any) -> Any:
    try:
        return type(component).from_config({**component.get_config(), **changes})
    except Exception as error:
        raise AssertionError(
            f"{what} breaks the tfae contract: from_config(get_config() | {changes!r}) raised {error!r}."
        ) from error


def _check_registered(kind: str, component: Any, what: str) -> None:
    """The component's registered name builds the same class with the same config: configs and saves name it so."""
    try:
        spec = component_spec(kind, component)
    except ValueError as error:
        raise AssertionError(f"{what} breaks the tfae contract: {error}") from None
    rebuilt = get_registry().resolve(kind, spec)
    _expect(type(rebuilt) is type(component), what, f"its registered name {spec['name']!r} builds {type(rebuilt)}")
    _expect(
        component_spec(kind, rebuilt) == spec,
        what,
        f"its specification {spec} builds one whose specification is {component_spec(kind, rebuilt)}",
    )


def _check_penalty(regularizer: BaseRegularizer, parameters: Sequence[Any], per_sample: np.ndarray, what: str) -> None:
    beta = float(_numpy(regularizer.current_beta(training=False)))
    penalty = _numpy(regularizer(*parameters))
    mean = float(np.mean(per_sample.astype("float64")))
    _expect(penalty.shape == (), what, f"calling it returns shape {penalty.shape}, expected a scalar")
    _expect(
        math.isclose(float(penalty), beta * mean, rel_tol=TOLERANCE, abs_tol=TOLERANCE),
        what,
        f"calling it returns {float(penalty)}, expected beta * mean(calc(...)) = {beta} * {mean} = {beta * mean}",
    )


def _check_bottleneck_gradients(factory: Callable[[], BaseBottleneck], input_shape: Sequence[int], what: str) -> None:
    """The gradient of a random linear function of the code, plus the layer's losses, reaches an encoder layer."""
    inputs = keras.Input(shape=input_shape[1:])
    encoder_layer = keras.layers.Dense(input_shape[-1], name="encoder")
    bottleneck = factory()
    model = keras.Model(inputs, bottleneck(encoder_layer(inputs)))
    weights = ops.convert_to_tensor(_random((1, bottleneck.latent_dim), seed=3))

    def loss(code: Any, losses: list[Any]) -> Any:
        total = ops.sum(ops.cast(code, "float32") * weights)
        for extra in losses:
            total = total + ops.sum(ops.cast(extra, "float32"))
        return total

    found = gradients(model, _random(input_shape, seed=4), loss, encoder_layer.trainable_variables)
    for variable, gradient in zip(encoder_layer.trainable_variables, found):
        name = f"the encoder's {variable.name}"
        if gradient is None:
            raise AssertionError(f"{what} breaks the tfae contract: no gradient reaches {name} while training.")
        _expect_finite(gradient, what, f"the gradient of {name}")
        zero = int(np.sum(gradient == 0))
        _expect(zero == 0, what, f"{zero} of the {gradient.size} values of {name} get a zero gradient while training")


def _check_layer_config(layer: keras.layers.Layer, inputs: Any, kind: str, what: str) -> None:
    config = _check_json(layer.get_config(), what)
    rebuilt = type(layer).from_config(config)
    _expect(rebuilt.get_config() == config, what, f"from_config(get_config()) has config {rebuilt.get_config()}")
    rebuilt(inputs)
    rebuilt.set_weights(layer.get_weights())
    expected, actual = _numpy(layer(inputs, training=False)), _numpy(rebuilt(inputs, training=False))
    _expect(
        np.allclose(expected, actual, atol=TOLERANCE),
        what,
        "from_config(get_config()) with the same weights computes a different code at inference",
    )
    _check_registered(kind, layer, what)


def _check_in_autoencoder(
    build_model: Callable[[], Autoencoder], data: np.ndarray, what: str, sample: bool = False, loss: Any = "bernoulli"
) -> dict[str, Any]:
    """Trains a small Autoencoder, saves it to ``.keras``, reloads it, and compares state and predictions."""
    model = build_model()
    model.compile(optimizer="adam", loss=loss)
    history = model.fit(data, epochs=1, batch_size=BATCH_SIZE, verbose=0).history
    for name, values in history.items():
        _expect_finite(values, what, f"the logged {name!r} of an Autoencoder trained with it")
    predictions = model.predict(data, verbose=0)
    _expect(
        predictions.shape == data.shape, what, f"an Autoencoder predicts shape {predictions.shape}, not {data.shape}"
    )
    if sample:
        try:
            samples = model.sample(3, seed=0)
        except NotImplementedError:
            samples = None
        if samples is not None:
            expected = (3, *data.shape[1:])
            _expect(samples.shape == expected, what, f"Autoencoder.sample(3) has shape {samples.shape}, not {expected}")
            _expect_finite(samples, what, "Autoencoder.sample(3)")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        try:
            loaded = load_model(path)
        except Exception as error:
            raise AssertionError(
                f"{what} breaks the tfae contract: a saved Autoencoder fails to load: {error!r}"
            ) from error
    for part, kind in (("bottleneck", "bottleneck"), ("likelihood", "likelihood")):
        original, restored = getattr(model, part), getattr(loaded, part)
        _expect(
            type(restored) is type(original), what, f"the reloaded model's {part} is {restored!r}, not {original!r}"
        )
        if original is not None:
            saved, reloaded = component_spec(kind, original), component_spec(kind, restored)
            _expect(saved == reloaded, what, f"the reloaded {part} is {reloaded}, but the saved one was {saved}")
    # Weights, not variables: random-number generator states are not saved.
    _expect(len(model.weights) == len(loaded.weights), what, "the reloaded model has other weights than the saved one")
    for weight, reloaded in zip(model.weights, loaded.weights):
        same = np.array_equal(_numpy(weight), _numpy(reloaded))
        _expect(same, what, f"the reloaded model's {reloaded.path} differs from the saved {weight.path}")
    reloaded_predictions = loaded.predict(data, verbose=0)
    _expect(
        np.allclose(predictions, reloaded_predictions, atol=TOLERANCE),
        what,
        "the reloaded Autoencoder predicts differently from the saved one",
    )
    loaded.fit(data, epochs=1, batch_size=BATCH_SIZE, verbose=0)
    return history


def _check_schedule_in_training(scheduler: BaseScheduler, what: str) -> None:
    epochs, steps = 3, SAMPLES // BATCH_SIZE
    regularizer = get_registry().resolve("regularizer", {"name": "kld", "beta": scheduler})
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": regularizer})
    model.compile(optimizer="adam", loss="bernoulli")
    history = model.fit(_unit_data((BATCH_SIZE, 6)), epochs=epochs, batch_size=BATCH_SIZE, verbose=0).history
    _expect("beta" in history, what, f"an Autoencoder trained with it logs no 'beta': {sorted(history)}")
    if scheduler.unit == "epoch":
        expected = [scheduler.value_at(epoch) for epoch in range(epochs)]
    else:
        expected = [
            float(np.mean([scheduler.value_at(epoch * steps + step) for step in range(steps)]))
            for epoch in range(epochs)
        ]
    _expect(
        np.allclose(history["beta"], expected, atol=TOLERANCE),
        what,
        f"the beta logged in training is {history['beta']}, expected {expected}",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = load_model(path)
    regularizer = loaded.bottleneck.regularizer
    restored = None if regularizer is None else regularizer.scheduler
    if restored is None or type(restored) is not type(scheduler):
        raise AssertionError(f"{what} breaks the tfae contract: the reloaded model's schedule is {restored!r}.")
    _expect(restored.get_config() == scheduler.get_config(), what, f"the reloaded schedule is {restored!r}")
    for original, reloaded in zip(scheduler.variables, restored.variables):
        _expect(
            np.array_equal(_numpy(original), _numpy(reloaded)),
            what,
            f"the reloaded schedule's {reloaded.name} is {_numpy(reloaded)}, saved as {_numpy(original)}",
        )


def gradients(
    model: keras.layers.Layer, inputs: Any, loss: Callable[[Any, list[Any]], Any], variables: Iterable[keras.Variable]
) -> list[np.ndarray | None]:
    """Returns the gradients of ``loss`` for one training call of ``model``, on the TensorFlow or JAX backend.

    Args:
        model: a built Keras model (or layer).
        inputs: a batch (NumPy) to call it on, with ``training=True``.
        loss: ``loss(outputs, losses)`` returns a scalar; ``losses`` are those the call added (``add_loss``).
        variables: the model's variables to differentiate with respect to.

    Returns:
        One NumPy array per variable (``None`` where no gradient reaches it, with TensorFlow).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            value = loss(outputs, model.losses)
        return [None if g is None else _numpy(g) for g in tape.gradient(value, list(variables))]
    if backend == "jax":
        import jax

        non_trainable = [v.value for v in model.non_trainable_variables]

        def compute(trainable: list[Any]) -> Any:
            outputs, _, losses = model.stateless_call(
                trainable, non_trainable, inputs, training=True, return_losses=True
            )
            return loss(outputs, losses)

        gradients = jax.grad(compute)([v.value for v in model.trainable_variables])
        position = {id(v): index for index, v in enumerate(model.trainable_variables)}
        return [np.asarray(gradients[position[id(v)]]) for v in variables]
    raise AssertionError(f"tfae.testing computes gradients with the tensorflow or jax backend, not {backend!r}.")


def _gradients_of_inputs(function: Callable[..., Any], inputs: Sequence[Any]) -> list[np.ndarray]:
    """Gradients of the scalar ``function(*tensors)`` with respect to each of ``inputs`` (NumPy arrays)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(value) for value in inputs]
        with tf.GradientTape() as tape:
            for tensor in tensors:
                tape.watch(tensor)
            value = function(*tensors)
        return [_numpy(g) if g is not None else np.zeros_like(x) for g, x in zip(tape.gradient(value, tensors), inputs)]
    if backend == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(lambda args: function(*args))([jax.numpy.asarray(x) for x in inputs])]
    raise AssertionError(f"tfae.testing computes gradients with the tensorflow or jax backend, not {backend!r}.")
