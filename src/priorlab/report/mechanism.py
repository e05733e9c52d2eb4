"""Did each method's mechanism act? Optimiser steps beside completions, offline rounds run
to their stopping rule (not their cap), and RCRL's condition learnt (issue 24)."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from priorlab.report.load import Run, number, training_rows


def _mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def mechanism(runs: list[Run], summaries: dict[str, dict]) -> list[dict]:
    """Per algo x prior (sorted): mean completions and optimiser steps per run (`updates`,
    from summary.json or the last metrics row), and for the offline loops (rows with
    ft/steps) the rounds their stopping rule ended (converged), the cap ended (capped) or a
    fixed ft_epochs ended (fixed), with the mean steps per round."""
    cells: dict[tuple, dict] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        rows = training_rows(run.path)
        summary = summaries.get(run.run_id, {})
        cell = cells[(run.algo, run.prior)]
        last = rows[-1] if rows else {}
        cell["samples"].append(number(summary.get("samples", last.get("samples"))))
        cell["updates"].append(number(summary.get("updates", last.get("updates"))))
        for row in rows:
            gap, se = number(row.get("rcrl/condition_gap")), number(row.get("rcrl/condition_se"))
            if gap is not None and se is not None:
                cell["condition"].append((gap, se))
            if number(row.get("ft/steps")) is None:
                if any(key in row for key in ROUND_KEYS):  # a round logged before ft/*
                    cell["rounds"].append("unrecorded")
                continue
            converged, capped = number(row.get("ft/converged")), number(row.get("ft/capped"))
            cell["rounds"].append("converged" if converged else "capped" if capped else "fixed")
            cell["round_steps"].append(number(row["ft/steps"]))
    out = []
    for (algo, prior), cell in sorted(cells.items()):
        rounds = Counter(cell["rounds"])
        known = [v for v in cell["samples"] if v is not None]
        steps = [v for v in cell["updates"] if v is not None]
        out.append(
            {
                "algo": algo,
                "prior": prior,
                "runs": len(cell["samples"]),
                "samples": _mean_or_none(known),
                "updates": _mean_or_none(steps),
                "rounds": len(cell["rounds"]),
                **{status: rounds[status] for status in ROUND_ENDS},
                "steps_per_round": _mean_or_none(cell["round_steps"]),
                "condition": condition(cell["condition"]),
            }
        )
    return out


def condition(runs: list[tuple[float, float]]) -> dict | None:
    """RCRL's condition learnt, over a cell's runs: the mean of their dev accuracy gaps
    (<r1> - <r0>) with a 95% interval from their standard errors (independent runs: the
    mean's se is sqrt(sum se_i^2) / n); learnt when the interval lies above 0. None when
    no run measured it."""
    if not runs:
        return None
    gaps, ses = np.array(runs).T
    mean, se = float(gaps.mean()), float(np.sqrt((ses**2).sum()) / len(runs))
    lo, hi = mean - 1.96 * se, mean + 1.96 * se
    return {"gap": mean, "lo": lo, "hi": hi, "runs": len(runs), "learnt": bool(lo > 0)}


ROUND_ENDS = ("converged", "capped", "fixed", "unrecorded")  # what ended a round's fine-tuning
ROUND_KEYS = ("ei/kept", "rcrl/labelled")  # the offline rounds' own records


def mechanism_check(rows: list[dict]) -> dict:
    """ok when every offline round (EI, RCRL) ended by its stopping rule, not its step cap,
    and RCRL learnt its condition in every cell that measured it (`condition`); None when
    some ran a fixed number of epochs (no rule read; an RCRL cell that measured its
    condition is judged by it instead); True with no offline runs."""
    offline = [row for row in rows if row["rounds"]]
    if not offline:
        return _mechanism(True, "no algorithm fine-tunes in rounds")
    capped = [row for row in offline if row["capped"]]
    fixed = [row for row in offline if row["fixed"] and not row.get("condition")]
    judged = sum(row["fixed"] for row in offline if row.get("condition"))
    total = sum(row["rounds"] for row in offline) - judged
    done = sum(row["converged"] for row in offline)
    detail = f"{done} of {total} offline rounds ended by their stopping rule" if total else ""
    if judged:
        more = f"{judged} {'more ' if total else 'offline '}ran fixed epochs, judged by the "
        more += "condition they train"
        detail = f"{detail} ({more})" if total else more
    old = [row for row in offline if row["unrecorded"]]
    ok, notes = True, []
    if capped:
        cut = ", ".join(
            f"{r['algo']} on {r['prior']} {r['capped']} of {r['rounds']}" for r in capped
        )
        ok = False
        notes.append(f"CAPPED (cut short before converging): {cut}; raise ft_max_steps or the "
                     "learning rate")  # fmt: skip
    elif fixed:
        ok = None
        notes.append(f"{_names(fixed)} ran fixed epochs (ft_epochs): no rule read")
    elif old:
        ok = None
        notes.append(f"{_names(old)} logged rounds without their fine-tunings' end")
    measured = [row for row in offline if row.get("condition")]
    missed = [row for row in measured if not row["condition"]["learnt"]]
    learnt = [row for row in measured if row["condition"]["learnt"]]
    if missed:
        ok = False
        notes.append(f"RCRL's condition NOT LEARNT in {len(missed)} of {len(measured)} cells "
                     f"(dev accuracy under <r1> minus <r0>, points, 95% CI): {_said(missed)}; "
                     "there it ran as fine-tuning on its own samples: more steps per round "
                     "(minibatch_size, ft_epochs, ft_max_steps) may help, a prior that cannot "
                     "tell its right samples from its wrong ones cannot learn it")  # fmt: skip
    if learnt:
        notes.append(f"RCRL's condition learnt (dev accuracy under <r1> minus <r0>): "
                     f"{_said(learnt)}")  # fmt: skip
    return _mechanism(ok, "; ".join([detail, *notes]))


def _said(rows: list[dict]) -> str:
    return "; ".join(f"{r['algo']} on {r['prior']} {_gap(r['condition'])}" for r in rows)


def _names(rows: list[dict]) -> str:
    return ", ".join(sorted({row["algo"] for row in rows}))


def _gap(c: dict) -> str:
    return f"{100 * c['gap']:+.1f} [{100 * c['lo']:+.1f}, {100 * c['hi']:+.1f}]"


def _mechanism(ok: bool | None, detail: str) -> dict:
    return {"name": "mechanism acted", "ok": ok, "detail": detail}


def mechanism_table(rows: list[dict]) -> tuple[str, list[str], list[list[str]]]:
    """(title, header, rows) of `mechanism` for report.md / .html."""
    table = [
        [
            row["algo"],
            row["prior"],
            str(row["runs"]),
            "n/a" if row["samples"] is None else f"{row['samples']:,.0f}",
            "n/a" if row["updates"] is None else f"{row['updates']:,.0f}",
            " / ".join(str(row[end]) for end in ROUND_ENDS) if row["rounds"] else "",
            "" if row["steps_per_round"] is None else f"{row['steps_per_round']:.0f}",
            _gap(row["condition"]) if row.get("condition") else "",
        ]
        for row in rows
    ]
    title = (
        "Optimiser steps beside completions, per method x prior (mean per run): a method "
        "with few steps for its completions was starved; offline rounds ended by their "
        "stopping rule (converged) / the step cap (capped) / a fixed ft_epochs (fixed) / "
        "unrecorded (a run from before rounds logged their end); RCRL: dev accuracy under "
        "<r1> minus under <r0> in points [95% CI], the condition learnt when above 0"
    )
    header = ["algo", "prior", "runs", "completions", "optimiser steps",
              "rounds converged / capped / fixed / unrecorded", "steps per round",
              "condition gap"]  # fmt: skip
    return title, header, table
