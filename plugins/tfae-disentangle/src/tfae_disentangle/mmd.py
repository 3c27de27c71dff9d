"""The maximum mean discrepancy between the batch's codes and the prior: InfoVAE and WAE-MMD.

InfoVAE (Zhao et al. 2019, "InfoVAE: Balancing Learning and Inference in Variational Autoencoders") adds
a divergence between the aggregate posterior q(z) and the prior, here the maximum mean discrepancy, to a
VAE's objective; WAE-MMD (Tolstikhin et al. 2018, "Wasserstein Auto-Encoders") uses it alone, with a
deterministic encoder. The estimate is the unbiased U-statistic of MMD^2 (Gretton et al. 2012, Lemma 6)
between the codes and as many samples of the prior:

    MMD^2 = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j)

with the inverse multiquadratic kernel ``k = C / (C + ||x - y||^2)`` or the RBF kernel
``k = exp(-||x - y||^2 / C)``, ``C = 2 * latent_dim * scale``, summed over the kernel scales. The default is
the official WAE code's (tolstikhin/wae, ``wae.py: WAE.mmd_penalty``): the IMQ kernel summed over the seven
scales ``WAE_IMQ_SCALES``. That sum is about seven times a single scale's value; ``scales=1.0`` is the WAE
paper's single kernel, ``C = 2 * latent_dim``.

In a ``tfae train`` config, an InfoVAE is

    regularizer = ["kld", {name = "mmd", beta = 1}]

(InfoVAE's alpha = 0 and lambda = beta + 1), and a WAE-MMD a ``"vanilla"`` bottleneck with
``regularizer = {name = "mmd", beta = 10}``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Literal

import keras
from keras import ops

import tfae
import tfae.random
from tfae.bottlenecks import GaussianBottleneck, Posterior, VanillaBottleneck
from tfae.regularizers import BaseRegularizer
from tfae.schedulers import BaseScheduler

#: The kernels, by name.
KERNELS = ("imq", "rbf")

#: The IMQ scales the official WAE code sums over (tolstikhin/wae, ``wae.py: WAE.mmd_penalty``).
WAE_IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def squared_distances(x: Any, y: Any) -> Any:
    """``||x_i - y_j||**2`` of every pair of rows of ``x`` ``(m, dim)`` and ``y`` ``(n, dim)``: shape ``(m, n)``."""
    # The expanded form needs m * n numbers, not m * n * dim; rounding can make it slightly negative.
    dot = ops.matmul(x, ops.transpose(y))
    squared = ops.expand_dims(ops.sum(ops.square(x), axis=1), 1) + ops.expand_dims(ops.sum(ops.square(y), axis=1), 0)
    return ops.maximum(squared - 2.0 * dot, 0.0)


def mmd(x: Any, y: Any, kernel: Literal["imq", "rbf"] = "imq", scales: float | Sequence[float] = WAE_IMQ_SCALES) -> Any:
    """The unbiased U-statistic estimate of MMD^2 between the samples ``x`` and ``y``, a float32 scalar.

    With ``C = 2 * dim * scale``, the kernel is ``C / (C + ||x - y||^2)`` (``"imq"``) or
    ``exp(-||x - y||^2 / C)`` (``"rbf"``); with several scales, the result is the sum of each scale's
    MMD^2. The within-sample sums leave out each sample's pair with itself. The estimate can be negative;
    its expectation is 0 when ``x`` and ``y`` come from one distribution. It needs at least two samples on
    each side and is 0 otherwise (a batch of one has no pairs to compare).

    Args:
        x: samples, shape ``(m, dim)``.
        y: samples, shape ``(n, dim)``; ``n`` may differ from ``m``.
        kernel: ``"imq"`` (inverse multiquadratic) or ``"rbf"``.
        scales: a kernel scale, in units of a standard normal's variance per dimension, or a sequence of them.

    Returns:
        MMD^2, a float32 scalar.
    """
    kernel = _kernel(kernel)
    scales = _scales(scales)
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    y = ops.cast(ops.convert_to_tensor(y), "float32")
    m = ops.cast(ops.shape(x)[0], "float32")
    n = ops.cast(ops.shape(y)[0], "float32")
    dim = float(x.shape[-1])
    # One constant per scale, on a leading axis: every scale's kernel in one op, whatever their number.
    constants = ops.convert_to_tensor([2.0 * dim * scale for scale in scales], dtype="float32")

    def summed_kernel(distances: Any) -> Any:
        """The sum over the scales and the entries of the kernel of the squared ``distances``."""
        c = ops.reshape(constants, (-1,) + (1,) * len(distances.shape))
        values = c / (c + distances) if kernel == "imq" else ops.exp(-distances / c)
        return ops.sum(values)

    within_x, within_y = squared_distances(x, x), squared_distances(y, y)
    # The U-statistic leaves out each sample's pair with itself: the diagonal.
    pairs_x = summed_kernel(within_x) - summed_kernel(ops.diagonal(within_x))
    pairs_y = summed_kernel(within_y) - summed_kernel(ops.diagonal(within_y))
    between = summed_kernel(squared_distances(x, y))
    total = (
        pairs_x / ops.maximum(m * (m - 1.0), 1.0)
        + pairs_y / ops.maximum(n * (n - 1.0), 1.0)
        - 2.0 * between / ops.maximum(m * n, 1.0)
    )
    return ops.where(ops.logical_and(m >= 2.0, n >= 2.0), total, ops.zeros_like(total))


class MMDRegularizer(BaseRegularizer):
    """MMD^2 between the batch's codes and as many samples of the standard normal prior (InfoVAE, WAE-MMD).

    The penalty is one value for the batch: ``mmd(codes, prior_samples, kernel, scales)``, the unbiased
    estimate, which is near 0 (and may be negative) when the codes are distributed as the prior. The codes
    are those the decoder received (``Posterior.code``): for a Gaussian bottleneck in training, a sample of
    each posterior. The prior samples are ``N(0, I)``, drawn from the regularizer's own seed generator, so
    they are new in every step, differ between replicas, and repeat with the same ``seed``.

    It works with the bottlenecks whose prior is ``N(0, I)``: ``"gaussian"`` (InfoVAE, beside ``"kld"``:
    ``regularizer=["kld", {"name": "mmd", "beta": 1}]``) and ``"vanilla"``, whose deterministic codes the
    MMD then pulls to ``N(0, I)`` (WAE-MMD: ``regularizer={"name": "mmd", "beta": 10}``). Other bottlenecks
    are refused when they are made.

    The estimate of a batch is noisy, and so is its gradient; with the seven scales summed, a large ``beta``
    beside ``"kld"`` can let that noise hold every posterior at the prior (on the 8x8 digits, ``beta >= 5``
    drove the KL to 0 in 40 epochs, where ``beta = 1`` trained as the VAE did).

    A batch of one code has no pair to compare, and its MMD is 0: training batches need at least
    ``min_batch_size`` (2) samples, which ``fit`` (given an array) and ``tfae train`` check before training
    (``check_batch_size``). The last batch of an epoch may be smaller: with one sample, its penalty is 0.

    Args:
        beta: the weight of the MMD (default 1): a float, a scheduler, or ``scheduler.value``. Beside
            ``"kld"`` the objective is InfoVAE's with ``alpha = 0`` and ``lambda = beta + 1``; alone on a
            Gaussian bottleneck, ``alpha = 1`` and ``lambda = beta``; on a vanilla bottleneck, WAE-MMD's ``lambda``.
        kernel: ``"imq"`` (default; inverse multiquadratic, heavy-tailed) or ``"rbf"``.
        scales: a kernel scale (``C = 2 * latent_dim * scale``) or a sequence of them, whose MMDs add up;
            default ``WAE_IMQ_SCALES``, the official WAE code's.
        seed: an optional int that makes the prior samples reproducible.

    Call arguments:
        posterior: a ``Posterior`` with the batch's codes (``code``), shape ``(batch, latent_dim)``.

    Example:

    >>> regularizer = MMDRegularizer(seed=0)
    >>> codes = keras.random.normal((256, 4), seed=1) + 2.0  # far from N(0, I)
    >>> float(regularizer(Posterior(parameters=(codes,), code=codes))) > 0.5
    True
    """

    min_batch_size = 2

    def __init__(
        self,
        beta: float | BaseScheduler | str | dict[str, Any] | keras.Variable = 1.0,
        kernel: Literal["imq", "rbf"] = "imq",
        scales: float | Sequence[float] = WAE_IMQ_SCALES,
        seed: int | None = None,
    ) -> None:
        super().__init__(beta=beta)
        self.kernel = _kernel(kernel)
        self.scales = _scales(scales)
        self._single_scale = isinstance(scales, numbers.Real)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        if isinstance(bottleneck, VanillaBottleneck) or _has_standard_normal_prior(bottleneck):
            return
        from tfae.serialization import describe_component

        raise ValueError(
            f"The regularizer {describe_component('regularizer', self)} compares the codes with samples of the "
            f"prior N(0, I), which the bottleneck {describe_component('bottleneck', bottleneck)} does not have: "
            "use the bottleneck 'gaussian' (InfoVAE) or 'vanilla' (WAE-MMD)."
        )

    def prior_samples(self, code: Any) -> Any:
        """Samples of ``N(0, I)`` of the shape of ``code``, from the regularizer's seed generator."""

        def draw(shape: tuple[Any, ...]) -> Any:
            return tfae.random.normal(shape, self.seed_generator, dtype="float32")

        return self.random(draw, ops.shape(code))

    def penalty(self, posterior: Posterior, training: bool = False) -> Any:
        """MMD^2 between the posterior's codes and as many prior samples, a scalar."""
        code = posterior.code
        if code is None:
            raise ValueError(
                "MMDRegularizer compares codes with prior samples, but this Posterior holds no code: call it with "
                "`Posterior(parameters=..., code=codes)`."
            )
        return mmd(code, self.prior_samples(code), self.kernel, self.scales)

    def get_config(self) -> dict[str, Any]:
        scales: float | list[float] = self.scales[0] if self._single_scale else list(self.scales)
        return {**super().get_config(), "kernel": self.kernel, "scales": scales, "seed": self.seed}


def _has_standard_normal_prior(bottleneck: keras.layers.Layer) -> bool:
    """A ``GaussianBottleneck``, or a subclass that keeps its prior."""
    kind = type(bottleneck)
    return (
        isinstance(bottleneck, GaussianBottleneck)
        and kind.sample_prior is GaussianBottleneck.sample_prior
        and kind.log_prior is GaussianBottleneck.log_prior
    )


def _kernel(kernel: Any) -> Literal["imq", "rbf"]:
    if isinstance(kernel, str) and kernel in KERNELS:
        return kernel  # type: ignore[return-value]
    raise ValueError(f"`kernel` must be one of {', '.join(map(repr, KERNELS))}. Received: kernel={kernel!r}")


def _scales(scales: Any) -> tuple[float, ...]:
    values = [scales] if isinstance(scales, numbers.Real) else scales
    try:
        found = tuple(values)
    except TypeError:
        found = ()
    if found and all(_positive(value) for value in found):
        return tuple(float(value) for value in found)
    raise ValueError(f"`scales` must be a number > 0 or a non-empty sequence of them. Received: scales={scales!r}")


def _positive(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and float(value) > 0


@tfae.hookimpl
def register_regularizers(register: Callable[..., Any]) -> None:
    register(MMDRegularizer, name="mmd")
