"""Welch's test as benchmarks/disentanglement_dsprites.py records it (benchmarks/significance.py), against a NumPy
transcription of Welch's statistic and the Welch–Satterthwaite degrees of freedom, and its two-sided p-value
against Student's t density integrated numerically. Nothing here trains anything.
"""

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# Five seeds a side, the spreads unequal: the case the dSprites protocol meets.
TREATMENT = [0.071, 0.118, 0.026, 0.094, 0.052]
CONTROL = [0.012, 0.027, 0.015, 0.019, 0.021]


def module(name):
    """A script of benchmarks/ as a module (they import each other by name, as when run from there)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


def welch_by_numpy(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t, df


def two_sided_p_by_integration(t, df):
    """2 * P(T > |t|) for Student's t with ``df`` degrees of freedom: its density integrated after x = |t| / s,
    which maps (|t|, inf) onto (0, 1]."""
    s = np.linspace(1e-9, 1.0, 400_001)
    x = abs(t) / s
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    density = np.exp(log_norm - (df + 1) / 2 * np.log1p(x**2 / df))
    return 2 * np.trapezoid(density * abs(t) / s**2, s)


@pytest.mark.parametrize(
    "treatment, control",
    [(TREATMENT, CONTROL), (CONTROL, TREATMENT), (TREATMENT, CONTROL[:3])],
    ids=["higher", "lower", "unequal-n"],
)
def test_welch_statistic_degrees_of_freedom_and_p_value_match_their_formulas(treatment, control):
    test = module("significance").welch_test(treatment, control)
    t, df = welch_by_numpy(treatment, control)
    assert test["t"] == pytest.approx(t, rel=1e-12)
    assert test["df"] == pytest.approx(df, rel=1e-12)
    assert test["p_value"] == pytest.approx(two_sided_p_by_integration(t, df), abs=1e-6)
    # Unequal spreads: fewer degrees of freedom than Student's pooled test would use.
    assert test["df"] < len(treatment) + len(control) - 2
    for side, values in (("treatment", treatment), ("control", control)):
        assert test[side] == {
            "n": len(values),
            "mean": pytest.approx(np.mean(values)),
            "sd": pytest.approx(np.std(values, ddof=1)),
        }
    difference = np.mean(treatment) - np.mean(control)
    assert test["difference"] == pytest.approx(difference)
    root_mean_variance = np.sqrt((np.var(treatment, ddof=1) + np.var(control, ddof=1)) / 2)
    assert test["cohens_d"] == pytest.approx(difference / root_mean_variance)
    assert "undefined" not in test


def test_welch_says_why_when_it_is_not_defined():
    welch_test = module("significance").welch_test
    one_seed = welch_test([0.1], CONTROL)
    assert one_seed["t"] is None and one_seed["p_value"] is None
    assert one_seed["undefined"] == "Welch's test needs at least two seeds a side; received 1 and 5"
    assert one_seed["treatment"] == {"n": 1, "mean": 0.1, "sd": None}
    flat = welch_test([0.5, 0.5], [0.25, 0.25, 0.25])
    assert flat["t"] is None and flat["difference"] == 0.25
    assert flat["undefined"] == "every seed scored the same on both sides: no spread to test against"


def test_the_dsprites_script_tests_beta_tcvae_against_the_vae_on_both_metrics():
    script = module("disentanglement_dsprites")
    runs = {
        "vae": [{"mig": mig, "factor_vae_score": 0.4 + mig} for mig in CONTROL],
        "beta_tcvae": [{"mig": mig, "factor_vae_score": 0.3 + mig} for mig in TREATMENT],
    }
    welch = script.welch_tests(runs)
    assert welch["mig"]["t"] == pytest.approx(welch_by_numpy(TREATMENT, CONTROL)[0], rel=1e-12)
    assert welch["mig"]["treatment"]["mean"] == pytest.approx(np.mean(TREATMENT))
    assert welch["factor_vae_score"]["difference"] == pytest.approx(np.mean(TREATMENT) - np.mean(CONTROL) - 0.1)
    assert script.welch_tests({"vae": runs["vae"]}) is None
