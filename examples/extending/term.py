"""A new objective term, written outside priorlab: an anchor to the sampling policy.

    python examples/extending/term.py [OUT]

Defines the loss term, declares it through a reward source ("dense_steps_anchored":
dense_steps' rewards, plus this term in the update) registered at import, and `main`
trains GRPO on it from a tiny prior for a few seconds, printing the term it logs
(`loss/anchor`). From a config: `reward="dense_steps_anchored", reward_params={"coef":
0.1}`, in a process that imported this file. Its test: tests/test_extending.py.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

from priorlab import pretrain, train
from priorlab.algos import Forward, Term
from priorlab.algos.losses import kl_k3
from priorlab.rewards import SOURCES, Source
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.rewards.outcome import dense_steps


def anchor_term(mb, fwd: Forward, *, coef: float, aggregate):
    """coef * agg(rho - 1 - log rho), rho = exp(logp - old_logp): the k3 estimate of
    KL(pi_old || pi) on the sampled tokens, over the loss mask.

    PPO's KL penalty to the policy that sampled the batch (Schulman et al. 2017, arXiv
    1707.06347, Eq. 8; k3: Schulman 2020, "Approximating KL divergence"), a soft trust
    region: 0, with a 0 gradient, on a step's first minibatch (pi = pi_old), it holds back
    the later minibatches and epochs. Gradient in log pi: coef (rho - 1) per token, before
    the aggregation. Shapes: fwd.logp, mb.samples.logp, mb.loss_mask (B, T).
    """
    k3 = kl_k3(mb.samples.logp, fwd.logp)  # (B, T): exp(-(old - logp)) + (old - logp) - 1
    kl = aggregate(k3, mb.loss_mask)
    return coef * kl, {"loss/anchor": kl.item()}


def dense_steps_anchored(given: RewardIn, *, coef: float = 0.1) -> RewardOut:
    """dense_steps' partial credit, unchanged; `coef` weighs the anchor term that its Source
    declares (`anchor_terms`), so that `reward_params.coef` is accepted and typed."""
    return dense_steps(given)


def anchor_terms(*, coef: float = 0.1) -> tuple[Term, ...]:
    """The loss terms the source adds to the update, given its reward_params: the anchor at
    weight coef (`algos.bind` binds the algorithm's aggregation)."""
    return (Term(partial(anchor_term, coef=coef)),)


# Registration: SOURCES declares the source and its terms (Run binds `anchor_terms(**
# reward_params)` beside the policy loss, its parameters typed as the source's).
SOURCES["dense_steps_anchored"] = Source(dense_steps_anchored, terms=anchor_terms)

# --- a brief run from Python -------------------------------------------------------------

PRIOR = dict(  # a 0.1M-parameter prior on two-step + and - arithmetic: half a minute on a CPU
    size="0.1m", steps=200, corpus_size=500, batch_size=32,
    task_params={"steps": 2, "ops": ["+", "-"]},
)  # fmt: skip
TRAIN = dict(  # 4 steps of 4 prompts x 4 samples, completions long enough for the gold (~20)
    rollout_budget=64, prompts_per_step=4, group_size=4, max_new_tokens=28,
    train_problems=200, eval_problems=8, eval_samples=4, tensorboard=False,
)  # fmt: skip


def main(out: str = "runs/extending/anchor", prior: str | None = None) -> list[dict]:
    """Train GRPO with the anchor term from `prior` (pretrained into OUT/prior when None);
    print and return the logged training steps."""
    prior = prior or pretrain(out=f"{out}/prior", **PRIOR)
    train(
        model=prior,
        out=f"{out}/run",
        algo="grpo",
        reward="dense_steps_anchored",
        reward_params={"coef": 0.1},
        **TRAIN,
    )
    rows = [json.loads(line) for line in Path(out, "run", "metrics.jsonl").read_text().splitlines()]
    steps = [row for row in rows if "loss/anchor" in row]
    shown = ("loss/anchor", "policy/approx_kl", "loss/policy")
    for row in steps:
        print(f"step {row['step']}: " + "  ".join(f"{key} {row[key]:.5f}" for key in shown))
    return steps


if __name__ == "__main__":
    main(*sys.argv[1:2])
