import json

import pytest

from priorlab.report.diagnostics import cells_table, converged_check, convergence_cells
from priorlab.report.load import Run


def window(change: float, se: float) -> list[dict]:
    """A dev curve every 100 completions to 1,200: flat at 0.3, then a 5-point window [800,
    1200] rising `change` across it."""
    before = [{"samples": 100 * i, "pass@1": 0.3, "se": se} for i in range(8)]
    inside = [
        {"samples": 800 + 100 * i, "pass@1": 0.5 + change * i / 4, "se": se} for i in range(5)
    ]
    return before + inside


# (algo, reward, prior) -> per seed: (window change, point se, last perf/dev_share) or None
CELLS = {
    ("grpo", None, "A"): [(0.002, 0.001, 0.2), (0.0, 0.001, 0.3), (-0.002, 0.001, None)],
    ("grpo", None, "B"): [(0.01, 0.01, 0.4), (-0.01, 0.01, 0.4)],
    ("ei", "verifier", "A"): [(0.01, 0.001, None), (0.0, 0.001, None), (-0.01, 0.001, None)],
    ("sft", None, "A"): [None],
}


def sweep(tmp_path, cells=CELLS) -> tuple[list[Run], dict]:
    runs, summaries = [], {}
    for (algo, reward, prior), seeds in cells.items():
        for seed, spec in enumerate(seeds):
            run_id = f"{algo}-{prior}-s{seed}"
            path = tmp_path / run_id
            path.mkdir(parents=True)
            summaries[run_id] = {}
            if spec is not None:
                change, se, share = spec
                summaries[run_id] = {
                    "dev": {"curve": window(change, se)},
                    "convergence": {"tol": 0.02},
                }
                rows = [{"step": 1, "perf/dev_share": 0.9}] if share is not None else []
                rows += [{"step": 2, "eval/pass@1": 0.5}, {"step": 9, "perf/dev_share": share}]
                (path / "metrics.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
            runs.append(Run(algo, prior, seed, run_id, path, reward=reward))
    return sorted(runs), summaries


def test_convergence_cells_one_per_method_and_prior(tmp_path):
    cells = convergence_cells(*sweep(tmp_path))
    keys = [(c["algo"], c["reward"], c["prior"]) for c in cells]
    assert keys == [
        ("ei", "verifier", "A"),
        ("grpo", None, "A"),
        ("grpo", None, "B"),
        ("sft", None, "A"),
    ]
    ei, grpo_a, grpo_b, sft = cells
    # grpo A: changes +0.002, 0, -0.002, sd 0.002: half t(2) x 0.002 / sqrt(3) = 0.0050
    half = 4.302653 * 0.002 / 3**0.5
    assert grpo_a["status"] == "converged" and grpo_a["limited_by"] is None
    assert grpo_a["ci"] == [pytest.approx(-half, rel=1e-6), pytest.approx(half, rel=1e-6)]
    assert grpo_a["runs"] == 3 and grpo_a["points"] == 5 and grpo_a["tol"] == 0.02
    assert "dev_share" not in grpo_a  # wall time: in metrics.jsonl, not in report.json
    # grpo B: 2 seeds, t(1) = 12.7: no flat cell could pass; the check is the limit
    assert grpo_b["status"] == "undetermined" and grpo_b["limited_by"] == "check"
    assert grpo_b["power"]["flat_converged"] < 0.05
    # ei: runs +-1 point apart with sampling se 0.1 point: the runs are the limit
    assert ei["status"] == "undetermined" and ei["limited_by"] == "runs"
    # sft: no dev curve, not measured
    assert sft["status"] is None and sft["power"] is None and sft["runs"] == 1


def test_converged_check_counts_cells_and_names_the_limit(tmp_path):
    cells = convergence_cells(*sweep(tmp_path))
    check = converged_check(cells)
    assert check["name"] == "converged" and check["ok"] is False
    fitted = [c for c in cells if c["status"] is not None]
    flat = sorted(round(100 * c["power"]["flat_converged"]) for c in fitted)
    rise = sorted(round(100 * c["power"]["rise_improving"]) for c in fitted)
    assert check["detail"] == (
        "1 of 4 method x prior cells converged (2 undetermined: 1 limited by the check, 1 by "
        f"the runs; 1 not measured); the check's power: a flat cell reads converged "
        f"{flat[0]}-{flat[-1]}%, a 3-point rise improving {rise[0]}-{rise[-1]}% (2-3 seeds, 5 "
        "window points)"
    )
    only = convergence_cells(
        *sweep(tmp_path / "ok", {("grpo", None, "A"): CELLS[("grpo", None, "A")]})
    )
    assert converged_check(only)["ok"] is True
    none = convergence_cells(*sweep(tmp_path / "none", {("sft", None, "A"): [None, None]}))
    assert converged_check(none) == {
        "name": "converged",
        "ok": None,
        "detail": "no run has a dev curve",
    }


def test_cells_table_in_points(tmp_path):
    title, header, rows = cells_table(convergence_cells(*sweep(tmp_path)))
    assert "method x prior" in title and len(header) == len(rows[0]) == 8
    half = 100 * 4.302653 * 0.002 / 3**0.5  # 0.50 points
    assert rows[1] == ["grpo", "", "A", "3", "converged", f"+0.0 [{-half:+.1f}, {half:+.1f}]",
                       rows[1][6], ""]  # fmt: skip
    assert rows[3][4:] == ["not measured", "n/a", "n/a", ""]


def _rounds(path, ends: list[str], updates: int) -> None:
    """metrics.jsonl of an offline run whose rounds ended as `ends` (10 steps each)."""
    rows = [
        {"step": i + 1, "samples": 256 * (i + 1), "updates": 10 * (i + 1), "ft/steps": 10,
         "ft/converged": float(end == "converged"), "ft/capped": float(end == "capped")}
        for i, end in enumerate(ends)
    ]  # fmt: skip
    rows.append({"step": len(ends), "samples": 256 * len(ends), "updates": updates})
    path.mkdir(parents=True)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_the_mechanism_check_passes_on_converged_rounds_and_fails_on_a_capped_one(tmp_path):
    from priorlab.report.mechanism import mechanism, mechanism_check, mechanism_table

    _rounds(tmp_path / "ei-0", ["converged", "converged"], 20)
    _rounds(tmp_path / "ei-1", ["converged", "converged"], 20)
    _rounds(tmp_path / "rcrl-0", ["converged", "capped"], 20)
    _rounds(tmp_path / "fixed-0", ["fixed", "fixed"], 20)
    online = tmp_path / "ppo-0"
    online.mkdir()
    (online / "metrics.jsonl").write_text(json.dumps({"step": 8, "updates": 32}) + "\n")
    run = {name: Run(name.split("-")[0], "A", 0, name, tmp_path / name)
           for name in ("ei-0", "ei-1", "rcrl-0", "fixed-0", "ppo-0")}  # fmt: skip
    summaries = {"ppo-0": {"samples": 2048, "updates": 32}}
    rows = mechanism(list(run.values()), summaries)
    by = {row["algo"]: row for row in rows}
    assert by["ppo"]["updates"] == 32 and by["ppo"]["samples"] == 2048 and by["ppo"]["rounds"] == 0
    assert (by["ei"]["runs"], by["ei"]["rounds"], by["ei"]["converged"]) == (2, 4, 4)
    assert by["ei"]["steps_per_round"] == 10 and by["ei"]["samples"] == 512
    assert (by["rcrl"]["converged"], by["rcrl"]["capped"]) == (1, 1)
    assert by["fixed"]["fixed"] == 2
    ok = mechanism_check([by["ei"], by["ppo"]])
    assert ok["ok"] is True and ok["detail"].startswith("4 of 4 offline rounds")
    capped = mechanism_check(rows)
    assert capped["ok"] is False and "rcrl on A 1 of 2" in capped["detail"]
    assert mechanism_check([by["fixed"]])["ok"] is None
    assert mechanism_check([by["ppo"]])["ok"] is True  # nothing fine-tunes in rounds
    title, header, table = mechanism_table(rows)
    assert len(header) == len(table[0]) and table[1][5] == "0 / 0 / 2 / 0"
