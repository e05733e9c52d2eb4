"""A new policy loss, written outside priorlab: TOPR, tapered off-policy REINFORCE.

    python examples/extending/loss.py [OUT]

Defines the loss, registers it under "topr" at import, and `main` trains GRPO with it
from a tiny prior for a few seconds, printing the policy loss it logs (`loss/policy`).
Any preset takes it: `make_algorithm("grpo", policy_loss="topr")`, or from a config,
`algo="grpo", algo_params={"policy_loss": "topr"}`, in a process that imported this file.
Its test: tests/test_extending.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from priorlab import pretrain, train
from priorlab.algos import POLICY_LOSSES


def topr(logp, old_logp, adv):
    """TOPR: -w A log pi per token, w = 1 where A >= 0, w = sg(clip(rho, 0, 1)) where A < 0.

    rho = exp(logp - old_logp). A good sample is learned like supervised data whatever its
    ratio; a bad one is pushed down with a weight that tapers to 0 as the policy makes it
    rarer than the sampler did, so negatives cannot drive log pi to -inf and no token loses
    its gradient to a clip. Le Roux et al. 2025, "Tapered Off-Policy REINFORCE" (arXiv
    2503.14286), truncate the sequence ratio pi(y|x) / mu(y|x) and split on the reward's
    sign; this per-token form (token ratio, advantage sign) is our adaptation.
    Shapes (B, T); adv (B,) or (B, T).
    """
    adv = adv[:, None].expand_as(logp) if adv.dim() == 1 else adv  # (B, T)
    rho = torch.exp(logp - old_logp).detach()  # (B, T), no gradient
    weight = torch.where(adv >= 0, torch.ones_like(rho), rho.clamp(0, 1))
    return -weight * adv * logp


# Registration: the one table of policy losses, which config validation and `algos.bind`
# read (a typo is refused with the valid names listed).
POLICY_LOSSES["topr"] = topr

# --- a brief run from Python -------------------------------------------------------------

PRIOR = dict(  # a 0.1M-parameter prior on two-step + and - arithmetic: half a minute on a CPU
    size="0.1m", steps=200, corpus_size=500, batch_size=32,
    task_params={"steps": 2, "ops": ["+", "-"]},
)  # fmt: skip
TRAIN = dict(  # 4 steps of 4 prompts x 4 samples, completions long enough for the gold (~20)
    rollout_budget=64, prompts_per_step=4, group_size=4, max_new_tokens=28,
    train_problems=200, eval_problems=8, eval_samples=4, tensorboard=False,
)  # fmt: skip


def main(out: str = "runs/extending/topr", prior: str | None = None) -> list[dict]:
    """Train GRPO with the TOPR loss from `prior` (pretrained into OUT/prior when None);
    print and return the logged training steps."""
    prior = prior or pretrain(out=f"{out}/prior", **PRIOR)
    summary = train(
        model=prior,
        out=f"{out}/run",
        algo="grpo",
        algo_params={"policy_loss": "topr"},
        reward="dense_steps",  # partial credit: a tiny prior is rarely right, so 0/1 says little
        **TRAIN,
    )
    rows = [json.loads(line) for line in Path(out, "run", "metrics.jsonl").read_text().splitlines()]
    steps = [row for row in rows if "loss/policy" in row]
    shown = ("loss/policy", "policy/approx_kl", "reward/mean")
    for row in steps:
        print(f"step {row['step']}: " + "  ".join(f"{key} {row[key]:.4f}" for key in shown))
    before, after = (summary[when]["eval/pass@1"] for when in ("initial", "final"))
    print(f"eval/pass@1: {before:.3f} -> {after:.3f}")
    return steps


if __name__ == "__main__":
    main(*sys.argv[1:2])
