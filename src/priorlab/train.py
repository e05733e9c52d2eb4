"""`priorlab train`: one loop for the online algorithms, and the dispatch to the offline ones.

The online loop reads top to bottom: rollout -> reward -> filter -> advantage -> epochs
of minibatch updates -> log. Everything is counted in sampled completions, so runs of
different algorithms are compared at equal rollout budget.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path

import torch

from priorlab import algos
from priorlab.algos import Algorithm, make_algorithm
from priorlab.config import TrainConfig, check, validate_train
from priorlab.errors import ConfigError
from priorlab.evaluate import sample_table, save_samples, summarize
from priorlab.models import Policy, load_policy
from priorlab.rewards import check_pairing, get_reward
from priorlab.rewards.shaped import RewardOut
from priorlab.roles import require_role
from priorlab.rollout import Batch, cat_batches, rollout, sequence_logp
from priorlab.tasks import make_task
from priorlab.train_utils import (
    MetricsLog,
    batch_metrics,
    frozen_copy,
    make_optimizer,
    progress,
    write_json_atomic,
)

EVAL_PROBLEM_SEED = 0  # every run of every algorithm is evaluated on the same test problems


class Run:
    """What one training run holds: config, algorithm, task, policy, seeded streams, logs."""

    def __init__(self, cfg: TrainConfig):
        validate_train(cfg)
        self.cfg = cfg
        self.algo: Algorithm = make_algorithm(cfg.algo, **cfg.algo_params)
        need = max(self.algo.min_group_size, self.algo.keep_top)
        check(
            cfg.group_size >= need,
            "group_size",
            f"{cfg.algo} needs group_size >= {need}, got {cfg.group_size}",
        )
        per_step = cfg.prompts_per_step * cfg.group_size
        check(
            cfg.rollout_budget >= per_step,
            "rollout_budget",
            f"must be >= prompts_per_step x group_size = {per_step}, got {cfg.rollout_budget}",
        )
        check(
            self.algo.kind != "online" or cfg.minibatches <= per_step,
            "minibatches",
            f"must be <= the rows of one step ({per_step}), got {cfg.minibatches}",
        )
        self.lr = cfg.lr if cfg.lr is not None else self.algo.lr
        self.reward_fn = get_reward(cfg.reward, **cfg.reward_params)
        check_pairing(cfg.reward, self.algo)
        self.policy: Policy = load_policy(
            cfg.model, device=cfg.device, dtype=cfg.dtype, chat=cfg.chat
        )
        if getattr(self.reward_fn, "role", None):
            require_role(self.policy, self.reward_fn.role, cfg.reward)
        if cfg.lora_rank or cfg.gradient_checkpointing:
            _adapt(self.policy, cfg)
        self.task_params = cfg.task_params or self.policy.meta.get("task_params", {})
        self.task = make_task(cfg.task, **self.task_params)
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed)
        try:
            self.pool = self.task.problems("train", cfg.train_problems, seed=cfg.seed + 1)
        except ValueError as e:
            raise ConfigError("train_problems", str(e)) from None
        if self.algo.overlong_cache:
            check_overlong_window(self.algo, cfg, self.pool, self.policy.tokenizer)
        try:
            self.test = self.task.problems(
                "test",
                cfg.eval_problems,
                seed=EVAL_PROBLEM_SEED,
                require_skills=tuple(cfg.eval_require),
            )
        except ValueError as e:
            raise ConfigError("eval_problems", str(e)) from None
        self.order: list[int] = []
        self.dir = Path(cfg.out)
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            self.dir / "config.json", {**asdict(cfg), "algo_resolved": asdict(self.algo)}
        )
        self.log = MetricsLog(self.dir, tensorboard=cfg.tensorboard)
        self.samples_used = 0
        self.tokens_used = 0
        self.step = 0
        self.prefix: list[int] | None = None  # prompt condition at test time (RCRL)

    def next_problems(self, n: int) -> list:
        """The next n training problems, cycling through seeded shuffles of the pool."""
        out = []
        while len(out) < n:
            if not self.order:
                self.order = torch.randperm(len(self.pool), generator=self.gen).tolist()
            out.append(self.pool[self.order.pop()])
        return out

    def sample(self, problems: list, group_size: int, prefix=None) -> Batch:
        """Rollout and score: rewards, raw correctness, extracted answers; counts the budget."""
        cfg = self.cfg
        batch = rollout(
            self.policy,
            problems,
            group_size=group_size,
            max_new_tokens=cfg.max_new_tokens,
            generator=self.gen,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            prefix=prefix,
        )
        verdicts = [self.task.verify(p, t) for p, t in zip(batch.problems, batch.texts)]
        out = self.reward_fn(
            batch.problems,
            batch.texts,
            verdicts,
            rng=self.rng,
            task=self.task,
            group_ids=batch.group_ids,
            samples=batch.samples,
            policy=self.policy,
            temperature=self.cfg.temperature,
        )
        out = out if isinstance(out, RewardOut) else RewardOut(out)
        batch.rewards = torch.tensor(out.rewards, dtype=torch.float32)
        batch.extra.update(out.extra)
        batch.roles, batch.metrics = out.roles, out.metrics
        batch.correct = torch.tensor([v.correct for v in verdicts])
        batch.parsed = torch.tensor([v.parsed for v in verdicts])
        batch.answers = [v.answer for v in verdicts]
        self.samples_used += len(batch)
        self.tokens_used += int(batch.samples.lengths.sum())
        return batch

    def evaluate(self, tag: str) -> dict:
        """Sample the test problems, save the per-sample table, return eval/* metrics."""
        cfg = self.cfg
        gen = torch.Generator().manual_seed(cfg.seed + 7919)  # same draws whatever was trained
        table = sample_table(
            self.policy,
            self.task,
            self.test,
            n=cfg.eval_samples,
            max_new_tokens=cfg.max_new_tokens,
            generator=gen,
            temperature=cfg.eval_temperature,
            prefix=self.prefix,
        )
        if getattr(self.reward_fn, "model", None) is not None:  # a trained ORM: rerank@k
            by_id = {p.id: p for p in self.test}
            problems = [by_id[i] for i in table["problem_id"]]
            table["score"] = self.reward_fn.score_texts(
                problems, table["completion"], self.policy.tokenizer
            )
        save_samples(table, self.dir / f"samples_{tag}.parquet")
        return summarize(table, seed=cfg.seed)

    def record(self, row: dict) -> None:
        self.log.log(
            {"step": self.step, "samples": self.samples_used, "tokens": self.tokens_used, **row}
        )


def check_overlong_window(algo: Algorithm, cfg: TrainConfig, pool: list, tokenizer) -> None:
    """DAPO's overlong window must start beyond the task's longest gold solution (in sampled
    tokens, EOS included), or it punishes correct answers; ConfigError naming both numbers."""
    longest = max(len(tokenizer.encode(p.solution, bos=False)) + 1 for p in pool)
    free = cfg.max_new_tokens - algo.overlong_cache
    check(
        free >= longest,
        "algo.overlong_cache",
        f"the overlong window starts at max_new_tokens - overlong_cache = {free} tokens, but "
        f"the task's longest gold solution is {longest} tokens: correct answers would be "
        f"punished; set max_new_tokens >= {longest + algo.overlong_cache} or lower overlong_cache",
    )


def train(cfg: TrainConfig, *, quiet: bool = False) -> dict:
    """Train one algorithm from a prior; returns the final summary (also in summary.json)."""
    run = Run(cfg)
    initial = run.evaluate("initial")
    run.record({f"{k}": v for k, v in initial.items()})
    with progress(quiet) as bar:
        job = bar.add_task(f"{cfg.algo}", total=cfg.rollout_budget)
        if run.algo.kind == "online":
            online(
                run, lambda: bar.update(job, completed=min(run.samples_used, cfg.rollout_budget))
            )
        else:
            from priorlab.offline import OFFLINE_LOOPS

            OFFLINE_LOOPS[run.algo.kind](
                run, lambda: bar.update(job, completed=min(run.samples_used, cfg.rollout_budget))
            )
    final = run.evaluate("final")
    run.record(final)
    run.policy.meta = {**run.policy.meta, "condition_prefix": run.prefix}
    run.policy.save(run.dir / "policy")
    run.log.close()
    summary = {
        "algo": cfg.algo,
        "seed": cfg.seed,
        "samples": run.samples_used,
        "tokens": run.tokens_used,
        "steps": run.step,
        "initial": initial,
        "final": final,
    }
    write_json_atomic(run.dir / "summary.json", summary)
    return summary


# --- the online loop ---------------------------------------------------------------------


def online(run: Run, tick) -> None:
    """rollout -> reward -> filter -> advantage -> update, until the budget is spent."""
    cfg, algo, policy = run.cfg, run.algo, run.policy
    if algo.critic:
        policy = run.policy = policy.with_value_head()
    ref = frozen_copy(policy) if algo.kl_coef > 0 else None
    opt = make_optimizer(policy.model, run.lr)
    per_step = cfg.prompts_per_step * cfg.group_size
    while run.samples_used + per_step <= cfg.rollout_budget:
        t0 = time.perf_counter()
        batch = collect(run, per_step)  # rollout + reward (+ dynamic sampling)
        if len(batch) == 0:
            run.record({"filter/empty_batch": 1.0})
            continue
        stats = update(run, batch, ref, opt)
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
        if cfg.eval_every and run.step % cfg.eval_every == 0:
            run.record(run.evaluate(f"step{run.step}"))


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


def advantages(run: Run, batch: Batch, ref) -> None:
    """Fill batch.adv (and ref_logp, values, returns in batch.extra)."""
    cfg, algo, s = run.cfg, run.algo, batch.samples
    if ref is not None:
        with torch.no_grad():
            batch.extra["ref_logp"] = sequence_logp(ref, s, temperature=cfg.temperature)[0]
    if "token_adv" in batch.extra:  # the reward source's own per-token advantages
        batch.adv = batch.extra["token_adv"]
        return
    if algo.keep_top:  # GFPO: advantages from the k kept samples per group, 0 for the rest
        lengths = s.lengths.float()
        metric = lengths if algo.keep_metric == "length" else -batch.rewards / lengths.clamp(min=1)
        keep = algos.keep_top_k(metric, batch.group_ids, algo.keep_top)
        batch.adv = algos.gfpo_advantage(batch.rewards, batch.group_ids, keep)
        return
    if not algo.critic:
        batch.adv = algos.ADVANTAGES[algo.advantage](
            batch.rewards, batch.group_ids, tokens=s.lengths
        )
        return
    with torch.no_grad():
        values = sequence_logp(run.policy, s, temperature=cfg.temperature, values=True)[2]
    token_rewards = torch.zeros_like(s.logp)  # (B, T): the outcome reward on the last token
    token_rewards[torch.arange(len(batch)), (s.lengths - 1).clamp(min=0)] = batch.rewards
    if algo.kl_in_reward:
        kl = algos.KL_ESTIMATORS[algo.kl_estimator](s.logp, batch.extra["ref_logp"])
        token_rewards = token_rewards - algo.kl_coef * kl * s.mask
    adv, returns = algos.gae(token_rewards, values, s.mask, gamma=algo.gamma, lam=algo.lam)
    if algo.whiten_adv:
        m = s.mask.bool()
        adv = torch.where(m, (adv - adv[m].mean()) / (adv[m].std() + 1e-8), adv)
    batch.adv, batch.extra["values"], batch.extra["returns"] = adv, values, returns


def update(run: Run, batch: Batch, ref, opt) -> dict:
    """Epochs of minibatch steps on the clipped (or chosen) policy loss."""
    cfg, algo = run.cfg, run.algo
    advantages(run, batch, ref)
    batch.extra["loss_mask"] = loss_mask(algo, batch)
    if batch.roles is not None:  # the policy's other roles, trained with GRPO alongside
        batch = cat_batches([batch, role_advantages(run, batch.roles, ref)])
    loss_fn = algos.POLICY_LOSSES[algo.policy_loss]
    clip_kw = {"eps_low": algo.eps_low, "eps_high": algo.eps_high, "dual_clip": algo.dual_clip}
    agg = _aggregate(algo, cfg)
    B = len(batch)
    totals: dict[str, float] = {}
    n_updates = 0
    for _ in range(cfg.epochs):
        for idx in torch.randperm(B, generator=run.gen).chunk(cfg.minibatches):
            mb = batch.select(torch.zeros(B, dtype=torch.bool).index_fill_(0, idx, True))
            m, old_logp = mb.extra["loss_mask"], mb.samples.logp
            logp, ent, values = sequence_logp(
                run.policy, mb.samples, temperature=cfg.temperature, values=algo.critic
            )
            kw = clip_kw if algo.policy_loss in algos.CLIPPED_LOSSES else {}
            loss = pg_loss = agg(loss_fn(logp, old_logp, mb.adv, **kw), m)
            stats = {"loss/policy": pg_loss.item()}
            if ref is not None:
                kl = algos.KL_ESTIMATORS[algo.kl_estimator](logp, mb.extra["ref_logp"])
                stats["loss/kl"] = algos.AGGREGATIONS["token_mean"](kl, m).item()
                if not algo.kl_in_reward:
                    loss = loss + algo.kl_coef * agg(kl, m)
            if algo.entropy_coef:
                loss = loss - algo.entropy_coef * agg(ent, m)
            if algo.critic:
                vloss = algos.clipped_value_loss(values, mb.extra["values"], mb.extra["returns"], m)
                loss = loss + algo.vf_coef * vloss
                stats["loss/value"] = vloss.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            stats["policy/grad_norm"] = float(
                torch.nn.utils.clip_grad_norm_(run.policy.model.parameters(), cfg.max_grad_norm)
            )
            opt.step()
            with torch.no_grad():  # the ratio this minibatch's loss saw, before its step
                if algo.policy_loss in algos.CLIPPED_LOSSES:
                    low, high = algos.clip_fractions(
                        logp, old_logp, mb.adv, m, eps_low=algo.eps_low, eps_high=algo.eps_high
                    )
                    stats["policy/clipfrac_low"], stats["policy/clipfrac_high"] = (
                        low.item(),
                        high.item(),
                    )
                    stats["policy/clipfrac"] = low.item() + high.item()
                stats["policy/approx_kl"] = algos.approx_kl(logp, old_logp, m).item()
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + v
            n_updates += 1
    return {**{k: v / n_updates for k, v in totals.items()}, "policy/updates": n_updates}


def loss_mask(algo: Algorithm, batch: Batch) -> torch.Tensor:
    """(B, T) tokens the loss reads: generated ones, less truncated rows (DAPO) and rows
    the reward source left without a signal (`keep`, e.g. SDPO without a teacher)."""
    mask = batch.mask
    if algo.mask_truncated:
        mask = algos.mask_truncated(mask, batch.samples.truncated)
    if "keep" in batch.extra:
        mask = mask * batch.extra["keep"].float()[:, None]
    return mask


def role_advantages(run: Run, roles: Batch, ref) -> Batch:
    """GRPO advantages for a role's samples (judge, critic); every token learns."""
    if ref is not None:
        with torch.no_grad():
            roles.extra["ref_logp"] = sequence_logp(
                ref, roles.samples, temperature=run.cfg.temperature
            )[0]
    roles.adv = algos.ADVANTAGES["grpo"](roles.rewards, roles.group_ids)
    roles.extra["loss_mask"] = roles.mask
    return roles


def _aggregate(algo: Algorithm, cfg: TrainConfig):
    fn = algos.AGGREGATIONS[algo.aggregation]
    if algo.aggregation == "seq_sum_norm":  # Dr. GRPO: a constant, the generation budget
        return lambda loss_mat, mask: fn(loss_mat, mask, norm_len=cfg.max_new_tokens)
    return fn


def _adapt(policy: Policy, cfg: TrainConfig) -> None:
    """LoRA adapters and gradient checkpointing: options of the Hugging Face backend."""
    if policy.backend != "hf":
        field = "lora_rank" if cfg.lora_rank else "gradient_checkpointing"
        raise ConfigError(
            field, "applies to Hugging Face models only (--model DIR, .gguf, smollm2)"
        )
    if cfg.gradient_checkpointing:
        lm = policy.model.lm  # transformers >= 5.2x renamed it activation checkpointing
        getattr(lm, "activation_checkpointing_enable", lm.gradient_checkpointing_enable)()
    if cfg.lora_rank:
        policy.model.add_lora(cfg.lora_rank, cfg.lora_alpha)
