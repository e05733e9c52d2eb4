"""What a run shows and keeps as it goes: the progress bar, a step's batch metrics, and the
metrics log (metrics.jsonl, and TensorBoard event files when asked)."""

from __future__ import annotations

import functools
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from priorlab.algos import AGGREGATIONS, group_stats
from priorlab.batch import Batch
from priorlab.io import finite

log = logging.getLogger(__name__)


@contextmanager
def progress(quiet: bool = False):
    """A rich progress bar (disabled when quiet or not on a terminal)."""
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, disable=quiet, transient=False) as bar:
        yield bar


def batch_metrics(batch: Batch, group_size: int) -> dict:
    """Reward, true accuracy (apart from the reward), entropy, length, zero-variance groups."""
    s = batch.samples
    _, std, _ = group_stats(batch.rewards, batch.group_ids)
    return {
        "reward/mean": batch.rewards.mean().item(),
        "task/accuracy": batch.correct.float().mean().item(),
        "task/parsed": batch.parsed.float().mean().item(),
        "policy/entropy": AGGREGATIONS["token_mean"](s.entropy, s.mask).item(),
        "response/length": s.lengths.float().mean().item(),
        "response/truncated": s.truncated.float().mean().item(),
        "groups/zero_var_frac": (std == 0).float().mean().item(),
    }


class MetricsLog:
    """Appends one JSON object per step to `metrics.jsonl` in the run directory, and the
    same scalars to TensorBoard event files in `<run>/tb` when `tensorboard` is set and
    the package is installed (`pip install 'priorlab[tensorboard]'`)."""

    def __init__(self, run_dir: Path, *, tensorboard: bool = False):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self.rows: list[dict] = []
        self.tb = _tensorboard_writer(Path(run_dir) / "tb") if tensorboard else None

    def log(self, row: dict) -> None:
        row = {k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in row.items()}
        self.rows.append(row)
        with self.path.open("a") as f:
            f.write(json.dumps(finite(row), allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.tb is not None:
            step = int(row.get("samples", row.get("step", 0)))  # x axis: completions consumed
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("step", "samples"):
                    self.tb.add_scalar(key, value, step)
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _tensorboard_writer(log_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the optional extra is not installed: metrics.jsonl only
        _warn_no_tensorboard()
        return None
    return SummaryWriter(str(log_dir))


@functools.cache  # once per process, not once per run
def _warn_no_tensorboard() -> None:
    log.warning(
        "tensorboard: the tensorboard package is not installed, so no event files are "
        "written (metrics.jsonl has every metric); install the extra "
        "(pip install 'priorlab[tensorboard]') or set tensorboard=false"
    )
