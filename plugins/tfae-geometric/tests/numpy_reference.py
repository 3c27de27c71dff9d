"""Plain float64 NumPy (and SciPy) transcriptions of the papers' formulas, which the tests compare tfae-geometric with.

Nothing here imports tfae or Keras, and nothing is shared with the package: each function is written from the
paper it cites, in the paper's own form (not the rearranged forms the package computes in float32).

- Davidson, Falorsi, De Cao, Kipf and Tomczak (2018), *Hyperspherical Variational Auto-Encoders*
  (arXiv:1804.00891): section 3.1 (the vMF density and its normalising constant ``C_m(kappa)``), section
  3.2 with appendix B (its KL to the uniform distribution on the sphere), algorithm 1 (Wood's sampler and
  the Householder reflection). The authors' code read: nicola-decao/s-vae-tf,
  ``hyperspherical_vae/distributions/von_mises_fisher.py``.
- Wood (1994), *Simulation of the von Mises Fisher distribution*: the rejection sampler, in its own
  variables ``b``, ``a``, ``d``, ``t``, as the authors' code writes it (``VonMisesFisher.__while_loop``).
- Mathieu, Le Lan, Maddison, Tomioka and Teh (2019), *Continuous Hierarchical Representations with
  Poincare Variational Auto-Encoders* (arXiv:1901.06033): section 2 (Mobius addition, the exponential and
  logarithmic maps, the distance, the conformal factor) and section 3 with appendix B (the wrapped normal,
  its sampler and its density with the Jacobian term ``(sqrt(c) r / sinh(sqrt(c) r))^(d-1)``). The code
  read: emilemathieu/pvae as vendored in pythae (``src/pythae/models/pvae/pvae_utils.py``).
- DLMF 10.25.2 (the power series of ``I_v``), for the Bessel function where SciPy's underflows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special


def _f64(x):
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Bessel functions
# ---------------------------------------------------------------------------------------------


def log_iv(order, kappa):
    """``log I_v(kappa)`` from SciPy's exponentially scaled ``ive``: ``log ive + kappa``."""
    kappa = _f64(kappa)
    return np.log(special.ive(order, kappa)) + kappa


def bessel_ratio(order, kappa):
    """``I_(v+1)(kappa) / I_v(kappa)``."""
    kappa = _f64(kappa)
    return special.ive(order + 1, kappa) / special.ive(order, kappa)


def d_log_iv(order, kappa):
    """``d/dkappa log I_v(kappa) = I_(v+1)(kappa) / I_v(kappa) + v / kappa`` (DLMF 10.29.2)."""
    return bessel_ratio(order, kappa) + order / _f64(kappa)


# ---------------------------------------------------------------------------------------------
# The von Mises-Fisher distribution (Davidson et al. 2018)
# ---------------------------------------------------------------------------------------------


def sphere_area(m):
    """``|S^(m-1)| = 2 pi^(m/2) / Gamma(m/2)``, the surface of the unit sphere in ``R^m`` (section 3.2)."""
    return 2.0 * math.pi ** (m / 2) / math.gamma(m / 2)


def vmf_log_normalizer(m, kappa):
    """``log C_m(kappa)``, ``C_m(kappa) = kappa^(m/2-1) / ((2 pi)^(m/2) I_(m/2-1)(kappa))`` (section 3.1)."""
    kappa = _f64(kappa)
    return (m / 2 - 1) * np.log(kappa) - (m / 2) * np.log(2 * np.pi) - log_iv(m / 2 - 1, kappa)


def vmf_log_density(z, mu, kappa):
    """``log q(z | mu, kappa) = log C_m(kappa) + kappa mu^T z`` on the sphere's surface measure (section 3.1)."""
    z, mu, kappa = _f64(z), _f64(mu), _f64(kappa)
    return vmf_log_normalizer(z.shape[-1], kappa) + kappa * np.sum(mu * z, axis=-1)


def vmf_kl_to_uniform(m, kappa):
    """``KL(vMF(mu, kappa) || U(S^(m-1))) = kappa I_(m/2)(kappa) / I_(m/2-1)(kappa) + log C_m(kappa)
    - log(2 pi^(m/2) / Gamma(m/2))^(-1)`` (section 3.2, appendix B)."""
    kappa = _f64(kappa)
    return kappa * bessel_ratio(m / 2 - 1, kappa) + vmf_log_normalizer(m, kappa) + math.log(sphere_area(m))


def vmf_kl_derivative(m, kappa):
    """``d KL / d kappa``. With ``R = I_(v+1) / I_v``, ``v = m/2 - 1``: ``d log C_m / d kappa = -R`` and
    ``R' = 1 - (2v + 1) R / kappa - R^2`` (from DLMF 10.29.2), so ``d KL / d kappa = kappa R'``."""
    kappa = _f64(kappa)
    ratio = bessel_ratio(m / 2 - 1, kappa)
    return kappa * (1.0 - (m - 1) * ratio / kappa - ratio**2)


def cosine_log_density(w, m, kappa):
    """The density of ``w = mu^T z`` for ``z ~ vMF(mu, kappa)`` on ``S^(m-1)``:
    ``C_m(kappa) |S^(m-2)| exp(kappa w) (1 - w^2)^((m-3)/2)`` on (-1, 1) (the marginal Wood samples)."""
    w = _f64(w)
    return vmf_log_normalizer(m, kappa) + math.log(sphere_area(m - 1)) + kappa * w + (m - 3) / 2 * np.log1p(-(w**2))


def wood_cosine(kappa, m, normals, uniforms):
    """Algorithm 1's ``w`` by Wood's (1994) sampler, in his variables, from given random numbers.

    ``b = (-2 kappa + sqrt(4 kappa^2 + (m-1)^2)) / (m-1)``, ``a = (m - 1 + 2 kappa + sqrt(4 kappa^2 +
    (m-1)^2)) / 4``, ``d = 4ab / (1+b) - (m-1) log(m-1)``; each proposal has ``eps ~ Beta((m-1)/2, (m-1)/2)``,
    ``w = (1 - (1+b) eps) / (1 - (1-b) eps)``, ``t = 2ab / (1 - (1-b) eps)``, and is accepted if ``(m-1) log t -
    t + d >= log u``. ``eps`` is the Beta variate ``(1 + g_1 / |g|) / 2`` of the normals ``g`` given for the
    proposal. The first accepted is taken, the first proposal where none is.

    Args:
        kappa: shape ``(n,)``.
        normals: ``(n, proposals, m)``.
        uniforms: ``(n, proposals)``.

    Returns:
        ``w``, shape ``(n,)``, and the index of the proposal taken.
    """
    kappa = _f64(kappa)[:, None]
    normals, uniforms = _f64(normals), _f64(uniforms)
    root = np.sqrt(4 * kappa**2 + (m - 1) ** 2)
    b = (-2 * kappa + root) / (m - 1)
    a = (m - 1 + 2 * kappa + root) / 4
    d = 4 * a * b / (1 + b) - (m - 1) * np.log(m - 1)
    eps = (1 + normals[..., 0] / np.linalg.norm(normals, axis=-1)) / 2
    w = (1 - (1 + b) * eps) / (1 - (1 - b) * eps)
    t = 2 * a * b / (1 - (1 - b) * eps)
    accepted = (m - 1) * np.log(t) - t + d >= np.log(uniforms)
    index = np.argmax(accepted, axis=-1)
    return w[np.arange(len(w)), index], index


def exact_cosine_3d(kappa, uniforms):
    """``w = 1 + log(u + (1 - u) e^(-2 kappa)) / kappa`` on ``S^2`` (the inverse of ``w``'s distribution function)."""
    kappa, u = _f64(kappa), _f64(uniforms)
    return 1 + np.log(u + (1 - u) * np.exp(-2 * kappa)) / kappa


def householder(points, mu):
    """``U z'`` with ``U = I - 2 u u^T``, ``u = (e_1 - mu) / |e_1 - mu|`` (algorithm 1)."""
    points, mu = _f64(points), _f64(mu)
    e1 = np.zeros_like(mu)
    e1[..., 0] = 1
    u = e1 - mu
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    return points - 2 * np.sum(u * points, axis=-1, keepdims=True) * u


# ---------------------------------------------------------------------------------------------
# The Poincare ball and its wrapped normal (Mathieu et al. 2019)
# ---------------------------------------------------------------------------------------------


def conformal_factor(x, c):
    """``lambda_x^c = 2 / (1 - c |x|^2)`` (section 2)."""
    x = _f64(x)
    return 2 / (1 - c * np.sum(x**2, axis=-1, keepdims=True))


def mobius_add(x, y, c):
    """``x (+)_c y = ((1 + 2c<x,y> + c|y|^2) x + (1 - c|x|^2) y) / (1 + 2c<x,y> + c^2 |x|^2 |y|^2)`` (section 2)."""
    x, y = _f64(x), _f64(y)
    xy = np.sum(x * y, axis=-1, keepdims=True)
    x2, y2 = np.sum(x**2, axis=-1, keepdims=True), np.sum(y**2, axis=-1, keepdims=True)
    return ((1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y) / (1 + 2 * c * xy + c**2 * x2 * y2)


def exp_map(x, v, c):
    """``exp_x^c(v) = x (+)_c (tanh(sqrt(c) lambda_x^c |v| / 2) v / (sqrt(c) |v|))`` (section 2)."""
    v = _f64(v)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    sc = math.sqrt(c)
    return mobius_add(x, np.tanh(sc * conformal_factor(x, c) * norm / 2) * v / (sc * norm), c)


def log_map(x, y, c):
    """``log_x^c(y) = 2 / (sqrt(c) lambda_x^c) artanh(sqrt(c) |-x (+)_c y|) (-x (+)_c y) / |-x (+)_c y|``
    (section 2)."""
    w = mobius_add(-_f64(x), y, c)
    norm = np.linalg.norm(w, axis=-1, keepdims=True)
    sc = math.sqrt(c)
    return 2 / (sc * conformal_factor(x, c)) * np.arctanh(sc * norm) * w / norm


def distance(x, y, c):
    """``d_c(x, y) = 2 / sqrt(c) artanh(sqrt(c) |-x (+)_c y|)`` (section 2)."""
    w = mobius_add(-_f64(x), y, c)
    return 2 / math.sqrt(c) * np.arctanh(math.sqrt(c) * np.linalg.norm(w, axis=-1))


def wrapped_normal_sample(mean, log_variance, normals, c):
    """``z = exp_mu(P_(0 -> mu)(v / lambda_0))`` for ``v = sigma * normals`` (section 3, the wrapped normal's
    sampler): the parallel transport from the origin scales by ``lambda_0 / lambda_mu`` (section 2)."""
    v = np.exp(0.5 * _f64(log_variance)) * _f64(normals)
    transported = (v / 2) * (2 / conformal_factor(mean, c))
    return exp_map(mean, transported, c)


def wrapped_normal_log_density(z, mean, log_variance, c, measure="riemannian"):
    """``log N^W(z; mu, Sigma) = log N(lambda_mu log_mu(z); 0, Sigma) + (d - 1) log(sqrt(c) r / sinh(sqrt(c) r))``,
    ``r = d_c(mu, z)`` (section 3, on the Riemannian volume). ``measure="lebesgue"`` adds ``d log lambda_z``,
    the Riemannian volume's density on ``R^d``."""
    z, mean, log_variance = _f64(z), _f64(mean), _f64(log_variance)
    d = z.shape[-1]
    v = conformal_factor(mean, c) * log_map(mean, z, c)
    gaussian = np.sum(-0.5 * (np.log(2 * np.pi) + log_variance + v**2 / np.exp(log_variance)), axis=-1)
    r = distance(mean, z, c)
    sr = math.sqrt(c) * r
    density = gaussian + (d - 1) * np.log(sr / np.sinh(sr))
    if measure == "lebesgue":
        density = density + d * np.log(conformal_factor(z, c)[..., 0])
    return density
