"""Plain-NumPy (float64) transcriptions of the flows' formulas, which the tests compare tfae-flows against.

Papers: Rezende & Mohamed 2015, "Variational Inference with Normalizing Flows" (planar and radial flows, eqs.
10-14 and appendix A); Kingma et al. 2016, "Improved Variational Inference with Inverse Autoregressive Flow"
(IAF, algorithm 1 and eqs. 10-14); Germain et al. 2015, "MADE" (masks, eqs. 12-13); Papamakarios et al. 2017,
"Masked Autoregressive Flow for Density Estimation" (MAF, eqs. 2-5).

Everything is written one sample at a time (codes of shape ``(latent_dim,)``) where the paper is, and loops
over samples otherwise, so that it shares no broadcasting tricks with the Keras code. Nothing here imports
tfae or Keras.
"""

from __future__ import annotations

import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


def f64(x):
    return np.asarray(x, dtype=np.float64)


def softplus(x):
    x = f64(x)
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-f64(x)))


def gaussian_log_density(z, mean, log_variance):
    """log N(z; mean, diag(exp(log_variance))), summed over the last axis."""
    z, mean, log_variance = f64(z), f64(mean), f64(log_variance)
    return -0.5 * np.sum(LOG_2PI + log_variance + (z - mean) ** 2 / np.exp(log_variance), axis=-1)


def standard_normal_log_density(z):
    return -0.5 * np.sum(LOG_2PI + f64(z) ** 2, axis=-1)


# ---------------------------------------------------------------------------------------------
# Planar flow: f(z) = z + u h(w^T z + b), h = tanh (eq. 10)
# ---------------------------------------------------------------------------------------------


def planar_u_hat(u, w):
    """Appendix A.1: u_hat = u + [m(w^T u) - w^T u] w / ||w||^2, m(x) = -1 + log(1 + e^x); so w^T u_hat > -1."""
    u, w = f64(u), f64(w)
    w_u = float(w @ u)
    return u + ((-1.0 + math.log1p(math.exp(w_u))) - w_u) * w / float(w @ w)


def planar_forward(z, u_hat, w, b):
    """One planar layer on one code: f(z) (eq. 10) and log |det df/dz| = log |1 + u^T psi(z)| with
    psi(z) = h'(w^T z + b) w (eqs. 11-12)."""
    z, u_hat, w = f64(z), f64(u_hat), f64(w)
    a = float(w @ z) + float(b)
    psi = (1.0 - math.tanh(a) ** 2) * w
    return z + u_hat * math.tanh(a), math.log(abs(1.0 + float(u_hat @ psi)))


def planar_inverse(y, u_hat, w, b):
    """The z with f(z) = y: z = y - u_hat tanh(w^T z + b), where a = w^T z solves a + (w^T u_hat) tanh(a + b)
    = w^T y, found by 100 bisection steps in float64 (the left side increases in a because w^T u_hat > -1)."""
    y, u_hat, w = f64(y), f64(u_hat), f64(w)
    w_u, target = float(w @ u_hat), float(w @ y)
    low, high = target - abs(w_u) - 1.0, target + abs(w_u) + 1.0
    for _ in range(100):
        middle = 0.5 * (low + high)
        if middle + w_u * math.tanh(middle + float(b)) > target:
            high = middle
        else:
            low = middle
    return y - u_hat * math.tanh(0.5 * (low + high) + float(b))


# ---------------------------------------------------------------------------------------------
# Radial flow: f(z) = z + beta h(alpha, r)(z - z_0), r = |z - z_0|, h = 1 / (alpha + r) (eq. 14)
# ---------------------------------------------------------------------------------------------


def radial_alpha_beta(alpha_raw, beta_raw):
    """Appendix A.2: alpha > 0 and beta >= -alpha; here alpha = softplus(alpha_raw) and
    beta = -alpha + softplus(beta_raw)."""
    alpha = float(softplus(alpha_raw))
    return alpha, -alpha + float(softplus(beta_raw))


def radial_forward(z, center, alpha, beta):
    """One radial layer on one code and log |det df/dz| = (d - 1) log(1 + beta h) + log(1 + beta h + beta h' r)
    (eq. 14), with h' = -1 / (alpha + r)^2."""
    z, center = f64(z), f64(center)
    d = len(z)
    r = float(np.linalg.norm(z - center))
    h = 1.0 / (alpha + r)
    h_prime = -1.0 / (alpha + r) ** 2
    log_det = (d - 1) * math.log(1.0 + beta * h) + math.log(1.0 + beta * h + beta * h_prime * r)
    return z + beta * h * (z - center), log_det


def radial_inverse(y, center, alpha, beta):
    """The z with f(z) = y: |y - z_0| = r (1 + beta / (alpha + r)), solved for r by bisection in float64, then
    z = z_0 + (y - z_0) r / |y - z_0|."""
    y, center = f64(y), f64(center)
    target = float(np.linalg.norm(y - center))
    low, high = 0.0, target + abs(beta) + 1.0
    for _ in range(100):
        middle = 0.5 * (low + high)
        if middle * (1.0 + beta / (alpha + middle)) > target:
            high = middle
        else:
            low = middle
    r = 0.5 * (low + high)
    return center + (y - center) * (r / target if target > 0 else 1.0)


# ---------------------------------------------------------------------------------------------
# MADE (Germain et al. 2015) and the autoregressive flows
# ---------------------------------------------------------------------------------------------


def made_masks(latent_dim, hidden_units, reverse):
    """MADE's masks, one entry at a time. Input i has degree m(i) (its place in the order, 1..D); hidden unit k of
    every layer has degree k mod D (0: it sees the context alone). A connection to a hidden unit of degree m' from a
    unit of degree m exists iff m' >= m (eq. 12); to output i iff m(i) > m (eq. 13)."""
    order = list(range(latent_dim))[::-1] if reverse else list(range(latent_dim))
    input_degree = [0] * latent_dim
    for place, dimension in enumerate(order):
        input_degree[dimension] = place + 1
    degrees = [input_degree] + [[k % latent_dim for k in range(units)] for units in hidden_units]
    masks = []
    for earlier, later in zip(degrees[:-1], degrees[1:]):
        mask = np.zeros((len(earlier), len(later)))
        for i, m in enumerate(earlier):
            for k, m_later in enumerate(later):
                mask[i, k] = 1.0 if m_later >= m else 0.0
        masks.append(mask)
    last = degrees[-1]
    mask = np.zeros((len(last), latent_dim))
    for k, m in enumerate(last):
        for i in range(latent_dim):
            mask[k, i] = 1.0 if input_degree[i] > m else 0.0
    masks.append(mask)
    return masks


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def made(z, weights, masks, context=None):
    """MADE's outputs (m, s) for one code: h_1 = elu(z (W_1 * M_1) + c V + b_1), ..., m = h_L (W_m * M_out) + b_m,
    s = h_L (W_s * M_out) + b_s. ``weights`` is a dict: kernels, biases, context_kernel, m_kernel, m_bias,
    s_kernel, s_bias."""
    hidden = f64(z)
    for index, (kernel, bias) in enumerate(zip(weights["kernels"], weights["biases"])):
        hidden = hidden @ (f64(kernel) * masks[index]) + f64(bias)
        if index == 0 and context is not None:
            hidden = hidden + f64(context) @ f64(weights["context_kernel"])
        hidden = elu(hidden)
    m = hidden @ (f64(weights["m_kernel"]) * masks[-1]) + f64(weights["m_bias"])
    s = hidden @ (f64(weights["s_kernel"]) * masks[-1]) + f64(weights["s_bias"])
    return m, s


def iaf_step(z, context, weights, masks):
    """One IAF step (Kingma et al. 2016, algorithm 1): [m, s] = AutoregressiveNN(z, h); sigma = sigmoid(s);
    z = sigma * z + (1 - sigma) * m; and log |det| = sum log sigma (the Jacobian is triangular, eq. 14)."""
    m, s = made(z, weights, masks, context)
    sigma = sigmoid(s)
    return sigma * f64(z) + (1.0 - sigma) * m, float(np.sum(np.log(sigma)))


def iaf_inverse_step(y, context, weights, masks, reverse):
    """The z with iaf_step(z) = y, one dimension at a time in the layer's order: z_i = (y_i - (1 - sigma_i) m_i) /
    sigma_i, where m_i and sigma_i depend on the z_j already found."""
    latent_dim = len(y)
    z = np.zeros(latent_dim)
    for i in reversed(range(latent_dim)) if reverse else range(latent_dim):
        m, s = made(z, weights, masks, context)
        sigma = sigmoid(s[i])
        z[i] = (f64(y)[i] - (1.0 - sigma) * m[i]) / sigma
    return z


def maf_inverse_step(z, weights, masks):
    """One MAF layer from the code to the noise (Papamakarios et al. 2017, eq. 3): u = (z - mu) exp(-alpha), with
    [mu, alpha] = MADE(z), and log |det du/dz| = -sum alpha (eq. 5)."""
    mu, alpha = made(z, weights, masks)
    return (f64(z) - mu) * np.exp(-alpha), -float(np.sum(alpha))


def maf_log_prob(z, layers):
    """log p(z) = log N(u_T; 0, I) + sum_t log |det du_t / du_{t-1}|, through the layers in order."""
    u, log_det = f64(z), 0.0
    for weights, masks in layers:
        u, layer_log_det = maf_inverse_step(u, weights, masks)
        log_det += layer_log_det
    return float(standard_normal_log_density(u)) + log_det


# ---------------------------------------------------------------------------------------------
# Jacobians by finite differences, and densities on a grid
# ---------------------------------------------------------------------------------------------


def numerical_log_abs_det(function, z, step=1e-6):
    """log |det J| of ``function`` at ``z`` (float64), J by central differences of step ``step``."""
    z = f64(z)
    jacobian = np.empty((len(z), len(z)))
    for j in range(len(z)):
        shift = np.zeros(len(z))
        shift[j] = step
        jacobian[:, j] = (f64(function(z + shift)) - f64(function(z - shift))) / (2 * step)
    sign, log_abs_det = np.linalg.slogdet(jacobian)
    return float(log_abs_det)


def numerical_jacobian(function, z, step=1e-6):
    z = f64(z)
    columns = []
    for j in range(len(z)):
        shift = np.zeros(len(z))
        shift[j] = step
        columns.append((f64(function(z + shift)) - f64(function(z - shift))) / (2 * step))
    return np.stack(columns, axis=1)


def grid(low, high, points):
    """A square grid over [low, high]^2: the points (points^2, 2) and the area of each cell."""
    axis = np.linspace(low, high, points)
    first, second = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([first.ravel(), second.ravel()], axis=-1), (axis[1] - axis[0]) ** 2
