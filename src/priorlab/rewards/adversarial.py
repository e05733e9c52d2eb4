"""RARO: a critic must tell the expert's answer from the policy's; the policy tries to pass.

Adversarial inverse RL from demonstrations (arXiv 2511.21667). The critic (the same
model in the `critic` role) sees the gold solution and the policy's completion in random
order and answers which is the expert's, or "tie". The policy earns 1 when the critic
picks its completion as the expert's, tau_pol = 0.6 on a tie, else 0; the critic earns 1
when right, tau_crit = 0.55 on a tie, else 0 (a malformed reply earns 0). Past policy
answers wait in a replay buffer that fills half of the critic's batch: each step the
critic judges the current completions plus as many replayed ones (values from a
third-party implementation, unconfirmed, as RESEARCH.md says). Both roles are trained
with GRPO in one update, the critic's replies grouped by question (our choice). Critic
samples are not counted in the rollout budget (logged as raro/critic_tokens).
"""

from __future__ import annotations

import torch

from priorlab.algos import role_grpo
from priorlab.batch import Rows
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.roles import ask, critic_prompt, parse_choice


def critic_outcome(choice: str | None, expert_first: bool) -> str | None:
    """ "expert", "policy" or "tie" from the critic's reply and the order shown; None when
    malformed."""
    if choice in (None, "tie"):
        return choice
    return "expert" if (choice == "1") == expert_first else "policy"


def policy_reward(outcome: str | None, tau_pol: float = 0.6) -> float:
    """1 when the critic took the policy's answer for the expert's, tau_pol on a tie."""
    return {"policy": 1.0, "tie": tau_pol}.get(outcome, 0.0)


def critic_reward(outcome: str | None, tau_crit: float = 0.55) -> float:
    """1 when the critic found the expert's answer, tau_crit on a tie, 0 otherwise."""
    return {"expert": 1.0, "tie": tau_crit}.get(outcome, 0.0)


class Adversarial:
    """RARO: a critic role tells the expert's answer from the policy's; both learn.

    Holds the replay buffer; returns the critic's samples as a role."""

    def __init__(self, *, tau_pol: float = 0.6, tau_crit: float = 0.55, buffer: int = 2048):
        self.tau_pol, self.tau_crit, self.buffer_size = tau_pol, tau_crit, buffer
        self.buffer: list[tuple] = []  # (problem, completion)

    def __call__(self, given: RewardIn) -> RewardOut:
        policy, rng = given.policy, given.rng
        current = list(zip(given.problems, given.completions))
        replay = rng.sample(self.buffer, min(len(self.buffer), len(current)))
        items = current + replay
        expert_first = [rng.random() < 0.5 for _ in items]
        prompts = [
            critic_prompt(
                policy.compact_prompts, p.prompt, *((p.solution, c) if ef else (c, p.solution))
            )
            for (p, c), ef in zip(items, expert_first)
        ]
        qids = {p.id: k for k, p in enumerate(dict.fromkeys(p for p, _ in items))}
        judged = ask(
            policy, prompts, [qids[p.id] for p, _ in items], rng=rng, temperature=given.temperature
        )
        outcomes = [
            critic_outcome(parse_choice(t, tie=True), ef)
            for t, ef in zip(judged.texts, expert_first)
        ]
        judged.rewards = torch.tensor([critic_reward(o, self.tau_crit) for o in outcomes])
        judged.parsed = torch.tensor([o is not None for o in outcomes])
        self.buffer = (self.buffer + current)[-self.buffer_size :]
        now = outcomes[: len(current)]
        return RewardOut(
            [policy_reward(o, self.tau_pol) for o in now],
            rows=[Rows(judged, role_grpo)],  # the critic learns with GRPO, in the same update
            metrics={
                "raro/fooled": sum(o == "policy" for o in now) / len(now),
                "raro/tie": sum(o == "tie" for o in now) / len(now),
                "raro/critic_reward": judged.rewards.mean().item(),
                "raro/critic_malformed": sum(o is None for o in outcomes) / len(outcomes),
                "raro/critic_tokens": float(judged.samples.lengths.sum()),
            },
        )
