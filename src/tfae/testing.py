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

``check_likelihood``, ``check_metric`` and ``check_dataset`` do the same for a reconstruction likelihood, an
evaluation metric and a dataset, and ``gradients`` computes a model's
gradients on any backend, for a plugin's own tests of its maths.

``check_regularizer`` calls the regularizer on the posterior a real bottleneck gives, and checks what tfae
relies on beyond shapes: that a per-sample penalty gives each sample a value that does not depend on the
rest of the batch; that all its randomness comes from its tracked seed generators (a call repeats exactly
with their states put back, and moves on without); that weights of its own are trained by its objective
alone, never by its penalty; and that ``fit`` moves its generators on, trains its weights and logs each
penalty and objective.

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
from tfae.bottlenecks.gaussian import GaussianBottleneck
from tfae.likelihoods.base import BaseLikelihood
from tfae.metrics.base import BaseMetric
from tfae.models import Autoencoder, load_model
from tfae.plugins import get_registry
from tfae.posterior import Posterior
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

    _check_in_autoencoder(Autoencoder(bottleneck=factory()), _unit_data(input_shape), what, sample=True)


def check_regularizer(
    factory: Callable[[], BaseRegularizer],
    parameter_shapes: Sequence[Sequence[int]] | None = None,
    bottleneck: str | dict[str, Any] | None = None,
) -> None:
    """Checks that the regularizers ``factory()`` builds fulfil tfae's regularizer contract.

    The regularizer is called on a real ``Posterior``: the one the bottleneck it regularises gives for random
    features while training.

    - it is a ``BaseRegularizer``, and every ``SeedGenerator``, Keras layer and scheduler it holds is one
      that ``seed_generators``, ``layers`` and ``schedulers`` list (one inside a dict would be left out of
      the model's state);
    - its penalty (``calc``, or ``penalty``) is a finite float32 of shape ``(batch,)``, one value per
      sample, or ``()``, one for the batch; calling the regularizer gives ``beta`` times its batch mean
      (the penalty itself when ``weighs_by_beta`` is ``False``), for a float beta and for a scheduler;
    - a per-sample penalty without randomness gives each sample the same value whatever the rest of the
      batch: the penalty of the first half of a batch is the first half of the batch's penalty;
    - with its generators' states (and its schedules) put back, a training call's penalty and objective come
      out exactly the same, so all its randomness comes from its ``seed_generators``; with generators, two
      calls in a row differ and each generator's state moves on;
    - the penalty has finite gradients, not all zero, with respect to the parameters and code; through the
      bottleneck, its gradient reaches the encoder's weights but not the regularizer's own;
    - with weights of its own (``layers``), it has an ``objective``: a finite float32 scalar whose gradient,
      through the bottleneck, reaches each of those weights and not the encoder's;
    - ``get_config`` is JSON and ``from_config`` rebuilds an equal regularizer; its registered name resolves
      back to its class;
    - an ``Autoencoder`` whose bottleneck uses it, alone and in a list with ``"kld"`` (a Gaussian bottleneck)
      or ``"l2"`` (any other), trains; logs ``<name>_loss`` for each regularizer (and
      ``<name>_<objective_name>`` for an objective), a ``regularization_loss`` that is the sum of the
      penalties (unless the bottleneck adds losses of its own) and a ``loss`` that is
      ``reconstruction_loss + regularization_loss``, with no objective in either; moves its seed generators'
      states on and changes its weights in ``fit``; and, in the list, saves and reloads with the same
      weights, predictions and specification, and trains on.

    The check of a per-sample penalty's rows is left out for a regularizer with seed generators: noise
    drawn for half a batch is not half the noise drawn for the batch.

    Args:
        factory: callable with no arguments returning a new regularizer.
        parameter_shapes: the shape of each distribution parameter, batch first: the bottleneck's
            parameters must have them. By default the batch is 8 and the latent dimension 3.
        bottleneck: the bottleneck to regularise, a name or dict without ``regularizer``. Defaults to
            ``"gaussian"`` for a regularizer that implements ``penalty``, and otherwise to ``"vanilla"`` or
            ``"gaussian"`` for a ``calc`` of one or two parameters; ``latent_dim`` defaults to the last
            dimension of the parameter shapes.

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    regularizer = _make(factory, BaseRegularizer, "regularizer")
    what = type(regularizer).__name__
    _check_owned_state(regularizer, what)
    spec = _bottleneck_to_regularise(regularizer, parameter_shapes, bottleneck, what)
    regularised, posterior = _captured_posterior(spec, parameter_shapes, what)
    _prepare(regularizer, posterior, spec, what)
    source = "penalty" if _implements_penalty(regularizer) else "calc"

    penalty = regularizer.penalty(posterior, training=False)
    dtype = keras.backend.standardize_dtype(getattr(penalty, "dtype", type(penalty).__name__))
    _expect(dtype == "float32", what, f"{source} returns {dtype}, expected float32")
    penalty = _numpy(penalty)
    batch = _numpy(posterior.batch_size).item()
    _expect(
        penalty.shape in ((batch,), ()),
        what,
        f"{source} returns shape {penalty.shape}, expected ({batch},), one value per sample, or (), one for the batch",
    )
    _expect_finite(penalty, what, source)
    _check_randomness(regularizer, posterior, what)

    schedule = get_registry().resolve("scheduler", {"name": "dasr", "start_value": 0.5, "end_value": 1.0, "attack": 2})
    for beta in (None, 0.25, schedule):
        weighed = regularizer if beta is None else _rebuild(regularizer, what, beta=beta)
        if beta is not None:
            _prepare(weighed, posterior, spec, what)
        _check_weighing(weighed, posterior, what if beta is None else f"{what} with beta={beta!r}")
    if penalty.shape == (batch,) and not regularizer.seed_generators:
        _check_rows_independent(regularizer, posterior, penalty, what, source)

    count = len(posterior.parameters)
    tensors = [*posterior.parameters] + ([] if posterior.code is None else [posterior.code])

    def summed_penalty(*tensors: Any) -> Any:
        code = tensors[count] if len(tensors) > count else None
        given = Posterior(parameters=tensors[:count], code=code, bottleneck=regularised)
        return ops.sum(ops.cast(regularizer.penalty(given, training=False), "float32"))

    found = _gradients_of_inputs(summed_penalty, [_numpy(tensor) for tensor in tensors])
    names = [f"parameter {index}" for index in range(count)] + ["the code"]
    for name, gradient in zip(names, found):
        _expect_finite(gradient, what, f"the gradient of its {source} with respect to {name}")
    zero = not any(np.any(gradient != 0) for gradient in found)
    _expect(not zero, what, f"its {source}'s gradient is zero for every parameter and the code")
    _check_objective(regularizer, posterior, what)
    _check_gradients_through_bottleneck(factory, spec, what)

    config = _check_json(regularizer.get_config(), what)
    rebuilt = type(regularizer).from_config(config)
    _expect(rebuilt.get_config() == config, what, f"from_config(get_config()) has config {rebuilt.get_config()}")
    _check_registered("regularizer", regularizer, what)

    own_losses = len(regularised.losses) > len(regularised.regularizers)
    partner = "kld" if isinstance(regularised, GaussianBottleneck) else "l2"
    for regularizers in (factory(), [factory(), partner]):
        model = Autoencoder(bottleneck={**spec, "regularizer": regularizers})
        trained = model.bottleneck.regularizers[0]
        generators = [_numpy(generator.state) for generator in trained.seed_generators]
        own = [weight for layer in trained.layers for weight in layer.trainable_weights]
        weights = [_numpy(weight) for weight in own]
        data = _unit_data((BATCH_SIZE, 6))
        # Saved and reloaded in a list, which holds the single case's state and more.
        listed = isinstance(regularizers, list)
        history = _check_in_autoencoder(model, data, what) if listed else _fit(model, data, what)
        _check_training_logs(model, history, what, own_losses)
        for generator, before in zip(trained.seed_generators, generators):
            _expect(
                not np.array_equal(_numpy(generator.state), before),
                what,
                f"the state of its seed generator {generator.name!r} does not move on in Autoencoder.fit: the "
                "model does not track it",
            )
        for weight, before in zip(own, weights):
            _expect(
                not np.array_equal(_numpy(weight), before),
                what,
                f"its weight {weight.path} does not change in Autoencoder.fit: its objective does not train it",
            )


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

    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    _check_in_autoencoder(model, _unit_data(shape), what, loss=factory())


class _TinyGroundTruth:
    """Data with two known factors that renders samples of chosen factors: ``check_metric``'s ground truth."""

    factor_sizes = (3, 4)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1)

    def render(self, factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors)
        rng = np.random.default_rng(int(factors.sum()))
        scaled = factors / (np.asarray(self.factor_sizes) - 1.0)
        mixed = [scaled.mean(axis=1, keepdims=True), scaled.prod(axis=1, keepdims=True)]
        features = np.concatenate([scaled, 1.0 - scaled, *mixed], axis=1)
        return np.clip(features + 0.05 * rng.normal(size=(len(factors), 6)), 0.0, 1.0).astype("float32")


def check_metric(factory: Callable[[], BaseMetric]) -> None:
    """Checks that the metrics ``factory()`` builds fulfil tfae's metric contract.

    - it is a ``BaseMetric`` whose ``needs`` are among ``tfae.metrics.base.NEEDS``;
    - on a small trained Gaussian VAE, with factors and a ground truth that renders samples, ``compute`` gives a
      float or a dict of floats, finite, and the same twice with the same seed;
    - ``missing`` names each need a model and data without it lack (a deterministic model, no factors, no
      ground truth), and ``tfae.evaluation.evaluate`` refuses the metric there with that message;
    - ``get_config`` is JSON and ``from_config`` rebuilds it; its registered name resolves back to its class.

    Args:
        factory: callable with no arguments returning a new metric (small enough to run in seconds).

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    from tfae.evaluation import evaluate
    from tfae.metrics.base import NEEDS, Evaluation

    metric = _make(factory, BaseMetric, "metric")
    what = type(metric).__name__
    unknown = [need for need in metric.needs if need not in NEEDS]
    _expect(not unknown, what, f"its needs {unknown} are not among {NEEDS}")
    ground_truth = _TinyGroundTruth()
    rng = np.random.default_rng(0)
    factors = ground_truth.sample_factors(64, rng)
    x = ground_truth.render(factors)
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 3, "regularizer": "kld", "seed": 0})
    model.compile(optimizer="adam", loss="bernoulli")
    model.fit(x, epochs=2, batch_size=BATCH_SIZE, verbose=0)

    def computed() -> Any:
        return factory().compute(Evaluation(model, x, factors, ground_truth, samples=4, seed=0))

    value = computed()
    values = value if isinstance(value, dict) else {"": value}
    _expect(values, what, "compute returns an empty dict")
    for key, item in values.items():
        shown = f"compute(...)[{key!r}]" if key else "compute(...)"
        _expect(isinstance(item, (float, int)) and not isinstance(item, bool), what, f"{shown} is {item!r}, not a float")
        _expect(math.isfinite(float(item)), what, f"{shown} is {item}")
    _expect(computed() == value, what, "compute gives another value for the same model, data and seed")

    plain = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 3})
    plain.compile(optimizer="adam", loss="bernoulli")
    plain.fit(x, epochs=1, batch_size=BATCH_SIZE, verbose=0)
    missing = metric.missing(Evaluation(plain, x))
    expected = [need for need in metric.needs if need in ("variational", "factors", "ground_truth")]
    _expect(
        len(missing) >= len(expected),
        what,
        f"it needs {expected}, but on a deterministic model without factors or ground truth `missing` says {missing}",
    )
    if missing:
        try:
            evaluate(plain, x, metrics=[factory()])
        except ValueError as error:
            _expect(missing[0] in str(error), what, f"evaluate refuses it without naming what it needs: {error}")
        else:
            raise AssertionError(f"{what} breaks the tfae contract: evaluate computed it though it lacks {missing}.")

    config = _check_json(metric.get_config(), what)
    rebuilt = type(metric).from_config(config)
    _expect(rebuilt.get_config() == config, what, f"from_config(get_config()) has config {rebuilt.get_config()}")
    _check_registered("metric", metric, what)


def check_dataset(factory: Callable[[], Any], load: bool = True) -> None:
    """Checks that the datasets ``factory()`` builds fulfil tfae's dataset contract.

    - it is a ``tfae.datasets.BaseDataset``; ``get_config`` is JSON, rebuilds an equal dataset with the
      constructor, and its registered name resolves back to its class;
    - with ``load``, ``load()`` returns a ``Dataset`` of float32 finite samples, one per row, with labels of
      shape ``(n,)`` and factors of shape ``(n, num_factors)`` (ints) where it has them, the same on a second
      load; and an ``Autoencoder`` trains an epoch on its first samples. Pass ``load=False`` for a dataset that
      downloads, where a test must not reach the network.

    Args:
        factory: callable with no arguments returning a new dataset (small: a subset, small images).
        load: whether to load it.

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    from tfae.datasets.base import BaseDataset, Dataset

    dataset = _make(factory, BaseDataset, "dataset")
    what = type(dataset).__name__
    config = _check_json(dataset.get_config(), what)
    rebuilt = type(dataset)(**config)
    _expect(rebuilt.get_config() == config, what, f"{what}(**get_config()) has config {rebuilt.get_config()}")
    _check_registered("dataset", dataset, what)
    if not load:
        return
    data = dataset.load()
    _expect(isinstance(data, Dataset), what, f"load() returned {type(data).__name__}, not a tfae.datasets.Dataset")
    x = np.asarray(data.x)
    _expect(x.ndim >= 2 and len(x) > 0, what, f"load() gives samples of shape {x.shape}, not one sample per row")
    _expect(x.dtype == np.float32, what, f"load() gives samples of dtype {x.dtype}, not float32")
    _expect_finite(x, what, "the loaded samples")
    for name, values, rank in (("labels", data.labels, 1), ("factors", data.factors, 2)):
        if values is not None:
            values = np.asarray(values)
            shaped = values.ndim == rank and len(values) == len(x)
            _expect(shaped, what, f"{name} have shape {values.shape} for {len(x)} samples")
            _expect(np.issubdtype(values.dtype, np.integer), what, f"{name} are {values.dtype}, not integers")
    again = dataset.load()
    _expect(np.array_equal(np.asarray(again.x), x), what, "a second load() gives other samples")
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x[:SAMPLES], epochs=1, batch_size=BATCH_SIZE, verbose=0).history
    _expect_finite(history["loss"], what, "the loss of an Autoencoder trained on it")


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


class _PosteriorCapture(BaseRegularizer):
    """Keeps each posterior its bottleneck gives it and adds nothing to the loss: how the checks get a real one."""

    def __init__(self) -> None:
        super().__init__(beta=0.0)
        self.posteriors: list[Posterior] = []

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        self.posteriors.append(posterior)
        return ops.zeros(())


def _implements_penalty(regularizer: BaseRegularizer) -> bool:
    return type(regularizer).penalty is not BaseRegularizer.penalty


def _check_owned_state(regularizer: BaseRegularizer, what: str) -> None:
    """Every seed generator, layer and scheduler the regularizer holds is listed, so that the model tracks it."""
    _expect(
        _implements_penalty(regularizer) or type(regularizer).calc is not BaseRegularizer.calc,
        what,
        "it implements neither `calc(*parameters)` nor `penalty(posterior, training)`",
    )
    listings = (
        (keras.random.SeedGenerator, "keras.random.SeedGenerator", regularizer.seed_generators, "seed_generators"),
        (keras.layers.Layer, "Keras layer", regularizer.layers, "layers"),
        (BaseScheduler, "scheduler", regularizer.schedulers, "schedulers"),
    )
    for path, value in _held(vars(regularizer), "self.", depth=0):
        for kind, described, listed, listing in listings:
            _expect(
                not isinstance(value, kind) or any(value is item for item in listed),
                what,
                f"it holds a {described} at {path} that `{listing}` does not list, so a model would not track, "
                "train or save it: keep it a direct attribute of the regularizer, or in a list attribute",
            )


def _held(values: dict[Any, Any] | Sequence[Any], prefix: str, depth: int) -> Iterable[tuple[str, Any]]:
    """``(path, value)`` of everything in the dicts, lists, tuples and sets among ``values``, a few levels deep."""
    items = values.items() if isinstance(values, dict) else enumerate(values)
    for key, value in items:
        path = f"{prefix}{key}" if depth == 0 else f"{prefix}[{key!r}]"
        yield path, value
        if depth < 4 and isinstance(value, (dict, list, tuple)):
            yield from _held(value, path, depth + 1)
        elif depth < 4 and isinstance(value, (set, frozenset)):
            yield from _held(list(value), path, depth + 1)


def _bottleneck_to_regularise(
    regularizer: BaseRegularizer,
    parameter_shapes: Sequence[Sequence[int]] | None,
    bottleneck: str | dict[str, Any] | None,
    what: str,
) -> dict[str, Any]:
    latent_dim = int(parameter_shapes[0][-1]) if parameter_shapes else 3
    if isinstance(bottleneck, str):
        return {"name": bottleneck, "latent_dim": latent_dim}
    if bottleneck is not None:
        return {"latent_dim": latent_dim, **bottleneck}
    if _implements_penalty(regularizer):
        return {"name": "gaussian", "latent_dim": latent_dim}
    count = len(parameter_shapes) if parameter_shapes else _required_positional(regularizer.calc)
    defaults = {1: "vanilla", 2: "gaussian"}
    _expect(
        count in defaults,
        what,
        f"calc takes {count} parameters: pass `bottleneck=` to name a bottleneck that gives them",
    )
    return {"name": defaults[count], "latent_dim": latent_dim}


def _bottleneck_layer(spec: dict[str, Any], regularizer: BaseRegularizer, what: str) -> BaseBottleneck:
    bottleneck = get_registry().resolve("bottleneck", {**spec, "regularizer": regularizer})
    if not isinstance(bottleneck, BaseBottleneck):
        raise AssertionError(f"{what}: the bottleneck {spec} to regularise is {bottleneck!r}, not a BaseBottleneck.")
    return bottleneck


def _captured_posterior(
    spec: dict[str, Any], parameter_shapes: Sequence[Sequence[int]] | None, what: str
) -> tuple[BaseBottleneck, Posterior]:
    """The bottleneck ``spec``, and the posterior it gives for a batch of random features while training."""
    capture = _PosteriorCapture()
    bottleneck = _bottleneck_layer(spec, capture, what)
    batch = int(parameter_shapes[0][0]) if parameter_shapes else BATCH_SIZE
    bottleneck(_random((batch, 6), seed=0), training=True)
    posterior = capture.posteriors[-1]
    if parameter_shapes is not None:
        shapes = [tuple(parameter.shape) for parameter in posterior.parameters]
        expected = [tuple(shape) for shape in parameter_shapes]
        _expect(
            shapes == expected,
            what,
            f"the bottleneck {spec} gives parameters of shapes {shapes}, not the parameter_shapes {expected}: pass "
            "`bottleneck=` to name one that gives them",
        )
    return bottleneck, posterior


def _prepare(regularizer: BaseRegularizer, posterior: Posterior, spec: dict[str, Any], what: str) -> None:
    """What a bottleneck does with a regularizer when it is made: ``check_bottleneck``, then ``build``."""
    try:
        regularizer.check_bottleneck(posterior.bottleneck)
    except ValueError as error:
        raise AssertionError(
            f"{what} refuses the bottleneck {spec} that check_regularizer regularises: {error} Pass `bottleneck=` "
            "to name one it accepts."
        ) from error
    regularizer.build(posterior.latent_dim)


def _state(regularizer: BaseRegularizer) -> list[tuple[keras.Variable, np.ndarray]]:
    """The regularizer's seed generators' states and schedules' variables, with their values now."""
    variables = [generator.state for generator in regularizer.seed_generators] + regularizer.variables
    return [(variable, _numpy(variable)) for variable in variables]


def _restore(state: list[tuple[keras.Variable, np.ndarray]]) -> None:
    for variable, value in state:
        variable.assign(value)


def _outputs(regularizer: BaseRegularizer, posterior: Posterior) -> list[np.ndarray]:
    """The penalty, and the objective if it has one, of a training call."""
    found = [_numpy(regularizer.penalty(posterior, training=True))]
    if regularizer.has_objective:
        found.append(_numpy(regularizer.objective(posterior.stop_gradient(), training=True)))
    return found


def _check_randomness(regularizer: BaseRegularizer, posterior: Posterior, what: str) -> None:
    """All the randomness comes from the listed seed generators (exactly), and it moves on from call to call."""
    state = _state(regularizer)
    first = _outputs(regularizer, posterior)
    generators = [(generator, _numpy(generator.state)) for generator in regularizer.seed_generators]
    _restore(state)
    again = _outputs(regularizer, posterior)
    same = all(np.array_equal(a, b) for a, b in zip(first, again))
    if not regularizer.seed_generators:
        _expect(
            same,
            what,
            "two calls on the same posterior give different results, but it lists no seed generators: draw random "
            "numbers with `self.random` from a keras.random.SeedGenerator attribute, which the model tracks",
        )
        return
    _expect(
        same,
        what,
        "with its seed generators' states put back, a second call on the same posterior gives a different result: "
        "some of its randomness does not come from its `seed_generators` (keras.random without `seed=`, NumPy, "
        "or a generator it does not hold as an attribute)",
    )
    for (generator, after), (variable, before) in zip(generators, state):
        _expect(
            not np.array_equal(after, before),
            what,
            f"a training call leaves the state of its seed generator {generator.name!r} unchanged: draw from it "
            "with `self.random`, or remove it",
        )
    then = _outputs(regularizer, posterior)
    _expect(
        any(not np.array_equal(a, b) for a, b in zip(again, then)),
        what,
        "two training calls in a row give the same penalty and objective, though its seed generators move on: "
        "its random numbers must change from call to call",
    )


def _check_weighing(regularizer: BaseRegularizer, posterior: Posterior, what: str) -> None:
    """Calling the regularizer gives beta times the batch mean of its penalty (no beta if it weighs it itself)."""
    state = _state(regularizer)
    penalty = _numpy(regularizer.penalty(posterior, training=False)).astype("float64")
    _restore(state)
    value = _numpy(regularizer(posterior))
    _restore(state)
    _expect(value.shape == (), what, f"calling it returns shape {value.shape}, expected a scalar")
    mean = float(np.mean(penalty))
    if regularizer.weighs_by_beta:
        beta = float(_numpy(regularizer.current_beta(training=False)))
        expected, formula = beta * mean, f"beta * mean(penalty) = {beta} * {mean}"
    else:
        expected, formula = mean, "mean(penalty), since weighs_by_beta is False,"
    _expect(
        math.isclose(float(value), expected, rel_tol=TOLERANCE, abs_tol=TOLERANCE),
        what,
        f"calling it returns {float(value)}, expected {formula} = {expected}",
    )


def _check_rows_independent(
    regularizer: BaseRegularizer, posterior: Posterior, penalty: np.ndarray, what: str, source: str
) -> None:
    """A per-sample penalty of the first half of the batch is the first half of the batch's penalty."""
    batch = penalty.shape[0]
    half = max(batch // 2, 1)
    part = Posterior(
        parameters=[parameter[:half] for parameter in posterior.parameters],
        code=None if posterior.code is None else posterior.code[:half],
        bottleneck=posterior.bottleneck,
    )
    partial = _numpy(regularizer.penalty(part, training=False))
    _expect(
        partial.shape == (half,) and np.allclose(partial, penalty[:half], rtol=TOLERANCE, atol=TOLERANCE),
        what,
        f"its per-sample {source} gives the first {half} samples {partial.tolist()} on their own, but "
        f"{penalty[:half].tolist()} in a batch of {batch}: one sample's penalty must not depend on the other "
        "samples (a penalty of the whole batch returns a scalar)",
    )


def _check_objective(regularizer: BaseRegularizer, posterior: Posterior, what: str) -> None:
    """Trainable weights come with an objective, a finite float32 scalar, and an objective with trainable weights."""
    trainable = [weight for layer in regularizer.layers for weight in layer.trainable_weights]
    if not regularizer.has_objective:
        _expect(
            not trainable,
            what,
            f"it has trainable weights ({', '.join(weight.path for weight in trainable)}) but no `objective` to "
            "train them",
        )
        return
    _expect(trainable, what, "it has an `objective` but no trainable weights of its own (`layers`) for it to train")
    objective = regularizer.objective(posterior.stop_gradient(), training=False)
    dtype = keras.backend.standardize_dtype(getattr(objective, "dtype", type(objective).__name__))
    _expect(dtype == "float32", what, f"objective returns {dtype}, expected float32")
    objective = _numpy(objective)
    _expect(objective.shape == (), what, f"objective returns shape {objective.shape}, expected a scalar")
    _expect_finite(objective, what, "objective")


def _check_gradients_through_bottleneck(
    factory: Callable[[], BaseRegularizer], spec: dict[str, Any], what: str
) -> None:
    """Through the bottleneck, the penalty trains the encoder and not the regularizer; the objective, the reverse."""
    inputs = keras.Input(shape=(6,))
    encoder_layer = keras.layers.Dense(6, name="encoder")
    bottleneck = _bottleneck_layer(spec, factory(), what)
    regularizer = bottleneck.regularizers[0]
    model = keras.Model(inputs, bottleneck(encoder_layer(inputs)))
    encoder = list(encoder_layer.trainable_variables)
    own = [weight for layer in regularizer.layers for weight in layer.trainable_weights]
    features = _random((BATCH_SIZE, 6), seed=4)

    def of_loss(index: int) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
        def loss(outputs: Any, losses: list[Any]) -> Any:
            return ops.sum(ops.cast(losses[index], "float32"))

        found = gradients(model, features, loss, encoder + own)
        return found[: len(encoder)], found[len(encoder) :]

    def reached(gradient: np.ndarray | None) -> bool:
        return gradient is not None and bool(np.any(gradient != 0))

    to_encoder, to_own = of_loss(0)
    for gradient in to_encoder:
        if gradient is not None:
            _expect_finite(gradient, what, "the gradient of its penalty with respect to the encoder's weights")
    _expect(
        any(reached(g) for g in to_encoder),
        what,
        "through the bottleneck, its penalty's gradient does not reach the encoder",
    )
    for weight, gradient in zip(own, to_own):
        _expect(
            not reached(gradient),
            what,
            f"its penalty's gradient reaches its own weight {weight.path}: the penalty must use its weights as "
            "constants (ops.stop_gradient), and only its objective trains them",
        )
    if not regularizer.has_objective:
        return
    to_encoder, to_own = of_loss(1)
    _expect(
        not any(reached(g) for g in to_encoder),
        what,
        "its objective's gradient reaches the encoder: the objective must train the regularizer's weights alone",
    )
    for weight, gradient in zip(own, to_own):
        _expect(reached(gradient), what, f"its objective's gradient does not reach its weight {weight.path}")
        _expect_finite(gradient, what, f"the gradient of its objective with respect to {weight.path}")


def _check_training_logs(model: Autoencoder, history: dict[str, Any], what: str, own_losses: bool) -> None:
    """Each regularizer's penalty and objective are logged, and the losses hold the penalties but no objective.

    ``own_losses``: whether the bottleneck adds losses of its own, which count in ``regularization_loss`` too.
    """
    penalties = np.zeros(len(history["loss"]))
    for name, regularizer in zip(model.bottleneck.regularizer_names, model.bottleneck.regularizers):
        logged = [f"{name}_loss"] + ([f"{name}_{regularizer.objective_name}"] if regularizer.has_objective else [])
        for key in logged:
            _expect(key in history, what, f"an Autoencoder trained with it logs no {key!r}: {sorted(history)}")
        penalties = penalties + np.asarray(history[f"{name}_loss"])
    regularization = np.asarray(history["regularization_loss"])
    _expect(
        own_losses or np.allclose(regularization, penalties, rtol=1e-4, atol=1e-4),
        what,
        f"an Autoencoder trained with it logs regularization_loss {regularization.tolist()}, but its regularizers' "
        f"penalties add up to {penalties.tolist()}",
    )
    loss = np.asarray(history["loss"])
    parts = np.asarray(history["reconstruction_loss"]) + regularization
    _expect(
        np.allclose(loss, parts, rtol=1e-4, atol=1e-4),
        what,
        f"an Autoencoder trained with it logs loss {loss.tolist()}, but reconstruction_loss + regularization_loss "
        f"is {parts.tolist()}",
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


def _fit(model: Autoencoder, data: np.ndarray, what: str, loss: Any = "bernoulli") -> dict[str, Any]:
    """Trains ``model`` for an epoch and returns its history, whose every log is finite."""
    model.compile(optimizer="adam", loss=loss)
    history = model.fit(data, epochs=1, batch_size=BATCH_SIZE, verbose=0).history
    for name, values in history.items():
        _expect_finite(values, what, f"the logged {name!r} of an Autoencoder trained with it")
    return history


def _check_in_autoencoder(
    model: Autoencoder, data: np.ndarray, what: str, sample: bool = False, loss: Any = "bernoulli"
) -> dict[str, Any]:
    """Trains ``model`` for an epoch, saves it to ``.keras``, reloads it, and compares state and predictions."""
    history = _fit(model, data, what, loss)
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
