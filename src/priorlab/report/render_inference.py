"""The inference tables of report.md and report.html: families, pairs, the entropy law per run.

Every value is stored as a fraction of its family's metric (report.json: pass@1 or greedy
accuracy); these tables show points (100 x the fraction), the verdict's metric first.
"""

from __future__ import annotations

from priorlab.report.ceiling import tables as ceiling_tables
from priorlab.report.inference import DEFAULT_METRIC
from priorlab.report.support import table as support_table
from priorlab.report.wording import METRIC_NAMES

CEILING_INTRO = (
    "Per family, where the runs' dev curves end (the ceiling A of a ScaleRL fit) and how fast "
    "they get there (completions to 90% of their own gain); runs the fit refuses are left out"
)

Table = tuple[str, list[str], list[list[str]]]
TERMS = ("method", "prior", "interaction")
UNITS = {"pass@1": "pass@1", "greedy": "greedy accuracy"}  # a metric as a table's unit


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


def intro(report: dict, metric: str | None = None) -> str:
    """The sentence that introduces the verdict lines on `metric` (default: the verdict's)."""
    metric = metric or report.get("metric", DEFAULT_METRIC)
    families = (report.get("inference_by_metric") or {}).get(metric) or report.get("inference")
    scope = (families or [{}])[0].get("scope", "")
    beside = "" if metric == report.get("metric", DEFAULT_METRIC) else "beside the verdict, "
    return (
        f"Per family, {beside}on the gain over the prior (points of {UNITS[metric]}; "
        f"equivalence margin ±{100 * report['margin']:g} points; Holm within a family; {scope})"
    )


SUPPORT_INTRO = (
    "Per prior, selection or discovery: a method selected when its NDR's 95% interval lies "
    "within 0.03 of 0, discovered when it lies above 0.03 (where the prior solves no test "
    "problem, NDR is degenerate and the share of problems newly solved is read instead); "
    "the positive control (sft, trained on gold solutions) says whether the metric can see "
    "discovery there"
)


def verdict_groups(report: dict) -> list[tuple[str, list[str], str]]:
    """(intro, verdict lines, html id) per metric: the verdict's first, then the others."""
    metric = report.get("metric", DEFAULT_METRIC)
    groups = [(intro(report), report.get("verdict_lines") or [], "inference-verdicts")]
    for other, lines in (report.get("verdict_lines_by_metric") or {}).items():
        if other != metric:
            html_id = f"inference-verdicts-{other.replace('@', '')}"
            groups.append((intro(report, other), lines, html_id))
    ceiling = report.get("ceiling_lines") or []
    groups.append((CEILING_INTRO, ceiling, "ceiling-verdicts"))
    support = (report.get("support") or {}).get("lines") or []
    groups.append((SUPPORT_INTRO, support, "support-verdicts"))
    return [group for group in groups if group[1]]


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
    """The verdict metric's tables (family_tables), then each other metric's, titled as such,
    each followed by the families that metric could not measure."""
    metric = report.get("metric", DEFAULT_METRIC)
    by_metric = report.get("inference_by_metric") or {metric: report.get("inference") or []}
    skipped = report.get("inference_skipped") or {}
    out: list[Table] = []
    for name in [metric, *(m for m in by_metric if m != metric)]:
        beside = "" if name == metric else f"Beside the verdict, on {METRIC_NAMES[name]}. "
        out += family_tables(by_metric.get(name) or [], report["margin"], name, beside)
        rows = [[entry["family"], entry["reason"]] for entry in skipped.get(name) or []]
        if rows:
            title = f"{beside}Families not measured on {METRIC_NAMES[name]}"
            out.append((title, ["family", "why"], rows))
    return out + ceiling_tables(report) + support_table(report)


def family_tables(families: list[dict], margin: float, metric: str, prefix: str) -> list[Table]:
    """The gains per method, a families table (power, shares), then one pairs table per
    family, on `metric` (titles prefixed by `prefix`)."""
    unit = UNITS[metric]
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
            f"{prefix}Gain over the prior per method: points of {unit}, mean [95% CI, seeds "
            "and test problems random], pooled over priors (equal weights) and per prior",
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
            f"{prefix}Families: cells; how often a truly equal pair would be declared equivalent "
            "(noisiest pair, Holm's first step: 80% needed for `powered`); the difference "
            f"detectable with 80% power at that step; the priors' own {unit} (how they were "
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
            f"{prefix}Pairs in {fam['family']}: difference a - b in gain (points of {unit}). "
            "The tested interval is the TOST's at its Holm step (equivalent iff it lies inside "
            f"±{100 * margin:g}); beside it the 95% CI and the 95% CI on these test "
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
