"""Self-checks of the NumPy reference (no tfae, no Keras): identities, hand cases and sanity."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference as ref  # noqa: E402


def _posterior_batch(rng, batch=64, dim=4, tied=False, var=0.1):
    mean = rng.normal(size=(batch, dim))
    if tied:
        mean[:, 1] = mean[:, 0]
    log_variance = np.full((batch, dim), math.log(var)) + 0.1 * rng.normal(size=(batch, dim))
    z = mean + np.exp(0.5 * log_variance) * rng.normal(size=(batch, dim))
    return z, mean, log_variance


def test_gaussian_log_density_matches_formula_and_broadcasts():
    z = np.array([[0.5, -1.0]])
    mean = np.array([0.0, 1.0])
    log_variance = np.log(np.array([2.0, 0.5]))
    got = ref.gaussian_log_density(z, mean, log_variance)
    var = np.exp(log_variance)
    want = -0.5 * np.log(2 * np.pi * var) - (z - mean) ** 2 / (2 * var)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    assert ref.gaussian_log_density(np.zeros((3, 1, 2)), np.zeros((1, 5, 2)), 0.0).shape == (3, 5, 2)


@pytest.mark.parametrize("estimator,layout", [("mws", "paper"), ("mss", "paper"), ("mss", "authors_code")])
def test_terms_telescope_to_single_sample_kl(estimator, layout):
    rng = np.random.default_rng(1)
    z, mean, log_variance = _posterior_batch(rng, batch=32, dim=5)
    t = ref.beta_tcvae_terms(z, mean, log_variance, dataset_size=1000, estimator=estimator, mss_layout=layout)
    total = t["mutual_information"] + t["total_correlation"] + t["dimension_wise_kl"]
    mc_kl = np.sum(ref.gaussian_log_density(z, mean, log_variance) - ref.gaussian_log_density(z, 0.0, 0.0), axis=1)
    assert total.shape == (32,)
    np.testing.assert_allclose(total, mc_kl, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_total_correlation_larger_for_tied_dimensions(estimator):
    rng = np.random.default_rng(2)
    tied, independent = [], []
    for _ in range(10):
        for is_tied, store in ((True, tied), (False, independent)):
            z, mean, log_variance = _posterior_batch(rng, batch=128, dim=4, tied=is_tied)
            t = ref.beta_tcvae_terms(z, mean, log_variance, dataset_size=10000, estimator=estimator)
            store.append(np.mean(t["total_correlation"]))
    assert np.mean(tied) > np.mean(independent) + 0.2


def test_mss_weights_rows_sum_to_one_and_authors_layout_differs():
    B, N = 5, 100
    M = B - 1
    w = np.exp(ref.log_importance_weight_matrix(B, N))
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.diag(w), 1.0 / N)
    np.testing.assert_allclose(w[np.arange(B), (np.arange(B) + 1) % B], (N - M) / (N * M))
    # The released code fills column 0 with 1/N and column 1 with the stratum weight.
    wa = np.exp(ref.log_importance_weight_matrix(B, N, layout="authors_code"))
    np.testing.assert_allclose(wa[:, 1], (N - M) / (N * M))
    np.testing.assert_allclose(wa[[0, 1, 2, 4], 0], 1.0 / N)
    np.testing.assert_allclose(wa[M - 1, 0], (N - M) / (N * M))
    assert abs(wa[M - 1].sum() - (1 + 1 / M - 2 / N)) < 1e-14
    with pytest.raises(ValueError):
        ref.log_importance_weight_matrix(8, 7)


def test_mws_against_direct_mixture_and_disentanglement_lib_constant():
    rng = np.random.default_rng(3)
    B, D, N = 16, 3, 500
    z, mean, log_variance = _posterior_batch(rng, batch=B, dim=D)
    t = ref.beta_tcvae_terms(z, mean, log_variance, N, "mws")
    # log q(z_i) = log( 1/(N B) sum_j prod_d N(z_id; mean_jd, var_jd) ), done with plain exp.
    dens = np.exp(ref.gaussian_log_density(z[:, None], mean[None], log_variance[None]))
    np.testing.assert_allclose(t["log_q_z"], np.log(dens.prod(axis=2).sum(axis=1) / (N * B)), rtol=1e-12)
    np.testing.assert_allclose(t["log_prod_q_z_j"], np.log(dens.sum(axis=1) / (N * B)).sum(axis=1), rtol=1e-12)
    dl = ref.total_correlation_disentanglement_lib(z, mean, log_variance)
    assert abs(np.mean(t["total_correlation"]) - (dl + (D - 1) * math.log(B * N))) < 1e-10


def test_dip_vae_hand_cases_use_biased_covariance():
    mean = np.array([[0.0, 0.0], [4.0, 2.0]])  # centred rows (-2,-1), (2,1): Cov/N = [[4,2],[2,1]]
    np.testing.assert_allclose(ref.covariance_of_means(mean), [[4.0, 2.0], [2.0, 1.0]])
    np.testing.assert_allclose(ref.covariance_of_means(mean), np.cov(mean, rowvar=False, bias=True))
    # off: 2 * (2^2 + 2^2) = 16; diag: 3 * ((4-1)^2 + (1-1)^2) = 27
    assert ref.dip_vae_i(mean, lambda_od=2.0, lambda_d=3.0) == pytest.approx(43.0, abs=1e-12)
    # E[diag(exp(logvar))] = diag(2, 1) -> Cov = [[6,2],[2,2]]: off 16, diag 3 * (25 + 1) = 78
    log_variance = np.log(np.array([[1.0, 0.5], [3.0, 1.5]]))
    assert ref.dip_vae_ii(mean, log_variance, lambda_od=2.0, lambda_d=3.0) == pytest.approx(94.0, abs=1e-12)


def test_gaussian_kl_and_capacity_hand_cases():
    np.testing.assert_allclose(ref.gaussian_kl(np.array([[1.0]]), np.array([[1.0]])), [0.5 * (math.e - 1)])
    mean = np.array([[1.0, 0.0], [0.0, 0.0]])
    log_variance = np.zeros((2, 2))
    np.testing.assert_allclose(ref.gaussian_kl(mean, log_variance), [0.5, 0.0])
    assert ref.capacity(mean, log_variance, gamma=10.0, capacity=1.0) == pytest.approx(7.5)  # 10 * |0.25 - 1|
    assert ref.capacity(mean, log_variance, gamma=10.0, capacity=0.0) == pytest.approx(2.5)


def test_mmd_is_the_u_statistic():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(7, 3))
    for kernel in ("imq", "rbf"):
        k = lambda a, b: (  # noqa: E731
            (6.0 * 0.5) / (6.0 * 0.5 + np.sum((a - b) ** 2)) if kernel == "imq" else np.exp(-np.sum((a - b) ** 2) / 3.0)
        )
        xx = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / 20
        yy = sum(k(y[i], y[j]) for i in range(7) for j in range(7) if i != j) / 42
        xy = sum(k(x[i], y[j]) for i in range(5) for j in range(7)) / 35
        assert ref.mmd(x, y, kernel, scale=0.5) == pytest.approx(xx + yy - 2 * xy, abs=1e-13)
    multi = ref.mmd(x, y, "imq", scales=ref.WAE_IMQ_SCALES)
    assert multi == pytest.approx(sum(ref.mmd(x, y, "imq", scale=s) for s in ref.WAE_IMQ_SCALES))


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_near_zero_for_prior_and_large_for_shifted(kernel):
    rng = np.random.default_rng(5)
    dim = 8
    same = [ref.mmd(rng.normal(size=(200, dim)), rng.normal(size=(200, dim)), kernel) for _ in range(20)]
    assert abs(np.mean(same)) < 2e-3 and max(abs(v) for v in same) < 2e-2
    shifted = ref.mmd(rng.normal(size=(200, dim)) + 2.0, rng.normal(size=(200, dim)), kernel)
    assert shifted > 0.1
    codes, prior = rng.normal(size=(200, dim)) + 2.0, rng.normal(size=(200, dim))
    assert ref.mmd(codes, prior, kernel, scales=ref.WAE_IMQ_SCALES) > 0.5


def test_infovae_kernel_and_biased_statistic():
    rng = np.random.default_rng(6)
    dim = 6
    x, y = rng.normal(size=(50, dim)), rng.normal(size=(60, dim))
    infovae = np.exp(-np.mean((x[:, None] - y[None]) ** 2, axis=2) / dim)  # ShengjiaZhao compute_kernel
    np.testing.assert_allclose(ref.kernel_matrix(x, y, "rbf", scale=dim / 2), infovae, rtol=1e-14)
    # The V-statistic includes k(x_i, x_i) = 1 and is biased upwards against the U-statistic.
    assert ref.mmd_biased(x, y) > ref.mmd(x, y, "rbf", scale=dim / 2)


def test_factor_vae_tc_and_permute_dims():
    rng = np.random.default_rng(7)
    two = rng.normal(size=(10, 2))
    single = two[:, 0] - two[:, 1]
    assert ref.factor_vae_tc(two) == pytest.approx(np.mean(single))
    assert ref.factor_vae_tc(single) == pytest.approx(ref.factor_vae_tc(single[:, None]))
    assert ref.factor_vae_tc(two + 3.0) == pytest.approx(ref.factor_vae_tc(two))
    # D(z) = sigmoid(l): mean log(D / (1 - D)) equals mean(l).
    d = 1.0 / (1.0 + np.exp(-single))
    assert ref.factor_vae_tc(single) == pytest.approx(np.mean(np.log(d / (1 - d))))
    # Uninformative logits: the discriminator's cross-entropy is log 2.
    assert ref.factor_vae_discriminator_loss(np.zeros((4, 2)), np.zeros((4, 2))) == pytest.approx(math.log(2))

    z = rng.normal(size=(100, 3))
    z[:, 1] = z[:, 0]
    p = ref.permute_dims(z, np.random.default_rng(8))
    for j in range(3):
        np.testing.assert_array_equal(np.sort(p[:, j]), np.sort(z[:, j]))
    assert not np.allclose(p[:, 0], p[:, 1])  # the tie is broken
    assert abs(np.corrcoef(p[:, 0], p[:, 1])[0, 1]) < 0.3
