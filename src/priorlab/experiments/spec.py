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
    metric: pass@1                   # what the report's verdict is on: pass@1 or greedy

Instead of `algos` and `rewards`, a spec may compare methods level by level: `levels` maps a
level name to its own `algos` and `rewards` (same forms as above), and the runs are the union
over levels of that level's algos x rewards x priors x seeds:

    levels:
      algorithm: {algos: [ei, ppo, rcrl]}
      refinement: {algos: [grpo, dapo, lite_ppo]}
      reward: {algos: [grpo], rewards: [verifier, random, self_certainty]}

A run's labels then carry `levels: {level: {factor, method}}`, where factor is what the level
varies ("algo", "reward", or "algo+reward") and method is the run's value of it; the report
decomposes each level's variance on method x prior. A run two levels share (grpo + verifier
above) runs once and is labelled with both.

A `tune` block (experiments/tuning.py) gives every method x prior the same hyper-parameter
grid on the dev split; each final run then picks its best candidate:

    tune: {seeds: [1000], grid: {lr: [3.0e-5, 1.0e-4, 3.0e-4]}}

A prior may also be given as a model instead of pretrained (experiments/priors.py): an
entry `{label: mine, model: smollm2}` (or a Hugging Face directory, a .gguf file, a `priorlab
pretrain` directory) makes no job, and its runs train from that model; `train: {engine:
vllm}` then samples through vLLM. Its id hashes the resolved path and its files' sizes and
modification times.

`expand` turns a spec into jobs: one per pretrained prior and one per run (training),
each with an id that hashes its fully resolved config (the preset's fields included), so a
run is never computed twice. Every field is validated here, before any job starts.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from priorlab.algos.presets import identity
from priorlab.config import (
    PretrainConfig,
    TrainConfig,
    build,
    check_seed,
    load_yaml,
    validate_pretrain,
)
from priorlab.errors import ConfigError
from priorlab.experiments.executors import parse_resources
from priorlab.experiments.grid import grid, job_id, mapping, nonempty_list, point_label, unique
from priorlab.experiments.methods import factor_of, levels_of, methods_of
from priorlab.experiments.priors import Given, carried, check_fits, given_prior
from priorlab.experiments.tuning import Tune, apply, parse_tune
from priorlab.priors import sft_steps
from priorlab.rewards.polar_pool import sweep_pool
from priorlab.tasks import make_task
from priorlab.validate import learning_rate, validate_run

PRESET_DIR = Path(__file__).parent / "presets"
SPEC_KEYS = (
    "name",
    "task",
    "task_params",
    "budget",
    "seeds",
    "algos",
    "rewards",
    "levels",
    "priors",
    "pretrain",
    "train",
    "tune",
    "margin",
    "metric",
    "resources",
)
# What the report's verdict is on (report/inference.py METRICS; why pass@1 is the default:
# its DEFAULT_METRIC): sampled pass@1, or greedy accuracy (maj@1, as Havrilla et al. 2024).
VERDICT_METRICS = ("pass@1", "greedy")
# Where a job reads and writes: set by the store, not by the spec.
UNHASHED = ("out", "model")
# Fields that do not change what is computed, so stay out of the hash.
COSMETIC = ("tensorboard", "device")
# Run fields added after sweeps were stored: hashed only when set, so old job ids hold.
HASHED_WHEN_SET = {"engine": "hf", "rollout_is_cap": 0.0, "ft_max_steps": 200, "ft_patience": 3,
                   "ft_min_delta": 1e-3, "ft_val_frac": 0.1, "ft_warmup": 10,
                   "support_samples": 0}  # fmt: skip
# Prior fields added after sweeps were stored, likewise.
PRIOR_HASHED_WHEN_SET = {"exposure": {}}
# The round loops' fine-tuning changed (issue 24: rounds trained to convergence on a held-out
# loss, warm-up, no short minibatch): their jobs hash this mark, so a resumed sweep re-runs
# them instead of mixing runs of the two protocols under one id.
ROUNDS_PROTOCOL = {"kinds": ("expert_iteration", "return_conditioned"), "mark": 2}
# A run's field as the spec spells it, where not under `train.` (or `tune.`).
SPEC_FIELDS = {"rollout_budget": "budget", "reward": "rewards", "algo": "algos"}


@dataclass(frozen=True)
class Job:
    """One unit of work: pretrain a prior, or train and evaluate one run from a prior."""

    id: str
    kind: str  # "prior" or "run"
    labels: dict  # prior: {prior}; run: {algo, prior, reward, seed} (+ levels, see above)
    config: dict  # PretrainConfig or TrainConfig fields, without out/model
    deps: tuple = ()  # ids of the priors this job needs
    candidates: tuple = ()  # a tuned final run: ({id, point, seed}, ...) it chooses among
    pool: tuple = ()  # a run: ids of the priors its reward's pool samples (POLAR's priors)


@dataclass
class Sweep:
    name: str
    jobs: list[Job] = field(default_factory=list)
    resources: dict = field(default_factory=dict)  # what each job asks the executor for
    given: list[Given] = field(default_factory=list)  # priors given as models: no job

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


def expand(spec: dict) -> Sweep:
    """Validate a spec and expand its grid into prior and run jobs (priors first); the
    priors given as models make no job (`Sweep.given`)."""
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown sweep field; valid: {', '.join(SPEC_KEYS)}")
    if "levels" in spec and ({"algos", "rewards"} & set(spec)):
        raise ConfigError(
            "levels",
            "give either `levels` or top-level `algos`/`rewards`, not both: "
            "with `levels`, each level lists its own algos and rewards",
        )
    task = spec.get("task", "arith")
    task_params = mapping(spec, "task_params")
    try:
        make_task(task, **task_params)
    except (ValueError, TypeError) as e:
        raise ConfigError("task_params" if task_params else "task", str(e)) from None
    budget = spec.get("budget")
    if isinstance(budget, float) and budget.is_integer():  # 1e3, 2048.0: an integer
        budget = int(budget)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0:
        raise ConfigError("budget", f"a positive number of completions, got {budget!r}")
    seeds = nonempty_list(spec, "seeds", [0])
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError("seeds", f"a list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError("seeds", f"repeated seed in {seeds}")
    for seed in seeds:
        check_seed(seed, "seeds")

    margin = spec.get("margin", 0.02)  # the report's equivalence margin, in pass@1
    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 < margin < 1:
        raise ConfigError("margin", f"a fraction of pass@1 in (0, 1), e.g. 0.02, got {margin!r}")
    metric = spec.get("metric", VERDICT_METRICS[0])
    if metric not in VERDICT_METRICS:
        raise ConfigError(
            "metric", f"the verdict's metric, one of {', '.join(VERDICT_METRICS)}; got {metric!r}"
        )
    base = {"task": task, "task_params": task_params}
    pretrain = mapping(spec, "pretrain")
    priors = [
        given_prior(label, over, where)
        if "model" in over
        else _prior_job(label, {**base, **pretrain, **over}, where)
        for label, over, where in _prior_grid(spec)
    ]
    unique([p.labels["prior"] for p in priors], "priors")
    given = [p for p in priors if isinstance(p, Given)]  # `pretrain` applies to the others
    groups = levels_of(spec["levels"]) if "levels" in spec else {None: methods_of(spec)}
    shared = {**base, **mapping(spec, "train"), "rollout_budget": budget}
    tune = parse_tune(spec.get("tune"), shared, seeds)
    jobs = [p for p in priors if isinstance(p, Job)] + _runs(groups, priors, seeds, shared, tune)
    resources = parse_resources(spec.get("resources"))
    return Sweep(spec.get("name", "sweep"), jobs, resources, given)


# --- expanding and validating the parts -----------------------------------------------


def _prior_grid(spec: dict) -> list[tuple[str, dict, str]]:
    """(label, PretrainConfig overrides, where) for each prior of the spec."""
    priors = spec.get("priors", [{"label": "prior"}])
    if isinstance(priors, dict):
        if set(priors) != {"grid"}:
            raise ConfigError("priors", "a list of priors or {grid: {field: [values]}}")
        points = grid(priors["grid"], "priors")
        return [(point_label(p) or "prior", p, "priors.grid") for p in points]
    if not isinstance(priors, list) or not priors:
        raise ConfigError("priors", f"the grid is empty: give a non-empty list, got {priors!r}")
    out = []
    for i, entry in enumerate(priors):
        if not isinstance(entry, dict):
            raise ConfigError(f"priors[{i}]", f"expected a mapping, got {entry!r}")
        over = {k: v for k, v in entry.items() if k != "label"}
        name = str(entry.get("label", point_label(over) or f"prior{i}"))
        out.append((name, over, f"priors[{i}]"))
    return out


def _prior_job(label: str, fields: dict, where: str) -> Job:
    fields = {k: v for k, v in fields.items() if k not in UNHASHED}
    try:
        cfg = build(PretrainConfig, fields, where=where)
    except ConfigError as e:
        raise ConfigError(f"{where}.{e.field}", e.message) from None
    _validated(validate_pretrain, cfg, where)
    _validated(lambda c: sft_steps(c.sft, c.steps), cfg, where)
    resolved = _resolved(cfg)
    hashed = {k: v for k, v in resolved.items() if PRIOR_HASHED_WHEN_SET.get(k, ...) != v}
    return Job(job_id("prior", hashed), "prior", {"prior": label}, resolved)


def _runs(
    groups: dict, priors: list, seeds: list[int], shared: dict, tune: Tune | None = None
) -> list[Job]:
    """Run jobs of each group's algos x rewards x priors (prior jobs and Given models) x
    seeds; a group is a level (or None without levels). A config two levels share is one
    job labelled with both levels."""
    given = {p.id: p.model for p in priors if isinstance(p, Given)}
    one_reward = len({r for _, rewards in groups.values() for r, _, _ in rewards}) == 1
    jobs: dict[str, Job] = {}
    for level, (algos, rewards) in groups.items():
        factor = factor_of(algos, rewards)
        for prior, (label, name, params, own), (rlabel, reward, rparams), seed in itertools.product(
            priors, algos, rewards, seeds
        ):
            cfg = {**shared, **own, "algo": name, "algo_params": params, "reward": reward}
            cfg["seed"] = seed
            if rparams:  # this entry's own reward_params, over the shared ones
                cfg["reward_params"] = {**shared.get("reward_params", {}), **rparams}
            cfg, pool = _polar_pool(cfg, priors, given)
            labels = {
                "algo": label if one_reward else f"{label}/{rlabel}",
                "prior": prior.labels["prior"],
                "reward": rlabel,
                "seed": seed,
            }
            if tune is None:
                job = _run_job(labels, cfg, prior, pool=pool, given=given)
            else:  # candidates on the tuning seeds, then the final run that picks one
                tried = _candidates(tune, name, labels, cfg, prior, pool, given)
                jobs |= {c.id: jobs.get(c.id, c) for c in tried}
                final = {**labels, "phase": "final"}
                job = _run_job(final, cfg, prior, tried, pool=pool, given=given)
            job = jobs.get(job.id, job)  # a config an earlier level already made
            if level is not None:
                method = {"algo": label, "reward": rlabel}.get(factor, f"{label}/{rlabel}")
                tags = job.labels.get("levels", {}) | {level: {"factor": factor, "method": method}}
                job = dataclasses.replace(job, labels={**job.labels, "levels": tags})
            jobs[job.id] = job
    runs = list(jobs.values())
    _unique_cells([r for r in runs if r.labels.get("phase") != "tune"])
    return runs


def _candidates(
    tune: Tune, name: str, labels: dict, cfg: dict, prior, pool: tuple = (), given=None
) -> list[Job]:
    """One run per tuning configuration x tuning seed, labelled phase "tune"."""
    return [
        _run_job(
            {**labels, "seed": seed, "phase": "tune", "candidate": point},
            apply(point, {**cfg, "seed": seed, "test_eval": False}),
            prior,
            where="tune",
            pool=pool,
            given=given,
        )
        for point in tune.points(name)
        for seed in tune.seeds
    ]


def _unique_cells(runs: list[Job]) -> None:
    """Two different configs must not share (algo, prior, seed): the report tells runs apart
    by these labels. (Only levels can cause it: one label, different params in two levels.)"""
    seen = {}
    for run in runs:
        key = (run.labels["algo"], run.labels["prior"], run.labels["seed"])
        if key in seen:
            raise ConfigError(
                "levels",
                f"algo label {key[0]!r} names two different configurations (in levels "
                f"{sorted(seen[key].labels.get('levels', {}))} and "
                f"{sorted(run.labels.get('levels', {}))}); give each a distinct `label`",
            )
        seen[key] = run


def _run_job(
    labels: dict,
    fields: dict,
    prior: Job | Given,
    candidates: list[Job] = (),
    where: str = "train",
    pool: tuple = (),
    given: dict | None = None,
) -> Job:
    """The run job of `fields` from `prior`; `given` maps the sweep's given priors' ids to
    their models (which the stored config carries in place of the hashed ids)."""
    fields = {k: v for k, v in fields.items() if k not in UNHASHED}
    try:
        cfg = build(TrainConfig, fields, where="train")
        # what the run itself checks before loading its model (the pool's priors: later)
        algo = validate_run(cfg, on_disk=False)
        check_fits(cfg, algo, prior)  # and what it checks once it has loaded it
    except ConfigError as e:
        raise ConfigError(SPEC_FIELDS.get(e.field, f"{where}.{e.field}"), e.message) from None
    config = _resolved(cfg)
    config["lr"] = learning_rate(cfg, algo)
    # The hash sees the algorithm as resolved (preset + overrides), not how it was spelled.
    hashed = {k: v for k, v in config.items() if k not in ("algo", "algo_params", *COSMETIC)}
    hashed = {k: v for k, v in hashed.items() if HASHED_WHEN_SET.get(k, ...) != v}
    if algo.kind in ROUNDS_PROTOCOL["kinds"]:
        hashed["rounds_protocol"] = ROUNDS_PROTOCOL["mark"]
    hashed |= {"algo_resolved": identity(algo), "prior_id": prior.id}
    chosen_from = tuple(
        {"id": c.id, "point": c.labels["candidate"], "seed": c.labels["seed"]} for c in candidates
    )
    if chosen_from:
        hashed["chosen_from"] = [c["id"] for c in chosen_from]
    deps = () if isinstance(prior, Given) else (prior.id,)
    config = carried(config, prior, given or {})
    return Job(job_id("run", hashed), "run", labels, config, deps, chosen_from, pool)


def _polar_pool(cfg: dict, priors: list, given: dict) -> tuple[dict, tuple]:
    """POLAR with `pool: priors`: its `reward_params.priors` as prior ids (hashed, and
    swapped for the checkpoint dirs before the run starts, or for the given models in the
    stored config) and the ids of the prior jobs among them; else (cfg, ())."""
    params = cfg.get("reward_params")
    if cfg.get("reward") != "polar" or not isinstance(params, dict):
        return cfg, ()
    by_label = {p.labels["prior"]: p.id for p in priors}
    params, pool = sweep_pool(params, by_label, field="train.reward_params.priors")
    return {**cfg, "reward_params": params}, tuple(p for p in pool if p not in given)


def _resolved(cfg) -> dict:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in UNHASHED}


def _validated(fn, cfg, where: str) -> None:
    try:
        fn(cfg)
    except ConfigError as e:
        raise ConfigError(f"{where}.{e.field}", e.message) from None


def dump(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False)
