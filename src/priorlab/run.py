"""A run's set-up, shared with `priorlab eval` (setup), and one training run's state (Run):
config, algorithm, task, policy, seeded streams, evaluations, logs.

`train.py` drives a Run through the online loop; `offline.py` through SFT, EI and RCRL;
`evaluate.evaluate_policy` starts from the same `setup`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch

from priorlab import algos
from priorlab.algos import Algorithm
from priorlab.batch import Batch
from priorlab.checks import check_overlong_window
from priorlab.config import EvalConfig, TrainConfig
from priorlab.convergence import dev_point
from priorlab.io import atomic_path, write_json_atomic
from priorlab.metrics import summarize
from priorlab.models import Policy, load_policy
from priorlab.models.vllm_engine import logp_mismatch
from priorlab.progress import MetricsLog
from priorlab.rewards import get_reward, source, source_terms
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.roles import require_role
from priorlab.rollout import check_context, rollout
from priorlab.samples import sample_table, save_samples
from priorlab.tasks import make_task
from priorlab.tasks.base import Task
from priorlab.tasks.pools import run_pools
from priorlab.validate import learning_rate, validate_run

log = logging.getLogger(__name__)

CACHE_MAX_BYTES = 64 * 2**20  # priors whose initial evaluation is kept (the built-in sizes)


def make_engine(cfg, policy: Policy):
    """The generation engine `cfg.engine` names for `policy` (None for priorlab's own);
    `cfg`: a TrainConfig or EvalConfig (engine, dtype)."""
    if cfg.engine == "hf":
        return None
    from priorlab.models.vllm_engine import VLLMEngine

    context = min(policy.model.cfg.max_len, 4096)
    return VLLMEngine(policy, max_len=context, dtype=cfg.dtype)


@contextlib.contextmanager
def engine_for(cfg, policy: Policy):
    """`make_engine`'s engine, closed on every way out, an exception included (vLLM's
    engine holds a process-wide state that the next run in this process would meet)."""
    engine = make_engine(cfg, policy)
    try:
        yield engine
    finally:
        if engine is not None:
            engine.close()


def adapt(policy, cfg: TrainConfig) -> None:
    """LoRA adapters and gradient checkpointing as the run asks (the policy refuses them
    where its model has none, naming the field)."""
    if cfg.lora_rank or cfg.gradient_checkpointing:
        policy.adapt(lora_rank=cfg.lora_rank, lora_alpha=cfg.lora_alpha,
                     gradient_checkpointing=cfg.gradient_checkpointing)  # fmt: skip


@dataclass
class Setup:
    """What a training run and an evaluation both start from (`setup`)."""

    policy: Policy
    """Loaded; checked for the reward's role and adapted (LoRA) when a run asks."""
    task: Task
    task_params: dict
    """The task's knobs: the config's, else those the policy was trained with."""
    gen: torch.Generator
    """The sampling stream, seeded by cfg.seed."""


def setup(cfg: TrainConfig | EvalConfig, *, role: str | None = None) -> Setup:
    """The policy `cfg.model` names (device, dtype, chat template from cfg), its task and the
    seeded sampling stream: the set-up train (Run) and eval (evaluate_policy) share.

    cfg is validated first by the caller (validate_run, validate_eval). `role`: the role the
    reward source needs the policy to play (require_role). A TrainConfig's lora_rank and
    gradient_checkpointing adapt the policy (adapt). Its engine: `engine_for(cfg, policy)`.
    """
    policy = load_policy(cfg.model, device=cfg.device, dtype=cfg.dtype, chat=cfg.chat)
    if role:
        require_role(policy, role, cfg.reward)
    if isinstance(cfg, TrainConfig) and (cfg.lora_rank or cfg.gradient_checkpointing):
        adapt(policy, cfg)
    task_params = cfg.task_params or policy.meta.get("task_params", {})
    task = make_task(cfg.task, **task_params)
    return Setup(policy, task, task_params, torch.Generator().manual_seed(cfg.seed))


class Run:
    """What one training run holds: config, algorithm, task, policy, seeded streams, logs."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.algo: Algorithm = validate_run(cfg)  # every check that needs no model
        self.lr = learning_rate(cfg, self.algo)
        declared = source(cfg.reward)
        self.parts = algos.bind(  # the estimator and loss terms, bound once
            self.algo,
            max_new_tokens=cfg.max_new_tokens,
            estimator=declared.estimator,
            terms=source_terms(cfg.reward, **cfg.reward_params),
            is_cap=cfg.rollout_is_cap,
        )
        self.reward_fn = get_reward(cfg.reward, **cfg.reward_params)
        start = setup(cfg, role=source(cfg.reward).role)
        self.policy: Policy = start.policy
        self.task, self.task_params = start.task, start.task_params
        torch.manual_seed(cfg.seed)  # train only: an evaluation leaves the global stream alone
        self.gen = start.gen
        self.rng = random.Random(cfg.seed)
        pools = run_pools(
            self.task,
            seed=cfg.seed,
            train_problems=cfg.train_problems,
            eval_problems=cfg.eval_problems,
            eval_require=cfg.eval_require,
            dev_problems=cfg.dev_problems if cfg.dev_every else 0,
        )
        self.pool, self.test, self.dev = pools.train, pools.test, pools.dev
        if self.algo.overlong_cache:
            check_overlong_window(self.algo, cfg, self.pool, self.policy.tokenizer)
        every = self.pool + self.test + self.dev  # before any sampling: prompts must fit
        check_context(self.policy, every, max_new_tokens=cfg.max_new_tokens)
        self.tables: dict = {}  # tag -> the per-sample table of that evaluation
        self.dev_curve: list[dict] = []
        self.dev_seconds = 0.0  # wall time spent on dev checkpoints (perf/dev_share)
        self.started = time.perf_counter()
        self.order: list[int] = []
        self.dir = Path(cfg.out)
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            self.dir / "config.json", {**asdict(cfg), "algo_resolved": asdict(self.algo)}
        )
        self.log = MetricsLog(self.dir, tensorboard=cfg.tensorboard)
        self.samples_used = 0
        self.tokens_used = 0
        self.updates = 0  # optimiser steps: beside completions, whether a mechanism was fed
        self.engine = make_engine(cfg, self.policy)  # last: every check before it; None: hf
        self.step = 0
        self.prefix: list[int] | None = None  # prompt condition at test time (RCRL)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        """Close the engine on every way out, a failed run too (`engine_for`'s reason)."""
        if self.engine is not None:
            self.engine.close()

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
            engine=self.engine,
        )
        verdicts = [self.task.verify(p, t) for p, t in zip(batch.problems, batch.texts)]
        given = RewardIn(
            batch.problems,
            batch.texts,
            verdicts,
            group_ids=batch.group_ids,
            samples=batch.samples,
            policy=self.policy,
            task=self.task,
            rng=self.rng,
            temperature=cfg.temperature,
            max_new_tokens=cfg.max_new_tokens,
        )
        out: RewardOut = self.reward_fn(given)
        batch.rewards = torch.tensor(out.rewards, dtype=torch.float32)
        batch.metrics, batch.extras, batch.rows = out.metrics, out.extras, out.rows
        if batch.sampler_logp is not None:  # sampler/trainer trust, every step
            batch.metrics = {
                **batch.metrics,
                **logp_mismatch(batch.sampler_logp, batch.samples.logp, batch.mask),
            }
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

        def draw():
            return self.draw(self.test, n=cfg.eval_samples, generator=gen)

        scored = source(cfg.reward).reranks and self.reward_fn.model is not None
        table = draw() if tag != "initial" or scored else self.prior_table(draw)
        if scored:  # a trained ORM: rerank@k
            by_id = {p.id: p for p in self.test}
            problems = [by_id[i] for i in table["problem_id"]]
            table["score"] = self.reward_fn.score_texts(
                problems, table["completion"], self.policy.tokenizer
            )
        save_samples(table, self.dir / f"samples_{tag}.parquet")
        self.tables[tag] = table
        return summarize(table, seed=cfg.seed)

    def draw(
        self, problems: list, *, n: int, generator, greedy: bool = True, prefix=None
    ) -> pd.DataFrame:
        """The per-sample table of n samples per problem (and one greedy decode), at the
        evaluation temperature, conditioned like the policy is evaluated (RCRL's prefix,
        unless `prefix` says otherwise)."""
        return sample_table(
            self.policy,
            self.task,
            problems,
            n=n,
            max_new_tokens=self.cfg.max_new_tokens,
            generator=generator,
            temperature=self.cfg.eval_temperature,
            greedy=greedy,
            prefix=self.prefix if prefix is None else prefix,
            engine=self.engine,
        )

    def prior_support(self) -> None:
        """samples_support.parquet: support_samples of the prior per test problem (its own
        draws, kept with the prior like its test table), which the support block reads as
        the prior's coverage at a larger k than the run's."""
        cfg = self.cfg
        gen = torch.Generator().manual_seed(cfg.seed + 2 * 7919)

        def draw():
            return self.draw(self.test, n=cfg.support_samples, generator=gen, greedy=False)

        table = self.prior_table(draw, n=cfg.support_samples, purpose="support")
        save_samples(table, self.dir / "samples_support.parquet")

    def prior_table(self, draw, *, n: int | None = None, purpose: str = "") -> pd.DataFrame:
        """The prior's test table, drawn once per (weights, problems, n, seed, settings,
        threads) and kept in the prior's directory (evals/): every run of a sweep from one
        prior and seed draws the very same samples, so the others read them back. Built-in
        priors only: a Hugging Face model's directory is the user's, and its samples depend
        on more (engine, dtype, chat template) than this key holds. `n`: samples per problem
        (default eval_samples); `purpose`: another table's draws ("support")."""
        cfg = self.cfg
        weights = Path(cfg.model) / "model.safetensors"
        small = weights.is_file() and weights.stat().st_size <= CACHE_MAX_BYTES
        if not self.policy.is_builtin or not small:
            return draw()
        key = {
            "weights": hashlib.sha1(weights.read_bytes()).hexdigest(),
            "problems": [p.id for p in self.test],
            "n": n or cfg.eval_samples,
            "max_new_tokens": cfg.max_new_tokens,
            "temperature": cfg.eval_temperature,
            "seed": cfg.seed,
            "threads": torch.get_num_threads(),
            **({"purpose": purpose} if purpose else {}),  # the test table's key unchanged
        }
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        path = Path(cfg.model) / "evals" / f"{digest}.parquet"
        if path.is_file():
            return pd.read_parquet(path)
        table = draw()
        try:
            path.parent.mkdir(exist_ok=True)
            with atomic_path(path) as tmp:
                table.to_parquet(tmp, index=False)
        except OSError as e:  # a read-only prior: nothing kept, nothing lost
            log.info("the prior's evaluation is not kept in %s (%s)", path.parent, e.strerror)
        return table

    def dev_checkpoint(self, *, due: bool = True) -> None:
        """Dev pass@1 now, when dev_every completions have passed since the last point
        (`due=False`: unless the last point is already at the current count)."""
        cfg, last = self.cfg, self.dev_curve[-1]["samples"] if self.dev_curve else None
        if not cfg.dev_every or last == self.samples_used:
            return
        if due and last is not None and self.samples_used < last + cfg.dev_every:
            return
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + len(self.dev_curve) + 1)
        table = self.draw(self.dev, n=cfg.dev_samples, generator=gen, greedy=False)
        point = {"samples": self.samples_used, **dev_point(table)}
        self.dev_curve.append(point)
        dt = time.perf_counter() - t0
        self.dev_seconds += dt
        self.record({"dev/pass@1": point["pass@1"], "dev/se": point["se"], "perf/dev_s": dt})

    def record_time(self) -> None:
        """The run's wall time and the share of it its dev checkpoints took (perf/*: timing
        varies between runs, so it stays out of summary.json)."""
        total = time.perf_counter() - self.started
        share = self.dev_seconds / total if total > 0 else 0.0
        self.record({"perf/run_s": total, "perf/dev_s_total": self.dev_seconds,
                     "perf/dev_share": share})  # fmt: skip

    def record(self, row: dict) -> None:
        self.log.log(
            {
                "step": self.step,
                "samples": self.samples_used,
                "tokens": self.tokens_used,
                "updates": self.updates,
                **row,
            }
        )
