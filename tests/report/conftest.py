"""A tiny synthetic sweep: 3 algos (grpo, ei, sft) x 2 priors (A, B) x 2 seeds, 6 problems,
n = 4 samples plus one greedy row per problem, with hand-chosen correct counts."""

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
    ("sft", "B", 1): [1, 1, 1, 2, 1, 0],
}


def samples_table(counts: list[int], entropy: float) -> pd.DataFrame:
    """N sampled rows per problem (the first c correct, answer "7"; wrong ones differ) + greedy."""
    rows = []
    for problem, c in zip(PROBLEMS, counts):
        for i in range(N):
            ok = i < c
            rows.append(
                {
                    "problem_id": problem,
                    "sample": i,
                    "completion": "... 7" if ok else f"... w{i}",
                    "answer": "7" if ok else (None if i == N - 1 else f"w{i}"),
                    "correct": ok,
                    "parsed": ok or i != N - 1,
                    "entropy": entropy + 0.1 * i,
                    "length": 10 + i,
                    "greedy": False,
                }
            )
        rows.append({**rows[-N], "sample": 0, "greedy": True, "entropy": 9.0})
    return pd.DataFrame(rows)


def training_log(algo: str, seed: int) -> list[dict]:
    """grpo logs entropy and reward on the exact curve; ei logs accuracy only; sft nothing."""
    rows = []
    for step in range(1, 5):
        if algo == "grpo":
            h = 0.2 * step + 0.05 * seed
            reward = -ENTROPY_A * math.exp(h) + ENTROPY_B
            rows.append(
                {"step": step, "samples": 16 * step, "tokens": 160 * step,
                 "reward/mean": reward, "task/accuracy": reward, "policy/entropy": h}
            )  # fmt: skip
        elif algo == "ei":
            rows.append({"step": step, "samples": 16 * step, "task/accuracy": 0.1 * step + seed})
    if algo == "grpo":
        rows.append({"step": 5, "samples": 80, "policy/entropy": None, "reward/mean": 0.3})
        rows.append({"step": 4, "samples": 64, "eval/pass@1": 0.5})
    return rows


def write_sweep(root) -> None:
    """Write the synthetic sweep under root/runs, plus one unfinished run to be ignored."""
    for (algo, prior, seed), final in FINAL.items():
        run_id = f"{algo}-{prior}-s{seed}"
        run = root / "runs" / run_id
        run.mkdir(parents=True)
        cell = {"run_id": run_id, "algo": algo, "prior": prior, "seed": seed, "budget": 64}
        (run / "cell.json").write_text(json.dumps(cell))
        samples_table(INITIAL[(prior, seed)], 1.0).to_parquet(run / "samples_initial.parquet")
        samples_table(final, 0.5).to_parquet(run / "samples_final.parquet")
        log = "".join(json.dumps(row) + "\n" for row in training_log(algo, seed))
        (run / "metrics.jsonl").write_text(log)
        (run / "summary.json").write_text("{}")
    unfinished = root / "runs" / "zz-running"
    unfinished.mkdir()
    cell = {"run_id": "zz-running", "algo": "dapo", "prior": "A", "seed": 0}
    (unfinished / "cell.json").write_text(json.dumps(cell))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    write_sweep(root)
    return root


@pytest.fixture(scope="module")
def report(sweep):
    return build_report(sweep, n_boot=200, seed=0)
