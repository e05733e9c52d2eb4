"""POLAR's policy pool: who writes the reference, the positive and the negative of a triplet.

Dou et al. 2025 (POLAR, arXiv 2507.05197) pretrain the RM "to discern identical policies and
discriminate different ones" on samples of a large pool of models: the reference and the
positive of a triplet come from one policy, the negative from another. Two pools here
(`reward_params.pool`):

- "temperatures" (the default): the run's prior, as it is at the first reward call, at two
  temperatures stands in for two policies (an adaptation; see polar.py).
- "priors": checkpoints named by `reward_params.priors` (`priorlab pretrain` directories,
  Hugging Face model directories, .gguf files or smollm2), each sampled at temperature 1
  (its own distribution). In a sweep, `priors` names the spec's priors by label (or, left
  out, takes all of them); the sweep resolves them to their checkpoint dirs before the run.

The pair rule (our choice: we found no sentence of the paper fixing how a pair of policies
is drawn, only that the negative's policy differs): per problem, the reference's policy i is
uniform over the n policies and the negative's is j = (i + s) mod n with s uniform in
1..n-1, both from the run's seeded generator; so j != i always and each ordered pair of
distinct policies has probability 1 / (n (n - 1)).
"""

from __future__ import annotations

from pathlib import Path

import torch

from priorlab.errors import ConfigError, PriorlabError
from priorlab.models import Policy, load_policy
from priorlab.models.hf_io import is_hf_source
from priorlab.rollout import check_context, rollout

POOLS = ("temperatures", "priors")
FIELD = "reward_params.priors"


def check_pool(pool: str, priors) -> tuple[str, ...]:
    """The pool's checkpoint paths (empty for "temperatures") once `pool` and `priors` fit
    together; ConfigError naming the field otherwise. Paths are checked by `check_paths`."""
    if pool not in POOLS:
        raise ConfigError("reward_params.pool", f"{pool!r}; valid: {', '.join(POOLS)}")
    if isinstance(priors, str) or not isinstance(priors, (list, tuple)):
        raise ConfigError(FIELD, f"a list of prior checkpoint paths, got {priors!r}")
    if not all(isinstance(p, str) and p for p in priors):
        raise ConfigError(FIELD, f"each entry a checkpoint path (a string), got {list(priors)}")
    if pool == "temperatures" and priors:
        raise ConfigError(FIELD, "names a pool of priors: set reward_params.pool to priors")
    if pool == "priors" and len(priors) < 2:
        raise ConfigError(
            FIELD, f"pool: priors needs two or more different policies, got {list(priors)}"
        )
    twice = [p for i, p in enumerate(priors) if p in priors[:i]]
    if twice:
        raise ConfigError(FIELD, f"names {twice[0]} twice: the pool's policies must differ")
    return tuple(priors)


def check_paths(priors) -> None:
    """ConfigError naming `reward_params.priors` and the first path that holds no model."""
    for i, path in enumerate(priors):
        if not _exists(path):
            raise ConfigError(
                f"{FIELD}[{i}]",
                f"{path}: no such prior checkpoint (the path does not exist); give `priorlab "
                "pretrain` directories, Hugging Face model directories, .gguf files or smollm2",
            )


def draw_policy_pairs(
    n_problems: int, n_policies: int, *, generator: torch.Generator
) -> tuple[list[int], list[int]]:
    """(same, other): per problem the reference's policy i ~ U{0..n-1} and the negative's
    j = (i + s) mod n, s ~ U{1..n-1}, so j != i (see the module docstring)."""
    if n_policies < 2:
        raise ValueError(f"a pair of different policies needs two or more, got {n_policies}")
    same = torch.randint(n_policies, (n_problems,), generator=generator)
    shift = torch.randint(1, n_policies, (n_problems,), generator=generator)
    return same.tolist(), ((same + shift) % n_policies).tolist()


def load_member(path: str, like: Policy) -> Policy:
    """Pool member `path` on `like`'s device (a Hugging Face one with like's dtype and chat
    setting); a damaged or missing checkpoint is one ConfigError naming the field."""
    device = like.model.head.weight.device
    try:
        member = load_policy(
            path,
            device=device.type,
            dtype=str(like.model.head.weight.dtype).removeprefix("torch."),
            chat=getattr(like.tokenizer, "chat", True),
        )
    except PriorlabError as e:
        raise ConfigError(FIELD, f"{path}: {e}") from None
    member.model.to(device).eval()
    return member


def pool_triplets(
    priors: tuple[str, ...],
    problems: list,
    *,
    like: Policy,
    max_new_tokens: int,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, list]:
    """POLAR's triplets from a pool of checkpoints: per problem a reference and a positive
    from policy `same`, a negative from policy `other` (draw_policy_pairs). Members are
    loaded one at a time, in pool order. Returns the text lists prompt, reference, positive,
    negative and the policy indices same, other (one entry per problem)."""
    n = len(problems)
    same, other = draw_policy_pairs(n, len(priors), generator=generator)
    out = {key: [None] * n for key in ("reference", "positive", "negative")}
    kw = dict(max_new_tokens=max_new_tokens, generator=generator, temperature=temperature)
    for k, path in enumerate(priors):
        mine = [i for i in range(n) if same[i] == k]
        theirs = [i for i in range(n) if other[i] == k]
        if not (mine or theirs):
            continue
        member = load_member(path, like)
        try:
            check_context(member, problems, max_new_tokens=max_new_tokens)
        except PriorlabError as e:
            raise ConfigError(FIELD, f"{path}: {e}") from None
        with torch.no_grad():
            if mine:
                texts = rollout(member, [problems[i] for i in mine], group_size=2, **kw).texts
                for slot, i in enumerate(mine):
                    out["reference"][i], out["positive"][i] = texts[2 * slot], texts[2 * slot + 1]
            if theirs:
                texts = rollout(member, [problems[i] for i in theirs], group_size=1, **kw).texts
                for slot, i in enumerate(theirs):
                    out["negative"][i] = texts[slot]
        del member
    return {"prompt": [p.prompt for p in problems], **out, "same": same, "other": other}


def sweep_pool(params: dict, by_label: dict, *, field: str) -> tuple[dict, tuple]:
    """A sweep's POLAR `reward_params` with the pool's prior labels as prior ids (all the
    sweep's priors when `priors` is left out; an entry that is no label must be an existing
    checkpoint path), and the ids of the sweep priors it names. Unchanged, with no ids,
    unless `pool` is "priors". `by_label` maps the sweep's prior labels to their job ids."""
    if params.get("pool") != "priors":
        return params, ()
    names = params.get("priors", list(by_label))
    if isinstance(names, str) or not isinstance(names, list):
        raise ConfigError(field, f"a list of prior labels ({', '.join(by_label)}), got {names!r}")
    for i, name in enumerate(names):
        if not isinstance(name, str) or (name not in by_label and not _exists(name)):
            raise ConfigError(
                f"{field}[{i}]",
                f"{name!r} is neither a prior of this sweep ({', '.join(by_label)}) nor an "
                "existing checkpoint path",
            )
    ids = tuple(dict.fromkeys(by_label[n] for n in names if n in by_label))
    return {**params, "priors": [by_label.get(n, n) for n in names]}, ids


def _exists(path: str) -> bool:
    return is_hf_source(path) or Path(path).exists()
