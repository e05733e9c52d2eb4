"""The ceiling and efficiency verdicts on simulated sweeps with a known truth (issue 25).

Each simulated family: two methods x two priors x three seeds. A run's dev curve follows the
ScaleRL form with its method's truth, a seed effect on A (sd 0.01: ScaleRL's A varied by
about +-0.02 across seeds) and binomial noise at 1,024 samples a point; it is fitted by
fit_curve and the family read by report.ceiling.family, as the report reads a sweep.
- Equal truth: "different" is a false alarm (at most 10% of families, the test's 5% plus
  simulation noise), and "equivalent" comes about as often as the family's own reported
  power says (within 15 points): the power the report prints is the power it has.
- Apart (A + 0.09, three ceiling margins; or C_mid / 3, so C_90 / 3, 2.7 efficiency
  margins): "equivalent" never, and "different" about as often as the power the family's
  own se and df give at that gap (within 15 points): the verdicts can fail as well as pass.
Measured (seed 0, 30 families each): ceiling equal 20% equivalent (reported 22%), 0%
different; ceiling +9 points 100% different; efficiency equal 0% equivalent (reported 9%);
efficiency x3 50% different (its se and df imply 52%; ceiling +9: 97%). With 3 seeds and
2 priors the ceiling verdict is powered for large gaps only, and the report says so.
"""

import math

import numpy as np
import pytest
from scipy.stats import t as student

from priorlab.ceiling import fit_curve
from priorlab.report.ceiling import family
from tests.test_ceiling import simulate

XS = np.arange(512, 12288 + 1, 512)  # 24 dev points, the last at 6 x C_mid
BASE = {"r0": 0.3, "a": 0.6, "b": 1.5, "c_mid": 2000.0}
FAMILIES = 30


def simulated_family(rng, other: dict) -> list[dict]:
    rows = []
    for method, truth in (("x", BASE), ("y", {**BASE, **other})):
        for prior in ("p", "q"):
            for _ in range(3):
                run = {**truth, "a": truth["a"] + rng.normal(0, 0.01)}
                fit = fit_curve(simulate(rng, XS, truth=run))
                rows.append({"methods": {"all": method}, "prior": prior} | fit)
    return rows


@pytest.fixture(scope="module")
def sweeps():
    rng = np.random.default_rng(0)
    scenarios = {"equal": {}, "ceiling": {"a": BASE["a"] + 0.09}, "efficiency": {"c_mid": 666.7}}
    return {
        name: [simulated_family(rng, other) for _ in range(FAMILIES)]
        for name, other in scenarios.items()
    }


def outcomes(families: list[list[dict]], quantity: str, gap: float = 0.0):
    """What each family said about its pair, the power it reports to call a truly equal pair
    equivalent, and the power its se and df give to call a pair `gap` apart different."""
    said, powers, detect = [], [], []
    for rows in families:
        fam = family("all", rows, quantity)
        said.append(fam["pairs"][0]["outcome"] if fam["pairs"] else "not testable")
        powers.append(fam["power"]["equivalence"] if fam["power"] else 0.0)
        if fam["pairs"]:
            pair = fam["pairs"][0]
            crit, shift = student.ppf(0.975, pair["df"]), gap / pair["se"]
            detect.append(
                student.sf(crit - shift, pair["df"]) + student.cdf(-crit - shift, pair["df"])
            )
    return np.array(said), powers, detect


@pytest.mark.parametrize("quantity", ["ceiling", "efficiency"])
def test_equal_truth_reads_equivalent_as_often_as_its_power_says(sweeps, quantity):
    said, powers, _ = outcomes(sweeps["equal"], quantity)
    assert np.mean(said == "not testable") <= 0.05
    assert np.mean(said == "different") <= 0.10
    assert abs(np.mean(said == "equivalent") - np.mean(powers)) <= 0.15


@pytest.mark.parametrize(("quantity", "gap"), [("ceiling", 0.09), ("efficiency", math.log(3))])
def test_a_gap_reads_different_as_often_as_its_power_says(sweeps, quantity, gap):
    said, _, detect = outcomes(sweeps[quantity], quantity, gap)
    assert np.mean(said == "not testable") <= 0.10
    assert not np.any(said == "equivalent")
    assert abs(np.mean(said == "different") - np.mean(detect)) <= 0.15
    if quantity == "ceiling":
        assert np.mean(said == "different") >= 0.90  # three margins: found every time
