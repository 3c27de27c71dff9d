"""Plain-NumPy (float64) reference implementations of the disentanglement objectives.

Tests compare the Keras implementations of tfae-disentangle against these functions.  Every
function follows the paper's definition; where the authors' released code was read, the docstring
names the file and function (repository snapshots read: rtqichen/beta-tcvae @ 1a3577d,
google-research/disentanglement_lib @ 86a644d, 1Konny/FactorVAE @ 8c97b1f, 1Konny/Beta-VAE @ 977a1ec,
tolstikhin/wae @ 6351565, ShengjiaZhao/MMD-Variational-Autoencoder @ e33606e) and says where the
code departs from the paper.

Conventions: the posterior is q(z|x_i) = N(mean_i, diag(exp(log_variance_i))), the prior is
p(z) = N(0, I), and ``z`` of shape (batch, dim) holds one reparameterised sample per x_i.  All
arithmetic is done in float64.  Nothing here imports tfae or Keras.
"""

from __future__ import annotations

import math

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)

#: The IMQ scales the official WAE code sums over (tolstikhin/wae, wae.py, WAE.mmd_penalty).
WAE_IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def logsumexp(a, axis):
    """Numerically stable log(sum(exp(a), axis)) (no SciPy in the test environment)."""
    a = _f64(a)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


# ---------------------------------------------------------------------------------------------
# 1. Gaussian log density
# ---------------------------------------------------------------------------------------------


def gaussian_log_density(z, mean, log_variance):
    """Elementwise log N(z; mean, exp(log_variance)), one value per dimension, with broadcasting.

    log N = -0.5 * (log(2 pi) + log_variance + (z - mean)^2 * exp(-log_variance)).

    Matches disentanglement_lib ``methods/unsupervised/vae.py: gaussian_log_density`` (which takes
    the log *variance*) and beta-tcvae ``lib/dist.py: Normal.log_density`` (which takes the log
    *standard deviation*: logsigma = log_variance / 2, same value).
    """
    z, mean, log_variance = _f64(z), _f64(mean), _f64(log_variance)
    diff = z - mean
    return -0.5 * (LOG_2PI + log_variance + diff * diff * np.exp(-log_variance))


# ---------------------------------------------------------------------------------------------
# 2. beta-TCVAE decomposition (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs")
# ---------------------------------------------------------------------------------------------


def log_importance_weight_matrix(batch_size, dataset_size, layout="paper"):
    """Log weights W[i, j] of the minibatch-stratified-sampling (MSS) estimate of q(z_i).

    Chen et al. 2018, appendix C.2 (MSS).  With B = batch_size, M = B - 1 and N = dataset_size,
    row i (the sample z_i drawn from q(z|x_i), x_i = n*) weights the other members of the batch:

        W[i, i]           = 1 / N                 (n* itself)
        W[i, (i+1) mod B] = (N - M) / (N * M)     (the one "stratum" element)
        W[i, j]           = 1 / M                 (the other B - 2 elements)

    so every row sums to 1/N + (M-1)/M + (N-M)/(NM) = 1 (an unbiased estimate of
    q(z_i) = 1/N sum_n q(z_i|n)).  Which off-diagonal element carries the stratum weight is
    arbitrary; we fix it cyclically at (i, i+1 mod B) so Keras implementations can match exactly.

    ``layout="authors_code"`` reproduces beta-tcvae ``vae_quant.py: VAE._log_importance_weight_matrix``
    *literally*.  That code writes ``W.view(-1)[::M+1] = 1/N`` and ``W.view(-1)[1::M+1] = strat``;
    since M + 1 = B the stride is one full row, so it fills **column 0** with 1/N and **column 1**
    with the stratum weight (not the diagonal and super-diagonal), then sets W[M-1, 0] = strat.
    Consequently rows i >= 2 give their own posterior q(z_i|x_i) weight 1/M instead of 1/N, and row
    B-2 sums to 1 + 1/M - 2/N, not 1.  This is the open "Bug fix" PR #1 in rtqichen/beta-tcvae and
    issue #58 in YannDubs/disentangling-vae (which copied it).  We follow the paper, not this.
    """
    B, N = int(batch_size), int(dataset_size)
    if B < 2:
        raise ValueError("MSS needs batch_size >= 2")
    if N < B:
        raise ValueError("dataset_size must be >= batch_size (the batch is drawn from the data set)")
    M = B - 1
    strat = (N - M) / (N * M)
    W = np.full((B, B), 1.0 / M, dtype=np.float64)
    if layout == "paper":
        idx = np.arange(B)
        W[idx, (idx + 1) % B] = strat
        W[idx, idx] = 1.0 / N
    elif layout == "authors_code":
        flat = W.reshape(-1)  # a view: same as torch's W.view(-1)
        flat[:: M + 1] = 1.0 / N
        flat[1 :: M + 1] = strat
        W[M - 1, 0] = strat
    else:
        raise ValueError(f"unknown layout {layout!r}")
    return np.log(W)


def log_weighted_sampling_matrix(batch_size, dataset_size):
    """Log weights of the minibatch-weighted-sampling (MWS) estimate: every entry -log(N * B).

    Chen et al. 2018, appendix C.1 (MWS): log q(z_i) ~= logsumexp_j log q(z_i|x_j) - log(N * M)
    where M is the batch size *including* x_i (the paper's M; the code's ``batch_size``), and the
    same constant -log(N * B) is used for each one-dimensional marginal log q(z_ij).  Matches
    beta-tcvae ``vae_quant.py: VAE.elbo`` (branch ``not self.mss``:
    ``logsumexp(...) - math.log(batch_size * dataset_size)``).
    """
    B, N = int(batch_size), int(dataset_size)
    return np.full((B, B), -math.log(N * B), dtype=np.float64)


def beta_tcvae_terms(z, mean, log_variance, dataset_size, estimator="mws", mss_layout="paper"):
    """Per-sample index-code MI, total correlation and dimension-wise KL (Chen et al. 2018, eq. 2).

    With log q(z_i|x_j) = sum_d log N(z_id; mean_jd, exp(log_variance_jd)) and log weights W[i, j]
    (:func:`log_weighted_sampling_matrix` for "mws", :func:`log_importance_weight_matrix` for "mss"):

        log q(z_i)      ~= logsumexp_j (W[i, j] + log q(z_i|x_j))
        log q(z_id)     ~= logsumexp_j (W[i, j] + log q(z_id|x_jd))      (each dimension d)
        mutual_information = log q(z_i|x_i) - log q(z_i)
        total_correlation  = log q(z_i) - sum_d log q(z_id)
        dimension_wise_kl  = sum_d log q(z_id) - log p(z_i)

    This is beta-tcvae ``vae_quant.py: VAE.elbo`` (``logqz``, ``logqz_prodmarginals``,
    ``logqz_condx``, ``logpz``), except that "mss" uses the paper's weight matrix (see
    :func:`log_importance_weight_matrix`; pass ``mss_layout="authors_code"`` for the released one).
    The same two-step estimate (all N samples, no minibatch) is ``elbo_decomposition.py:
    estimate_entropies``.

    Identity: the three terms telescope, so with alpha = beta = gamma = 1 their sum is exactly
    log q(z_i|x_i) - log p(z_i), the single-sample Monte-Carlo KL(q(z|x_i) || p(z)), for *any*
    estimate of log q(z) and log q(z_d) (MWS, MSS, or either layout).

    Returns a dict of arrays of shape (batch,): the three terms plus the pieces ``log_q_z_given_x``,
    ``log_q_z``, ``log_prod_q_z_j`` and ``log_p_z``.
    """
    z, mean, log_variance = _f64(z), _f64(mean), _f64(log_variance)
    B = z.shape[0]
    if estimator == "mws":
        log_w = log_weighted_sampling_matrix(B, dataset_size)
    elif estimator == "mss":
        log_w = log_importance_weight_matrix(B, dataset_size, layout=mss_layout)
    else:
        raise ValueError(f"estimator must be 'mws' or 'mss', got {estimator!r}")

    # log q(z_id | x_jd): (B_i, B_j, D)
    log_q_pair = gaussian_log_density(z[:, None, :], mean[None, :, :], log_variance[None, :, :])
    log_q_z_given_x = np.sum(gaussian_log_density(z, mean, log_variance), axis=1)
    log_p_z = np.sum(gaussian_log_density(z, 0.0, 0.0), axis=1)
    log_q_z = logsumexp(log_w + np.sum(log_q_pair, axis=2), axis=1)
    log_prod_q_z_j = np.sum(logsumexp(log_w[:, :, None] + log_q_pair, axis=1), axis=1)
    return {
        "mutual_information": log_q_z_given_x - log_q_z,
        "total_correlation": log_q_z - log_prod_q_z_j,
        "dimension_wise_kl": log_prod_q_z_j - log_p_z,
        "log_q_z_given_x": log_q_z_given_x,
        "log_q_z": log_q_z,
        "log_prod_q_z_j": log_prod_q_z_j,
        "log_p_z": log_p_z,
    }


def total_correlation_disentanglement_lib(z, mean, log_variance):
    """Batch TC as disentanglement_lib computes it (``vae.py: total_correlation``), a scalar.

    It is the MWS estimate with the weights dropped: mean_i [logsumexp_j log q(z_i|x_j)
    - sum_d logsumexp_j log q(z_id|x_jd)].  Its docstring says the missing constant is
    (num_latents - 1) * log(batch_size * dataset_size); indeed

        mean(beta_tcvae_terms(..., "mws")["total_correlation"])
            == total_correlation_disentanglement_lib(...) + (D - 1) * log(B * N).

    Same gradients as MWS, different value.  Its BetaTCVAE adds (beta - 1) * TC to the analytic KL
    (eq. 4 with alpha = gamma = 1).
    """
    z, mean, log_variance = _f64(z), _f64(mean), _f64(log_variance)
    log_q_pair = gaussian_log_density(z[:, None, :], mean[None, :, :], log_variance[None, :, :])
    log_qz_product = np.sum(logsumexp(log_q_pair, axis=1), axis=1)
    log_qz = logsumexp(np.sum(log_q_pair, axis=2), axis=1)
    return float(np.mean(log_qz - log_qz_product))


# ---------------------------------------------------------------------------------------------
# 3. DIP-VAE (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts ...")
# ---------------------------------------------------------------------------------------------


def covariance_of_means(mean):
    """Cov_p(x)[mu(x)] over the batch, the *biased* (divide by batch size N) estimate.

    disentanglement_lib ``vae.py: compute_covariance_z_mean`` computes
    E[mu mu^T] - E[mu] E[mu]^T with ``tf.reduce_mean``, i.e. divides by N, not N - 1
    (equal to ``np.cov(mean, rowvar=False, bias=True)``).  We match it.
    """
    mean = _f64(mean)
    centred = mean - mean.mean(axis=0, keepdims=True)
    return centred.T @ centred / mean.shape[0]


def dip_penalty(covariance, lambda_od, lambda_d):
    """lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2.

    Kumar et al. 2018, eqs. 6-7; disentanglement_lib ``vae.py: regularize_diag_off_diag_dip``.
    (disentanglement_lib parametrises lambda_d = lambda_d_factor * lambda_od; here lambda_d is given
    directly.)
    """
    c = _f64(covariance)
    diag = np.diag(c)
    off = c - np.diag(diag)
    return float(lambda_od * np.sum(off**2) + lambda_d * np.sum((diag - 1.0) ** 2))


def dip_vae_i(mean, lambda_od, lambda_d):
    """DIP-VAE-I penalty (Kumar et al. 2018, eq. 6): :func:`dip_penalty` of Cov[mu] (biased).

    disentanglement_lib ``vae.py: DIPVAE.regularizer``, ``dip_type == "i"``.  A scalar for the
    batch; the model's loss adds it to the (analytic) KL term, which is not included here.
    """
    return dip_penalty(covariance_of_means(mean), lambda_od, lambda_d)


def dip_vae_ii(mean, log_variance, lambda_od, lambda_d):
    """DIP-VAE-II penalty (Kumar et al. 2018, eq. 7) on Cov_q(z)[z] = E[diag(exp(logvar))] + Cov[mu].

    disentanglement_lib ``vae.py: DIPVAE.regularizer``, ``dip_type == "ii"``: batch mean of the
    diagonal encoder covariances plus the biased covariance of the means.  Scalar.
    """
    cov = covariance_of_means(mean) + np.diag(np.mean(np.exp(_f64(log_variance)), axis=0))
    return dip_penalty(cov, lambda_od, lambda_d)


# ---------------------------------------------------------------------------------------------
# 4. Closed-form KL and the capacity objective (Burgess et al. 2018)
# ---------------------------------------------------------------------------------------------


def gaussian_kl(mean, log_variance):
    """Per-sample KL(N(mean, exp(logvar)) || N(0, I)) = 0.5 * sum_d (mean^2 + exp(logvar) - logvar - 1).

    Shape (batch,).  disentanglement_lib ``vae.py: compute_gaussian_kl`` (before its batch mean);
    1Konny/Beta-VAE ``solver.py: kl_divergence`` (``klds.sum(1)``).
    """
    mean, log_variance = _f64(mean), _f64(log_variance)
    return 0.5 * np.sum(mean**2 + np.exp(log_variance) - log_variance - 1.0, axis=-1)


def capacity(mean, log_variance, gamma, capacity):
    """Burgess et al. 2018 ("Understanding disentangling in beta-VAE", eq. 8): gamma * |KL - C|.

    KL is the batch mean of the per-sample KL, as in disentanglement_lib ``vae.py:
    AnnealedVAE.regularizer`` (``gamma * abs(kl_loss - c)``) and 1Konny/Beta-VAE ``solver.py``
    (objective "B": ``gamma * (total_kld - C).abs()``).  The annealing of C is not included.
    Scalar.
    """
    return float(gamma * abs(np.mean(gaussian_kl(mean, log_variance)) - capacity))


# ---------------------------------------------------------------------------------------------
# 5. MMD (Gretton et al. 2012) as used by WAE (Tolstikhin et al. 2018) and InfoVAE (Zhao et al.)
# ---------------------------------------------------------------------------------------------


def squared_distances(x, y):
    """||x_i - y_j||^2 for all pairs, shape (len(x), len(y))."""
    x, y = _f64(x), _f64(y)
    return np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)


def kernel_matrix(x, y, kernel="imq", scale=1.0):
    """k(x_i, y_j) for the two kernels, with ``scale`` in units of the prior variance per dimension.

    * "imq":  k = C / (C + ||x - y||^2),   C = 2 * dim * scale.
      WAE (Tolstikhin et al. 2018, sec. 4) uses C = 2 d sigma_z^2 for a N(0, sigma_z^2 I) prior,
      so ``scale`` plays sigma_z^2 (= 1 for our prior): scale=1 is the paper's C.
    * "rbf":  k = exp(-||x - y||^2 / (2 * dim * scale)), i.e. bandwidth sigma_k^2 = dim * scale,
      so 2 sigma_k^2 equals the IMQ's C for the same scale.

    For comparison: InfoVAE / MMD-VAE's ``compute_kernel`` (ShengjiaZhao/MMD-Variational-Autoencoder
    ``mmd_vae.py``) returns exp(-mean_d (x_d - y_d)^2 / dim) = exp(-||x - y||^2 / dim^2), which is
    our "rbf" with scale = dim / 2.  WAE's RBF (``wae.py: WAE.mmd_penalty``) uses no fixed scale:
    sigma_k^2 is a median heuristic (median pairwise squared distance of qz-pz plus that of qz-qz).
    """
    d2 = squared_distances(x, y)
    dim = _f64(x).shape[-1]
    if kernel == "imq":
        c = 2.0 * dim * scale
        return c / (c + d2)
    if kernel == "rbf":
        return np.exp(-d2 / (2.0 * dim * scale))
    raise ValueError(f"kernel must be 'imq' or 'rbf', got {kernel!r}")


def mmd(codes, prior_samples, kernel="imq", scale=1.0, scales=None):
    """Unbiased U-statistic estimate of MMD^2 (Gretton et al. 2012, JMLR, eq. 3 / Lemma 6).

        MMD_u^2 = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j)
                  - 2/(m n) sum_{i, j} k(x_i, y_j)

    with x = codes (m, dim) and y = prior_samples (n, dim); m and n may differ (both >= 2).  It can
    be negative; its expectation is 0 when both come from the same distribution.

    ``scales=None`` uses the single kernel scale ``scale``.  ``scales=(s_1, ..., s_K)`` returns the
    **sum** over k of the single-scale MMD_u^2 with scale s_k; ``scales=WAE_IMQ_SCALES`` with the IMQ
    kernel reproduces the official WAE code (``tolstikhin/wae``, ``wae.py: WAE.mmd_penalty``, branch
    'IMQ' with pz 'normal': ``for scale in [.1, .2, .5, 1., 2., 5., 10.]: C = 2 * zdim * sigma2_p
    * scale; stat += res1 - res2``), whose within-sample terms drop the diagonal (U-statistic) and
    whose cross term averages all n^2 pairs, exactly as here (WAE assumes m = n).  The WAE paper's
    text gives the single C = 2 d sigma^2; the released code sums the seven scales.

    Recommended default for tfae-disentangle: kernel "imq" with ``scales=WAE_IMQ_SCALES`` (what
    produced WAE's published results; the IMQ's heavy tails plus the range of scales keep gradients
    alive both far from and near the prior), remembering that the sum is ~7x a single-scale value
    when choosing the penalty weight.  ``scale=1.0`` alone (C = 2 d) is the paper's single-scale
    choice.

    InfoVAE / MMD-VAE's ``compute_mmd`` differs in two ways: it averages the *full* kernel matrices
    (a biased V-statistic that includes k(x_i, x_i) = 1) and uses its exp(-||x-y||^2 / dim^2)
    kernel (our "rbf" with scale = dim / 2).  See :func:`mmd_biased`.
    """
    if scales is not None:
        return float(sum(mmd(codes, prior_samples, kernel=kernel, scale=s) for s in scales))
    x, y = _f64(codes), _f64(prior_samples)
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError("the U-statistic needs at least two samples on each side")
    kxx = kernel_matrix(x, x, kernel, scale)
    kyy = kernel_matrix(y, y, kernel, scale)
    kxy = kernel_matrix(x, y, kernel, scale)
    xx = (np.sum(kxx) - np.trace(kxx)) / (m * (m - 1))
    yy = (np.sum(kyy) - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * np.mean(kxy))


def mmd_biased(codes, prior_samples, kernel="rbf", scale=None):
    """The biased V-statistic mean(Kxx) + mean(Kyy) - 2 mean(Kxy), as InfoVAE's ``compute_mmd``.

    ``scale=None`` with kernel "rbf" uses InfoVAE's bandwidth (scale = dim / 2, i.e.
    exp(-||x-y||^2 / dim^2)), reproducing ShengjiaZhao/MMD-Variational-Autoencoder ``mmd_vae.py:
    compute_mmd``.  Only for comparison; tfae-disentangle should use :func:`mmd`.
    """
    x, y = _f64(codes), _f64(prior_samples)
    if scale is None:
        scale = x.shape[-1] / 2.0
    return float(
        np.mean(kernel_matrix(x, x, kernel, scale))
        + np.mean(kernel_matrix(y, y, kernel, scale))
        - 2.0 * np.mean(kernel_matrix(x, y, kernel, scale))
    )


# ---------------------------------------------------------------------------------------------
# 6. FactorVAE density-ratio TC (Kim & Mnih 2018, "Disentangling by Factorising")
# ---------------------------------------------------------------------------------------------


def factor_vae_tc(logits):
    """Density-ratio estimate TC(z) ~= E_{q(z)}[log D(z) / (1 - D(z))] (Kim & Mnih 2018, sec. 3).

    ``logits`` are the discriminator's outputs on codes z ~ q(z) (the *unpermuted* batch; the
    permuted codes only enter the discriminator's own loss, :func:`factor_vae_discriminator_loss`).
    D(z) is the probability that z comes from q(z) rather than from prod_j q(z_j).

    * shape (batch, 2) -- the authors' layout: softmax over [q(z), permuted]; then
      log D/(1-D) = logit_0 - logit_1, so TC = mean(logits[:, 0] - logits[:, 1]).  This is
      1Konny/FactorVAE ``solver.py`` (``(D_z[:, :1] - D_z[:, 1:]).mean()``) and disentanglement_lib
      ``vae.py: FactorVAE.model_fn`` (``logits_z[:, 0] - logits_z[:, 1]``).
    * shape (batch,) or (batch, 1) -- a single sigmoid logit l with D = sigmoid(l); then
      log D/(1-D) = l exactly, so TC = mean(l).

    Both are the same estimator; the 2-output form is invariant to adding a constant to both logits.
    Returns a scalar.
    """
    logits = _f64(logits)
    if logits.ndim == 2 and logits.shape[-1] == 2:
        return float(np.mean(logits[:, 0] - logits[:, 1]))
    if logits.ndim == 1 or (logits.ndim == 2 and logits.shape[-1] == 1):
        return float(np.mean(logits))
    raise ValueError(f"logits must have shape (batch,), (batch, 1) or (batch, 2), got {logits.shape}")


def factor_vae_discriminator_loss(logits_q, logits_permuted):
    """0.5 * [CE(D(z), "q") + CE(D(perm(z')), "permuted")], 2-output layout (class 0 = q(z)).

    1Konny/FactorVAE ``solver.py`` (``0.5 * (F.cross_entropy(D_z, zeros) +
    F.cross_entropy(D_z_pperm, ones))``); disentanglement_lib maximises the same quantity's negative
    (``discr_loss``).  The paper (Algorithm 2) and 1Konny permute a *second* batch z'; disentanglement_lib
    permutes the same batch.
    """
    lq, lp = _f64(logits_q), _f64(logits_permuted)
    log_softmax_q = lq - logsumexp(lq, axis=1)[:, None]
    log_softmax_p = lp - logsumexp(lp, axis=1)[:, None]
    return float(-0.5 * (np.mean(log_softmax_q[:, 0]) + np.mean(log_softmax_p[:, 1])))


def permute_dims(z, rng):
    """Permute each dimension independently across the batch: samples of prod_j q(z_j).

    Kim & Mnih 2018, Algorithm 1; 1Konny/FactorVAE ``ops.py: permute_dims`` and
    disentanglement_lib ``vae.py: shuffle_codes`` (one random permutation per column).
    ``rng`` is a ``numpy.random.Generator``.
    """
    z = _f64(z)
    out = np.empty_like(z)
    for j in range(z.shape[1]):
        out[:, j] = z[rng.permutation(z.shape[0]), j]
    return out
