"""Reward sources, chosen by name and declared in one table (SOURCES).

A source is `reward(given: RewardIn, *, <parameters>) -> RewardOut` (rewards/base.py): the
loop hands it the scored batch, it returns one float per completion, its metrics, and what
its objective adds (per-row `extras` its bound estimator or terms read, further `rows`
trained alongside; the `Source` declares the estimator and terms). Its parameters, set through
`reward_params`, are its keyword-only arguments (a class's `__init__`'s for a stateful
source). The true verifier accuracy is logged beside whichever reward drives training.

- verifier: sparse 0/1 from the task's verifier.
- dense_steps: credit for intermediate results matching the gold solution (Havrilla 2024).
- cosine_length: the outcome scaled by length along a half cosine (Yeo et al. 2025).
- format: 1 when an answer could be extracted.
- random: Bernoulli(0.5), the spurious-reward control (Shao et al. 2025).
- majority_vote: TTRL pseudo-labels from the group's most common answer.
- self_certainty: INTUITOR, the policy's confidence KL(U || p) per token.
- reference_likelihood: VeriFree, the policy's probability of the gold answer after its
  own reasoning (objective "full": plus that answer's likelihood weighted by it).
- orm: an outcome reward model trained online on the policy's verifier-labelled samples.
- delta_belief: per-step change in the policy's belief in the gold answer, plus the outcome.
- sdpo: self-distillation towards the policy re-prompted with a successful sibling
  (divergence "jsd": the paper's full-distribution D_alpha; "sampled_reverse_kl": cheaper).
- serl: the policy judges pairs of its own samples; actor and judge both trained.
- raro: a critic role tells the expert's answer from the policy's; both trained.
- polar: POLAR, a reward model pretrained to tell the reference's policy from another,
  scoring the completion against the gold solution (arXiv 2507.05197).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from priorlab import algos
from priorlab.errors import ConfigError, lookup
from priorlab.rewards import distill, polar, verifree
from priorlab.rewards.adversarial import Adversarial
from priorlab.rewards.belief import delta_belief
from priorlab.rewards.distill import sdpo
from priorlab.rewards.intrinsic import majority_vote, self_certainty
from priorlab.rewards.length import cosine_length
from priorlab.rewards.orm import OutcomeRewardModel
from priorlab.rewards.outcome import dense_steps, format_reward, random_reward, verifier
from priorlab.rewards.polar import Polar
from priorlab.rewards.selfjudge import SelfJudge
from priorlab.rewards.verifree import reference_likelihood
from priorlab.schema import typed_params


@dataclass(frozen=True)
class Source:
    """A reward source and what it needs, declared in one place.

    make: the function (or, for a stateful source, the class: one instance per run);
    role: the policy role it prompts, which a built-in prior must have learned;
    estimator: batch -> (adv, None), the advantage estimator that replaces the algorithm's
    for its rewards (algos.own: its per-token advantages; algos.per_step: its per-step
    rewards), bound by `algos.bind`;
    terms: (**reward_params) -> loss terms its objective adds to the update (SDPO's
    distillation), each `term(mb, fwd, *, aggregate)` aggregated like the policy loss;
    online_only: it brings its own advantages or rows trained with GRPO, so it needs an
    online algorithm without a critic;
    check: (**reward_params) -> None, ConfigError naming a parameter whose value is wrong;
    check_files: (**reward_params) -> None, ConfigError naming a parameter whose checkpoint
    is missing (checked before any model is loaded, not in sweep expansion);
    online_only_if: (**reward_params) -> bool, online_only for these parameters only (e.g.
    VeriFree's full objective, which adds rows of its own to the update);
    reranks: a trained instance scores evaluation samples (`score_texts`) for rerank@k.
    """

    make: Callable
    role: str | None = None
    estimator: Callable | None = None
    terms: Callable | None = None
    online_only: bool = False
    check: Callable | None = None
    check_files: Callable | None = None
    online_only_if: Callable | None = None
    reranks: bool = False


SOURCES = {
    "verifier": Source(verifier),
    "dense_steps": Source(dense_steps),
    "cosine_length": Source(cosine_length),
    "format": Source(format_reward),
    "random": Source(random_reward),
    "majority_vote": Source(majority_vote),
    "self_certainty": Source(self_certainty),
    "reference_likelihood": Source(
        reference_likelihood,
        check=verifree.check_params,
        online_only_if=verifree.trains_extra_rows,
    ),
    "orm": Source(OutcomeRewardModel, reranks=True),  # stateful: one instance per run
    "delta_belief": Source(delta_belief, estimator=algos.per_step, online_only=True),
    "sdpo": Source(
        sdpo,
        role="hint",
        estimator=algos.own,
        terms=distill.terms,
        online_only=True,
        check=distill.check_params,
    ),
    "serl": Source(SelfJudge, role="judge", online_only=True),
    "raro": Source(Adversarial, role="critic", online_only=True),
    "polar": Source(Polar, check_files=polar.check_files),
}


class _Makes(Mapping):
    """name -> a source's function (or class), read live from SOURCES: declaring a source
    there (`SOURCES["mine"] = Source(mine)`) is all it takes to register it."""

    def __getitem__(self, name: str) -> Callable:
        return SOURCES[name].make

    def __iter__(self):
        return iter(SOURCES)

    def __len__(self) -> int:
        return len(SOURCES)


REWARDS = _Makes()


def source(name: str) -> Source:
    """The declaration of reward source `name` (UnknownName listing the valid ones)."""
    return lookup(SOURCES, name, "reward")


def get_reward(name: str, **params):
    """The reward source `name` with its `params` set (a fresh instance for a stateful one
    such as the ORM); ValueError listing the valid names, ConfigError naming a parameter
    the source does not take."""
    fn = lookup(REWARDS, name, "reward")
    accepted = list(reward_params(name))
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"reward_params.{unknown[0]}",
            f"{name} takes no such parameter; accepted: {', '.join(accepted) or 'none'}",
        )
    params = typed_params(fn, params, path="reward_params")  # "0.5" -> 0.5; "abc" refused
    if source(name).check is not None:
        source(name).check(**params)
    if isinstance(fn, type):
        return fn(**params)
    return functools.wraps(fn)(functools.partial(fn, **params)) if params else fn


def source_terms(name: str, **params) -> tuple:
    """The loss terms reward source `name` adds to the update, given its `params` typed as
    its reward function's (so that "0.5" reaches both as 0.5)."""
    declared = source(name)
    if declared.terms is None:
        return ()
    return declared.terms(**typed_params(declared.make, params, path="reward_params"))


def reward_params(name: str) -> dict:
    """{parameter: default} a reward source takes through `reward_params`."""
    return {
        p.name: p.default
        for p in inspect.signature(REWARDS[name]).parameters.values()
        if p.kind == p.KEYWORD_ONLY and p.default is not p.empty
    }


def check_pairing(reward: str, algo, field: str = "reward", params: dict | None = None) -> None:
    """ConfigError unless `algo` (an Algorithm) can train on `reward`: the sources that bring
    their own advantages or train a role with GRPO need an online algorithm without a critic,
    and so do those that add rows of their own for the given reward `params`."""
    src, fits = source(reward), algo.kind == "online" and not algo.critic
    if src.online_only and not fits:
        raise ConfigError(
            field,
            f"{reward} brings its own advantages or trains a role with GRPO; use an online "
            f"algorithm without a critic (grpo, dapo, gppo, ...), not {algo.name}",
        )
    if params and src.online_only_if is not None and src.online_only_if(**params) and not fits:
        raise ConfigError(
            "reward_params",
            f"{reward} with {params} adds rows of its own to the update; use an online "
            f"algorithm without a critic (grpo, rloo, dapo, ...), not {algo.name}",
        )
