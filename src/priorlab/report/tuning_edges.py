"""Was each tuning grid wide enough? A cell whose chosen value of a numeric field is the
lowest or highest of its grid (>= 3 values) may have its optimum beyond the grid, and then
that method was tuned with less effect than the others, whatever the number of candidates.

The chosen candidate's lead over its neighbour inside the grid (the next value inward, the
other fields as chosen) is tested one-sided: z = lead / sqrt(se_chosen² + se_neighbour²),
each se the mean se of the dev points in the score's window (experiments.tuning.window),
pooled over tuning seeds as sqrt(sum se²) / seeds. The candidates share dev problems, so this
unpaired se is conservative. Holm runs across both ends of every grid in the sweep (see
flag); a lead beyond
noise says the score still rises at the edge: the grid should widen past it. A lead within
noise is a plateau or an optimum near the edge, and passes. Simulated in
tests/report/test_tuning_edges.py (false alarms at a flat edge, power where the score
still rises).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from scipy.stats import norm

from priorlab.experiments.tuning import window
from priorlab.report.load import number
from priorlab.report.stats import holm

MIN_VALUES = 3  # a two-value grid has no inside: every choice is an edge
ALPHA = 0.05  # family-wise, over the sweep's tested edges


def candidate_se(run_dir: Path) -> float | None:
    """The se of a candidate's score: the mean se of its window's dev points (None when the
    run has no summary.json, no dev curve, or a point without a finite se)."""
    path = run_dir / "summary.json"
    if not path.is_file():
        return None
    ses = [number(p.get("se")) for p in window(json.loads(path.read_text()))]
    return None if not ses or None in ses else sum(ses) / len(ses)


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def pooled(candidates: list[dict]) -> dict[str, tuple[float, float | None]]:
    """{point key: (score, se)} over each point's tuning seeds; a point with a failed seed is
    left out (it cannot be chosen), se None when a seed has none."""
    seeds: dict[str, list] = {}
    for c in candidates:
        seeds.setdefault(_key(c["params"]), []).append((c["score"], c.get("se")))
    out = {}
    for key, rows in seeds.items():
        if any(score is None for score, _ in rows):
            continue
        score = sum(s for s, _ in rows) / len(rows)
        known = all(se is not None for _, se in rows)
        se = math.sqrt(sum(se**2 for _, se in rows)) / len(rows) if known else None
        out[key] = (score, se)
    return out


def grid_values(entry: dict) -> dict[str, list]:
    """{field: its sorted values} for the chosen point's numeric fields with >= MIN_VALUES
    values among the candidates: the fields whose two ends are edges."""
    out = {}
    for name in sorted(entry["chosen"]):
        values = sorted(
            {
                c["params"][name]
                for c in entry["candidates"]
                if number(c["params"].get(name)) is not None
            }  # fmt: skip
        )
        if len(values) >= MIN_VALUES:
            out[name] = values
    return out


def edges(entry: dict) -> list[dict]:
    """The chosen point's edges in one tuning entry ({candidates [{params, score, se}],
    chosen}): [{field, value, side, n_values, neighbour, lead, se, p}], lead/se/p None where
    a side lacks a score or an se."""
    points, chosen = pooled(entry["candidates"]), entry["chosen"]
    out = []
    for name, values in grid_values(entry).items():
        value = chosen[name]
        if value not in (values[0], values[-1]):
            continue
        side = "top" if value == values[-1] else "bottom"
        neighbour = values[-2] if side == "top" else values[1]
        row = {"field": name, "value": value, "side": side, "n_values": len(values)}
        row |= {"neighbour": neighbour, "lead": None, "se": None, "p": None}
        a, b = points.get(_key(chosen)), points.get(_key({**chosen, name: neighbour}))
        if a and b and a[1] is not None and b[1] is not None:
            row["lead"], row["se"] = a[0] - b[0], math.hypot(a[1], b[1])
            row["p"] = _one_sided(row["lead"], row["se"])
        out.append(row)
    return out


def _one_sided(lead: float, se: float) -> float:
    if se > 0:
        return float(norm.sf(lead / se))
    return 0.0 if lead > 0 else 1.0


def flag(tuning: list[dict]) -> None:
    """Add `edges` to every tuning entry, each tested edge with p_holm and `beyond` (p_holm
    < ALPHA: the score still rises there). Holm counts every edge the sweep could have
    chosen (both ends of each field), the edges not chosen at p = 1: which edges get tested
    depends on the scores, and counting only those would raise the false alarms (to 9-13%
    in the simulations of tests/report/test_tuning_edges.py, against <= 5% this way)."""
    for entry in tuning:
        entry["edges"] = edges(entry)
    tested = [row for entry in tuning for row in entry["edges"] if row["p"] is not None]
    possible = 2 * sum(len(grid_values(entry)) for entry in tuning)
    p = [row["p"] for row in tested] + [1.0] * (possible - len(tested))
    for row, p_holm in zip(tested, holm(p), strict=False):
        row["p_holm"], row["beyond"] = p_holm, p_holm < ALPHA
    for entry in tuning:
        for row in entry["edges"]:
            row.setdefault("p_holm", None)
            row.setdefault("beyond", None)


def describe(tuning: list[dict] | None) -> tuple[bool, str]:
    """(ok, the sentence the `tuned` check appends): not ok when an edge's lead is beyond
    noise; ok with the edges named when they are within it or untested."""
    rows = [(t, row) for t in tuning or [] for row in t.get("edges", [])]
    if not rows:
        return True, ""
    beyond = [(t, row) for t, row in rows if row["beyond"]]
    rest = [(t, row) for t, row in rows if not row["beyond"]]
    possible = 2 * sum(len(grid_values(t)) for t in tuning or [])
    rule = f"one-sided z on dev, Holm across the {possible} grid ends"
    parts = []
    if beyond:
        parts.append(
            f"the best value lies at the grid's edge and beats its neighbour beyond noise "
            f"({rule}): {_list(beyond)}: widen the grid past it"
        )
    if rest:
        parts.append(f"at the grid's edge within noise of its neighbour: {_list(rest)}")
    return not beyond, "; ".join(parts)


def _list(rows: list[tuple[dict, dict]]) -> str:
    out = []
    for t, row in rows:
        where = f"{t['algo']}/{t['prior']} {row['field']} {row['value']:g} ({row['side']} of "
        where += f"{row['n_values']}"
        if row["lead"] is None:
            out.append(where + ", untested: no dev se)")
            continue
        out.append(
            where + f", {100 * row['lead']:+.1f} points over {row['neighbour']:g}, se "
            f"{100 * row['se']:.1f}, p_holm {row['p_holm']:.3f})"
        )
    return ", ".join(out)
