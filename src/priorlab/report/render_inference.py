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
    return (
        "Per family, on the gain over the prior (points of pass@1, paired per (prior, seed) "
        f"cell; equivalence margin ±{100 * report['margin']:g} points; Holm within a family)"
    )


def inference_tables(report: dict) -> list[Table]:
    """A families table (gain per method, omega², MDD), then one pairs table per family."""
    families = report.get("inference") or []
    if not families:
        return []
    rows = []
    for fam in families:
        for method in fam["methods"]:
            by_prior = ", ".join(
                f"{prior}: {_pts(g, True)}" for prior, g in fam["gain_by_prior"][method].items()
            )
            rows.append([fam["family"], method, _ci(fam["gain"][method]), by_prior])
    out: list[Table] = [
        (
            "Gain over the prior per method: points of pass@1, mean [95% t CI over cells], "
            "and per prior (does a method help more on a weak prior?)",
            ["family", "method", "gain", "gain by prior"],
            rows,
        )
    ]
    shares = [
        [
            fam["family"],
            str(fam["n_cells"]),
            _pts(fam["mdd"]),
            ", ".join(f"{p}: {_pts(v)}" for p, v in fam["prior_level"].items()),
            *(_omega(fam["omega2_gain"][t]) for t in TERMS),
            *(_omega(fam["omega2_level"][t]) for t in TERMS),
        ]
        for fam in families
    ]
    out.append(
        (
            "Families: cells, smallest detectable difference (80% power, one comparison), "
            "the prior's own pass@1, and omega² (Olejnik & Algina 2003) of the gain and of "
            "the final level",
            [
                "family", "cells", "MDD (points)", "prior level (points)",
                *(f"gain: {t}" for t in TERMS), *(f"level: {t}" for t in TERMS),
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
                _ci(pair),
                _p(pair["p_diff"]),
                _p(pair["p_diff_holm"]),
                _p(pair["p_tost"]),
                _p(pair["p_tost_holm"]),
                f"different ({pair['sign']})" if pair["sign"] else pair["outcome"],
                "" if pair["seeds_per_prior_to_settle"] is None
                else f"{pair['seeds_per_prior_to_settle']} ({pair['cells_to_settle']} cells)",
            ]
            for pair in fam["pairs"]
        ]  # fmt: skip
        title = (
            f"Pairs in {fam['family']}: difference a - b in gain, points [95% t CI], paired "
            f"t-test and TOST (±{100 * report['margin']:g}) over cells, Holm within the family"
        )
        header = [
            "a", "b", "cells", "diff", "p", "p (Holm)", "p TOST", "p TOST (Holm)", "outcome",
            "seeds per prior to settle",
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
