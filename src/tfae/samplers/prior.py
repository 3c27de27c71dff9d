"""The default sampler: codes drawn from the bottleneck's prior."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from tfae.errors import NoPriorError
from tfae.hookspecs import hookimpl
from tfae.samplers.base import BaseSampler


class PriorSampler(BaseSampler):
    """Draws codes from the bottleneck's prior (``bottleneck.sample_prior``): what ``model.sample(n)`` does.

    Right for a variational model, whose training pulls the codes towards the prior; a plain autoencoder
    has no prior, and takes a fitted sampler (``"gmm"``) instead.

    Example:

    >>> images = model.sample(16, sampler="prior", seed=0)
    """

    needs_fit = False

    def sample_codes(self, model: keras.Model, n: int, seed: int | None = None) -> Any:
        try:
            codes = model.bottleneck.sample_prior(n, seed=seed)
        except NotImplementedError:
            raise NoPriorError(
                f"The model's {type(model.bottleneck).__name__} has no prior to sample from: fit a sampler to its "
                "training codes instead, such as tfae.samplers.GaussianMixtureSampler().fit(model, x_train), and "
                "pass it as model.sample(n, sampler=...) (on the command line: tfae generate RUN --sampler gmm)."
            ) from None
        return np.asarray(keras.ops.convert_to_numpy(codes))


@hookimpl
def register_samplers(register: Callable[..., Any]) -> None:
    register(PriorSampler, name="prior")
