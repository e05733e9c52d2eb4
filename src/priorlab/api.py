"""The Python API: the CLI's commands as functions, re-exported by `priorlab`.

    import priorlab

    prior = priorlab.pretrain(out="runs/prior", steps=300, size="0.1m")
    summary = priorlab.train(model=prior, algo="grpo", out="runs/grpo", rollout_budget=512)
    sweep = priorlab.compare({"name": "mine", "algos": ["grpo", "dapo"], ...}, "runs/mine")
    print(sweep.report["verdict_line"])

Each function takes a config object, keyword overrides of its fields, or both (the
keywords win), checks them as the CLI does (an error names the field and what is
accepted), and calls what `priorlab <command>` calls. Unlike the CLI, they do not refuse a
non-empty `out`: files of the same names are replaced. Progress bars are off unless
`quiet=False`. Examples: examples/python_api.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from priorlab.config import EvalConfig, PretrainConfig, TrainConfig, build, merge


def _config(cls, config, overrides: dict):
    """`config` (an instance of `cls`, or None for the defaults) with `overrides`, built and
    type-checked field by field (paths may be given as Path objects)."""
    if config is not None and not isinstance(config, cls):
        raise TypeError(f"config: expected a {cls.__name__}, got {type(config).__name__}")
    base = dataclasses.asdict(config) if config is not None else {}
    given = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in overrides.items()}
    return build(cls, merge(base, given))


def pretrain(config: PretrainConfig | None = None, /, *, quiet: bool = True, **fields) -> Path:
    """Pretrain (and optionally SFT) a prior, as `priorlab pretrain`; returns its directory.

    `fields`: PretrainConfig fields (`priorlab fields pretrain`), e.g. steps=300, size="0.1m".
    """
    from priorlab.priors import pretrain as run

    cfg = _config(PretrainConfig, config, fields)
    run(cfg, quiet=quiet)
    return Path(cfg.out)


def train(config: TrainConfig | None = None, /, *, quiet: bool = True, **fields) -> dict:
    """Train one algorithm from a prior at a fixed rollout budget, as `priorlab train`;
    returns the run's summary (also in `<out>/summary.json`).

    `fields`: TrainConfig fields (`priorlab fields train`), e.g. model=prior, algo="grpo".
    """
    from priorlab.train import train as run

    cfg = _config(TrainConfig, config, fields)
    return run(cfg, quiet=quiet)


def evaluate(config: EvalConfig | None = None, /, **fields) -> dict:
    """pass@k, maj@k, greedy maj@1 and entropy of a saved policy, as `priorlab eval`;
    returns the metrics (also in `<out>/metrics.json`, the samples in samples.parquet).

    `fields`: EvalConfig fields (`priorlab fields eval`), e.g. model=..., samples=16.
    """
    from priorlab.evaluate import evaluate_policy

    cfg = _config(EvalConfig, config, fields)
    return evaluate_policy(cfg)


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What `compare` leaves: the sweep directory and the states of its jobs."""

    out: Path  # the sweep directory: runs/, priors/, registry.sqlite, report.*
    counts: dict[str, int]  # jobs by state: pending, running, done, failed

    @property
    def report(self) -> dict | None:
        """report.json as a dict (None until the report is written)."""
        path = self.out / "report.json"
        return json.loads(path.read_text()) if path.is_file() else None


def compare(
    spec: str | os.PathLike | dict = "default",
    out: str | os.PathLike | None = None,
    *,
    overrides: dict | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    report: bool = True,
    extend: bool = False,
    quiet: bool = True,
) -> SweepResult:
    """Run a sweep at equal rollout budget, then write its report, as `priorlab compare`.

    `spec`: a spec dict, a YAML file or a preset name (`priorlab presets`); `overrides`: a
    nested dict merged into it (what `--set a.b=v` does). `out` defaults to runs/<name>.
    Rerunning skips finished jobs. A failed job does not raise: see `counts["failed"]`
    and `priorlab status <out>`.
    """
    from priorlab.experiments import load_spec, run_sweep

    data = dict(spec) if isinstance(spec, dict) else load_spec(spec)
    data = merge(data, overrides or {})
    root = Path(out if out is not None else f"runs/{data.get('name', 'sweep')}")
    counts = run_sweep(
        data,
        root,
        executor=executor,
        workers=workers,
        address=address,
        quiet=quiet,
        report=report,
        extend=extend,
    )
    return SweepResult(root, counts)


def report(
    sweep_dir: str | os.PathLike, *, n_boot: int = 1000, seed: int = 0, partial: bool = False
) -> dict:
    """Recompute report.json, report.md and report.html of a sweep, as `priorlab report`;
    returns the report (report.json's contents; `["verdict_line"]` is the one-line verdict).
    """
    from priorlab.errors import PriorlabError
    from priorlab.report import build_report

    if not Path(sweep_dir).is_dir():
        raise PriorlabError(f"sweep_dir: no such directory: {sweep_dir}")
    if n_boot < 1:
        raise PriorlabError(f"n_boot: must be >= 1, got {n_boot}")
    return build_report(sweep_dir, n_boot=n_boot, seed=seed, partial=partial)
