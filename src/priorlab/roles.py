"""Roles a method asks the policy to play besides solving: judge, critic, hinted solver.

SERL's judge compares two of the policy's answers, RARO's critic tells the expert's
answer from the policy's, SDPO's teacher solves again with a successful sibling's
solution in its context. A Hugging Face model is asked in plain words. The built-in
character models can only play a role their prior learned: `priorlab pretrain --set
roles=[judge,critic,hint]` mixes examples of each format into the corpus (a fraction
`role_frac` of it), itself a knob of the prior.

Formats of the built-in models (one line, printable ASCII, '|' separates the parts):

    judge   J|<question>|<answer 1>|<answer 2>|   ->  1 or 2 (the better answer)
    critic  C|<question>|<answer 1>|<answer 2>|   ->  1 or 2 (the expert's), or tie
    hint    H|<a correct solution>|<question>     ->  the solution
"""

from __future__ import annotations

import logging
import random

log = logging.getLogger(__name__)

ROLES = ("judge", "critic", "hint")
CHOICES = ("1", "2", "tie")


def judge_prompt(compact: bool, question: str, first: str, second: str) -> str:
    """The judge's prompt: which of two answers to `question` is better; `compact`: the
    built-in one-line format (a policy's `compact_prompts`), else plain words."""
    if compact:
        return f"J|{question}|{first}|{second}|"
    return (
        f"Question:\n{question}\n\nResponse 1:\n{first}\n\nResponse 2:\n{second}\n\n"
        "Which response answers the question correctly? Reply with 1 or 2 only."
    )


def critic_prompt(compact: bool, question: str, first: str, second: str) -> str:
    """The critic's prompt: which of two answers is the expert's, or a tie."""
    if compact:
        return f"C|{question}|{first}|{second}|"
    return (
        f"Question:\n{question}\n\nAnswer 1:\n{first}\n\nAnswer 2:\n{second}\n\n"
        "One answer was written by an expert, the other by a student. Which is the "
        "expert's? Reply with 1, 2, or tie only."
    )


def hint_prompt(compact: bool, question: str, hint: str) -> str:
    """The hinted solver's prompt: `question` with a correct solution shown first."""
    if compact:
        return f"H|{hint}|{question}"
    return f"A correct solution to the problem below:\n{hint}\n\nNow solve it yourself.\n{question}"


def parse_choice(text: str, *, tie: bool = False) -> str | None:
    """ "1" or "2" (or "tie" when allowed) from a role's reply; None when malformed.

    The reply's first word decides: "2" -> "2", " Tie." -> "tie", "12" -> None."""
    words = text.strip().split()
    first = words[0].strip(".,:;!*").lower() if words else ""
    if first in ("1", "2") or (tie and first == "tie"):
        return first
    return None


def role_examples(
    task, problems: list, roles: list[str], n: int, rng: random.Random
) -> list[tuple[str, str]]:
    """n (prompt, target) pretraining examples of the built-in formats, roles in turn.

    judge: the gold solution against a wrong one in random order, target the gold's
    place. critic: the gold against a wrong one (target the gold's place) or, one time
    in four, against itself (target "tie"). hint: the gold solution as the hint, target
    the gold solution again.
    """
    out = []
    for i in range(n):
        role, p = roles[i % len(roles)], rng.choice(problems)
        gold = p.solution
        if role == "hint":
            out.append((hint_prompt(True, p.prompt, gold), gold))
            continue
        other = gold if role == "critic" and rng.random() < 0.25 else task.wrong_solution(p, rng)
        first, second, target = (gold, other, "1") if rng.random() < 0.5 else (other, gold, "2")
        if other == gold:
            target = "tie"
        make = judge_prompt if role == "judge" else critic_prompt
        out.append((make(True, p.prompt, first, second), target))
    return out


def require_role(policy, role: str, method: str) -> None:
    """A built-in prior must have learned `role` in pretraining; a Hugging Face one is asked
    in words. ConfigError naming what to pretrain otherwise."""
    from priorlab.errors import ConfigError

    if not policy.can_play(role):
        learned = policy.meta.get("pretrain", {}).get("roles", [])
        raise ConfigError(
            "reward",
            f"{method} needs a prior that learned the {role} role: pretrain it with "
            f"roles=[{role}] (and max_len >= 96), this one has roles={learned}",
        )


def prompt_rows(tok, samples, rows: list[int], prompts: list[str]):
    """`samples` restricted to `rows`, each response now following a new prompt: how a
    role scores tokens the policy sampled in another context."""
    import torch

    from priorlab.rollout import Samples, left_pad

    s = samples
    prompt, prompt_mask = left_pad([tok.encode(p) for p in prompts], tok.pad_id)
    prompt, prompt_mask = prompt.to(s.response.device), prompt_mask.to(s.response.device)
    idx = torch.tensor(rows, dtype=torch.long, device=s.response.device)
    return Samples(
        prompt,
        prompt_mask,
        s.response[idx],
        s.mask[idx],
        s.logp[idx],
        s.entropy[idx],
        s.lengths[idx],
        s.truncated[idx],
    )


def ask(policy, prompts: list[str], group_ids: list[int], *, rng, temperature: float):
    """The policy's replies to role prompts: a Batch (one sample each) whose rows share
    a group when they judge the same question; rewards are the caller's to fill."""
    import torch

    from priorlab.rollout import rollout
    from priorlab.tasks.base import Problem

    problems = [Problem(f"role-{i}", p, "", "", ()) for i, p in enumerate(prompts)]
    gen = torch.Generator().manual_seed(rng.getrandbits(63))
    batch = rollout(
        policy,
        problems,
        group_size=1,
        max_new_tokens=policy.role_reply_tokens,
        generator=gen,
        temperature=temperature,
    )
    batch.group_ids = torch.tensor(group_ids, dtype=torch.long)
    batch.correct = torch.zeros(len(prompts), dtype=torch.bool)
    batch.parsed = torch.zeros(len(prompts), dtype=torch.bool)
    return batch


def role_quality(policy, task, roles: list[str], *, n: int = 200, seed: int = 0) -> dict:
    """How well a prior plays each role on n test problems, gold against a corrupted
    solution in random order: judge/critic the share of replies naming the gold one (0.5
    is chance), hint the share of hinted solutions the verifier accepts. {} when the
    test split holds fewer than n problems."""
    import torch

    from priorlab.rollout import rollout
    from priorlab.tasks.base import Problem

    rng = random.Random(seed)
    try:
        problems = task.problems("test", n, seed=seed)
    except ValueError:  # the task's test split holds fewer: nothing to measure on
        log.info("role quality not measured: the test split holds fewer than %d problems", n)
        return {}
    out = {}
    for role in roles:
        if role == "hint":
            hinted = [
                Problem(
                    p.id, hint_prompt(True, p.prompt, p.solution), p.answer, p.solution, p.skills
                )
                for p in problems
            ]
            gen = torch.Generator().manual_seed(seed)
            batch = rollout(policy, hinted, group_size=1, max_new_tokens=48, generator=gen)
            out["hint"] = sum(task.verify(p, t).correct for p, t in zip(problems, batch.texts)) / n
            continue
        make = judge_prompt if role == "judge" else critic_prompt
        prompts, gold_at = [], []
        for p in problems:
            wrong, first = task.wrong_solution(p, rng), rng.random() < 0.5
            prompts.append(
                make(True, p.prompt, *((p.solution, wrong) if first else (wrong, p.solution)))
            )
            gold_at.append("1" if first else "2")
        replies = ask(policy, prompts, list(range(n)), rng=rng, temperature=1.0).texts
        out[role] = sum(parse_choice(r, tie=True) == g for r, g in zip(replies, gold_at)) / n
    return out
