"""The contract every post-hoc sampler fulfils: codes for a trained model's decoder to turn into new samples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tfae.configurable import Configurable
from tfae.counts import checked_count

if TYPE_CHECKING:
    import keras
    from typing_extensions import Self


class BaseSampler(Configurable):
    """Draws codes for a trained autoencoder's decoder, so that ``model.sample(n, sampler=...)`` generates.

    The default, ``"prior"``, draws from the bottleneck's prior, which is right when training made the codes
    follow it. A post-hoc sampler (Ghosh et al. 2020; Dai and Wipf 2019; pythae's samplers) is instead fitted
    to the codes of the training data after training: ``sampler.fit(model, x_train)`` encodes ``x_train``
    (each sample's posterior mean) and calls ``fit_codes``; then ``model.sample(n, sampler=sampler)`` decodes
    ``sampler.sample(model, n, seed)``. That also gives a plain (non-variational) autoencoder samples.

    A subclass sets ``needs_fit`` and implements ``fit_codes`` (when it needs the codes) and ``sample_codes``,
    and returns its constructor's arguments from ``get_config``.

    Example:

    ```python
    class GaussianSampler(BaseSampler):
        # One Gaussian with the codes' mean and covariance.
        needs_fit = True

        def fit_codes(self, codes):
            self.mean, self.covariance = codes.mean(axis=0), np.cov(codes, rowvar=False)

        def sample_codes(self, model, n, seed=None):
            return np.random.default_rng(seed).multivariate_normal(self.mean, self.covariance, size=n)
    ```
    """

    #: Whether it must be fitted to a model's training codes (``fit``) before it draws.
    needs_fit: ClassVar[bool] = True

    def __init__(self) -> None:
        self.latent_dim: int | None = None

    @property
    def fitted(self) -> bool:
        """Whether ``fit`` has run (always true for a sampler that needs no fitting)."""
        return not self.needs_fit or self.latent_dim is not None

    def fit(self, model: keras.Model, x: Any, batch_size: int = 256) -> Self:
        """Fits the sampler to the codes of ``x`` under ``model`` (each sample's posterior mean); returns itself.

        Args:
            model: a trained ``tfae.models.Autoencoder``.
            x: the samples whose codes to fit (the training data), an array of the model's input shape.
            batch_size: how many samples the encoder takes at once.
        """
        codes = encode(model, x, batch_size)
        self.check_codes(model, codes)
        self.fit_codes(codes)
        self.latent_dim = int(codes.shape[1])
        return self

    def check_codes(self, model: keras.Model, codes: np.ndarray) -> None:
        """Raises ``ValueError`` when this sampler cannot fit ``model``'s codes; by default, finite codes pass."""
        if not np.all(np.isfinite(codes)):
            raise ValueError(
                f"The model's codes of the data are not all finite ({int(np.sum(~np.isfinite(codes)))} values are "
                f"NaN or infinite), so the {type(self).__name__} cannot be fitted to them: check the data and the "
                "model's training."
            )
        if getattr(model.bottleneck, "distribution", None) == "bernoulli":
            raise ValueError(
                f"The model's {type(model.bottleneck).__name__} makes binary codes, and the {type(self).__name__} "
                "draws real ones that its decoder never saw: sample from its prior (sampler='prior')."
            )

    def fit_codes(self, codes: np.ndarray) -> None:
        """Fits the sampler to ``codes``, float64, shape ``(samples, latent_dim)``."""

    def sample(self, model: keras.Model, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` codes for ``model``'s decoder, shape ``(n, latent_dim)``, float32; the same seed draws the same."""
        if not self.fitted:
            raise ValueError(
                f"The {type(self).__name__} draws codes like the training data's, so it must be fitted to them "
                "first: sampler.fit(model, x_train), then model.sample(n, sampler=sampler)."
            )
        n = checked_count(n, "n", subject="The number of samples")
        latent_dim = model_latent_dim(model)
        if self.needs_fit and latent_dim != self.latent_dim:
            raise ValueError(
                f"The {type(self).__name__} was fitted to codes of {self.latent_dim} dimensions, and this model's "
                f"have {latent_dim}: fit it to this model's codes (sampler.fit(model, x_train))."
            )
        codes = np.asarray(self.sample_codes(model, n, seed), dtype="float32")
        return codes.reshape(n, latent_dim)

    def sample_codes(self, model: keras.Model, n: int, seed: int | None = None) -> Any:
        """Draws ``n`` codes, shape ``(n, latent_dim)``."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, so that ``from_config`` builds the same (unfitted) sampler."""
        return {}


def model_latent_dim(model: keras.Model) -> int:
    """The size of ``model``'s code, after checking that it has one to sample."""
    bottleneck = getattr(model, "bottleneck", None)
    latent_dim = getattr(bottleneck, "latent_dim", None)
    if latent_dim is None:
        raise ValueError(
            f"{type(model).__name__} has no bottleneck with a code size, so there are no codes to sample: "
            "samplers work on a tfae Autoencoder."
        )
    return int(latent_dim)


def encode(model: keras.Model, x: Any, batch_size: int = 256) -> np.ndarray:
    """The codes of ``x`` under ``model`` (each sample's posterior mean), float64, shape ``(samples, latent_dim)``."""
    from tfae.models.inputs import check_samples

    latent_dim = model_latent_dim(model)
    if getattr(model, "encoder", None) is None:
        raise ValueError(
            f"{type(model).__name__} has no encoder yet, so it has no codes to fit a sampler to: train it (fit) "
            "or load a trained one first."
        )
    check_samples(model, x, "a sampler's fit")
    checked_count(batch_size, "batch_size")
    codes = np.asarray(model.encoder.predict(x, batch_size=batch_size, verbose=0), dtype="float64")
    return codes.reshape(len(codes), latent_dim)
