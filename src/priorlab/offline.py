"""The offline algorithms, built from the online loop's pieces: SFT, Expert Iteration, RCRL.

Each spends the same rollout budget as the online algorithms: SFT consumes `budget` gold
solutions; EI and RCRL sample `budget` completions over `rounds` rounds. As in Havrilla et
al. 2024, each round fine-tunes the initial weights afresh on the union of every round's
samples until the round has converged (fit_round: a validation loss with patience, a step
cap), so a reset costs the round nothing it could have learnt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from priorlab import algos
from priorlab.batch import cat_batches
from priorlab.encoding import encode_pairs
from priorlab.errors import PriorlabError
from priorlab.optim import make_optimizer, warm_up
from priorlab.run import Run
from priorlab.supervised import lm_loss, sft_step


def sft(run: Run, tick) -> None:
    """Supervised fine-tuning on gold solutions: the baseline every RL run must beat."""
    cfg = run.cfg
    opt = make_optimizer(run.policy.model, run.lr)
    while run.samples_used < cfg.rollout_budget:
        left = cfg.rollout_budget - run.samples_used
        n = left if left < 2 * cfg.minibatch_size else cfg.minibatch_size  # no short last step
        problems = run.next_problems(n)
        loss = train_step(run, [(p, p.solution, None) for p in problems], opt)
        run.samples_used += n
        run.step += 1
        run.record({"loss/sft": loss})
        tick()


def expert_iteration(run: Run, tick) -> None:
    """Sample K per prompt, keep the expert ones (reward >= expert_threshold: the correct
    ones), de-duplicate; fine-tune the initial weights on the union of every round's kept
    samples until converged; repeat (Havrilla et al. 2024)."""
    cfg = run.cfg
    initial = _snapshot(run.policy.model)
    kept: dict[tuple[str, str], tuple] = {}
    for _ in range(cfg.rounds):
        batch = _sample_round(run, cfg.rollout_budget // cfg.rounds)
        good = algos.experts(batch.rewards, threshold=run.algo.expert_threshold).tolist()
        for p, text, expert in zip(batch.problems, batch.texts, good):
            if expert:
                kept.setdefault((p.id, text), (p, text, None))
        run.policy.model.load_state_dict(initial)
        fit = fit_round(run, list(kept.values()), lambda: make_optimizer(run.policy.model, run.lr))
        _end_round(run, batch, fit, {"ei/kept": len(kept)}, tick)


def return_conditioned(run: Run, tick) -> None:
    """RCRL: label every sample with a return token, fine-tune on all; sample on the best.

    The return token (`<r1>` for reward >= expert_threshold, else `<r0>`) takes the place of
    BOS before the prompt; both start with BOS's embedding, so before fine-tuning either one
    conditions the policy exactly like the prior. The return-token embeddings are their own
    parameter group (algo.cond_lr; the body at lr, EI's scale). Rounds as EI's: the initial
    weights fine-tuned afresh on the union of labelled samples until converged. Samples are
    drawn conditioned on `<r1>`, the best return, and so is evaluation. With
    algo.step_labels a return token also opens every step (step_labelled), and once the
    first round has trained on such rows sampling repeats the prompt's token at each step
    (rollout.sample); inside a completion these tokens take no position of their own
    (models.transformer.place), so the steps keep the prior's positions. The first round
    samples as the prior does: forcing the untrained, BOS-like tokens into the prior's
    completions drops its greedy accuracy from 0.97 to 0.06 (algorithm-level's strong prior).
    """
    cfg, tok = run.cfg, run.policy.tokenizer
    best = run.prefix = [tok.return_token(True)]  # dev evaluations condition on it too
    marks = tok.encode(step_marks(run.task), bos=False) if run.algo.step_labels else None
    rows = list(tok.return_ids)
    run.policy.init_tokens_like(rows, tok.bos_id)
    initial = _snapshot(run.policy.model)
    cond_lr = run.algo.cond_lr or run.lr

    def optimizer():
        return make_optimizer(run.policy.model, run.lr, rows=rows, rows_lr=cond_lr)

    def separation(held):
        return {"rcrl/separation": label_separation(run, held)}

    labelled: list[tuple] = []
    for r in range(cfg.rounds):
        batch = _sample_round(run, cfg.rollout_budget // cfg.rounds, prefix=best)
        good = algos.experts(batch.rewards, threshold=run.algo.expert_threshold).tolist()
        texts = batch.texts
        if run.algo.step_labels:
            right = batch.correct.tolist()
            texts = [step_labelled(tok, run.task, *x) for x in zip(batch.problems, texts, right)]
        labelled += [
            (p, text, [tok.return_token(expert)])
            for p, text, expert in zip(batch.problems, texts, good)
        ]
        run.policy.model.load_state_dict(initial)
        fit = fit_round(run, labelled, optimizer, judged=lambda x: x[2] == best, measure=separation)
        if marks:  # from now on sampling opens every step with the token, as training did
            run.policy.meta = {**run.policy.meta, "condition_steps": marks}
        learnt = condition_gap(run) if r == cfg.rounds - 1 else {}
        _end_round(run, batch, fit, {"rcrl/labelled": len(labelled), **learnt}, tick)


def step_marks(task) -> str:
    """The characters that end a step of `task`'s solutions (the last one opens the answer);
    PriorlabError when the task marks no steps, so no step can be labelled."""
    marks = getattr(task, "step_marks", "")
    if not marks:
        raise PriorlabError(
            f"algo.step_labels: task {task.name} marks no steps in its solutions; tasks that "
            "do: arith"
        )
    return marks


def step_labelled(tok, task, problem, text: str, correct: bool) -> list[int]:
    """The completion's ids with a return token opening each step (RCRL's per-step labels
    for a dense signal, Havrilla et al. 2024): `<r1>` where the step's result is the gold
    solution's at that position, else `<r0>`; the answer (after the last mark) by `correct`.
    arith: "3+4=7,7*2=15#15" -> <r1>3+4=7,<r0>7*2=15#<r0>15 (gold 3+4=7,7*2=14#14)."""
    marks, gold = step_marks(task), task.steps(problem.solution)
    pieces, start = [], 0
    for i, ch in enumerate(text):
        if ch in marks:
            pieces.append(text[start : i + 1])
            start = i + 1
    pieces.append(text[start:])  # what follows the last mark, maybe empty: sampling opens it too
    ids = []
    for k, piece in enumerate(pieces):
        answer = k > 0 and pieces[k - 1].endswith(marks[-1])
        good = correct if answer else task.steps(piece) == gold[k : k + 1]
        ids += [tok.return_token(good), *tok.encode(piece, bos=False)]
    return ids


def condition_gap(run: Run) -> dict:
    """Whether the condition was learnt, in accuracy: the dev problems (the test problems
    when the run has no dev split: a diagnostic, read by no verdict) sampled dev_samples
    times under `<r1>` and under `<r0>` (the same seeded generator for both; its own, so no
    other draw moves), the mean over problems of the accuracy difference and its standard
    error (paired over problems). Empty with fewer than two problems."""
    cfg, tok = run.cfg, run.policy.tokenizer
    problems = run.dev or run.test
    if len(problems) < 2:
        return {}
    acc = []
    for good in (True, False):
        gen = torch.Generator().manual_seed(cfg.seed + 3 * 7919)
        table = run.draw(problems, n=cfg.dev_samples, generator=gen, greedy=False,
                         prefix=[tok.return_token(good)])  # fmt: skip
        acc.append(table.groupby("problem_id")["correct"].mean().sort_index().to_numpy())
    diff = acc[0] - acc[1]
    se = float(diff.std(ddof=1) / math.sqrt(len(diff)))
    return {"rcrl/condition_gap": float(diff.mean()), "rcrl/condition_se": se}


# --- a round's fine-tuning -----------------------------------------------------------------


CHECK_STEPS = 10  # a round's loss is checked at the first epoch end >= 10 steps after the last


@dataclass
class EarlyStop:
    """The round's stopping rule: converged when the validation loss has not fallen below
    its best by more than `min_delta` for `patience` checks in a row; the cap stops it at
    `max_steps` optimiser steps otherwise (capped: the mechanism was cut short)."""

    patience: int
    min_delta: float
    max_steps: int
    best: float = math.inf
    stale: int = 0
    improved: bool = False

    def update(self, loss: float, steps: int) -> str | None:
        """Read one check's loss after `steps` steps: "converged", "capped" or None (go on);
        `improved` says whether this loss is the new best."""
        self.improved = loss < self.best - self.min_delta
        if self.improved:
            self.best, self.stale = loss, 0
        else:
            self.stale += 1
        if self.stale >= self.patience:
            return "converged"
        return "capped" if steps >= self.max_steps else None


def fit_round(run: Run, examples: list[tuple], optimizer, judged=None, measure=None) -> dict:
    """Fine-tune the current weights on `examples` ((problem, completion, prefix) triples):
    ft_epochs epochs when set, else epochs until EarlyStop on the held-out problems'
    validation loss (checked after the warm-up, at the first epoch end CHECK_STEPS or more
    steps after the previous check), keeping the best weights. Returns the round's record.

    `judged`: which held-out examples the loss reads (RCRL: those labelled `<r1>`, the
    condition the policy is sampled and evaluated on). Measured (issue 24): that NLL rises
    for ~100 steps before the condition separates, so RCRL's rounds end near their first
    checks with the condition not learnt; so do rounds stopped on the loss of both labels
    or on the label separation (noisy on a few held-out problems). Rounds of 40 fixed
    epochs learn it (docs/methods/algorithms.md); condition_gap measures it per run.
    `measure(held)`: more of the round's record, read on all held-out examples at its end
    (RCRL: its label separation)."""
    cfg = run.cfg
    train, held = split_problems(examples, cfg.ft_val_frac, run.gen)
    val = [x for x in held if judged(x)] if judged else held
    opt, steps, epochs = optimizer(), 0, 0
    record = {"ft/train_rows": len(train), "ft/val_rows": len(val)}
    if not train:
        return record | {"ft/steps": 0, "ft/epochs": 0, "ft/converged": 1.0, "loss/sft": 0.0}
    rule = EarlyStop(cfg.ft_patience, cfg.ft_min_delta, cfg.ft_max_steps)
    best, status, checked = None, None, 0
    while status is None:
        for rows in minibatches(len(train), cfg.minibatch_size, run.gen):
            warm_up(opt, steps, cfg.ft_warmup)
            loss = train_step(run, [train[i] for i in rows], opt)
            steps += 1
        epochs += 1
        if cfg.ft_epochs:
            status = "fixed" if epochs >= cfg.ft_epochs else None
            continue
        due = steps >= max(cfg.ft_warmup, checked + CHECK_STEPS) or steps >= cfg.ft_max_steps
        if not due:
            continue
        checked = steps
        status = rule.update(validation_loss(run, val or train), steps)
        if rule.improved:
            best = _snapshot(run.policy.model)
    if best is not None:
        run.policy.model.load_state_dict(best)
    if measure is not None:
        record |= measure(held or train)
    return record | {
        "ft/steps": steps,
        "ft/epochs": epochs,
        "ft/rows_per_step": len(train) * epochs / steps,
        "ft/converged": float(status == "converged"),
        "ft/capped": float(status == "capped"),
        "ft/val_loss": rule.best if not cfg.ft_epochs else float("nan"),
        "loss/sft": loss,
    }


def split_problems(examples: list[tuple], frac: float, gen) -> tuple[list, list]:
    """(train, validation): the samples of a seeded `frac` of the problems (at least one
    once there are two, none when frac is 0) held out together, so no problem is in both."""
    ids = sorted({p.id for p, _, _ in examples})
    n_val = 0 if frac == 0 or len(ids) < 2 else max(1, round(frac * len(ids)))
    held = {ids[i] for i in torch.randperm(len(ids), generator=gen)[:n_val].tolist()}
    return (
        [x for x in examples if x[0].id not in held],
        [x for x in examples if x[0].id in held],
    )


def minibatches(n: int, size: int, gen) -> list[list[int]]:
    """A seeded shuffle of range(n) in max(1, n // size) near-equal chunks: no optimiser step
    on fewer than `size` rows (a leftover is spread over the others) unless n itself is."""
    order = torch.randperm(n, generator=gen)
    return [chunk.tolist() for chunk in order.tensor_split(max(1, n // size))]


def train_step(run: Run, chunk: list[tuple], opt) -> float:
    """One step of the preset's per-token loss (nll, token_mean) on the chunk's completions."""
    where = f"fine-tuning in step {run.step + 1} (lr {run.lr})"
    loss = sft_step(
        run.policy, opt, _encode(run, chunk), max_grad_norm=run.cfg.max_grad_norm,
        where=where, parts=run.parts, forced=_forced(run),
    )  # fmt: skip
    run.updates += 1
    return loss


def validation_loss(run: Run, examples: list[tuple]) -> float:
    """Token-mean NLL of the examples' completions, in minibatches, without gradients."""
    total = tokens = 0.0
    forced = _forced(run)
    with torch.no_grad():
        for start in range(0, len(examples), run.cfg.minibatch_size):
            samples = _encode(run, examples[start : start + run.cfg.minibatch_size])
            kept = ~torch.isin(samples.response, torch.tensor(forced, dtype=torch.long))
            n = float((samples.mask.bool() & kept).sum())
            total += lm_loss(run.policy, samples, include_prompt=False, forced=forced).item() * n
            tokens += n
    return total / tokens


def label_separation(run: Run, examples: list[tuple]) -> float:
    """How much the return token tells, in nats per completion: for the samples of each
    label, the mean of NLL(completion | the other token) - NLL(completion | its own), averaged
    over the labels present (0 before fine-tuning: both tokens start as BOS's copy)."""
    tok = run.policy.tokenizer
    means = []
    for good in (True, False):
        own = [x for x in examples if x[2] == [tok.return_token(good)]]
        if own:
            other = [(p, c, [tok.return_token(not good)]) for p, c, _ in own]
            means.append(float((sequence_nll(run, other) - sequence_nll(run, own)).mean()))
    return sum(means) / len(means)


def sequence_nll(run: Run, examples: list[tuple]) -> torch.Tensor:
    """Each example's completion NLL (summed over its tokens), without gradients."""
    out = []
    with torch.no_grad():
        for start in range(0, len(examples), run.cfg.minibatch_size):
            samples = _encode(run, examples[start : start + run.cfg.minibatch_size])
            out.append(lm_loss(run.policy, samples, include_prompt=False, aggregate=_per_row,
                               forced=_forced(run)))  # fmt: skip
    return torch.cat(out)


def _per_row(loss_mat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (loss_mat * mask).sum(1)


def _forced(run: Run) -> tuple[int, ...]:
    """The ids the sampler writes instead of drawing (RCRL's per-step return tokens): in a
    completion they condition the policy and are no target of its loss."""
    return tuple(run.policy.tokenizer.return_ids) if run.algo.step_labels else ()


def _encode(run: Run, chunk: list[tuple]):
    return encode_pairs(
        run.policy.tokenizer,
        [p.prompt for p, _, _ in chunk],
        [c for _, c, _ in chunk],
        max_len=run.policy.model.cfg.max_len,
        prefixes=[x or [] for _, _, x in chunk],
    )


def _snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _end_round(run: Run, batch, fit: dict, counts: dict, tick) -> None:
    run.step += 1
    run.record(
        {
            "task/accuracy": batch.correct.float().mean().item(),
            "reward/mean": batch.rewards.mean().item(),
            **counts,
            **fit,
        }
    )
    tick()


def _sample_round(run: Run, n: int, prefix=None):
    """n completions: n // group_size prompts x group_size samples, in chunks of one step."""
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
