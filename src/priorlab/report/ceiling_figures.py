"""The ceiling's pictures: each run's dev curve with its fitted ScaleRL curve and A, per
prior, beside the prior's coverage; and A against completions to 90% of the gain."""

from __future__ import annotations

import numpy as np

from priorlab.ceiling import curve
from priorlab.report.figures import _png, plt

CURVES = (
    "fig-ceiling-curves",
    "Dev pass@1 against completions per prior: each run's points, its fitted ScaleRL curve "
    "(solid) and ceiling A (dotted) when the fit places one; the prior's coverage at k on "
    "whole solutions (black dashed; on answers where the task cannot judge steps)",
)
SCATTER = (
    "fig-ceiling-scatter",
    "Ceiling A against completions to 90% of the gain (C_90, log scale) per fitted run, with "
    "their 95% profile intervals (an open end drawn to the axis)",
)


def _colors(methods: list[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {m: cycle[i % len(cycle)] for i, m in enumerate(methods)}


def curves(block: dict, dev: dict[str, list[dict]]) -> str | None:
    """One panel per prior; dev: {run_id: [{"samples", "pass@1", "se"}]}. None if no run
    has a dev curve."""
    rows = [row for row in block["runs"] if dev.get(row["run_id"])]
    if not rows:
        return None
    priors = sorted({row["prior"] for row in rows})
    colors = _colors(sorted({row["algo"] for row in rows}))
    fig, axes = plt.subplots(1, len(priors), figsize=(4.5 * len(priors), 3.6), squeeze=False)
    for ax, prior in zip(axes[0], priors):
        labelled = set()
        for row in (r for r in rows if r["prior"] == prior):
            points, color = dev[row["run_id"]], colors[row["algo"]]
            label = None if row["algo"] in labelled else row["algo"]
            labelled.add(row["algo"])
            xs = [p["samples"] for p in points]
            ax.plot(xs, [p["pass@1"] for p in points], "o", ms=3, color=color, label=label)
            if row["a"] is not None:
                grid = np.linspace(max(xs[1] if len(xs) > 1 else 1, 1), xs[-1], 100)
                fitted = curve(grid, r0=row["r0"], a=row["a"], b=row["b"], c_mid=row["c_mid"])
                ax.plot(grid, fitted, "-", color=color, lw=1)
                ax.axhline(row["a"], color=color, ls=":", lw=0.8)
        cover = (block.get("priors") or {}).get(prior) or {}
        level = cover.get("whole@k") if cover.get("whole@k") is not None else cover.get("pass@k")
        if level is not None:
            kind = "whole" if cover.get("whole@k") is not None else "pass"
            ax.axhline(level, color="black", ls="--", lw=1, label=f"prior {kind}@{cover['k']}")
        ax.set_title(f"prior: {prior}")
        ax.set_xlabel("completions consumed")
        ax.set_ylabel("dev pass@1")
        ax.legend(fontsize="small")
    return _png(fig)


def scatter(block: dict) -> str | None:
    """A against C_90 per fitted run; None when no run has both."""
    rows = [r for r in block["runs"] if r["a"] is not None and r["c90"] is not None]
    if not rows:
        return None
    colors = _colors(sorted({row["algo"] for row in rows}))
    markers = dict(zip(sorted({row["prior"] for row in rows}), "osD^v<>p"))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    top = max(row["c90"] for row in rows) * 10
    labelled = set()
    for row in rows:
        lo, hi = row["c90_ci"] or [None, None]
        x_err = [[row["c90"] - (lo or row["c90"] / 10)], [(hi or top) - row["c90"]]]
        y_err = [[row["a"] - row["a_ci"][0]], [row["a_ci"][1] - row["a"]]]
        key = (row["algo"], row["prior"])
        label = None if key in labelled else f"{row['algo']} ({row['prior']})"
        labelled.add(key)
        ax.errorbar(row["c90"], row["a"], xerr=x_err, yerr=y_err, fmt=markers[row["prior"]],
                    color=colors[row["algo"]], ms=5, lw=0.8, capsize=2, label=label)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("completions to 90% of the gain (C_90)")
    ax.set_ylabel("ceiling A (dev pass@1)")
    ax.legend(fontsize="small")
    return _png(fig)
