"""The methods a sweep compares: its `algos` and `rewards` entries (or each level's).

An entry is a name, or a mapping `{name, params, label}` (algos also take `grid` and
`train`):

    algos: [grpo, {name: dapo, params: {eps_high: 0.3}, label: dapo-wide},
            {name: prorl, train: {temperature: 1.2}},
            {name: prorl, label: brorl, train: {group_size: 128, prompts_per_step: 2}}]
    rewards: [verifier, {name: sdpo, params: {divergence: jsd}, label: sdpo(jsd)}]

A reward's `params` are its `reward_params` for those runs only (on top of any shared
`train.reward_params`), so one sweep can hold several variants of a source, each under its
own label; the label is what the report shows. An algorithm's `train` sets how that method
samples and steps (METHOD_TRAIN_FIELDS: its rollout temperature, group size, prompts per
step, minibatches, epochs; an offline method's rows per step and round schedule) over the
spec's `train:`; what makes runs comparable (the
budget, the evaluation, the problems, the seeds) stays the spec's, the same for every
method.
"""

from __future__ import annotations

from priorlab.algos import make_algorithm
from priorlab.errors import ConfigError
from priorlab.experiments.grid import grid, nonempty_list, point_label, unique
from priorlab.rewards import reward_params, source

# (label, name, params): a reward source with its reward_params; an algorithm is
# (label, name, params, train): a preset with its overrides and its own train fields
Method = tuple

# The train fields an `algos` entry may set for its own runs: how the method samples and
# steps. Budget, evaluation, problems and seeds stay shared, so runs remain comparable.
METHOD_TRAIN_FIELDS = ("temperature", "top_p", "group_size", "prompts_per_step", "minibatches",
                       "epochs", "minibatch_size", "ft_epochs", "ft_patience", "ft_max_steps",
                       "ft_min_delta")  # fmt: skip


def methods_of(block: dict, prefix: str = "") -> tuple[list[Method], list[Method]]:
    """The algos and the rewards of the spec or of a level, validated."""
    entries = nonempty_list(block, "rewards", ["verifier"], prefix)
    rewards = [reward_entry(e, f"{prefix}rewards[{i}]") for i, e in enumerate(entries)]
    unique([label for label, *_ in rewards], f"{prefix}rewards")
    entries = nonempty_list(block, "algos", None, prefix)
    algos = [a for i, e in enumerate(entries) for a in algo_entries(e, f"{prefix}algos[{i}]")]
    unique([label for label, *_ in algos], f"{prefix}algos")
    return algos, rewards


def levels_of(levels) -> dict[str, tuple[list[Method], list[Method]]]:
    """{level name: (algos, rewards)} of a `levels` mapping, validated."""
    if not isinstance(levels, dict) or not levels:
        raise ConfigError(
            "levels", f"a mapping of level name: {{algos: [...], rewards: [...]}}, got {levels!r}"
        )
    out = {}
    for name, level in levels.items():
        where = f"levels.{name}"
        if not isinstance(level, dict):
            raise ConfigError(where, f"expected {{algos: [...], rewards: [...]}}, got {level!r}")
        extra = sorted(set(level) - {"algos", "rewards"})
        if extra:
            raise ConfigError(f"{where}.{extra[0]}", "unknown key; valid: algos, rewards")
        out[str(name)] = methods_of(level, f"{where}.")
    return out


def factor_of(algos: list, rewards: list) -> str:
    """What a level compares: "algo", "reward", or "algo+reward" when both vary."""
    varies = [name for name, axis in (("algo", algos), ("reward", rewards)) if len(axis) > 1]
    return "+".join(varies) or "algo"


def reward_entry(entry, where: str) -> Method:
    """(label, source name, reward_params) for one `rewards` entry (a name or a mapping)."""
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(where, f"a reward name or {{name, params, label}}, got {entry!r}")
    extra = set(entry) - {"name", "params", "label"}
    if extra:
        raise ConfigError(f"{where}.{sorted(extra)[0]}", "unknown key; valid: name, params, label")
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}.params", f"a mapping of reward_params, got {params!r}")
    try:  # the names here; the values once the run's config is whole (a pool's priors)
        source(entry["name"])
        accepted = reward_params(entry["name"])
    except ValueError as e:
        raise ConfigError(where, str(e)) from None
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{where}.params.{unknown[0]}",
            f"{entry['name']} takes no such parameter; accepted: {', '.join(accepted) or 'none'}",
        )
    return str(entry.get("label", entry["name"])), entry["name"], params


def algo_entries(entry, where: str) -> list[Method]:
    """(label, preset name, overrides, train fields) for one `algos` entry (a name or a
    mapping)."""
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise ConfigError(
            where, f"a preset name or {{name, params, grid, train, label}}, got {entry!r}"
        )
    extra = set(entry) - {"name", "params", "grid", "train", "label"}
    if extra:
        raise ConfigError(
            f"{where}.{sorted(extra)[0]}", "unknown key; valid: name, params, grid, train, label"
        )
    params = entry.get("params") or {}
    train = method_train(entry.get("train") or {}, f"{where}.train")
    points = grid(entry["grid"], f"{where}.grid") if "grid" in entry else [{}]
    out = []
    for point in points:
        merged = {**params, **point}
        try:
            make_algorithm(entry["name"], **merged)
        except ConfigError as e:
            sub = e.field.removeprefix("algo").lstrip(".")
            raise ConfigError(f"{where}.{sub}" if sub else where, e.message) from None
        label = entry.get("label", entry["name"])
        label = f"{label}[{point_label(point)}]" if point else label
        out.append((label, entry["name"], merged, train))
    return out


def method_train(train, where: str) -> dict:
    """An algos entry's own train fields, refused by name unless in METHOD_TRAIN_FIELDS
    (their values are checked with the run's whole config)."""
    if not isinstance(train, dict):
        raise ConfigError(where, f"a mapping of train fields, got {train!r}")
    other = sorted(set(train) - set(METHOD_TRAIN_FIELDS))
    if other:
        raise ConfigError(
            f"{where}.{other[0]}",
            "not a per-method field (the budget, evaluation, problems and seeds are the "
            f"spec's, shared by every method); accepted: {', '.join(METHOD_TRAIN_FIELDS)}",
        )
    return dict(train)
