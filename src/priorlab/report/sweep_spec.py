"""What the sweep's spec says the report's inference is on: its equivalence `margin` and
its verdict's `metric` (SWEEP/sweep.yaml; experiments/spec.py validates them up front)."""

from __future__ import annotations

from pathlib import Path

import yaml

from priorlab.config import read_yaml
from priorlab.errors import DataError
from priorlab.report.inference import DEFAULT_MARGIN, DEFAULT_METRIC, METRICS


def _spec(sweep_dir: str | Path) -> tuple[Path, dict]:
    """(path, content) of the sweep's spec SWEEP/sweep.yaml; {} when absent or not a mapping."""
    path = Path(sweep_dir) / "sweep.yaml"
    if not path.is_file():
        return path, {}
    try:
        spec = read_yaml(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read the sweep's spec ({err})") from None
    return path, spec if isinstance(spec, dict) else {}


def read_margin(sweep_dir: str | Path) -> float:
    """The sweep spec's "margin" (SWEEP/sweep.yaml), DEFAULT_MARGIN when absent."""
    path, spec = _spec(sweep_dir)
    margin = spec.get("margin", DEFAULT_MARGIN)
    ok = isinstance(margin, (int, float)) and not isinstance(margin, bool) and 0 < margin < 1
    if not ok:
        raise DataError(f"{path}: `margin` must be a fraction of pass@1 in (0, 1), got {margin!r}")
    return float(margin)


def read_metric(sweep_dir: str | Path) -> str:
    """The sweep spec's "metric" (SWEEP/sweep.yaml): what the verdict is on, DEFAULT_METRIC
    when absent."""
    path, spec = _spec(sweep_dir)
    metric = spec.get("metric", DEFAULT_METRIC)
    if not isinstance(metric, str) or metric not in METRICS:  # a list is no dict key
        raise DataError(f"{path}: `metric` must be one of {', '.join(METRICS)}, got {metric!r}")
    return metric
