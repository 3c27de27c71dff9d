"""Evaluating a trained autoencoder: held-out bounds and log-likelihoods, latent usage, disentanglement.

``evaluate(model, x)`` computes registered metrics (the ``"metric"`` kind: tfae's, and any a plugin adds) and
returns a dict of floats. Each built-in metric is also a plain function of arrays, imported here:

- ``importance_weighted_log_likelihood(model, x, samples)``: the IWAE-k estimate of ``log p(x)``;
- ``active_units(codes)``: Burda et al.'s count of the dimensions in use;
- ``mig``, ``sap``, ``dci`` of codes and factors; ``factor_vae_score`` and ``beta_vae_score`` of an encoder
  on data that renders chosen factors (``tfae.datasets.DSprites``).

Example:

```python
results = evaluate(model, x_test, importance_samples=1000)
results["log_likelihood"], results["negative_elbo"], results["active_units"]
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tfae.metrics.active_units import active_units
from tfae.metrics.base import BaseMetric, Evaluation
from tfae.metrics.beta_vae_score import beta_vae_score
from tfae.metrics.dci import dci
from tfae.metrics.factor_vae_score import factor_vae_score
from tfae.metrics.log_likelihood import importance_weighted_log_likelihood
from tfae.metrics.mig import mig
from tfae.metrics.sap import sap

#: What ``evaluate`` computes by default, each where the model and data allow it.
DEFAULT_METRICS = (
    "negative_elbo",
    "log_likelihood",
    "reconstruction_loss",
    "reconstruction_error",
    "active_units",
    "kl_per_dimension",
    "mig",
    "sap",
    "dci",
    "factor_vae_score",
    "beta_vae_score",
)


def evaluate(
    model: Any,
    x: Any,
    factors: Any = None,
    metrics: Iterable[str | Mapping[str, Any] | BaseMetric] | None = None,
    samples: int = 1000,
    seed: int = 0,
    ground_truth: Any = None,
    batch_size: int = 64,
    progress: bool = False,
    importance_samples: int | None = None,
) -> dict[str, float]:
    """Computes metrics of a trained model on data and returns them by name.

    Args:
        model: a trained ``tfae.models.Autoencoder``.
        x: the samples to evaluate on (held-out data), shape ``(n, ...)`` as the model takes them.
        factors: optional ground-truth factors of each sample, ints of shape ``(n, num_factors)``: adds
            ``mig``, ``sap`` and ``dci``.
        metrics: the metrics, by registered name, dict or instance; ``None`` computes every default metric
            that the model and data allow (``DEFAULT_METRICS``). A metric named here that cannot be computed
            (a log-likelihood of a deterministic model, MIG without factors) is an error saying what it needs.
        samples: the older name of ``importance_samples``, still taken.
        seed: the seed of every random draw, a whole number from 0 to 2**32 - 1 (``tfae.random.MAX_SEED``).
        ground_truth: optional data that renders samples of chosen factors (``tfae.datasets.DSprites``): adds
            ``factor_vae_score`` and ``beta_vae_score``.
        batch_size: samples per batch.
        progress: say which metric is being computed, and show a progress bar for the long passes.
        importance_samples: codes drawn per data row for the sampled metrics: ``k`` of the IWAE estimate,
            recorded in the results as ``importance_samples``; ``None``: ``samples``.

    Returns:
        A dict of floats: ``negative_elbo`` (nats per sample, a bound on ``-log p(x)``), ``log_likelihood``
        (the IWAE-k estimate of ``log p(x)``, nats per sample) with ``importance_samples``,
        ``reconstruction_loss``, ``reconstruction_error``, ``active_units``, ``kl_per_dimension_<d>``, and
        with factors ``mig``, ``sap``, ``dci_disentanglement``, ``dci_completeness``, ``dci_informativeness``.

    Raises:
        ValueError: data of the wrong shape for the model, factors of the wrong length, samples < 1, a seed
            that Keras' seeds cannot take, an unknown metric name (with suggestions), or a named metric whose
            needs are not met.
    """
    from tfae.models.inputs import check_samples
    from tfae.plugins import resolve
    from tfae.random import check_seed

    check_samples(model, x, "evaluate")
    seed = check_seed(seed)
    samples = samples if importance_samples is None else importance_samples
    evaluation = Evaluation(model, x, factors, ground_truth, samples, seed, batch_size, progress)
    explicit = metrics is not None
    chosen = list(DEFAULT_METRICS) if metrics is None else list(metrics)
    # Every metric is resolved and checked before any is computed: a bad request fails at once, not after hours.
    runnable: list[tuple[str, BaseMetric]] = []
    for spec in chosen:
        metric = resolve("metric", spec)
        if not isinstance(metric, BaseMetric):
            raise ValueError(f"A metric must be a tfae metric (a BaseMetric, its name or a dict). Received: {spec!r}")
        name = _name(metric)
        missing = metric.missing(evaluation)
        if missing and explicit:
            raise ValueError(f"The metric {name!r} needs {' and '.join(missing)}.")
        if not missing:
            runnable.append((name, metric))
    results: dict[str, float] = {}
    for position, (name, metric) in enumerate(runnable, start=1):
        if progress:
            print(f"tfae: metric {position} of {len(runnable)}: {name}", flush=True)
        value = metric.compute(evaluation)
        if isinstance(value, Mapping):
            results.update({f"{name}_{key}": float(item) for key, item in value.items()})
        else:
            results[name] = float(value)
        if name in ("log_likelihood", "negative_elbo", "reconstruction_loss", "kl_per_dimension"):
            results["importance_samples"] = float(evaluation.samples)
    return results


def nearest_neighbours(codes: Any, query: Any, k: int = 10, exclude: int | None = None) -> tuple[Any, Any]:
    """The ``k`` rows of ``codes`` nearest to ``query`` (Euclidean), nearest first: a search in latent space.

    Args:
        codes: the codes to search, ``(rows, ...)``, such as ``model.encoder.predict(x)``; each row is
            flattened.
        query: one code, of a row's shape.
        k: how many neighbours; fewer when ``codes`` holds fewer rows.
        exclude: a row to leave out, such as the query's own.

    Returns:
        ``(indices, distances)``: NumPy arrays of the neighbours' rows and their distances to ``query``; rows
        at the same distance come in their order in ``codes``.

    Example:

    ```python
    codes = model.encoder.predict(x, verbose=0)
    indices, distances = nearest_neighbours(codes, codes[0], k=5, exclude=0)
    ```
    """
    import numpy as np

    codes = np.asarray(codes)
    codes = codes.reshape(len(codes), -1)
    distances = np.linalg.norm(codes - np.asarray(query).reshape(1, -1), axis=1)
    if exclude is not None:
        distances[exclude] = np.inf
    kept = len(codes) - (exclude is not None)
    nearest = np.argsort(distances, kind="stable")[: max(0, min(k, kept))]
    return nearest, distances[nearest]


def results_record(
    results: Mapping[str, float],
    model: str,
    data: Any,
    data_samples: int,
    held_out: bool,
    importance_samples: int,
    seed: int,
) -> dict[str, Any]:
    """The JSON record of an evaluation that ``tfae evaluate --output`` writes: what was evaluated, on what,
    with which draws, and the results, a result that is not finite as ``None`` (JSON's ``null``).

    Args:
        results: ``evaluate``'s results.
        model: the model file's path.
        data: the data's spec (a dataset's name or table, or a path).
        data_samples: how many data rows were evaluated.
        held_out: whether they are the rows that the model's run held out.
        importance_samples: the codes drawn per data row (``evaluate``'s ``samples``); recorded as
            ``"samples"``, the key that records written before kept.
        seed: the random seed of every draw.
    """
    import math

    from tfae.version import __version__

    return {
        "model": str(model),
        "data": data,
        "data_samples": data_samples,
        "held_out": held_out,
        "samples": importance_samples,
        "seed": seed,
        "tfae_version": __version__,
        **{name: value if math.isfinite(value) else None for name, value in results.items()},
    }


def _name(metric: BaseMetric) -> str:
    """The metric's registered name, what its results are called; an unregistered one's class name."""
    from tfae.serialization import registered_name_of

    return registered_name_of("metric", metric) or type(metric).__name__


__all__ = [
    "evaluate",
    "nearest_neighbours",
    "results_record",
    "DEFAULT_METRICS",
    "Evaluation",
    "BaseMetric",
    "importance_weighted_log_likelihood",
    "active_units",
    "mig",
    "sap",
    "dci",
    "factor_vae_score",
    "beta_vae_score",
]
