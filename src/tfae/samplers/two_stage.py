"""A second VAE fitted to the training codes (Dai and Wipf 2019's two-stage VAE)."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from tfae.counts import checked_count, checked_optional_count
from tfae.hookspecs import hookimpl
from tfae.random import check_seed
from tfae.samplers.base import BaseSampler


class TwoStageSampler(BaseSampler):
    """A second, small VAE trained on the codes of the training data, whose prior samples become the codes
    (Dai and Wipf 2019, "Diagnosing and Enhancing VAE Models"; pythae's ``TwoStageVAESampler``).

    A VAE's aggregate posterior seldom fills its prior, so prior samples decode to blurs where the codes of
    real data never go. The second stage learns the codes' distribution: a dense VAE with a Gaussian
    likelihood whose variance is learned (the paper's gamma, here ``variance="shared"``) on the standardised
    codes. Sampling draws from the second stage's model (its prior, its decoder, then its Gaussian of variance
    gamma) and undoes the standardisation.

    Args:
        latent_dim: the second VAE's code size; ``None`` takes the first's, as the paper does.
        hidden: the second VAE's hidden layer sizes (the paper: 3 of 1024; small codes need far fewer).
        epochs: how long the second VAE trains.
        batch_size: its batch size.
        learning_rate: its Adam learning rate.
        seed: Keras' global seed is set to it before the second VAE is made, for the same sampler every time.

    Example:

    >>> sampler = TwoStageSampler(epochs=50).fit(model, x_train)
    >>> images = model.sample(64, sampler=sampler, seed=0)
    """

    needs_fit = True

    def __init__(
        self,
        latent_dim: int | None = None,
        hidden: Sequence[int] = (64, 64),
        epochs: int = 100,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        checked_count(epochs, "epochs")
        checked_count(batch_size, "batch_size")
        checked_optional_count(latent_dim, "latent_dim")
        hidden = list(hidden)
        if any(isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1 for size in hidden):
            raise ValueError(f"`hidden` must be a list of positive integers. Received: hidden={hidden!r}")
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real) or not 0 < learning_rate < 1:
            raise ValueError(
                f"`learning_rate` must be a number between 0 and 1. Received: learning_rate={learning_rate!r}"
            )
        self.second_latent_dim: int | None = None if latent_dim is None else int(latent_dim)
        self.hidden: list[int] = [int(size) for size in hidden]
        self.epochs: int = int(epochs)
        self.batch_size: int = int(batch_size)
        self.learning_rate: float = float(learning_rate)
        self.seed: int = check_seed(seed)
        self.second_stage: Any = None
        self.center: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit_codes(self, codes: np.ndarray) -> None:
        from tfae.models.layouts import LayoutAutoencoder

        self.center = codes.mean(axis=0)
        # A dimension the encoder left constant (an inactive one) keeps its value: scale 1, not 0.
        spread = codes.std(axis=0)
        self.scale = np.where(spread > 1e-8, spread, 1.0)
        standardized = ((codes - self.center) / self.scale).astype("float32")
        keras.utils.set_random_seed(self.seed)
        self.second_stage = LayoutAutoencoder(
            bottleneck={
                "name": "gaussian",
                "latent_dim": self.second_latent_dim or codes.shape[1],
                "regularizer": "kld",
            },
            layout="dense",
            hidden=self.hidden,
            likelihood={"name": "gaussian", "variance": "shared"},
            name="second_stage",
        )
        self.second_stage.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        self.second_stage.fit(
            standardized, epochs=self.epochs, batch_size=min(self.batch_size, len(standardized)), verbose=0
        )

    def sample_codes(self, model: keras.Model, n: int, seed: int | None = None) -> Any:
        # A draw of the second stage's own model, u ~ N(0, I) then z ~ N(decoder(u), gamma I), not only the
        # decoder's mean: where the codes are close to Gaussian already (a VAE's often are), the second
        # stage rightly explains them by gamma and a decoder that varies little, and its means alone would
        # huddle around the centre.
        generator = np.random.default_rng(seed)
        means = np.asarray(self.second_stage.sample(n, seed=int(generator.integers(2**31))), dtype="float64")
        variance = np.exp(np.asarray(keras.ops.convert_to_numpy(self.second_stage.likelihood.log_variance), "float64"))
        standardized = means + np.sqrt(variance) * generator.standard_normal(means.shape)
        return standardized * self.scale + self.center

    def get_config(self) -> dict[str, Any]:
        return {
            "latent_dim": self.second_latent_dim,
            "hidden": list(self.hidden),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }


@hookimpl
def register_samplers(register: Callable[..., Any]) -> None:
    register(TwoStageSampler, name="two_stage", aliases=["two_stage_vae"])
