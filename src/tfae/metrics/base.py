"""The contract every metric fulfils, and what it is given: an ``Evaluation``."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from tfae.configurable import Configurable
from tfae.counts import checked_count
from tfae.errors import DataError
from tfae.metrics.importance import factorizes, importance_weighted_pass

#: What a metric may need beyond a model and data.
NEEDS = ("variational", "factorizing", "likelihood", "factors", "ground_truth")


class Evaluation:
    """A trained model and the data it is evaluated on: what every metric of one ``evaluate`` call sees.

    What several metrics need is computed once, when first asked for, and kept: the posterior means
    (``codes``) and the importance-weighted pass (``importance_weighted()``).

    Args:
        model: a built ``tfae.models.Autoencoder``.
        x: the samples, shape ``(n, ...)`` as the model takes them.
        factors: optional ground-truth factors of each sample, an int array of shape ``(n, num_factors)``.
        ground_truth: optional data with known factors that can render new samples (``factor_sizes``,
            ``sample_factors(n, rng)``, ``render(factors)``), such as ``tfae.datasets.DSprites``.
        samples: codes drawn per sample by sampling metrics (``k`` of the IWAE estimate).
        seed: the seed of every random draw, so that an evaluation is reproducible.
        batch_size: samples per batch.
        progress: show a progress bar for long passes.
    """

    def __init__(
        self,
        model: Any,
        x: np.ndarray,
        factors: np.ndarray | None = None,
        ground_truth: Any = None,
        samples: int = 1000,
        seed: int = 0,
        batch_size: int = 64,
        progress: bool = False,
    ) -> None:
        if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
            raise ValueError(
                f"`samples` must be an integer >= 1 (codes drawn per sample). Received: samples={samples!r}"
            )
        checked_count(batch_size, "batch_size")
        with np.errstate(over="ignore"):  # a value past float32's range becomes inf, refused next
            x = np.asarray(x, dtype="float32")
        finite = np.isfinite(x)
        if not np.all(finite):
            bad = np.flatnonzero(~finite.reshape(len(x), -1).all(axis=1))
            raise DataError(
                f"`x` must be finite: {np.sum(~finite)} of its values, in {bad.size} of its {len(x)} samples "
                f"(the first is sample {bad[0]}), are NaN or inf (once cast to float32), and no metric can score "
                "them. Remove or repair those samples (numpy.isfinite finds them)."
            )
        if factors is not None:
            factors = np.asarray(factors)
            if factors.ndim == 1:
                factors = factors[:, None]
            if factors.ndim != 2 or len(factors) != len(x):
                raise ValueError(
                    f"`factors` must hold one row of factors per sample, shape ({len(x)}, num_factors) for the "
                    f"{len(x)} samples given. Received: factors of shape {factors.shape}"
                )
        self.model: Any = model
        self.x: np.ndarray = x
        self.factors: np.ndarray | None = factors
        self.ground_truth: Any = ground_truth
        self.samples: int = int(samples)
        self.seed: int = int(seed)
        self.batch_size: int = int(batch_size)
        self.progress: bool = bool(progress)
        self._cache: dict[str, Any] = {}

    @property
    def variational(self) -> bool:
        """Whether the model's bottleneck gives log-densities under its posterior and prior."""
        return bool(getattr(self.model.bottleneck, "has_densities", False))

    @property
    def codes(self) -> np.ndarray:
        """Each sample's code at inference (a variational bottleneck's posterior mean), shape ``(n, latent_dim)``."""
        if "codes" not in self._cache:
            self._cache["codes"] = np.asarray(self.model.encoder.predict(self.x, batch_size=self.batch_size, verbose=0))
        return self._cache["codes"]

    def encode(self, observations: np.ndarray) -> np.ndarray:
        """The codes of ``observations`` at inference, by the model's encoder (what the ground-truth scores call)."""
        return np.asarray(self.model.encoder.predict(observations, batch_size=self.batch_size, verbose=0))

    def posterior_parameters(self) -> tuple[np.ndarray, ...]:
        """Each sample's posterior parameters (a Gaussian's mean and log-variance), computed once: a tuple of
        float arrays of shape ``(n, ...)``, as the bottleneck's ``distribution_parameters`` gives them."""
        if "posterior_parameters" not in self._cache:
            from keras import ops

            bottleneck, features = self.model.bottleneck, self.model.feature_network
            batches = []
            for start in range(0, len(self.x), self.batch_size):
                batch = features(self.x[start : start + self.batch_size], training=False)
                batches.append([ops.convert_to_numpy(value) for value in bottleneck.distribution_parameters(batch)])
            self._cache["posterior_parameters"] = tuple(np.concatenate(parts) for parts in zip(*batches))
        return self._cache["posterior_parameters"]

    def importance_weighted(self) -> dict[str, np.ndarray]:
        """The importance-weighted pass over the data, computed once: see ``tfae.metrics.importance``."""
        if "importance_weighted" not in self._cache:
            self._cache["importance_weighted"] = importance_weighted_pass(
                self.model, self.x, self.samples, self.seed, self.batch_size, self.progress
            )
        return self._cache["importance_weighted"]


class BaseMetric(Configurable):
    """A number (or a few) that describes a trained model on data, registered by name like any component.

    A subclass implements ``compute(evaluation)``, returning a float or a dict of floats (which ``evaluate``
    reports as ``<name>`` or ``<name>_<key>``), and lists in ``needs`` what it cannot do without:
    ``"variational"`` (log-densities: a variational bottleneck), ``"factorizing"`` (a posterior and a prior
    that factorise over dimensions), ``"likelihood"`` (a model compiled with a tfae
    likelihood, so that losses are in nats), ``"factors"`` (ground-truth factors of the data), or
    ``"ground_truth"`` (data that can render samples with chosen factors). ``evaluate`` refuses a metric whose
    needs are not met, naming them.

    Example:

    ```python
    class CodeNorm(BaseMetric):
        # The mean length of the codes.
        def compute(self, evaluation):
            return float(np.mean(np.linalg.norm(evaluation.codes, axis=-1)))
    ```
    """

    needs: ClassVar[tuple[str, ...]] = ()

    def compute(self, evaluation: Evaluation) -> float | dict[str, float]:
        raise NotImplementedError

    def missing(self, evaluation: Evaluation) -> list[str]:
        """What this metric needs that ``evaluation`` lacks, in words; empty when it can be computed."""
        lacking = []
        for need in self.needs:
            if need == "variational" and not evaluation.variational:
                bottleneck = type(evaluation.model.bottleneck).__name__
                lacking.append(f"a variational bottleneck (this model's is {bottleneck}, which gives no densities)")
            elif need == "factorizing" and evaluation.variational and not factorizes(evaluation.model.bottleneck):
                lacking.append(
                    "a posterior and a prior that factorise over dimensions (this model's give joint densities only)"
                )
            elif need == "likelihood" and getattr(evaluation.model, "likelihood", None) is None:
                lacking.append("a model compiled with a tfae likelihood such as 'bernoulli' or 'gaussian'")
            elif need == "factors" and evaluation.factors is None:
                lacking.append("the data's ground-truth factors (`factors=`)")
            elif need == "ground_truth" and evaluation.ground_truth is None:
                lacking.append("data that renders samples of chosen factors (`ground_truth=`, such as dSprites)")
        return lacking
