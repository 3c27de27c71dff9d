"""What the FactorVAE and beta-VAE scores share: data generated from known factors (``GroundTruthData``),
drawn and encoded in chunks, and the metric that scores a model's encoder on it (``GroundTruthScore``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import numpy as np

from tfae.metrics.base import BaseMetric, Evaluation
from tfae.metrics.discretize import check_codes

OBSERVATIONS_PER_CALL = 4096
"""How many observations are rendered and encoded at once: enough to keep ``encode`` (a Keras ``predict``)
busy, few enough that 64x64 images fit in memory."""


class GroundTruthData(Protocol):
    """A dataset generated from known factors, which the metrics sample with some factors held fixed.

    ``factor_sizes`` gives the number of values of each factor; ``sample_factors(n, rng)`` returns an int
    array of shape ``(n, num_factors)`` with values in ``0..size-1``, drawn with the NumPy ``Generator``
    ``rng``; ``render(factors)`` returns one observation per row of ``factors``.
    """

    @property
    def factor_sizes(self) -> tuple[int, ...]: ...

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def render(self, factors: np.ndarray) -> Any: ...


def sample_factors(data: GroundTruthData, n: int, rng: np.random.Generator) -> np.ndarray:
    """``data.sample_factors(n, rng)``, checked to be an int array of shape ``(n, num_factors)``."""
    factors = np.asarray(data.sample_factors(n, rng))
    expected = (n, len(data.factor_sizes))
    if factors.shape != expected or not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(
            f"`data.sample_factors({n}, rng)` must return an int array of shape {expected}, one column per entry "
            f"of factor_sizes={tuple(data.factor_sizes)}. Received: shape={factors.shape}, dtype={factors.dtype}"
        )
    return factors


def encode_factors(encode: Callable[[Any], Any], data: GroundTruthData, factors: np.ndarray) -> np.ndarray:
    """The codes of the observations ``data`` renders from ``factors``, rendered and encoded in chunks of at
    most ``OBSERVATIONS_PER_CALL``; a float array of shape ``(len(factors), latent_dim)``."""
    codes = []
    for start in range(0, factors.shape[0], OBSERVATIONS_PER_CALL):
        chunk = factors[start : start + OBSERVATIONS_PER_CALL]
        chunk_codes = np.asarray(encode(data.render(chunk)))
        if chunk_codes.ndim != 2 or chunk_codes.shape[0] != chunk.shape[0]:
            raise ValueError(
                "`encode` must return one code per observation, an array of shape (batch, latent_dim). "
                f"Received: shape={chunk_codes.shape} for a batch of {chunk.shape[0]} observations."
            )
        codes.append(check_codes(chunk_codes, "encode(observations)"))
    return np.concatenate(codes)


def chunk_sizes(num_items: int, items_size: int) -> list[int]:
    """Splits ``num_items`` items of ``items_size`` observations each into chunks of at most
    ``OBSERVATIONS_PER_CALL`` observations (at least one item each); returns the items per chunk."""
    per_chunk = max(1, OBSERVATIONS_PER_CALL // items_size)
    return [min(per_chunk, num_items - start) for start in range(0, num_items, per_chunk)]


class GroundTruthScore(BaseMetric):
    """A score of the model's encoder on data that renders chosen factors: the FactorVAE and beta-VAE scores.

    Subclasses set ``score``, the plain function (``factor_vae_score``, ``beta_vae_score``).

    Args:
        num_train: the points that train the score's classifier (disentanglement_lib: 10,000).
        num_eval: the points it is scored on (5,000).
        batch_size: the observations per point.
    """

    needs = ("ground_truth",)
    score: ClassVar[Callable[..., float]]

    def __init__(self, num_train: int = 10000, num_eval: int = 5000, batch_size: int = 64) -> None:
        self.num_train, self.num_eval, self.batch_size = num_train, num_eval, batch_size

    def compute(self, evaluation: Evaluation) -> float:
        encode, data = evaluation.encode, evaluation.ground_truth
        return type(self).score(encode, data, self.num_train, self.num_eval, self.batch_size, seed=evaluation.seed)

    def get_config(self) -> dict[str, Any]:
        return {"num_train": self.num_train, "num_eval": self.num_eval, "batch_size": self.batch_size}
