"""Whether two sets of seeds' scores differ beyond seed noise: Welch's t-test, which does not assume the two
models' scores vary alike across seeds.

Only NumPy and SciPy: tests import this without TensorFlow.
"""

import math
import statistics

from scipy import stats


def welch_test(treatment, control):
    """Welch's two-sided t-test of ``treatment``'s mean against ``control``'s (unequal variances).

    Args:
        treatment: one score per seed of the model that is claimed to score higher (beta-TCVAE).
        control: one score per seed of the model it is compared with (the VAE).

    Returns:
        A dict: ``t`` (positive when ``treatment`` scores higher), ``df`` (the Welch–Satterthwaite degrees of
        freedom), the two-sided ``p_value``, each side's ``n``, ``mean`` and ``sd`` (sample standard deviation),
        the ``difference`` of the means and ``cohens_d``, that difference over the root mean of the two
        variances. With fewer than two seeds on a side, or no spread on either, the test is not defined:
        ``t``, ``df`` and ``p_value`` are None and ``undefined`` says why.
    """
    treatment, control = [float(value) for value in treatment], [float(value) for value in control]
    sides = {}
    for name, values in (("treatment", treatment), ("control", control)):
        sides[name] = {
            "n": len(values),
            "mean": statistics.fmean(values) if values else None,
            "sd": statistics.stdev(values) if len(values) > 1 else None,
        }
    result = {**sides, "t": None, "df": None, "p_value": None, "difference": None, "cohens_d": None}
    if min(len(treatment), len(control)) < 2:
        result["undefined"] = (
            f"Welch's test needs at least two seeds a side; received {len(treatment)} and {len(control)}"
        )
        return result
    result["difference"] = sides["treatment"]["mean"] - sides["control"]["mean"]
    mean_variance = (sides["treatment"]["sd"] ** 2 + sides["control"]["sd"] ** 2) / 2
    if mean_variance == 0:
        result["undefined"] = "every seed scored the same on both sides: no spread to test against"
        return result
    result["cohens_d"] = result["difference"] / math.sqrt(mean_variance)
    test = stats.ttest_ind(treatment, control, equal_var=False)
    result.update(t=float(test.statistic), df=float(test.df), p_value=float(test.pvalue))
    return result
