"""Priors whose strength is a set of explicit knobs: `priorlab pretrain`.

Pretraining is next-token prediction on `prompt + solution` texts from the task's train
split, where a fraction `wrong_frac` of solutions carry a corrupted step (so the prior
holds right and wrong solutions side by side) and `withhold` skills never appear. An
optional SFT stage then trains on gold solutions only (loss on the completion), the
"SFT initialisation" of Havrilla et al. 2024: none, light (10% of the pretraining steps)
or heavy (50%).
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict
from pathlib import Path

import torch

from priorlab.config import PretrainConfig, validate_pretrain
from priorlab.encoding import encode_pairs
from priorlab.errors import ConfigError, Diverged, InvalidValue
from priorlab.models import Policy, build_policy
from priorlab.optim import make_optimizer
from priorlab.progress import progress
from priorlab.roles import role_examples, role_quality
from priorlab.supervised import sft_step
from priorlab.tasks import make_task
from priorlab.tasks.base import TooFewProblems, up_to

SFT_LEVELS = {"none": 0.0, "light": 0.1, "heavy": 0.5}
DEFAULT_CORPUS = 20_000  # distinct train problems when corpus_size is unset (or fewer)


def sft_steps(level: str, pretrain_steps: int) -> int:
    """Steps of the SFT stage for a level name or an explicit integer."""
    if level in SFT_LEVELS:
        return int(SFT_LEVELS[level] * pretrain_steps)
    if str(level).isdigit():
        return int(level)
    raise ConfigError("sft", f"{level!r}: use none, light, heavy or a number of steps")


def corpus(task, cfg: PretrainConfig, rng: random.Random) -> tuple[list, list[str]]:
    """Problems and their (possibly corrupted) solutions for pretraining."""
    problems = corpus_problems(task, cfg)
    texts = [
        task.wrong_solution(p, rng) if rng.random() < cfg.wrong_frac else p.solution
        for p in problems
    ]
    return problems, texts


def corpus_problems(task, cfg: PretrainConfig) -> list:
    """The corpus's distinct train problems: exactly `corpus_size`, or when it is unset up
    to DEFAULT_CORPUS, as many as the task supplies (so the default works for every task:
    countdown with its default knobs holds about 8,500). With `exposure` {skill: share},
    round(share x corpus_size) of them use the skill and the rest do not."""
    kwargs = dict(seed=cfg.seed, exclude_skills=tuple(cfg.withhold))
    if cfg.exposure:
        return exposed_problems(task, cfg, kwargs)
    if cfg.corpus_size is None:
        return up_to(task, "train", DEFAULT_CORPUS, **kwargs)
    try:
        return task.problems("train", cfg.corpus_size, **kwargs)
    except TooFewProblems as e:
        raise ConfigError(
            "corpus_size", f"{e}; or leave corpus_size unset to take every one there is"
        ) from None


def exposed_problems(task, cfg: PretrainConfig, kwargs: dict) -> list:
    """`corpus_size` problems of which round(share x corpus_size) use the exposure's skill
    (drawn requiring it) and the rest do not (drawn excluding it), shuffled by the seed."""
    (skill, share), withhold = next(iter(cfg.exposure.items())), kwargs["exclude_skills"]
    with_skill = round(share * cfg.corpus_size)
    draws = [("require_skills", (skill,), with_skill),
             ("exclude_skills", (*withhold, skill), cfg.corpus_size - with_skill)]  # fmt: skip
    problems = []
    for key, skills, n in draws:
        if n == 0:
            continue
        try:
            problems += task.problems("train", n, **{**kwargs, key: skills})
        except TooFewProblems as e:
            raise ConfigError(f"exposure.{skill}", f"{e}; lower corpus_size") from None
        except InvalidValue as e:  # a skill this task does not have
            raise ConfigError(f"exposure.{skill}", str(e)) from None
    random.Random(cfg.seed).shuffle(problems)
    return problems


def pretrain(cfg: PretrainConfig, *, quiet: bool = False) -> Policy:
    """Pretrain (and optionally SFT) a prior; saves it to `cfg.out` and returns it."""
    validate_pretrain(cfg)
    n_sft = sft_steps(cfg.sft, cfg.steps)
    task = make_task(cfg.task, **cfg.task_params)
    rng = random.Random(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    policy = build_policy(cfg.size, max_len=cfg.max_len, seed=cfg.seed)
    problems, texts = corpus(task, cfg, rng)
    prompts = [p.prompt for p in problems]
    gold = (prompts, [p.solution for p in problems])
    full = (prompts, texts)
    if cfg.roles:
        full = with_roles(task, cfg, problems, full, policy, rng)

    stages = [("pretrain", cfg.steps, full, True), ("sft", n_sft, gold, False)]
    with progress(quiet) as bar:
        for name, steps, (inputs, targets), full_text in stages:
            if steps == 0:
                continue
            opt = make_optimizer(policy.model, cfg.lr if name == "pretrain" else cfg.lr / 3)
            sched = _cosine(opt, steps)
            job = bar.add_task(name, total=steps)
            for step in range(steps):
                idx = torch.randint(len(inputs), (cfg.batch_size,), generator=gen).tolist()
                batch = encode_pairs(
                    policy.tokenizer,
                    [inputs[i] for i in idx],
                    [targets[i] for i in idx],
                    max_len=cfg.max_len,
                )
                try:  # nothing is saved: a diverged prior would poison every run from it
                    loss = sft_step(policy, opt, batch, include_prompt=full_text)
                except Diverged as e:
                    raise diverged_at(e, name, step + 1, steps, opt) from None
                sched.step()
                bar.update(job, advance=1, description=f"{name} loss {loss:.3f}")

    policy.meta = {
        "size": cfg.size,
        "task": cfg.task,
        "task_params": cfg.task_params,
        "pretrain": asdict(cfg),
        "corpus_problems": len(problems),  # what an unset corpus_size resolved to
    }
    if cfg.roles:  # how well the prior plays its roles, a property of the prior to report
        policy.meta["role_quality"] = role_quality(policy, task, cfg.roles, seed=cfg.seed)
    policy.save(Path(cfg.out))
    return policy


def diverged_at(e: Diverged, stage: str, step: int, steps: int, opt) -> Diverged:
    """`e` naming the stage, step and learning rate, which `sft_step` does not know."""
    why = str(e).removeprefix("the fine-tuning step: ")
    lr = opt.param_groups[0]["lr"]
    return Diverged(f"{stage} step {step} of {steps} at lr {lr:.3g}: {why}")


def with_roles(task, cfg: PretrainConfig, problems, pairs, policy, rng) -> tuple[list, list]:
    """The corpus with role examples (judge, critic, hint) making up `role_frac` of it."""
    n = round(cfg.role_frac / (1 - cfg.role_frac) * len(problems))
    extra = role_examples(task, problems, cfg.roles, n, rng)
    tok = policy.tokenizer
    need = max(len(tok.encode(p)) + len(tok.encode(t, bos=False)) + 1 for p, t in extra)
    if need > cfg.max_len:
        raise ConfigError("max_len", f"role examples need {need} tokens, got {cfg.max_len}")
    return pairs[0] + [p for p, _ in extra], pairs[1] + [t for _, t in extra]


def _cosine(opt, steps: int, warmup_frac: float = 0.05):
    warm = max(1, int(warmup_frac * steps))

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
