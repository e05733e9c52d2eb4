"""`priorlab train`: one loop for the online algorithms, and the dispatch to the offline ones.

The online loop reads top to bottom: rollout -> reward -> filter -> advantage -> epochs
of minibatch updates -> log. Everything is counted in sampled completions, so runs of
different algorithms are compared at equal rollout budget.
"""

from __future__ import annotations

import time

import torch

from priorlab import algos
from priorlab.algos import Algorithm
from priorlab.algos.terms import Forward
from priorlab.batch import Batch, Rows, cat_batches
from priorlab.checks import check_finite, check_weights
from priorlab.config import TrainConfig
from priorlab.convergence import plateau, vs_prior
from priorlab.io import write_json_atomic
from priorlab.offline import OFFLINE_LOOPS
from priorlab.optim import make_optimizer
from priorlab.progress import batch_metrics, progress
from priorlab.rollout import next_token_logprobs, picked, sequence_logp
from priorlab.run import Run


def train(cfg: TrainConfig, *, quiet: bool = False) -> dict:
    """Train one algorithm from a prior; returns the final summary (also in summary.json)."""
    with Run(cfg) as run:  # its engine is closed on failure too
        return _train(run, quiet)


def _train(run, quiet: bool) -> dict:
    cfg = run.cfg
    initial = run.evaluate("initial") if cfg.test_eval else {}
    if initial:
        run.record(initial)
        if cfg.support_samples:  # the prior's coverage at a larger k, for the support block
            run.prior_support()
    run.dev_checkpoint()
    with progress(quiet) as bar:
        job = bar.add_task(f"{cfg.algo}", total=cfg.rollout_budget)

        def after_step() -> None:
            bar.update(job, completed=min(run.samples_used, cfg.rollout_budget))
            run.dev_checkpoint()

        if run.algo.kind == "online":
            online(run, after_step)
        else:
            OFFLINE_LOOPS[run.algo.kind](run, after_step)
    run.dev_checkpoint(due=False)  # the curve ends where training did
    final = run.evaluate("final") if cfg.test_eval else {}
    if final:
        run.record(final)
    run.policy.meta = {**run.policy.meta, "condition_prefix": run.prefix}
    run.policy.save(run.dir / "policy")
    run.record_time()
    run.log.close()
    summary = {
        "algo": cfg.algo,
        "seed": cfg.seed,
        "samples": run.samples_used,
        "tokens": run.tokens_used,
        "steps": run.step,
        "updates": run.updates,
        "initial": initial,
        "final": final,
    }
    if cfg.test_eval:
        summary["vs_prior"] = vs_prior(run.tables["initial"], run.tables["final"])
    if cfg.dev_every:
        summary["dev"] = {
            "problems": len(run.dev),
            "samples": cfg.dev_samples,
            "curve": run.dev_curve,
        }
        summary["convergence"] = plateau(run.dev_curve, tol=cfg.plateau_tol)
    write_json_atomic(run.dir / "summary.json", summary)
    return summary


# --- the online loop ---------------------------------------------------------------------


def online(run: Run, tick) -> None:
    """collect (rollout -> reward -> filter) -> advantages -> update, until the budget is
    spent."""
    cfg, algo, policy = run.cfg, run.algo, run.policy
    if algo.critic:
        policy = run.policy = policy.with_value_head()
    ref = policy.frozen_copy() if algo.kl_coef > 0 else None
    opt = make_optimizer(policy.model, run.lr)
    per_step = cfg.prompts_per_step * cfg.group_size
    while run.samples_used + per_step <= cfg.rollout_budget:
        t0 = time.perf_counter()
        batch = collect(run, per_step)  # rollout + reward (+ dynamic sampling)
        if len(batch) == 0:
            run.record({"filter/empty_batch": 1.0})
            continue
        trained = advantages(run, batch, ref)  # the batch, and rows its objective adds
        stats = update(run, trained, opt)
        run.step += 1
        dt = time.perf_counter() - t0
        run.record(
            {
                **batch_metrics(batch, run.cfg.group_size),
                **batch.metrics,
                **stats,
                "perf/tokens_per_s": float(batch.samples.lengths.sum()) / dt,
                "perf/step_s": dt,
            }
        )
        tick()
        if ref is not None and algo.ref_reset_every and run.step % algo.ref_reset_every == 0:
            ref = reset_reference(policy, opt, clear_optimizer=algo.ref_reset_optimizer)
            run.record({"ref/reset": 1.0})
        if cfg.eval_every and run.step % cfg.eval_every == 0:
            run.record(run.evaluate(f"step{run.step}"))


def reset_reference(policy, opt, *, clear_optimizer: bool):
    """ProRL's hard reset: the KL reference becomes a frozen copy of the current policy,
    and with clear_optimizer the optimizer's state (AdamW moments and step counts) starts
    afresh."""
    if clear_optimizer:
        opt.state.clear()
    return policy.frozen_copy()


def collect(run: Run, rows: int) -> Batch:
    """One step's batch. DAPO dynamic sampling keeps only groups whose `filter_signal`
    varies and samples more prompts until `rows` are kept or the budget (or 3 x rows) is spent."""
    cfg, algo = run.cfg, run.algo

    def draw() -> tuple[Batch, torch.Tensor]:
        batch = run.sample(run.next_problems(cfg.prompts_per_step), cfg.group_size)
        varied = algos.varied_groups(filter_signal(cfg.reward, batch), batch.group_ids)
        if algo.overlong_cache:  # DAPO soft overlong punishment, added to the reward
            batch.rewards = batch.rewards + algos.overlong_penalty(
                batch.samples.lengths, max_len=cfg.max_new_tokens, cache_len=algo.overlong_cache
            )
        return batch, varied

    batch, varied = draw()
    if not algo.dynamic_sampling:
        return batch
    kept, drawn = [], 0
    while True:
        kept.append(batch.select(varied))
        drawn += len(batch)
        have = sum(len(b) for b in kept)
        if have >= rows or drawn >= 3 * rows or run.samples_used + rows > cfg.rollout_budget:
            break
        batch, varied = draw()
    out = cat_batches(kept)
    return out.select(torch.arange(len(out)) < rows) if len(out) > rows else out


def filter_signal(reward: str, batch: Batch) -> torch.Tensor:
    """What dynamic sampling judges a group on: the verifier's raw result when the verifier
    is the reward, otherwise the reward itself, so a label-free source never sees the labels."""
    return batch.correct if reward == "verifier" else batch.rewards


def advantages(run: Run, batch: Batch, ref) -> Batch:
    """Fill batch.adv (and ref_logp, values, returns, loss_mask) with the bound estimator;
    return what the update trains: the batch, and the rows its objective adds (a role's
    samples, VeriFree's reference rows) with their own advantages."""
    cfg, s = run.cfg, batch.samples
    with torch.no_grad():
        if ref is not None:
            batch.ref_logp = sequence_logp(ref, s, temperature=cfg.temperature)[0]
        if run.algo.critic:
            batch.values = sequence_logp(run.policy, s, temperature=cfg.temperature, values=True)[2]
    batch.adv, batch.returns = run.parts.estimate(batch)
    batch.loss_mask = loss_mask(run.algo, batch)
    alongside = [row_advantages(run, rows, ref) for rows in batch.rows]
    return cat_batches([batch, *alongside]) if alongside else batch


def row_advantages(run: Run, rows: Rows, ref) -> Batch:
    """An objective's further rows, with their advantages and reference log-probs; every
    generated token learns unless the rows bring their own loss mask."""
    extra = rows.batch
    if ref is not None:
        with torch.no_grad():
            extra.ref_logp = sequence_logp(ref, extra.samples, temperature=run.cfg.temperature)[0]
    if extra.loss_mask is None:
        extra.loss_mask = extra.mask
    extra.adv = rows.advantage(extra)
    return extra


def update(run: Run, batch: Batch, opt) -> dict:
    """Epochs of minibatch steps on the sum of the bound loss terms (run.parts.terms)."""
    cfg, parts = run.cfg, run.parts
    totals: dict[str, float] = {}
    n_updates = 0
    for _ in range(cfg.epochs):
        for mb in minibatches(batch, cfg.minibatches, run.gen):
            fwd = forward(run, mb)
            loss, stats = algos.total(parts.terms, mb, fwd)
            stats["policy/grad_norm"] = optimizer_step(run, opt, loss)
            stats |= diagnostics(parts, mb, fwd)
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + v
            n_updates += 1
    return {**{k: v / n_updates for k, v in totals.items()}, "policy/updates": n_updates}


def minibatches(batch: Batch, n: int, gen: torch.Generator):
    """The batch in n minibatches of a seeded random order (one pass)."""
    B = len(batch)
    for idx in torch.randperm(B, generator=gen).chunk(n):
        yield batch.select(torch.zeros(B, dtype=torch.bool).index_fill_(0, idx, True))


def forward(run: Run, mb: Batch) -> Forward:
    """The policy on the minibatch: log-probs, entropies, values, and the full next-token
    log-probs (B, T, V) when a bound term reads them."""
    logprobs, values = next_token_logprobs(
        run.policy, mb.samples, temperature=run.cfg.temperature, values=run.algo.critic
    )  # (B, T, V)
    logp, entropy = picked(logprobs, mb.samples.response)
    return Forward(logp, entropy, values, logprobs if run.parts.full_vocab else None)


def optimizer_step(run: Run, opt, loss: torch.Tensor) -> float:
    """One clipped AdamW step on `loss`, refused (Diverged) on a non-finite loss, gradient
    or weight; returns the gradient norm before clipping."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(run.policy.model.parameters(), run.cfg.max_grad_norm)
    check_finite(loss, norm, f"step {run.step + 1} (lr {run.lr})")
    opt.step()
    run.updates += 1
    check_weights(run.policy.model, f"step {run.step + 1} (lr {run.lr})")
    return float(norm)


@torch.no_grad()
def diagnostics(parts, mb: Batch, fwd: Forward) -> dict:
    """What the minibatch's loss saw, before its step: the clip fractions of a clipped
    loss, and approx_kl (k3) between the policy and the sampling policy."""
    m, old_logp = mb.loss_mask, mb.samples.logp
    stats = {}
    if parts.clip is not None:
        low, high = algos.clip_fractions(fwd.logp, old_logp, mb.adv, m, **parts.clip)
        stats["policy/clipfrac_low"], stats["policy/clipfrac_high"] = low.item(), high.item()
        stats["policy/clipfrac"] = low.item() + high.item()
    stats["policy/approx_kl"] = algos.approx_kl(fwd.logp, old_logp, m).item()
    return stats


def loss_mask(algo: Algorithm, batch: Batch) -> torch.Tensor:
    """(B, T) tokens the loss reads: generated ones, less truncated rows (DAPO) and the rows
    or tokens the objective left without a signal (extras "keep": SDPO's rows without a
    teacher, the answer tokens in VeriFree's full objective)."""
    mask = batch.mask
    if algo.mask_truncated:
        mask = algos.mask_truncated(mask, batch.samples.truncated)
    if "keep" in batch.extras:
        keep = batch.extras["keep"].float()
        mask = mask * (keep[:, None] if keep.dim() == 1 else keep)
    return mask
