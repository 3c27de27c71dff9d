"""Contract checks for plugin authors: call them from your own tests to show a component works with tfae.

Each check builds the component with ``factory`` (a class, or any callable returning a new instance), runs it
through what tfae will do with it, and raises ``AssertionError`` saying which part of the contract failed.
They need no test framework; with pytest::

    from tfae.testing import check_bottleneck, check_objective, check_prior, check_regularizer

    def test_my_bottleneck_fulfils_the_contract():
        check_bottleneck(lambda: MyBottleneck(latent_dim=3))

    def test_my_regularizer_fulfils_the_contract():
        check_regularizer(MyRegularizer)

    def test_my_prior_fulfils_the_contract():
        check_prior(lambda: MyPrior(scale=3.0))

    def test_my_objective_fulfils_the_contract():
        check_objective(lambda: MyObjective(k=4))

``check_scheduler``, ``check_likelihood``, ``check_metric``, ``check_dataset`` and ``check_sampler`` do the same
for a scheduler, a reconstruction likelihood, an evaluation metric, a dataset and a post-hoc sampler, and
``gradients`` computes a model's gradients on any backend, for a plugin's own tests of its maths.

Beyond shapes, the checks look for what an author can get wrong without noticing:

- a value given to the constructor that does not survive ``get_config`` and a save and load (a constructor
  argument that ``get_config`` leaves out comes back as its default);
- a density that does not integrate to 1 (on a grid in one or two dimensions, and by Monte Carlo with a wide
  proposal; for codes on a sphere or in a ball, ``codes=UNIT_SPHERE`` or ``codes=ball(radius)``, against
  that space's uniform distribution), or that does not describe the codes its own sampler draws
  (``check_prior``, and ``check_bottleneck`` for a posterior with densities);
- a prior's ``sample(n, seed)`` that ignores its seed;
- a regularizer's per-sample penalty that mixes the samples of a batch, also when it draws random numbers;
  and randomness that does not come from its tracked seed generators.

tfae's own built-ins pass the same checks (tests/test_contract_checks.py). The checks train tiny models
for an epoch or two, so each takes a few seconds. They compute gradients with the TensorFlow or JAX backend,
and the component must be registered (installed, or registered with ``tfae.plugins.register_plugin``):
saved models and configs name it by its registered name.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import keras
import numpy as np
from keras import ops

from tfae.bottlenecks.base import SAMPLINGS, BaseBottleneck
from tfae.bottlenecks.gaussian import GaussianBottleneck
from tfae.likelihoods.base import BaseLikelihood
from tfae.metrics.base import BaseMetric
from tfae.models import Autoencoder, load_model
from tfae.objectives.base import BaseObjective, ObjectiveTerms
from tfae.plugins import get_registry
from tfae.posterior import Posterior
from tfae.priors.base import BasePrior
from tfae.regularizers.base import BaseRegularizer
from tfae.samplers.base import BaseSampler
from tfae.schedulers.base import UNITS, BaseScheduler
from tfae.serialization import component_spec, registered_name_of

SAMPLES = 16
BATCH_SIZE = 8
TOLERANCE = 1e-5
#: The features of the checks' data, what an Autoencoder's encoder takes.
FEATURES = 6
#: Draws compared with a density.
DENSITY_SAMPLES = 4000
#: Codes of the wide proposal in the Monte Carlo integral of a density.
PROPOSAL_SAMPLES = 20000
#: Up to how many dimensions the Monte Carlo integrals are precise enough to check.
MONTE_CARLO_DIMENSIONS = 4


class CodeSpace(NamedTuple):
    """Where a component's codes lie, for a density that is not one on ``R^latent_dim`` (one on the sphere).

    ``check_prior`` and ``check_bottleneck`` integrate a density over ``R^latent_dim`` (on a grid, and by
    Monte Carlo), and score a real prior's ``log_prob`` on standard normal codes. A density of codes on a
    manifold is one with respect to the manifold's own measure (the sphere's surface measure), of a set of
    volume 0 in ``R^latent_dim``, or 0 outside a bounded set: given ``codes=``, the checks integrate it
    against this space's reference distribution instead, ``E[p(z)/r(z)] = 1`` for ``z`` drawn from ``r``,
    compare the component's draws with the density by their moments (weighed so), and score codes drawn from
    ``r``. ``UNIT_SPHERE`` is the unit sphere's, ``ball(radius)`` a ball's.

    Args:
        sample: ``sample(n, latent_dim, rng)``: ``n`` codes of the reference distribution, float64, shape
            ``(n, latent_dim)``, from the NumPy generator ``rng``.
        log_density: ``log_density(codes)``: the reference's normalised log-density of codes ``(m,
            latent_dim)``, shape ``(m,)``, with respect to the same measure as the component's densities.
        name: what the space is, for the messages.
    """

    sample: Callable[[int, int, np.random.Generator], np.ndarray]
    log_density: Callable[[np.ndarray], np.ndarray]
    name: str


def _uniform_on_sphere(n: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
    normal = rng.standard_normal((n, latent_dim))
    return normal / np.linalg.norm(normal, axis=-1, keepdims=True)


def _log_uniform_on_sphere(codes: np.ndarray) -> np.ndarray:
    latent_dim = codes.shape[-1]
    log_area = math.log(2.0) + latent_dim / 2 * math.log(math.pi) - math.lgamma(latent_dim / 2)
    return np.full(codes.shape[:-1], -log_area)


#: The unit sphere in ``R^latent_dim`` with its surface measure, whose uniform distribution is the reference.
UNIT_SPHERE = CodeSpace(_uniform_on_sphere, _log_uniform_on_sphere, "the unit sphere")


def ball(radius: float) -> CodeSpace:
    """The open ball of ``radius`` about 0 in ``R^latent_dim``, whose uniform distribution is the reference: for
    a density (with respect to the Lebesgue measure) that is 0 outside it, such as one on a Poincare ball of
    curvature ``c`` (``radius = 1 / sqrt(c)``)."""
    if not (isinstance(radius, (int, float)) and not isinstance(radius, bool) and 0 < radius < math.inf):
        raise ValueError(f"`radius` must be a positive number. Received: radius={radius!r}")
    radius = float(radius)

    def sample(n: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
        directions = _uniform_on_sphere(n, latent_dim, rng)
        return radius * directions * rng.random((n, 1)) ** (1.0 / latent_dim)

    def log_density(codes: np.ndarray) -> np.ndarray:
        latent_dim = codes.shape[-1]
        log_volume = (
            latent_dim / 2 * math.log(math.pi) - math.lgamma(latent_dim / 2 + 1) + latent_dim * math.log(radius)
        )
        inside = np.sum(np.square(codes), axis=-1) < radius**2
        return np.where(inside, -log_volume, -np.inf)

    return CodeSpace(sample, log_density, f"the ball of radius {radius:g}")


def check_bottleneck(
    factory: Callable[[], BaseBottleneck], input_shape: tuple[int, ...] = (8, 6), codes: CodeSpace | None = None
) -> None:
    """Checks that the bottlenecks ``factory()`` builds fulfil tfae's bottleneck contract.

    - it is a ``BaseBottleneck``, and its code has shape ``(batch, latent_dim)`` (also symbolically and by
      ``compute_output_shape``), finite, while training and at inference;
    - ``posterior`` returns a ``Posterior`` holding the bottleneck for each ``sampling`` (``"mean"``,
      ``"reparameterized"``, ``"exact"``), with parameters batch first and a code of shape ``(batch,
      latent_dim)``; the mean is the same twice; with densities, ``log_density()`` and ``log_prior()`` are
      finite, of shape ``(batch,)``;
    - with ``importance_samples=3`` a bottleneck with densities draws codes of shape ``(3, batch,
      latent_dim)``, different from one another, whose joint log-densities have shape ``(3, batch)``, score
      each code as it scores it alone, and are the sums of the per-dimension ones where the posterior (or the
      prior) factorises; a bottleneck without densities draws them or refuses with ``ValueError``;
    - the posterior of a sample is a normalised density of the codes it draws (``sampling="exact"``): each
      dimension's integrates to 1 on a grid where the posterior factorises, the joint one in one or two
      dimensions otherwise, binary codes' probabilities add up to 1, and ``E[q(z)/r(z)] = 1`` by Monte Carlo
      with a wide proposal ``r`` in up to 4 dimensions; its draws fall where the density says (a chi-square
      test on cells between their quantiles); and the log-densities it gives with its draws (a flow's) are
      those of the distribution it draws from;
    - gradients reach every weight of an encoder layer before it, while training;
    - ``get_config`` is JSON, holds every argument of its constructor, and rebuilds an equal layer with
      ``from_config``, with the same attributes, which computes the same code from the same weights; its
      registered name resolves back to its class;
    - an ``Autoencoder`` with it trains, predicts, draws from its prior (if it has one), and saves to
      ``.keras`` and reloads in the same state (the same attributes), giving the same predictions.

    Args:
        factory: callable with no arguments returning a new bottleneck.
        input_shape: the encoder features' shape, batch first: ``(batch, features)`` or ``(batch, h, w, c)``.
        codes: where the codes lie, for a posterior whose density is not one on ``R^latent_dim``
            (``UNIT_SPHERE`` for a von Mises-Fisher's): its density is then integrated against that space's
            reference distribution; ``None`` for ``R^latent_dim``.

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

    _check_posteriors(bottleneck, inputs, what)
    if bottleneck.has_densities:
        _check_posterior_density(bottleneck, inputs[:1], what, codes)
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
    - a per-sample penalty gives each sample a value of its own: changing one sample's posterior changes that
      sample's penalty alone, with the same random numbers (its seed generators' states put back) where it
      draws them; and without randomness, the penalty of the first half of a batch is the first half of the
      batch's penalty;
    - with its generators' states (and its schedulers) put back, a training call's penalty and objective come
      out exactly the same, so all its randomness comes from its ``seed_generators``; with generators, two
      calls in a row differ and each generator's state moves on;
    - the penalty has finite gradients, not all zero, with respect to the parameters and code; through the
      bottleneck, its gradient reaches the encoder's weights but not the regularizer's own;
    - with weights of its own (``layers``), it has an ``objective``: a finite float32 scalar whose gradient,
      through the bottleneck, reaches each of those weights and not the encoder's;
    - ``get_config`` is JSON, holds every argument of its constructor, and ``from_config`` rebuilds an equal
      regularizer with the same attributes; its registered name resolves back to its class;
    - an ``Autoencoder`` whose bottleneck uses it, alone and in a list with ``"kld"`` (a Gaussian bottleneck)
      or ``"l2"`` (any other), trains; logs ``<name>_loss`` for each regularizer (and
      ``<name>_<objective_name>`` for an objective), a ``regularization_loss`` that is the sum of the
      penalties (unless the bottleneck adds losses of its own) and a ``loss`` that is
      ``reconstruction_loss + regularization_loss``, with no objective in either; moves its seed generators'
      states on and changes its weights in ``fit``; and, in the list, saves and reloads with the same
      weights, predictions, specification and attributes, and trains on.

    The half-batch check is left out for a regularizer with seed generators: noise drawn for half a batch is
    not half the noise drawn for the batch. The one-changed-sample check covers it.

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
    if penalty.shape == (batch,):
        if not regularizer.seed_generators:
            _check_rows_independent(regularizer, posterior, penalty, what, source)
        _check_rows_follow_their_samples(regularizer, posterior, what, source)

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

    _check_config(factory(), "regularizer", what)

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
        history = _check_in_autoencoder(model, data, what) if listed else _fit(model, data, what, eagerly=True)
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


def check_prior(
    factory: Callable[[], BasePrior],
    bottleneck: str | dict[str, Any] | None = None,
    codes: CodeSpace | None = None,
) -> None:
    """Checks that the priors ``factory()`` builds fulfil tfae's prior contract.

    The prior is checked where tfae uses it: as the prior of a bottleneck in a built ``Autoencoder`` (so a
    prior that reaches the model's encoder, as a VampPrior does, is connected), for codes of 1, 2 and 3
    dimensions (only its own ``latent_dim`` when it fixes one).

    - it is a ``BasePrior`` whose ``support`` is ``"real"`` or ``"binary"``;
    - ``get_config`` is JSON, holds every argument of its constructor, and ``from_config`` rebuilds an equal
      prior with the same attributes; its registered name resolves back to its class;
    - ``log_prob`` is a finite float32 of shape ``(batch,)`` for codes ``(batch, latent_dim)`` and ``(k,
      batch)`` for ``(k, batch, latent_dim)``, scoring each code as it scores it alone, with finite gradients;
      where it factorises, ``log_prob_per_dimension`` has the codes' shape and sums to ``log_prob``;
    - ``sample(n, seed)`` gives ``n`` finite float32 codes of shape ``(n, latent_dim)`` (0 or 1 for binary
      codes), the same for the same seed and others for another seed, also for ``n`` a scalar integer tensor;
    - the density is normalised: it integrates to 1 on a grid in one and two dimensions, ``E[p(z)/r(z)] = 1``
      by Monte Carlo with a wide proposal ``r``, and binary codes' probabilities add up to 1;
    - ``sample`` draws from ``log_prob``'s density: in one and two dimensions its draws fall in cells between
      their quantiles as often as the density says (a chi-square test), in more their mean and variance are
      the density's;
    - an ``Autoencoder`` with it trains with the ``iwae`` objective (two codes per sample), changing the
      prior's trainable weights, draws samples, and saves and reloads with the prior in the same state (the
      same weights, attributes and ``log_prob``).

    Args:
        factory: callable with no arguments returning a new prior.
        bottleneck: the bottleneck it is the prior of, a name or dict without ``latent_dim`` and ``prior``;
            by default ``"gaussian"`` for real codes and ``"bernoulli"`` for binary ones.
        codes: where the codes lie, for a density that is not one on ``R^latent_dim`` (``UNIT_SPHERE``): the
            density is then integrated against that space's reference distribution, and ``log_prob`` scored
            on its codes instead of standard normal ones; ``None`` for ``R^latent_dim``.

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    prior = _make(factory, BasePrior, "prior")
    what = type(prior).__name__
    _expect(prior.support in ("real", "binary"), what, f"its support is {prior.support!r}, expected 'real' or 'binary'")
    binary = prior.support == "binary"
    _check_config(factory(), "prior", what)
    spec = _prior_bottleneck(bottleneck, binary)
    dimensions = (1, 2, 3) if prior.latent_dim is None else (prior.latent_dim,)
    for latent_dim in dimensions:
        model = _with_prior(factory, spec, latent_dim, what)
        built = model.bottleneck.prior
        shown = f"{what} (latent_dim={latent_dim})"
        _check_log_prob(built, latent_dim, binary, shown, codes)
        if latent_dim == dimensions[0]:
            _check_seeded_sampler(built, latent_dim, shown)
        samples = _numpy(built.sample(DENSITY_SAMPLES, seed=0)).astype("float64")

        def joint(codes: np.ndarray, prior: BasePrior = built) -> np.ndarray:
            return _numpy(prior.log_prob(ops.convert_to_tensor(codes.astype("float32")))).astype("float64")

        _check_density(
            _Density(
                described=f"its density (latent_dim={latent_dim})",
                fix="log_prob must be the normalised log-density of the codes `sample` draws",
                samples=samples,
                log_density=joint,
                binary=binary,
                space=codes,
            ),
            shown,
        )

    latent_dim = 2 if prior.latent_dim is None else prior.latent_dim
    model = _with_prior(factory, spec, latent_dim, what)
    trained = model.bottleneck.prior
    own = list(trained.trainable_weights)
    before = [_numpy(weight) for weight in own]
    scored = _prior_codes((BATCH_SIZE, latent_dim), binary, seed=5, space=codes)

    def same_log_prob(loaded: Autoencoder) -> None:
        expected = _numpy(trained.log_prob(scored))
        reloaded = _numpy(loaded.bottleneck.prior.log_prob(scored))
        _expect(
            np.allclose(expected, reloaded, rtol=TOLERANCE, atol=TOLERANCE),
            what,
            f"the reloaded model's prior gives log_prob {reloaded.tolist()} where the saved one gave "
            f"{expected.tolist()}",
        )

    iwae = get_registry().resolve("objective", {"name": "iwae", "importance_samples": 2})
    assert isinstance(iwae, BaseObjective)
    _check_in_autoencoder(
        model, _unit_data((BATCH_SIZE, FEATURES)), what, sample=True, objective=iwae, compare=same_log_prob
    )
    for weight, value in zip(own, before):
        _expect(
            not np.array_equal(_numpy(weight), value),
            what,
            f"its weight {weight.path} does not change in Autoencoder.fit with the iwae objective: log_prob must "
            "compute with its weights so that their gradients reach them",
        )


def check_objective(
    factory: Callable[[], BaseObjective],
    bottleneck: str | dict[str, Any] | None = None,
    single_sample: Callable[[], BaseObjective] | None = None,
    input_shape: tuple[int, ...] = (BATCH_SIZE, FEATURES),
) -> None:
    """Checks that the objectives ``factory()`` builds fulfil tfae's objective contract.

    - it is a ``BaseObjective`` with a positive whole number of ``importance_samples``;
    - ``get_config`` is JSON, holds every argument of its constructor, and ``from_config`` rebuilds an equal
      objective with the same attributes; its registered name resolves back to its class;
    - called on the terms of a batch from a small model (``importance_samples`` codes per sample), it returns
      a dict holding ``"loss"``, a finite float32 of shape ``(batch,)``, and each of ``logged``, finite, and
      nothing else but an optional ``"reconstruction_loss"`` of shape ``(batch,)``, finite;
    - an objective that ``holds_divergence`` gives, with one code per sample, the ELBO's estimate of each
      sample: ``reconstruction_loss - log p(z) + log q(z|x)`` plus the regularizers' penalties (IWAE with
      ``k = 1`` is the ELBO);
    - one that needs densities, or draws more than one code per sample, is refused by ``compile`` on a
      model with a deterministic bottleneck, with a ``ValueError`` naming it;
    - an ``Autoencoder`` compiled with it trains, logging ``loss`` and each of ``logged``, finite, and saves
      and reloads with the objective by its registered name, with the same specification and attributes.

    The model is a Gaussian VAE (two latent dimensions) with a Bernoulli likelihood, with a ``"kld"``
    regularizer unless the objective holds the divergence from the prior itself, trained on data in [0, 1] of
    ``input_shape``.

    Args:
        factory: callable with no arguments returning a new objective.
        bottleneck: the bottleneck of the model, a name or dict; by default ``"gaussian"``.
        single_sample: callable returning the same objective with one code per sample, for the comparison
            with the ELBO; by default ``from_config`` with the entry of ``get_config()`` that holds
            ``importance_samples`` set to 1.
        input_shape: the data's shape, batch first: ``(batch, features)`` by default, ``(batch, height,
            width)`` for an objective that scores images (an image similarity); the batch is at most
            ``SAMPLES``.

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    objective = _make(factory, BaseObjective, "objective")
    what = type(objective).__name__
    k = objective.importance_samples
    _expect(
        isinstance(k, int) and not isinstance(k, bool) and k >= 1,
        what,
        f"importance_samples is {k!r}, expected a positive int",
    )
    config = _check_config(factory(), "objective", what)
    spec = _objective_bottleneck(objective, bottleneck)
    data = _unit_data(input_shape)
    model = _compiled(Autoencoder(bottleneck=spec), factory(), what)
    model.build((None, *input_shape[1:]))
    x = data[: input_shape[0]]

    _check_objective_results(objective, _objective_terms(model, x, k), what)
    if objective.holds_divergence:
        single = single_sample() if single_sample is not None else _single_sample(objective, config, what)
        _check_single_sample(single, _objective_terms(model, x, 1), what)
    if objective.needs_densities or k > 1:
        _check_refused_without_densities(factory, what)

    history = _check_in_autoencoder(Autoencoder(bottleneck=spec), data, what, objective=factory())
    for name in ("loss", *type(objective).logged):
        _expect(name in history, what, f"an Autoencoder trained with it logs no {name!r}: {sorted(history)}")


def check_sampler(factory: Callable[[], BaseSampler]) -> None:
    """Checks that the samplers ``factory()`` builds fulfil tfae's sampler contract.

    - it is a ``BaseSampler``; ``get_config`` is JSON, holds every argument of its constructor, and
      ``from_config`` rebuilds an equal sampler; its registered name resolves back to its class;
    - one that ``needs_fit`` refuses to draw before ``fit``, with a ``ValueError``; ``fit(model, x)`` returns
      the sampler itself, fitted;
    - on a small trained VAE (two latent dimensions, 64 samples), ``sample(model, n, seed)`` gives ``n``
      finite float32 codes of shape ``(n, 2)``; the same seed gives the same codes and another seed others;
    - ``model.sample(n, sampler=...)`` decodes them to samples of the data's shape.

    Args:
        factory: callable with no arguments returning a new sampler.

    Raises:
        AssertionError: which part of the contract fails, and how.
    """
    sampler = _make(factory, BaseSampler, "sampler")
    what = type(sampler).__name__
    _check_config(factory(), "sampler", what)
    data = _unit_data((64, FEATURES))
    model = Autoencoder(bottleneck={"name": "gaussian", "latent_dim": 2, "regularizer": "kld"})
    _fit(model, data, what, "bernoulli", None, eagerly=True)
    if sampler.needs_fit:
        try:
            sampler.sample(model, 3, seed=0)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{what} breaks the tfae contract: it needs fitting, and drew codes before fit")
    fitted = sampler.fit(model, data)
    _expect(fitted is sampler, what, f"fit returned {fitted!r}, not the sampler itself")
    _expect(sampler.fitted, what, "its `fitted` is false after fit")
    codes = sampler.sample(model, 5, seed=1)
    _expect(
        isinstance(codes, np.ndarray) and codes.shape == (5, 2) and codes.dtype == np.float32,
        what,
        f"sample(model, 5) gave {type(codes).__name__} of shape {getattr(codes, 'shape', None)}, "
        "expected float32 (5, 2)",
    )
    _expect_finite(codes, what, "sample(model, 5)")
    _expect(np.array_equal(codes, sampler.sample(model, 5, seed=1)), what, "the same seed drew other codes")
    _expect(not np.array_equal(codes, sampler.sample(model, 5, seed=2)), what, "another seed drew the same codes")
    samples = model.sample(3, seed=0, sampler=sampler)
    _expect(samples.shape == (3, FEATURES), what, f"model.sample(3, sampler=...) has shape {samples.shape}")


def check_scheduler(factory: Callable[[], BaseScheduler]) -> None:
    """Checks that the schedulers ``factory()`` builds fulfil tfae's scheduler contract.

    - it is a ``BaseScheduler`` with ``unit`` ``"epoch"`` or ``"step"`` and an integer ``duration >= 0``;
    - ``calc(n)`` is a finite float32 for an int and for an integer tensor (elementwise the same), equals
      ``value_at(n)``, and stays constant from ``duration`` on; ``value`` starts at ``initial_value``;
    - ``get_config`` is JSON and ``from_config`` rebuilds a scheduler with the same values; its registered
      name resolves back to its class;
    - as the beta of a regularizer inside ``Autoencoder.fit``, counted by epoch and by step, the logged
      ``beta`` is the schedule's value for each epoch (or the mean over each epoch's steps), and a saved
      model reloads with the scheduler in the same state.

    Args:
        factory: callable with no arguments returning a new scheduler.

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
    _expect(start == values[0], what, f"a new scheduler's `value` is {start}, expected calc(0) = {values[0]}")

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
        _expect(
            isinstance(item, (float, int)) and not isinstance(item, bool), what, f"{shown} is {item!r}, not a float"
        )
        _expect(math.isfinite(float(item)), what, f"{shown} is {item}")
    _expect(computed() == value, what, "compute gives another value for the same model, data and seed")

    plain = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 3})
    plain.compile(optimizer="adam", loss="bernoulli", run_eagerly=True)
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
    for (generator, after), (_variable, before) in zip(generators, state):
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
    _check_constructor_arguments(layer, config, what)
    rebuilt = type(layer).from_config(config)
    _expect(rebuilt.get_config() == config, what, f"from_config(get_config()) has config {rebuilt.get_config()}")
    rebuilt(inputs)
    _check_same_settings(layer, rebuilt, what, "from_config(get_config())")
    rebuilt.set_weights(layer.get_weights())
    expected, actual = _numpy(layer(inputs, training=False)), _numpy(rebuilt(inputs, training=False))
    _expect(
        np.allclose(expected, actual, atol=TOLERANCE),
        what,
        "from_config(get_config()) with the same weights computes a different code at inference",
    )
    _check_registered(kind, layer, what)


def _fit(
    model: Autoencoder,
    data: np.ndarray,
    what: str,
    loss: Any = "bernoulli",
    objective: BaseObjective | None = None,
    eagerly: bool = False,
) -> dict[str, Any]:
    """Trains ``model`` for an epoch and returns its history, whose every log is finite.

    ``eagerly`` trains without tracing the train step (``run_eagerly``), a second faster where the check is of
    what training does, not of the step's tracing, which another fit of the same components checks.
    """
    model.compile(optimizer="adam", loss=loss, objective=objective, run_eagerly=eagerly)
    history = model.fit(data, epochs=1, batch_size=BATCH_SIZE, verbose=0).history
    for name, values in history.items():
        _expect_finite(values, what, f"the logged {name!r} of an Autoencoder trained with it")
    return history


def _check_in_autoencoder(
    model: Autoencoder,
    data: np.ndarray,
    what: str,
    sample: bool = False,
    loss: Any = "bernoulli",
    objective: BaseObjective | None = None,
    compare: Callable[[Autoencoder], None] | None = None,
) -> dict[str, Any]:
    """Trains ``model`` for an epoch, saves it to ``.keras``, reloads it, and compares state and predictions.

    ``compare(loaded)`` compares more, before the reloaded model trains on.
    """
    history = _fit(model, data, what, loss, objective)
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
    for part, kind, original, restored in _parts(model, loaded):
        _expect(
            type(restored) is type(original), what, f"the reloaded model's {part} is {restored!r}, not {original!r}"
        )
        if original is not None:
            saved, restored_spec = component_spec(kind, original), component_spec(kind, restored)
            shown = f"the reloaded {part} is {restored_spec}, but the saved one was {saved}"
            _expect(saved == restored_spec, what, shown)
            _check_same_settings(original, restored, what, f"the reloaded model's {part}")
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
    if compare is not None:
        compare(loaded)
    # Eagerly: what is checked is that the reloaded state trains on; the first fit traced these components.
    loaded.run_eagerly = True
    loaded.fit(data, epochs=1, batch_size=BATCH_SIZE, verbose=0)
    return history


def _parts(model: Autoencoder, loaded: Autoencoder) -> list[tuple[str, str, Any, Any]]:
    """``(part, kind, saved, reloaded)`` for each component of a saved model and its reloaded copy."""
    parts: list[tuple[str, str, Any, Any]] = [
        ("bottleneck", "bottleneck", model.bottleneck, loaded.bottleneck),
        ("likelihood", "likelihood", model.likelihood, loaded.likelihood),
        ("objective", "objective", model.objective, loaded.objective),
    ]
    prior = getattr(model.bottleneck, "prior", None)
    if prior is not None:
        parts.append(("prior", "prior", prior, getattr(loaded.bottleneck, "prior", None)))
    names = model.bottleneck.regularizer_names
    pairs = zip(model.bottleneck.regularizers, loaded.bottleneck.regularizers)
    parts += [(f"regularizer {name}", "regularizer", *pair) for name, pair in zip(names, pairs)]
    return parts


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
        raise AssertionError(f"{what} breaks the tfae contract: the reloaded model's scheduler is {restored!r}.")
    _expect(restored.get_config() == scheduler.get_config(), what, f"the reloaded scheduler is {restored!r}")
    for original, reloaded in zip(scheduler.variables, restored.variables):
        _expect(
            np.array_equal(_numpy(original), _numpy(reloaded)),
            what,
            f"the reloaded scheduler's {reloaded.name} is {_numpy(reloaded)}, saved as {_numpy(original)}",
        )


#: Former names of constructor arguments, which ``get_config`` gives under their present name (IWAE's ``k`` is
#: ``importance_samples``; an objective whose ``k`` means something else, MIWAE's, returns it as ``k``).
_FORMER_NAMES = {"kernel_regularizer": "regularizer", "k": "importance_samples"}


def _check_config(component: Any, kind: str, what: str) -> dict[str, Any]:
    """``get_config`` is JSON and holds every constructor argument; ``from_config`` rebuilds the same component.

    ``component`` is a new one, as its factory made it. Returns its config.
    """
    config = _check_json(component.get_config(), what)
    _check_constructor_arguments(component, config, what)
    rebuilt = _rebuild(component, what)
    _expect(rebuilt.get_config() == config, what, f"from_config(get_config()) has config {rebuilt.get_config()}")
    _check_same_settings(component, rebuilt, what, "from_config(get_config())")
    _check_registered(kind, component, what)
    return config


def _constructor_arguments(component: Any) -> list[inspect.Parameter]:
    """The named arguments of the component's constructor, less those of ``keras.layers.Layer`` itself."""
    try:
        parameters = list(inspect.signature(type(component).__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    keras_own = _keras_layer_arguments() if isinstance(component, keras.layers.Layer) else frozenset()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [parameter for parameter in parameters if parameter.kind in named and parameter.name not in keras_own]


@functools.lru_cache(maxsize=1)
def _keras_layer_arguments() -> frozenset[str]:
    return frozenset(inspect.signature(keras.layers.Layer.__init__).parameters)


@functools.lru_cache(maxsize=1)
def _keras_layer_attributes() -> frozenset[str]:
    return frozenset(vars(keras.layers.Layer()))


def _check_constructor_arguments(component: Any, config: dict[str, Any], what: str) -> None:
    """Each argument of the constructor is in ``get_config()``: what is left out comes back as its default."""
    for parameter in _constructor_arguments(component):
        name = parameter.name
        if name in config or _FORMER_NAMES.get(name) in config:
            continue
        settings = _settings(component)
        held = settings.get(name, settings.get(f"_{name}", _MISSING))
        if parameter.default is not parameter.empty and held is not _MISSING and held != parameter.default:
            lost = f"with {name}={parameter.default!r}, its default, not the {held!r} it was given"
        else:
            lost = f"without the {name} it was given"
        raise AssertionError(
            f"{what} breaks the tfae contract: its constructor takes `{name}`, which get_config() leaves out, so "
            f"from_config, and a model saved and loaded, would build it {lost}. Return every constructor "
            f"argument from get_config: {{**super().get_config(), {name!r}: self.{name}}}."
        )


_MISSING = object()


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


def _settings(component: Any) -> dict[str, Any]:
    """The component's plain values (numbers, strings, lists of them): its public attributes, and its private ones
    named after a constructor argument (``_scale``); Keras' own layer attributes are left out."""
    arguments = {parameter.name for parameter in _constructor_arguments(component)}
    keras_own = _keras_layer_attributes() if isinstance(component, keras.layers.Layer) else frozenset()
    found = {}
    for name, value in vars(component).items():
        if name in keras_own or name.startswith("_self_"):
            continue
        if name.startswith("_") and name.lstrip("_") not in arguments:
            continue
        if _plain(value):
            found[name] = value
    return found


def _check_same_settings(original: Any, restored: Any, what: str, how: str) -> None:
    """``restored`` (rebuilt from ``original``'s config, or reloaded) holds the same plain values as ``original``."""
    before, after = _settings(original), _settings(restored)
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, _MISSING), after.get(name, _MISSING)
        if old != new:
            shown_old = "no such attribute" if old is _MISSING else repr(old)
            shown_new = "no such attribute" if new is _MISSING else repr(new)
            raise AssertionError(
                f"{what} breaks the tfae contract: {how} has {name} = {shown_new}, where the original has "
                f"{shown_old}: a value given to its constructor does not come back through get_config, so a "
                "model saved and loaded would have the other. Return every constructor argument from get_config, "
                "and build from them in from_config."
            )


def _check_posteriors(bottleneck: BaseBottleneck, inputs: np.ndarray, what: str) -> None:
    """``posterior`` for each sampling, and ``k`` codes per sample where it has densities; see ``check_bottleneck``."""
    batch, latent_dim = inputs.shape[0], bottleneck.latent_dim
    densities = bottleneck.has_densities
    for sampling in SAMPLINGS:
        call = f"posterior(sampling={sampling!r})"
        posterior = bottleneck.posterior(inputs, sampling=sampling)
        _expect(
            isinstance(posterior, Posterior), what, f"{call} returns {type(posterior).__name__}, not a tfae Posterior"
        )
        _expect(
            posterior.bottleneck is bottleneck,
            what,
            f"{call} returns a Posterior whose bottleneck is {posterior.bottleneck!r}, not the bottleneck itself: "
            "pass `bottleneck=self`",
        )
        shapes = [tuple(parameter.shape) for parameter in posterior.parameters]
        _expect(
            all(shape[:1] == (batch,) for shape in shapes),
            what,
            f"{call} gives parameters of shapes {shapes}: each must have the batch ({batch}) first",
        )
        code = None if posterior.code is None else _numpy(posterior.code)
        shape = None if code is None else code.shape
        expected = (batch, latent_dim)
        _expect(shape == expected, what, f"{call} gives a code of shape {shape}, expected {expected}")
        _expect_finite(code, what, f"the code of {call}")
        if densities:
            for name in ("log_density", "log_prior"):
                try:
                    values = _numpy(getattr(posterior, name)())
                except NotImplementedError:
                    # A flow scores its own draws alone, and the mean is none.
                    if sampling == "mean" and name == "log_density":
                        continue
                    raise
                _expect(
                    values.shape == (batch,),
                    what,
                    f"{call}.{name}() has shape {values.shape}, expected ({batch},), the joint log-density of each "
                    "sample",
                )
                _expect_finite(values, what, f"{call}.{name}()")
    first, again = (_numpy(bottleneck.posterior(inputs, sampling="mean").code) for _ in range(2))
    _expect(
        np.array_equal(first, again),
        what,
        "posterior(sampling='mean') gives another code on a second call: the mean is not random",
    )
    k = 3
    for sampling in ("reparameterized", "exact"):
        call = f"posterior(sampling={sampling!r}, importance_samples={k})"
        try:
            posterior = bottleneck.posterior(inputs, sampling=sampling, importance_samples=k)
        except ValueError as error:
            _expect(
                not densities,
                what,
                f"{call} raises {error!r}, but it has densities: it must draw k codes per sample, shape (k, batch, "
                "latent_dim)",
            )
            continue
        code = _numpy(posterior.code)
        _expect(
            code.shape == (k, batch, latent_dim),
            what,
            f"{call} gives a code of shape {code.shape}, expected {(k, batch, latent_dim)}"
            + ("" if densities else " (or, without densities, a ValueError)"),
        )
        _expect_finite(code, what, f"the codes of {call}")
        if densities:
            _expect(
                not np.array_equal(code[0], code[1]),
                what,
                f"{call} draws the same code {k} times for each sample: each must be a draw of its own",
            )
            _check_joint_densities(posterior, code, call, what)


def _check_joint_densities(posterior: Posterior, code: np.ndarray, call: str, what: str) -> None:
    """``k`` codes per sample: joint log-densities ``(k, batch)``, each code scored as alone, the per-dimension sums."""
    k, batch, latent_dim = code.shape
    bottleneck = posterior.bottleneck
    prior = getattr(bottleneck, "prior", None)
    factorizes = {
        "log_density": bool(getattr(bottleneck, "factorizes", False)),
        "log_prior": True if prior is None else bool(prior.factorizes),
    }
    for name in ("log_density", "log_prior"):
        score = getattr(posterior, name)
        joint = _numpy(score())
        _expect(joint.shape == (k, batch), what, f"{call}.{name}() has shape {joint.shape}, expected {(k, batch)}")
        _expect_finite(joint, what, f"{call}.{name}()")
        try:
            alone = np.stack([_numpy(score(code[index])) for index in range(k)])
        except NotImplementedError:  # a flow gives the density of its own draws only
            alone = None
        _expect(
            alone is None or np.allclose(alone, joint, rtol=1e-4, atol=1e-4),
            what,
            f"{call}.{name}() scores the codes {np.round(joint[:, :2], 4).tolist()} (first two samples), but scored "
            f"one draw at a time the same codes get {None if alone is None else np.round(alone[:, :2], 4).tolist()}",
        )
        if factorizes[name]:
            per_dimension = _numpy(score(per_dimension=True))
            _expect(
                per_dimension.shape == (k, batch, latent_dim),
                what,
                f"{call}.{name}(per_dimension=True) has shape {per_dimension.shape}, expected {(k, batch, latent_dim)}",
            )
            total = per_dimension.sum(axis=-1)
            _expect(
                np.allclose(total, joint, rtol=1e-4, atol=1e-4),
                what,
                f"{call}.{name}(per_dimension=True) sums to {np.round(total[0, :3], 4).tolist()}, but the joint "
                f"{name}() is {np.round(joint[0, :3], 4).tolist()}: the joint must be the sum over dimensions",
            )


def _binary_codes(bottleneck: BaseBottleneck) -> bool:
    prior = getattr(bottleneck, "prior", None)
    if prior is not None:
        return bool(prior.support == "binary")
    return getattr(bottleneck, "distribution", None) == "bernoulli"


def _check_posterior_density(
    bottleneck: BaseBottleneck, inputs: np.ndarray, what: str, space: CodeSpace | None = None
) -> None:
    """The posterior of one sample is a normalised density of the codes its exact draws give."""
    posterior = bottleneck.posterior(inputs, sampling="exact", importance_samples=DENSITY_SAMPLES)
    samples = _numpy(posterior.code)[:, 0, :].astype("float64")
    sampled = _numpy(posterior.log_density())[:, 0].astype("float64")

    def joint(codes: np.ndarray) -> np.ndarray:
        return _numpy(posterior.log_density(codes[:, None, :].astype("float32")))[:, 0].astype("float64")

    def per_dimension(codes: np.ndarray) -> np.ndarray:
        scored = posterior.log_density(codes[:, None, :].astype("float32"), per_dimension=True)
        return _numpy(scored)[:, 0, :].astype("float64")

    log_density: Callable[[np.ndarray], np.ndarray] | None = joint
    try:
        evaluated = joint(samples)
    except NotImplementedError:  # a flow gives the density of its own draws only
        log_density = None
    else:
        _expect(
            np.allclose(evaluated, sampled, rtol=1e-4, atol=1e-3),
            what,
            f"the log-densities its posterior gives with its draws, {np.round(sampled[:3], 4).tolist()}, differ from "
            f"log_density of the same codes, {np.round(evaluated[:3], 4).tolist()}",
        )
    _check_density(
        _Density(
            described="the posterior of a sample",
            fix="log_density must be the normalised log-density of the codes that posterior(sampling='exact') draws",
            samples=samples,
            log_density=log_density,
            binary=_binary_codes(bottleneck),
            per_dimension=per_dimension if log_density is not None and bottleneck.factorizes else None,
            sampled=sampled,
            space=space,
        ),
        what,
    )


class _Density(NamedTuple):
    """A density and the draws of its sampler, which ``_check_density`` compares.

    ``log_density`` maps codes ``(m, latent_dim)`` to joint log-densities ``(m,)``; it is ``None`` where the
    density is known for its own draws alone (``sampled``, ``(n,)``: a flow's). ``per_dimension`` maps codes
    to each dimension's log-density, ``(m, latent_dim)``, where the density factorises.
    """

    described: str
    fix: str
    samples: np.ndarray
    log_density: Callable[[np.ndarray], np.ndarray] | None
    binary: bool = False
    per_dimension: Callable[[np.ndarray], np.ndarray] | None = None
    sampled: np.ndarray | None = None
    space: CodeSpace | None = None


def _check_density(density: _Density, what: str) -> None:
    """The density is normalised and describes its sampler's draws; see ``check_prior`` and ``check_bottleneck``."""
    _expect_finite(density.samples, what, f"the draws of {density.described}")
    latent_dim = density.samples.shape[1]
    if density.binary:
        _check_binary_density(density, what)
        return
    if density.space is not None:
        if density.log_density is not None:
            _check_against_reference(density, density.space, what)
        if density.sampled is not None:
            _check_sampled_log_density(density, what)
        return
    if density.log_density is not None:
        if density.per_dimension is not None:
            for dimension in range(latent_dim):
                _check_on_grid(density, what, dimension)
        elif latent_dim <= 2:
            _check_on_grid(density, what, None)
        if latent_dim <= MONTE_CARLO_DIMENSIONS:
            _check_monte_carlo(density, what, moments=density.per_dimension is None and latent_dim > 2)
    if density.sampled is not None and latent_dim <= MONTE_CARLO_DIMENSIONS:
        _check_sampled_log_density(density, what)


def _check_binary_density(density: _Density, what: str) -> None:
    """Binary codes: the probabilities of all ``2**latent_dim`` codes add up to 1, and the draws follow them."""
    samples = density.samples
    latent_dim = samples.shape[1]
    values = np.unique(samples)
    _expect(
        np.all((values == 0) | (values == 1)),
        what,
        f"the draws of {density.described} take the values {values[:8].tolist()}, not 0 and 1 alone",
    )
    if density.log_density is None or latent_dim > 10:
        return
    codes = ((np.arange(2**latent_dim)[:, None] >> np.arange(latent_dim)) & 1).astype("float64")
    probabilities = np.exp(density.log_density(codes))
    total = float(probabilities.sum())
    _expect(
        math.isfinite(total) and abs(total - 1.0) <= 1e-3,
        what,
        f"{density.described} gives the {len(codes)} binary codes probabilities that add up to {total:.4f}, not 1 "
        f"({density.fix})",
    )
    observed = np.bincount((samples @ (1 << np.arange(latent_dim))).astype(int), minlength=len(codes))
    _check_frequencies(observed, probabilities / total, density.described, "one cell per code", "", density.fix, what)


def _grid_axis(values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Points over where ``values`` fall and well beyond, densest near their median, and the width of each.

    Evenly spaced in ``u`` for ``z = median + scale * sinh(u)``: fine where the mass is, and reaching far
    into heavy tails with few points.
    """
    centre = float(np.median(values))
    low, high = np.percentile(values, [25, 75])
    scale = float(high - low) / 1.349 or float(np.std(values)) or 1.0
    reach = 1.5 * float(np.max(np.abs(values - centre))) + 3.0 * scale
    end = math.asinh(reach / scale)
    u = np.linspace(-end, end, points)
    return centre + scale * np.sinh(u), scale * np.cosh(u) * (u[1] - u[0])


def _check_on_grid(density: _Density, what: str, dimension: int | None) -> None:
    """On a grid, the joint density (one or two dimensions) or one dimension's integrates to 1, and the draws
    fall in cells between their quantiles as often as it says."""
    samples = density.samples
    if dimension is None:
        axes = [_grid_axis(column, 1001 if samples.shape[1] == 1 else 201) for column in samples.T]
        points = np.stack([mesh.ravel() for mesh in np.meshgrid(*(axis for axis, _ in axes), indexing="ij")], axis=-1)
        widths = np.prod(np.stack(np.meshgrid(*(width for _, width in axes), indexing="ij")), axis=0).ravel()
        assert density.log_density is not None
        log_density = density.log_density(points)
        drawn, described = samples, density.described
    else:
        axis, widths = _grid_axis(samples[:, dimension], 1001)
        axes = [(axis, widths)]
        codes = np.repeat(np.median(samples, axis=0, keepdims=True), len(axis), axis=0)
        codes[:, dimension] = axis
        assert density.per_dimension is not None
        log_density = density.per_dimension(codes)[:, dimension]
        points, drawn = axis[:, None], samples[:, [dimension]]
        described = f"{density.described} in dimension {dimension}"
    mass = np.exp(log_density) * widths
    total = float(mass.sum())
    ranges = " x ".join(f"[{axis[0]:.3g}, {axis[-1]:.3g}]" for axis, _ in axes)
    _expect(
        math.isfinite(total) and abs(total - 1.0) <= 0.01,
        what,
        f"{described} integrates to {total:.4f}, not 1, on a grid over {ranges} ({density.fix})",
    )
    per_axis = 10 if points.shape[1] == 1 else 5
    edges = [np.quantile(column, np.linspace(0.0, 1.0, per_axis + 1)[1:-1]) for column in drawn.T]

    def cells(codes: np.ndarray) -> np.ndarray:
        index = tuple(np.searchsorted(edge, codes[:, column], side="right") for column, edge in enumerate(edges))
        return np.ravel_multi_index(index, (per_axis,) * len(edges))

    count = per_axis ** len(edges)
    probabilities = np.bincount(cells(points), weights=mass, minlength=count) / total
    observed = np.bincount(cells(drawn), minlength=count)
    mean = (mass @ points) / total
    deviation = np.sqrt((mass @ np.square(points - mean)) / total)
    detail = (
        f"; the draws have mean {np.round(drawn.mean(axis=0), 3).tolist()} and standard deviation "
        f"{np.round(drawn.std(axis=0), 3).tolist()}, the density {np.round(mean, 3).tolist()} and "
        f"{np.round(deviation, 3).tolist()}"
    )
    cells_described = f"{count} cells between their quantiles"
    _check_frequencies(observed, probabilities, described, cells_described, detail, density.fix, what)


def _check_frequencies(
    observed: np.ndarray, probabilities: np.ndarray, described: str, cells: str, detail: str, fix: str, what: str
) -> None:
    """A chi-square test of the draws' counts in cells against the density's probabilities of the cells."""
    draws = int(observed.sum())
    expected = draws * probabilities
    rare = expected < 5  # pooled into one cell, so that the chi-square's approximation holds
    if rare.any():
        observed = np.append(observed[~rare], observed[rare].sum())
        expected = np.append(expected[~rare], expected[rare].sum())
    if len(expected) < 2:
        return
    possible = expected > 0
    statistic = (
        math.inf
        if np.any(observed[~possible] > 0)
        else float(np.sum(np.square(observed[possible] - expected[possible]) / expected[possible]))
    )
    freedom = int(possible.sum()) - 1
    limit = _chi_square_limit(freedom)
    _expect(
        statistic <= limit,
        what,
        f"{described} does not match its sampler: {draws} draws fall in {cells} with a chi-square of "
        f"{statistic:.1f} against the density's probabilities, where at most {limit:.1f} is expected{detail} ({fix})",
    )


def _chi_square_limit(freedom: int) -> float:
    """The chi-square that ``freedom`` degrees of freedom exceed with a probability of about one in a million
    (the Wilson-Hilferty approximation): a sound density fails only by a rare draw."""
    z = 4.75
    return freedom * (1.0 - 2.0 / (9.0 * freedom) + z * math.sqrt(2.0 / (9.0 * freedom))) ** 3


def _gaussian_around(samples: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The draws' mean, the Cholesky factor of ``scale**2`` times their covariance, and its log-determinant."""
    latent_dim = samples.shape[1]
    covariance = np.atleast_2d(np.cov(samples, rowvar=False))
    covariance = covariance + 1e-9 * (np.trace(covariance) / latent_dim + 1e-12) * np.eye(latent_dim)
    cholesky = np.linalg.cholesky(scale**2 * covariance)
    return samples.mean(axis=0), cholesky, float(np.sum(np.log(np.diag(cholesky))))


def _expect_normalised(
    density: _Density, codes: np.ndarray, log_proposal: np.ndarray, what: str, how: str
) -> np.ndarray:
    """Checks ``E[p(z)/r(z)] = 1`` over ``codes`` drawn from ``r``, ``log_proposal`` their log-densities under it
    (``how`` says so in the message); returns the ratios ``p(z)/r(z)``."""
    assert density.log_density is not None
    ratios = np.exp(density.log_density(codes) - log_proposal)
    estimate, error = float(ratios.mean()), float(ratios.std() / math.sqrt(len(ratios)))
    _expect(
        math.isfinite(estimate) and abs(estimate - 1.0) <= max(0.05, 6 * error),
        what,
        f"{density.described} integrates to {estimate:.4f} +- {error:.4f}, not 1, {how} ({density.fix})",
    )
    return ratios


def _weighed_moments(ratios: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The density's mean and variance by importance sampling: ``codes`` weighed by ``ratios``."""
    weights = ratios / ratios.sum()
    mean = weights @ codes
    return mean, weights @ np.square(codes - mean)


def _check_monte_carlo(density: _Density, what: str, moments: bool) -> None:
    """``E[p(z)/r(z)] = 1`` for codes from a wide proposal ``r`` around the draws (a Student-t of 5 degrees of
    freedom, 1.5 times as wide); with ``moments``, the density's mean and variance weighed so are the draws'."""
    assert density.log_density is not None
    samples = density.samples
    latent_dim = samples.shape[1]
    mean, cholesky, log_determinant = _gaussian_around(samples, 1.5)
    freedom = 5.0
    rng = np.random.default_rng(7)
    normal = rng.standard_normal((PROPOSAL_SAMPLES, latent_dim))
    scaling = np.sqrt(rng.chisquare(freedom, PROPOSAL_SAMPLES) / freedom)
    codes = mean + (normal @ cholesky.T) / scaling[:, None]
    distance = np.sum(np.square(np.linalg.solve(cholesky, (codes - mean).T)), axis=0)
    normalising = math.lgamma((freedom + latent_dim) / 2) - math.lgamma(freedom / 2)
    normalising -= latent_dim / 2 * math.log(freedom * math.pi) + log_determinant
    log_proposal = normalising - (freedom + latent_dim) / 2 * np.log1p(distance / freedom)
    ratios = _expect_normalised(
        density,
        codes,
        log_proposal,
        what,
        f"by Monte Carlo: the mean of p(z)/r(z) over {len(codes)} codes z from a wide proposal r around its draws",
    )
    if not moments:
        return
    expected_mean, expected_variance = _weighed_moments(ratios, codes)
    drawn_mean, drawn_variance = samples.mean(axis=0), samples.var(axis=0)
    shifted = np.abs(drawn_mean - expected_mean) > 0.2 * np.sqrt(expected_variance)
    scaled = np.abs(np.log(drawn_variance / expected_variance)) > math.log(1.5)
    _expect(
        not np.any(shifted | scaled),
        what,
        f"{density.described} does not match its sampler: its draws have mean {np.round(drawn_mean, 3).tolist()} and "
        f"variance {np.round(drawn_variance, 3).tolist()}, the density (by importance sampling) "
        f"{np.round(expected_mean, 3).tolist()} and {np.round(expected_variance, 3).tolist()} ({density.fix})",
    )


def _check_against_reference(density: _Density, space: CodeSpace, what: str) -> None:
    """``E[p(z)/r(z)] = 1`` for codes ``z`` from the space's reference ``r``, and the draws' mean and variance
    are the density's, weighed so: ``check_prior`` and ``check_bottleneck`` given ``codes=``."""
    assert density.log_density is not None
    samples = density.samples
    codes = space.sample(PROPOSAL_SAMPLES, samples.shape[1], np.random.default_rng(7))
    ratios = _expect_normalised(
        density,
        codes,
        space.log_density(codes),
        what,
        f"on {space.name}: the mean of p(z)/r(z) over {len(codes)} codes z of its reference distribution r",
    )
    expected_mean, expected_variance = _weighed_moments(ratios, codes)
    drawn_mean, drawn_variance = samples.mean(axis=0), samples.var(axis=0)
    # Absolute tolerances beside the relative ones: a uniform density's mean is 0 in every dimension.
    spread = np.sqrt(expected_variance) + 0.05
    shifted = np.abs(drawn_mean - expected_mean) > 0.2 * spread
    scaled = np.abs(drawn_variance - expected_variance) > 0.5 * expected_variance + 0.01
    _expect(
        not np.any(shifted | scaled),
        what,
        f"{density.described} does not match its sampler: its draws have mean {np.round(drawn_mean, 3).tolist()} and "
        f"variance {np.round(drawn_variance, 3).tolist()}, the density (weighed against {space.name}'s reference) "
        f"{np.round(expected_mean, 3).tolist()} and {np.round(expected_variance, 3).tolist()} ({density.fix})",
    )


def _check_sampled_log_density(density: _Density, what: str) -> None:
    """Over the draws ``z`` and the log-densities ``q(z)`` given with them, ``E[r(z)/q(z)] = 1`` for a normalised
    Gaussian ``r`` narrower than the draws: ``q`` is normalised and is the density of what is drawn."""
    assert density.sampled is not None
    samples = density.samples
    latent_dim = samples.shape[1]
    if density.space is not None:
        log_reference = density.space.log_density(samples)
        reference = f"the reference distribution r of {density.space.name}"
    else:
        mean, cholesky, log_determinant = _gaussian_around(samples, 0.6)
        distance = np.sum(np.square(np.linalg.solve(cholesky, (samples - mean).T)), axis=0)
        log_reference = -0.5 * distance - latent_dim / 2 * math.log(2 * math.pi) - log_determinant
        reference = "a normalised Gaussian r"
    ratios = np.exp(log_reference - density.sampled)
    estimate, error = float(ratios.mean()), float(ratios.std() / math.sqrt(len(ratios)))
    _expect(
        math.isfinite(estimate) and abs(estimate - 1.0) <= max(0.05, 6 * error),
        what,
        f"over {len(ratios)} draws z of {density.described}, the mean of r(z)/q(z) for {reference} is "
        f"{estimate:.4f} +- {error:.4f}, not 1: the log-densities q given with the draws are not those of the "
        f"distribution drawn from ({density.fix})",
    )


def _prior_bottleneck(bottleneck: str | dict[str, Any] | None, binary: bool) -> dict[str, Any]:
    if bottleneck is None:
        return {"name": "bernoulli" if binary else "gaussian", "seed": 0}
    return {"name": bottleneck} if isinstance(bottleneck, str) else dict(bottleneck)


def _with_prior(factory: Callable[[], BasePrior], spec: dict[str, Any], latent_dim: int, what: str) -> Autoencoder:
    """A built Autoencoder whose bottleneck ``spec`` has a new prior for codes of ``latent_dim``, connected to it."""
    try:
        model = Autoencoder(bottleneck={**spec, "latent_dim": latent_dim, "prior": factory()})
        model.build((None, FEATURES))
    except Exception as error:
        raise AssertionError(
            f"{what} breaks the tfae contract: an Autoencoder whose bottleneck {spec} (latent_dim={latent_dim}) has "
            f"it as its prior fails to build: {error!r}"
        ) from error
    return model


def _prior_codes(shape: tuple[int, ...], binary: bool, seed: int, space: CodeSpace | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if space is not None:
        *leading, latent_dim = shape
        return space.sample(int(np.prod(leading)), latent_dim, rng).reshape(shape).astype("float32")
    return (rng.integers(0, 2, shape) if binary else rng.normal(size=shape)).astype("float32")


def _check_log_prob(prior: BasePrior, latent_dim: int, binary: bool, what: str, space: CodeSpace | None = None) -> None:
    """``log_prob`` of ``(batch, latent_dim)`` and ``(k, batch, latent_dim)`` codes, each scored alone."""
    codes = _prior_codes((BATCH_SIZE, latent_dim), binary, seed=3, space=space)
    values = prior.log_prob(codes)
    dtype = keras.backend.standardize_dtype(getattr(values, "dtype", type(values).__name__))
    _expect(dtype == "float32", what, f"log_prob returns {dtype}, expected float32")
    values = _numpy(values)
    _expect(
        values.shape == (BATCH_SIZE,),
        what,
        f"log_prob of codes {codes.shape} has shape {values.shape}, expected ({BATCH_SIZE},)",
    )
    _expect_finite(values, what, "log_prob")
    k = 3
    many = _prior_codes((k, BATCH_SIZE, latent_dim), binary, seed=4)
    joint = _numpy(prior.log_prob(many))
    expected = (k, BATCH_SIZE)
    shown = f"log_prob of codes {many.shape} has shape {joint.shape}, expected {expected}"
    _expect(joint.shape == expected, what, shown)
    alone = _numpy(prior.log_prob(many.reshape(-1, latent_dim))).reshape(k, BATCH_SIZE)
    _expect(
        np.allclose(joint, alone, rtol=1e-4, atol=1e-4),
        what,
        f"log_prob of codes {many.shape} gives {np.round(joint[:, :2], 4).tolist()} (first two columns), but the same "
        f"codes as {(k * BATCH_SIZE, latent_dim)} give {np.round(alone[:, :2], 4).tolist()}: score each code on its "
        "own, over its last axis",
    )
    if prior.factorizes:
        per_dimension = _numpy(prior.log_prob_per_dimension(many))
        _expect(
            per_dimension.shape == many.shape,
            what,
            f"log_prob_per_dimension of codes {many.shape} has shape {per_dimension.shape}, expected the codes' shape",
        )
        _expect(
            np.allclose(per_dimension.sum(axis=-1), joint, rtol=1e-4, atol=1e-4),
            what,
            "log_prob_per_dimension does not sum to log_prob over the last axis",
        )
    if not binary:
        (gradient,) = _gradients_of_inputs(lambda code: ops.sum(prior.log_prob(code)), [codes])
        _expect_finite(gradient, what, "the gradient of log_prob with respect to the code")


def _check_seeded_sampler(prior: BasePrior, latent_dim: int, what: str) -> None:
    """``sample(n, seed)``: ``n`` finite float32 codes, the same for a seed and others for another."""
    n = 64
    drawn = prior.sample(n, seed=0)
    dtype = keras.backend.standardize_dtype(getattr(drawn, "dtype", type(drawn).__name__))
    _expect(dtype == "float32", what, f"sample returns {dtype}, expected float32")
    first = _numpy(drawn)
    _expect(first.shape == (n, latent_dim), what, f"sample({n}) has shape {first.shape}, expected {(n, latent_dim)}")
    _expect_finite(first, what, f"sample({n})")
    again, other = _numpy(prior.sample(n, seed=0)), _numpy(prior.sample(n, seed=1))
    _expect(
        np.array_equal(first, again),
        what,
        f"sample({n}, seed=0) gives other codes on a second call: draw with the seed it is given "
        "(keras.random.normal(shape, seed=seed)), not from a generator of its own",
    )
    _expect(
        not np.array_equal(first, other),
        what,
        f"sample({n}, seed=1) gives the same codes as seed=0: it ignores its seed; draw with the seed it is given",
    )
    size = ops.convert_to_tensor(n, dtype="int32")
    try:
        from_tensor = _numpy(prior.sample(size, seed=0))
    except Exception as error:
        raise AssertionError(
            f"{what} breaks the tfae contract: sample(n) fails for n a scalar integer tensor, a batch's size in a "
            f"traced step: {error!r}. Give the shape self.sample_shape(n) returns to keras.random."
        ) from error
    _expect(
        from_tensor.shape == (n, latent_dim),
        what,
        f"sample(n) for n a scalar integer tensor holding {n} has shape {from_tensor.shape}, "
        f"expected {(n, latent_dim)}",
    )


def _objective_bottleneck(objective: BaseObjective, bottleneck: str | dict[str, Any] | None) -> dict[str, Any]:
    if bottleneck is None:
        spec: dict[str, Any] = {"name": "gaussian", "latent_dim": 2, "seed": 0}
        return spec if objective.holds_divergence else {**spec, "regularizer": "kld"}
    return {"name": bottleneck, "latent_dim": 2} if isinstance(bottleneck, str) else {"latent_dim": 2, **bottleneck}


def _compiled(model: Autoencoder, objective: BaseObjective, what: str) -> Autoencoder:
    try:
        model.compile(optimizer="adam", loss="bernoulli", objective=objective)
    except ValueError as error:
        raise AssertionError(
            f"{what}: Autoencoder.compile refuses it on the model check_objective trains: {error} Pass `bottleneck=` "
            "to name a bottleneck it accepts."
        ) from error
    return model


def _objective_terms(model: Autoencoder, x: np.ndarray, k: int) -> ObjectiveTerms:
    """The terms the model gives its objective for the batch ``x``, with ``k`` codes per sample."""
    posterior, outputs = model.forward(x, sampling="reparameterized", importance_samples=k)
    assert model.likelihood is not None
    score = model.likelihood.negative_log_likelihood
    per_code = [score(x, outputs)] if k == 1 else [score(x, outputs[index]) for index in range(k)]
    reconstruction = ops.stack([ops.cast(value, "float32") for value in per_code])
    terms = model.bottleneck.penalties(posterior.first_code())
    penalties = {name: value for name, value, is_objective in terms if not is_objective}
    return ObjectiveTerms(
        reconstruction,
        posterior,
        penalties,
        in_nats=True,
        targets=ops.convert_to_tensor(x),
        outputs=ops.expand_dims(outputs, 0) if k == 1 else outputs,
        decoder=model.decoder_network,
        likelihood=model.likelihood,
        training=True,
    )


def _check_objective_results(objective: BaseObjective, terms: ObjectiveTerms, what: str) -> None:
    """Calling it gives ``"loss"``, a finite float32 ``(batch,)``, and what ``logged`` lists, finite, and no more."""
    results = objective(terms)
    returned = type(results).__name__
    _expect(isinstance(results, dict), what, f"calling it returns {returned}, expected a dict with 'loss'")
    logged = tuple(objective.logged)
    _expect("loss" in results, what, f"calling it returns {sorted(results)}, without 'loss'")
    own_losses = ("loss", "encoder_loss") if objective.splits_gradients else ("loss",)
    missing_loss = [name for name in own_losses if name not in results]
    _expect(
        not missing_loss,
        what,
        f"its splits_gradients is true, and calling it returns {sorted(results)}, without {missing_loss}",
    )
    extra = sorted(set(results) - {*own_losses, "reconstruction_loss", *logged})
    _expect(
        not extra,
        what,
        f"calling it returns {extra}, which `logged` {logged} does not list: the history would not show them; "
        "list them in `logged`",
    )
    missing = [name for name in logged if name not in results]
    _expect(not missing, what, f"`logged` lists {missing}, which calling it does not return")
    batch = int(terms.reconstruction_loss.shape[1])
    loss = results["loss"]
    dtype = keras.backend.standardize_dtype(getattr(loss, "dtype", type(loss).__name__))
    _expect(dtype == "float32", what, f"its 'loss' is {dtype}, expected float32")
    loss = _numpy(loss)
    _expect(
        loss.shape == (batch,),
        what,
        f"its 'loss' has shape {loss.shape}, expected ({batch},), the loss of each sample (the model averages it)",
    )
    _expect_finite(loss, what, "its 'loss'")
    if objective.splits_gradients:
        encoder_loss = _numpy(results["encoder_loss"])
        _expect(
            encoder_loss.shape == (batch,),
            what,
            f"its 'encoder_loss' has shape {encoder_loss.shape}, expected ({batch},)",
        )
        _expect_finite(encoder_loss, what, "its 'encoder_loss'")
    if "reconstruction_loss" in results:
        reconstruction = _numpy(results["reconstruction_loss"])
        _expect(
            reconstruction.shape == (batch,),
            what,
            f"its 'reconstruction_loss' has shape {reconstruction.shape}, expected ({batch},), the reconstruction "
            "term of each sample",
        )
        _expect_finite(reconstruction, what, "its 'reconstruction_loss'")
    for name in logged:
        _expect_finite(_numpy(results[name]), what, f"its {name!r}")


def _single_sample(objective: BaseObjective, config: dict[str, Any], what: str) -> BaseObjective:
    """The objective with one code per sample: ``from_config`` with the entry holding ``importance_samples`` at 1."""
    k = objective.importance_samples
    if k == 1:
        return objective
    for key, value in config.items():
        if value != k or isinstance(value, bool):
            continue
        try:
            candidate = type(objective).from_config({**config, key: 1})
        except Exception:
            continue
        if candidate.importance_samples == 1:
            return candidate
    raise AssertionError(
        f"check_objective cannot build {what} with one code per sample: no entry of get_config() {config} sets "
        f"its importance_samples ({k}). Pass `single_sample=`, a callable returning it with one code per sample."
    )


def _check_single_sample(objective: BaseObjective, terms: ObjectiveTerms, what: str) -> None:
    """With one code per sample, an objective that holds the divergence is the ELBO's estimate of each sample."""
    _expect(
        objective.importance_samples == 1,
        what,
        f"single_sample() draws {objective.importance_samples} codes per sample, not 1",
    )
    loss = _numpy(objective(terms)["loss"])
    expected = _numpy(terms.reconstruction_loss[0] - terms.log_prior[0] + terms.log_posterior[0] + terms.regularization)
    _expect(
        np.allclose(loss, expected, rtol=1e-4, atol=1e-4),
        what,
        f"with one code per sample it gives the losses {np.round(loss[:4], 4).tolist()}, where the ELBO's estimate, "
        f"reconstruction_loss - log p(z) + log q(z|x) + the penalties, is {np.round(expected[:4], 4).tolist()}: an "
        "objective that holds the divergence from the prior is the negative ELBO with one code (IWAE with k=1)",
    )


def _check_refused_without_densities(factory: Callable[[], BaseObjective], what: str) -> None:
    """``compile`` refuses, naming it, an objective that needs densities on a deterministic bottleneck."""
    objective = factory()
    model = Autoencoder(bottleneck={"name": "vanilla", "latent_dim": 2})
    needs = "needs densities" if objective.needs_densities else f"draws {objective.importance_samples} codes per sample"
    try:
        model.compile(optimizer="adam", loss="bernoulli", objective=objective)
    except ValueError as error:
        names = {what, registered_name_of("objective", objective)}
        _expect(
            any(name and name in str(error) for name in names),
            what,
            f"compile refuses it on a deterministic bottleneck without naming it: {error}",
        )
        return
    raise AssertionError(
        f"{what} breaks the tfae contract: it {needs}, but compile accepts it on a model whose bottleneck (vanilla) "
        "has none: check_model must refuse it with a ValueError naming both."
    )


def _check_rows_follow_their_samples(
    regularizer: BaseRegularizer, posterior: Posterior, what: str, source: str
) -> None:
    """Changing one sample's posterior changes that sample's penalty alone, with the same random numbers."""
    batch = int(_numpy(posterior.batch_size))
    if batch < 2:
        return
    changed = batch - 1

    def with_changed_row(tensor: Any) -> np.ndarray:
        values = _numpy(tensor).copy()
        values[changed] = values[0]
        return values

    other = Posterior(
        parameters=[with_changed_row(parameter) for parameter in posterior.parameters],
        code=None if posterior.code is None else with_changed_row(posterior.code),
        bottleneck=posterior.bottleneck,
    )
    state = _state(regularizer)
    before = _numpy(regularizer.penalty(posterior, training=False))
    _restore(state)
    after = _numpy(regularizer.penalty(other, training=False))
    _restore(state)
    moved = [row for row in range(changed) if not np.isclose(before[row], after[row], rtol=TOLERANCE, atol=TOLERANCE)]
    random = regularizer.seed_generators
    same_numbers = ", with the same random numbers (its seed generators' states put back)" if random else ""
    _expect(
        not moved,
        what,
        f"changing sample {changed}'s posterior (to sample 0's) changes the per-sample {source} of samples {moved} "
        f"too{same_numbers}: one sample's penalty must depend on that sample alone (a penalty of the whole batch "
        "returns a scalar)",
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
