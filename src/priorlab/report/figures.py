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
