"""Small pieces for reading sweep specs: job ids, mappings, non-empty lists, grids, labels."""

from __future__ import annotations

import hashlib
import itertools
import json

from priorlab.errors import ConfigError


def job_id(kind: str, resolved: dict) -> str:
    """sha1 of the canonical JSON of a resolved config: same config, same id."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=str)
    return f"{kind[0]}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def mapping(spec: dict, key: str) -> dict:
    value = spec.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a mapping of field: value, got {value!r}")
    return value


def nonempty_list(spec: dict, key: str, default=None, prefix: str = "") -> list:
    value = spec.get(key, default)
    if value is None:
        raise ConfigError(prefix + key, "required: a non-empty list")
    if not isinstance(value, list) or not value:
        raise ConfigError(prefix + key, f"the grid is empty: give a non-empty list, got {value!r}")
    return value


def unique(labels: list[str], key: str) -> None:
    seen = set()
    for label in labels:
        if label in seen:
            raise ConfigError(key, f"label {label!r} appears twice; give each entry a label")
        seen.add(label)


def grid(values: dict, where: str) -> list[dict]:
    """{a: [1, 2], b: 3} -> [{a: 1, b: 3}, {a: 2, b: 3}] (scalars are one-point axes)."""
    if not isinstance(values, dict):
        raise ConfigError(where, f"expected a mapping of field: [values], got {values!r}")
    axes = {k: v if isinstance(v, list) else [v] for k, v in values.items()}
    for k, v in axes.items():
        if not v:
            raise ConfigError(f"{where}.{k}", "the grid is empty: give at least one value")
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def point_label(point: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in point.items())
