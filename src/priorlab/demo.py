"""`priorlab demo`: the end-to-end job on one machine, in minutes.

Pretrain a tiny prior on arith, train several algorithms from it at equal rollout budget,
evaluate each on the same held-out problems, and print one table. Finished steps are
skipped when the demo is run again (a prior or run with its files in place is reused).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from priorlab.config import PretrainConfig, TrainConfig
from priorlab.priors import pretrain
from priorlab.train import train

EASY_ARITH = {"steps": 2, "ops": ["+", "-"]}
ALGOS = ("sft", "ei", "rcrl", "ppo", "grpo", "dapo")


def run_demo(
    out: str = "runs/demo", *, algos=ALGOS, budget: int = 8192, seed: int = 0, quiet: bool = False
) -> dict:
    """Returns {algo: summary}; writes out/prior, out/<algo>/ and out/demo.json."""
    console = Console(quiet=quiet)
    root = Path(out)
    prior = root / "prior"
    if not (prior / "config.json").is_file():
        console.print(f"[bold]pretraining[/] a 1M-parameter prior into {escape(str(prior))}")
        pretrain(
            PretrainConfig(
                out=str(prior),
                task_params=EASY_ARITH,
                size="1m",
                steps=1000,
                corpus_size=3000,
                lr=2e-3,
                wrong_frac=0.5,
                seed=seed,
            ),
            quiet=quiet,
        )
    results = {}
    for algo in algos:
        run_dir = root / algo
        if (run_dir / "summary.json").is_file():
            results[algo] = json.loads((run_dir / "summary.json").read_text())
            continue
        console.print(f"[bold]training[/] {algo}, budget {budget} completions")
        results[algo] = train(
            TrainConfig(
                model=str(prior),
                out=str(run_dir),
                algo=algo,
                rollout_budget=budget,
                train_problems=2000,
                max_new_tokens=28,
                eval_problems=100,
                eval_samples=8,
                seed=seed,
            ),
            quiet=quiet,
        )
    (root / "demo.json").write_text(json.dumps(results, indent=2))
    console.print(table(results))
    return results


def table(results: dict) -> Table:
    t = Table(title="Equal rollout budget, same prior, same 100 held-out problems")
    for col in ("algorithm", "pass@1", "pass@8", "maj@8", "greedy", "entropy", "samples"):
        t.add_column(col, justify="right")
    first = next(iter(results.values()))["initial"]
    rows = [("prior", first, None)] + [(a, s["final"], s["samples"]) for a, s in results.items()]
    for name, m, samples in rows:
        t.add_row(
            name,
            *(
                f"{m[k]:.3f}"
                for k in (
                    "eval/pass@1",
                    "eval/pass@8",
                    "eval/maj@8",
                    "eval/maj@1_greedy",
                    "eval/entropy",
                )
            ),
            "" if samples is None else str(samples),
        )
    return t
