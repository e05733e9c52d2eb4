"""Sweep specs: a YAML grid of algorithm x reward x prior x seed at one rollout budget.

    name: default
    task: arith
    task_params: {steps: 2, ops: ["+", "-"]}
    budget: 2048                     # rollout budget of every run (the equal-budget axis)
    seeds: [0, 1]
    algos: [sft, ei, {name: grpo, grid: {aggregation: [token_mean, seq_mean_token_mean]}}]
    rewards: [verifier]
    priors:                          # a list, or {grid: {steps: [300, 1000], sft: [none, heavy]}}
      - {label: short, steps: 300}
      - {label: long, steps: 1000}
    pretrain: {size: 1m, corpus_size: 3000}   # fields shared by every prior (PretrainConfig)
    train: {eval_problems: 64}                # fields shared by every run (TrainConfig)

`expand` turns a spec into jobs: one per prior (pretraining) and one per run (training),
each with an id that hashes its fully resolved config (the preset's fields included), so a
run is never computed twice. Every field is validated here, before any job starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from priorlab.algos import make_algorithm
from priorlab.config import (
    PretrainConfig,
    TrainConfig,
    build,
    load_yaml,
    validate_pretrain,
    validate_train,
)
from priorlab.errors import ConfigError
from priorlab.priors import sft_steps
from priorlab.rewards import get_reward
from priorlab.tasks import make_task

PRESET_DIR = Path(__file__).parent / "presets"
SPEC_KEYS = (
    "name",
    "task",
    "task_params",
    "budget",
    "seeds",
    "algos",
    "rewards",
    "priors",
    "pretrain",
    "train",
)
# Where a job reads and writes: set by the store, not by the spec.
UNHASHED = ("out", "model")
# Fields that do not change what is computed, so stay out of the hash.
COSMETIC = ("tensorboard", "device")


@dataclass(frozen=True)
class Job:
    """One unit of work: pretrain a prior, or train and evaluate one run from a prior."""

    id: str
    kind: str  # "prior" or "run"
    labels: dict  # prior: {prior}; run: {algo, prior, reward, seed}
    config: dict  # PretrainConfig or TrainConfig fields, without out/model
    deps: tuple = ()  # ids of the priors this job needs


@dataclass
class Sweep:
    name: str
    jobs: list[Job] = field(default_factory=list)

    @property
    def priors(self) -> list[Job]:
        return [j for j in self.jobs if j.kind == "prior"]

    @property
    def runs(self) -> list[Job]:
        return [j for j in self.jobs if j.kind == "run"]


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_spec(path_or_name: str | Path) -> dict:
    """A spec from a YAML file, or a built-in preset by name (see `preset_names()`)."""
    path = Path(path_or_name)
    if not path.is_file():
        preset = PRESET_DIR / f"{path_or_name}.yaml"
        if not preset.is_file():
            raise ConfigError(
                "spec",
                f"{path_or_name!r} is neither a file nor a preset; presets: "
                + ", ".join(preset_names()),
            )
        path = preset
    return load_yaml(path)


def job_id(kind: str, resolved: dict) -> str:
    """sha1 of the canonical JSON of a resolved config: same config, same id."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=str)
    return f"{kind[0]}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def expand(spec: dict) -> Sweep:
    """Validate a spec and expand its grid into prior and run jobs (priors first)."""
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown sweep field; valid: {', '.join(SPEC_KEYS)}")
    task = spec.get("task", "arith")
    task_params = _mapping(spec, "task_params")
    try:
        make_task(task, **task_params)
    except (ValueError, TypeError) as e:
        raise ConfigError("task_params" if task_params else "task", str(e)) from None
    budget = spec.get("budget")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0:
        raise ConfigError("budget", f"a positive number of completions, got {budget!r}")
    seeds = _nonempty_list(spec, "seeds", [0])
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError("seeds", f"a list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError("seeds", f"repeated seed in {seeds}")
    rewards = _nonempty_list(spec, "rewards", ["verifier"])
    for i, name in enumerate(rewards):
        try:
            get_reward(name)
        except ValueError as e:
            raise ConfigError(f"rewards[{i}]", str(e)) from None

    base = {"task": task, "task_params": task_params}
    priors = [
        _prior_job(label, {**base, **_mapping(spec, "pretrain"), **over}, where)
        for label, over, where in _prior_grid(spec)
    ]
    _unique([p.labels["prior"] for p in priors], "priors")
    algos = [a for i, entry in enumerate(_nonempty_list(spec, "algos")) for a in _algo(entry, i)]
    _unique([label for label, _, _ in algos], "algos")
    shared = {**base, **_mapping(spec, "train"), "rollout_budget": budget}
    runs = []
    for prior, (label, name, params), reward, seed in itertools.product(
        priors, algos, rewards, seeds
    ):
        cfg = {**shared, "algo": name, "algo_params": params, "reward": reward, "seed": seed}
        labels = {
            "algo": label if len(rewards) == 1 else f"{label}/{reward}",
            "prior": prior.labels["prior"],
            "reward": reward,
            "seed": seed,
        }
        runs.append(_run_job(labels, cfg, prior))
    return Sweep(spec.get("name", "sweep"), priors + runs)


# --- expanding and validating the parts -----------------------------------------------


def _mapping(spec: dict, key: str) -> dict:
    value = spec.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a mapping of field: value, got {value!r}")
    return value


def _nonempty_list(spec: dict, key: str, default=None) -> list:
    value = spec.get(key, default)
    if value is None:
        raise ConfigError(key, "required: a non-empty list")
    if not isinstance(value, list) or not value:
        raise ConfigError(key, f"the grid is empty: give a non-empty list, got {value!r}")
    return value


def _unique(labels: list[str], key: str) -> None:
    seen = set()
    for label in labels:
        if label in seen:
            raise ConfigError(key, f"label {label!r} appears twice; give each entry a label")
        seen.add(label)


def _grid(values: dict, where: str) -> list[dict]:
    """{a: [1, 2], b: 3} -> [{a: 1, b: 3}, {a: 2, b: 3}] (scalars are one-point axes)."""
    if not isinstance(values, dict):
        raise ConfigError(where, f"expected a mapping of field: [values], got {values!r}")
    axes = {k: v if isinstance(v, list) else [v] for k, v in values.items()}
    for k, v in axes.items():
        if not v:
            raise ConfigError(f"{where}.{k}", "the grid is empty: give at least one value")
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def _label(point: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in point.items())


def _prior_grid(spec: dict) -> list[tuple[str, dict, str]]:
    """(label, PretrainConfig overrides, where) for each prior of the spec."""
    priors = spec.get("priors", [{"label": "prior"}])
    if isinstance(priors, dict):
        if set(priors) != {"grid"}:
            raise ConfigError("priors", "a list of priors or {grid: {field: [values]}}")
        return [(_label(p) or "prior", p, "priors.grid") for p in _grid(priors["grid"], "priors")]
    if not isinstance(priors, list) or not priors:
        raise ConfigError("priors", f"the grid is empty: give a non-empty list, got {priors!r}")
    out = []
    for i, entry in enumerate(priors):
        if not isinstance(entry, dict):
            raise ConfigError(f"priors[{i}]", f"expected a mapping, got {entry!r}")
        over = {k: v for k, v in entry.items() if k != "label"}
        out.append((str(entry.get("label", _label(over) or f"prior{i}")), over, f"priors[{i}]"))
    return out


def _prior_job(label: str, fields: dict, where: str) -> Job:
    fields = {k: v for k, v in fields.items() if k not in UNHASHED}
    try:
        cfg = build(PretrainConfig, fields, where=where)
    except ConfigError as e:
        raise ConfigError(f"{where}.{e.field}", str(e).split(": ", 1)[1]) from None
    _validated(validate_pretrain, cfg, where)
    _validated(lambda c: sft_steps(c.sft, c.steps), cfg, where)
    resolved = _resolved(cfg)
    return Job(job_id("prior", resolved), "prior", {"prior": label}, resolved)


def _algo(entry, i: int) -> list[tuple[str, str, dict]]:
    """(label, preset name, overrides) for one `algos` entry (a name or a mapping)."""
    where = f"algos[{i}]"
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise ConfigError(where, f"a preset name or {{name, params, grid, label}}, got {entry!r}")
    extra = set(entry) - {"name", "params", "grid", "label"}
    if extra:
        raise ConfigError(
            f"{where}.{sorted(extra)[0]}", "unknown key; valid: name, params, grid, label"
        )
    params = entry.get("params") or {}
    points = _grid(entry["grid"], f"{where}.grid") if "grid" in entry else [{}]
    out = []
    for point in points:
        merged = {**params, **point}
        try:
            make_algorithm(entry["name"], **merged)
        except ConfigError as e:
            sub = e.field.removeprefix("algo").lstrip(".")
            raise ConfigError(
                f"{where}.{sub}" if sub else where, str(e).split(": ", 1)[1]
            ) from None
        label = entry.get("label", entry["name"])
        out.append((f"{label}[{_label(point)}]" if point else label, entry["name"], merged))
    return out


def _run_job(labels: dict, fields: dict, prior: Job) -> Job:
    fields = {k: v for k, v in fields.items() if k not in UNHASHED}
    try:
        cfg = build(TrainConfig, fields, where="train")
    except ConfigError as e:
        raise ConfigError(f"train.{e.field}", str(e).split(": ", 1)[1]) from None
    _validated(validate_train, cfg, "train")
    algo = make_algorithm(cfg.algo, **cfg.algo_params)
    need = max(algo.min_group_size, algo.keep_top)
    if cfg.group_size < need:
        raise ConfigError("train.group_size", f"{cfg.algo} needs group_size >= {need}")
    per_step = cfg.prompts_per_step * cfg.group_size
    if algo.kind == "online" and cfg.rollout_budget < per_step:
        raise ConfigError("budget", f"must be >= prompts_per_step x group_size = {per_step}")
    config = _resolved(cfg)
    config["lr"] = algo.lr if cfg.lr is None else cfg.lr
    # The hash sees the algorithm as resolved (preset + overrides), not how it was spelled.
    hashed = {k: v for k, v in config.items() if k not in ("algo", "algo_params", *COSMETIC)}
    hashed |= {"algo_resolved": asdict(algo), "prior_id": prior.id}
    return Job(job_id("run", hashed), "run", labels, config, (prior.id,))


def _resolved(cfg) -> dict:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in UNHASHED}


def _validated(fn, cfg, where: str) -> None:
    try:
        fn(cfg)
    except ConfigError as e:
        raise ConfigError(f"{where}.{e.field}", str(e).split(": ", 1)[1]) from None


def dump(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False)
