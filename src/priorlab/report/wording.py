"""Every sentence of the report's verdict, composed from the numbers the compute modules
return (inference.py, stats.py, protocol.py); nothing here computes a statistic.

- family_verdict: one line per family (level) on the gain: what the pairs support, whether a
  truly equal pair could have been called equivalent, the gains, the shares.
- headline: the sweep's verdict, over its families, naming the metric it is on.
- skipped_verdict: the line of a family not measured on a metric, with the reason.
- verdict_line: the headline as printed, prefixed by the protocol checks it fails.
- eta2_verdict, level_eta2_verdict: the legacy eta² shares of final pass@1 (see LEGACY in
  report/__init__.py), kept for comparison with reports written before the inference.
"""

from __future__ import annotations

OUTCOMES = ("equivalent", "different", "inconclusive")
FACTORS = {  # what a level compares (experiments/spec.py's factor), as a sentence's subject
    "algo": "the algorithm",
    "reward": "the reward source",
    "algo+reward": "the algorithm and reward",
}
LEVEL_TERMS = ("method", "prior", "interaction", "seed")
METRIC_NAMES = {  # report/inference.py METRICS, as a sentence names them
    "pass@1": "sampled pass@1",
    "greedy": "greedy accuracy (maj@1, the metric of Havrilla et al. 2024)",
}


def points(value: float) -> str:
    """A pass@1 difference in points, one decimal: 0.0412 -> "4.1"."""
    return f"{100 * value:.1f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{round(100 * value)}%"


def _gains(fam: dict) -> str:
    means = [g["mean"] for g in fam["gain"].values() if g["mean"] is not None]
    lo, hi = min(means), max(means)
    if points(lo) == points(hi):
        return f"gain {points(lo)} points"
    # "4.1–5.0", but "-1.2 to 5.0": a dash after a minus sign misreads
    return f"gain {points(lo)}{' to ' if lo < 0 else '–'}{points(hi)} points"


def _power(fam: dict) -> str:
    power = fam.get("power")
    if power is None:
        return "too few cells to estimate the noise"
    return (
        f"a truly equal pair is called equivalent {_pct(power['equivalence'])} of the time, "
        f"detectable difference {points(power['mdd'])} points (noisiest pair "
        f"{power['pair']}, Holm's first step)"
    )


def _listed(items: list[str], most: int = 3) -> str:
    if not items:
        return ""
    return f" ({', '.join(items[:most])}{', ...' if len(items) > most else ''})"


def family_verdict(fam: dict) -> str:
    """One line per family. Equivalence is claimed only for pairs whose TOST is significant
    after Holm; an equivalent pair that is also detectably different keeps its sign."""
    pairs, name, margin = fam["pairs"], fam["family"], fam["margin"]
    gain = _gains(fam)
    if not pairs:
        return f"{name}: one method ({fam['methods'][0]}), no pair to compare; {gain}"
    count = {o: sum(p["outcome"] == o for p in pairs) for o in OUTCOMES}
    different = [p["sign"] for p in pairs if p["outcome"] == "different"]
    small = [
        f"{p['sign']} by less than the margin"
        for p in pairs
        if p["outcome"] == "equivalent" and p["sign"]
    ]
    settle = [
        f"{p['a']}-{p['b']}: {p['settle']['seeds_per_prior']} seeds per prior"
        for p in pairs
        if p["outcome"] == "inconclusive" and p.get("settle") and p["settle"]["cells"]
    ]
    noun = "pair" if count["different"] == 1 else "pairs"
    head = (
        f"{name}: {count['different']} {noun} different{_listed(different)}, "
        f"{count['equivalent']} equivalent within ±{100 * margin:g} points{_listed(small)}, "
        f"{count['inconclusive']} inconclusive{_listed(settle, 2)}; {_power(fam)}; {gain}"
    )
    split = [p for p in pairs if p["heterogeneity"] and p["heterogeneity"]["p"] < 0.05]
    if split:
        head += f"; the effect differs between priors for {len(split)} of {len(pairs)} pairs"
    shares = fam["omega2_gain"]
    return (
        f"{head}; partial omega² of the gain: method {_pct(shares['method'])}, prior "
        f"{_pct(shares['prior'])}"
    )


def headline(families: list[dict], metric: str = "pass@1", skipped: list[dict] = ()) -> str:
    """The sweep's verdict over its families on `metric`: the pairs' outcomes and the weakest
    power; `skipped`: the families not measured on it (inference.skipped_families), and why."""
    pairs = [p for fam in families for p in fam["pairs"]]
    left_out = "; ".join(skipped_verdict(s) for s in skipped)
    if not pairs:
        if left_out:
            return f"nothing to compare on {METRIC_NAMES[metric]}: {left_out}"
        return "no family has two methods on shared cells: nothing to compare"
    count = {o: sum(p["outcome"] == o for p in pairs) for o in OUTCOMES}
    margins = sorted({f"±{100 * fam['margin']:g}" for fam in families})
    powers = [fam["power"]["equivalence"] for fam in families if fam.get("power")]
    reach = (
        f"; a truly equal pair is called equivalent {_pct(min(powers))} of the time in the "
        f"least powered family (80% needed)"
        if powers
        else ""
    )
    names = ", ".join(fam["family"] for fam in families)
    return (
        f"{count['different']} of {len(pairs)} pairs different, {count['equivalent']} "
        f"equivalent within {'/'.join(margins)} points, {count['inconclusive']} inconclusive "
        f"({names}) on {METRIC_NAMES[metric]}{reach}{'; ' + left_out if left_out else ''}"
    )


def skipped_verdict(entry: dict) -> str:
    """A family left out on a metric: "all: not measured on greedy accuracy (...): reason"."""
    return f"{entry['family']}: not measured on {METRIC_NAMES[entry['metric']]}: {entry['reason']}"


def verdict_line(verdict: str, protocol: dict) -> str:
    """The verdict, prefixed "exploratory (fails: ...): " when a protocol check is not ok."""
    if not protocol["exploratory"]:
        return verdict
    fails = ", ".join(check["name"] for check in protocol["checks"] if check["ok"] is not True)
    return f"exploratory (fails: {fails}): {verdict}"


def _share(share: dict | None, ci: bool = False) -> str:
    """A share as "27%", or with its interval as "27% [18%, 35%]"; "n/a" when inestimable."""
    if share is None:
        return "n/a"
    text = f"{round(100 * share['share'])}%"  # round(): no "-0%" from a -1e-17 bound
    return f"{text} [{round(100 * share['lo'])}%, {round(100 * share['hi'])}%]" if ci else text


def eta2_verdict(shares: dict) -> str:
    """Legacy: how much of the variance in final pass@1 the algorithm and the prior explain."""
    pct = {term: _share(shares.get(term)) for term in ("algo", "prior", "interaction", "seed")}
    return (
        f"the algorithm explains {pct['algo']} of the variance in pass@1, the prior "
        f"{pct['prior']} (interaction {pct['interaction']}, seed {pct['seed']})"
    )


def level_eta2_verdict(name: str, factor: str, shares: dict) -> str:
    """Legacy, per level: the method's and the prior's eta² of final pass@1, with CIs."""
    pct = {term: _share(shares.get(term), ci=True) for term in LEVEL_TERMS}
    return (
        f"{name}: {FACTORS.get(factor, factor)} explains {pct['method']} of the variance in "
        f"pass@1, the prior {pct['prior']} (interaction {pct['interaction']}, "
        f"seed {pct['seed']})"
    )
