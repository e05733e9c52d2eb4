"""A tiny synthetic sweep: 3 algos (grpo, ei, sft) x 2 priors (A, B) x 2 seeds, 6 problems,
n = 4 samples plus one greedy row per problem, with hand-chosen correct counts.

write_sweep(root) writes runs as older versions of train.py did; with protocol=True the runs
also carry what the protocol checks read: clip fractions and policy/updates in metrics.jsonl,
a dev curve, a convergence test and the change from the prior in summary.json, and a tuning
phase (tune runs, then final runs with selection.json). write_sound_sweep(root) writes a sweep
that passes every protocol check."""

import itertools
import json
import math

import pandas as pd
import pytest

from priorlab.report import build_report

N = 4
PROBLEMS = [f"p{i}" for i in range(6)]
ALGOS = ("ei", "grpo", "sft")
PRIORS = ("A", "B")
SEEDS = (0, 1)
ENTROPY_A, ENTROPY_B = 0.5, 1.2  # R = -a exp(H) + b on grpo's training rows

# correct samples (of N) per problem, for the prior before training: (prior, seed) -> c
INITIAL = {
    ("A", 0): [0, 0, 1, 2, 0, 4],
    ("A", 1): [0, 1, 1, 2, 0, 4],
    ("B", 0): [1, 1, 1, 1, 1, 1],
    ("B", 1): [1, 1, 1, 1, 1, 0],
}
# ... and for the trained policy: (algo, prior, seed) -> c
FINAL = {
    ("grpo", "A", 0): [1, 0, 2, 4, 3, 4],
    ("grpo", "A", 1): [4, 0, 4, 4, 4, 4],
    ("grpo", "B", 0): [4, 4, 4, 0, 0, 0],
    ("grpo", "B", 1): [4, 4, 4, 4, 0, 0],
    ("ei", "A", 0): [1, 0, 1, 3, 0, 4],
    ("ei", "A", 1): [2, 1, 1, 2, 0, 4],
    ("ei", "B", 0): [2, 2, 1, 1, 1, 1],
    ("ei", "B", 1): [1, 2, 1, 1, 1, 0],
    ("sft", "A", 0): [0, 0, 1, 2, 1, 4],
    ("sft", "A", 1): [0, 1, 2, 2, 0, 4],
    ("sft", "B", 0): [1, 1, 2, 1, 1, 1],
    ("sft", "B", 1): [0, 0, 0, 0, 0, 0],  # a collapse: 25 points below its prior on 5 of 6
}


def samples_table(counts: list[int], entropy: float, n: int = N) -> pd.DataFrame:
    """n sampled rows per problem (the first c correct, answer "7"; wrong ones differ) + greedy."""
    rows = []
    for problem, c in zip(PROBLEMS, counts):
        for i in range(n):
            ok = i < c
            rows.append(
                {
                    "problem_id": problem,
                    "sample": i,
                    "completion": "... 7" if ok else f"... w{i}",
                    "answer": "7" if ok else (None if i == n - 1 else f"w{i}"),
                    "correct": ok,
                    "parsed": ok or i != n - 1,
                    "entropy": entropy + 0.1 * i,
                    "length": 10 + i,
                    "greedy": False,
                }
            )
        rows.append({**rows[-n], "sample": 0, "greedy": True, "entropy": 9.0})
    return pd.DataFrame(rows)


def training_log(algo: str, seed: int, protocol: bool = False) -> list[dict]:
    """grpo logs entropy and reward on the exact curve; ei logs accuracy only; sft nothing.
    With protocol: grpo also logs clip fractions (clip_rows), ei policy/updates = 1."""
    rows = []
    for step in range(1, 5):
        if algo == "grpo":
            h = 0.2 * step + 0.05 * seed
            reward = -ENTROPY_A * math.exp(h) + ENTROPY_B
            rows.append(
                {"step": step, "samples": 16 * step, "tokens": 160 * step,
                 "reward/mean": reward, "task/accuracy": reward, "policy/entropy": h}
            )  # fmt: skip
            if protocol:
                rows[-1] |= clip_row(step, seed)
        elif algo == "ei":
            rows.append({"step": step, "samples": 16 * step, "task/accuracy": 0.1 * step + seed})
            if protocol:
                rows[-1]["policy/updates"] = 1
    if algo == "grpo":
        rows.append({"step": 5, "samples": 80, "policy/entropy": None, "reward/mean": 0.3})
        rows.append({"step": 4, "samples": 64, "eval/pass@1": 0.5})
    return rows


def clip_row(step: int, seed: int) -> dict:
    """grpo's clip fractions: mean over steps 1-4 is low 0.025, high 0.05 + 0.01 seed."""
    low, high = 0.01 * step, 0.02 * step + 0.01 * seed
    return {
        "policy/clipfrac_low": low,
        "policy/clipfrac_high": high,
        "policy/clipfrac": low + high,
        "policy/updates": 4,
    }


# --- The protocol's records (protocol=True) ---

TUNED = ("ei", "grpo")  # tuned on dev; sft keeps its defaults
LRS = (1e-4, 3e-4, 1e-3)  # the candidates, one seed (0) each
CHOSEN = {("ei", "A"): 3e-4, ("ei", "B"): 1e-3, ("grpo", "A"): 1e-4, ("grpo", "B"): 3e-4}
FAILED = ("grpo", "B", 1e-3)  # a candidate that crashed: no summary.json
RULE = "max dev pass@1 at the end of the budget"
DEV_PRIOR = {"A": 0.3, "B": 0.5}  # dev pass@1 of the prior ...
DEV_GAIN = {"grpo": 0.2, "ei": 0.1, "sft": 0.05, "dapo": 0.15}  # ... plus this x samples / 64
# convergence status per run (absent: "converged"; None: not measured)
CONVERGENCE = {
    ("ei", "A", 1): "improving",
    ("ei", "B", 0): "improving",
    ("ei", "B", 1): "declining",
    ("sft", "A", 0): "too few points",
    ("sft", "A", 1): "undetermined",
    ("sft", "B", 0): None,
    ("sft", "B", 1): None,
}
# vs_prior per run (absent: gained (0.1, [0.05, 0.15]); None: not measured), status last
VS_PRIOR = {
    **{("ei", p, s): (0.01, [-0.03, 0.05], "unchanged") for p in PRIORS for s in SEEDS},
    ("sft", "A", 1): None,
    ("sft", "B", 1): (-0.08, [-0.12, -0.04], "collapsed"),
}


def dev_samples(algo: str) -> list[int]:
    """The dev checkpoints: every 16 completions, sft every 24 (plus the end, 64)."""
    return [0, 24, 48, 64] if algo == "sft" else [0, 16, 32, 48, 64]


def dev_pass1(algo: str, prior: str, seed: int, samples: float) -> float:
    return DEV_PRIOR[prior] + 0.01 * seed + DEV_GAIN[algo] * samples / 64


def summary(algo: str, prior: str, seed: int, *, flat: bool = False) -> dict:
    """summary.json of a final run with the protocol's records. The report recomputes the
    convergence tests from the dev curve (rising by DEV_GAIN, or flat at its 16-completion level
    with se 0.002) and the change from the prior from the samples: the stored blocks are
    what an older priorlab wrote."""
    curve = [
        {"samples": s, "pass@1": dev_pass1(algo, prior, seed, 16 if flat else s),
         "se": 0.002 if flat else 0.02}
        for s in dev_samples(algo)
    ]  # fmt: skip
    out = {"dev": {"problems": 50, "samples": 64, "curve": curve}}
    status = CONVERGENCE.get((algo, prior, seed), "converged")
    if status is not None:
        out["convergence"] = {
            "status": status, "change": 0.002, "ci": [-0.004, 0.008], "tol": 0.01,
            "window": [43, 64], "points": 3,
        }  # fmt: skip
    vs = VS_PRIOR.get((algo, prior, seed), (0.1, [0.05, 0.15], "gained"))
    if vs is not None:
        out["vs_prior"] = {"gain": vs[0], "ci": vs[1], "status": vs[2], "problems": len(PROBLEMS)}
    return out


def selection(algo: str, prior: str) -> dict:
    """selection.json of a tuned cell: one candidate per learning rate, the chosen one best."""
    candidates = []
    for i, lr in enumerate(LRS):
        failed = (algo, prior, lr) == FAILED
        candidates.append(
            {
                "run_id": f"tune-{algo}-{prior}-lr{i}",
                "params": {"lr": lr},
                "seed": 0,
                "score": None if failed else (0.5 if lr == CHOSEN[(algo, prior)] else 0.4),
                "status": "failed" if failed else "done",
            }
        )
    chosen = {"lr": CHOSEN[(algo, prior)]}
    return {"rule": RULE, "candidates": candidates, "chosen": chosen, "score": 0.5}


def write_run(root, run_id: str, cell: dict, initial, final, *, n: int = N, log=(), **files):
    """One run directory; files: name -> JSON content (summary.json written last)."""
    run = root / "runs" / run_id
    run.mkdir(parents=True)
    (run / "cell.json").write_text(json.dumps({"run_id": run_id, **cell}))
    samples_table(initial, 1.0, n).to_parquet(run / "samples_initial.parquet")
    samples_table(final, 0.5, n).to_parquet(run / "samples_final.parquet")
    (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    for name in sorted(files, key=lambda name: name == "summary"):
        if files[name] is not None:
            (run / f"{name}.json").write_text(json.dumps(files[name]))


def write_sweep(root, *, protocol: bool = False) -> None:
    """Write the synthetic sweep under root/runs, plus one unfinished run to be ignored.

    protocol: also the protocol's records in the final runs, and the tune runs."""
    for (algo, prior, seed), final in FINAL.items():
        run_id = f"{algo}-{prior}-s{seed}"
        cell = {"algo": algo, "prior": prior, "seed": seed, "budget": 64}
        files = {"summary": {}}
        if protocol:
            cell |= {"reward": "verifier", "phase": "final"}
            files = {"summary": summary(algo, prior, seed)}
            if algo in TUNED:
                cell["chosen"] = {"lr": CHOSEN[(algo, prior)]}
                files["selection"] = selection(algo, prior)
        log = training_log(algo, seed, protocol)
        write_run(root, run_id, cell, INITIAL[(prior, seed)], final, log=log, **files)
    if protocol:
        write_tune_runs(root)
    unfinished = root / "runs" / "zz-running"
    unfinished.mkdir()
    cell = {"run_id": "zz-running", "algo": "dapo", "prior": "A", "seed": 0}
    (unfinished / "cell.json").write_text(json.dumps(cell))


def write_tune_runs(root) -> None:
    """The candidates of the tuned cells, seed 0 (the seed of a final run too), on the first
    three problems only and all solved: read as final runs, they would break the report."""
    for algo, prior, (i, lr) in itertools.product(TUNED, PRIORS, enumerate(LRS)):
        cell = {"algo": algo, "prior": prior, "seed": 0, "reward": "verifier", "phase": "tune"}
        cell["candidate"] = {"lr": lr}
        done = (algo, prior, lr) != FAILED
        tune = summary(algo, prior, 0) if done else None
        write_run(root, f"tune-{algo}-{prior}-lr{i}", cell, [0] * 3, [N] * 3, summary=tune)


SOUND_N = 256  # samples per problem: the large-k regime
SOUND_SEEDS = range(5)


def write_sound_sweep(root) -> None:
    """A sweep that passes every protocol check: grpo and dapo (both clipped, both tuned) x
    priors A, B x 5 seeds, n = 256, every run's dev curve flat (so
    every cell converged) and above its prior; grpo gains 30/256 more on every problem, so
    the pair's se is 0 and "equivalent" was reachable."""
    for algo, prior, seed in itertools.product(("dapo", "grpo"), PRIORS, SOUND_SEEDS):
        lift = (30 if algo == "grpo" else 0) + (50 if prior == "B" else 0) + 7 * seed
        initial = [10 + 20 * j + (50 if prior == "B" else 0) for j in range(len(PROBLEMS))]
        final = [min(SOUND_N, 40 + 20 * j + lift) for j in range(len(PROBLEMS))]
        chosen = {"lr": 3e-4}
        cell = {"algo": algo, "prior": prior, "seed": seed, "phase": "final", "chosen": chosen}
        log = [clip_row(step, seed) | {"step": step, "reward/mean": 0.5} for step in (1, 2)]
        choice = {
            "rule": RULE,
            "candidates": [
                {"run_id": f"tune-{algo}-{prior}-lr{i}", "params": {"lr": lr}, "seed": 0,
                 "score": 0.5 if lr == chosen["lr"] else 0.4, "status": "done"}
                for i, lr in enumerate(LRS)
            ],
            "chosen": chosen,
            "score": 0.5,
        }  # fmt: skip
        files = {"summary": summary(algo, prior, seed, flat=True), "selection": choice}
        write_run(
            root, f"{algo}-{prior}-s{seed}", cell, initial, final, n=SOUND_N, log=log, **files
        )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    write_sweep(root)
    return root


@pytest.fixture(scope="module")
def report(sweep):
    return build_report(sweep, n_boot=200, seed=0)


@pytest.fixture(scope="module")
def protocol_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("protocol")
    write_sweep(root, protocol=True)
    return root


@pytest.fixture(scope="module")
def protocol_report(protocol_sweep):
    return build_report(protocol_sweep, n_boot=200, seed=0)
