"""The inference tables of report.md and report.html: families, pairs, the entropy law per run.

Every value is stored in pass@1 (report.json); these tables show points (100 x pass@1).
"""

from __future__ import annotations

Table = tuple[str, list[str], list[list[str]]]
TERMS = ("method", "prior", "interaction")


def _pts(value, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:+.1f}" if sign else f"{100 * value:.1f}"


def _ci(cell: dict | None, sign: bool = True) -> str:
    if cell is None or cell.get("mean", cell.get("diff")) is None:
        return "n/a"
    mean = cell.get("mean", cell.get("diff"))
    if cell["lo"] is None:
        return _pts(mean, sign)
    return f"{_pts(mean, sign)} [{_pts(cell['lo'], sign)}, {_pts(cell['hi'], sign)}]"


def _p(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _omega(value) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _spread(cell: dict, digits: int = 3) -> str:
    if cell["median"] is None:
        return "n/a"
    return f"{cell['median']:.{digits}f} [{cell['min']:.{digits}f}, {cell['max']:.{digits}f}]"


def intro(report: dict) -> str:
    """The sentence that introduces the verdict lines."""
    scope = (report.get("inference") or [{}])[0].get("scope", "")
    return (
        "Per family, on the gain over the prior (points of pass@1; equivalence margin "
        f"±{100 * report['margin']:g} points; Holm within a family; {scope})"
    )


def outcome(pair: dict) -> str:
    """ "different (a > b)", "equivalent", "equivalent (a > b, by less than the margin)"."""
    if pair["outcome"] == "equivalent" and pair["sign"]:
        return f"equivalent ({pair['sign']}, by less than the margin)"
    if pair["outcome"] == "different":
        return f"different ({pair['sign']})"
    return pair["outcome"]


def _tested(pair: dict) -> str:
    if pair.get("tested_lo") is None:
        return "n/a"
    level = f"{100 * pair['tested_level']:.4g}%"
    return f"[{_pts(pair['tested_lo'], True)}, {_pts(pair['tested_hi'], True)}] ({level})"


def _interval(lo, hi) -> str:
    return "n/a" if lo is None else f"[{_pts(lo, True)}, {_pts(hi, True)}]"


def _settle(pair: dict) -> str:
    found = pair.get("settle")
    if not found:
        return ""
    if found["cells"] is None:
        return "not by seeds: the problem noise alone exceeds what either test needs"
    return f"{found['seeds_per_prior']} seeds per prior ({found['route']}; {found['cells']} cells)"


def _by_prior(pair: dict) -> str:
    return ", ".join(f"{p}: {_ci(v)}" for p, v in pair["by_prior"].items())


def _heterogeneity(pair: dict) -> str:
    test = pair["heterogeneity"]
    return "n/a" if test is None else f"p = {test['p']:.3f}"


def _power(fam: dict) -> str:
    power = fam.get("power")
    return "n/a" if power is None else f"{100 * power['equivalence']:.0f}% ({power['pair']})"


def inference_tables(report: dict) -> list[Table]:
    """The gains per method, a families table (power, shares), then one pairs table per family."""
    families = report.get("inference") or []
    if not families:
        return []
    rows = []
    for fam in families:
        for method in fam["methods"]:
            by_prior = ", ".join(
                f"{prior}: {_ci(g)}" for prior, g in fam["gain_by_prior"][method].items()
            )
            rows.append([fam["family"], method, _ci(fam["gain"][method]), by_prior])
    out: list[Table] = [
        (
            "Gain over the prior per method: points of pass@1, mean [95% CI, seeds and test "
            "problems random], pooled over priors (equal weights) and per prior",
            ["family", "method", "gain", "gain by prior"],
            rows,
        )
    ]
    shares = [
        [
            fam["family"],
            str(fam["n_cells"]),
            _power(fam),
            _pts(fam["power"]["mdd"]) if fam.get("power") else "n/a",
            ", ".join(f"{p}: {_pts(v)}" for p, v in fam["prior_level"].items()),
            *(_omega(fam["omega2_gain"][t]) for t in TERMS),
            *(_omega(fam["omega2_level"][t]) for t in TERMS),
        ]
        for fam in families
    ]
    out.append(
        (
            "Families: cells; how often a truly equal pair would be declared equivalent "
            "(noisiest pair, Holm's first step: 80% needed for `powered`); the difference "
            "detectable with 80% power at that step; the priors' own pass@1 (how they were "
            "spaced); partial omega² (Olejnik & Algina 2003) of the gain and of the final level",
            [
                "family", "cells", "equivalence reachable", "MDD (points)",
                "prior level (points)", *(f"gain: {t}" for t in TERMS),
                *(f"level: {t}" for t in TERMS),
            ],
            shares,
        )
    )  # fmt: skip
    for fam in families:
        pairs = [
            [
                pair["a"],
                pair["b"],
                str(pair["n_cells"]),
                _pts(pair["diff"], True),
                _tested(pair),
                _interval(pair["lo"], pair["hi"]),
                _interval(pair["lo_fixed"], pair["hi_fixed"]),
                _p(pair["p_diff_holm"]),
                _p(pair["p_tost_holm"]),
                outcome(pair),
                _by_prior(pair),
                _heterogeneity(pair),
                _settle(pair),
            ]
            for pair in fam["pairs"]
        ]
        title = (
            f"Pairs in {fam['family']}: difference a - b in gain (points). The tested interval "
            f"is the TOST's at its Holm step (equivalent iff it lies inside ±"
            f"{100 * report['margin']:g}); beside it the 95% CI and the 95% CI on these test "
            f"problems; Holm: {fam['holm']['error']}; per prior, with the test that the "
            "effect is the same on every prior"
        )
        header = [
            "a", "b", "cells", "diff", "tested interval", "95% CI", "95% CI, these problems",
            "p (Holm)", "p TOST (Holm)", "outcome", "diff by prior [95% CI]",
            "same on every prior", "to settle",
        ]  # fmt: skip
        out.append((title, header, pairs))
    return out


def entropy_law_table(report: dict) -> list[Table]:
    """The per-run entropy law, per algorithm: median [min, max] over its fitted runs."""
    rows = [
        [
            row["algo"],
            str(row["n_runs"]),
            str(row["unfitted"]),
            *(_spread(row[key]) for key in ("a", "b", "ceiling", "final_pass1")),
        ]
        for row in report.get("entropy_law") or []
    ]
    if not rows:
        return []
    return [
        (
            "Entropy law per run: R = -a exp(H) + b on each run's policy/entropy and "
            "task/accuracy (Cui et al. 2025), median [min, max] over runs, the predicted "
            "ceiling b - a beside the measured final test pass@1",
            ["algo", "runs fitted", "unfitted", "a", "b", "ceiling b - a", "final pass@1"],
            rows,
        )
    ]
