"""Every algorithm priorlab compares, as data: a frozen composition of named primitives.

Read side by side, these presets are the seed's argument: GRPO, Dr. GRPO, DAPO, Lite PPO,
RLOO and REINFORCE++ differ only in a handful of fields. `kind` says which loop runs
them: "online" (rollout -> reward -> filter -> advantage -> clipped update), or the offline
loops "expert_iteration", "return_conditioned" and "sft" built from the same pieces.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields

from priorlab.errors import ConfigError
from priorlab.schema import typed

KINDS = ("online", "expert_iteration", "return_conditioned", "sft")


@dataclass(frozen=True)
class Algorithm:
    name: str
    kind: str = "online"
    """Which loop runs it: online, expert_iteration, return_conditioned or sft."""
    advantage: str = "grpo"
    """Advantage estimator (ADVANTAGES) or "gae" with a critic."""
    policy_loss: str = "clip"
    """Per-token loss (POLICY_LOSSES): clip, gppo, reinforce, cispo or nll."""
    loss_params: dict = field(default_factory=dict)
    """The loss's own hyper-parameters (its keyword-only arguments beyond eps_low, eps_high
    and dual_clip), e.g. {is_eps_high: 0.28} for cispo; unset ones keep the loss's defaults."""
    aggregation: str = "seq_mean_token_mean"
    """How the (B, T) loss becomes a scalar (AGGREGATIONS)."""
    eps_low: float = 0.2
    """Lower clip range of the ratio."""
    eps_high: float = 0.2
    """Upper clip range; 0.28 is DAPO's clip-higher."""
    dual_clip: float | None = None
    """Cap the loss of A < 0 tokens at -c A (c = 3 typical); None disables."""
    kl_coef: float = 0.0
    """Weight of the KL to the frozen reference (0 = no reference model)."""
    kl_estimator: str = "k3"
    """k1, k2 or k3 (KL_ESTIMATORS)."""
    kl_in_reward: bool = False
    """PPO-style: subtract kl_coef * k1 from the per-token reward instead of adding a loss."""
    entropy_coef: float = 0.0
    """Entropy bonus weight (loss -= coef * mean token entropy)."""
    dynamic_sampling: bool = False
    """DAPO: drop all-correct / all-wrong groups and resample until the batch is full."""
    overlong_cache: int = 0
    """DAPO soft overlong punishment window in tokens (0 = off); L_max is max_new_tokens."""
    mask_truncated: bool = False
    """Exclude completions that hit max_new_tokens from the loss."""
    whiten_adv: bool = False
    """Whiten token advantages over the batch (PPO)."""
    critic: bool = False
    """Train a value head (GAE advantages, clipped value loss)."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    gamma: float = 1.0
    """GAE discount."""
    lam: float = 0.95
    """GAE lambda."""
    keep_top: int = 0
    """GFPO: keep the k best samples of each group by `keep_metric` (0 = keep all)."""
    keep_metric: str = "length"
    """GFPO's filter metric: length (shortest first) or reward_per_token (best first)."""
    expert_threshold: float = 1.0
    """EI keeps, and RCRL labels <r1>, samples with reward >= this (1.0: the verifier's
    correct ones; with dense_steps, correct with every step matching the gold)."""
    min_group_size: int = 1
    """Smallest group size the advantage makes sense with (grpo needs 2 to have a std)."""
    lr: float = 1e-4
    """Recommended learning rate, used when the run does not set one (EI, which re-fine-tunes
    the prior each round, collapses at 1e-3: measured on arith, see the README)."""
    cond_lr: float | None = None
    """RCRL: learning rate of the return-token embeddings, their own parameter group (None:
    lr). They start as copies of BOS and carry the whole condition, so they learn 100x faster
    than the body, which stays at EI's scale."""
    ref_reset_every: int = 0
    """ProRL: every N online steps the KL reference becomes a frozen copy of the current
    policy (a hard reset; 0 = never). Needs kl_coef > 0."""
    ref_reset_optimizer: bool = False
    """ProRL: clear the optimizer's state (AdamW moments) at each reference reset."""
    step_labels: bool = False
    """RCRL with a dense signal (Havrilla et al. 2024): a return token also opens every step
    of a completion, `<r1>` where that step's result is the gold one (the answer: where it is
    right), else `<r0>`; sampling repeats the prompt's token at every step. Needs a task
    whose steps are marked (arith)."""


# Fields added after job ids were first issued: a job id hashes them only when they are set,
# so adding such a field keeps the id (and the finished runs) of every existing sweep.
HASHED_WHEN_SET = (
    "loss_params", "cond_lr", "ref_reset_every", "ref_reset_optimizer", "step_labels"
)  # fmt: skip


def identity(algo: Algorithm) -> dict:
    """The algorithm as a job id sees it: every field, less HASHED_WHEN_SET at defaults."""
    data = asdict(algo)
    for f in fields(Algorithm):
        if f.name in HASHED_WHEN_SET:
            default = f.default_factory() if f.default is MISSING else f.default
            if data[f.name] == default:
                del data[f.name]
    return data


PRESETS: dict[str, Algorithm] = {
    # --- group-relative, critic-free ---
    "grpo": Algorithm("grpo", advantage="grpo", kl_coef=0.04, min_group_size=2),
    "dr_grpo": Algorithm(
        "dr_grpo", advantage="dr_grpo", aggregation="seq_sum_norm", min_group_size=2
    ),
    "dapo": Algorithm(
        "dapo",
        advantage="grpo",
        aggregation="token_mean",
        eps_high=0.28,
        dynamic_sampling=True,
        overlong_cache=8,
        min_group_size=2,
    ),
    # CISPO (MiniMax-M1): group advantages, clipped IS weight on every token, token-level
    # loss without a KL term (Eq. 4); its IS clip range is the loss's own parameter.
    "cispo": Algorithm(
        "cispo",
        advantage="grpo",
        policy_loss="cispo",
        aggregation="token_mean",
        loss_params={"is_eps_high": 0.28},
        min_group_size=2,
    ),
    "gppo": Algorithm(
        "gppo",
        advantage="grpo",
        policy_loss="gppo",
        aggregation="token_mean",
        eps_high=0.28,
        dual_clip=10.0,
        min_group_size=2,
    ),
    "gfpo": Algorithm(
        "gfpo",
        advantage="grpo",
        aggregation="token_mean",
        keep_top=4,
        keep_metric="length",
        min_group_size=2,
    ),
    "lite_ppo": Algorithm(
        "lite_ppo", advantage="lite_ppo", aggregation="token_mean", min_group_size=2
    ),
    "rloo": Algorithm("rloo", advantage="rloo", aggregation="token_mean", min_group_size=2),
    # REINFORCE++ with baseline, the paper's variant for reasoning (Hu 2025, arXiv 2501.03262):
    # group mean subtracted, whitened over the batch's response tokens, k2 KL as a loss. The
    # k=1 variant (k1 KL inside the per-token reward) is not provided: one variant, consistently.
    "reinforce_pp": Algorithm(
        "reinforce_pp",
        advantage="reinforce_pp_baseline",
        aggregation="token_mean",
        kl_coef=0.01,
        kl_estimator="k2",
    ),
    # ProRL (Liu et al. 2025, arXiv 2505.24864): GRPO with DAPO's decoupled clip (0.2, 0.4)
    # and dynamic sampling, a small KL to a reference hard-reset to the current policy with
    # the optimizer state. Deviations: resets every 16 steps (the paper resets by hand every
    # few hundred steps of runs thousands long; runs here are tens to hundreds of steps);
    # its rollout temperature 1.2 is the run's `temperature` field, not part of the preset.
    "prorl": Algorithm(
        "prorl",
        advantage="grpo",
        aggregation="token_mean",
        eps_high=0.4,
        dynamic_sampling=True,
        kl_coef=1e-4,
        ref_reset_every=16,
        ref_reset_optimizer=True,
        min_group_size=2,
    ),
    # --- the three algorithms of Havrilla et al. 2024 ---
    "ppo": Algorithm(
        "ppo",
        advantage="gae",
        critic=True,
        kl_coef=0.05,
        kl_in_reward=True,
        kl_estimator="k1",
        whiten_adv=True,
        aggregation="token_mean",
    ),
    "ei": Algorithm(
        "ei",
        kind="expert_iteration",
        policy_loss="nll",
        aggregation="token_mean",
        advantage="none",
        lr=1e-4,
    ),
    "rcrl": Algorithm(
        "rcrl",
        kind="return_conditioned",
        policy_loss="nll",
        aggregation="token_mean",
        advantage="none",
        lr=1e-4,
        cond_lr=1e-2,
    ),
    # --- the baseline: supervised fine-tuning on gold solutions, same budget ---
    "sft": Algorithm(
        "sft", kind="sft", policy_loss="nll", aggregation="token_mean", advantage="none", lr=1e-4
    ),
}


def make_algorithm(name: str, **overrides) -> Algorithm:
    """A preset with any of its fields overridden (e.g. grpo with aggregation="token_mean")."""
    if name not in PRESETS:
        raise ConfigError("algo", f"unknown algorithm {name!r}; valid: {', '.join(PRESETS)}")
    valid = {f.name for f in fields(Algorithm)} - {"name"}
    for key in overrides:
        if key not in valid:
            raise ConfigError(f"algo.{key}", f"no such field; valid: {', '.join(sorted(valid))}")
    preset = PRESETS[name]
    given = {f.name: getattr(preset, f.name) for f in fields(Algorithm)} | overrides
    algo = typed(Algorithm, given, where="algo_params", path="algo.")  # "2e-1" -> 0.2
    validate(algo)
    return algo


def validate(algo: Algorithm) -> None:
    """Raise ConfigError naming the first invalid field."""
    from priorlab.algos import ADVANTAGES, AGGREGATIONS, KL_ESTIMATORS, POLICY_LOSSES

    choices = {
        "kind": KINDS,
        "advantage": (*ADVANTAGES, "gae"),
        "policy_loss": tuple(POLICY_LOSSES),
        "aggregation": tuple(AGGREGATIONS),
        "kl_estimator": tuple(KL_ESTIMATORS),
        "keep_metric": ("length", "reward_per_token"),
    }
    for name, valid in choices.items():
        if getattr(algo, name) not in valid:
            raise ConfigError(
                f"algo.{name}", f"{getattr(algo, name)!r} is not one of {', '.join(valid)}"
            )
    for name in ("eps_low", "eps_high", "kl_coef", "entropy_coef", "vf_coef", "overlong_cache"):
        if getattr(algo, name) < 0:
            raise ConfigError(f"algo.{name}", f"must be >= 0, got {getattr(algo, name)}")
    _check_loss_params(algo)
    if algo.keep_top < 0:
        raise ConfigError("algo.keep_top", f"must be >= 0 (0: keep all), got {algo.keep_top}")
    if algo.lr <= 0:
        raise ConfigError("algo.lr", f"must be > 0, got {algo.lr}")
    if algo.cond_lr is not None and algo.cond_lr <= 0:
        raise ConfigError("algo.cond_lr", f"must be > 0 or null, got {algo.cond_lr}")
    if algo.ref_reset_every < 0:
        raise ConfigError("algo.ref_reset_every", f"must be >= 0, got {algo.ref_reset_every}")
    if (algo.ref_reset_every or algo.ref_reset_optimizer) and algo.kl_coef <= 0:
        raise ConfigError("algo.ref_reset_every", "resets a KL reference: needs kl_coef > 0")
    if algo.ref_reset_optimizer and not algo.ref_reset_every:
        raise ConfigError("algo.ref_reset_optimizer", "needs ref_reset_every > 0")
    if algo.step_labels and algo.kind != "return_conditioned":
        raise ConfigError("algo.step_labels", f"labels RCRL's steps; {algo.name} is {algo.kind}")
    if algo.dual_clip is not None and algo.dual_clip <= 1:
        raise ConfigError("algo.dual_clip", f"must be > 1 or null, got {algo.dual_clip}")
    if not (0 <= algo.gamma <= 1 and 0 <= algo.lam <= 1):
        raise ConfigError("algo.gamma", "gamma and lam must lie in [0, 1]")
    if (algo.advantage == "gae") != algo.critic:
        raise ConfigError("algo.advantage", "gae needs critic=true and critic needs gae")
    if algo.kind != "online":  # the offline loops fine-tune: a loss of log-probs alone
        for name, only in (("policy_loss", "nll"), ("advantage", "none")):
            if getattr(algo, name) != only:
                raise ConfigError(
                    f"algo.{name}",
                    f"{algo.kind} fine-tunes on its kept samples and reads no advantage: "
                    f"{name} must be {only}, got {getattr(algo, name)!r} (its aggregation "
                    "is read)",
                )


def _check_loss_params(algo: Algorithm) -> None:
    """loss_params must name keyword-only arguments the loss has (not the shared clip ones)."""
    import inspect

    from priorlab.algos import POLICY_LOSSES

    if not isinstance(algo.loss_params, dict):
        raise ConfigError("algo.loss_params", f"must be a mapping, got {algo.loss_params!r}")
    params = inspect.signature(POLICY_LOSSES[algo.policy_loss]).parameters.values()
    own = [p.name for p in params if p.kind == p.KEYWORD_ONLY and p.name not in SHARED_LOSS_ARGS]
    for key in algo.loss_params:
        if key not in own:
            raise ConfigError(
                f"algo.loss_params.{key}",
                f"{algo.policy_loss} takes no such parameter; accepted: {', '.join(own) or 'none'}",
            )


SHARED_LOSS_ARGS = ("eps_low", "eps_high", "dual_clip")  # Algorithm fields a loss may take
