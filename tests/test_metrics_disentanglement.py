"""The disentanglement metrics: they tell codes aligned with the factors from a rotation of the same codes,
they match the papers' definitions on cases computed by hand, and they refuse malformed input."""

import importlib.util
import math
import re
import sys

import numpy as np
import pytest

from plugin_fixtures import run_python
from tfae.metrics import (
    beta_vae_score,
    beta_vae_score_from_pairs,
    dci,
    dci_from_importance,
    factor_vae_score,
    factor_vae_score_from_groups,
    mig,
    mig_gaps,
    mutual_information_matrix,
    sap,
    sap_score_matrix,
)

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs scikit-learn")

FACTOR_SIZES = (3, 4, 5)

# An orthogonal matrix that mixes every factor into every code dimension but the last (whose third entry is
# 0): the Helmert basis. A rotation drawn at random can land near a signed permutation, which is no test.
HELMERT = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]).T / np.array(
    [math.sqrt(3), math.sqrt(2), math.sqrt(6)]
)


def standardised(factors, noise_rng, noise=0.05):
    """Each factor scaled to [-0.5, 0.5], plus Gaussian noise: codes aligned with the factors."""
    sizes = np.array(FACTOR_SIZES[: factors.shape[1]])
    return (factors - (sizes - 1) / 2) / (sizes - 1) + noise * noise_rng.normal(size=factors.shape)


class NoisyFactors:
    """A ground-truth dataset whose observations are the standardised factors plus noise."""

    factor_sizes = FACTOR_SIZES

    def __init__(self, seed=0):
        self.noise_rng = np.random.default_rng(seed)

    def sample_factors(self, n, rng):
        return rng.integers(0, self.factor_sizes, size=(n, len(self.factor_sizes)))

    def render(self, factors):
        return standardised(factors, self.noise_rng)


@pytest.fixture(scope="module")
def aligned():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, FACTOR_SIZES, size=(600, 3))
    return standardised(factors, rng), factors


def test_mig_separates_aligned_codes_from_rotated(aligned):
    codes, factors = aligned
    assert mig(codes, factors) > 0.9
    assert mig(codes @ HELMERT, factors) < 0.5


@needs_sklearn
def test_sap_separates_aligned_codes_from_rotated(aligned):
    codes, factors = aligned
    # A linear classifier on one dimension cannot pick out the middle classes, so discrete SAP stays well
    # below 1 even for perfect codes; continuous SAP (R^2) reaches it.
    assert sap(codes, factors) > 0.2
    assert sap(codes @ HELMERT, factors) < 0.1
    assert sap(codes, factors, continuous_factors=True) > 0.9
    assert sap(codes @ HELMERT, factors, continuous_factors=True) < 0.5


@needs_sklearn
def test_dci_separates_aligned_codes_from_rotated(aligned):
    codes, factors = aligned
    good, rotated = dci(codes, factors), dci(codes @ HELMERT, factors)
    assert good["disentanglement"] > 0.9 and good["completeness"] > 0.9
    assert rotated["disentanglement"] < 0.5 and rotated["completeness"] < 0.5
    # Both hold the same information: only its layout differs.
    assert good["informativeness"] > 0.95 and rotated["informativeness"] > 0.9
    assert good["importance"].shape == (3, 3)


def test_factor_vae_score_separates_aligned_codes_from_rotated():
    sizes = dict(num_train=300, num_eval=200, batch_size=32, num_variance_estimate=1000)
    assert factor_vae_score(lambda x: x, NoisyFactors(), **sizes) == 1.0
    # Holding f0 or f1 fixed shrinks dimension 1 most, so both vote for it and one of them is always wrong.
    assert factor_vae_score(lambda x: x @ HELMERT, NoisyFactors(), **sizes) < 0.8


def test_factor_vae_score_leaves_collapsed_dimensions_out():
    sizes = dict(num_train=300, num_eval=200, batch_size=32, num_variance_estimate=1000)

    def with_collapsed_dimension(x):
        return np.concatenate([x, np.full((x.shape[0], 1), 0.7)], axis=1)

    assert factor_vae_score(with_collapsed_dimension, NoisyFactors(), **sizes) == 1.0
    # Counted in, the constant dimension has the least variance whatever is fixed: the vote is chance.
    assert factor_vae_score(with_collapsed_dimension, NoisyFactors(), threshold=0.0, **sizes) < 0.5


@needs_sklearn
def test_beta_vae_score_separates_aligned_codes_from_rotated():
    sizes = dict(num_train=300, num_eval=200, batch_size=32)
    assert beta_vae_score(lambda x: x, NoisyFactors(), **sizes) == 1.0
    assert beta_vae_score(lambda x: x @ HELMERT, NoisyFactors(), **sizes) < 0.85
    noise_rng = np.random.default_rng(1)
    assert beta_vae_score(lambda x: noise_rng.normal(size=x.shape), NoisyFactors(), **sizes) < 0.5


def test_mig_matches_the_definition_on_counts_worked_by_hand():
    # Two binary code dimensions (two bins each: the values 0 and 1) and one balanced binary factor.
    factor = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    copy = factor.copy()
    noisy = np.array([0, 0, 0, 1, 0, 1, 1, 1])  # agrees with the factor on 6 of the 8 rows
    codes = np.stack([noisy, copy], axis=1).astype(float)
    # Joint counts of (factor, noisy): (0,0)=3, (0,1)=1, (1,0)=1, (1,1)=3; every marginal is 1/2.
    information_noisy = 2 * (3 / 8) * math.log((3 / 8) / (1 / 4)) + 2 * (1 / 8) * math.log((1 / 8) / (1 / 4))
    entropy = math.log(2)  # = the mutual information of the factor with its copy
    assert np.allclose(mutual_information_matrix(codes, factor[:, None], bins=2), [[information_noisy], [entropy]])
    assert mig(codes, factor[:, None], bins=2) == pytest.approx((entropy - information_noisy) / entropy)


def test_mig_averages_the_gaps_of_factors_of_unequal_entropy():
    # Factor 0 takes 0, 0, 1, 2 (entropy 1.5 bits); factor 1 is constant but for one row.
    factors = np.array([[0, 0], [0, 0], [1, 0], [2, 1]])
    codes = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [2.0, 1.0]])
    # Three equal-width bins hold the values 0, 1, 2 apart; dimension 0 copies factor 0, dimension 1 factor 1.
    entropy_0 = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    entropy_1 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    # Each dimension tells apart the last row from the others, so it holds all of factor 1's information.
    gap_0 = (entropy_0 - entropy_1) / entropy_0
    gap_1 = (entropy_1 - entropy_1) / entropy_1
    assert np.allclose(mig_gaps(codes, factors, bins=3), [gap_0, gap_1])
    assert mig(codes, factors, bins=3) == pytest.approx((gap_0 + gap_1) / 2)


@needs_sklearn
def test_mutual_information_matches_scikit_learn_as_disentanglement_lib_computes_it(aligned):
    from sklearn.metrics import mutual_info_score

    codes, factors = aligned
    bins = 20
    # disentanglement_lib's _histogram_discretize.
    binned = [np.digitize(codes[:, i], np.histogram(codes[:, i], bins)[1][:-1]) for i in range(3)]
    expected = [[mutual_info_score(factors[:, j], binned[i]) for j in range(3)] for i in range(3)]
    assert np.allclose(mutual_information_matrix(codes, factors, bins), expected, rtol=0, atol=1e-12)


def test_dci_from_importance_matches_the_definition_worked_by_hand():
    importance = np.array([[0.8, 0.1], [0.2, 0.0], [0.0, 0.9]])
    # Disentanglement: entropies base K=2 of each row normalised; rows weighted by their share of the total.
    entropy_row_0 = -(8 / 9 * math.log2(8 / 9) + 1 / 9 * math.log2(1 / 9))
    disentanglement = 0.9 / 2.0 * (1 - entropy_row_0) + 0.2 / 2.0 * 1.0 + 0.9 / 2.0 * 1.0
    # Completeness: entropies base D=3 of each column; both columns sum to 1, so the plain mean.
    entropy_column_0 = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2)) / math.log(3)
    entropy_column_1 = -(0.1 * math.log(0.1) + 0.9 * math.log(0.9)) / math.log(3)
    completeness = ((1 - entropy_column_0) + (1 - entropy_column_1)) / 2
    scores = dci_from_importance(importance)
    assert scores["disentanglement"] == pytest.approx(disentanglement)
    assert scores["completeness"] == pytest.approx(completeness)


def test_dci_from_importance_extremes():
    assert dci_from_importance(np.eye(3)) == {"disentanglement": 1.0, "completeness": 1.0}
    uniform = dci_from_importance(np.ones((3, 3)))
    assert uniform["disentanglement"] == pytest.approx(0.0) and uniform["completeness"] == pytest.approx(0.0)
    # An unused code dimension (a row of zeros) weighs nothing.
    assert dci_from_importance([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])["disentanglement"] == pytest.approx(1.0)


@needs_sklearn
def test_dci_from_importance_matches_disentanglement_lib_formula():
    from scipy.stats import entropy

    importance = np.random.default_rng(0).uniform(size=(5, 3)) ** 3
    importance[:, 2] *= 4  # columns of unequal totals: completeness weighted by each factor's share
    per_code = 1 - entropy(importance.T + 1e-11, base=3)
    per_factor = 1 - entropy(importance + 1e-11, base=5)
    total = importance.sum()
    scores = dci_from_importance(importance)
    assert scores["disentanglement"] == pytest.approx(np.sum(per_code * importance.sum(axis=1) / total), abs=1e-8)
    assert scores["completeness"] == pytest.approx(np.sum(per_factor * importance.sum(axis=0) / total), abs=1e-8)


def group_with_variances(variances):
    """Two codes, ``+a`` and ``-a``, whose variance (ddof=1) per dimension is ``variances``."""
    half = np.sqrt(np.asarray(variances) / 2)
    return np.stack([half, -half])


def test_factor_vae_majority_vote_worked_by_hand():
    scale = np.array([1.0, 2.0, 1.0, 0.01])  # dimension 3 is collapsed
    # The variance divided by scale**2 picks the dimension; dimension 3 never votes despite its ~0 variance.
    to_dim_0 = group_with_variances([0.1, 1.0, 1.0, 1e-6])
    to_dim_1 = group_with_variances([1.0, 2.0, 1.0, 1e-6])  # 2 / 2**2 = 0.5, the least
    to_dim_2 = group_with_variances([1.0, 1.0, 0.1, 1e-6])
    train = [to_dim_1, to_dim_1, to_dim_1, to_dim_0, to_dim_0, to_dim_2]
    train_factors = [0, 0, 1, 1, 1, 2]  # dimension 1 -> factor 0 (2 votes to 1), 0 -> 1, 2 -> 2
    evaluation = [to_dim_1, to_dim_1, to_dim_0, to_dim_2, to_dim_2]
    evaluation_factors = [0, 1, 1, 2, 0]  # right, wrong, right, right, wrong
    score = factor_vae_score_from_groups(
        train + evaluation, np.array(train_factors + evaluation_factors), scale, num_train=len(train)
    )
    assert score == pytest.approx(3 / 5)


def test_factor_vae_score_is_zero_when_every_dimension_collapsed():
    groups = np.zeros((4, 2, 2))
    assert factor_vae_score_from_groups(groups, np.array([0, 1, 0, 1]), scale=[0.0, 0.01]) == 0.0


@needs_sklearn
def test_beta_vae_features_are_mean_absolute_differences():
    # Points that share factor k have code k equal in each pair: feature k is 0, the other is not.
    rng = np.random.default_rng(0)
    fixed = np.arange(90) % 3
    codes_a = rng.normal(size=(90, 16, 3))
    codes_b = rng.normal(size=(90, 16, 3))
    codes_b[np.arange(90), :, fixed] = codes_a[np.arange(90), :, fixed]
    assert beta_vae_score_from_pairs(codes_a, codes_b, fixed) == 1.0
    assert beta_vae_score_from_pairs(codes_a, codes_a + 1.0, fixed) < 0.5


@needs_sklearn
def test_metrics_are_deterministic_and_seeded(aligned):
    codes, factors = aligned[0][:200], aligned[1][:200]
    assert sap(codes, factors) == sap(codes, factors)
    first, second = dci(codes, factors), dci(codes, factors)
    assert np.array_equal(first["importance"], second["importance"])
    sizes = dict(num_train=100, num_eval=100, batch_size=8)

    def rotated(x):
        return x @ HELMERT

    assert beta_vae_score(rotated, NoisyFactors(), **sizes) == beta_vae_score(rotated, NoisyFactors(), **sizes)
    assert factor_vae_score(rotated, NoisyFactors(), **sizes) == factor_vae_score(rotated, NoisyFactors(), **sizes)
    assert factor_vae_score(rotated, NoisyFactors(), **sizes) != factor_vae_score(
        rotated, NoisyFactors(), seed=1, **sizes
    )


@pytest.mark.parametrize("metric", ["mig", "sap", "dci"])
def test_codes_and_factors_of_different_lengths_are_refused(metric):
    codes, factors = np.zeros((10, 3)), np.zeros((9, 2), dtype=int)
    function = {"mig": mig, "sap": sap, "dci": dci}[metric]
    with pytest.raises(ValueError, match=r"codes\.shape=\(10, 3\), factors\.shape=\(9, 2\)"):
        function(codes, factors)


@pytest.mark.parametrize("bins", [1, 0, 2.5])
def test_mig_needs_at_least_two_bins(aligned, bins):
    codes, factors = aligned
    with pytest.raises(ValueError, match=rf"bins.*>= 2\. Received: bins={bins}"):
        mig(codes, factors, bins=bins)


@pytest.mark.parametrize("metric", ["mig", "sap", "dci"])
def test_non_integer_factors_are_refused(aligned, metric):
    codes, factors = aligned
    function = {"mig": mig, "sap": sap, "dci": dci}[metric]
    with pytest.raises(ValueError, match=r"integer class indices.*Received: factors\.dtype=float64"):
        function(codes, factors + 0.5)


def test_other_malformed_input_is_refused(aligned):
    codes, factors = aligned
    with pytest.raises(ValueError, match=r"2-D array.*Received: factors\.shape=\(600,\)"):
        mig(codes, factors[:, 0])
    with pytest.raises(ValueError, match=r"latent_dim >= 2"):
        mig(codes[:, :1], factors)
    with pytest.raises(ValueError, match=r"factors\[:, 1\] is constant"):
        mig(codes, factors * np.array([1, 0, 1]))
    with pytest.raises(ValueError, match=r"NaN or inf"):
        mig(np.where(codes > 0.4, np.nan, codes), factors)
    with pytest.raises(ValueError, match=r"together, or neither"):
        sap(codes, factors, codes_test=codes)
    with pytest.raises(ValueError, match=r"both at least 2.*Received: importance\.shape=\(3, 1\)"):
        dci_from_importance(np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"one entry per group.*3 groups, fixed_factors\.shape=\(2,\)"):
        factor_vae_score_from_groups(np.zeros((3, 2, 2)), np.array([0, 1]), scale=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"must return one code per observation"):
        factor_vae_score(lambda x: x[:, 0], NoisyFactors(), num_train=10, num_eval=10, num_variance_estimate=10)


def test_missing_scikit_learn_says_what_to_install(aligned, monkeypatch):
    codes, factors = aligned
    monkeypatch.setitem(sys.modules, "sklearn", None)
    for call in (lambda: sap(codes, factors), lambda: dci(codes, factors)):
        with pytest.raises(ImportError, match=r'pip install "tfae\[evaluation\]"'):
            call()


def test_importing_the_metrics_loads_neither_scikit_learn_nor_a_framework():
    result = run_python(
        """
        import json
        import sys

        import tfae.metrics

        heavy = {"sklearn", "scipy", "tensorflow", "keras", "jax"}
        print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & heavy)))
        """
    )
    assert result == []


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_active_units_refuses_codes_that_are_not_finite(bad):
    from tfae.metrics import active_units

    codes = np.random.default_rng(0).normal(size=(10, 3))
    codes[4, 1] = bad
    codes[7, 2] = bad
    # Before, the variance of a dimension with NaN compared false and the count was silently lower.
    with pytest.raises(
        ValueError,
        match=r"^`codes` must be finite: 2 of its 30 values are NaN or inf, in dimensions "
        r"\[1, 2\], and a variance of them counts nothing\. The model that gave them "
        r"has diverged or its input holds NaN or inf",
    ):
        active_units(codes)


@pytest.mark.parametrize("threshold", [np.nan, math.inf, -0.1, "0.01", True])
def test_a_threshold_that_is_no_finite_number_is_refused(threshold):
    from tfae.metrics import ActiveUnits, active_units

    received = re.escape(f"Received: threshold={threshold!r}")
    codes = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=r"^`threshold` must be a finite number >= 0\. " + received):
        active_units(codes, threshold=threshold)  # NaN counted 0 active units before
    with pytest.raises(ValueError, match=r"^`threshold` must be a finite number >= 0\. " + received):
        ActiveUnits(threshold=threshold)
    with pytest.raises(ValueError, match=r"^`threshold` must be a finite number >= 0\. " + received):
        factor_vae_score(
            lambda x: x,
            NoisyFactors(),
            num_train=10,
            num_eval=10,
            batch_size=4,
            num_variance_estimate=20,
            threshold=threshold,
        )  # NaN scored 0.0 before
    with pytest.raises(ValueError, match=r"^`threshold` must be a finite number >= 0\. " + received):
        factor_vae_score_from_groups(np.zeros((4, 2, 2)), np.array([0, 1, 0, 1]), scale=[1.0, 1.0], threshold=threshold)


@needs_sklearn
def test_sap_of_a_perfect_code_of_dsprites_factors_is_the_documented_0_18():
    # The number sap's docstring gives: linear SVMs on one dimension tell apart little but the ends of a range.
    sizes = np.array([3, 6, 40, 32, 32])
    factors = np.random.default_rng(0).integers(0, sizes, size=(3000, 5))
    codes = (factors - (sizes - 1) / 2) / (sizes - 1)
    assert sap(codes, factors, seed=0) == pytest.approx(0.18, abs=0.005)
    best = np.sort(sap_score_matrix(codes, factors, seed=0), axis=0)[-1]
    assert best[0] == 1.0 and best[1] == pytest.approx(0.34, abs=0.01) and np.all(best[2:] < 0.08)
