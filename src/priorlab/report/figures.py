"""The report's figures, drawn with matplotlib's Agg backend and returned as base64 PNG."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from priorlab.report.sections import BASELINE, PRIOR_ROW  # noqa: E402

DPI = 80


def _png(fig) -> str:
    """Base64 of the figure as PNG (no metadata, so equal figures give equal bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(algo: str) -> dict:
    if algo == PRIOR_ROW:
        return {"color": "black", "linestyle": "--", "marker": "s"}
    if algo == BASELINE:
        return {"color": "grey", "linestyle": ":", "marker": "^"}
    return {"marker": "o"}


def headline_bars(headline: list[dict]) -> str:
    """(a) final pass@1 with its 95% CI: one group per prior, one bar per algorithm."""
    priors = sorted({row["prior"] for row in headline})
    algos = sorted({row["algo"] for row in headline if row["algo"] != PRIOR_ROW}) + [PRIOR_ROW]
    cell = {(row["algo"], row["prior"]): row["pass@1"] for row in headline}
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(priors) * len(algos) / 2), 4))
    width = 0.8 / len(algos)
    for j, algo in enumerate(algos):
        xs, means, errs = [], [], [[], []]
        for i, prior in enumerate(priors):
            if (algo, prior) in cell:
                ci = cell[(algo, prior)]
                xs.append(i + (j - (len(algos) - 1) / 2) * width)
                means.append(ci["mean"])
                errs[0].append(ci["mean"] - ci["lo"])
                errs[1].append(ci["hi"] - ci["mean"])
        color = "black" if algo == PRIOR_ROW else None
        ax.bar(xs, means, width, yerr=errs, capsize=3, label=algo, color=color)
    ax.set_xticks(range(len(priors)), priors)
    ax.set_xlabel("prior")
    ax.set_ylabel("pass@1 (95% CI)")
    ax.legend(fontsize="small", ncol=min(4, len(algos)))
    return _png(fig)


def variance_bars(decompositions: dict[str, dict]) -> str:
    """(b) share of the variance in pass@1 per term, with 95% CIs, one series per subset."""
    terms = ["algo", "prior", "interaction", "seed"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / len(decompositions)
    for j, (label, decomposition) in enumerate(decompositions.items()):
        shares = decomposition.get("shares", {})
        xs = np.arange(len(terms)) + (j - (len(decompositions) - 1) / 2) * width
        vals = [shares[t]["share"] if shares.get(t) else 0.0 for t in terms]
        errs = [
            [shares[t]["share"] - shares[t]["lo"] if shares.get(t) else 0.0 for t in terms],
            [shares[t]["hi"] - shares[t]["share"] if shares.get(t) else 0.0 for t in terms],
        ]
        ax.bar(xs, vals, width, yerr=np.clip(errs, 0, None), capsize=3, label=label)
    ax.set_xticks(range(len(terms)), terms)
    ax.set_ylabel("share of SS_total (95% CI)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize="small")
    return _png(fig)


def pass_at_k_curves(section: dict) -> str:
    """(c) pass@k against k per prior: each trained policy, the SFT baseline and the prior;
    an x marks the k from which the prior's pass@k is at least the policy's (k > 1)."""
    priors = sorted(section["prior"])
    fig, axes = plt.subplots(1, len(priors), figsize=(4.5 * len(priors), 3.5), squeeze=False)
    ks = section["ks"]
    for ax, prior in zip(axes[0], priors):
        for curve in section["curves"]:
            if curve["prior"] == prior:
                (line,) = ax.plot(ks, curve["pass@k"], label=curve["algo"], **_style(curve["algo"]))
                k = curve["crossover_k"]  # where the prior catches up (Yue et al. 2025)
                if k is not None and k > 1:
                    y = curve["pass@k"][ks.index(k)]
                    ax.plot([k], [y], "x", color=line.get_color(), markersize=10, mew=2)
        ax.plot(ks, section["prior"][prior], label="prior", **_style(PRIOR_ROW))
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_title(f"prior: {prior}")
        ax.set_xlabel("k")
        ax.set_ylabel("pass@k")
        ax.legend(fontsize="small")
    return _png(fig)


def entropy_scatter(points: dict[str, tuple[list, list]], fits: dict[str, dict]) -> str:
    """(d) reward against policy entropy per algorithm, with the fit R = -a exp(H) + b."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for algo, (hs, rs) in points.items():
        (dots,) = ax.plot(hs, rs, "o", alpha=0.5, label=algo)
        if algo in fits:
            fit = fits[algo]
            grid = np.linspace(min(hs), max(hs), 50)
            ax.plot(grid, -fit["a"] * np.exp(grid) + fit["b"], color=dots.get_color())
    ax.set_xlabel("policy/entropy (H)")
    ax.set_ylabel("reward/mean (R)")
    ax.set_title("R = -a exp(H) + b (Cui et al. 2025)")
    ax.legend(fontsize="small")
    return _png(fig)


def learning_curves(section: list[dict]) -> str:
    """(e) task/accuracy against completions consumed, one panel per prior."""
    priors = sorted({row["prior"] for row in section})
    fig, axes = plt.subplots(1, len(priors), figsize=(4.5 * len(priors), 3.5), squeeze=False)
    for ax, prior in zip(axes[0], priors):
        for row in section:
            if row["prior"] == prior and row["points"]:
                xs = [p["samples"] for p in row["points"]]
                ys = [p["accuracy"] for p in row["points"]]
                ax.plot(xs, ys, label=row["algo"], **_style(row["algo"]))
        ax.set_title(f"prior: {prior}")
        ax.set_xlabel("samples (completions consumed)")
        ax.set_ylabel("task/accuracy")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    return _png(fig)


def budget_shares(section: dict) -> str:
    """(f) share of the variance in dev pass@1 per term against completions consumed: does
    the verdict still move at the end of the budget?"""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    xs = [point["samples"] for point in section["points"]]
    for term in ("algo", "prior", "interaction", "seed"):
        ys = [point["shares"][term] for point in section["points"]]
        if any(y is not None for y in ys):
            ys = [np.nan if y is None else y for y in ys]
            ax.plot(xs, ys, marker="o", label=term)
    ax.set_xlabel("samples (completions consumed)")
    ax.set_ylabel("share of SS_total (dev pass@1)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize="small")
    return _png(fig)


# --- The verdict at a glance: report.html opens with these two ---

OUTCOMES = {  # outcome -> (colour, marker), the page's palette
    "equivalent": ("#1a7f37", "o"),
    "different": ("#b00020", "s"),
    "inconclusive": ("#9a6700", "D"),
}


def _pts(value: float | None) -> float | None:
    """A pass@1 fraction in points (x 100); None stays None."""
    return None if value is None else 100 * value


def _tested_title(pairs: list[dict]) -> str:
    """What the thick bar is: the tested interval's level(s), or that there is none."""
    levels = sorted({p["tested_level"] for p in pairs if p.get("tested_level") is not None})
    if not any(p.get("tested_lo") is not None for p in pairs):
        return "thin: 95% CI (no tested interval)"
    if not levels:
        level = "1 - 2 alpha"
    elif len(levels) == 1:
        level = f"{100 * levels[0]:g}%"
    else:
        level = f"{100 * levels[0]:g}-{100 * levels[-1]:g}%"
    return f"thick: the {level} interval tested for equivalence (Holm), thin: 95% CI"


def equivalence_intervals(families: list[dict], margin: float) -> str | None:
    """Each family's pairwise gain differences a - b against the equivalence band +-margin
    (Lakens 2017, Fig. 1): thick bar the interval the equivalence test used, whiskers the 95%
    CI, dot the difference; colour and marker the outcome, filled when the difference test
    is significant. One panel per family with pairs; None when no family has one."""
    drawn = [fam for fam in families if fam.get("pairs")]
    if not drawn:
        return None
    heights = [1.2 + 0.45 * len(fam["pairs"]) for fam in drawn]
    fig, axes = plt.subplots(
        len(drawn),
        1,
        figsize=(7.5, sum(heights)),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    m = 100 * margin
    seen = set()
    for ax, fam in zip(axes[:, 0], drawn):
        pairs = fam["pairs"]
        ax.axvspan(-m, m, color="#1a7f37", alpha=0.12, lw=0)
        ax.axvline(0, color="black", lw=0.8)
        for y, pair in enumerate(pairs):
            colour, marker = OUTCOMES.get(pair["outcome"], ("grey", "o"))
            seen.add(pair["outcome"])
            lo, hi = _pts(pair.get("tested_lo")), _pts(pair.get("tested_hi"))
            if lo is not None and hi is not None:
                ax.hlines(y, lo, hi, color=colour, lw=7, alpha=0.45)
            diff = _pts(pair["diff"])
            if diff is None:
                continue
            lo, hi = _pts(pair.get("lo")), _pts(pair.get("hi"))
            if lo is not None and hi is not None:
                ax.errorbar(
                    diff,
                    y,
                    xerr=[[diff - lo], [hi - diff]],
                    color=colour,
                    lw=1.2,
                    capsize=4,
                    fmt="none",
                )
            face = colour if pair.get("sign") else "white"
            ax.plot(diff, y, marker, color=colour, mfc=face, mew=1.5, ms=7)
        ax.set_yticks(range(len(pairs)), [f"{p['a']} \u2212 {p['b']}" for p in pairs])
        ax.set_ylim(len(pairs) - 0.5, -0.5)  # first pair on top
        ax.set_title(f"{fam['family']}: {_tested_title(pairs)}", fontsize="medium")
    handles = [
        plt.Line2D([], [], color=OUTCOMES[o][0], marker=OUTCOMES[o][1], ls="", label=o)
        for o in OUTCOMES
        if o in seen
    ]
    handles += [
        plt.Line2D(
            [], [], color="grey", marker="o", mfc="white", ls="", label="hollow: diff. n.s."
        ),
        plt.Rectangle((0, 0), 1, 1, color="#1a7f37", alpha=0.12, label=f"margin \u00b1{m:g}"),
    ]
    axes[0, 0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    metric = METRIC_NAMES.get(families[0].get("metric", "pass@1"), "pass@1")
    axes[-1, 0].set_xlabel(f"difference in gain (points of {metric})")
    return _png(fig)


METRIC_NAMES = {"pass@1": "pass@1", "greedy": "greedy accuracy"}  # the families' metric


def _gain_cell(value) -> tuple[float | None, float | None, float | None]:
    """(mean, lo, hi) in points from {mean, lo, hi} or a bare mean (older reports)."""
    if isinstance(value, dict):
        return _pts(value.get("mean")), _pts(value.get("lo")), _pts(value.get("hi"))
    return _pts(value), None, None


def gains_by_prior(families: list[dict]) -> str | None:
    """Each method's gain over its prior, per prior, with its 95% CI: one panel per family,
    priors on x, one series per method; None when no family has a gain to draw."""
    drawn = [fam for fam in families if fam.get("gain_by_prior")]
    if not drawn:
        return None
    cols = min(3, len(drawn))
    rows = -(-len(drawn) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.8 * cols, 3.6 * rows), sharey=True, squeeze=False
    )
    for ax, fam in zip(axes.flat, drawn):
        by_prior = fam["gain_by_prior"]
        methods = [m for m in fam.get("methods", sorted(by_prior)) if m in by_prior]
        level = fam.get("prior_level") or {}  # weakest prior first, when known
        priors = sorted({p for cells in by_prior.values() for p in cells})
        priors.sort(key=lambda p: (level.get(p) is None, level.get(p) or 0.0))
        width = 0.7 / max(1, len(methods))
        ax.axhline(0, color="black", lw=0.8)
        for j, method in enumerate(methods):
            x0 = (j - (len(methods) - 1) / 2) * width
            xs, means, err = [], [], [[], []]
            bare_x, bare = [], []
            for i, prior in enumerate(priors):
                mean, lo, hi = _gain_cell(by_prior[method].get(prior))
                if mean is None:
                    continue
                if lo is None or hi is None:
                    bare_x.append(i + x0)
                    bare.append(mean)
                    continue
                xs.append(i + x0)
                means.append(mean)
                err[0].append(mean - lo)
                err[1].append(hi - mean)
            colour = f"C{j % 10}"
            if xs:
                ax.errorbar(xs, means, yerr=err, fmt="o", color=colour, capsize=3, label=method)
            ax.plot(bare_x, bare, "o", color=colour, label=None if xs else method)
        ax.set_xticks(range(len(priors)), priors)
        ax.set_xlabel("prior (weakest first)" if level else "prior")
        ax.set_title(f"{fam['family']}: gain per prior, 95% CI", fontsize="medium")
        ax.legend(fontsize="small")
    for ax in axes[:, 0]:
        metric = METRIC_NAMES.get(drawn[0].get("metric", "pass@1"), "pass@1")
        ax.set_ylabel(f"gain over the prior (points of {metric})")
    for ax in axes.flat[len(drawn) :]:
        ax.set_visible(False)
    return _png(fig)
