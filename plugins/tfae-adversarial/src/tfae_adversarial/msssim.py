"""Multi-scale structural similarity (Wang, Simoncelli & Bovik 2003) as a reconstruction loss, pythae's MSSSIM_VAE.

MS-SSIM compares two images by their local means, contrasts and structures at several scales, halving the
images between scales. For images ``x`` and ``y`` in ``[0, data_range]``, local statistics under a Gaussian
window (``mu``: weighted means, ``sigma``: weighted standard deviations and covariance), and
``C1 = (0.01 * data_range) ** 2``, ``C2 = (0.03 * data_range) ** 2``:

    l(x, y)  = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)          luminance, Eq. (1)
    cs(x, y) = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)     contrast times structure, Eqs. (2)-(3)
                                                                    with C3 = C2 / 2
    SSIM     = mean over windows of l * cs                          Wang et al. 2004, Eq. (13), averaged
    MS-SSIM  = SSIM_M ** w_M * prod over j < M of cs_j ** w_j       Eq. (7), alpha_M = beta_j = gamma_j = w_j

where ``cs_j`` is the mean of ``cs`` at scale ``j`` (the image average-pooled ``j - 1`` times by 2 x 2) and
``w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)`` (Section 3.1). The windows are "valid": each lies inside
the image, as in Wang's reference code, so each scale must be at least as large as the window.

This is not a likelihood. A tfae likelihood is ``-log p(x | z)`` in nats, and tfae relies on it: an
objective that ``needs_likelihood`` (IWAE) reads it as ``log p(x | z)``, and ``tfae evaluate`` reports the
ELBO and ``log p(x)`` from it. ``1 - MS-SSIM`` is a similarity score in [0, 1] with no density behind it. So
it is an objective, ``"msssim"``, which replaces the reconstruction term of the loss and leaves the compiled
likelihood to map the decoder's output to pixels (and to what ``tfae evaluate`` reports).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from keras import ops

import tfae
from tfae.objectives import BaseObjective, ObjectiveTerms

#: Wang et al.'s weights of the five scales (Section 3.1), finest first.
WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: The constants of C1 = (K1 * data_range) ** 2 and C2 = (K2 * data_range) ** 2 (Wang et al. 2004).
K1, K2 = 0.01, 0.03


def gaussian_window(size: int, sigma: float) -> np.ndarray:
    """The ``size`` x ``size`` Gaussian window of standard deviation ``sigma`` pixels, summing to 1 (float32)."""
    offsets = np.arange(size, dtype="float64") - (size - 1) / 2.0
    line = np.exp(-(offsets**2) / (2.0 * sigma**2))
    window = np.outer(line, line)
    return (window / window.sum()).astype("float32")


def scales_that_fit(height: int, width: int, window_size: int) -> int:
    """How many scales images of ``height`` x ``width`` have whose every scale holds the window.

    Scale ``j`` (from 1) is the image average-pooled ``j - 1`` times, ``floor(side / 2 ** (j - 1))`` pixels a
    side, and needs at least ``window_size`` of them.
    """
    scales, side = 0, min(height, width)
    while side >= window_size:
        scales, side = scales + 1, side // 2
    return scales


def wang_weights(scales: int) -> list[float]:
    """Wang et al.'s weights of the first ``scales`` scales, rescaled to sum to 1 (rounded to 4 digits)."""
    first = WANG_WEIGHTS[:scales]
    return [round(weight / sum(first), 4) for weight in first]


def _images(values: Any, what: str) -> Any:
    """``values`` as float32 images with a channel axis: ``(batch, height, width, channels)``."""
    values = ops.cast(ops.convert_to_tensor(values), "float32")
    if len(values.shape) == 3:
        return ops.expand_dims(values, -1)
    if len(values.shape) != 4:
        raise ValueError(
            f"{what} compares images, of shape (batch, height, width) or (batch, height, width, channels). "
            f"Received shape {tuple(values.shape)}: give the model the images unflattened "
            "(images.reshape(-1, height, width))."
        )
    return values


def _statistics(x: Any, y: Any, window: np.ndarray, data_range: float) -> tuple[Any, Any]:
    """The mean over each image (and channel) of the SSIM map and of the contrast-structure map, each ``(batch,)``."""
    channels = int(x.shape[-1])
    kernel = ops.convert_to_tensor(np.tile(window[:, :, None, None], (1, 1, channels, 1)))

    def local(values: Any) -> Any:
        return ops.depthwise_conv(values, kernel, strides=1, padding="valid")

    mu_x, mu_y = local(x), local(y)
    # Local variances and covariance as E[xy] - E[x]E[y], as Wang's reference code computes them.
    sigma_xx = local(x * x) - mu_x * mu_x
    sigma_yy = local(y * y) - mu_y * mu_y
    sigma_xy = local(x * y) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    contrast_structure = (2.0 * sigma_xy + c2) / (sigma_xx + sigma_yy + c2)
    return ops.mean(luminance * contrast_structure, axis=(1, 2, 3)), ops.mean(contrast_structure, axis=(1, 2, 3))


def _check_size(x: Any, scales: int, window_size: int, what: str) -> None:
    height, width = int(x.shape[1]), int(x.shape[2])
    fit = scales_that_fit(height, width, window_size)
    if fit >= scales:
        return
    need = window_size * 2 ** (scales - 1)
    advice = f"which hold {fit} scale{'s' if fit != 1 else ''} with window_size={window_size}"
    advice += f": pass weights={wang_weights(fit)} (Wang's first {fit}, rescaled to sum to 1)" if fit else ""
    small = scales_that_fit(height, width, 3)
    if window_size > 3 and small:
        advice += f"; with window_size=3 they hold {small}: weights={wang_weights(small)}"
    raise ValueError(
        f"{what} with {scales} scale{'s' if scales != 1 else ''} and window_size={window_size} needs images of "
        f"at least {need} x {need} pixels: each scale halves the image, and the smallest must still hold the "
        f"{window_size} x {window_size} window. These are {height} x {width}, {advice}."
    )


def ssim_per_scale(
    x: Any, y: Any, scales: int, window_size: int = 11, sigma: float = 1.5, data_range: float = 1.0
) -> tuple[Any, Any]:
    """SSIM and the mean contrast-structure term of each image at each of ``scales`` scales.

    Args:
        x: images, shape ``(batch, height, width)`` or ``(batch, height, width, channels)``.
        y: images of the same shape.
        scales: how many scales, finest first; between two, both images are average-pooled by 2 x 2 (an odd
            side loses its last row or column).
        window_size: the side of the Gaussian window, in pixels.
        sigma: the window's standard deviation, in pixels.
        data_range: the range of the pixel values (1 for images in [0, 1]), which sets C1 and C2.

    Returns:
        ``(ssim, cs)``, each float32 of shape ``(scales, batch)``: at scale ``j``, the image's mean of
        ``l * cs`` and of ``cs`` over its windows and channels.
    """
    x, y = _images(x, "ssim_per_scale"), _images(y, "ssim_per_scale")
    _check_size(x, scales, window_size, "ssim_per_scale")
    window = gaussian_window(window_size, sigma)
    found_ssim, found_cs = [], []
    for scale in range(scales):
        if scale:
            x = ops.average_pool(x, pool_size=2, strides=2, padding="valid")
            y = ops.average_pool(y, pool_size=2, strides=2, padding="valid")
        ssim, cs = _statistics(x, y, window, data_range)
        found_ssim.append(ssim)
        found_cs.append(cs)
    return ops.stack(found_ssim), ops.stack(found_cs)


def ssim(x: Any, y: Any, window_size: int = 11, sigma: float = 1.5, data_range: float = 1.0) -> Any:
    """The structural similarity of each pair of images (Wang et al. 2004, Eq. 13, averaged over it), ``(batch,)``.

    Arguments as in ``ssim_per_scale``. 1 for identical images; it can be negative (anticorrelated images).
    """
    return ssim_per_scale(x, y, 1, window_size, sigma, data_range)[0][0]


def multiscale_ssim(
    x: Any,
    y: Any,
    weights: Sequence[float] = WANG_WEIGHTS,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
) -> Any:
    """Wang et al.'s MS-SSIM (Eq. 7) of each pair of images, shape ``(batch,)``.

    ``SSIM_M ** w_M * prod over j < M of cs_j ** w_j`` with ``M = len(weights)`` scales. A factor below 0
    (images anticorrelated at a scale) counts as 0, as in ``tf.image.ssim_multiscale``: its fractional power
    has no real value. Other arguments as in ``ssim_per_scale``.
    """
    exponents = _weights(weights)
    ssim_values, cs = ssim_per_scale(x, y, len(exponents), window_size, sigma, data_range)
    factors = ops.concatenate([cs[:-1], ssim_values[-1:]], axis=0)
    exponents_by_scale = ops.expand_dims(ops.convert_to_tensor(exponents, dtype="float32"), 1)
    return ops.prod(ops.power(ops.relu(factors), exponents_by_scale), axis=0)


def msssim_loss(
    x: Any,
    y: Any,
    weights: Sequence[float] = WANG_WEIGHTS,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
) -> Any:
    """``1 - MS-SSIM`` per pair of images with pythae's mapping of each factor ``v`` to ``(1 + v) / 2``, ``(batch,)``.

    ``1 - ((1 + ssim_M) / 2) ** w_M * prod over j < M of ((1 + cs_j) / 2) ** w_j``: Wang et al.'s MS-SSIM
    (``multiscale_ssim``) with each factor in [-1, 1] mapped to [0, 1] before its power, as pythae's
    ``MSSSIM_VAE`` loss (and the pytorch-msssim code it copies) does. A reconstruction anticorrelated with its
    image at some scale, common early in training, then still has a finite loss and a gradient, where Wang's
    fractional power of a negative factor has no value. It is 0 for identical images. Arguments as in
    ``multiscale_ssim``.

    Example:

    >>> images = np.random.default_rng(0).random((2, 8, 8)).astype("float32")
    >>> np.round(keras.ops.convert_to_numpy(msssim_loss(images, images, [0.1356, 0.8644], window_size=3)), 6)
    array([0., 0.], dtype=float32)
    """
    exponents = _weights(weights)
    ssim_values, cs = ssim_per_scale(x, y, len(exponents), window_size, sigma, data_range)
    factors = ops.concatenate([cs[:-1], ssim_values[-1:]], axis=0)
    # A factor of exactly -1 would map to 0, where a fractional power has an infinite gradient.
    mapped = ops.maximum(0.5 * (1.0 + factors), 1e-12)
    exponents_by_scale = ops.expand_dims(ops.convert_to_tensor(exponents, dtype="float32"), 1)
    return 1.0 - ops.prod(ops.power(mapped, exponents_by_scale), axis=0)


class MultiScaleSSIMObjective(BaseObjective):
    """pythae's ``MSSSIM_VAE``: ``1 - MS-SSIM`` per reconstruction (``msssim_loss``) plus the regularizers' penalties.

    The objective replaces the reconstruction term: it scores the decoder's output, mapped to data space by
    the model's likelihood (``"bernoulli"``'s probabilities, ``"gaussian"``'s mean; as it is with a Keras
    loss), against the batch's images. The likelihood is not the loss then, and ``1 - MS-SSIM`` is not a
    likelihood: it is a similarity score in [0, 1] with no density behind it, not ``-log p(x | z)`` in nats,
    so it could not be a tfae likelihood (an IWAE bound and ``tfae evaluate``'s ELBO and ``log p(x)`` read a
    likelihood as nats). The history logs it as ``reconstruction_loss``, the term minimised, and as
    ``msssim_loss``; ``loss`` is ``msssim_loss + regularization_loss``. ``tfae evaluate`` still reports the
    likelihood's ELBO of the trained model.

    The loss lies in [0, 1], small beside a KL in nats: weigh the regularizers' ``beta`` to match (pythae's
    ``beta``). Unlike pythae's, the loss is each image's (pythae's is one value for the batch, and multiplies
    its coarsest SSIM in once per finer scale).

    The images need every scale to hold the window: ``window_size * 2 ** (M - 1)`` pixels a side for ``M``
    scales. Wang's five scales and 11-pixel window need 176 x 176; 28 x 28 images hold two scales of the
    11-pixel window, and the 8 x 8 digits two scales of a 3-pixel one: ``weights=[0.1356, 0.8644],
    window_size=3``. Images too small for the weights are refused at the first step, with the weights that fit.

    Args:
        weights: the exponent of each scale, finest first; their number is the number of scales. Positive
            numbers; Wang et al.'s five by default.
        window_size: the side of the Gaussian window in pixels, an odd positive integer; 11 by default.
        sigma: the window's standard deviation in pixels; 1.5 by default.
        data_range: the range of the pixel values, which sets the stabilising constants C1 and C2; 1 for
            images in [0, 1].

    Example:

    ```python
    model = Autoencoder({"name": "gaussian", "latent_dim": 4, "regularizer": {"name": "kld", "beta": 0.01}})
    model.compile(optimizer="adam", loss="bernoulli",
                  objective={"name": "msssim", "weights": [0.1356, 0.8644], "window_size": 3})
    model.fit(images, epochs=10)  # images of shape (samples, 8, 8)
    ```
    """

    logged = ("msssim_loss",)

    def __init__(
        self,
        weights: Sequence[float] = WANG_WEIGHTS,
        window_size: int = 11,
        sigma: float = 1.5,
        data_range: float = 1.0,
    ) -> None:
        super().__init__(importance_samples=1)
        self.weights = _weights(weights)
        if not _integer(window_size) or window_size < 1 or window_size % 2 == 0:
            raise ValueError(
                "`window_size` must be an odd positive integer, the side of the Gaussian window in pixels. "
                f"Received: window_size={window_size!r}"
            )
        self.window_size = int(window_size)
        self.sigma = _positive_number(sigma, "sigma", "the Gaussian window's standard deviation in pixels")
        self.data_range = _positive_number(data_range, "data_range", "the range of the pixel values")

    def __call__(self, terms: ObjectiveTerms) -> dict[str, Any]:
        what = type(self).__name__
        targets = _images(terms.targets, what)
        outputs = terms.outputs[0]
        images = _images(outputs if terms.likelihood is None else terms.likelihood(outputs), what)
        _check_size(targets, len(self.weights), self.window_size, what)
        loss = msssim_loss(targets, images, self.weights, self.window_size, self.sigma, self.data_range)
        if terms.sample_weight is not None:
            loss = loss * ops.cast(terms.sample_weight, "float32")
        return {"loss": loss + terms.regularization, "reconstruction_loss": loss, "msssim_loss": loss}

    def get_config(self) -> dict[str, Any]:
        return {
            "weights": list(self.weights),
            "window_size": self.window_size,
            "sigma": self.sigma,
            "data_range": self.data_range,
        }


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_number(value: Any, name: str, meaning: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < math.inf:
        raise ValueError(f"`{name}` must be a positive number, {meaning}. Received: {name}={value!r}")
    return float(value)


def _weights(weights: Any) -> list[float]:
    fine = (
        isinstance(weights, Sequence)
        and not isinstance(weights, (str, bytes))
        and len(weights) > 0
        and all(not isinstance(w, bool) and isinstance(w, numbers.Real) and 0 < float(w) < math.inf for w in weights)
    )
    if not fine:
        raise ValueError(
            "`weights` must be a non-empty list of positive numbers, the exponent of each scale, finest first "
            f"(Wang et al.'s are {list(WANG_WEIGHTS)}). Received: weights={weights!r}"
        )
    return [float(weight) for weight in weights]


@tfae.hookimpl
def register_objectives(register: Callable[..., Any]) -> None:
    register(MultiScaleSSIMObjective, name="msssim", aliases=["ms_ssim", "msssim_vae"])
