"""The support block's picture: per prior, each method's share of newly reached problems
(NDR) and its expansion E and shrinkage S against the sampling budget k."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from priorlab.report.figures import _png, _style, plt
from priorlab.report.support import _natural

CURVES = (
    "fig-support-curves",
    "Selection or discovery against the sampling budget k, per prior: each method's NDR = "
    "E / (P + E) (solid; mean over its runs) and, on the right axis, the problems it newly "
    "reaches E and loses S (dotted and dashed), the run and the prior both at k",
)


def curves(block: dict) -> str | None:
    """One panel per prior from report.json's support runs (their by_k); None when the
    sweep has no support runs."""
    runs = block.get("runs") if block else None
    if not runs:
        return None
    by_cell = defaultdict(list)
    for run in runs:
        by_cell[(run["prior"], run["algo"])].append(run["by_k"])
    priors = sorted({prior for prior, _ in by_cell}, key=_natural)  # 0%, 1%, 3%, 10%, 30%
    fig, axes = plt.subplots(1, len(priors), figsize=(5.5 * len(priors), 3.8), squeeze=False)
    for ax, prior in zip(axes[0], priors):
        right = ax.twinx()
        for (p, algo), runs_by_k in sorted(by_cell.items()):
            if p != prior:
                continue
            ks = sorted(int(k) for k in runs_by_k[0])
            mean = {key: [_mean(runs_by_k, k, key) for k in ks] for key in ("NDR", "E", "S")}
            (line,) = ax.plot(ks, mean["NDR"], label=algo, **_style(algo))
            right.plot(ks, mean["E"], ":", color=line.get_color())
            right.plot(ks, mean["S"], "--", color=line.get_color(), alpha=0.4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_title(f"prior: {prior}")
        ax.set_xlabel("k")
        ax.set_ylabel("NDR")
        right.set_ylabel("problems: E (dotted), S (dashed)")
        ax.legend(fontsize="small")
    fig.tight_layout()
    return _png(fig)


def _mean(runs_by_k: list[dict], k: int, key: str) -> float:
    """The runs' mean of `key` at k (by_k keys may be strings once read from JSON); NaN
    where no run has it (an undefined ratio)."""
    values = [r.get(k, r.get(str(k)))[key] for r in runs_by_k]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")
