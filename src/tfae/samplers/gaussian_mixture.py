"""A Gaussian mixture fitted to the training codes (scikit-learn's GaussianMixture)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from tfae.counts import checked_count
from tfae.hookspecs import hookimpl
from tfae.random import check_seed
from tfae.samplers.base import BaseSampler

COVARIANCES = ("full", "tied", "diag", "spherical")


class GaussianMixtureSampler(BaseSampler):
    """A Gaussian mixture fitted to the codes of the training data, then sampled (Ghosh et al. 2020's ex-post
    density estimation; pythae's ``GaussianMixtureSampler``).

    It fits ``sklearn.mixture.GaussianMixture`` (EM, ``n_init`` restarts) to each training sample's posterior
    mean, so it gives a plain autoencoder samples, and often gives a VAE better ones than its prior where the
    aggregate posterior does not fill the prior. Needs scikit-learn: ``pip install "tfae[gmm]"``.

    Args:
        components: the number of Gaussians (at most the number of training samples).
        covariance: ``"full"`` (default), ``"tied"``, ``"diag"`` or ``"spherical"`` (scikit-learn's
            ``covariance_type``).
        seed: the seed of the fit's initialisation, for the same mixture every time.

    Example:

    >>> sampler = GaussianMixtureSampler(components=10).fit(model, x_train)
    >>> images = model.sample(64, sampler=sampler, seed=0)
    """

    needs_fit = True

    def __init__(self, components: int = 10, covariance: str = "full", seed: int = 0) -> None:
        super().__init__()
        checked_count(components, "components", meaning="the number of Gaussians")
        if covariance not in COVARIANCES:
            raise ValueError(
                f"`covariance` must be one of {', '.join(COVARIANCES)}. Received: covariance={covariance!r}"
            )
        self.components: int = int(components)
        self.covariance: str = covariance
        self.seed: int = check_seed(seed)
        self.mixture: Any = None

    def check_codes(self, model: keras.Model, codes: np.ndarray) -> None:
        super().check_codes(model, codes)
        if len(codes) < self.components:
            raise ValueError(
                f"A mixture of {self.components} Gaussians needs at least as many codes; the data gave {len(codes)}: "
                "fit it to more samples or use fewer components."
            )

    def fit_codes(self, codes: np.ndarray) -> None:
        try:
            from sklearn.mixture import GaussianMixture
        except ImportError:
            raise ImportError(
                'The gmm sampler fits scikit-learn\'s GaussianMixture: pip install "tfae[gmm]" (or scikit-learn).'
            ) from None
        self.mixture = GaussianMixture(
            n_components=self.components, covariance_type=self.covariance, random_state=self.seed, n_init=3
        ).fit(codes)

    def sample_codes(self, model: keras.Model, n: int, seed: int | None = None) -> Any:
        # scikit-learn draws with its `random_state` and returns the samples grouped by component: seed it
        # per call, then shuffle, so that a grid of samples mixes the components.
        generator = np.random.default_rng(seed)
        self.mixture.random_state = int(generator.integers(2**31))
        codes, _ = self.mixture.sample(n)
        return codes[generator.permutation(n)]

    def get_config(self) -> dict[str, Any]:
        return {"components": self.components, "covariance": self.covariance, "seed": self.seed}


@hookimpl
def register_samplers(register: Callable[..., Any]) -> None:
    register(GaussianMixtureSampler, name="gmm", aliases=["gaussian_mixture"])
