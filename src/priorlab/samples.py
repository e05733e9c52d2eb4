"""The per-sample table: sampling a policy on problems (sample_table) and its storage
(save_samples, load_samples). Its columns and the metrics computed from it are in
priorlab.metrics; the `priorlab eval` command is priorlab.evaluate.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from priorlab.io import atomic_path

# --- Storage ---


def save_samples(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the per-sample table to Parquet atomically (priorlab.io.atomic_path)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def load_samples(path: str | os.PathLike) -> pd.DataFrame:
    """Read a per-sample table written by save_samples; DataError naming a damaged file."""
    import pyarrow

    try:
        return pd.read_parquet(Path(path))
    except (OSError, ValueError, pyarrow.ArrowException) as err:
        from priorlab.errors import DataError

        raise DataError(f"{path}: not a readable Parquet table ({err})") from None


# --- Sampling a policy on a task (below) ---


def sample_table(
    policy,
    task,
    problems: list,
    *,
    n: int,
    max_new_tokens: int,
    generator,
    temperature: float = 1.0,
    greedy: bool = True,
    batch_rows: int = 512,
    prefix: list[int] | None = None,
    engine=None,
) -> pd.DataFrame:
    """The per-sample table for `policy` on `problems`: n samples each, plus one greedy decode.

    Rows are verified by `task.verify`; `entropy` is the mean entropy of the sampling
    distribution over the completion's tokens. `prefix` conditions every prompt (RCRL);
    `engine` samples instead of priorlab's own sampler (vLLM).
    """
    from priorlab.rollout import rollout

    per_call = max(1, batch_rows // n)
    rows = []
    for start in range(0, len(problems), per_call):
        chunk = problems[start : start + per_call]
        settings = [(n, temperature, False)] + ([(1, 0.0, True)] if greedy else [])
        for group, temp, is_greedy in settings:
            batch = rollout(
                policy,
                chunk,
                group_size=group,
                max_new_tokens=max_new_tokens,
                generator=generator,
                temperature=temp,
                prefix=prefix,
                engine=engine,
            )
            s = batch.samples
            ent = ((s.entropy * s.mask).sum(1) / s.mask.sum(1).clamp(min=1)).tolist()
            for i, (problem, text) in enumerate(zip(batch.problems, batch.texts)):
                verdict = task.verify(problem, text)
                rows.append(
                    {
                        "problem_id": problem.id,
                        "sample": i % group,
                        "completion": text,
                        "answer": verdict.answer,
                        "gold": problem.answer,
                        "correct": bool(verdict.correct),
                        "parsed": bool(verdict.parsed),
                        "entropy": float(ent[i]),
                        "length": int(s.lengths[i]),
                        "greedy": is_greedy,
                        "whole": task.whole_solution(problem, text),  # None: cannot tell
                    }
                )
    return pd.DataFrame(rows)
