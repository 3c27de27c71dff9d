"""The hyperspherical VAE's bottleneck (Davidson et al. 2018): a von Mises-Fisher posterior on the sphere."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import keras
from keras import ops

import tfae
import tfae.random
from tfae.bottlenecks import VariationalBottleneck
from tfae_geometric.bessel import SERIES_BELOW, asymptotic_log_ive, asymptotic_log_ratio, bessel_ratio, log_power_series

#: Wood's proposals drawn at once for each code; the first accepted is taken. Each is accepted with a
#: probability of at least 0.656 (latent_dim 2, large concentrations), so none of 20 is, for one code in
#: more than 1.8e9 (0.344 ** 20 = 5.4e-10).
PROPOSALS = 20
#: Added to the softplus of the encoder's output, as in the authors' code (nicola-decao/s-vae-tf,
#: examples/mnist.py: "the `+ 1` prevent collapsing behaviors"): a posterior of concentration 1 or more always
#: carries some information (on S^2, a KL of at least 0.15 nats), so that the decoder learns to use the code
#: instead of every posterior collapsing to the uniform prior, as the digits' did in 15 epochs without it.
MIN_CONCENTRATION = 1.0


def log_sphere_area(dim: int) -> float:
    """``log |S^(dim-1)|``, the log of the surface area of the unit sphere in ``dim`` dimensions:
    ``log(2 pi^(dim/2) / Gamma(dim/2))``."""
    return math.log(2.0) + 0.5 * dim * math.log(math.pi) - math.lgamma(0.5 * dim)


def vmf_log_normalizer(dim: int, concentration: Any) -> Any:
    """``log C_m(kappa)`` of the vMF density ``C_m(kappa) exp(kappa mu.z)`` on ``S^(m-1)`` (surface measure).

    ``C_m(kappa) = kappa^(m/2-1) / ((2 pi)^(m/2) I_(m/2-1)(kappa))`` (Davidson et al. 2018, eq. 3). Written so
    that it tends to ``-log |S^(m-1)|`` (the uniform density) as ``kappa`` nears 0 without a difference of
    large logarithms, and without a difference of numbers of the size of ``kappa`` when it is large.

    Args:
        dim: ``m``, the size of the codes (an int >= 2).
        concentration: ``kappa > 0``, float32, any shape.
    """
    order = 0.5 * dim - 1.0
    kappa = ops.convert_to_tensor(concentration, dtype="float32")
    small = kappa < SERIES_BELOW
    series_kappa, expansion_kappa = ops.minimum(kappa, SERIES_BELOW), ops.maximum(kappa, SERIES_BELOW)
    # log C = v log kappa - (v + 1) log(2 pi) - log I_v(kappa), with log I_v from the series: the constants add
    # up to -log |S^(m-1)| exactly, so only the series' log1p remains.
    series = -log_sphere_area(dim) - log_power_series(order, series_kappa)
    expansion = (
        order * ops.log(expansion_kappa)
        - (order + 1.0) * math.log(2.0 * math.pi)
        - expansion_kappa
        - asymptotic_log_ive(order, expansion_kappa)
    )
    return ops.where(small, series, expansion)


def vmf_kl_to_uniform(dim: int, concentration: Any) -> Any:
    """``KL(vMF(mu, kappa) || U(S^(m-1)))`` in nats, elementwise in ``kappa`` (it does not depend on ``mu``).

    Davidson et al. (2018), appendix B: ``kappa I_(m/2)(kappa) / I_(m/2-1)(kappa) + log C_m(kappa) +
    log |S^(m-1)|``. Near 0 it is ``kappa^2 / (2m)`` to float32 precision: the two parts are computed
    without cancelling constants.

    Args:
        dim: ``m``, the size of the codes (an int >= 2).
        concentration: ``kappa > 0``, float32, any shape.
    """
    order = 0.5 * dim - 1.0
    kappa = ops.convert_to_tensor(concentration, dtype="float32")
    small = kappa < SERIES_BELOW
    series_kappa, expansion_kappa = ops.minimum(kappa, SERIES_BELOW), ops.maximum(kappa, SERIES_BELOW)
    series = series_kappa * bessel_ratio(order, series_kappa) - log_power_series(order, series_kappa)
    # kappa (ratio - 1) + kappa - log I_v(kappa): kappa itself cancels out of the sum, and is never added.
    expansion = (
        expansion_kappa * ops.expm1(asymptotic_log_ratio(order, expansion_kappa))
        + order * ops.log(expansion_kappa)
        - (order + 1.0) * math.log(2.0 * math.pi)
        - asymptotic_log_ive(order, expansion_kappa)
        + log_sphere_area(dim)
    )
    return ops.where(small, series, expansion)


def wood_cosine(concentration: Any, dim: int, normals: Any, uniforms: Any) -> Any:
    """``w = mu.z`` of a vMF draw by Wood's (1994) rejection sampler, the first accepted of several proposals.

    ``w`` has the density proportional to ``exp(kappa w) (1 - w^2)^((m-3)/2)`` on [-1, 1]. With ``b =
    (m-1) / (2 kappa + sqrt(4 kappa^2 + (m-1)^2))``, each proposal draws ``eps ~ Beta((m-1)/2, (m-1)/2)``
    and ``u ~ U(0, 1)``, sets ``w = (1 - (1+b) eps) / (1 - (1-b) eps)`` and is accepted when
    ``(m-1) log t - t + d >= log u``, ``t = 2ab / (1 - (1-b) eps)``, ``a = (m - 1 + 2 kappa + sqrt(4 kappa^2 +
    (m-1)^2)) / 4``, ``d = 4ab / (1+b) - (m-1) log(m-1)`` (Davidson et al. 2018, algorithm 1). Here the test
    is its equivalent ``2 kappa b (1 - 2 eps) / ((1+b)(1 - (1-b) eps)) + (m-1) log((1+b) / (2 (1 - (1-b)
    eps))) >= log u``, which has no difference of numbers of the size of ``kappa``.

    ``eps`` comes from normals: for ``g ~ N(0, I_m)``, ``(1 + g_1 / |g|) / 2`` is ``Beta((m-1)/2, (m-1)/2)``
    (the first coordinate of a uniform point of ``S^(m-1)``), so no gamma variates are drawn. The gradient
    is the paper's reparameterisation term: ``w`` as a function of ``kappa`` with the accepted ``eps`` held
    fixed; the correction term for the acceptance step is left out, as in the authors' code
    (nicola-decao/s-vae-tf, ``VonMisesFisher.__while_loop``). Where no proposal is accepted (for any
    kappa, with probability below ``0.344 ** proposals``), the first proposal's ``w`` is taken: a draw
    of Wood's envelope rather than of ``w``'s density.

    Args:
        concentration: ``kappa > 0``, float32, shape ``(..., 1)``.
        dim: ``m``, the size of the codes (an int >= 2).
        normals: standard normal numbers, shape ``(..., proposals, m)``.
        uniforms: uniform numbers in [0, 1), shape ``(..., proposals)``.

    Returns:
        ``w``, shape ``(..., 1)``, and ``1 - w^2`` computed without cancellation, the same shape.
    """
    kappa = ops.convert_to_tensor(concentration, dtype="float32")
    m1 = float(dim - 1)
    b = m1 / (2.0 * kappa + ops.sqrt(4.0 * ops.square(kappa) + m1 * m1))  # (..., 1), against (..., proposals)
    first = normals[..., 0]
    rest = ops.sum(ops.square(normals[..., 1:]), axis=-1)
    norm = ops.sqrt(ops.square(first) + rest)
    # 1 - |g_1| / |g|, without cancellation where |g_1| nears |g|; then eps and 1 - eps, each to full precision.
    gap = rest / (norm * (norm + ops.abs(first)))
    eps = ops.where(first >= 0, 1.0 - 0.5 * gap, 0.5 * gap)
    complement = ops.where(first >= 0, 0.5 * gap, 1.0 - 0.5 * gap)
    denominator = complement + b * eps  # 1 - (1 - b) eps
    statistic = 2.0 * kappa * b * (complement - eps) / ((1.0 + b) * denominator) + m1 * (
        ops.log(0.5 * (1.0 + b)) - ops.log(denominator)
    )
    accepted = statistic >= ops.log(uniforms)
    chosen = ops.one_hot(ops.argmax(ops.cast(accepted, "int32"), axis=-1), uniforms.shape[-1], dtype="float32")
    w = (complement - b * eps) / denominator
    one_minus_w_squared = 4.0 * b * eps * complement / ops.square(denominator)
    return (
        ops.sum(w * chosen, axis=-1, keepdims=True),
        ops.sum(one_minus_w_squared * chosen, axis=-1, keepdims=True),
    )


def exact_cosine_3d(concentration: Any, uniforms: Any) -> Any:
    """``w = mu.z`` of a vMF draw on ``S^2`` by inverting its distribution function:
    ``w = 1 + log(u + (1 - u) e^(-2 kappa)) / kappa`` for ``u ~ U(0, 1)`` (Wood 1994; Davidson et al.'s code,
    ``__sample_w3``). Computed as ``1 - w = -log1p(u' (e^(-2 kappa) - 1)) / kappa`` with ``u' = 1 - u``, itself
    uniform: exact as ``kappa`` nears 0, and finite for every ``u'`` in [0, 1) at any ``kappa``.

    Args:
        concentration: ``kappa > 0``, float32, shape ``(..., 1)``.
        uniforms: uniform numbers in [0, 1), shape ``(..., 1)``.

    Returns:
        ``w`` and ``1 - w^2`` (without cancellation), each shape ``(..., 1)``.
    """
    kappa = ops.convert_to_tensor(concentration, dtype="float32")
    one_minus_w = -ops.log1p(uniforms * ops.expm1(-2.0 * kappa)) / kappa
    return 1.0 - one_minus_w, one_minus_w * (2.0 - one_minus_w)


def householder_from_first_axis(points: Any, direction: Any) -> Any:
    """Reflects ``points`` by the Householder reflection that maps ``e_1`` to the unit vector ``direction``.

    ``H = I - 2 u u^T / |u|^2`` with ``u = e_1 - direction`` (Davidson et al. 2018, algorithm 1); the
    identity where ``direction`` is ``e_1``. ``u``'s first coordinate, ``1 - mu_1``, is computed as
    ``|mu_(2..m)|^2 / (1 + mu_1)`` where ``mu_1 > 0``, so that ``H e_1`` is ``direction`` to float32 precision
    also where ``direction`` nears ``e_1``.

    Args:
        points: shape ``(..., m)``.
        direction: unit vectors broadcasting against ``points``, shape ``(..., m)``.
    """
    head, tail = direction[..., :1], direction[..., 1:]
    tail_squared = ops.sum(ops.square(tail), axis=-1, keepdims=True)
    safe_head = ops.where(head > 0, head, 0.0)
    first = ops.where(head > 0, tail_squared / (1.0 + safe_head), 1.0 - head)
    u = ops.concatenate([first, -tail], axis=-1)
    squared = ops.sum(ops.square(u), axis=-1, keepdims=True)
    reflects = squared > 1e-30
    projection = ops.sum(u * points, axis=-1, keepdims=True) / ops.where(reflects, squared, 1.0)
    scale = ops.where(reflects, 2.0 * projection, 0.0)
    return points - scale * u


class VonMisesFisherBottleneck(VariationalBottleneck):
    """Encodes each sample as a von Mises-Fisher distribution on the unit sphere ``S^(latent_dim - 1)``.

    The hyperspherical VAE of Davidson, Falorsi, De Cao, Kipf and Tomczak (2018), *Hyperspherical
    Variational Auto-Encoders* (pythae's ``SVAE``). The encoder gives each sample a mean direction ``mu``
    (a Dense layer's ``latent_dim`` outputs, normalised) and a concentration ``kappa`` (another Dense
    layer's output through softplus, plus 1 as in the authors' code, which keeps the posteriors from collapsing
    to the prior). The density on the sphere, with respect to its surface
    measure, is ``C_m(kappa) exp(kappa mu.z)`` (``vmf_log_normalizer``). A code is drawn as in the paper's
    algorithm 1: ``w = mu.z`` by Wood's rejection sampler (``wood_cosine``, 20 proposals at once, the first
    accepted taken; on ``S^2``, ``exact_cosine_3d``), a direction ``v`` uniform on ``S^(m-2)``, the point
    ``(w, sqrt(1 - w^2) v)`` reflected so that ``e_1`` goes to ``mu`` (``householder_from_first_axis``).
    Gradients reach ``mu`` through the reflection and ``kappa`` through ``w``. The code at inference is
    ``mu``, the mode.

    The prior is the uniform distribution on the sphere (``"hyperspherical_uniform"``); the regularizer
    ``"vmf_kld"`` is the exact KL to it, and the ``"iwae"`` objective uses the log-densities, both on the
    surface measure: a prior of the ordinary densities on ``R^m`` (``"standard_normal"``) would not be
    comparable with them, so the bottleneck takes only a prior on the sphere (one whose class sets
    ``manifold = "sphere"``).

    Args:
        latent_dim: int >= 2, the size of the code: a point of ``S^(latent_dim - 1)``.
        regularizer: usually ``"vmf_kld"``, which makes the model a hyperspherical VAE.
        seed: optional int, makes the sampling reproducible.
        prior: a prior on the sphere; by default ``"hyperspherical_uniform"``.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: features of shape ``(batch, ...)``.
        training: sample when ``True``, return the mean direction otherwise.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, latent_dim)``, each row of unit length.

    Example:

    >>> model = Autoencoder(bottleneck={"name": "vmf", "latent_dim": 3, "regularizer": "vmf_kld"})
    >>> model.compile(optimizer="adam", loss="bernoulli")
    """

    parameters = 1  # the base class's Dense layer gives the mean direction; a second one the concentration
    distribution = "von_mises_fisher"
    default_prior = "hyperspherical_uniform"
    #: Its codes lie on the unit sphere, and its densities are on the sphere's surface; its priors check this.
    manifold: ClassVar[str] = "sphere"

    def __init__(
        self,
        latent_dim: int,
        regularizer: Any = None,
        seed: int | None = None,
        prior: Any = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(latent_dim, numbers.Integral) and not isinstance(latent_dim, bool) and latent_dim < 2:
            raise ValueError(
                "VonMisesFisherBottleneck draws codes on the sphere S^(latent_dim - 1), which needs latent_dim >= 2 "
                f"(S^0 is two points): use latent_dim=2 or more. Received: latent_dim={latent_dim!r}"
            )
        super().__init__(latent_dim, regularizer=regularizer, seed=seed, prior=prior, **kwargs)
        if getattr(self.prior, "manifold", None) != "sphere":
            raise ValueError(
                f"VonMisesFisherBottleneck's densities are on the sphere's surface, but its prior "
                f"{type(self.prior).__name__} is not a distribution on the sphere: use prior='hyperspherical_uniform' "
                "(the default), or a prior whose class sets manifold = 'sphere'."
            )
        self.concentration_dense = keras.layers.Dense(1, dtype=self.dtype_policy.variable_dtype, name="concentration")

    def build(self, input_shape: Sequence[int | None]) -> None:
        super().build(input_shape)
        if not self.concentration_dense.built:
            self.concentration_dense.build(self.flat_shape(input_shape))

    def distribution_parameters(self, inputs: Any) -> tuple[Any, Any]:
        """The mean direction, shape ``(batch, latent_dim)``, of unit length, and the concentration, ``(batch, 1)``."""
        features = self.flatten(inputs)
        direction = ops.normalize(ops.cast(self.dense(features), "float32"), axis=-1)
        concentration = ops.softplus(ops.cast(self.concentration_dense(features), "float32")) + MIN_CONCENTRATION
        return direction, concentration

    def sample(self, direction: Any, concentration: Any) -> tuple[Any, Any]:
        m = self.latent_dim
        leading = tuple(ops.shape(concentration)[:-1])

        def normals(shape: tuple[Any, ...]) -> Any:
            return self.random(lambda full: tfae.random.normal(full, self.seed_generator, dtype="float32"), shape)

        def uniforms(shape: tuple[Any, ...]) -> Any:
            return self.random(lambda full: tfae.random.uniform(full, self.seed_generator, dtype="float32"), shape)

        if m == 3:
            w, one_minus_w_squared = exact_cosine_3d(concentration, uniforms((*leading, 1)))
        else:
            w, one_minus_w_squared = wood_cosine(
                concentration, m, normals((*leading, PROPOSALS, m)), uniforms((*leading, PROPOSALS))
            )
        tangent = ops.normalize(normals((*leading, m - 1)), axis=-1)
        # 1 - w^2 is 0 for a draw at the pole (u' = 0 exactly, one in 2^24): sqrt's gradient there is kept finite.
        radius = ops.sqrt(ops.maximum(one_minus_w_squared, 1e-30))
        point = ops.concatenate([w, radius * tangent], axis=-1)
        code = householder_from_first_axis(point, direction)
        # mu.z is w itself: the density of the draw, without the rounding of kappa * mu.z at large kappa.
        log_density = concentration[..., 0] * w[..., 0] + vmf_log_normalizer(m, concentration[..., 0])
        return code, log_density

    def mean(self, direction: Any, concentration: Any) -> Any:
        return direction

    def joint_log_density(self, code: Any, direction: Any, concentration: Any) -> Any:
        """``log q(code) = kappa mu.code + log C_m(kappa)``, on the sphere's surface measure: ``code.shape[:-1]``."""
        kappa = concentration[..., 0]
        return kappa * ops.sum(direction * code, axis=-1) + vmf_log_normalizer(self.latent_dim, kappa)


@tfae.hookimpl
def register_bottlenecks(register: Callable[..., Any]) -> None:
    register(VonMisesFisherBottleneck, name="vmf", aliases=["von_mises_fisher", "svae"])
