"""Plain-NumPy (float64) transcriptions of the papers' formulas, which the tests compare tfae-adversarial with.

Nothing here imports tfae or Keras, and nothing is written the way the plugin computes it: probabilities
where the plugin uses softplus of logits, window sums by explicit loops where it convolves, variances as
weighted sums of squared deviations where it uses E[x^2] - E[x]^2.

- Adversarial autoencoders: Makhzani, Shlens, Jaitly, Goodfellow & Frey (2016), "Adversarial Autoencoders",
  Section 2 and Eq. (1), which is the GAN game of Goodfellow et al. (2014), "Generative Adversarial Nets",
  Eq. (1), with the prior p(z) as the data and the encoder's aggregate posterior q(z) as the generator; the
  generator's non-saturating loss -log D(G(z)) is Goodfellow et al.'s Section 3, as pythae's Adversarial_AE
  (``adversarial_ae_model.py: loss_function``) uses it.
- SSIM: Wang, Bovik, Sheikh & Simoncelli (2004), "Image Quality Assessment: From Error Visibility to
  Structural Similarity", Eqs. (6), (9), (10), (13) (C3 = C2 / 2) and (14)-(16) (the windowed statistics),
  with a Gaussian window.
- MS-SSIM: Wang, Simoncelli & Bovik (2003), "Multi-Scale Structural Similarity for Image Quality Assessment",
  Eqs. (1)-(3) and (7), weights of Section 3.1; the 2 x 2 low-pass and downsampling of Fig. 1.
- pythae's MSSSIM_VAE loss (``msssim_vae_utils.py: MSSSIM.forward``): each factor v mapped to (1 + v) / 2.
"""

from __future__ import annotations

import numpy as np

WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _f64(values):
    return np.asarray(values, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Adversarial autoencoders
# ---------------------------------------------------------------------------------------------


def sigmoid(logits):
    return 1.0 / (1.0 + np.exp(-_f64(logits)))


def mlp_logits(weights, codes, activation="relu"):
    """A Dense-ReLU-...-Dense MLP with one output: the discriminator's logit of each code, shape (batch,)."""
    outputs = _f64(codes)
    for index in range(0, len(weights), 2):
        outputs = outputs @ _f64(weights[index]) + _f64(weights[index + 1])
        if index + 2 < len(weights):
            outputs = np.maximum(outputs, 0.0)
    return outputs[:, 0]


def aae_generator_loss(code_logits):
    """The encoder's loss of each code, -log D(z), with D(z) = sigmoid(logit): the probability of "prior"."""
    return -np.log(sigmoid(code_logits))


def aae_discriminator_loss(prior_logits, code_logits):
    """The discriminator's binary cross-entropy, each side averaged, then the two averaged:

    0.5 * (E_{z' ~ p(z)}[-log D(z')] + E_{z ~ q(z)}[-log(1 - D(z))]), the negative of Eq. (1)'s value
    function halved. At chance, D = 1/2 everywhere, it is log 2.
    """
    real = -np.log(sigmoid(prior_logits))
    fake = -np.log(1.0 - sigmoid(code_logits))
    return 0.5 * (np.mean(real) + np.mean(fake))


# ---------------------------------------------------------------------------------------------
# SSIM and MS-SSIM
# ---------------------------------------------------------------------------------------------


def gaussian_window(size, sigma=1.5):
    """w(i, j) proportional to exp(-((i - c)^2 + (j - c)^2) / (2 sigma^2)), c the centre, summing to 1."""
    centre = (size - 1) / 2.0
    window = np.empty((size, size))
    for i in range(size):
        for j in range(size):
            window[i, j] = np.exp(-((i - centre) ** 2 + (j - centre) ** 2) / (2.0 * sigma**2))
    return window / window.sum()


def local_terms(x, y, window, data_range=1.0):
    """The luminance l and contrast-structure cs of every window lying inside the image (2-D, one channel).

    For each position, with weights w summing to 1 (Wang et al. 2004, Eqs. 14-16):
    mu_x = sum w x, sigma_x^2 = sum w (x - mu_x)^2, sigma_xy = sum w (x - mu_x)(y - mu_y);
    l = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) (Eq. 6); c * s with C3 = C2 / 2 is
    (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2) (Eqs. 9, 10, 13).
    """
    x, y = _f64(x), _f64(y)
    size = window.shape[0]
    rows, columns = x.shape[0] - size + 1, x.shape[1] - size + 1
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    luminance = np.empty((rows, columns))
    contrast_structure = np.empty((rows, columns))
    for i in range(rows):
        for j in range(columns):
            patch_x, patch_y = x[i : i + size, j : j + size], y[i : i + size, j : j + size]
            mu_x, mu_y = np.sum(window * patch_x), np.sum(window * patch_y)
            var_x = np.sum(window * (patch_x - mu_x) ** 2)
            var_y = np.sum(window * (patch_y - mu_y) ** 2)
            cov = np.sum(window * (patch_x - mu_x) * (patch_y - mu_y))
            luminance[i, j] = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
            contrast_structure[i, j] = (2 * cov + c2) / (var_x + var_y + c2)
    return luminance, contrast_structure


def downsample(image):
    """The 2 x 2 low-pass filter and downsampling by 2 of Wang et al. 2003's Fig. 1: means of 2 x 2 blocks."""
    image = _f64(image)
    rows, columns = image.shape[0] // 2, image.shape[1] // 2
    out = np.empty((rows, columns) + image.shape[2:])
    for i in range(rows):
        for j in range(columns):
            out[i, j] = image[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean(axis=(0, 1))
    return out


def _with_channels(image):
    image = _f64(image)
    return image[..., None] if image.ndim == 2 else image


def ssim_and_cs(x, y, window_size=11, sigma=1.5, data_range=1.0):
    """One image pair's mean SSIM (the mean of l * cs) and mean cs, over the windows and then the channels."""
    x, y = _with_channels(x), _with_channels(y)
    window = gaussian_window(window_size, sigma)
    ssims, css = [], []
    for channel in range(x.shape[-1]):
        luminance, contrast_structure = local_terms(x[..., channel], y[..., channel], window, data_range)
        ssims.append(np.mean(luminance * contrast_structure))
        css.append(np.mean(contrast_structure))
    return float(np.mean(ssims)), float(np.mean(css))


def per_scale(x, y, scales, window_size=11, sigma=1.5, data_range=1.0):
    """[(ssim_j, cs_j) for j = 1..scales] of one image pair, the image downsampled between scales."""
    x, y = _with_channels(x), _with_channels(y)
    found = []
    for scale in range(scales):
        if scale:
            x, y = downsample(x), downsample(y)
        found.append(ssim_and_cs(x, y, window_size, sigma, data_range))
    return found


def ms_ssim(x, y, weights=WANG_WEIGHTS, window_size=11, sigma=1.5, data_range=1.0):
    """Eq. (7) with alpha_j = beta_j = gamma_j = w_j: [l_M c_M s_M]^w_M * prod_{j<M} [c_j s_j]^w_j, of one pair.

    The coarsest scale's factor is its mean SSIM, the others their mean cs, as in Wang's reference code;
    a negative factor counts as 0 (a fractional power of it has no real value).
    """
    scales = per_scale(x, y, len(weights), window_size, sigma, data_range)
    value = 1.0
    for j, ((ssim_j, cs_j), weight) in enumerate(zip(scales, weights)):
        factor = ssim_j if j == len(weights) - 1 else cs_j
        value *= max(factor, 0.0) ** weight
    return value


def pythae_ms_ssim_loss(x, y, weights, window_size=11, sigma=1.5, data_range=1.0):
    """1 - MS-SSIM with each factor v mapped to (1 + v) / 2 before its power, as pythae's MSSSIM does, of one pair."""
    scales = per_scale(x, y, len(weights), window_size, sigma, data_range)
    value = 1.0
    for j, ((ssim_j, cs_j), weight) in enumerate(zip(scales, weights)):
        factor = ssim_j if j == len(weights) - 1 else cs_j
        value *= ((1.0 + factor) / 2.0) ** weight
    return 1.0 - value


# ---------------------------------------------------------------------------------------------
# Regularised autoencoders
# ---------------------------------------------------------------------------------------------
# Ghosh, Sajjadi, Vergari, Black & Schoelkopf (2020), "From Variational to Deterministic Autoencoders",
# Section 3: L_RAE = L_REC + beta * L_z + lambda * L_REG, L_z = 1/2 ||z||^2, with L_REG = ||theta||^2 of the
# decoder's parameters (RAE-L2) or ||grad D(E(x))||^2 (RAE-GP).


def rae_code_penalty(codes):
    """L_z = 1/2 ||z||^2 of each code."""
    return 0.5 * np.sum(_f64(codes) ** 2, axis=-1)


def rae_weight_penalty(weights):
    """L_REG of RAE-L2: the squared norm of all the decoder's parameters."""
    return float(sum(np.sum(_f64(weight) ** 2) for weight in weights))


def tanh_decoder(weights, codes):
    """D(z) = tanh(z W1 + b1) W2 + b2, one hidden layer: the decoder the tests give a closed-form gradient."""
    w1, b1, w2, b2 = (_f64(weight) for weight in weights)
    return np.tanh(_f64(codes) @ w1 + b1) @ w2 + b2


def rae_gradient_penalty(weights, codes):
    """L_REG of RAE-GP for ``tanh_decoder``: ||d/dz sum_k D_k(z)||^2 of each code, by the chain rule:

    d/dz sum_k D_k(z) = W1 ((1 - h^2) * (W2 1)), h = tanh(z W1 + b1).
    """
    w1, b1, w2, _ = (_f64(weight) for weight in weights)
    hidden = np.tanh(_f64(codes) @ w1 + b1)
    gradient = ((1.0 - hidden**2) * w2.sum(axis=1)) @ w1.T
    return np.sum(gradient**2, axis=-1)
