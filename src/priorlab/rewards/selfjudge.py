"""SERL: the policy judges pairs of its own samples, and both roles learn.

Self-judgment RL (arXiv 2511.07922): one model is actor and judge. The judge (`judge`
role) sees two of the actor's samples for a question and answers 1 or 2. The actor's
reward counts its wins, each weighted by len_j / len_i and counting only inside the
length window 0.8 len_j < len_i < 1.2 len_j, averaged over the comparisons it took part
in. The judge earns +1 when its pick has the higher actor reward, -1 for the lower or a
malformed reply, 0 on a tie. Both are trained with GRPO in one update, the judge's
replies grouped by question (our choice). Pairs: every pair of a group when G <= 4 (the
paper's N = 4), else a random ring of G pairs so each sample is judged twice (our
choice, to keep the judge's cost linear in G). Lengths are response tokens. Judge
samples are not counted in the rollout budget (they are logged as serl/judge_tokens).
"""

from __future__ import annotations

import itertools

import torch

from priorlab.algos import role_grpo
from priorlab.batch import Rows
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.roles import ask, judge_prompt, parse_choice


def judge_pairs(group_ids: list[int], rng) -> list[tuple[int, int]]:
    """(first shown, second shown) row pairs within each group, in random order."""
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(group_ids):
        groups.setdefault(g, []).append(i)
    pairs = []
    for rows in groups.values():
        if len(rows) <= 4:
            chosen = list(itertools.combinations(rows, 2))
        else:
            ring = rng.sample(rows, len(rows))
            chosen = [(ring[k], ring[(k + 1) % len(ring)]) for k in range(len(ring))]
        pairs += [(a, b) if rng.random() < 0.5 else (b, a) for a, b in chosen]
    return pairs


def actor_rewards(pairs, winners, lengths, n: int, window=(0.8, 1.2)) -> list[float]:
    """r_i = (1/|C_i|) sum over i's wins against j of len_j / len_i, a win counting only
    when window[0] len_j < len_i < window[1] len_j; C_i: the comparisons i took part in."""
    wins, seen = [0.0] * n, [0] * n
    for (a, b), w in zip(pairs, winners):
        seen[a] += 1
        seen[b] += 1
        if w is None:
            continue
        loser = b if w == a else a
        lw, ll = lengths[w], lengths[loser]
        if window[0] * ll < lw < window[1] * ll:
            wins[w] += ll / lw
    return [w / s if s else 0.0 for w, s in zip(wins, seen)]


def judge_rewards(pairs, winners, actor: list[float]) -> list[float]:
    """+1 when the pick has the higher actor reward, -1 when lower or malformed, 0 on a tie."""
    out = []
    for (a, b), w in zip(pairs, winners):
        if w is None:
            out.append(-1.0)
            continue
        loser = b if w == a else a
        out.append(float((actor[w] > actor[loser]) - (actor[w] < actor[loser])))
    return out


class SelfJudge:
    """SERL: the policy judges pairs of its own samples; actor and judge both learn.

    Callable like any reward; returns the judge's samples as a role."""

    def __init__(self, *, window: tuple[float, float] = (0.8, 1.2)):
        self.window = window

    def __call__(self, given: RewardIn) -> RewardOut:
        problems, completions, group_ids = given.problems, given.completions, given.group_ids
        policy, rng = given.policy, given.rng
        pairs = judge_pairs(group_ids.tolist(), rng)
        prompts = [
            judge_prompt(policy.compact_prompts, problems[a].prompt, completions[a], completions[b])
            for a, b in pairs
        ]
        judged = ask(
            policy,
            prompts,
            [int(group_ids[a]) for a, _ in pairs],
            rng=rng,
            temperature=given.temperature,
        )
        picks = [parse_choice(t) for t in judged.texts]
        winners = [None if c is None else (a if c == "1" else b) for (a, b), c in zip(pairs, picks)]
        actor = actor_rewards(
            pairs, winners, given.samples.lengths.tolist(), len(completions), self.window
        )
        judged.rewards = torch.tensor(judge_rewards(pairs, winners, actor))
        judged.parsed = torch.tensor([c is not None for c in picks])
        return RewardOut(
            actor,
            metrics=self.metrics(pairs, winners, given.verdicts, judged),
            rows=[Rows(judged, role_grpo)],  # the judge learns with GRPO, in the same update
        )

    @staticmethod
    def metrics(pairs, winners, verdicts, judged) -> dict:
        """The judge's reward and malformed rate, and how often it picks the verifier's
        choice when exactly one of the pair is correct (the truth beside the proxy)."""
        decisive = [
            (w, a if verdicts[a].correct else b)
            for (a, b), w in zip(pairs, winners)
            if verdicts[a].correct != verdicts[b].correct
        ]
        out = {
            "serl/judge_reward": judged.rewards.mean().item(),
            "serl/judge_malformed": 1 - judged.parsed.float().mean().item(),
            "serl/judge_tokens": float(judged.samples.lengths.sum()),
        }
        if decisive:
            out["serl/judge_agrees_verifier"] = sum(w == r for w, r in decisive) / len(decisive)
        return out
