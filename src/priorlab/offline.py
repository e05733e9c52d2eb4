"""The offline algorithms, built from the online loop's pieces: SFT, Expert Iteration, RCRL.

Each spends the same rollout budget as the online algorithms: SFT consumes `budget` gold
solutions; EI and RCRL sample `budget` completions over `rounds` rounds.
"""

from __future__ import annotations

import copy

import torch

from priorlab import algos
from priorlab.run import Run
from priorlab.train_utils import encode_pairs, make_optimizer, sft_step


def fine_tune(run: Run, examples: list[tuple], opt, *, epochs: int) -> float:
    """The preset's per-token loss (nll) aggregated as it says (token_mean for ei, rcrl and
    sft) on (problem, completion, prefix) triples, in seeded minibatches."""
    cfg, tok = run.cfg, run.policy.tokenizer
    loss = float("nan")
    for _ in range(epochs):
        order = torch.randperm(len(examples), generator=run.gen).tolist()
        for start in range(0, len(order), cfg.minibatch_size):
            chunk = [examples[i] for i in order[start : start + cfg.minibatch_size]]
            samples = encode_pairs(
                tok,
                [p.prompt for p, _, _ in chunk],
                [c for _, c, _ in chunk],
                max_len=run.policy.model.cfg.max_len,
                prefixes=[x or [] for _, _, x in chunk],
            )
            where = f"fine-tuning in step {run.step + 1} (lr {run.lr})"
            loss = sft_step(
                run.policy,
                opt,
                samples,
                max_grad_norm=cfg.max_grad_norm,
                where=where,
                parts=run.parts,
            )
    return loss


def sft(run: Run, tick) -> None:
    """Supervised fine-tuning on gold solutions: the baseline every RL run must beat."""
    cfg = run.cfg
    opt = make_optimizer(run.policy.model, run.lr)
    while run.samples_used < cfg.rollout_budget:
        n = min(cfg.minibatch_size, cfg.rollout_budget - run.samples_used)
        problems = run.next_problems(n)
        loss = fine_tune(run, [(p, p.solution, None) for p in problems], opt, epochs=1)
        run.samples_used += n
        run.step += 1
        run.record({"loss/sft": loss})
        tick()


def expert_iteration(run: Run, tick) -> None:
    """Sample K per prompt, keep the expert ones (reward >= expert_threshold: the correct
    ones), de-duplicate, fine-tune; repeat.

    Havrilla et al. 2024: the kept set is the union over rounds, and each round fine-tunes
    the initial policy afresh on that union (so later rounds sample from a better policy
    without compounding over-fitting).
    """
    cfg = run.cfg
    initial = copy.deepcopy(run.policy.model.state_dict())
    kept: dict[tuple[str, str], tuple] = {}
    per_round = cfg.rollout_budget // cfg.rounds
    for _ in range(cfg.rounds):
        batch = _sample_round(run, per_round)
        good = algos.experts(batch.rewards, threshold=run.algo.expert_threshold).tolist()
        for p, text, expert in zip(batch.problems, batch.texts, good):
            if expert:
                kept.setdefault((p.id, text), (p, text, None))
        run.policy.model.load_state_dict(initial)
        opt = make_optimizer(run.policy.model, run.lr)
        loss = fine_tune(run, list(kept.values()), opt, epochs=cfg.ft_epochs) if kept else 0.0
        run.step += 1
        run.record(
            {
                "task/accuracy": batch.correct.float().mean().item(),
                "reward/mean": batch.rewards.mean().item(),
                "ei/kept": len(kept),
                "loss/sft": loss,
            }
        )
        tick()


def return_conditioned(run: Run, tick) -> None:
    """RCRL: label every sample with a return token, fine-tune on all; sample on the best.

    The return token (`<r1>` for reward >= expert_threshold, else `<r0>`) takes the place of
    BOS before the prompt; both start with BOS's embedding, so before fine-tuning either one
    conditions the policy exactly like the prior. Samples are drawn conditioned on `<r1>`,
    the best return, and so is evaluation.
    """
    cfg, tok = run.cfg, run.policy.tokenizer
    best = run.prefix = [tok.return_token(True)]  # dev evaluations condition on it too
    labelled: list[tuple] = []
    run.policy.init_tokens_like(list(tok.return_ids), tok.bos_id)
    opt = make_optimizer(run.policy.model, run.lr)
    per_round = cfg.rollout_budget // cfg.rounds
    for _ in range(cfg.rounds):
        batch = _sample_round(run, per_round, prefix=best)
        good = algos.experts(batch.rewards, threshold=run.algo.expert_threshold).tolist()
        labelled += [
            (p, text, [tok.return_token(expert)])
            for p, text, expert in zip(batch.problems, batch.texts, good)
        ]
        loss = fine_tune(run, labelled, opt, epochs=cfg.ft_epochs)
        run.step += 1
        run.record(
            {
                "task/accuracy": batch.correct.float().mean().item(),
                "reward/mean": batch.rewards.mean().item(),
                "rcrl/labelled": len(labelled),
                "loss/sft": loss,
            }
        )
        tick()


def _sample_round(run: Run, n: int, prefix=None):
    """n completions: n // group_size prompts x group_size samples, in chunks of one step."""
    from priorlab.rollout import cat_batches

    cfg = run.cfg
    batches, left = [], n // cfg.group_size
    while left > 0:
        k = min(left, cfg.prompts_per_step)
        batches.append(run.sample(run.next_problems(k), cfg.group_size, prefix=prefix))
        left -= k
    return cat_batches(batches)


OFFLINE_LOOPS = {
    "sft": sft,
    "expert_iteration": expert_iteration,
    "return_conditioned": return_conditioned,
}
