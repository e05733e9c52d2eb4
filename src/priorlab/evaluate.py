"""`priorlab eval`: sample a saved policy on held-out problems, store the per-sample table
(priorlab.samples) and its metrics (priorlab.metrics)."""

from __future__ import annotations

from pathlib import Path

from priorlab.config import validate_eval
from priorlab.io import write_json_atomic
from priorlab.metrics import summarize
from priorlab.run import engine_for, setup
from priorlab.samples import sample_table, save_samples


def evaluate_policy(cfg) -> dict:
    """`priorlab eval`: sample a saved policy on held-out problems; write samples and metrics."""
    validate_eval(cfg)
    start = setup(cfg)  # the policy, its task, the sampling stream: as a training run's
    policy, task, gen = start.policy, start.task, start.gen
    problems = task.problems("test", cfg.problems, seed=cfg.seed, require_skills=tuple(cfg.require))
    with engine_for(cfg, policy) as engine:  # closed on failure too
        table = sample_table(
            policy,
            task,
            problems,
            n=cfg.samples,
            generator=gen,
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            prefix=policy.meta.get("condition_prefix"),
            engine=engine,
        )
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_samples(table, out / "samples.parquet")
    metrics = summarize(table, seed=cfg.seed)
    if cfg.k:
        metrics = {
            k: v
            for k, v in metrics.items()
            if "@" not in k or "greedy" in k or int(k.split("@")[1]) <= cfg.k
        }
    write_json_atomic(out / "metrics.json", metrics)
    return metrics
